package experiment

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/metric"
	"github.com/valueloop/valueloop/stats"
)

// Input is everything one analysis reads.
type Input struct {
	Environment string
	Flag        string
	// Definition is the flag as the environment defines it; nil when it
	// does not (only the flag's events are known): variant names are then
	// taken from the exposures and not checked.
	Definition *valueloop.Flag
	// Metrics are the environment's metric definitions.
	Metrics []metric.Metric
	// Aggregates are the flag's stored figures (cells of other flags are
	// ignored).
	Aggregates []metric.Aggregate
	// Splits is the flag's split history, oldest first (SplitHistory); nil
	// when unknown. With it, a flag whose users were assigned under several
	// splits (a rollout) is analysed period by period; without it, or with
	// weights set, the periods are pooled.
	Splits []SplitPeriod
	// Hypothesis, when not nil, is judged: the Result gets a Verdict.
	Hypothesis *Hypothesis
	// Settings are the analysis settings: the hypothesis' own, with any
	// overrides of the request.
	Settings Settings
	// Only restricts the metrics analysed to these keys; the hypothesis'
	// primary and guardrail metrics are always analysed. Empty means every
	// metric of the environment.
	Only []string
	// Dimension, when not empty, splits the result by that dimension of
	// Dimensions (the configured ones): Result.Dimension analyses each of
	// its values within DimensionAggregates, the flag's cells of that
	// dimension.
	Dimension           string
	Dimensions          []metric.Dimension
	DimensionAggregates []metric.Aggregate
	// Outside are the flag's cells of the users served outside its split
	// (metric.OutsideDimension): counted in Result.OutsideSplit only.
	Outside []metric.Aggregate
	// Now is the time of the analysis and Days the flag's cells by UTC
	// day of first exposure (metric.ExposureDayDimension, kept when a
	// metric has a window): with them each metric with a window says how
	// many users' windows may still be open (MetricResult.OpenWindows), and
	// Settings.ExcludeOpenWindows can leave them out. A zero Now means
	// the days were not read: neither is possible.
	Now  time.Time
	Days []metric.Aggregate
}

// Result is the analysis of a flag's experiment in one environment.
type Result struct {
	// split is each arm's share of the arms' users under the split now
	// (the last period's, with a split history): the allocation a fixed
	// plan is sized at (PlanInputs). Nil: the arms' Share.
	split map[string]float64
	// open are the users of each windowed metric whose window may still
	// be open (openWindows): a fixed plan's rule counts the users the
	// primary metric reads.
	open windowState
	// measures fingerprints the definitions of the hypothesis' primary and
	// guardrail metrics (measuresOf): a fixed decision's terms.
	measures    string
	Environment string `json:"environment"`
	Flag        string `json:"flag"`
	// Settings are the settings applied, control and weights resolved.
	Settings   Settings    `json:"settings"`
	Hypothesis *Hypothesis `json:"hypothesis,omitempty"`
	// Variants take part in the analysis, control first.
	Variants []Variant `json:"variants"`
	// Users is the number of users in the variants analysed.
	Users int64 `json:"users"`
	// Excluded counts users exposed to more than one variant, left out of
	// every figure; OtherUsers those whose variant takes no part (outside
	// the weights).
	Excluded   int64 `json:"excluded"`
	OtherUsers int64 `json:"otherUsers"`
	// OutsideSplit counts the users whose first exposure was served
	// outside the flag's split (a targeting rule, the default variant, a
	// static flag: Input.Outside), never randomised and left out of every
	// figure.
	OutsideSplit int64 `json:"outsideSplit"`
	// SRM is the sample-ratio-mismatch check of Users against the weights;
	// for a result by period, the period with the smallest p-value, a
	// mismatch when any period is one.
	SRM stats.SRM `json:"srm"`
	// Periods, for a flag whose split changed (a rollout), are the split
	// periods its users were first exposed in, oldest first: the arms are
	// compared within each period and combined with the periods' weights
	// (see docs/experiments.md, "Results after a rollout"). Absent when the
	// split never changed or the weights are forced.
	Periods []Period       `json:"periods,omitempty"`
	Metrics []MetricResult `json:"metrics"`
	// Dimension is the result split by Input.Dimension; nil without one.
	// The figures above stay those of all users, the verdict included.
	Dimension *DimensionSplit `json:"dimension,omitempty"`
	// Verdict judges the hypothesis; nil without one.
	Verdict *Verdict `json:"verdict,omitempty"`
	// Plan, under fixed inference once the planned sample was fixed (the
	// first look with a pilot large enough: FixedPlan), is that plan: the verdict's
	// remaining users, and the look that decides, are its. The server
	// applies it (FixedPlan.Apply); Analyze does not.
	Plan *FixedPlan `json:"plan,omitempty"`
	// VerdictHistory is the recorded transitions of the verdict, oldest
	// first; the server fills it, Analyze does not.
	VerdictHistory []VerdictRecord `json:"verdictHistory,omitempty"`
}

