package stats

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/valueloop/valueloop/valuelooptest"
)

// TestGoldenStratified checks the analysis by period against
// gen_golden.py: the combined difference against statsmodels' OLS with one
// dummy per period, the SE, the Welch–Satterthwaite degrees of freedom over
// the parts and the relative test against their formulas.
func TestGoldenStratified(t *testing.T) {
	for i, c := range loadGolden(t).Stratified {
		t.Run(fmt.Sprintf("%d-%s", i, c.Kind), func(t *testing.T) {
			kind, in := Proportion, Input{Variants: []Variant{{Name: "control", Weight: 1}, {Name: "treatment", Weight: 1}}}
			var cells [][2]Summary
			if c.Kind == "mean" {
				kind = Mean
				for _, p := range c.Values {
					cells = append(cells, [2]Summary{summarizeValues(p[0]), summarizeValues(p[1])})
				}
			} else {
				for _, p := range c.Counts {
					cells = append(cells, [2]Summary{ProportionSummary(p[0][1], p[0][0]), ProportionSummary(p[1][1], p[1][0])})
				}
			}
			pooled := [2]Summary{}
			for _, p := range cells {
				pooled[0], pooled[1] = Merge(pooled[0], p[0]), Merge(pooled[1], p[1])
				in.Strata = append(in.Strata, Stratum{Weights: []float64{1, 1}, Units: []int64{p[0].N, p[1].N}, Summaries: [][]Summary{{p[0], p[1]}}})
			}
			in.Metrics = []Metric{{Name: "m", Kind: kind, Summaries: pooled[:]}}
			in.Variants[0].Units, in.Variants[1].Units = pooled[0].N, pooled[1].N
			res, err := Analyze(fixedSettings(0.05, TwoSided), in)
			if err != nil {
				t.Fatal(err)
			}
			for p, w := range c.Want.Weights {
				checkClose(t, fmt.Sprintf("weight %d", p), res.Strata[p].Weight, w, goldenTol)
			}
			checkTest(t, res.Metrics[0].Comparisons[0], c.Want.wantTest, kind == Mean, true)
		})
	}
}

func summarizeValues(xs []float64) Summary {
	var s Summary
	for _, x := range xs {
		s.Add(x, 0, 0)
	}
	return s
}

// TestStratifiedOnePeriod: one stratum is the unstratified analysis.
func TestStratifiedOnePeriod(t *testing.T) {
	k, tr := summarizeValues([]float64{1, 3, 4, 8, 2, 5}), summarizeValues([]float64{2, 6, 7, 9, 4})
	in := Input{
		Variants: []Variant{{Name: "c", Weight: 1, Units: k.N}, {Name: "t", Weight: 1, Units: tr.N}},
		Metrics:  []Metric{{Name: "m", Kind: Mean, Summaries: []Summary{k, tr}}},
	}
	plain, err := Analyze(fixedSettings(0.05, TwoSided), in)
	if err != nil {
		t.Fatal(err)
	}
	in.Strata = []Stratum{{Weights: []float64{1, 1}, Units: []int64{k.N, tr.N}, Summaries: [][]Summary{{k, tr}}}}
	strat, err := Analyze(fixedSettings(0.05, TwoSided), in)
	if err != nil {
		t.Fatal(err)
	}
	a, b := plain.Metrics[0].Comparisons[0], strat.Metrics[0].Comparisons[0]
	for _, x := range [][3]float64{{a.Absolute.Estimate, b.Absolute.Estimate}, {a.Absolute.SE, b.Absolute.SE}, {a.DF, b.DF}, {a.PValue, b.PValue}, {a.Relative.SE, b.Relative.SE}} {
		if math.Abs(x[0]-x[1]) > 1e-12*math.Abs(x[0]) {
			t.Errorf("stratified %v, plain %v", x[1], x[0])
		}
	}
}

