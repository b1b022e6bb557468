package stats

import (
	"cmp"
	"fmt"
	"math"
	"strconv"

	"github.com/valueloop/valueloop"
)

// Kind says how a metric's per-unit values are analysed.
type Kind string

const (
	// Mean compares the mean of x per unit (a sum, a count or a value per
	// user) with Welch's t-test: sample variances (divisor n−1), t quantiles
	// with Welch–Satterthwaite degrees of freedom.
	Mean Kind = "mean"
	// Proportion compares the share of units with x = 1 (a conversion) with
	// the unpooled Wald z-test, as statsmodels' test_proportions_2indep
	// (method "wald"): variance p(1−p) (divisor n) and normal quantiles.
	// Where that variance is 0 in both arms and the rates differ (0% in
	// one, 100% in the other) the absolute difference has Newcombe's
	// hybrid score interval instead (Effect.Method "newcombe").
	Proportion Kind = "proportion"
	// Ratio compares Σx / Σy (revenue per order, clicks per session) where
	// the analysis unit is still the user: the variance comes from the delta
	// method with the covariance of x and y, and the quantiles are normal.
	Ratio Kind = "ratio"
	// Quantile compares a quantile of the per-unit values (p50, p90, p99 of
	// latency) with the normal approximation: each arm's Summary holds the
	// sample quantile and its standard error (QuantileSummary), the arms are
	// independent, and the quantiles are normal (Price and Bonett 2002).
	Quantile Kind = "quantile"
)

// Alternative is the alternative hypothesis about the difference
// treatment − control.
type Alternative string

const (
	TwoSided Alternative = "two-sided" // the difference is not zero
	Greater  Alternative = "greater"   // treatment is greater than control
	Less     Alternative = "less"      // treatment is less than control
)

// Correction is a multiple-testing correction applied across every
// metric × variant comparison of one analysis.
type Correction string

const (
	NoCorrection Correction = "none"
	// Holm controls the family-wise error rate (Holm–Bonferroni step-down),
	// as statsmodels' multipletests(method="holm").
	Holm Correction = "holm"
	// BenjaminiHochberg controls the false discovery rate, as statsmodels'
	// multipletests(method="fdr_bh").
	BenjaminiHochberg Correction = "bh"
	// Bonferroni controls the family-wise error rate by testing each of the
	// m comparisons at α/m, as statsmodels' multipletests(method=
	// "bonferroni"); it is the one correction with adjusted intervals.
	Bonferroni Correction = "bonferroni"
)

// CUPEDTheta says how the CUPED coefficient θ is estimated.
type CUPEDTheta string

const (
	// WithinTheta (the default) pools the arms' within-arm co-moments: the
	// slope of the regression of the metric on the covariate with one
	// intercept per arm (ANCOVA), so a treatment effect cannot leak into θ.
	WithinTheta CUPEDTheta = "within"
	// PooledTheta is Cov(Y, C)/Var(C) over all units, arms ignored, as
	// Deng et al. (2013) state it; a treatment effect on Y adds to the
	// covariance through the arm means, which slightly changes θ.
	PooledTheta CUPEDTheta = "pooled"
)

// Settings choose how an analysis is run.
type Settings struct {
	// Alpha is the significance level, in (0, 0.5]. Intervals have coverage
	// 1 − Alpha.
	Alpha float64 `json:"alpha"`
	// Alternative is the hypothesis tested; one-sided alternatives give
	// one-sided intervals.
	Alternative Alternative `json:"alternative"`
	// SequentialTuning is the tuning parameter of the always-valid
	// confidence sequence: the number of units, control and treatment
	// together, at which the sequence is narrowest. Choose roughly the total
	// sample size you expect when the decision will be made; the sequence is
	// valid for any choice, which only moves where its width is best. Must be
	// positive. See Sequential.
	SequentialTuning float64 `json:"sequentialTuning"`
	// CUPED turns on variance reduction with the pre-exposure covariate of
	// each Summary.
	CUPED bool `json:"cuped"`
	// Correction adjusts p-values for the number of comparisons.
	Correction Correction `json:"correction"`
	// CUPEDTheta chooses how θ is estimated; "" means WithinTheta.
	CUPEDTheta CUPEDTheta `json:"cupedTheta,omitempty"`
	// SRMThreshold is the p-value below which the sample-ratio check flags
	// a mismatch, in (0, 0.5]; 0 means SRMThreshold (0.001).
	SRMThreshold float64 `json:"srmThreshold,omitempty"`
	// SplitUnknown says the caller does not know the configured split:
	// weights then only say which variants are served (positive) and no
	// sample-ratio check is made (Result.SRM is NotApplicable). Set in code,
	// never read from a request.
	SplitUnknown bool `json:"-"`
	// FixedHorizon says only the fixed-horizon intervals will decide (fixed
	// inference): a relative effect then switches to the log ratio when
	// its fixed-horizon interval would reach below −100%, whatever the
	// confidence sequence's does, so that the test that decides does not
	// depend on SequentialTuning. Set in code, never read from a request.
	FixedHorizon bool `json:"-"`
	// Prior is an informative normal prior on the relative effect for the
	// Bayesian view; nil means the flat prior.
	Prior *Prior `json:"prior,omitempty"`
}

