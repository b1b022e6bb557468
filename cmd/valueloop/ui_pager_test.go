package main

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestDashboardPager: every list that pages pages alike, by ?page=N,
// saying "Showing 16–30 of 45 deployments" with Previous and Next links
// that keep the list's other parameters. Before, the deployments said
// "The latest 15 of the 45" and ?page=2 showed the same 15; the flags and
// the experiments listed every one, however many.
func TestDashboardPager(t *testing.T) {
	srv := MustServe(t, "", "--demo")
	admin := mustSignIn(t, srv.URL, srv.Admin)
	rows := regexp.MustCompile(`(?s)<tbody>.*?</tbody>`)
	showing := regexp.MustCompile(`Showing (\d+)–(\d+) of ([\d,]+) (\w+)`)
	for _, tc := range []struct {
		path, want, prev, next string
	}{
		{"/delivery", "Showing 1–15 of 45 deployments, page 1 of 3.", "", `href="?page=2"`},
		{"/delivery?page=2", "Showing 16–30 of 45 deployments, page 2 of 3.", `href="?page=1"`, `href="?page=3"`},
		{"/delivery?page=3", "Showing 31–45 of 45 deployments, page 3 of 3.", `href="?page=2"`, ""},
		{"/delivery?page=99", "Showing 31–45 of 45 deployments, page 3 of 3.", `href="?page=2"`, ""},
		{"/flags/production", "Showing 1–", "", ""},
		{"/flags/production?q=checkout", "Showing 1–1 of 1 flag.", "", ""},
		{"/experiments", "Showing 1–", "", ""},
	} {
		resp, page := admin.get(tc.path)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d", tc.path, resp.StatusCode)
		}
		if !strings.Contains(page, tc.want) {
			t.Errorf("%s does not say %q: %q", tc.path, tc.want, showing.FindString(page))
		}
		for _, l := range []struct{ rel, want string }{{"prev", tc.prev}, {"next", tc.next}} {
			got := regexp.MustCompile(`<a rel="` + l.rel + `" (href="[^"]*")`).FindStringSubmatch(page)
			if (got == nil) != (l.want == "") || got != nil && strings.ReplaceAll(got[1], "&amp;", "&") != l.want {
				t.Errorf("%s: %s link %q, want %q", tc.path, l.rel, got, l.want)
			}
		}
		if m := showing.FindStringSubmatch(page); m != nil && strings.HasPrefix(tc.path, "/delivery") {
			dep := page[strings.Index(page, `id="dep-h"`):]
			shown := strings.Count(rows.FindString(dep[:strings.Index(dep, "</section>")]), "<tr>")
			from, _ := strconv.Atoi(m[1])
			to, _ := strconv.Atoi(m[2])
			if want := to - from + 1; shown != want {
				t.Errorf("%s says %s but lists %d", tc.path, m[0], shown)
			}
		}
	}
	// The flags list says its count once (the pager's), and a search
	// says what it matched of how many: it said "12 flags in Production
	// (version 3); these match “checkout”." above "Showing 1–1 of 1 flag.".
	counted := regexp.MustCompile(`\b[\d,]+ flags?\b`)
	for path, want := range map[string]int{"/flags/production": 1, "/flags/production?q=checkout": 2} {
		_, page := admin.get(path)
		if got := counted.FindAllString(page, -1); len(got) != want || strings.Contains(page, "these match") {
			t.Errorf("%s counts its flags %q, want %d counts (the pager's, and the search's total)", path, got, want)
		}
		if strings.Contains(path, "q=") && !regexp.MustCompile(`the flags whose key contains “checkout”, of [\d,]+ flags\.`).MatchString(page) {
			t.Errorf("%s does not say what it searched among", path)
		}
	}
	for _, bad := range []string{"abc", "0", "-1"} {
		resp, page := admin.get("/delivery?page=" + bad)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, "page: want a whole number from 1") {
			t.Errorf("?page=%s: %d, want 400 naming the parameter", bad, resp.StatusCode)
		}
	}
}
