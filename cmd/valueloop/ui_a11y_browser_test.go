package main

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// TestChartNamesBrowser: in Chromium's accessibility tree every chart
// shown on the experiment, rollout, delivery, flag and value pages and on
// the overview and the rollouts' list (line charts, forest plots,
// sparklines, meters, bars) is an image with a non-empty name and no
// description that repeats it. Before, each chart
// had an aria-label and a <title> of the same text: the label named it,
// the title became its description, and a screen reader read it twice.
// Each line chart's description names its y-axis ("Vertical axis: lift vs
// control (%)."): none said what its numbers are.
func TestChartNamesBrowser(t *testing.T) {
	bin := needBrowser(t)
	srv := MustServe(t, "", "--demo")
	warm := mustSignIn(t, srv.URL, srv.Admin)
	waitForCharts(t, warm, "/experiments/production/new-onboarding")
	waitForCharts(t, warm, "/flags/production/checkout-flow")
	c := newChrome(t, bin, srv)
	c.signIn(srv.Admin)
	lines := 0
	for _, p := range []string{"/experiments/production/new-onboarding", "/experiments/production/new-onboarding?dimension=platform",
		"/rollouts/production/checkout-flow", "/delivery", "/flags/production/checkout-flow", "/value", "/", "/rollouts"} {
		c.open(p)
		charts := c.images(p)
		if len(charts) == 0 {
			t.Errorf("%s: no chart in the accessibility tree (the check would prove nothing)", p)
		}
		for _, im := range charts {
			if lineChartName.MatchString(im.name) {
				lines++
			}
			switch {
			case lineChartName.MatchString(im.name) && !strings.HasPrefix(im.desc, "Vertical axis: "):
				t.Errorf("%s: the line chart %.60q has the description %q, want its y-axis named", p, im.name, im.desc)
			case im.name == "":
				t.Errorf("%s: a chart has no accessible name", p)
			case im.desc == im.name:
				t.Errorf("%s: the chart %.60q has its name again as its description", p, im.name)
			}
		}
	}
	if lines < 3 { // the interval over time, a rollout's progress, a flag's exposures
		t.Errorf("%d line charts over time found, want at least 3 (the check would prove little)", lines)
	}
}

// lineChartName matches the names of the line charts over time.
var lineChartName = regexp.MustCompile(`^(Lift|Difference) of .* over time|^Relative change of|^Share of users served|^Exposures of .* per day`)

// axImage is an image of the accessibility tree: its name and description.
type axImage struct{ name, desc string }

// images returns the images of the open page's accessibility tree that a
// screen reader reaches (not those hidden, as a chart's drawings for
// other widths are).
func (c *chrome) images(path string) []axImage {
	c.t.Helper()
	tree, err := chromedp.Call(c.ctx, accessibility.GetFullAXTree, accessibility.GetFullAXTreeParams{})
	if err != nil {
		c.t.Fatalf("accessibility tree of %s: %v", path, err)
	}
	str := func(v *accessibility.Value) string {
		var s string
		if v != nil && len(v.Value) > 0 {
			if err := json.Unmarshal([]byte(v.Value), &s); err != nil {
				c.t.Fatalf("%s: an accessibility value %s: %v", path, v.Value, err)
			}
		}
		return s
	}
	var out []axImage
	for _, n := range tree.Nodes {
		if n.Ignored || str(n.Role) != "image" {
			continue
		}
		out = append(out, axImage{name: str(n.Name), desc: str(n.Description)})
	}
	return out
}

// skipLink: the keyboard's first stop on every page is a "Skip to
// content" link, out of sight until it has the focus and then on screen
// with a visible ring; following it moves the focus to the page's main
// content, so that the next Tab reaches the page's own first link or
// field rather than the header's seven. Before, the first Tab went to the
// logo and a keyboard user crossed the whole header on every page.
func (c *chrome) skipLink() {
	c.t.Helper()
	const state = `(() => { const a = document.activeElement, r = a.getBoundingClientRect(), cs = getComputedStyle(a);
  return {tag: a.tagName, cls: a.className, text: a.textContent.trim(), inMain: !!a.closest("main"), hash: location.hash,
    onScreen: r.bottom > 0 && r.top >= 0 && r.width > 0, ring: a.matches(":focus-visible") && cs.outlineStyle !== "none" && parseFloat(cs.outlineWidth) >= 2}; })()`
	type focus struct {
		Tag, Cls, Text, Hash   string
		InMain, OnScreen, Ring bool
	}
	for _, p := range []string{"/", "/flags/production", "/flags/production/checkout-flow", "/experiments/production/new-onboarding"} {
		c.open(p)
		hidden, err := chromedp.Run(c.ctx, chromedp.Evaluate[bool](`(() => { const a = document.querySelector("body > a.skip:first-child"); return !!a && a.getBoundingClientRect().bottom <= 0; })()`))
		if err != nil || !hidden {
			c.t.Errorf("%s: no skip link first in the body, out of sight until focused (%v)", p, err)
			continue
		}
		c.do("tab", chromedp.KeyEvent(kb.Tab))
		f, err := chromedp.Run(c.ctx, chromedp.Evaluate[focus](state))
		if err != nil {
			c.t.Fatal(err)
		}
		if f.Text != "Skip to content" || !f.OnScreen || !f.Ring {
			c.t.Errorf("%s: the first Tab focuses %+v, want the skip link on screen with a focus ring of 2px or more", p, f)
			continue
		}
		c.do("enter", chromedp.KeyEvent(kb.Enter))
		if f, _ = chromedp.Run(c.ctx, chromedp.Evaluate[focus](state)); f.Tag != "MAIN" || f.Hash != "#content" {
			c.t.Errorf("%s: after following the skip link the focus is on %+v, want main#content", p, f)
		}
		c.do("tab", chromedp.KeyEvent(kb.Tab))
		if f, _ = chromedp.Run(c.ctx, chromedp.Evaluate[focus](state)); !f.InMain || !f.Ring {
			c.t.Errorf("%s: the Tab after the skip link focuses %+v, want something in main, with a ring", p, f)
		}
	}
}
