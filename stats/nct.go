package stats

import (
	"math"
	"sync"
)

// nctSF is P(T > c) for the noncentral t distribution with df degrees of
// freedom and noncentrality delta: T = (Z + δ)/S with S = √(V/df),
// V ~ χ²(df), so
//
//	P(T > c) = ∫₀^∞ g(s) · Φ̄(c·s − δ) ds,
//	g(s) = 2 (df/2)^(df/2) / Γ(df/2) · s^(df−1) · e^(−df·s²/2),
//
// integrated by Gauss–Legendre quadrature over the range where g is not negligible
// (the chi scale S has mode near 1 and spread 1/√(2 df)). It is what power
// of a t-test needs (scipy.stats.nct.sf, which the golden tests compare
// with); agrees with it to about 1e-14.
func nctSF(c, df, delta float64) float64 {
	return nctIntegral(df, func(s float64) float64 { return normSF(c*s - delta) })
}

// nctCDF is P(T < c).
func nctCDF(c, df, delta float64) float64 {
	return nctIntegral(df, func(s float64) float64 { return normCDF(c*s - delta) })
}

func nctIntegral(df float64, f func(s float64) float64) float64 {
	h := df / 2
	lnorm := math.Ln2 + h*math.Log(h)
	lg, _ := math.Lgamma(h)
	lnorm -= lg
	g := func(s float64) float64 {
		if s <= 0 {
			return 0
		}
		return math.Exp(lnorm+(df-1)*math.Log(s)-h*s*s) * f(s)
	}
	w := 12 / math.Sqrt(df)
	lo, hi := math.Max(0, 1-w), 1+w
	if df < 4 {
		hi = math.Max(hi, 12/math.Sqrt(df)) // a long right tail
	}
	// Split at the mode so that the peak is sampled.
	mode := math.Sqrt(math.Max(df-1, 0) / df)
	if mode <= lo || mode >= hi {
		mode = (lo + hi) / 2
	}
	// Divided by the same quadrature of g alone: for large df the
	// normalising constant is a difference of large logarithms, and this
	// cancels its rounding.
	dens := func(s float64) float64 {
		if s <= 0 {
			return 0
		}
		return math.Exp(lnorm + (df-1)*math.Log(s) - h*s*s)
	}
	return (gaussLegendre(g, lo, mode, 12) + gaussLegendre(g, mode, hi, 12)) /
		(gaussLegendre(dens, lo, mode, 12) + gaussLegendre(dens, mode, hi, 12))
}

// gaussLegendre integrates f over [a, b] with the 20-point Gauss–Legendre
// rule on each of pieces equal parts: exact for polynomials of degree 39
// on each part, so a smooth integrand converges far faster than with
// Simpson's rule.
func gaussLegendre(f func(float64) float64, a, b float64, pieces int) float64 {
	nodes, weights := glRule()
	h := (b - a) / float64(pieces)
	var sum float64
	for k := range pieces {
		mid, half := a+(float64(k)+0.5)*h, h/2
		for i, x := range nodes {
			sum += weights[i] * half * f(mid+half*x)
		}
	}
	return sum
}

// glRule returns the nodes and weights of the 20-point Gauss–Legendre rule
// on [−1, 1], computed once by Newton's method on the Legendre polynomial.
var glRule = sync.OnceValues(func() ([]float64, []float64) {
	const n = 20
	x, w := make([]float64, n), make([]float64, n)
	for i := range n {
		z := math.Cos(math.Pi * (float64(i) + 0.75) / (n + 0.5))
		var dp float64
		for range 100 {
			p0, p1 := 1.0, 0.0
			for j := 1; j <= n; j++ {
				p0, p1 = ((2*float64(j)-1)*z*p0-(float64(j)-1)*p1)/float64(j), p0
			}
			dp = n * (z*p0 - p1) / (z*z - 1)
			dz := p0 / dp
			z -= dz
			if math.Abs(dz) < 1e-16 {
				break
			}
		}
		x[i], w[i] = z, 2/((1-z*z)*dp*dp)
	}
	return x, w
})
