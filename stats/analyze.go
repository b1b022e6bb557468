package stats

import (
	"cmp"
	"errors"
	"fmt"
	"math"

	"github.com/valueloop/valueloop"
)

// ErrNotEnoughData is the cause behind every NotEnoughData status: fewer
// than two units in an arm, no variance in either arm, a ratio metric whose
// denominator averages zero, statistics beyond floating-point range. The
// Reason beside the status is this error wrapped with the detail. It is not a
// user error: more data fixes it.
var ErrNotEnoughData = errors.New("not enough data")

// Status says whether a part of a Result could be computed.
type Status string

const (
	OK            Status = "ok"
	NotEnoughData Status = "not_enough_data"
	// NotApplicable is the sample-ratio check's when no configured split
	// says what share of the units each variant should have (no split, or
	// splits that weigh the variants differently: Settings.SplitUnknown):
	// more data would not make it computable, and testing assumed weights
	// would raise false alarms.
	NotApplicable Status = "not_applicable"
)

// Variant is one arm of an experiment as configured and as observed.
type Variant struct {
	Name string `json:"name"`
	// Weight is the configured share of traffic, in any unit (percent,
	// fractional buckets); it must be positive.
	Weight float64 `json:"weight"`
	// Units is the number of units assigned to the variant (exposed users),
	// used for the sample-ratio-mismatch check.
	Units int64 `json:"units"`
}

// Metric is one metric observed in every variant.
type Metric struct {
	Name string `json:"name"`
	Kind Kind   `json:"kind"`
	// NonNegative says the metric's values are never negative (a count, a
	// rate, a proportion is always): a relative change cannot then fall
	// below −100%, and a relative interval that would is computed on the
	// log scale instead (see Comparison.Relative).
	NonNegative bool `json:"nonNegative,omitempty"`
	// LowerIsBetter turns the Bayesian view around (latency, errors): the
	// chance to beat control becomes P(treatment < control). It does not
	// change the hypothesis tested, which Settings.Alternative states.
	LowerIsBetter bool `json:"lowerIsBetter,omitempty"`
	// Summaries holds one Summary per variant, in the order of
	// Input.Variants.
	Summaries []Summary `json:"summaries"`
}

// Input is what Analyze needs: the variants, control first, and the metrics.
type Input struct {
	Variants []Variant `json:"variants"`
	Metrics  []Metric  `json:"metrics"`
	// Strata, when not empty, make the analysis stratified (see Stratum):
	// every arm's estimate is then the weighted mean of its estimates per
	// stratum and the SRM is checked per stratum; Variants' weights and
	// units and Metrics' summaries are then the pooled figures, used for
	// validation only.
	Strata []Stratum `json:"strata,omitempty"`
}

// Result is the analysis of an experiment: the sample-ratio check and, per
// metric, every treatment variant compared with control.
type Result struct {
	SRM     SRM            `json:"srm"`
	Metrics []MetricResult `json:"metrics"`
	// Strata has one entry per Input.Strata: its weight and its own SRM
	// check; SRM is then the stratum with the smallest p-value, a mismatch
	// when any stratum's is.
	Strata []StratumResult `json:"strata,omitempty"`
}

// MetricResult holds the analysis of one metric.
type MetricResult struct {
	Name string `json:"name"`
	Kind Kind   `json:"kind"`
	// Theta is the pooled CUPED coefficient (0 when CUPED is off or the
	// covariate does not vary).
	Theta float64 `json:"theta"`
	// Arms holds one entry per variant, control first.
	Arms []Arm `json:"arms"`
	// Comparisons holds one entry per treatment variant (every variant but
	// the first), in order.
	Comparisons []Comparison `json:"comparisons"`
}

// Arm describes one variant's estimate of a metric.
type Arm struct {
	Variant string `json:"variant"`
	N       int64  `json:"n"`
	// Estimate is the mean (or proportion, or ratio Σx/Σy) as observed.
	Estimate float64 `json:"estimate"`
	// Adjusted is the CUPED-adjusted estimate, equal to Estimate when CUPED
	// is off; comparisons use it.
	Adjusted float64 `json:"adjusted"`
	// SE is the standard error of Adjusted; 0 when Status is not OK.
	SE     float64 `json:"se"`
	Status Status  `json:"status"`
}

