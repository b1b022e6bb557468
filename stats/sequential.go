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
// so the sequence at level α excludes 0 exactly when p ≤ α. One-sided
// sequences use the same two-sided mixture boundary on one side only: that is
// valid (the one-sided crossing is a subset of the two-sided one) but
// conservative by about half: watched continuously, the two-sided mixture is
// crossed with probability exactly α (Ville's inequality is an equality for
// a continuous martingale tending to 0), so one side is crossed with
// probability (α + P(both))/2 ≈ α/2, and the boundary is 7–16% wider than the
// one-sided normal mixture's (Howard et al. 2021) at the same ρ
// (testdata/sim_one_sided_sequence.py simulates 1.6% at α = 0.05). The
// one-sided p-value is the same formula, 1 when the estimate points away from
// the alternative.
type sequential struct {
	alpha float64
	rho2  float64
}

func newSequential(alpha, tuning float64) sequential {
	l := 2 * math.Log(1/alpha)
	return sequential{alpha: alpha, rho2: (l + math.Log1p(l)) / tuning}
}

// multiplier is the factor that multiplies the standard error to give the
// half-width at t units.
func (q sequential) multiplier(t float64) float64 {
	tr := t * q.rho2
	return math.Sqrt(2 * (tr + 1) / tr * (0.5*math.Log1p(tr) - math.Log(q.alpha)))
}

// pValue is the always-valid p-value for an estimate with z = estimate/√V at
// t units, two-sided or in the direction of alt.
func (q sequential) pValue(z, t float64, alt Alternative) float64 {
	if (alt == Greater && z <= 0) || (alt == Less && z >= 0) {
		return 1
	}
	tr := t * q.rho2
	lp := 0.5*math.Log1p(tr) - z*z*tr/(2*(tr+1))
	if lp >= 0 {
		return 1
	}
	return math.Exp(lp)
}

// SequentialMultiplier is the half-width, in standard errors, of the
// always-valid confidence sequence at level 1 − alpha tuned for tuning units,
// after units units (both arms): the critical value that replaces z_{1−α/2}.
// It lets a planner size a sample for the sequential test.
func SequentialMultiplier(alpha, tuning, units float64) float64 {
	return newSequential(alpha, tuning).multiplier(units)
}
