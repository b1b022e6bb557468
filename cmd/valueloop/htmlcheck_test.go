package main

import (
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// voidElements have no end tag.
var voidElements = map[string]bool{
	"area": true, "base": true, "br": true, "col": true, "embed": true, "hr": true, "img": true, "input": true,
	"link": true, "meta": true, "source": true, "track": true, "wbr": true,
}

// foreignLeaves are SVG elements the dashboard writes self-closed.
var svgElements = map[string]bool{
	"svg": true, "line": true, "polyline": true, "polygon": true, "circle": true, "rect": true, "path": true, "text": true, "title": true, "g": true,
}

// checkHTML checks a page strictly, as written by the server: a doctype,
// every element closed in order (no reliance on the parser's repairs), no
// attribute twice, unique ids, a label for every form control, a title and
// an accessible name for every chart, alt text for every image. It returns
// the problems found.
func checkHTML(page string) []string {
	var probs []string
	bad := func(format string, args ...any) { probs = append(probs, fmt.Sprintf(format, args...)) }
	if !strings.HasPrefix(strings.ToLower(page), "<!doctype html>") {
		bad("no <!doctype html> at the start")
	}
	z := html.NewTokenizer(strings.NewReader(page))
	var stack []string
	ids := map[string]bool{}
	inSVG := 0
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			if z.Err() != io.EOF {
				bad("tokenizer: %v", z.Err())
			}
			break
		}
		tok := z.Token()
		switch tt {
		case html.StartTagToken, html.SelfClosingTagToken:
			seen := map[string]bool{}
			for _, a := range tok.Attr {
				if seen[a.Key] {
					bad("<%s> has attribute %s twice", tok.Data, a.Key)
				}
				seen[a.Key] = true
				if a.Key == "id" {
					if ids[a.Val] {
						bad("id %q used twice", a.Val)
					}
					ids[a.Val] = true
				}
			}
			if tt == html.SelfClosingTagToken {
				if !voidElements[tok.Data] && !(inSVG > 0 && svgElements[tok.Data]) {
					bad("<%s/> self-closed outside SVG", tok.Data)
				}
				continue
			}
			if tok.Data == "svg" {
				inSVG++
			}
			if !voidElements[tok.Data] {
				stack = append(stack, tok.Data)
			}
		case html.EndTagToken:
			if voidElements[tok.Data] {
				bad("end tag </%s> of a void element", tok.Data)
				continue
			}
			if len(stack) == 0 || stack[len(stack)-1] != tok.Data {
				bad("</%s> closes %v", tok.Data, stack)
				return probs
			}
			stack = stack[:len(stack)-1]
			if tok.Data == "svg" {
				inSVG--
			}
		}
	}
	if len(stack) > 0 {
		bad("unclosed elements at the end: %v", stack)
	}
	probs = append(append(probs, checkAccessible(page)...), checkNumberColumns(page)...)
	return append(probs, checkStructure(page)...)
}

// moment matches a time of day written as a date and a time ("Dec 4
// 16:23", "2026-12-04 16:23 UTC"), and whenText the one way the dashboard
// writes a moment: the date, the time and the zone. The domain's own
// words (next's reasons: "last exposed a new user 2026-12-07 20:09 UTC")
// write it so too.
var (
	moment   = regexp.MustCompile(`\b(\d{4}-\d{2}-\d{2}|(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{1,2}) \d{2}:\d{2}( UTC)?`)
	whenText = regexp.MustCompile(`^\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC$`)
)

// dateOnly says whether s is a day as the dashboard writes one,
// 2006-01-02, its weekday before it where that matters (a week's first).
func dateOnly(s string) bool {
	_, err := time.Parse(time.DateOnly, s)
	_, errW := time.Parse("Mon "+time.DateOnly, s)
	return err == nil || errW == nil
}

