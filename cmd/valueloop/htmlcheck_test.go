package main

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"testing"

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
	return append(append(probs, checkAccessible(page)...), checkNumberColumns(page)...)
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
	const head = `<!doctype html><html lang="en"><head><title>x</title></head><body>`
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
		{"number column headed left", `<table><thead><tr><th>Flag</th><th>Users</th></tr></thead><tbody><tr><td>a</td><td class="n">4</td></tr></tbody></table>`, `the column "Users" holds numbers`},
		{"number column headed right", `<table><thead><tr><th>Flag</th><th class="n">Users</th></tr></thead><tbody><tr><td colspan="2">none</td></tr><tr><td>a</td><td class="n">4</td></tr></tbody></table>`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := strings.Join(checkHTML(head+tc.body+tail), "\n")
			if tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
				t.Errorf("checkHTML = %q, want %q", got, tc.want)
			}
		})
	}
}
