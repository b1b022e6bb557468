package stats

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestRelativePlanLogRatioBySimulation runs the analysis on conversions
// drawn at the sizes the planner gives for a large relative decrease, which
// the analysis tests on the log ratio, and counts how often the relative
// test rejects: at least the planned power (the plan assumes the log
// ratio's test wherever the true means would have the analysis choose it;
// samples whose interval stays above −100% get the delta method's, which
// is stronger), where the delta method's smaller plan had far less.
func TestRelativePlanLogRatioBySimulation(t *testing.T) {
	for _, c := range []struct {
		base, effect float64
		lo, hi       float64 // the rejection rate at the plan's size
		deltaHi      float64 // at most that at the delta method's
	}{
		{0.1, -0.5, 0.8, 0.9, 0.7},
		{0.4, -0.8, 0.8, 0.92, 0.5},
	} {
		p := Plan{Alpha: 0.05, Alternative: TwoSided, Power: 0.8, Proportion: true, Baseline: c.base, Relative: true}
		nc, _, err := p.SampleSize(c.effect)
		if err != nil {
			t.Fatal(err)
		}
		d := c.effect * c.base
		nDelta := bisect(func(n float64) float64 { pw, _ := p.power(d, n, deltaTest); return pw }, 0.8, 2, 4)
		lo, hi := c.lo, c.hi
		for _, n := range []int64{int64(math.Ceil(nc)), int64(math.Ceil(nDelta))} {
			rate := rejections(t, n, c.base, c.effect)
			t.Logf("%v of %v at %d per arm: relative test rejects %.3f", c.effect, c.base, n, rate)
			if rate < lo || rate > hi {
				t.Errorf("%v of %v at %d per arm: the relative test rejects %.3f, want in [%v, %v] (planned 0.8)", c.effect, c.base, n, rate, lo, hi)
			}
			lo, hi = 0, c.deltaHi
		}
	}
}

// rejections is the rate at which the relative test of two conversion arms
// of n units each, at rate base and base·(1 + effect), rejects at α = 5%.
func rejections(t *testing.T, n int64, base, effect float64) float64 {
	r := rand.New(rand.NewPCG(7, uint64(n)))
	draw := func(rate float64) Summary {
		var k int64
		for range n {
			if r.Float64() < rate {
				k++
			}
		}
		return ProportionSummary(n, k)
	}
	rejected := 0
	for range experiments {
		res := mustAnalyze(t, fixedSettings(0.05, TwoSided), twoArms(Proportion, draw(base), draw(base*(1+effect))))
		if c := res.Metrics[0].Comparisons[0]; c.Status == OK && c.Relative != nil && c.Relative.PValue < 0.05 {
			rejected++
		}
	}
	return float64(rejected) / experiments
}
