package main

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/valueloop/valueloop/client"
	"github.com/valueloop/valueloop/experiment"
	"github.com/valueloop/valueloop/metric"
)

// TestOpenWindowsEndToEnd: a conversion with a 3-day window; on each of
// the last 10 UTC days one control and one treatment user were first
// exposed at noon, every treatment user bought an hour later, no control
// user did. The results through the server count, for the metric, the
// users of the days whose window may still be open (the last three, by
// whole days), and with excludeOpenWindows=on the metric's figures are
// those of the other days' users only, while the variants count everyone.
func TestOpenWindowsEndToEnd(t *testing.T) {
	s := MustServe(t, "")
	s.mustRun(t, []string{"metrics", "create", "--env", "production", "--key", "bought-3d", "--kind", "conversion", "--event", "purchase", "--window", "3d"})
	today := time.Now().UTC().Truncate(24 * time.Hour)
	var events []map[string]any
	for d := 1; d <= 10; d++ {
		t0 := today.AddDate(0, 0, -d).Add(12 * time.Hour)
		for _, v := range []string{"control", "treatment"} {
			user := fmt.Sprintf("%s-%d", v, d)
			events = append(events, map[string]any{"type": "exposure", "id": "x-" + user, "flag": "pricing", "variant": v, "targetingKey": user, "time": t0.Format(time.RFC3339)})
			if v == "treatment" {
				events = append(events, map[string]any{"type": "tracking", "id": "p-" + user, "name": "purchase", "targetingKey": user, "time": t0.Add(time.Hour).Format(time.RFC3339)})
			}
		}
	}
	s.mustSendEvents(t, s.mustToken(t, "--env", "production", "--scope", "evaluate"), events)

	// The days still open at a time: computed before and after each
	// request, so that a UTC midnight in between cannot fail the test.
	open := func(now time.Time) int64 {
		var n int64
		for d := 1; d <= 10; d++ {
			if !metric.WindowClosed(metric.DayOf(today.AddDate(0, 0, -d).UnixMilli()), metric.Window(72*time.Hour), now) {
				n++
			}
		}
		return n
	}
	c := client.New(s.URL, s.Admin)
	results := func(exclude string) (*experiment.MetricResult, int64, int64) {
		before := open(time.Now())
		res, err := c.Results(context.Background(), "production", "pricing", url.Values{"weights": {"control:1,treatment:1"}, "excludeOpenWindows": {exclude}})
		if err != nil {
			t.Fatal(err)
		}
		if res.Users != 20 {
			t.Errorf("excludeOpenWindows=%s: %d users, want all 20", exclude, res.Users)
		}
		return &res.Metrics[0], before, open(time.Now())
	}
	for _, exclude := range []string{"off", "on"} {
		m, before, after := results(exclude)
		ow := m.OpenWindows
		if ow == nil || (ow.Users != 2*before && ow.Users != 2*after) || ow.Excluded != (exclude == "on") {
			t.Fatalf("excludeOpenWindows=%s: openWindows %+v, want %d users (3 open days) and excluded %v", exclude, ow, 2*before, exclude == "on")
		}
		perArm := int64(10)
		if exclude == "on" {
			perArm = 10 - ow.Users/2
		}
		if len(m.Variants) != 2 {
			t.Fatalf("excludeOpenWindows=%s: variants %+v, want control and treatment", exclude, m.Variants)
		}
		for _, v := range m.Variants {
			want := 0.0
			if v.Variant == "treatment" {
				want = 1
			}
			if v.Users != perArm || v.Mean == nil || *v.Mean != want {
				t.Errorf("excludeOpenWindows=%s: %s has %d users, mean %v; want %d and %v", exclude, v.Variant, v.Users, v.Mean, perArm, want)
			}
		}
	}
	code, table, stderr := s.cli(t, s.Admin, "experiment", "results", "pricing", "--env", "production", "--weights", "control:1,treatment:1", "--exclude-open-windows", "on")
	for _, want := range []string{"Open windows: ", "whose 3d window may still be open", "open windows excluded"} {
		if code != 0 || !strings.Contains(table, want) {
			t.Errorf("results table: exit %d %s, lacks %q:\n%s", code, stderr, want, table)
		}
	}
	if _, err := c.Results(context.Background(), "production", "pricing", url.Values{"excludeOpenWindows": {"sometimes"}}); err == nil {
		t.Error("excludeOpenWindows=sometimes: want an error")
	}
}
