package main

import (
	"strings"
	"testing"
	"time"

	"github.com/valueloop/valueloop/delivery"
	"github.com/valueloop/valueloop/dora"
)

// TestDORATrendSaysWhatItShows: a trend draws the latest 60 buckets; the
// heading said "trend by day (3001, oldest first)" above 60 of them, as if
// the line spanned the whole range. It now says which part is drawn.
func TestDORATrendSaysWhatItShows(t *testing.T) {
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for n, want := range map[int]string{
		12:  ", trend by day (12, oldest first)",
		100: ", trend by day (the latest 60 of 100, oldest first)",
	} {
		r := &delivery.Report{Report: dora.Report{From: from, To: from.AddDate(0, 0, n), Bucket: dora.BucketDay}}
		r.Overall.Buckets = make([]dora.Metrics, n)
		var b strings.Builder
		writeDORA(&b, r)
		if line, _, _ := strings.Cut(b.String(), "\n"); !strings.HasSuffix(line, want) {
			t.Errorf("%d buckets: heading %q, want it to end %q", n, line, want)
		}
	}
}

// TestDORARangeBackwards: --to before --from went to the server and came
// back as "to: must be after from" (exit 3); it is refused at once, naming
// the flags.
func TestDORARangeBackwards(t *testing.T) {
	code, _, stderr := runCLI(t, "dora", "--from", "2026-12-01", "--to", "2026-11-01")
	if want := "--to: must be after --from"; code != exitUsage || !strings.Contains(stderr, want) {
		t.Errorf("dora --from 2026-12-01 --to 2026-11-01: exit %d, stderr %q; want %d with %q", code, stderr, exitUsage, want)
	}
}

// TestDORAOneUnit: the deployment frequencies of a report's blocks, read
// down the page as a column, are in one unit, the slowest's: checkout's
// 3.3/week stood over search's 2.3/month and read as the smaller. The
// JSON keeps deploymentsPerDay.
func TestDORAOneUnit(t *testing.T) {
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	series := func(name string, perDay float64) dora.Series {
		return dora.Series{Name: name, Team: "payments", Total: dora.Metrics{DeploymentsPerDay: perDay}}
	}
	r := &delivery.Report{Report: dora.Report{From: from, To: from.AddDate(0, 0, 90),
		Services: []dora.Series{series("checkout", 3.3/7), series("search", 2.3/30)},
		Teams:    []dora.Series{series("payments", 3.3/7+2.3/30)},
		Overall:  series("", 3.3/7+2.3/30)}}
	var b strings.Builder
	writeDORA(&b, r)
	var got []string
	for line := range strings.Lines(b.String()) {
		if f := strings.Fields(line); len(f) > 2 && f[0] == "deployment" && f[1] == "frequency" {
			got = append(got, f[2])
		}
	}
	if want := []string{"14.1/month", "2.3/month", "16.4/month", "16.4/month"}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("deployment frequencies %q, want %q:\n%s", got, want, b.String())
	}
}