// Effect is a difference between treatment and control with its intervals.
type Effect struct {
	Estimate float64 `json:"estimate"`
	SE       float64 `json:"se"`
	// Interval is the fixed-horizon confidence interval: valid when the
	// results are looked at once, at a sample size fixed in advance.
	Interval Interval `json:"interval"`
	// Sequential is the always-valid confidence sequence: valid however
	// often the results are looked at (see the sequential type).
	Sequential Interval `json:"sequential"`
	// Statistic is the t or z statistic of the test of no effect on this
	// scale; PValue its fixed-horizon p-value and SequentialPValue its
	// always-valid one. Each interval and its p-value come from the same
	// test: p < α exactly when the interval excludes 0. The Adjusted ones
	// are corrected (Settings.Correction) across every comparison of the
	// analysis on the same scale.
	Statistic                float64 `json:"statistic"`
	PValue                   float64 `json:"pValue"`
	AdjustedPValue           float64 `json:"adjustedPValue"`
	SequentialPValue         float64 `json:"sequentialPValue"`
	AdjustedSequentialPValue float64 `json:"adjustedSequentialPValue"`
	// Method is how a relative effect was tested: "delta" (the delta
	// method on t/c − 1) or "log-ratio" (the delta method on ln(t/c), whose
	// interval, transformed back, stays above −100%); empty for the
	// absolute effect, which has the normal approximation's interval,
	// unless it is "newcombe": a conversion where one arm converted none
	// of its units and the other all of them, whose Wald interval has no
	// width (see newcombe). For "log-ratio", SE and Statistic are on the
	// log scale; for "newcombe" SE is 0 (the interval is no multiple of a
	// standard error) and Statistic the z at which it reaches 0.
	Method string `json:"method,omitempty"`
	// SequentialSE is the standard error of the Sequential interval and
	// p-value when it is not SE: a conversion arm at 0% or 100% takes the
	// variance of the pooled rate there (see sequentialArms). Absent
	// otherwise, and in results stored before it, which used SE.
	SequentialSE float64 `json:"sequentialSE,omitempty"`
	// Units are the control's and the treatment's units behind a
	// "newcombe" interval (the rates are 0 and 1, the Estimate says
	// which), so that it can be rebuilt at another level (IntervalsAt).
	Units *[2]int64 `json:"units,omitempty"`
	// AdjustedInterval and AdjustedSequential are the intervals at level
	// 1 − α/m for a Bonferroni correction over m comparisons: they exclude
	// 0 exactly when the adjusted p-value is below α. Absent for other
	// corrections, which have no interval of their own.
	AdjustedInterval   *Interval `json:"adjustedInterval,omitempty"`
	AdjustedSequential *Interval `json:"adjustedSequential,omitempty"`
	// Note warns that the figure may mislead: for a relative effect, that
	// the control mean cannot be told apart from zero.
	Note string `json:"note,omitempty"`
}

// Comparison is one treatment variant compared with control on one metric.
// When Status is not OK, Reason says why and every number is zero.
type Comparison struct {
	Variant string `json:"variant"`
	Status  Status `json:"status"`
	Reason  string `json:"reason,omitempty"`

	// Absolute is treatment − control.
	Absolute Effect `json:"absolute"`
	// Relative is (treatment − control)/|control|, its standard error from
	// the delta method (arms independent) and its intervals built with the
	// same critical values as Absolute's; nil when the control estimate is
	// zero, and for a conversion of 0% in one arm and 100% in the other
	// (see newcombe). Dividing by |control| keeps the sign of the absolute difference
	// when the control mean is negative (profit, a net change). For a
	// NonNegative metric whose delta-method interval would reach below
	// −100%, the test and intervals are those of ln(t/c) instead (Method).
	Relative *Effect `json:"relative,omitempty"`
	// DF is the Welch–Satterthwaite degrees of freedom of a Mean metric's
	// t-test; 0 for metrics tested with the normal distribution.
	DF float64 `json:"df"`
	// Statistic is the t or z statistic of the absolute difference.
	Statistic float64 `json:"statistic"`

	// PValue is the fixed-horizon p-value of the absolute difference and
	// AdjustedPValue the same after Settings.Correction across all
	// comparisons of the analysis (Absolute holds them too; Relative has
	// its own).
	PValue         float64 `json:"pValue"`
	AdjustedPValue float64 `json:"adjustedPValue"`
	// SequentialPValue is the always-valid p-value matching
	// Absolute.Sequential; AdjustedSequentialPValue is it corrected.
	SequentialPValue         float64 `json:"sequentialPValue"`
	AdjustedSequentialPValue float64 `json:"adjustedSequentialPValue"`

	// The Bayesian view. With a flat prior on the absolute difference (the
	// default) its posterior is Normal(Absolute.Estimate, Absolute.SE²); with
	// Settings.Prior it is the precision-weighted combination of the prior
	// and that likelihood:
	//
	// ChanceToBeat is P(treatment better than control), better meaning
	// greater unless the metric has LowerIsBetter.
	ChanceToBeat float64 `json:"chanceToBeat"`
	// ExpectedLoss is the expected shortfall of shipping the treatment if it
	// is in fact worse, E[max(0, control − treatment)] (for LowerIsBetter,
	// E[max(0, treatment − control)]), in units of the metric.
	ExpectedLoss float64 `json:"expectedLoss"`
	// ExpectedLossControl is the same for keeping control.
	ExpectedLossControl float64 `json:"expectedLossControl"`
	// Credible is the central 1 − α credible interval of the difference.
	Credible Interval `json:"credible"`

	tt test // the test's parameters, for intervals at another level
}

