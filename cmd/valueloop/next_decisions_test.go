package main

import (
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestNextPrintsTheOverviewsDecisions: what the dashboard's overview lists
// under "What is next" as needing a decision (a rollout without a
// hypothesis, a validated experiment to release, ...) 'valueloop next'
// prints too, from the same value.Decisions, within 80 columns. On the
// demo the overview said "checkout-flow is rolling out in production
// without a hypothesis" and "new-onboarding is validated in production:
// release it" and 'valueloop next' said neither.
func TestNextPrintsTheOverviewsDecisions(t *testing.T) {
	s := MustServe(t, "", "--demo")
	resp, page := mustSignIn(t, s.URL, s.Admin).get("/")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("overview: %d", resp.StatusCode)
	}
	section := regexp.MustCompile(`(?s)<h2 id="next-h">What is next</h2>.*?</section>`).FindString(page)
	var decisions []string
	for _, m := range regexp.MustCompile(`(?s)<ul><li>(.*?)</ul>`).FindAllStringSubmatch(section, -1) {
		for item := range strings.SplitSeq(strings.TrimSuffix(m[1], "</li>"), "</li><li>") {
			// The stop list's items ("clean up flag for feature x: why")
			// the CLI prints under "Stop or finish" in its own words.
			if !strings.Contains(item, " for feature ") {
				decisions = append(decisions, html.UnescapeString(item))
			}
		}
	}
	for _, want := range []string{"checkout-flow is rolling out in production without a hypothesis", "new-onboarding is validated in production: release it"} {
		if !strings.Contains(strings.Join(decisions, "\n"), want) {
			t.Fatalf("the overview's decisions %q lack %q: the demo changed, or the overview", decisions, want)
		}
	}
	out := s.cliColumns(t, "80", "next")
	flat := strings.Join(strings.Fields(out), " ")
	for _, d := range decisions {
		if !strings.Contains(flat, strings.Join(strings.Fields(d), " ")) {
			t.Errorf("valueloop next does not print the overview's decision %q:\n%s", d, out)
		}
	}
	_, after, found := strings.Cut(out, "\nDecide now:\n")
	if !found {
		t.Fatalf("valueloop next has no 'Decide now:' section:\n%s", out)
	}
	for line := range strings.Lines(after) {
		if n := utf8.RuneCountInString(strings.TrimRight(line, "\n")); n > 80 {
			t.Errorf("a decision's line of %d at COLUMNS=80: %q", n, line)
		}
	}
}