// Variant is one arm of the experiment.
type Variant struct {
	Name    string `json:"name"`
	Control bool   `json:"control,omitempty"`
	// Weight is the configured weight and Share its fraction of the total.
	Weight float64 `json:"weight"`
	Share  float64 `json:"share"`
	// Users is the number of users whose first exposure was this variant.
	Users int64 `json:"users"`
}

// Role is what a metric is to the hypothesis.
type Role string

const (
	RolePrimary   Role = "primary"
	RoleGuardrail Role = "guardrail"
)

// MetricResult is one metric in every variant.
type MetricResult struct {
	Metric    string            `json:"metric"`
	Name      string            `json:"name,omitempty"`
	Kind      metric.MetricKind `json:"kind"`
	Direction metric.Direction  `json:"direction"`
	// Analysis is how package stats analysed it.
	Analysis stats.Kind `json:"analysis"`
	Role     Role       `json:"role,omitempty"`
	// CUPED is true when variance reduction changed the estimates: CUPED
	// is on and the pre-exposure covariate varies. Theta is its
	// coefficient.
	CUPED bool    `json:"cuped"`
	Theta float64 `json:"theta"`
	// Variants holds one entry per variant, control first.
	Variants []VariantResult `json:"variants"`
	// OpenWindows, for a metric with a window in an analysis that read the
	// cells by day of first exposure (Input.Days), counts the users whose
	// window may still be open; absent otherwise.
	OpenWindows *OpenWindows `json:"openWindows,omitempty"`
}

// Estimate names what a variant's Mean is for this metric, for the heading
// of the column that shows it: the arm's quantile for a quantile metric,
// the ratio of its sums for a ratio, else the mean per user (a proportion
// for a conversion). The JSON field stays "mean" for every kind.
func (m MetricResult) Estimate() string {
	switch m.Kind {
	case metric.Quantile:
		return "quantile"
	case metric.Ratio:
		return "ratio"
	}
	return "mean"
}

// VariantResult is one metric in one variant: for a treatment, compared
// with control. When Status is not "ok", Reason says why and the numbers
// that could not be computed are absent rather than zero.
type VariantResult struct {
	Variant string `json:"variant"`
	Control bool   `json:"control,omitempty"`
	// Users is the number of users with a value of the metric: every user
	// of the variant, except for a mean metric, which counts the users with
	// at least one event.
	Users int64 `json:"users"`
	// Status is the arm's for control, the comparison's for a treatment.
	Status stats.Status `json:"status"`
	Reason string       `json:"reason,omitempty"`
	// Mean is the observed mean (proportion, ratio); absent without users.
	Mean *float64 `json:"mean,omitempty"`
	// AdjustedMean is the CUPED-adjusted mean that comparisons use, and SE
	// its standard error; absent when the arm has not enough data.
	AdjustedMean *float64 `json:"adjustedMean,omitempty"`
	SE           *float64 `json:"se,omitempty"`
	// Lift compares a treatment with control; absent for control and when
	// there is not enough data.
	Lift *Lift `json:"lift,omitempty"`
}