// TestStratifiedBadInput: strata must match the variants and metrics.
func TestStratifiedBadInput(t *testing.T) {
	k := ProportionSummary(100, 10)
	base := Input{
		Variants: []Variant{{Name: "c", Weight: 1, Units: 100}, {Name: "t", Weight: 1, Units: 100}},
		Metrics:  []Metric{{Name: "m", Kind: Proportion, Summaries: []Summary{k, k}}},
	}
	for name, st := range map[string]Stratum{
		"strata[0].weights":      {Weights: []float64{1}, Units: []int64{1, 1}, Summaries: [][]Summary{{k, k}}},
		"strata[0].weights[1]":   {Weights: []float64{1, -1}, Units: []int64{1, 1}, Summaries: [][]Summary{{k, k}}},
		"strata[0].units[0]":     {Weights: []float64{1, 1}, Units: []int64{-1, 1}, Summaries: [][]Summary{{k, k}}},
		"strata[0].summaries":    {Weights: []float64{1, 1}, Units: []int64{1, 1}},
		"strata[0].summaries[0]": {Weights: []float64{1, 1}, Units: []int64{1, 1}, Summaries: [][]Summary{{k}}},
	} {
		in := base
		in.Strata = []Stratum{st}
		_, err := Analyze(fixedSettings(0.05, TwoSided), in)
		valuelooptest.WantFieldError(t, err, name)
	}
}

// TestSimulationStratifiedFalsePositiveRate: A/A rollouts whose mean moves
// between periods (a time trend) while the split moves 95/5 → 50/50 → 10/90:
// the stratified test, with CUPED, rejects at its level, absolute and
// relative, over 2,000 runs.
func TestSimulationStratifiedFalsePositiveRate(t *testing.T) {
	s := Settings{Alpha: 0.05, Alternative: TwoSided, SequentialTuning: 10000, CUPED: true, Correction: NoCorrection}
	periods := []struct {
		nc, nt int64
		pop    normalArm
	}{
		{950, 50, normalArm{mu: 10, sd: 3, preMu: 5, preSD: 2, rho: 0.6}},
		{500, 500, normalArm{mu: 12, sd: 3, preMu: 5, preSD: 2, rho: 0.6}},
		{100, 900, normalArm{mu: 15, sd: 4, preMu: 5, preSD: 2, rho: 0.6}},
	}
	r := rand.New(rand.NewPCG(11, 2024))
	var abs, rel int
	for range experiments {
		in := Input{Variants: []Variant{{Name: "c", Weight: 1}, {Name: "t", Weight: 1}}}
		var pooled [2]Summary
		for _, p := range periods {
			k, tr := p.pop.draw(r, p.nc), p.pop.draw(r, p.nt)
			pooled[0], pooled[1] = Merge(pooled[0], k), Merge(pooled[1], tr)
			in.Strata = append(in.Strata, Stratum{Weights: []float64{float64(p.nc), float64(p.nt)}, Units: []int64{p.nc, p.nt}, Summaries: [][]Summary{{k, tr}}})
		}
		in.Variants[0].Units, in.Variants[1].Units = pooled[0].N, pooled[1].N
		in.Metrics = []Metric{{Name: "m", Kind: Mean, Summaries: pooled[:]}}
		c := mustAnalyze(t, s, in).Metrics[0].Comparisons[0]
		if c.PValue < s.Alpha {
			abs++
		}
		if c.Relative.PValue < s.Alpha {
			rel++
		}
	}
	for name, n := range map[string]int{"absolute": abs, "relative": rel} {
		rate := float64(n) / experiments
		t.Logf("%s: false-positive rate %.4f over %d stratified A/A runs", name, rate, experiments)
		if rate < 0.04 || rate > 0.06 {
			t.Errorf("%s: false-positive rate %.4f, want within [0.04, 0.06]", name, rate)
		}
	}
}

