package stats

import (
	"fmt"
	"math"
)

// MethodNewcombe is Effect.Method for the absolute difference of two
// conversion rates when one arm converted none of its units and the other
// all of them (see newcombe).
const MethodNewcombe = "newcombe"

// newcombe fills c for a conversion metric where one arm converted none of
// its units and the other every one: the Wald standard error is 0 in both
// arms, so the normal approximation has no interval, though the counts are
// strong evidence when there are enough of them. The absolute difference
// gets Newcombe's hybrid score interval (Newcombe 1998, method 10; statsmodels
// confint_proportions_2indep(method="newcomb")), built from each arm's
// Wilson interval. It is used only here, where the Wald interval does not
// exist: wherever an arm varies the Wald test stays, so no result the
// analysis gave before changes. At these rates the Wilson bound of the arm
// at 0 is z²/(n + z²) above it (and the arm at 1 as far below 1), so the
// interval is d ± reach(z) clipped to [−1, 1], d = ±1, with
//
//	reach(z) = √((z²/(n_t + z²))² + (z²/(n_c + z²))²),
//
// and its p-value is that of the z at which the interval reaches 0,
// reach(z) = 1, so that p < α exactly when the interval at α excludes 0 (as
// for every other test here). Newcombe's interval has no always-valid form;
// the sequential interval and p-value are the confidence sequence's on
// each arm's variance at the pooled rate (sequentialArms), the score
// test's standard error √(p̄(1 − p̄)(1/n_c + 1/n_t)), p̄ = n_t/(n_c + n_t) or
// n_c/(n_c + n_t), which is not 0. Without it the sequence was the whole
// range and its p-value 1, so a rollout whose every candidate user erred
// against none of the baseline's was never breached. No relative effect:
// against a control at 0 the ratio is unbounded, and against a treatment at
// 0 the score interval of the ratio (statsmodels method "score") collapses
// to a point rather than an interval. The Bayesian view is each arm's
// Beta(1, 1) posterior, its difference read as a normal with the same mean
// and variance (the flat prior's likelihood N(d, SE²) has SE 0 here).
func (a *analyzer) newcombe(c *Comparison, lowerIsBetter bool, k, t armStats) {
	alt := a.s.Alternative
	d := t.estimate - k.estimate
	units := [2]int64{int64(k.n), int64(t.n)}
	stat := math.Copysign(newcombeZ(units[0], units[1]), d)
	ks, ts := sequentialArms(Proportion, k, t)
	seqSE := math.Sqrt(ks.v + ts.v)
	e := Effect{
		Estimate:         d,
		Interval:         newcombeInterval(d, newcombeReach(a.zCrit, units[0], units[1]), alt),
		Sequential:       newcombeInterval(d, a.seq.multiplier(k.n+t.n)*seqSE, alt),
		Statistic:        stat,
		PValue:           zPValue(stat, alt),
		SequentialPValue: a.seq.pValue(d/seqSE, k.n+t.n, alt),
		Method:           MethodNewcombe,
		SequentialSE:     seqSE,
		Units:            &units,
	}
	e.AdjustedPValue, e.AdjustedSequentialPValue = e.PValue, e.SequentialPValue
	which := "every unit converted in the treatment and none in control"
	why := "against a control rate of 0 a relative change is unbounded"
	if d < 0 {
		which = "every unit converted in control and none in the treatment"
		why = "the relative change is −100%, with no interval of its own"
	}
	e.Note = fmt.Sprintf("%s: the normal approximation has no interval, so this is Newcombe's hybrid score interval; the sequential interval is the score test's (each arm's variance at the pooled rate), and %s", which, why)
	c.Status = OK
	c.tt = test{crit: a.zCrit, units: k.n + t.n}
	c.Absolute = e
	c.Statistic, c.PValue, c.SequentialPValue = stat, e.PValue, e.SequentialPValue
	c.AdjustedPValue, c.AdjustedSequentialPValue = c.PValue, c.SequentialPValue
	mk, vk := betaPosterior(k.n, k.estimate)
	mt, vt := betaPosterior(t.n, t.estimate)
	a.bayesian(c, mt-mk, math.Sqrt(vk+vt), k.estimate, lowerIsBetter)
	// The normal read of the posterior reaches past what a difference of
	// rates can be.
	c.Credible.Lower, c.Credible.Upper = max(-1, c.Credible.Lower), min(1, c.Credible.Upper)
}

// betaPosterior is the mean and variance of the Beta(1 + x, 1 + n − x)
// posterior of a rate p = x/n under the uniform prior.
func betaPosterior(n, p float64) (mean, variance float64) {
	mean = (n*p + 1) / (n + 2)
	return mean, mean * (1 - mean) / (n + 3)
}

// newcombeReach is how far Newcombe's interval at critical value z reaches
// from a difference of ±1 (see newcombe), for nc control and nt treatment
// units.
func newcombeReach(z float64, nc, nt int64) float64 {
	w := z * z
	return math.Hypot(w/(float64(nt)+w), w/(float64(nc)+w))
}

// newcombeZ is the z at which newcombeReach is 1: the interval then just
// reaches 0. The reach grows with z² =: w towards √2, and at w =
// max(n)(1 + √2) each term is at least 1/√2, so the root lies below; bisection
// on w to the last bit.
func newcombeZ(nc, nt int64) float64 {
	lo, hi := 0.0, float64(max(nc, nt))*(1+math.Sqrt2)
	for range 200 {
		mid := (lo + hi) / 2
		if mid <= lo || mid >= hi {
			break
		}
		if newcombeReach(math.Sqrt(mid), nc, nt) < 1 {
			lo = mid
		} else {
			hi = mid
		}
	}
	return math.Sqrt((lo + hi) / 2)
}

// newcombeInterval is d ± reach within [−1, 1], shaped by the alternative.
func newcombeInterval(d, reach float64, alt Alternative) Interval {
	lo, hi := max(-1, d-reach), min(1, d+reach)
	switch alt {
	case Greater:
		return Interval{Lower: lo, UpperUnbounded: true}
	case Less:
		return Interval{Upper: hi, LowerUnbounded: true}
	}
	return Interval{Lower: lo, Upper: hi}
}
