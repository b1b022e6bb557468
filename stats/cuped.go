package stats

// CUPED (Deng, Xu, Kohavi and Walker, "Improving the sensitivity of online
// controlled experiments by utilizing pre-experiment data", WSDM 2013)
// replaces each arm's estimate Ȳ by Ȳ − θ(C̄ − C̄pool), where C is the unit's
// pre-exposure value and C̄pool its mean over all arms. Because C cannot be
// affected by the treatment, the adjustment keeps the difference unbiased
// and, with θ = Cov(Y, C)/Var(C), shrinks its variance by the factor 1 − ρ²,
// ρ being the correlation of Y and C.
//
// θ is pooled over the arms of the metric from within-arm co-moments, so a
// treatment effect on Y cannot leak into it; it is then exactly the slope of
// the regression of Y on C with one intercept per arm (the golden tests check
// this against numpy's least squares). For a ratio metric Y is the
// delta-method linearisation L = (x − r·y)/ȳ of the arm's ratio r = x̄/ȳ, so
// Cov(L, C) = (Cov(x, C) − r·Cov(y, C))/ȳ.
//
// The variance of each adjusted estimate is that of Y − θC, treating θ as
// known; the error from estimating θ is of order 1/n. Mean metrics then take
// Welch–Satterthwaite degrees of freedom from the adjusted variances. When
// the covariate does not vary (no unit has history) θ is 0 and CUPED changes
// nothing.

// With Settings.CUPEDTheta "pooled", θ is instead Cov(Y, C)/Var(C) over all
// units with the arms ignored: the co-moments about the grand means, which
// add n_i(Ȳ_i − Ȳ)(C̄_i − C̄) and n_i(C̄_i − C̄)² per arm to the within-arm
// ones.

// cupedTheta returns θ and the pooled covariate mean C̄pool.
func cupedTheta(kind Kind, arms []Summary, pooled bool) (theta, preMean float64) {
	var n, num, den float64
	if pooled {
		var ymean float64
		for _, s := range arms {
			if s.N > 0 {
				n += float64(s.N)
				preMean += (s.PreMean - preMean) * float64(s.N) / n
				ymean += (armY(kind, s) - ymean) * float64(s.N) / n
			}
		}
		for _, s := range arms {
			if s.N == 0 || kind == Ratio && s.DenMean == 0 {
				continue
			}
			w := float64(s.N)
			num += armXPre(kind, s) + w*(armY(kind, s)-ymean)*(s.PreMean-preMean)
			den += s.PreM2 + w*(s.PreMean-preMean)*(s.PreMean-preMean)
		}
		if den > 0 {
			theta = num / den
		}
		if !finite(theta) {
			theta = 0
		}
		return theta, preMean
	}
	for _, s := range arms {
		if s.N == 0 {
			continue
		}
		w := float64(s.N)
		n += w
		preMean += (s.PreMean - preMean) * w / n // running mean: cannot overflow
		switch kind {
		case Ratio:
			if s.DenMean == 0 {
				continue
			}
			r := s.Mean / s.DenMean
			num += (s.XPre - r*s.DenPre) / s.DenMean
		default:
			num += s.XPre
		}
		den += s.PreM2
	}
	if den > 0 {
		theta = num / den
	}
	if !finite(theta) {
		theta = 0 // statistics at the edge of floating point: no adjustment
	}
	return theta, preMean
}

// armY is the arm's estimate of Y: its mean, or its ratio for a ratio
// metric (whose linearisation L has mean 0 about it).
func armY(kind Kind, s Summary) float64 {
	if kind == Ratio {
		if s.DenMean == 0 {
			return 0
		}
		return s.Mean / s.DenMean
	}
	return s.Mean
}

// armXPre is the within-arm co-moment of Y (for a ratio metric, of its
// linearisation) and C.
func armXPre(kind Kind, s Summary) float64 {
	if kind == Ratio {
		r := s.Mean / s.DenMean
		return (s.XPre - r*s.DenPre) / s.DenMean
	}
	return s.XPre
}