// Prior is a normal prior on the relative effect (t − c)/|c|: Mean 0 and SD
// 0.3 say "most changes move the metric by less than ±60%". It is applied
// on the absolute scale as Normal(Mean·|c̄|, (SD·|c̄|)²), c̄ the control
// estimate, and combined with the normal likelihood of the difference by
// precision weighting. A prior that overflows floating point on that scale
// is ignored (the flat prior is used), so no Inf or NaN reaches a result.
type Prior struct {
	Mean float64 `json:"mean"`
	SD   float64 `json:"sd"`
}

func (s Settings) srmThreshold() float64 { return cmp.Or(s.SRMThreshold, SRMThreshold) }

// Level is the intervals' coverage, 1 − Alpha, as a percentage for people
// ("95%", "99.96%"): to ten significant digits, so that neither a rounding
// to a tenth of a percent (99.996% is not 100%) nor the binary noise of
// 1 − Alpha (99.96000000000001) shows.
func (s Settings) Level() string {
	return strconv.FormatFloat(100*(1-s.Alpha), 'g', 10, 64) + "%"
}

// DefaultSettings are the settings most experiments start from: two-sided at
// α = 0.05, confidence sequences tuned for 10,000 units, CUPED on and Holm's
// correction.
func DefaultSettings() Settings {
	return Settings{Alpha: 0.05, Alternative: TwoSided, SequentialTuning: 10000, CUPED: true, Correction: Holm}
}

// Validate reports the first setting out of range as an EINVALID
// *valueloop.Error naming the field.
func (s Settings) Validate() error {
	switch {
	case !(s.Alpha > 0 && s.Alpha <= 0.5): // also rejects NaN
		return valueloop.FieldErrorf("alpha", "must be in (0, 0.5], got %v", s.Alpha)
	case !(s.SequentialTuning > 0) || math.IsInf(s.SequentialTuning, 1):
		return valueloop.FieldErrorf("sequentialTuning", "must be a positive number of units, got %v", s.SequentialTuning)
	}
	switch s.Alternative {
	case TwoSided, Greater, Less:
	default:
		return valueloop.FieldErrorf("alternative", "must be %q, %q or %q, got %q", TwoSided, Greater, Less, s.Alternative)
	}
	switch s.Correction {
	case NoCorrection, Holm, BenjaminiHochberg, Bonferroni:
	default:
		return valueloop.FieldErrorf("correction", "must be %q, %q, %q or %q, got %q", NoCorrection, Holm, BenjaminiHochberg, Bonferroni, s.Correction)
	}
	switch s.CUPEDTheta {
	case "", WithinTheta, PooledTheta:
	default:
		return valueloop.FieldErrorf("cupedTheta", "must be %q or %q, got %q", WithinTheta, PooledTheta, s.CUPEDTheta)
	}
	if p := s.Prior; p != nil {
		switch {
		case math.IsNaN(p.Mean) || math.IsInf(p.Mean, 0):
			return valueloop.FieldErrorf("prior.mean", "must be a finite number (a relative effect, 0 for none expected), got %v", p.Mean)
		case !(p.SD > 0) || math.IsInf(p.SD, 1):
			return valueloop.FieldErrorf("prior.sd", "must be a positive number (0.3 is ±30%% relative), got %v", p.SD)
		}
	}
	if !(s.SRMThreshold >= 0 && s.SRMThreshold <= 0.5) {
		return valueloop.FieldErrorf("srmThreshold", "must be in (0, 0.5] (or 0 for %g), got %v", SRMThreshold, s.SRMThreshold)
	}
	return nil
}

// Interval is a confidence, credible or sequential interval. One-sided
// intervals extend to infinity on one side; that side is flagged and its
// bound is 0, so that no answer ever holds an infinity (JSON has none).
type Interval struct {
	Lower float64 `json:"lower"`
	Upper float64 `json:"upper"`
	// LowerUnbounded marks (−∞, Upper]; UpperUnbounded marks [Lower, +∞).
	LowerUnbounded bool `json:"lowerUnbounded,omitempty"`
	UpperUnbounded bool `json:"upperUnbounded,omitempty"`
}

// Contains reports whether x lies in the interval.
func (iv Interval) Contains(x float64) bool {
	return (iv.LowerUnbounded || iv.Lower <= x) && (iv.UpperUnbounded || x <= iv.Upper)
}

func (iv Interval) String() string {
	lo, hi := fmt.Sprint(iv.Lower), fmt.Sprint(iv.Upper)
	if iv.LowerUnbounded {
		lo = "-inf"
	}
	if iv.UpperUnbounded {
		hi = "+inf"
	}
	return "[" + lo + ", " + hi + "]"
}

// interval returns est ± half shaped by the alternative.
func interval(est, half float64, alt Alternative) Interval {
	switch alt {
	case Greater:
		return Interval{Lower: est - half, UpperUnbounded: true}
	case Less:
		return Interval{Upper: est + half, LowerUnbounded: true}
	}
	return Interval{Lower: est - half, Upper: est + half}
}
