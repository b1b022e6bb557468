package stats

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// A metric whose control mean is negative (profit, a net change): the
// relative effect is (t − c)/|c|, so an increase reads as an increase.
func TestRelativeNegativeControl(t *testing.T) {
	for _, tc := range []struct {
		name         string
		control, trt float64
		want         float64
	}{
		{"negative control, increase", -10, -5, 0.5},
		{"negative control, decrease", -10, -12, -0.2},
		{"negative control, crossing zero", -10, 2, 1.2},
		{"positive control, increase", 10, 12, 0.2},
		{"positive control, decrease", 10, 5, -0.5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := analyzeTwo(t, fixedSettings(0.05, TwoSided), Mean, meanSummary(400, tc.control, 2), meanSummary(400, tc.trt, 2))
			if c.Relative == nil {
				t.Fatal("no relative effect")
			}
			if math.Abs(c.Relative.Estimate-tc.want) > 1e-12 {
				t.Errorf("relative = %v, want %v", c.Relative.Estimate, tc.want)
			}
			if math.Signbit(c.Relative.Estimate) != math.Signbit(c.Absolute.Estimate) {
				t.Errorf("relative %v and absolute %v point different ways", c.Relative.Estimate, c.Absolute.Estimate)
			}
			if !(c.Relative.SE > 0) || c.Relative.Interval.Lower > c.Relative.Estimate || c.Relative.Interval.Upper < c.Relative.Estimate {
				t.Errorf("relative interval %v around %v (se %v)", c.Relative.Interval, c.Relative.Estimate, c.Relative.SE)
			}
		})
	}
}

// A control mean that cannot be told apart from zero makes any relative
// figure meaningless: the comparison says so.
func TestRelativeNearZeroControlNote(t *testing.T) {
	near := analyzeTwo(t, fixedSettings(0.05, TwoSided), Mean, meanSummary(100, 0.1, 5), meanSummary(100, 2, 5))
	if near.Relative == nil || !strings.Contains(near.Relative.Note, "zero") {
		t.Errorf("control 0.1 ± 0.5: relative %+v, want a note about the control mean near zero", near.Relative)
	}
	far := analyzeTwo(t, fixedSettings(0.05, TwoSided), Mean, meanSummary(100, 10, 5), meanSummary(100, 12, 5))
	if far.Relative == nil || far.Relative.Note != "" {
		t.Errorf("control 10 ± 0.5: relative %+v, want no note", far.Relative)
	}
}

// Every interval shown has the p-value of the same test: p < α exactly when
// the interval excludes 0, for the absolute and the relative scale, fixed
// horizon and sequential, every kind and alternative.
func TestOneTestPerInterval(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 2))
	cases := 0
	for _, kind := range []Kind{Mean, Proportion, Ratio} {
		for _, alt := range []Alternative{TwoSided, Greater, Less} {
			for _, alpha := range []float64{0.05, 0.01, 0.2} {
				for range 60 {
					n := int64(5 + r.IntN(3000))
					var k, tr Summary
					switch kind {
					case Proportion:
						pc := 0.02 + 0.5*r.Float64()
						pt := pc * (0.5 + r.Float64())
						k = proportion(int64(pc*float64(n)), n)
						tr = proportion(int64(pt*float64(n)), n)
					default:
						mc := 1 + 20*r.Float64()
						k = meanSummary(n, mc, 0.2+5*r.Float64())
						tr = meanSummary(n, mc*(0.6+0.8*r.Float64()), 0.2+5*r.Float64())
						if kind == Ratio {
							k.DenMean, k.DenM2 = 2, float64(n-1)
							tr.DenMean, tr.DenM2 = 2, float64(n-1)
							k.Mean, tr.Mean = 2*k.Mean, 2*tr.Mean
						}
					}
					s := fixedSettings(alpha, alt)
					c := analyzeTwo(t, s, kind, k, tr)
					if c.Status != OK || c.Relative == nil {
						continue
					}
					for _, e := range []struct {
						name string
						e    Effect
					}{{"absolute", c.Absolute}, {"relative", *c.Relative}} {
						for _, iv := range []struct {
							name string
							iv   Interval
							p    float64
						}{{"fixed", e.e.Interval, e.e.PValue}, {"sequential", e.e.Sequential, e.e.SequentialPValue}} {
							cases++
							if (iv.p < alpha) == iv.iv.Contains(0) {
								t.Errorf("%s %s α=%g %s %s: p = %v but interval %v (estimate %v)", kind, alt, alpha, e.name, iv.name, iv.p, iv.iv, e.e.Estimate)
							}
						}
					}
					if c.Absolute.PValue != c.PValue || c.Absolute.SequentialPValue != c.SequentialPValue {
						t.Errorf("comparison p-values %v/%v differ from the absolute effect's %v/%v", c.PValue, c.SequentialPValue, c.Absolute.PValue, c.Absolute.SequentialPValue)
					}
				}
			}
		}
	}
	if cases < 3000 {
		t.Errorf("only %d cases checked", cases)
	}
}

// A small-sample case of the kind GrowthBook's relative t-test vectors show:
// the absolute test's p is 0.02 while the relative delta-method interval
// includes 0. The relative scale has its own p-value, which agrees with it.
func TestRelativePValueGrowthBookVector(t *testing.T) {
	c := analyzeTwo(t, fixedSettings(0.05, TwoSided), Mean, meanSummary(10, 0.5, 0.3), meanSummary(10, 0.9, 0.4))
	if c.Relative == nil {
		t.Fatal("no relative effect")
	}
	if (c.Relative.PValue < 0.05) == c.Relative.Interval.Contains(0) {
		t.Errorf("relative p = %v, interval %v: disagree", c.Relative.PValue, c.Relative.Interval)
	}
}