// Analyze runs the whole analysis: validation, the SRM check, every
// comparison of every metric, then the multiple-testing correction. Invalid
// settings or inconsistent input give an EINVALID *valueloop.Error naming
// the field (a JSON path into Settings or Input); too little data is never an
// error, it is reported in the Status of the part concerned.
func Analyze(s Settings, in Input) (*Result, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if err := in.validate(); err != nil {
		return nil, err
	}
	a := newAnalyzer(s)
	res := &Result{Metrics: make([]MetricResult, len(in.Metrics))}

	unchecked := SRM{Status: NotApplicable, Reason: "the configured split is not known", Threshold: s.srmThreshold()}
	switch {
	case len(in.Strata) > 0 && s.SplitUnknown:
		a.strata, a.weights = in.Strata, stratumWeights(in)
		res.SRM, res.Strata = unchecked, make([]StratumResult, len(in.Strata))
		for p, st := range in.Strata {
			res.Strata[p] = StratumResult{Name: st.Name, Weight: a.weights[p], SRM: unchecked}
		}
	case len(in.Strata) > 0:
		a.strata, a.weights = in.Strata, stratumWeights(in)
		res.SRM, res.Strata = strataSRM(in, a.weights, s.srmThreshold())
	case s.SplitUnknown:
		res.SRM = unchecked
	default:
		res.SRM = srm(len(in.Variants), s.srmThreshold(), func(i int) (int64, float64) { return in.Variants[i].Units, in.Variants[i].Weight })
	}

	// One allocation per kind of element for the whole result.
	nv, nm := len(in.Variants), len(in.Metrics)
	a.arms = make([]Arm, nm*nv)
	a.comps = make([]Comparison, nm*(nv-1))
	a.rel = make([]Effect, nm*(nv-1))
	var buf [8]armStats
	arms := buf[:0]
	if nv > len(buf) {
		arms = make([]armStats, nv)
	}
	arms = arms[:nv]
	for i, m := range in.Metrics {
		a.metric(&res.Metrics[i], i, m, in.Variants, arms)
	}
	if s.Correction != NoCorrection {
		correct(res, s.Correction)
	}
	if s.Correction == Bonferroni {
		a.bonferroniIntervals(res)
	}
	return res, nil
}

func (in Input) validate() error {
	if len(in.Variants) < 2 {
		return valueloop.FieldErrorf("variants", "need a control and at least one treatment, got %d variants", len(in.Variants))
	}
	for i, v := range in.Variants {
		path := func(f string) string { return fmt.Sprintf("variants[%d].%s", i, f) }
		switch {
		case v.Name == "":
			return valueloop.FieldErrorf(path("name"), "must not be empty")
		case !(v.Weight > 0) || math.IsInf(v.Weight, 1):
			return valueloop.FieldErrorf(path("weight"), "must be a positive number, got %v", v.Weight)
		case v.Units < 0:
			return valueloop.FieldErrorf(path("units"), "must not be negative, got %d", v.Units)
		}
		for _, w := range in.Variants[:i] { // few variants: no map needed
			if w.Name == v.Name {
				return valueloop.FieldErrorf(path("name"), "duplicate variant %q", v.Name)
			}
		}
	}
	if err := in.validateStrata(); err != nil {
		return err
	}
	for i, m := range in.Metrics {
		switch m.Kind {
		case Mean, Proportion, Ratio, Quantile:
		default:
			return valueloop.FieldErrorf(fmt.Sprintf("metrics[%d].kind", i), "unknown metric kind %q (want %q, %q, %q or %q)", m.Kind, Mean, Proportion, Ratio, Quantile)
		}
		if len(m.Summaries) != len(in.Variants) {
			return valueloop.FieldErrorf(fmt.Sprintf("metrics[%d].summaries", i), "need one summary per variant (%d), got %d", len(in.Variants), len(m.Summaries))
		}
		for j, sm := range m.Summaries {
			if err := sm.check(m.Kind); err != nil {
				err.Field = fmt.Sprintf("metrics[%d].summaries[%d].%s", i, j, err.Field)
				return err
			}
		}
	}
	return nil
}

