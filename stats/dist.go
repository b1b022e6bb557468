package stats

import "math"

// This file holds the probability distributions the tests need: normal,
// Student's t and chi-square. They are written here rather than taken from a
// library so that the package has no dependencies; golden tests check them
// against scipy to 1e-9 relative (see testdata/gen_golden.py).

const (
	sqrt2     = math.Sqrt2
	sqrt2Pi   = 2.5066282746310002     // √(2π)
	lnSqrt2Pi = 0.91893853320467274178 // ln √(2π)
)

// normCDF is Φ(x), accurate in both tails because it goes through erfc.
func normCDF(x float64) float64 { return 0.5 * math.Erfc(-x/sqrt2) }

// normSF is 1 − Φ(x) without cancellation.
func normSF(x float64) float64 { return 0.5 * math.Erfc(x/sqrt2) }

func normPDF(x float64) float64 { return math.Exp(-0.5*x*x) / sqrt2Pi }

// normQuantile is Φ⁻¹(p) for p in (0, 1). The start comes from math.Erfinv
// (Wichura's AS 241), which loses relative accuracy in the far lower tail
// because it is fed 1−2p; Halley steps on the exact tail probability restore
// full precision.
func normQuantile(p float64) float64 {
	switch {
	case p <= 0:
		return math.Inf(-1)
	case p >= 1:
		return math.Inf(1)
	case p > 0.5:
		return -normQuantile(1 - p) // 1−p is exact for p > 0.5
	case p == 0.5:
		return 0
	}
	// p < 0.5: z < 0.
	var z float64
	if p > 1e-12 {
		z = -sqrt2 * math.Erfinv(1-2*p)
		if p >= 1e-3 {
			// 1−2p is exact to 1e-16 absolute, so z is accurate to ~1e-14
			// relative: no polishing needed.
			return z
		}
	} else {
		// Asymptotic start for the far tail.
		l := -2 * math.Log(p)
		z = -math.Sqrt(l - math.Log(l) - math.Log(2*math.Pi))
	}
	for i := 0; i < 8; i++ {
		f := normCDF(z) - p
		d := normPDF(z)
		if d == 0 {
			break
		}
		u := f / d
		step := u / (1 + 0.5*z*u) // Halley: the error is cubed at each step
		z -= step
		if math.Abs(step) <= 1e-6*math.Abs(z) {
			break
		}
	}
	return z
}

// stirlingCorr is lnΓ(z) − [(z−½)ln z − z + ln√(2π)] for z ≥ 10, to about
// 1e-16.
func stirlingCorr(z float64) float64 {
	r := 1 / z
	r2 := r * r
	return r * (1.0/12 - r2*(1.0/360-r2*(1.0/1260-r2*(1.0/1680-r2*(1.0/1188)))))
}

// lgammaDiff is lnΓ(a+b) − lnΓ(a) for a, b > 0. For large a the plain
// difference of two huge logarithms would cancel catastrophically (Student's t
// with millions of degrees of freedom), so Stirling's series is differenced
// analytically there.
func lgammaDiff(a, b float64) float64 {
	if a < 10 || a+b < 10 {
		la, _ := math.Lgamma(a)
		lab, _ := math.Lgamma(a + b)
		return lab - la
	}
	return (a-0.5)*math.Log1p(b/a) + b*math.Log(a+b) - b + stirlingCorr(a+b) - stirlingCorr(a)
}

// lbeta is ln B(a, b).
func lbeta(a, b float64) float64 {
	if a < b {
		a, b = b, a
	}
	// a ≥ b: lnB = lnΓ(b) − (lnΓ(a+b) − lnΓ(a)).
	lb, _ := math.Lgamma(b)
	return lb - lgammaDiff(a, b)
}

// incBeta is the regularized incomplete beta function I_x(a, b). The caller
// passes both x and xc = 1 − x so that neither loses digits when x is close to
// 0 or 1. It evaluates the continued fraction (Abramowitz & Stegun 26.5.8) on
// the side where it converges fast, using the modified Lentz method.
func incBeta(a, b, x, xc float64) float64 {
	switch {
	case x <= 0:
		return 0
	case xc <= 0:
		return 1
	}
	if x > (a+1)/(a+b+2) {
		return 1 - incBeta(b, a, xc, x)
	}
	var lx, lxc float64
	if x < 0.5 {
		lx, lxc = math.Log(x), math.Log1p(-x)
	} else {
		lx, lxc = math.Log1p(-xc), math.Log(xc)
	}
	front := math.Exp(a*lx + b*lxc - lbeta(a, b) - math.Log(a))
	return front * betaCF(a, b, x, xc)
}

