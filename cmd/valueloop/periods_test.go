package main

import (
	"strings"
	"testing"
	"time"

	"github.com/valueloop/valueloop/experiment"
	"github.com/valueloop/valueloop/stats"
)

// TestWritePeriods: results of a rollout list each split period with its
// users, split, weight and SRM; results without periods list nothing.
func TestWritePeriods(t *testing.T) {
	start := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	r := &experiment.Result{
		Variants: []experiment.Variant{{Name: "control", Control: true}, {Name: "treatment"}},
		Periods: []experiment.Period{
			{Start: &start, Weights: map[string]float64{"control": 9500, "treatment": 500}, Users: map[string]int64{"control": 1900, "treatment": 100},
				Weight: 0.16, SRM: stats.SRM{Status: stats.OK, PValue: 0.9}},
			{Weights: map[string]float64{"treatment": 10000}, Users: map[string]int64{"treatment": 1500},
				SRM: stats.SRM{Status: stats.NotApplicable, Reason: "one variant"}},
			{Start: &start, Weights: map[string]float64{}, Users: map[string]int64{"control": 400},
				SRM: stats.SRM{Status: stats.NotApplicable, Reason: "the flag was disabled"}},
		},
	}
	var b strings.Builder
	writePeriods(&b, r)
	out := b.String()
	for _, want := range []string{"users first exposed in 3 periods of the split", "from 2026-03-02T10:00:00Z: control 1,900 (split 95.0%), treatment 100 (split 5.0%); weight 16.0%; SRM ok, p = 0.9",
		"since the start: control 0 (split 0.0%), treatment 1,500 (split 100.0%); weight 0.0%; SRM does not apply: one variant",
		// A disabled period has no split: its users are not shares of one.
		"from 2026-03-02T10:00:00Z: control 400, treatment 0 (no split); weight 0.0%; SRM does not apply: the flag was disabled"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// One period: every user came under a split that has changed since.
	b.Reset()
	r.Periods = r.Periods[:1]
	writePeriods(&b, r)
	if out := b.String(); !strings.Contains(out, "every user so far came under this split, which has changed since") {
		t.Errorf("one period wrote:\n%s", out)
	}
	b.Reset()
	writePeriods(&b, &experiment.Result{})
	if b.Len() != 0 {
		t.Errorf("no periods wrote %q", b.String())
	}
}
