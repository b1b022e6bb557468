package stats

import (
	"math"
	"testing"
)

// TestRequiredSE: the standard error at which a test has its power is the
// one SampleSize's units give, at any allocation: the relative effect's
// variance at the planned sizes, (q²σ_c²/n_c + σ_t²/n_t)/μ_c² with
// q = 1 + δ (EffectVariance), equals RequiredSE², for ratios 1, 9 and 1/9,
// one- and two-sided; an effect the test cannot detect is refused.
func TestRequiredSE(t *testing.T) {
	for _, alt := range []Alternative{TwoSided, Greater} {
		for _, ratio := range []float64{1, 9, 1.0 / 9} {
			p := Plan{Alpha: 0.05, Alternative: alt, Power: 0.8, SD: 0.4, TreatmentSD: 0.45, Baseline: 0.2, Relative: true, Ratio: ratio}
			se, err := p.RequiredSE(0.1)
			if err != nil {
				t.Fatal(err)
			}
			nc, nt, err := p.SampleSize(0.1)
			if err != nil {
				t.Fatal(err)
			}
			byHand := math.Sqrt((1.1*1.1*0.4*0.4/nc + 0.45*0.45/nt) / (0.2 * 0.2))
			if got := math.Sqrt(p.EffectVariance(0.1, 0.4*0.4/nc, 0.45*0.45/nt)); math.Abs(got-se) > 1e-12*se || math.Abs(got-byHand) > 1e-12*se {
				t.Errorf("%s, ratio %v: SE at the planned sizes %v, RequiredSE %v", alt, ratio, got, se)
			}
		}
	}
	// Two-sided, by hand: 0.1/u with u = 2.80158179 (scipy's brentq on
	// Φ̄(z_.975 − u) + Φ(−z_.975 − u) = 0.8; z_.975 + z_.8 = 2.80158522
	// without the far tail); in the relative effect's units, whatever the
	// baseline.
	if se, _ := (Plan{Alpha: 0.05, Alternative: TwoSided, Power: 0.8, SD: 1, Baseline: 0.2, Relative: true}).RequiredSE(0.1); math.Abs(se-0.1/2.8015817870135793) > 1e-12 {
		t.Errorf("RequiredSE = %v, want 0.1/2.8016", se)
	}
	if se, _ := (Plan{Alpha: 0.05, Alternative: TwoSided, Power: 0.8, SD: 1}).RequiredSE(0.02); math.Abs(se-0.02/2.8015817870135793) > 1e-12 {
		t.Errorf("absolute RequiredSE = %v, want 0.02/2.8016", se)
	}
	if _, err := (Plan{Alpha: 0.05, Alternative: Less, Power: 0.8, SD: 1}).RequiredSE(0.1); err == nil {
		t.Error("a less test of an increase: no error")
	}
}