// Lift is a treatment compared with control, as package stats computes it.
type Lift struct {
	// Absolute is treatment − control and Relative treatment / control − 1
	// (absent when the control mean is zero), each with its fixed-horizon
	// interval and its always-valid sequential interval.
	Absolute stats.Effect  `json:"absolute"`
	Relative *stats.Effect `json:"relative,omitempty"`
	// PValue and SequentialPValue are raw; the Adjusted ones are corrected
	// for multiple testing across every comparison of the result.
	PValue                   float64 `json:"pValue"`
	AdjustedPValue           float64 `json:"adjustedPValue"`
	SequentialPValue         float64 `json:"sequentialPValue"`
	AdjustedSequentialPValue float64 `json:"adjustedSequentialPValue"`
	// ChanceToWin is the Bayesian probability that the treatment is better
	// than control (better as the metric's direction says), and
	// ExpectedLoss what shipping it costs in the metric's units if it is not.
	ChanceToWin  float64        `json:"chanceToWin"`
	ExpectedLoss float64        `json:"expectedLoss"`
	Credible     stats.Interval `json:"credible"`
	DF           float64        `json:"df,omitempty"`
	Statistic    float64        `json:"statistic"`
}

// Analyze computes the Result of in: validation, the variants and their
// weights, the statistics, and the verdict when there is a hypothesis.
// Invalid settings, unknown metrics and a hypothesis naming a metric or
// variant that does not exist are EINVALID errors naming the field; too
// little data never is an error.
func Analyze(in Input) (*Result, error) {
	s := in.Settings
	if err := s.Validate(); err != nil {
		return nil, err
	}
	var flagVariants []string
	if in.Definition != nil {
		flagVariants = variantNames(in.Definition.Variants)
	}
	if err := checkVariants(s, flagVariants); err != nil {
		return nil, err
	}
	var h *Hypothesis
	if in.Hypothesis != nil {
		c := *in.Hypothesis
		c.Settings = s
		if err := c.Normalize(in.Metrics, flagVariants); err != nil {
			if e, ok := err.(*valueloop.Error); ok && !strings.HasPrefix(e.Field, "settings.") {
				err = valueloop.PrefixField("hypothesis.", err)
			}
			return nil, err
		}
		h = &c
	}
	metrics, err := selectMetrics(in.Metrics, in.Only, h)
	if err != nil {
		return nil, err
	}
	var dim metric.Dimension
	if in.Dimension != "" {
		if dim, err = FindDimension(in.Dimensions, in.Dimension); err != nil {
			return nil, err
		}
	}

	open, err := openWindows(&in, metrics)
	if err != nil {
		return nil, err
	}
	cells := newCells(in.Flag, in.Aggregates)
	var pcs periodCells
	var arms []Variant
	var unchecked string
	if stratified(in, in.Flag) {
		pcs = byPeriod(in.Flag, in.Aggregates)
		arms, err = periodArms(in.Definition, pcs, in.Splits, s)
		if first := in.Splits[0]; err != nil && len(pcs.starts) == 1 && pcs.starts[0] == 0 && len(first.Weights) < 2 {
			// Every user came while the split served one variant (before a
			// rollout started): the arms are the flag's now, and there is
			// no ratio to check yet.
			pcs = periodCells{}
			arms, _, err = resolveArms(in.Definition, cells, s)
			if err == nil {
				unchecked = periodUnchecked(first, arms)
			}
		}
	} else {
		arms, unchecked, err = resolveArms(in.Definition, cells, s)
		if n := len(in.Splits); unchecked == "" && len(s.Weights) == 0 && n > 0 {
			// The flag's split now may have been its split under versions
			// whose splits disagreed (one period, SplitHistory): the users
			// exposed then are not known to have its shares either.
			unchecked = in.Splits[n-1].Unknown
		}
	}
	if err != nil {
		return nil, err
	}
	s.SplitUnknown = unchecked != ""
	s.Control = arms[0].Name
	s.Weights = make(map[string]float64, len(arms))

	res := &Result{Environment: in.Environment, Flag: in.Flag, Hypothesis: h, Variants: arms, Excluded: cells.excluded, open: open}
	if h != nil {
		res.measures = measuresOf(h, in.Metrics)
	}
	for _, a := range in.Outside {
		if a.Metric == "" {
			res.OutsideSplit += a.Sums.N
		}
	}
	si := stats.Input{Variants: make([]stats.Variant, len(arms)), Metrics: make([]stats.Metric, len(metrics))}
	var wsum float64
	for _, a := range arms {
		wsum += a.Weight
	}
	for i := range arms {
		a := &res.Variants[i]
		a.Users = cells.users[a.Name]
		a.Share = a.Weight / wsum
		res.Users += a.Users
		if pcs.starts == nil {
			s.Weights[a.Name] = a.Weight
		}
		si.Variants[i] = stats.Variant{Name: a.Name, Weight: a.Weight, Units: a.Users}
	}
	for name, n := range cells.users {
		if !slices.ContainsFunc(arms, func(a Variant) bool { return a.Name == name }) {
			res.OtherUsers += n
		}
	}
	if pcs.starts != nil && len(in.Splits) > 0 {
		res.split = map[string]float64{}
		now := in.Splits[len(in.Splits)-1].Weights
		var sum float64
		for _, a := range arms {
			sum += now[a.Name]
		}
		for _, a := range arms {
			if sum > 0 {
				res.split[a.Name] = now[a.Name] / sum
			}
		}
	}
	if pcs.starts != nil {
		s.Weights = nil // each period's own, in Periods
		si.Strata = strata(pcs, in.Splits, arms, metrics)
	}
	res.Settings = s
	for i, m := range metrics {
		sm := stats.Metric{Name: m.Key, Kind: m.StatsKind(), NonNegative: nonNegative(m), LowerIsBetter: m.Direction == metric.LowerIsBetter, Summaries: make([]stats.Summary, len(arms))}
		for j, a := range arms {
			sm.Summaries[j] = cells.summary(a.Name, m)
		}
		si.Metrics[i] = sm
	}
	st := s.Settings
	// Under fixed inference the sequence decides nothing, so it takes no
	// part in the choice of the relative effect's test either.
	st.FixedHorizon = s.Inference == Fixed
	sr, err := stats.Analyze(st, si)
	if err != nil {
		return nil, err
	}
	res.SRM = sr.SRM
	if unchecked != "" {
		res.SRM.Reason = unchecked
	}
	if pcs.starts != nil {
		res.Periods = periods(si.Strata, sr.Strata, pcs, arms, in.Splits)
		for _, p := range res.Periods {
			if p.SRM.Mismatch && p.SRM.Reason == ruledMismatch {
				res.SRM.Reason = ruledMismatch
			}
		}
	} else if res.SRM.Mismatch && len(in.Settings.Weights) > 0 {
		res.SRM.Reason = givenMismatch // the caller's weights, not a rule, may be wrong
	} else if res.SRM.Mismatch && unstratifiedRuled(in) {
		res.SRM.Reason = ruledMismatch
	}
	res.Metrics = make([]MetricResult, len(metrics))
	for i, m := range metrics {
		res.Metrics[i] = metricResult(m, h, si.Metrics[i], sr.Metrics[i], s.CUPED)
		res.Metrics[i].OpenWindows = open.of(m, arms)
	}
	if h != nil {
		res.Verdict = judge(res, h)
	}
	if in.Dimension != "" {
		if res.Dimension, err = splitByDimension(in, res, dim); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// selectMetrics returns the metrics to analyse: the hypothesis' primary
// metric, its guardrails, then the others (all, or those named in only) by
// key. An unknown key's error names the field "metric", the query
// parameter and CLI flag that give only.
func selectMetrics(all []metric.Metric, only []string, h *Hypothesis) ([]metric.Metric, error) {
	byKey := make(map[string]int, len(all))
	for i, m := range all {
		byKey[m.Key] = i
	}
	for _, k := range only {
		if _, ok := byKey[k]; !ok {
			return nil, valueloop.FieldErrorf("metric", "no metric %q in this environment (have %s)", k, metricKeys(all))
		}
	}
	out := make([]metric.Metric, 0, len(all))
	taken := make(map[string]bool, len(all))
	take := func(k string) {
		if !taken[k] {
			taken[k] = true
			out = append(out, all[byKey[k]])
		}
	}
	if h != nil {
		take(h.PrimaryMetric)
		for _, g := range h.Guardrails {
			take(g.Metric)
		}
	}
	rest := only
	if len(only) == 0 {
		rest = metric.Keys(all)
	}
	rest = slices.Clone(rest)
	slices.Sort(rest)
	for _, k := range rest {
		take(k)
	}
	return out, nil
}

// cells indexes a flag's aggregates.
type cells struct {
	users    map[string]int64 // per variant
	excluded int64
	sums     map[[2]string]*metric.Sums // (variant, metric)
	conv     summarizer
}

func newCells(flag string, aggs []metric.Aggregate) *cells {
	c := &cells{users: map[string]int64{}, sums: make(map[[2]string]*metric.Sums, len(aggs))}
	for i := range aggs {
		a := &aggs[i]
		switch {
		case a.Flag != flag:
		case a.Dimension != "":
			// A slice, the users outside the split, a day of exposure: a
			// recomputation returns them beside the cells of all users,
			// which they would count twice.
		case a.Variant == "":
			c.excluded += a.Sums.N
		case a.Metric == "":
			c.users[a.Variant] += a.Sums.N
		default:
			k := [2]string{a.Variant, a.Metric}
			if s, ok := c.sums[k]; ok { // several periods: pooled
				sum := *s
				sum.Add(a.Sums)
				c.sums[k] = &sum
				continue
			}
			c.sums[k] = &a.Sums
		}
	}
	return c
}

func (c *cells) summary(variant string, m metric.Metric) stats.Summary {
	s, ok := c.sums[[2]string{variant, m.Key}]
	switch {
	case !ok:
		return stats.Summary{}
	case m.Kind == metric.Quantile:
		return metric.SummaryOf(m, *s)
	}
	return c.conv.summary(s)
}

// resolveArms picks the variants that take part and their weights, control
// first, the others by name: the weights of the settings, else the flag's
// fractional split, else every variant with exposures (the flag's variants
// when fewer than two have any) at equal weights. unchecked is why the
// weights are not the users' expected shares ("" when they are): the
// sample-ratio check then does not apply.
func resolveArms(def *valueloop.Flag, c *cells, s Settings) (arms []Variant, unchecked string, err error) {
	arms, err = pickArms(def, c, s)
	return arms, uncheckedSplit(def, s), err
}

// uncheckedSplit is why the weights resolveArms picks do not say what
// share of the users each variant should have, "" when they do: weights
// set in the settings are taken as the caller's word, and a flag's split
// is its randomised users' chances when it is enabled and every split a
// user may reach agrees with it (splitsDisagree). Rules around the split
// may serve its variants: their users are recorded outside the split, and
// when one is not (ruledMismatch) the check says so.
func uncheckedSplit(def *valueloop.Flag, s Settings) string {
	switch {
	case len(s.Weights) > 0:
		return ""
	case def == nil:
		return "the flag is not defined in this environment, so its split is not known"
	case def.State == valueloop.StateDisabled:
		return "the flag is disabled (everyone gets its default variant), so no split assigned these users; set weights=… to test an earlier split"
	}
	return splitsDisagree(def.Targeting)
}

// ruledMismatch is the reason a failed sample-ratio check gives when a
// targeting rule may serve a variant of the flag's split: the users it
// served count as randomised unless their exposures say otherwise, which
// is the likeliest cause.
const ruledMismatch = "a targeting rule may serve a variant of the split, and users it served whose exposures count as randomised (sent without reason or split, or with TARGETING_MATCH as flagd's in-process providers answer for a split) skew the ratio: send split=false with theirs"

// unstratifiedRuled is whether a rule may have served a variant of the
// split to the users of a result not analysed by period: with a split
// history they were all exposed in its first period (none in a later one,
// or the result would be stratified), whose rules are the ones to blame,
// not the flag's rules now.
func unstratifiedRuled(in Input) bool {
	if len(in.Splits) > 0 {
		return in.Splits[0].Ruled
	}
	return ruledBy(in.Definition)
}

// givenMismatch is the reason a failed sample-ratio check gives when its
// weights were set in the analysis settings: they are the caller's word,
// not the flag's split, so they are as likely a cause as any rule.
const givenMismatch = "the weights given in the analysis settings (weights=…) may not be the shares these users were assigned with: check them against the flag's split when these users were exposed"

func pickArms(def *valueloop.Flag, c *cells, s Settings) ([]Variant, error) {
	weights := s.Weights
	source := "settings.weights"
	if len(weights) == 0 && def != nil {
		if split, ok := FractionalSplit(def.Targeting); ok {
			weights, source = map[string]float64{}, "the flag's fractional split"
			for k, w := range split {
				if w > 0 {
					weights[k] = w
				}
			}
		}
	}
	if len(weights) == 0 {
		weights, source = map[string]float64{}, "the variants with exposures"
		for k, n := range c.users {
			if n > 0 {
				weights[k] = 1
			}
		}
		if s.Control != "" {
			weights[s.Control] = 1
		}
		if len(weights) < 2 && def != nil {
			source = "the flag's variants"
			for k := range def.Variants {
				weights[k] = 1
			}
		}
	}
	return orderArms(def, weights, source, s.Control, c)
}

// orderArms picks control among the variants of weights (the settings',
// else the flag's default variant, else "control", else the first by name)
// and returns the arms, control first, the others by name.
func orderArms(def *valueloop.Flag, weights map[string]float64, source, control string, c *cells) ([]Variant, error) {
	if len(weights) < 2 {
		if source == "the flag's fractional split" {
			var exposed []string
			for _, k := range sortedKeys(c.users) {
				if c.users[k] > 0 && weights[k] == 0 {
					exposed = append(exposed, k)
				}
			}
			if len(exposed) > 0 {
				// A finished rollout (or any split moved on purpose): its users
				// were assigned under earlier splits that the aggregates do not
				// record, so neither the weights now nor any fixed weights
				// describe them.
				return nil, valueloop.FieldErrorf("settings.weights", "the flag's split now serves %s only, but users were exposed to %s under an earlier split (a rollout?): their periods of first exposure are not known (aggregates kept before periods were, or a store without the flag's history: rebuild the aggregates), so this split cannot be analysed as one experiment; weights=… analyses it as if the split had been fixed, and the SRM check then tests that assumption, not the assignment",
					strings.Join(sortedKeys(weights), ", "), strings.Join(exposed, ", "))
			}
		}
		return nil, valueloop.FieldErrorf("settings.weights", "an experiment needs a control and at least one treatment, but %s give %d variant(s): set the weights, e.g. weights=control:50,treatment:50", source, len(weights))
	}
	names := sortedKeys(weights)
	if control == "" {
		switch {
		case def != nil && def.DefaultVariant != nil && weights[*def.DefaultVariant] > 0:
			control = *def.DefaultVariant
		case weights["control"] > 0:
			control = "control"
		default:
			control = names[0]
		}
	} else if _, ok := weights[control]; !ok {
		return nil, valueloop.FieldErrorf("settings.control", "variant %q takes no part: %s give %s", control, source, strings.Join(names, ", "))
	}
	arms := make([]Variant, 0, len(names))
	arms = append(arms, Variant{Name: control, Control: true, Weight: weights[control]})
	for _, n := range names {
		if n != control {
			arms = append(arms, Variant{Name: n, Weight: weights[n]})
		}
	}
	return arms, nil
}

func metricResult(m metric.Metric, h *Hypothesis, in stats.Metric, r stats.MetricResult, cuped bool) MetricResult {
	out := MetricResult{
		Metric: m.Key, Name: m.Name, Kind: m.Kind, Direction: m.Direction, Analysis: r.Kind,
		CUPED: cuped && r.Theta != 0, Theta: r.Theta,
		Variants: make([]VariantResult, len(r.Arms)),
	}
	if out.Direction == "" {
		out.Direction = metric.HigherIsBetter
	}
	if h != nil {
		if m.Key == h.PrimaryMetric {
			out.Role = RolePrimary
		}
		for _, g := range h.Guardrails {
			if g.Metric == m.Key {
				out.Role = RoleGuardrail
			}
		}
	}
	for i, a := range r.Arms {
		v := &out.Variants[i]
		v.Variant, v.Control, v.Users, v.Status = a.Variant, i == 0, a.N, a.Status
		sm := in.Summaries[i]
		if a.N > 0 && !(r.Kind == stats.Ratio && sm.DenMean == 0) {
			v.Mean = ptr(a.Estimate)
		}
		if a.Status == stats.OK {
			v.AdjustedMean, v.SE = ptr(a.Adjusted), ptr(a.SE)
		} else {
			v.Reason = armReason(r.Kind, sm)
		}
		if i == 0 {
			continue
		}
		c := r.Comparisons[i-1]
		v.Status = c.Status
		// An arm's shortfall is said in users, as the arm's own row says
		// it; stats, which knows only units, says the rest.
		switch {
		case c.Status == stats.OK:
		case r.Arms[0].Status != stats.OK:
			v.Reason = out.Variants[0].Variant + ": " + out.Variants[0].Reason
		case a.Status != stats.OK: // v.Reason is the arm's own
		default:
			v.Reason = c.Reason
		}
		if c.Status != stats.OK {
			continue
		}
		v.Lift = &Lift{
			Absolute: c.Absolute, Relative: c.Relative,
			PValue: c.PValue, AdjustedPValue: c.AdjustedPValue,
			SequentialPValue: c.SequentialPValue, AdjustedSequentialPValue: c.AdjustedSequentialPValue,
			ChanceToWin: c.ChanceToBeat, ExpectedLoss: c.ExpectedLoss, Credible: c.Credible,
			DF: c.DF, Statistic: c.Statistic,
		}
	}
	return out
}

// armReason says why an arm has not enough data (stats reports only the
// status of an arm).
func armReason(kind stats.Kind, s stats.Summary) string {
	switch {
	case s.N < 2:
		return fmt.Sprintf("%v: need at least 2 users, have %d", stats.ErrNotEnoughData, s.N)
	case kind == stats.Ratio && s.DenMean == 0:
		return fmt.Sprintf("%v: the ratio's denominator averages zero", stats.ErrNotEnoughData)
	}
	return stats.ErrNotEnoughData.Error()
}

func ptr(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

// nonNegative says whether a metric's values can never be negative: a
// conversion or a count. Sums, means and ratios of event values may be
// (profit, a net change).
func nonNegative(m metric.Metric) bool { return nonNegativeKind(m.Kind) }

// nonNegativeKind says a metric of kind k is never negative.
func nonNegativeKind(k metric.MetricKind) bool { return k == metric.Conversion || k == metric.Count }