func proportion(k, n int64) Summary {
	var s Summary
	for i := range n {
		x := 0.0
		if i < k {
			x = 1
		}
		s.Add(x, 0, 0)
	}
	return s
}

// An error rate's relative change cannot fall below −100%: where the delta
// method's interval would, the log-ratio interval is used.
func TestRelativeIntervalRespectsRange(t *testing.T) {
	for _, alt := range []Alternative{TwoSided, Greater, Less} {
		c := analyzeTwo(t, fixedSettings(0.05, alt), Proportion, proportion(3, 100), proportion(5, 100))
		r := c.Relative
		if r == nil || r.Method != "log-ratio" {
			t.Fatalf("%s: relative %+v, want the log-ratio method", alt, r)
		}
		for _, iv := range []Interval{r.Interval, r.Sequential} {
			if iv.LowerUnbounded || iv.Lower < -1 || !iv.Contains(r.Estimate) {
				t.Errorf("%s: interval %v around %v leaves the range", alt, iv, r.Estimate)
			}
		}
	}
	// Far from the edge the delta method stays.
	c := analyzeTwo(t, fixedSettings(0.05, TwoSided), Proportion, proportion(300, 1000), proportion(330, 1000))
	if c.Relative.Method != "delta" {
		t.Errorf("method = %q, want delta", c.Relative.Method)
	}
}

// With Bonferroni's correction the adjusted intervals and adjusted p-values
// are one test too: p_adj < α exactly when the adjusted interval excludes 0.
func TestBonferroniAdjustedIntervalsAgree(t *testing.T) {
	r := rand.New(rand.NewPCG(10, 10))
	checked := 0
	for _, kind := range []Kind{Mean, Proportion} {
		for _, alt := range []Alternative{TwoSided, Greater, Less} {
			for range 80 {
				in := Input{Metrics: []Metric{{Name: "m", Kind: kind}}}
				for j := range 4 {
					n := int64(20 + r.IntN(2000))
					var s Summary
					if kind == Proportion {
						s = proportion(int64(float64(n)*(0.05+0.3*r.Float64())), n)
					} else {
						s = meanSummary(n, 5+r.Float64(), 1+2*r.Float64())
					}
					in.Variants = append(in.Variants, Variant{Name: string(rune('a' + j)), Weight: 1, Units: n})
					in.Metrics[0].Summaries = append(in.Metrics[0].Summaries, s)
				}
				st := fixedSettings(0.05, alt)
				st.Correction = Bonferroni
				res := mustAnalyze(t, st, in)
				for _, c := range res.Metrics[0].Comparisons {
					for _, e := range []*Effect{&c.Absolute, c.Relative} {
						if e == nil || e.AdjustedInterval == nil || e.AdjustedSequential == nil {
							t.Fatalf("%s %s: no adjusted intervals on %+v", kind, alt, e)
						}
						checked++
						if (e.AdjustedPValue < 0.05) == e.AdjustedInterval.Contains(0) {
							t.Errorf("%s %s: adjusted p %v, adjusted interval %v", kind, alt, e.AdjustedPValue, *e.AdjustedInterval)
						}
						if (e.AdjustedSequentialPValue < 0.05) == e.AdjustedSequential.Contains(0) {
							t.Errorf("%s %s: adjusted sequential p %v, interval %v", kind, alt, e.AdjustedSequentialPValue, *e.AdjustedSequential)
						}
					}
				}
			}
		}
	}
	if checked < 1000 {
		t.Errorf("only %d effects checked", checked)
	}
}

// The SRM threshold is a setting: a split off at p ≈ 0.005 is no mismatch
// at the default 0.001, one at 0.01.
func TestSRMThresholdSetting(t *testing.T) {
	in := twoArms(Mean, meanSummary(5000, 1, 1), meanSummary(5290, 1, 1)) // χ² ≈ 8.2, p ≈ 0.004
	def := mustAnalyze(t, DefaultSettings(), in).SRM
	s := DefaultSettings()
	s.SRMThreshold = 0.01
	strict := mustAnalyze(t, s, in).SRM
	if !(def.PValue > 0.001 && def.PValue < 0.01) || def.Mismatch || def.Threshold != SRMThreshold || !strict.Mismatch || strict.Threshold != 0.01 {
		t.Errorf("default %+v, threshold 0.01 %+v", def, strict)
	}
}

// CUPED's θ over all users differs from the arms' common slope when the
// arms differ in their means; "within" is the default.
func TestCUPEDThetaChoice(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	var k, tr Summary
	for range 500 {
		c := r.NormFloat64()
		k.Add(c+0.5*r.NormFloat64(), 0, c)
		c = r.NormFloat64() + 0.5 // the arms differ before exposure too
		tr.Add(3+c+0.5*r.NormFloat64(), 0, c)
	}
	s := DefaultSettings()
	within := mustAnalyze(t, s, twoArms(Mean, k, tr)).Metrics[0].Theta
	s.CUPEDTheta = WithinTheta
	if got := mustAnalyze(t, s, twoArms(Mean, k, tr)).Metrics[0].Theta; got != within {
		t.Errorf("within θ %v differs from the default %v", got, within)
	}
	s.CUPEDTheta = PooledTheta
	pooled := mustAnalyze(t, s, twoArms(Mean, k, tr)).Metrics[0].Theta
	if math.Abs(within-1) > 0.1 || !(pooled > within+0.3) {
		t.Errorf("θ within %v (want about 1), pooled %v (want larger: the arm means co-vary)", within, pooled)
	}
}