// analyzer holds what depends on the settings only.
type analyzer struct {
	s        Settings
	seq      sequential
	zCrit    float64 // normal critical value for the alternative
	zCentral float64 // normal quantile 1 − α/2, for credible intervals

	// Backing arrays of the result, handed out per metric.
	arms  []Arm
	comps []Comparison
	rel   []Effect

	// Stratified analyses only: the strata and their weights W_p.
	strata  []Stratum
	weights []float64
}

func newAnalyzer(s Settings) analyzer {
	a := analyzer{s: s, seq: newSequential(s.Alpha, s.SequentialTuning, s.Alternative)}
	a.zCentral = -normQuantile(s.Alpha / 2)
	a.zCrit = a.zCentral
	if s.Alternative != TwoSided {
		a.zCrit = -normQuantile(s.Alpha)
	}
	return a
}

// armStats is one arm reduced to what a comparison needs.
type armStats struct {
	n        float64
	estimate float64 // as observed
	adjusted float64 // after CUPED
	v        float64 // variance of adjusted
	rawV     float64 // variance of estimate, without CUPED
	// dfRel is Σ_i (v_i/v)²/(n_i − 1) over the independent parts i of v
	// (one part, 1/(n − 1), unless stratified): what the Welch–Satterthwaite
	// degrees of freedom need, in shares of v so that nothing underflows.
	dfRel float64
	err   error
}

func (a *analyzer) metric(out *MetricResult, mi int, m Metric, variants []Variant, arms []armStats) {
	out.Name, out.Kind = m.Name, m.Kind
	var theta, preMean float64
	if a.s.CUPED {
		theta, preMean = cupedTheta(m.Kind, a.cupedCells(mi, m), a.s.CUPEDTheta == PooledTheta)
	}
	out.Theta = theta
	out.Arms, a.arms = a.arms[:len(variants):len(variants)], a.arms[len(variants):]
	var noPeriod error
	if a.strata != nil {
		noPeriod = a.stratifiedArms(arms, mi, m.Kind, theta, preMean)
	}
	for i, sm := range m.Summaries {
		if a.strata == nil {
			arms[i] = arm(m.Kind, sm, theta, preMean)
		} else {
			sm.N = int64(arms[i].n)
		}
		out.Arms[i] = Arm{Variant: variants[i].Name, N: sm.N, Estimate: arms[i].estimate, Adjusted: arms[i].adjusted, Status: OK}
		if arms[i].err != nil {
			out.Arms[i].Status = NotEnoughData
		} else {
			out.Arms[i].SE = math.Sqrt(arms[i].v)
		}
	}
	nc := len(variants) - 1
	out.Comparisons, a.comps = a.comps[:nc:nc], a.comps[nc:]
	rel := a.rel[:nc:nc]
	a.rel = a.rel[nc:]
	for i := 1; i < len(variants); i++ {
		c := &out.Comparisons[i-1]
		c.Variant = variants[i].Name
		err := noPeriod
		if err == nil {
			err = a.compare(c, &rel[i-1], m.Kind, m.LowerIsBetter, m.NonNegative || m.Kind == Proportion, arms[0], arms[i])
		}
		if err != nil {
			*c = Comparison{Variant: variants[i].Name, Status: NotEnoughData, Reason: err.Error()}
		}
	}
}

// arm reduces a Summary to its estimate and the variance of the estimate.
func arm(kind Kind, s Summary, theta, preMean float64) armStats {
	a := armStats{n: float64(s.N), estimate: s.Mean, adjusted: s.Mean}
	if s.N < 2 {
		a.err = fmt.Errorf("%w: need at least 2 units, have %d", ErrNotEnoughData, s.N)
		if kind == Ratio {
			a.estimate = 0
			if r := s.Mean / s.DenMean; finite(r) {
				a.estimate = r
			}
			a.adjusted = a.estimate
		}
		return a
	}
	div := a.n - 1
	if kind == Proportion {
		div = a.n
	}
	var unitVar float64
	switch kind {
	case Ratio:
		if s.DenMean == 0 {
			a.estimate, a.adjusted = 0, 0
			a.err = fmt.Errorf("%w: the ratio's denominator averages zero", ErrNotEnoughData)
			return a
		}
		r := s.Mean / s.DenMean
		a.estimate, a.adjusted = r, r
		// Delta method: Var(x̄/ȳ) ≈ Var(x − r·y) / (n ȳ²); L = (x − r y)/ȳ
		// is the linearised per-unit value.
		unitVar = (s.M2 - 2*r*s.XDen + r*r*s.DenM2) / (div * s.DenMean * s.DenMean)
		a.rawV = unitVar / a.n
		if theta != 0 {
			lc := (s.XPre - r*s.DenPre) / s.DenMean // co-moment of L and c
			a.adjusted = r - theta*(s.PreMean-preMean)
			unitVar += (theta*theta*s.PreM2 - 2*theta*lc) / div
		}
	default:
		unitVar = s.M2 / div
		a.rawV = unitVar / a.n
		if theta != 0 {
			a.adjusted = s.Mean - theta*(s.PreMean-preMean)
			unitVar = (s.M2 - 2*theta*s.XPre + theta*theta*s.PreM2) / div
		}
	}
	if unitVar < 0 { // rounding in a perfectly explained or constant metric
		unitVar = 0
	}
	a.v = unitVar / a.n
	a.dfRel = 1 / (a.n - 1)
	if !finite(a.adjusted) || !finite(a.v) {
		a.estimate, a.adjusted, a.v = 0, 0, 0
		a.err = fmt.Errorf("%w: the statistics overflow floating point", ErrNotEnoughData)
	}
	return a
}

