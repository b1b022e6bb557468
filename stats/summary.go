package stats

import (
	"math"

	"github.com/valueloop/valueloop"
)

// Summary holds the sufficient statistics of one metric in one variant, in
// centred form so that large means do not cost precision. Every unit (a user,
// a targeting key) exposed to the variant contributes one observation of
// three per-unit values:
//
//   - x, the metric's value for the unit (for a ratio metric, its numerator;
//     for a proportion, 0 or 1);
//   - y, the denominator of a ratio metric (zero for other kinds);
//   - c, the CUPED covariate: the unit's value of the metric (for a ratio
//     metric, of its numerator) in a period before exposure; zero when unknown,
//     and for units without history.
//
// The zero Summary is the empty one. Build a Summary with Add (one unit at a
// time, Welford's update) and combine partial ones with Merge (Chan et al.'s
// parallel update): both are numerically stable, so an ingestion pipeline can
// keep one Summary per (flag, variant, metric) and fold batches into it. Sums
// converts raw power sums when nothing better is available.
type Summary struct {
	// N is the number of units.
	N int64 `json:"n"`
	// Mean is the mean of x over the units.
	Mean float64 `json:"mean"`
	// M2 is Σ (x − Mean)², the sum of squared deviations of x.
	M2 float64 `json:"m2"`

	// DenMean is the mean of the ratio denominator y.
	DenMean float64 `json:"denMean,omitempty"`
	// DenM2 is Σ (y − DenMean)².
	DenM2 float64 `json:"denM2,omitempty"`
	// XDen is the co-moment Σ (x − Mean)(y − DenMean).
	XDen float64 `json:"xDen,omitempty"`

	// PreMean is the mean of the pre-exposure covariate c.
	PreMean float64 `json:"preMean,omitempty"`
	// PreM2 is Σ (c − PreMean)².
	PreM2 float64 `json:"preM2,omitempty"`
	// XPre is the co-moment Σ (x − Mean)(c − PreMean).
	XPre float64 `json:"xPre,omitempty"`
	// DenPre is the co-moment Σ (y − DenMean)(c − PreMean).
	DenPre float64 `json:"denPre,omitempty"`
}

// Add folds one unit with metric value x, ratio denominator y and
// pre-exposure covariate c into s (Welford's update). Pass 0 for y or c when
// the metric has no denominator or no covariate.
func (s *Summary) Add(x, y, c float64) {
	s.N++
	n := float64(s.N)
	dx := x - s.Mean
	dy := y - s.DenMean
	dc := c - s.PreMean
	s.Mean += dx / n
	s.DenMean += dy / n
	s.PreMean += dc / n
	// Deviations from the new means times deviations from the old ones.
	ex := x - s.Mean
	ey := y - s.DenMean
	ec := c - s.PreMean
	s.M2 += dx * ex
	s.DenM2 += dy * ey
	s.PreM2 += dc * ec
	s.XDen += dx * ey
	s.XPre += dx * ec
	s.DenPre += dy * ec
}

// Merge returns the Summary of the union of the units summarised by a and b
// (Chan, Golub and LeVeque's pairwise update). It is exact in real arithmetic
// and stable in floating point, so per-batch or per-node summaries can be
// combined in any order.
func Merge(a, b Summary) Summary {
	switch {
	case a.N == 0:
		return b
	case b.N == 0:
		return a
	}
	na, nb := float64(a.N), float64(b.N)
	n := na + nb
	f := na * nb / n
	dx := b.Mean - a.Mean
	dy := b.DenMean - a.DenMean
	dc := b.PreMean - a.PreMean
	return Summary{
		N:       a.N + b.N,
		Mean:    a.Mean + dx*nb/n,
		M2:      a.M2 + b.M2 + dx*dx*f,
		DenMean: a.DenMean + dy*nb/n,
		DenM2:   a.DenM2 + b.DenM2 + dy*dy*f,
		XDen:    a.XDen + b.XDen + dx*dy*f,
		PreMean: a.PreMean + dc*nb/n,
		PreM2:   a.PreM2 + b.PreM2 + dc*dc*f,
		XPre:    a.XPre + b.XPre + dx*dc*f,
		DenPre:  a.DenPre + b.DenPre + dy*dc*f,
	}
}

// ProportionSummary returns the Summary of a conversion metric where
// successes of n units converted (x is 1 for them and 0 for the others).
func ProportionSummary(n, successes int64) Summary {
	if n <= 0 {
		return Summary{N: n, Mean: float64(successes)}
	}
	p := float64(successes) / float64(n)
	return Summary{N: n, Mean: p, M2: float64(successes) * float64(n-successes) / float64(n)}
}

// QuantileSummary returns the Summary of a quantile metric over n units:
// Mean is the sample quantile and M2 = n(n − 1)·se², so that the variance of
// the estimate the analysis reads, M2/(n − 1)/n, is se². The other moments
// are 0: a quantile has no CUPED covariate.
func QuantileSummary(n int64, estimate, se float64) Summary {
	if n <= 0 {
		return Summary{N: n}
	}
	return Summary{N: n, Mean: estimate, M2: float64(n) * float64(n-1) * se * se}
}