// checkStructure checks what a reader finds their way by: the page's
// language, one h1 and headings that go down one level at a time, a
// scope on every table heading, and every moment written one way, in a
// <time> with its datetime (a relative one, "3h ago", with the moment as
// its title). Charts are left out: their axes write their own short times.
func checkStructure(page string) []string {
	var probs []string
	bad := func(format string, args ...any) { probs = append(probs, fmt.Sprintf(format, args...)) }
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		return []string{"parse: " + err.Error()}
	}
	level, h1s := 0, 0
	var walk func(n *html.Node, inTime bool)
	walk = func(n *html.Node, inTime bool) {
		switch {
		case n.Type == html.TextNode && !inTime:
			for _, m := range moment.FindAllString(n.Data, -1) {
				if !whenText.MatchString(m) {
					bad("the moment %q is written without its zone, outside a <time>", m)
				}
			}
		case n.Type == html.ElementNode:
			for _, m := range moment.FindAllString(attr(n, "title"), -1) {
				if !whenText.MatchString(m) {
					bad("the title %q writes a moment another way than %q", attr(n, "title"), "2006-01-02 15:04 UTC")
				}
			}
			switch n.DataAtom {
			case atom.Html:
				if attr(n, "lang") == "" {
					bad("<html> has no lang")
				}
			case atom.Svg:
				return
			case atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6:
				l := int(n.Data[1] - '0')
				if l == 1 {
					h1s++
				}
				if l > level+1 {
					bad("<%s> %.40q follows an h%d: a heading level skipped", n.Data, textOf(n), level)
				}
				level = l
			case atom.Th:
				if sc := attr(n, "scope"); sc != "col" && sc != "row" {
					bad("<th> %.40q has no scope", textOf(n))
				}
			case atom.Time:
				at, title, text := attr(n, "datetime"), attr(n, "title"), textOf(n)
				if _, err := time.Parse(time.RFC3339, at); err != nil && !dateOnly(at) {
					bad("<time> %q has no datetime in RFC 3339: %q", text, at)
				}
				if !whenText.MatchString(text) && !dateOnly(text) && !(strings.HasSuffix(text, " ago") && whenText.MatchString(title)) {
					bad("<time> says %q (title %q): want %q, a day (2006-01-02), or a time ago with that as its title", text, title, "2006-01-02 15:04 UTC")
				}
				inTime = true
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, inTime)
		}
	}
	walk(doc, false)
	if h1s != 1 {
		bad("%d <h1>, want one", h1s)
	}
	return probs
}

// checkNumberColumns checks that a column of numbers (cells of class n,
// right-aligned) is headed by a right-aligned heading (class n) too: a
// heading left over a column of numbers sits nearer the next column's
// figures than its own (the feature page's confidence 0.75 read as the
// effect beside it).
func checkNumberColumns(page string) []string {
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		return []string{"parse: " + err.Error()}
	}
	var probs []string
	// cells lists a row's cells by column, a cell spanning columns once.
	cells := func(tr *html.Node) []*html.Node {
		var out []*html.Node
		for c := tr.FirstChild; c != nil; c = c.NextSibling {
			if c.Type == html.ElementNode && (c.DataAtom == atom.Th || c.DataAtom == atom.Td) {
				out = append(out, c)
				if span, _ := strconv.Atoi(attr(c, "colspan")); span > 1 {
					out = append(out, make([]*html.Node, span-1)...) // the columns it spans
				}
			}
		}
		return out
	}
	var tables []*html.Node
	var find func(n *html.Node)
	find = func(n *html.Node) {
		if n.Type == html.ElementNode && n.DataAtom == atom.Table {
			tables = append(tables, n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			find(c)
		}
	}
	find(doc)
	for _, tb := range tables {
		var head []*html.Node
		numeric := map[int]bool{}
		for part := tb.FirstChild; part != nil; part = part.NextSibling {
			for tr := part.FirstChild; tr != nil; tr = tr.NextSibling {
				if tr.DataAtom != atom.Tr {
					continue
				}
				row := cells(tr)
				if part.DataAtom == atom.Thead && head == nil {
					head = row
					continue
				}
				for i, c := range row {
					if c != nil && c.DataAtom == atom.Td && attr(c, "colspan") == "" && slices.Contains(strings.Fields(attr(c, "class")), "n") {
						numeric[i] = true
					}
				}
			}
		}
		for i := range numeric {
			if i < len(head) && head[i] != nil && !slices.Contains(strings.Fields(attr(head[i], "class")), "n") {
				probs = append(probs, fmt.Sprintf("the column %q holds numbers, right-aligned, under a heading that is not (class n)", textOf(head[i])))
			}
		}
	}
	slices.Sort(probs)
	return slices.Compact(probs)
}