// betaCF evaluates the continued fraction of A&S 26.5.8.
func betaCF(a, b, x, xc float64) float64 {
	const tiny = 1e-300
	const eps = 1e-16
	c := 1.0
	// 1 − (a+b)x/(a+1), written so that it does not cancel when x is close to
	// 1 and a is large.
	d := ((1 - b) + (a+b)*xc) / (a + 1)
	if math.Abs(d) < tiny {
		d = tiny
	}
	d = 1 / d
	h := d
	// step is one step of the modified Lentz method with partial numerator
	// num: it updates c and d and returns the factor by which h changes.
	step := func(num float64) float64 {
		d = 1 + num*d
		if math.Abs(d) < tiny {
			d = tiny
		}
		c = 1 + num/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		d = 1 / d
		return d * c
	}
	for m := 1; m <= 10000; m++ {
		fm := float64(m)
		h *= step(fm * (b - fm) * x / ((a + 2*fm - 1) * (a + 2*fm)))              // even step
		del := step(-(a + fm) * (a + b + fm) * x / ((a + 2*fm) * (a + 2*fm + 1))) // odd step
		h *= del
		if math.Abs(del-1) < eps {
			break
		}
	}
	return h
}

// tSF is P(T > t) for Student's t with df > 0 degrees of freedom.
func tSF(t, df float64) float64 {
	if t < 0 {
		return 1 - tSF(-t, df)
	}
	if math.IsInf(df, 1) {
		return normSF(t)
	}
	t2 := t * t
	if df >= 500 && t2 <= 1.7*df {
		return tSFLargeDF(t2, df)
	}
	// x = df/(df+t²), xc = t²/(df+t²), both without cancellation.
	x := df / (df + t2)
	xc := t2 / (df + t2)
	return 0.5 * incBeta(df/2, 0.5, x, xc)
}

// sinhCoef holds the Taylor coefficients of (2 sinh(v/2)/v)^(−1/2) in powers
// of v², as exact fractions: raise 2 sinh(v/2)/v = Σ v^(2k) / (4^k (2k+1)!)
// to the power −½ with the usual recurrence for powers of series
// (TestTSFRegimes checks the result against the continued fraction).
var sinhCoef = [...]float64{
	1,
	-1.0 / 48,
	1.0 / 2560,
	-61.0 / 7741440,
	1261.0 / 7431782400,
	-79.0 / 20761804800,
	66643.0 / 761775532277760,
	-16820653.0 / 8227175748599808000,
	3745813.0 / 77499283242221568000,
}

// tSFLargeDF is P(T > t) for large df, given t². The continued fraction is
// ill-conditioned there (x = df/(df+t²) is within 1/df of 1), so it uses the
// expansion of I_x(a, ½) in incomplete gamma functions that DiDonato and
// Morris's BGRAT is built on: with u = e^(−v),
//
//	∫₀ˣ u^(a−1) (1−u)^(−½) du = ∫_{v₀}^∞ e^(−Tv) (2 sinh(v/2))^(−½) dv,
//
// T = a − ¼, v₀ = −ln x = ln(1 + t²/df); expanding (2 sinh(v/2)/v)^(−½) =
// Σ c_k v^(2k) turns each term into an upper incomplete gamma function
// Γ(½+2k, T v₀)/T^(½+2k). Q(½, X) is erfc(√X) and the rest follow by the
// recurrence Q(s+1, X) = Q(s, X) + X^s e^(−X)/Γ(s+1), all terms positive.
func tSFLargeDF(t2, df float64) float64 {
	const b = 0.5
	a := df / 2
	T := a - 0.25
	v0 := math.Log1p(t2 / df)
	X := T * v0
	q := math.Erfc(math.Sqrt(X)) // Q(½, X)
	// term = X^s e^(−X) / Γ(s+1) for s = ½.
	term := math.Exp(b*math.Log(X)-X) / (0.5 * math.SqrtPi)
	if X == 0 {
		term = 0
	}
	s := b
	poch := 1.0 // (b)_{2k} / T^{2k}
	sum := q
	for k := 1; k < len(sinhCoef); k++ {
		// Advance Q and the Pochhammer factor by two steps of s.
		for j := 0; j < 2; j++ {
			q += term
			poch *= s / T
			s++
			term *= X / s // X^s e^(−X)/Γ(s+1) from its value at s−1
		}
		add := sinhCoef[k] * poch * q
		sum += add
		if math.Abs(add) < 1e-17*sum {
			break
		}
	}
	return 0.5 * math.Exp(lgammaDiff(a, b)-b*math.Log(T)) * sum
}

