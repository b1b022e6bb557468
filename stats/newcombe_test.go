package stats

import (
	"encoding/json"
	"fmt"
	"math"
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
			// The sequence on the score test's SE, by hand: the pooled rate
			// is the share of all units in the arm at 100%.
			nc, nt := float64(c.Control[1]), float64(c.Treatment[1])
			pool := max(float64(c.Control[0]), float64(c.Treatment[0])) / (nc + nt)
			se := math.Sqrt(pool * (1 - pool) * (1/nc + 1/nt))
			q := newSequential(c.Alpha, s.SequentialTuning, c.Alternative)
			n := float64(c.Control[1] + c.Treatment[1])
			checkClose(t, "sequentialPValue", e.SequentialPValue, q.pValue(e.Estimate/se, n, c.Alternative), 1e-12)
			if excl := !e.Sequential.Contains(0); excl != (e.SequentialPValue <= c.Alpha) {
				t.Errorf("sequential %v excludes 0: %v, but its p = %v against α = %v", e.Sequential, excl, e.SequentialPValue, c.Alpha)
			}
			if e.Sequential.Lower < -1 || e.Sequential.Upper > 1 {
				t.Errorf("sequential %v reaches past [-1, 1]", e.Sequential)
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
				fixed, _ := s.IntervalsAt(back, 0.01, 0, units)
				checkInterval(t, "IntervalsAt(0.01)", fixed, at[key(c.Control, c.Treatment, c.Alternative, 0.01)], goldenTol)
			}
			// At the analysis' own level it rebuilds both intervals.
			if fixed, seq := s.IntervalsAt(back, c.Alpha, 0, units); fixed != e.Interval || seq != e.Sequential {
				t.Errorf("IntervalsAt(%v) = %v, %v; want the analysis' %v, %v", c.Alpha, fixed, seq, e.Interval, e.Sequential)
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

// TestStoredNewcombeReadsBack: a Newcombe result stored before its
// sequence had a standard error (no sequentialSE) rebuilds the whole range
// it had then, not a point; one stored now rebuilds its own sequence.
func TestStoredNewcombeReadsBack(t *testing.T) {
	s := fixedSettings(0.05, TwoSided)
	old := `{"estimate":1,"se":0,"interval":{"lower":0.99,"upper":1},"sequential":{"lower":-1,"upper":1},"statistic":40,"pValue":0,"sequentialPValue":1,"method":"newcombe","units":[500,400]}`
	var e Effect
	if err := json.Unmarshal([]byte(old), &e); err != nil {
		t.Fatal(err)
	}
	if _, seq := s.IntervalsAt(e, 0.025, 0, 900); seq != (Interval{Lower: -1, Upper: 1}) {
		t.Errorf("stored without sequentialSE: sequence at 0.025 %v, want the whole range [-1, 1] as stored", seq)
	}
	c := analyzeTwo(t, s, Proportion, ProportionSummary(500, 0), ProportionSummary(400, 400))
	if c.Absolute.Sequential.Contains(0) || !(c.Absolute.SequentialSE > 0) {
		t.Errorf("0/500 against 400/400: sequence %v, SE %v; want one excluding 0", c.Absolute.Sequential, c.Absolute.SequentialSE)
	}
}

// TestSequentialHarmFromZeroDetected: a conversion (an error rate) at 0%
// in control against many in the treatment is told from chance by the
// sequence, as a rollout's guardrail reads it (two-sided, α = 0.05, tuned
// for 10,000 users). Every treatment unit erring had a sequence of the
// whole range, never excluding 0, however many units. It logs the fewest
// units at which each case is caught (treatment errors at their expected
// count).
func TestSequentialHarmFromZeroDetected(t *testing.T) {
	s := Settings{Alpha: 0.05, Alternative: TwoSided, SequentialTuning: 10000, Correction: NoCorrection}
	caught := func(nc, nt, xt int64) bool {
		c := analyzeTwo(t, s, Proportion, ProportionSummary(nc, 0), ProportionSummary(nt, xt))
		return c.Status == OK && c.Absolute.Sequential.Lower > 0 && c.SequentialPValue <= s.Alpha
	}
	for _, tc := range []struct {
		name        string
		rate, share float64 // the treatment's error rate and share of units
		within      int64   // treatment units by which it must be caught
		nc, nt, xt  int64   // a fixed case that must be caught
	}{
		{"every treatment unit errs, even split", 1, 0.5, 60, 1000, 1000, 1000},
		{"every treatment unit errs, 5% step", 1, 0.05, 10, 1900, 100, 100},
		{"30% of treatment units err, 5% step", 0.3, 0.05, 100, 2000, 100, 30},
	} {
		if !caught(tc.nc, tc.nt, tc.xt) {
			t.Errorf("%s: 0/%d against %d/%d not caught", tc.name, tc.nc, tc.xt, tc.nt)
		}
		first := int64(0)
		for nt := int64(2); nt <= 10*tc.within && first == 0; nt++ {
			nc := int64(math.Round(float64(nt) * (1 - tc.share) / tc.share))
			if caught(nc, nt, int64(math.Round(tc.rate*float64(nt)))) {
				first = nt
			}
		}
		t.Logf("%s: caught at %d treatment units", tc.name, first)
		if first == 0 || first > tc.within {
			t.Errorf("%s: caught at %d treatment units (0: not by %d), want by %d", tc.name, first, 10*tc.within, tc.within)
		}
	}
}

// TestNewcombeStratified: 0% against 100% in every period of a stratified
// analysis (a rollout over several steps, an experiment with a split
// history). The standardised rates are sums of weights that need not add up
// to exactly 1 in floating point: with periods of 199, 352, 259 and 162
// treatment users the difference was 1 − 2⁻⁵³, so the case was "not enough
// data: the metric does not vary" (234 of 3,000 random sets of periods).
func TestNewcombeStratified(t *testing.T) {
	var strata []Stratum
	var nc, nt int64
	for _, n := range []int64{199, 352, 259, 162} {
		strata = append(strata, Stratum{Weights: []float64{1, 1}, Units: []int64{3 * n, n},
			Summaries: [][]Summary{{ProportionSummary(3*n, 0), ProportionSummary(n, n)}}})
		nc, nt = nc+3*n, nt+n
	}
	s := DefaultSettings()
	s.SplitUnknown = true
	res := mustAnalyze(t, s, Input{Variants: []Variant{{Name: "c", Weight: 1, Units: nc}, {Name: "t", Weight: 1, Units: nt}},
		Metrics: []Metric{{Name: "m", Kind: Proportion, Summaries: []Summary{ProportionSummary(nc, 0), ProportionSummary(nt, nt)}}}, Strata: strata})
	c := res.Metrics[0].Comparisons[0]
	if c.Status != OK || c.Absolute.Method != MethodNewcombe || c.Absolute.Estimate != 1 || c.Absolute.Sequential.Contains(0) {
		t.Errorf("status %s (%s), method %q, estimate %v, sequence %v; want newcombe, exactly 1, excluding 0", c.Status, c.Reason, c.Absolute.Method, c.Absolute.Estimate, c.Absolute.Sequential)
	}
}