// TestSplitUnknown: with the split not known, no sample-ratio check is
// made (not even of a glaring mismatch against the weights given), with
// strata or without, and the estimates are those of the checked analysis.
func TestSplitUnknown(t *testing.T) {
	k, tr := ProportionSummary(10000, 1000), ProportionSummary(100, 12)
	in := Input{
		Variants: []Variant{{Name: "c", Weight: 1, Units: k.N}, {Name: "t", Weight: 1, Units: tr.N}},
		Metrics:  []Metric{{Name: "m", Kind: Proportion, Summaries: []Summary{k, tr}}},
	}
	stratified := in
	stratified.Strata = []Stratum{
		{Weights: []float64{1, 1}, Units: []int64{k.N / 2, tr.N / 2}, Summaries: [][]Summary{{ProportionSummary(5000, 500), ProportionSummary(50, 6)}}},
		{Weights: []float64{1, 1}, Units: []int64{k.N / 2, tr.N / 2}, Summaries: [][]Summary{{ProportionSummary(5000, 500), ProportionSummary(50, 6)}}},
	}
	for name, in := range map[string]Input{"plain": in, "stratified": stratified} {
		s := fixedSettings(0.05, TwoSided)
		checked, err := Analyze(s, in)
		if err != nil {
			t.Fatal(err)
		}
		if !checked.SRM.Mismatch {
			t.Fatalf("%s: 10000 against 100 units on a 1:1 split is no mismatch: %+v", name, checked.SRM)
		}
		s.SplitUnknown = true
		unknown, err := Analyze(s, in)
		if err != nil {
			t.Fatal(err)
		}
		if unknown.SRM.Status != NotApplicable || unknown.SRM.Mismatch || len(unknown.Strata) != len(in.Strata) {
			t.Errorf("%s, split unknown: SRM %+v with %d strata, want not checked and one entry per stratum", name, unknown.SRM, len(unknown.Strata))
		}
		for p := range unknown.Strata {
			if unknown.Strata[p].SRM.Status != NotApplicable || unknown.Strata[p].Weight != checked.Strata[p].Weight {
				t.Errorf("%s, split unknown: stratum %d %+v, want its weight %v and no SRM", name, p, unknown.Strata[p], checked.Strata[p].Weight)
			}
		}
		a, b := checked.Metrics[0].Comparisons[0], unknown.Metrics[0].Comparisons[0]
		if a.Absolute.Estimate != b.Absolute.Estimate || a.Absolute.SE != b.Absolute.SE || a.PValue != b.PValue {
			t.Errorf("%s: estimates differ with the split unknown: %+v, want %+v", name, b, a)
		}
	}
}

// TestStrataSRMOverall: the overall check of a stratified analysis sums up
// its periods' so that it neither hides a mismatch nor blocks a verdict
// falsely: a mismatch in any checked period is the overall one, whatever
// the others say; a period the check does not apply to (a 100% step)
// changes nothing beside a checked one; and with none checked yet, the
// overall status is not_enough_data while some checkable period waits for
// units, not_applicable only when no period can ever be checked. It said
// not_applicable, "more data would not change that", beside a checkable
// period that only had no units yet.
func TestStrataSRMOverall(t *testing.T) {
	fine := Stratum{Weights: []float64{1, 1}, Units: []int64{500, 510}}
	broken := Stratum{Weights: []float64{1, 1}, Units: []int64{500, 300}}
	waiting := Stratum{Weights: []float64{1, 1}, Units: []int64{0, 0}}
	step := Stratum{Weights: []float64{0, 1}, Units: []int64{0, 400}}
	ruled := Stratum{Weights: []float64{1, 1}, Units: []int64{900, 100}, Unchecked: "a targeting rule"}
	for _, tc := range []struct {
		name     string
		strata   []Stratum
		status   Status
		mismatch bool
	}{
		{"a step beside a fine period", []Stratum{step, fine}, OK, false},
		{"a step beside a broken period", []Stratum{step, broken}, OK, true},
		{"a broken period beside a step", []Stratum{broken, step}, OK, true},
		{"a broken period beside a fine one", []Stratum{broken, fine}, OK, true},
		{"a fine period beside a broken one", []Stratum{fine, broken}, OK, true},
		{"a lopsided ruled period beside a fine one", []Stratum{ruled, fine}, OK, false},
		{"a step beside a period with no units yet", []Stratum{step, waiting}, NotEnoughData, false},
		{"a period with no units yet beside a step", []Stratum{waiting, step}, NotEnoughData, false},
		{"only steps and rules", []Stratum{step, ruled}, NotApplicable, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, per := strataSRM(Input{Strata: tc.strata}, make([]float64, len(tc.strata)), SRMThreshold)
			if got.Status != tc.status || got.Mismatch != tc.mismatch || got.Reason == "" && got.Status != OK {
				t.Errorf("overall SRM %+v, want status %s, mismatch %v, and a reason unless checked", got, tc.status, tc.mismatch)
			}
			min := 1.0
			for _, p := range per {
				if p.SRM.Status == OK {
					min = math.Min(min, p.SRM.PValue)
				}
			}
			if got.Status == OK && got.PValue != min {
				t.Errorf("overall p %v, want the smallest period's %v", got.PValue, min)
			}
		})
	}
}