// textOf is the text of n and its descendants.
func textOf(n *html.Node) string {
	var b strings.Builder
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return strings.TrimSpace(b.String())
}

// checkAccessible checks what assistive technology needs: a label for
// every form control, a name for every chart said once, alt text.
func checkAccessible(page string) []string {
	var probs []string
	bad := func(format string, args ...any) { probs = append(probs, fmt.Sprintf(format, args...)) }
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		return []string{"parse: " + err.Error()}
	}
	labels := map[string]bool{}
	charts, hidden := map[string]bool{}, []string{} // the charts' names, the screen-reader-only texts
	var walk func(n *html.Node, inLabel bool)
	var controls []*html.Node
	walk = func(n *html.Node, inLabel bool) {
		if n.Type == html.ElementNode {
			switch n.DataAtom {
			case atom.Label:
				if f := attr(n, "for"); f != "" {
					labels[f] = true
				}
				inLabel = true
			case atom.Input, atom.Select, atom.Textarea:
				if typ := attr(n, "type"); typ != "hidden" && typ != "submit" && typ != "button" && !inLabel {
					controls = append(controls, n)
				}
			case atom.Img:
				if _, ok := attrOK(n, "alt"); !ok {
					bad("<img src=%q> has no alt text", attr(n, "src"))
				}
			case atom.Svg:
				if attr(n, "aria-hidden") == "true" {
					break
				}
				name, p := checkChart(n)
				if name != "" {
					charts[name] = true
				}
				probs = append(probs, p...)
			}
			if slices.Contains(strings.Fields(attr(n, "class")), "sr") {
				hidden = append(hidden, textOf(n))
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, inLabel)
		}
	}
	walk(doc, false)
	for _, h := range hidden {
		if charts[h] {
			bad("the screen-reader-only text %.60q only repeats a chart's name", h)
		}
	}
	for _, c := range controls {
		if id := attr(c, "id"); (id == "" || !labels[id]) && attr(c, "aria-label") == "" {
			bad("<%s name=%q> has no label", c.Data, attr(c, "name"))
		}
	}
	return probs
}

// checkChart checks a chart (an <svg> not hidden from assistive
// technology) and returns its name: role=img, named by its leading <title>
// and by nothing else. Chromium makes the <title> the description of an
// <svg> named by aria-label, so a label beside the title is read twice.
func checkChart(n *html.Node) (string, []string) {
	var probs []string
	t := firstElement(n)
	if t == nil || t.Data != "title" || textOf(t) == "" {
		return "", []string{"<svg> does not start with a <title> that names it"}
	}
	name := textOf(t)
	if attr(n, "role") != "img" {
		probs = append(probs, fmt.Sprintf("<svg> %.60q without role=img", name))
	}
	if _, ok := attrOK(n, "aria-label"); ok {
		probs = append(probs, fmt.Sprintf("<svg> %.60q has an aria-label beside its <title>: read as its name and again as its description", name))
	}
	return name, probs
}

func attr(n *html.Node, key string) string {
	v, _ := attrOK(n, key)
	return v
}

func attrOK(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

func firstElement(n *html.Node) *html.Node {
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.ElementNode {
			return c
		}
	}
	return nil
}