// tCDF is P(T ≤ t).
func tCDF(t, df float64) float64 { return tSF(-t, df) }

// tPDF is the density of Student's t.
func tPDF(t, df float64) float64 {
	// Γ((df+1)/2) / (Γ(df/2) √(dfπ)) (1 + t²/df)^(−(df+1)/2)
	l := lgammaDiff(df/2, 0.5) - 0.5*math.Log(df*math.Pi) - (df+1)/2*math.Log1p(t*t/df)
	return math.Exp(l)
}

// tQuantileSeriesDF is the df from which the Cornish–Fisher expansion in
// tQuantile needs no polishing (its first omitted term is below 1e-16
// relative for p ≥ 1e-12; see TestTQuantileSeries).
const tQuantileSeriesDF = 1e5

// tQuantile is the p-quantile of Student's t with df ≥ 1 degrees of freedom,
// for p in (0, 1). It starts from the Cornish–Fisher expansion around the
// normal quantile and polishes with Newton steps on tCDF.
func tQuantile(p, df float64) float64 {
	switch {
	case p <= 0:
		return math.Inf(-1)
	case p >= 1:
		return math.Inf(1)
	case p == 0.5:
		return 0
	case p > 0.5:
		return -tQuantile(1-p, df)
	case df == 1:
		return -1 / math.Tan(math.Pi*p) // Cauchy, exact
	case df == 2:
		return (2*p - 1) / math.Sqrt(2*p*(1-p))
	}
	z := normQuantile(p)
	z2 := z * z
	t := z + z*(z2+1)/(4*df) +
		z*((5*z2+16)*z2+3)/(96*df*df) +
		z*(((3*z2+19)*z2+17)*z2-15)/(384*df*df*df)
	if df >= tQuantileSeriesDF {
		return t // the expansion alone is exact to rounding here
	}
	for i := 0; i < 30; i++ {
		u := (tCDF(t, df) - p) / tPDF(t, df)
		// Halley's step; (ln pdf)' = −(df+1)t/(df+t²).
		step := u / (1 + 0.5*u*(df+1)*t/(df+t*t))
		if math.IsNaN(step) || math.IsInf(step, 0) {
			break
		}
		nt := t - step
		if nt > 0 { // the root is negative; never cross to the wrong side
			nt = t / 2
		}
		t = nt
		// Halley cubes the relative error: after a step of 1e-6 what is left
		// is at the level of rounding.
		if math.Abs(step) <= 1e-6*math.Abs(t) {
			break
		}
	}
	return t
}

// gammaQ is the regularized upper incomplete gamma function Q(a, x).
func gammaQ(a, x float64) float64 {
	switch {
	case x <= 0:
		return 1
	case math.IsInf(x, 1):
		return 0
	}
	la, _ := math.Lgamma(a)
	front := math.Exp(-x + a*math.Log(x) - la)
	if x < a+1 {
		// Series for P(a, x).
		sum := 1 / a
		term := sum
		for n := 1; n < 10000; n++ {
			term *= x / (a + float64(n))
			sum += term
			if math.Abs(term) < math.Abs(sum)*1e-17 {
				break
			}
		}
		return 1 - front*sum
	}
	// Continued fraction for Q(a, x) (modified Lentz).
	const tiny = 1e-300
	b := x + 1 - a
	c := 1 / tiny
	d := 1 / b
	h := d
	for i := 1; i < 10000; i++ {
		fi := float64(i)
		an := -fi * (fi - a)
		b += 2
		d = an*d + b
		if math.Abs(d) < tiny {
			d = tiny
		}
		c = b + an/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		d = 1 / d
		del := d * c
		h *= del
		if math.Abs(del-1) < 1e-16 {
			break
		}
	}
	return front * h
}

// chi2SF is P(X > x) for a chi-square variable with k degrees of freedom.
func chi2SF(x float64, k float64) float64 {
	switch {
	case x <= 0:
		return 1
	case k == 1: // two variants: Q(½, x/2) = erfc(√(x/2))
		return math.Erfc(math.Sqrt(x / 2))
	case k == 2:
		return math.Exp(-x / 2)
	}
	return gammaQ(k/2, x/2)
}