// Sums holds raw power sums of the per-unit values described at Summary, as a
// database can compute them with SUM(x), SUM(x*x), .... Prefer Summary.Add and
// Merge: Sum of squares minus squared sum loses about log10(mean²/variance)
// significant digits, so raw sums are only safe when the means are small
// compared with the standard deviations (conversions, counts per user).
type Sums struct {
	N         int64
	Sum       float64 // Σ x
	SumSq     float64 // Σ x²
	DenSum    float64 // Σ y
	DenSumSq  float64 // Σ y²
	SumXDen   float64 // Σ x·y
	PreSum    float64 // Σ c
	PreSumSq  float64 // Σ c²
	SumXPre   float64 // Σ x·c
	SumDenPre float64 // Σ y·c
}

// Summary converts power sums to centred moments. Tiny negative second
// moments that are pure rounding are clamped to zero; larger ones are kept so
// that validation reports the inconsistent input.
func (s Sums) Summary() Summary {
	if s.N <= 0 {
		return Summary{N: s.N, Mean: s.Sum, M2: s.SumSq, DenMean: s.DenSum, DenM2: s.DenSumSq,
			XDen: s.SumXDen, PreMean: s.PreSum, PreM2: s.PreSumSq, XPre: s.SumXPre, DenPre: s.SumDenPre}
	}
	n := float64(s.N)
	mx, my, mc := s.Sum/n, s.DenSum/n, s.PreSum/n
	return Summary{
		N:       s.N,
		Mean:    mx,
		M2:      centred(s.SumSq, s.Sum*mx, true),
		DenMean: my,
		DenM2:   centred(s.DenSumSq, s.DenSum*my, true),
		XDen:    centred(s.SumXDen, s.Sum*my, false),
		PreMean: mc,
		PreM2:   centred(s.PreSumSq, s.PreSum*mc, true),
		XPre:    centred(s.SumXPre, s.Sum*mc, false),
		DenPre:  centred(s.SumDenPre, s.DenSum*mc, false),
	}
}

// centred returns raw − correction, clamping a square's rounding noise at 0.
func centred(raw, correction float64, square bool) float64 {
	d := raw - correction
	if square && d < 0 && -d <= 64*epsilon*math.Abs(raw) {
		return 0
	}
	return d
}

const epsilon = 0x1p-52

// summaryFields are the JSON names of Summary's moments, indexed by the f*
// constants, for error messages.
var summaryFields = [...]string{"mean", "m2", "denMean", "denM2", "xDen", "preMean", "preM2", "xPre", "denPre"}

const (
	fMean = iota
	fM2
	fDenMean
	fDenM2
	fXDen
	fPreMean
	fPreM2
	fXPre
	fDenPre
)

// Validate reports whether s is a consistent Summary for a metric of the
// given kind: counts are not negative, every moment is finite, no variance is
// negative, every co-moment obeys the Cauchy–Schwarz bound, an empty Summary
// has no moments, and a proportion's mean lies in [0, 1]. The error is an
// EINVALID *valueloop.Error naming the field. Too few units is not invalid:
// the analysis reports "not enough data" for it.
func (s Summary) Validate(kind Kind) error {
	if err := s.check(kind); err != nil {
		err.Field = "summary." + err.Field
		return err
	}
	return nil
}

// check validates s; the error's Field is relative to the Summary ("m2"), for
// the caller to prefix, so that valid input costs no string formatting.
func (s Summary) check(kind Kind) *valueloop.Error {
	if s.N < 0 {
		return valueloop.FieldErrorf("n", "must not be negative, got %d", s.N)
	}
	v := [...]float64{s.Mean, s.M2, s.DenMean, s.DenM2, s.XDen, s.PreMean, s.PreM2, s.XPre, s.DenPre}
	for i, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return valueloop.FieldErrorf(summaryFields[i], "must be a finite number, got %v", x)
		}
		if s.N == 0 && x != 0 {
			return valueloop.FieldErrorf(summaryFields[i], "inconsistent statistics: n is 0 but %s is %v", summaryFields[i], x)
		}
	}
	for _, i := range [...]int{fM2, fDenM2, fPreM2} {
		if v[i] < 0 {
			return valueloop.FieldErrorf(summaryFields[i], "inconsistent statistics: negative variance implied (%s = %v)", summaryFields[i], v[i])
		}
	}
	for _, c := range [...][3]int{{fXDen, fM2, fDenM2}, {fXPre, fM2, fPreM2}, {fDenPre, fDenM2, fPreM2}} {
		// |co| ≤ √(a·b), with room for rounding.
		if co := v[c[0]]; co != 0 && math.Abs(co) > math.Sqrt(v[c[1]]*v[c[2]])*(1+1e-9)+1e-300 {
			return valueloop.FieldErrorf(summaryFields[c[0]], "inconsistent statistics: co-moment %v implies a correlation outside [−1, 1]", co)
		}
	}
	switch kind {
	case Proportion:
		if s.Mean < -1e-12 || s.Mean > 1+1e-12 {
			return valueloop.FieldErrorf("mean", "a proportion must lie in [0, 1], got %v", s.Mean)
		}
	case Ratio:
		// Any denominator is allowed; a zero mean denominator is "not enough data".
	case Mean, Quantile:
	default:
		return valueloop.FieldErrorf("kind", "unknown metric kind %q (want %q, %q, %q or %q)", kind, Mean, Proportion, Ratio, Quantile)
	}
	return nil
}