// TestCheckHTML: the page checker finds what it is meant to find.
func TestCheckHTML(t *testing.T) {
	const head = `<!doctype html><html lang="en"><head><title>x</title></head><body><h1>x</h1>`
	const tail = `</body></html>`
	for _, tc := range []struct{ name, body, want string }{
		{"valid", `<form><label for="a">A</label><input id="a" name="a"><input type="hidden" name="h"></form><svg role="img"><title>c</title><line x1="0"/></svg><p class="sr">c, 3 of 4</p>`, ""},
		{"unlabelled control", `<input id="a" name="q">`, `name="q"> has no label`},
		{"unlabelled textarea", `<textarea name="t"></textarea>`, `<textarea name="t"> has no label`},
		{"chart without title", `<svg role="img"><line x1="0"/></svg>`, "does not start with a <title>"},
		{"chart with an empty title", `<svg role="img"><title> </title></svg>`, "does not start with a <title>"},
		{"chart without role", `<svg><title>c</title></svg>`, "without role=img"},
		{"chart named twice", `<svg role="img" aria-label="c"><title>c</title></svg>`, "aria-label beside its <title>"},
		{"text repeating a chart", `<svg role="img"><title>c</title></svg><p class="sr">c</p>`, "only repeats a chart's name"},
		{"logo hidden", `<svg aria-hidden="true"><path d="M0 0"/></svg>`, ""},
		{"unclosed element", `<div><p>text</div>`, "</div> closes"},
		{"duplicate id", `<p id="x"></p><p id="x"></p>`, `id "x" used twice`},
		{"image without alt", `<img src="a.png">`, "no alt text"},
		{"number column headed left", `<table><thead><tr><th scope="col">Flag</th><th scope="col">Users</th></tr></thead><tbody><tr><td>a</td><td class="n">4</td></tr></tbody></table>`, `the column "Users" holds numbers`},
		{"heading skipped", `<h3>a</h3>`, "<h3> \"a\" follows an h1"},
		{"two h1", `<h1>b</h1>`, "2 <h1>"},
		{"th without scope", `<table><tr><th>a</th></tr></table>`, "<th> \"a\" has no scope"},
		{"moment in text", `<p>deployed Dec 4 16:23</p>`, `"Dec 4 16:23" is written without its zone, outside a <time>`},
		{"moment in words", `<p>last exposed a new user 2026-12-04 16:23 UTC</p>`, ""},
		{"moment in a title", `<span title="committed Dec 4 16:23 UTC">3h</span>`, `the title "committed Dec 4 16:23 UTC"`},
		{"time without datetime", `<time>2026-12-04 16:23 UTC</time>`, "no datetime"},
		{"short time", `<time datetime="2026-12-04T16:23:00Z">Dec 4 16:23</time>`, `<time> says "Dec 4 16:23"`},
		{"time ago without title", `<time datetime="2026-12-04T16:23:00Z">3h ago</time>`, `<time> says "3h ago"`},
		{"day", `<time datetime="2026-12-04">2026-12-04</time><time datetime="2026-12-07">Mon 2026-12-07</time>`, ""},
		{"day another way", `<time datetime="2026-12-07">Mon 7 Dec</time>`, `<time> says "Mon 7 Dec"`},
		{"times", `<time datetime="2026-12-04T16:23:00Z">2026-12-04 16:23 UTC</time><time datetime="2026-12-04T16:23:00Z" title="2026-12-04 16:23 UTC">3h ago</time>`, ""},
		{"number column headed right", `<table><thead><tr><th scope="col">Flag</th><th scope="col" class="n">Users</th></tr></thead><tbody><tr><td colspan="2">none</td></tr><tr><td>a</td><td class="n">4</td></tr></tbody></table>`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := strings.Join(checkHTML(head+tc.body+tail), "\n")
			if tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
				t.Errorf("checkHTML = %q, want %q", got, tc.want)
			}
		})
	}
}