// noVariance says why neither k nor t varies: the covariate explains the
// metric exactly (CUPED left no variance), no unit or every unit converted
// in both arms, or the metric is constant. (None against every unit has the
// Newcombe interval, see newcombe.)
func noVariance(kind Kind, k, t armStats) string {
	switch {
	case k.rawV+t.rawV > 0:
		return "the covariate explains the metric exactly in both arms, so CUPED leaves no variance to test; check that the covariate is not the metric itself, or analyse without CUPED"
	case kind != Proportion:
	case k.estimate <= 0 && t.estimate <= 0:
		return "no unit converted in either arm"
	case k.estimate >= 1 && t.estimate >= 1:
		return "every unit converted in both arms"
	}
	return "the metric does not vary in either arm"
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// compare fills c with treatment t against control k.
// The relative effect, when there is one, is written to rel.
func (a *analyzer) compare(c *Comparison, rel *Effect, kind Kind, lowerIsBetter, nonNegative bool, k, t armStats) error {
	switch {
	case k.err != nil:
		return fmt.Errorf("control: %w", k.err)
	case t.err != nil:
		return fmt.Errorf("treatment: %w", t.err)
	}
	v := k.v + t.v
	if !(v > 0) {
		// A stratified rate is a sum of weights that need not add up to
		// exactly 1 (TestNewcombeStratified): 0 and 1 up to rounding.
		if kind == Proportion && k.rawV+t.rawV == 0 && math.Abs(t.estimate-k.estimate) > 1-1e-9 {
			k.estimate, t.estimate = math.Round(k.estimate), math.Round(t.estimate)
			a.newcombe(c, lowerIsBetter, k, t)
			return nil
		}
		return fmt.Errorf("%w: %s", ErrNotEnoughData, noVariance(kind, k, t))
	}
	alt := a.s.Alternative
	diff := t.adjusted - k.adjusted
	se := math.Sqrt(v)
	stat := diff / se
	if !finite(v) || !finite(diff) || !finite(stat) {
		return fmt.Errorf("%w: the difference overflows floating point", ErrNotEnoughData)
	}
	crit := a.zCrit
	if kind == Mean {
		// Welch–Satterthwaite: (Σ v_i)² / Σ v_i²/(n_i − 1), in shares of v
		// so that tiny variances cannot underflow.
		wk, wt := k.v/v, t.v/v
		c.DF = 1 / (wk*wk*k.dfRel + wt*wt*t.dfRel)
		p := a.s.Alpha
		if alt == TwoSided {
			p /= 2
		}
		crit = -tQuantile(p, c.DF)
	}
	tt := test{crit: crit, seqMult: a.seq.multiplier(k.n + t.n), df: c.DF, units: k.n + t.n}
	if !finite(tt.seqMult*se) || !finite(math.Abs(diff)+tt.seqMult*se) {
		return fmt.Errorf("%w: the interval overflows floating point", ErrNotEnoughData)
	}
	c.Status = OK
	c.tt = tt
	ks, ts := sequentialArms(kind, k, t)
	c.Absolute = a.effect(diff, se, math.Sqrt(ks.v+ts.v), tt)
	c.Statistic, c.PValue, c.SequentialPValue = stat, c.Absolute.PValue, c.Absolute.SequentialPValue
	c.AdjustedPValue, c.AdjustedSequentialPValue = c.PValue, c.SequentialPValue
	if e, ok := a.relative(k, t, ks, ts, tt, nonNegative); ok {
		*rel = e
		c.Relative = rel
	}
	a.bayesian(c, diff, se, k.adjusted, lowerIsBetter)
	return nil
}

// sequentialArms returns k and t as the confidence sequence sees them. A
// conversion arm at 0% or 100% has a Wald variance of 0, the most wrong
// where it matters most: 0 errors in 60 users of a 5% step against 5% in
// the baseline made the baseline's small variance the whole SE, and two
// arms at 0% and 100% had none at all. Such an arm takes the variance its
// units would have at the two arms' pooled rate p̄, p̄(1 − p̄)/n (the
// score test's, which is right under the null of equal rates), when that
// is larger. An arm that varies keeps its own, so no result where both
// vary changes. Watched continuously the sequence then keeps its error at
// most α where it erred 16% and 64% (TestSequentialZeroAgainstAllFalsePositives).
func sequentialArms(kind Kind, k, t armStats) (armStats, armStats) {
	if kind != Proportion || (k.rawV > 0 && t.rawV > 0) {
		return k, t
	}
	pool := (k.estimate*k.n + t.estimate*t.n) / (k.n + t.n)
	floor := func(x armStats) armStats {
		if x.rawV == 0 {
			x.v = max(x.v, pool*(1-pool)/x.n)
		}
		return x
	}
	return floor(k), floor(t)
}

// bayesian fills c's Bayesian view from the likelihood N(diff, se²) of the
// absolute difference, with the settings' prior scaled by the control mean.
func (a *analyzer) bayesian(c *Comparison, diff, se, control float64, lowerIsBetter bool) {
	post, postSE := diff, se
	if p := a.s.Prior; p != nil && control != 0 {
		// Normal prior on the relative effect, on the absolute scale:
		// precision-weighted with the likelihood N(diff, se²).
		m0, s0 := p.Mean*math.Abs(control), p.SD*math.Abs(control)
		w0, w := 1/(s0*s0), 1/(se*se)
		if finite(w0) && w0 > 0 && finite(m0) {
			ps := math.Sqrt(1 / (w0 + w))
			pm := (w0*m0 + w*diff) / (w0 + w)
			// A prior beyond floating point on this scale (a huge mean
			// times a huge control) says nothing usable: keep the flat
			// prior rather than write Inf or NaN.
			if finite(pm) && finite(ps) && ps > 0 && finite(pm/ps) {
				post, postSE = pm, ps
			}
		}
	}
	b := bayes(post, postSE, lowerIsBetter)
	c.ChanceToBeat, c.ExpectedLoss, c.ExpectedLossControl = b.chance, b.lossTreatment, b.lossControl
	c.Credible = Interval{Lower: post - a.zCentral*postSE, Upper: post + a.zCentral*postSE}
}

func tPValue(stat, df float64, alt Alternative) float64 {
	switch alt {
	case Greater:
		return tSF(stat, df)
	case Less:
		return tCDF(stat, df)
	}
	return math.Min(1, 2*tSF(math.Abs(stat), df))
}

func zPValue(stat float64, alt Alternative) float64 {
	switch alt {
	case Greater:
		return normSF(stat)
	case Less:
		return normCDF(stat)
	}
	return math.Min(1, 2*normSF(math.Abs(stat)))
}

// test is what the tests of one comparison share, whatever the scale.
type test struct {
	crit    float64 // fixed-horizon critical value (t or z)
	seqMult float64 // half-width of the confidence sequence in SEs
	df      float64 // t degrees of freedom; 0 for the normal distribution
	units   float64 // units in both arms, the sequence's time
}

// effect tests est with standard error se: its statistic, both intervals
// and the p-values that match them, for the settings' alternative.
func (a *analyzer) effect(est, se, seqSE float64, tt test) Effect {
	alt := a.s.Alternative
	stat := est / se
	e := Effect{
		Estimate:         est,
		SE:               se,
		Interval:         interval(est, tt.crit*se, alt),
		Sequential:       interval(est, tt.seqMult*seqSE, alt),
		Statistic:        stat,
		SequentialPValue: a.seq.pValue(est/seqSE, tt.units, alt),
	}
	if seqSE != se {
		e.SequentialSE = seqSE
	}
	if tt.df > 0 {
		e.PValue = tPValue(stat, tt.df, alt)
	} else {
		e.PValue = zPValue(stat, alt)
	}
	e.AdjustedPValue, e.AdjustedSequentialPValue = e.PValue, e.SequentialPValue
	return e
}

// correct applies the correction across every comparison with Status OK,
// on each scale (absolute, relative) and for each kind of p-value (fixed,
// sequential) separately.
func correct(res *Result, method Correction) {
	n := 0
	for _, m := range res.Metrics {
		for _, c := range m.Comparisons {
			if c.Status == OK {
				n++
			}
		}
	}
	// One buffer for the four families (absolute and relative, fixed and
	// sequential), filled and written back in the same order: the analysis
	// runs per request, so it allocates once rather than per family.
	ps := make([]float64, 0, n)
	for f := range 4 {
		ps = ps[:0]
		for mi := range res.Metrics {
			for ci := range res.Metrics[mi].Comparisons {
				if raw, _ := pValues(&res.Metrics[mi].Comparisons[ci], f); raw != nil {
					ps = append(ps, *raw)
				}
			}
		}
		if len(ps) < 2 {
			continue // a family of one needs no correction
		}
		adjustInPlace(ps, method)
		i := 0
		for mi := range res.Metrics {
			for ci := range res.Metrics[mi].Comparisons {
				if _, adj := pValues(&res.Metrics[mi].Comparisons[ci], f); adj != nil {
					*adj = ps[i]
					i++
				}
			}
		}
	}
	for mi := range res.Metrics {
		for ci := range res.Metrics[mi].Comparisons {
			c := &res.Metrics[mi].Comparisons[ci]
			c.AdjustedPValue, c.AdjustedSequentialPValue = c.Absolute.AdjustedPValue, c.Absolute.AdjustedSequentialPValue
		}
	}
}

// pValues returns the raw and adjusted p-value of c in correction family f
// (0 absolute fixed, 1 absolute sequential, 2 relative fixed, 3 relative
// sequential); nil when c is not in the family (no data, no relative effect).
func pValues(c *Comparison, f int) (raw, adj *float64) {
	if c.Status != OK {
		return nil, nil
	}
	e := &c.Absolute
	if f >= 2 {
		if e = c.Relative; e == nil {
			return nil, nil
		}
	}
	if f%2 == 0 {
		return &e.PValue, &e.AdjustedPValue
	}
	return &e.SequentialPValue, &e.AdjustedSequentialPValue
}

// relative is the relative effect (t − k)/|k| of treatment t against control
// k by the delta method with independent arms:
//
//	Var ≈ Var(t̄)/k̄² + t̄²·Var(k̄)/k̄⁴,
//
// the same for k̄ < 0 because (t̄ − k̄)/|k̄| = ±(t̄/k̄ − 1). A zero (or so small
// that the numbers overflow) control has none.
//
// A non-negative metric cannot fall by more than 100%. When the delta
// method's interval (fixed or sequential, taken two-sided; the fixed one
// alone under Settings.FixedHorizon) would reach below −100% and both means
// are positive, the effect is tested on the log scale,
// as Katz et al. (1978) for the risk ratio:
//
//	ln(t̄/k̄) ± m·√(Var(t̄)/t̄² + Var(k̄)/k̄²),  interval exp(·) − 1,
//
// with the same critical value m and distribution, so the interval and its
// p-value still come from one test and the interval stays above −100%.
//
// ks and ts are k and t for the sequence (see sequentialArms).
func (a *analyzer) relative(k, t, ks, ts armStats, tt test, nonNegative bool) (Effect, bool) {
	if k.adjusted == 0 {
		return Effect{}, false
	}
	r := (t.adjusted - k.adjusted) / math.Abs(k.adjusted)
	k2 := k.adjusted * k.adjusted
	rse := math.Sqrt(t.v/k2 + t.adjusted*t.adjusted*k.v/(k2*k2))
	if !finite(r) || !finite(rse) || !finite(tt.seqMult*rse) || !(rse > 0) {
		return Effect{}, false
	}
	e := a.effect(r, rse, math.Sqrt(ts.v/k2+t.adjusted*t.adjusted*ks.v/(k2*k2)), tt)
	e.Method = "delta"
	if nonNegative && k.adjusted > 0 && t.adjusted > 0 && r-a.switchMultiplier(tt)*rse < -1 {
		l := math.Log(t.adjusted / k.adjusted)
		lse := math.Sqrt(t.v/(t.adjusted*t.adjusted) + k.v/k2)
		if finite(l) && finite(lse) && lse > 0 && finite(tt.seqMult*lse) {
			e = a.effect(l, lse, math.Sqrt(ts.v/(t.adjusted*t.adjusted)+ks.v/k2), tt)
			e.Estimate, e.Method = r, "log-ratio"
			e.Interval, e.Sequential = expm1Interval(e.Interval), expm1Interval(e.Sequential)
		}
	}
	// A control mean within its own two-sided interval of zero makes the
	// ratio meaningless: a tiny, uncertain denominator.
	if math.Abs(k.adjusted) < a.zCentral*math.Sqrt(k.v) {
		e.Note = fmt.Sprintf("the control mean %.3g is within %.3g of zero (its %s interval includes 0), so a relative change is not meaningful: read the absolute effect",
			k.adjusted, a.zCentral*math.Sqrt(k.v), a.s.Level())
	}
	return e, true
}

// switchMultiplier is how many SEs of the delta method's interval must stay
// above −100% to keep it: the wider of the two intervals, or the fixed
// horizon's alone when the sequence decides nothing (FixedHorizon).
func (a *analyzer) switchMultiplier(tt test) float64 {
	if a.s.FixedHorizon {
		return tt.crit
	}
	return math.Max(tt.crit, tt.seqMult)
}

// expm1Interval maps an interval of ln(t/c) to one of t/c − 1; an unbounded
// lower side becomes −100%.
func expm1Interval(iv Interval) Interval {
	out := Interval{Lower: math.Expm1(iv.Lower), Upper: math.Expm1(iv.Upper), UpperUnbounded: iv.UpperUnbounded}
	if iv.LowerUnbounded {
		out.Lower = -1
	}
	if iv.UpperUnbounded || !finite(out.Upper) {
		out.Upper, out.UpperUnbounded = 0, true
	}
	return out
}

// bonferroniIntervals gives every comparison, on both scales, its intervals
// at level 1 − α/m, m the comparisons of its family (see correct): each test
// at α/m is what the Bonferroni-adjusted p-value tests at α, so the adjusted
// interval excludes 0 exactly when the adjusted p-value is below α. The
// relative family can be smaller than the absolute one (a control mean of
// zero has no relative effect), so each scale counts its own m.
func (a *analyzer) bonferroniIntervals(res *Result) {
	for f := 0; f < 4; f += 2 { // the absolute, then the relative family
		m := 0
		for mi := range res.Metrics {
			for ci := range res.Metrics[mi].Comparisons {
				if raw, _ := pValues(&res.Metrics[mi].Comparisons[ci], f); raw != nil {
					m++
				}
			}
		}
		if m < 2 {
			continue // a family of one is not corrected (see correct)
		}
		alpha := a.s.Alpha / float64(m)
		for mi := range res.Metrics {
			for ci := range res.Metrics[mi].Comparisons {
				c := &res.Metrics[mi].Comparisons[ci]
				if raw, _ := pValues(c, f); raw == nil {
					continue
				}
				e := &c.Absolute
				if f >= 2 {
					e = c.Relative
				}
				fixed, sequential := a.s.IntervalsAt(*e, alpha, c.tt.df, c.tt.units)
				e.AdjustedInterval, e.AdjustedSequential = &fixed, &sequential
			}
		}
	}
}

// IntervalsAt returns the fixed-horizon and sequential intervals of e at
// level 1 − alpha, built as the analysis under s builds them at 1 − s.Alpha:
// the same alternative, distribution (a t test's df, 0 for the normal) and
// confidence sequence (its ρ tuned at s.Alpha, read at alpha, which is what
// its always-valid p-value tests against alpha), on the scale of e's test
// (ln(t/c) for a log-ratio effect, transformed back). units is the
// sequence's time, the units of both arms. A verdict corrected over k
// treatments reads its intervals at alpha = s.Alpha/k.
func (s Settings) IntervalsAt(e Effect, alpha, df, units float64) (fixed, seq Interval) {
	crit := critical(alpha, df, s.Alternative)
	q := newSequential(s.Alpha, s.SequentialTuning, s.Alternative)
	q.alpha = alpha
	center := e.Estimate
	if e.Method == "log-ratio" {
		center = e.Statistic * e.SE // ln(t/c)
	}
	if e.Method == MethodNewcombe && e.Units != nil {
		fixed = newcombeInterval(e.Estimate, newcombeReach(crit, e.Units[0], e.Units[1]), s.Alternative)
		if e.SequentialSE == 0 {
			// Stored before the sequence had the score test's SE: it
			// was the whole range [−1, 1], and reads back so.
			return fixed, newcombeInterval(0, 1, s.Alternative)
		}
		return fixed, newcombeInterval(e.Estimate, q.multiplier(units)*e.SequentialSE, s.Alternative)
	}
	fixed, seq = interval(center, crit*e.SE, s.Alternative), interval(center, q.multiplier(units)*cmp.Or(e.SequentialSE, e.SE), s.Alternative)
	if e.Method == "log-ratio" {
		fixed, seq = expm1Interval(fixed), expm1Interval(seq)
	}
	return fixed, seq
}

// critical is the critical value of a test at level alpha under alt
// (each tail α/2 when two-sided): Student's t with df degrees of freedom,
// the normal's for df 0.
func critical(alpha, df float64, alt Alternative) float64 {
	tail := alpha
	if alt == TwoSided {
		tail /= 2
	}
	if df > 0 {
		return -tQuantile(tail, df)
	}
	return -normQuantile(tail)
}
