package stats

import "math"

// Sequential intervals and p-values are the asymptotic confidence sequences
// of Waudby-Smith, Arbour, Sinha, Kennedy and Ramdas, "Time-uniform central
// limit theory and asymptotic confidence sequences" (2021, arXiv:2103.06476),
// Theorem 2.2: with t units observed, an estimate whose variance is V (so
// that σ̂² = t·V is the per-unit variance), and the normal-mixture tuning
// parameter ρ > 0,
//
//	estimate ± √V · √( 2(tρ²+1)/(tρ²) · ln(√(tρ²+1)/α) )
//
// covers the true difference at every t simultaneously with probability at
// least 1 − α in the limit, however often and whenever the results are looked
// at. For two arms t is the number of units in both (the estimator is a mean
// of one influence value per unit, as in the paper's treatment of randomized
// experiments).
//
// ρ is set from Settings.SequentialTuning = t* by the paper's approximation of
// the ρ that minimises the width at t = t*:
//
//	ρ² = (2 ln(1/α) + ln(1 + 2 ln(1/α))) / t*.
//
// The matching always-valid p-value is the smallest α' whose sequence (with
// the same ρ) excludes zero:
//
//	p = min(1, √(tρ²+1) · exp(−(estimate²/V) · tρ² / (2(tρ²+1)))),
//
// so the sequence at level α excludes 0 exactly when p ≤ α.
//
// One-sided sequences (alternative greater or less) use the one-sided normal
// mixture of Howard, Ramdas, McAuliffe and Sekhon, "Time-uniform,
// nonparametric, nonasymptotic confidence sequences" (2021, Ann. Statist.),
// the mixture over a half-normal: with x = z·√(tρ²/(tρ²+1)) its martingale
// is 2/√(tρ²+1)·exp(x²/2)·Φ(x), so the one-sided bound is the z at which that
// reaches 1/α, and the one-sided p-value its inverse (capped at 1; 1 when the
// estimate points away from the alternative). The same ρ as the two-sided
// sequence's. Reusing the two-sided boundary on one side, as before, erred
// about α/2 and was 7–16% wider (testdata/sim_one_sided_sequence.py).
type sequential struct {
	alpha    float64
	rho2     float64
	oneSided bool
}

func newSequential(alpha, tuning float64, alt Alternative) sequential {
	l := 2 * math.Log(1/alpha)
	return sequential{alpha: alpha, rho2: (l + math.Log1p(l)) / tuning, oneSided: alt != TwoSided}
}

// multiplier is the factor that multiplies the standard error to give the
// half-width at t units.
func (q sequential) multiplier(t float64) float64 {
	tr := t * q.rho2
	if !q.oneSided {
		return math.Sqrt(2 * (tr + 1) / tr * (0.5*math.Log1p(tr) - math.Log(q.alpha)))
	}
	// x²/2 + ln Φ(x) = ln(√(tρ²+1)/(2α)) =: c, increasing in x. As
	// ln(1/2) ≤ ln Φ(x) ≤ 0 for x ≥ 0, the root lies in [√(2c), √(2(c+ln 2))]
	// (c > 0 for α < 1/2); bisection to the last bit.
	c := 0.5*math.Log1p(tr) - math.Log(2*q.alpha)
	lo, hi := math.Sqrt(2*max(c, 0)), math.Sqrt(2*(max(c, 0)+math.Ln2))
	for range 100 {
		mid := (lo + hi) / 2
		if mid <= lo || mid >= hi {
			break
		}
		if mid*mid/2+logNormCDF(mid) < c {
			lo = mid
		} else {
			hi = mid
		}
	}
	return (lo + hi) / 2 * math.Sqrt((tr+1)/tr)
}

// logNormCDF is ln Φ(x) for x ≥ 0.
func logNormCDF(x float64) float64 {
	return math.Log1p(-0.5 * math.Erfc(x/math.Sqrt2))
}

// pValue is the always-valid p-value for an estimate with z = estimate/√V at
// t units, two-sided or in the direction of alt.
func (q sequential) pValue(z, t float64, alt Alternative) float64 {
	if (alt == Greater && z <= 0) || (alt == Less && z >= 0) {
		return 1
	}
	tr := t * q.rho2
	lp := 0.5*math.Log1p(tr) - z*z*tr/(2*(tr+1))
	if q.oneSided { // the half-normal mixture: divided by 2Φ(x)
		x := math.Abs(z) * math.Sqrt(tr/(tr+1))
		lp -= math.Ln2 + logNormCDF(x)
	}
	if lp >= 0 {
		return 1
	}
	return math.Exp(lp)
}

// SequentialMultiplier is the half-width, in standard errors, of the
// two-sided always-valid confidence sequence at level 1 − alpha tuned for
// tuning units, after units units (both arms): the critical value that
// replaces z_{1−α/2}. It lets a planner size a sample for the sequential
// test.
func SequentialMultiplier(alpha, tuning, units float64) float64 {
	return newSequential(alpha, tuning, TwoSided).multiplier(units)
}
