package stats

import "math"

// bayesView is the Gaussian Bayesian reading of a difference: with a flat
// prior and a normal likelihood, the posterior of Δ = treatment − control
// is Normal(diff, se²).
type bayesView struct {
	chance        float64 // P(treatment better)
	lossTreatment float64 // E[max(0, −Δ')], Δ' oriented so that positive is better
	lossControl   float64 // E[max(0, Δ')]
}

// bayes orients the difference (a lower-is-better metric gains when the
// difference is negative) and evaluates the posterior quantities in closed
// form: for Δ' ~ N(d, s²), E[max(0, −Δ')] = s·φ(d/s) − d·Φ(−d/s) and
// E[max(0, Δ')] = s·φ(d/s) + d·Φ(d/s).
func bayes(diff, se float64, lowerIsBetter bool) bayesView {
	d := diff
	if lowerIsBetter {
		d = -d
	}
	z := d / se
	pdf := se * normPDF(z)
	return bayesView{
		chance:        normCDF(z),
		lossTreatment: math.Max(0, pdf-d*normCDF(-z)),
		lossControl:   math.Max(0, pdf+d*normCDF(z)),
	}
}
