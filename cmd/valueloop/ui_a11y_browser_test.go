package main

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/chromedp"
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
