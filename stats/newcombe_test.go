package stats

import (
	"encoding/json"
	"fmt"
	"testing"
)

// TestGoldenNewcombe: none of one arm's units and all of the other's
// converted, where the Wald interval does not exist. The absolute difference
// has statsmodels' Newcombe interval, the p-value of the z at which it
// reaches 0, no sequential claim and no relative effect; IntervalsAt
// rebuilds the interval at another level (the golden at α = 0.01 from the
// analysis at 0.05).
func TestGoldenNewcombe(t *testing.T) {
	g := loadGolden(t).Newcombe
	if len(g) == 0 {
		t.Fatal("no newcombe cases in golden.json")
	}
	at := map[string]Interval{} // the golden interval per case, alternative and α
	key := func(ctl, trt [2]int64, alt Alternative, alpha float64) string {
		return fmt.Sprint(ctl, trt, alt, alpha)
	}
	for _, c := range g {
		at[key(c.Control, c.Treatment, c.Alternative, c.Alpha)] = c.Want.Interval
	}
	for i, c := range g {
		t.Run(fmt.Sprintf("%d-%v-%v-%s-%v", i, c.Control, c.Treatment, c.Alternative, c.Alpha), func(t *testing.T) {
			s := fixedSettings(c.Alpha, c.Alternative)
			got := analyzeTwo(t, s, Proportion, ProportionSummary(c.Control[1], c.Control[0]), ProportionSummary(c.Treatment[1], c.Treatment[0]))
			e := got.Absolute
			if e.Method != MethodNewcombe || e.SE != 0 || got.Relative != nil || e.Note == "" {
				t.Fatalf("method %q, SE %v, relative %v, note %q; want newcombe, 0, none, a note", e.Method, e.SE, got.Relative, e.Note)
			}
			checkClose(t, "estimate", e.Estimate, c.Want.Diff, goldenTol)
			checkClose(t, "statistic", e.Statistic, c.Want.Statistic, goldenTol)
			checkClose(t, "pValue", e.PValue, c.Want.PValue, goldenTol)
			checkInterval(t, "interval", e.Interval, c.Want.Interval, goldenTol)
			checkClose(t, "chanceToBeat", got.ChanceToBeat, c.Want.Chance, goldenTol)
			if excl := !e.Interval.Contains(0); excl != (e.PValue < c.Alpha) {
				t.Errorf("interval %v excludes 0: %v, but p = %v against α = %v", e.Interval, excl, e.PValue, c.Alpha)
			}
			if e.Sequential != rateRange(c.Alternative) || e.SequentialPValue != 1 {
				t.Errorf("sequential %v, p %v; want the whole range %v and 1: Newcombe's interval has no sequential form", e.Sequential, e.SequentialPValue, rateRange(c.Alternative))
			}
			if got.Credible.Lower < -1 || got.Credible.Upper > 1 {
				t.Errorf("credible interval %v reaches past [-1, 1]", got.Credible)
			}
			// Through JSON, as a stored result is read back.
			b, err := json.Marshal(e)
			if err != nil {
				t.Fatal(err)
			}
			var back Effect
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			units := float64(c.Control[1] + c.Treatment[1])
			if c.Alpha == 0.05 {
				fixed, seq := s.IntervalsAt(back, 0.01, 0, units)
				checkInterval(t, "IntervalsAt(0.01)", fixed, at[key(c.Control, c.Treatment, c.Alternative, 0.01)], goldenTol)
				if seq != rateRange(c.Alternative) {
					t.Errorf("IntervalsAt(0.01) sequential %v, want %v", seq, rateRange(c.Alternative))
				}
			}
		})
	}
}

// TestNewcombeOnlyWhereWaldHasNoInterval: the switch is exactly where both
// arms' Wald variance is 0 and the rates differ; an arm that varies keeps
// the Wald test (so no earlier result changes), and equal rates at 0 or 1
// stay not enough data.
func TestNewcombeOnlyWhereWaldHasNoInterval(t *testing.T) {
	for _, tc := range []struct {
		name               string
		control, treatment Summary
		want               string // the absolute effect's method; "none" for no data
	}{
		{"one conversion", ProportionSummary(500, 0), ProportionSummary(400, 1), ""},
		{"all but one", ProportionSummary(500, 0), ProportionSummary(400, 399), ""},
		{"none against all", ProportionSummary(500, 0), ProportionSummary(400, 400), MethodNewcombe},
		{"all against none", ProportionSummary(2, 2), ProportionSummary(3, 0), MethodNewcombe},
		{"none in either", ProportionSummary(500, 0), ProportionSummary(400, 0), "none"},
		{"all in both", ProportionSummary(500, 500), ProportionSummary(400, 400), "none"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, s := range []Settings{DefaultSettings(), fixedSettings(0.1, Greater)} {
				res := mustAnalyze(t, s, twoArms(Proportion, tc.control, tc.treatment))
				checkFinite(t, res)
				c := res.Metrics[0].Comparisons[0]
				switch {
				case tc.want == "none" && c.Status != NotEnoughData:
					t.Errorf("status %s, want not enough data", c.Status)
				case tc.want != "none" && (c.Status != OK || c.Absolute.Method != tc.want):
					t.Errorf("status %s, method %q; want ok, %q", c.Status, c.Absolute.Method, tc.want)
				case tc.want == "" && !(c.Absolute.SE > 0):
					t.Errorf("Wald SE %v, want > 0", c.Absolute.SE)
				}
			}
		})
	}
}
