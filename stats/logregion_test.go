package stats

import (
	"math"
	"testing"
)

// TestRelativeIncreaseLogRegionFirst: for an increase of a non-negative
// metric the analysis tests the log ratio, the stronger test there, while
// the delta method's interval at the alternative reaches below −100%: at
// small samples, or small effects. The power of the test the analysis runs
// then falls where it switches to the delta method, and SampleSize and MDE
// give the first sample and effect that reach the power. They looked at
// the log ratio only where the analysis runs it at the delta method's
// answer: +125% of a 2% rate was planned at 1,786 users per arm where 840
// have 80% power, and at 436 users per arm of a 5% rate the MDE was +200%
// where +104% has it.
func TestRelativeIncreaseLogRegionFirst(t *testing.T) {
	for _, tc := range []struct {
		base, effect float64 // SampleSize(effect)
		control      float64 // MDE(control) when effect is 0
	}{
		{base: 0.02, effect: 1.25},
		{base: 0.02, effect: 1.7},
		{base: 0.1, effect: 0.9},
		{base: 0.05, control: 435.6},
		{base: 0.1, control: 270.7},
		{base: 0.02, effect: -0.5}, // a decrease, unchanged
		{base: 0.1, control: 200},
	} {
		p := Plan{Alpha: 0.05, Power: 0.8, Alternative: TwoSided, Relative: true, Baseline: tc.base, Proportion: true}
		if tc.effect != 0 {
			nc, _, err := p.SampleSize(tc.effect)
			if err != nil {
				t.Fatal(err)
			}
			if pw, _ := p.PowerAt(tc.effect, nc*1.0001); pw < p.Power {
				t.Errorf("%v of %v: power %.4f at the planned %.1f per arm", tc.effect, tc.base, pw, nc)
			}
			for n := 2.0; n < 0.999*nc; n *= 1.005 {
				if pw, _ := p.PowerAt(tc.effect, n); pw >= p.Power {
					t.Errorf("%v of %v: planned %.1f per arm, but %.1f have power %.4f", tc.effect, tc.base, nc, n, pw)
					break
				}
			}
			continue
		}
		mde, err := p.MDE(tc.control)
		if err != nil {
			t.Fatal(err)
		}
		if pw, _ := p.PowerAt(mde*1.0001, tc.control); pw < p.Power {
			t.Errorf("%v per arm of %v: power %.4f at the MDE %.4f", tc.control, tc.base, pw, mde)
		}
		for x := 0.001; x < 0.999*math.Abs(mde); x *= 1.005 {
			if pw, _ := p.PowerAt(x, tc.control); pw >= p.Power {
				t.Errorf("%v per arm of %v: MDE %.4f, but %.4f has power %.4f", tc.control, tc.base, mde, x, pw)
				break
			}
		}
	}
}

// TestRelativeMDELogGridFromTheBaseline: the log ratio's MDE grid started
// at a millionth of the largest effect, 1 − p of a proportion, which for a
// rate of 10⁻⁶ is +100% already: at 10⁹ users in control and 1:99 (ten
// conversions expected in treatment), the MDE at 51% power came out as
// +100% (power 0.60) where +95% has 0.84. Now the grid starts at a
// millionth of the smaller of the largest effect and |μc|.
func TestRelativeMDELogGridFromTheBaseline(t *testing.T) {
	for _, tc := range []struct {
		p       Plan
		control float64
	}{
		{Plan{Alpha: 0.05, Power: 0.51, Alternative: TwoSided, Proportion: true, Baseline: 1e-6, Ratio: 1.0 / 99}, 1e9},
		{Plan{Alpha: 0.05, Power: 0.8, Alternative: Greater, Proportion: true, Baseline: 1e-6, Ratio: 1.0 / 99}, 1e9},
		{Plan{Alpha: 0.5, Power: 0.51, Alternative: Greater, Proportion: true, Baseline: 1e-6}, 1e5},
	} {
		p := tc.p
		p.Relative, p.NonNegative = true, true
		mde, err := p.MDE(tc.control)
		if err != nil {
			t.Fatal(err)
		}
		if pw, _ := p.PowerAt(mde, tc.control); math.Abs(pw-p.Power) > 1e-6 {
			t.Errorf("%+v: power %.4f at the MDE %.6f", p, pw, mde)
		}
		for x := 1e-3; x < 0.999*mde; x *= 1.005 {
			if pw, _ := p.PowerAt(x, tc.control); pw >= p.Power {
				t.Errorf("%+v: MDE %.6f, but %.4f has power %.4f", p, mde, x, pw)
				break
			}
		}
	}
}
