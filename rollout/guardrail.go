package rollout

import (
	"fmt"
	"math"
	"slices"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/metric"
	"github.com/valueloop/valueloop/stats"
)

// Guardrail statuses. The engine advances unless harm is detected, as
// LaunchDarkly and Kayenta do; the statuses say how much that means:
//
//	ok                the interval shows non-inferiority: its harmful bound is
//	                  within the tolerance
//	no_harm_detected  the interval contains the tolerance: no harm beyond it
//	                  is shown, and none is ruled out either
//	breached          the interval lies entirely beyond the tolerance
//	not_enough_data   no interval yet (Reason says what is missing)
const (
	GuardrailOK             = "ok"
	GuardrailNoHarmDetected = "no_harm_detected"
	GuardrailBreached       = "breached"
	GuardrailNotEnoughData  = "not_enough_data"
)

// GuardrailResult is one guardrail judged on the figures so far.
type GuardrailResult struct {
	Metric    string           `json:"metric"`
	Direction metric.Direction `json:"direction"`
	Tolerance float64          `json:"tolerance"`
	// Status is ok (no significant breach), breached, or not_enough_data
	// (Reason says what is missing).
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
	// BaselineUsers and VariantUsers are the users measured in each variant.
	BaselineUsers int64 `json:"baselineUsers"`
	VariantUsers  int64 `json:"variantUsers"`
	// Baseline and Value are the metric's estimate in each variant (a rate,
	// a mean or a ratio).
	Baseline float64 `json:"baseline"`
	Value    float64 `json:"value"`
	// Change is the relative change Value/Baseline − 1 (CUPED-adjusted when
	// users have history) and Interval its always-valid confidence sequence
	// at the plan's level, which is safe to look at any time.
	Change   float64        `json:"change"`
	Interval stats.Interval `json:"interval"`
	// Level is the confidence level of Interval (1 − alpha per guardrail).
	Level float64 `json:"level"`
	// NeededUsers is the number of users of the released variant with which,
	// at the current step's split, the interval detects a harm of the
	// tolerated size with the plan's power (and shows non-inferiority with
	// that power when there is no harm); 0 when it cannot be computed (a
	// tolerance of 0, a step at 100%, not enough data for the variance).
	NeededUsers int64 `json:"neededUsers,omitempty"`
	// FromZero marks a breach from a zero baseline, which has no relative
	// change: it is judged on the absolute difference's always-valid
	// interval (Reason states it), and Change and Interval are unset.
	FromZero bool `json:"fromZero,omitempty"`
}

// HasRelative reports whether Change and Interval hold a relative change:
// not without enough data, nor for a harm from a zero baseline (FromZero).
func (g GuardrailResult) HasRelative() bool {
	return g.Status != GuardrailNotEnoughData && !g.FromZero
}

// Breached reports whether the interval lies entirely beyond the tolerance
// in the harmful direction.
func (g GuardrailResult) Breached() bool { return g.Status == GuardrailBreached }

// Users returns the exposed users per variant of a flag from its
// aggregates: the users whose first exposure was that variant, not counting
// those excluded for having seen several, over every split period.
func Users(aggs []metric.Aggregate) map[string]int64 {
	out := map[string]int64{}
	for _, a := range aggs {
		if a.Metric == "" && a.Variant != "" {
			out[a.Variant] += a.Sums.N
		}
	}
	return out
}

// guardrailCells are a flag's cells by (variant, metric): pooled over the
// split periods, and per period (sorted by start).
type guardrailCells struct {
	pooled  map[[2]string]metric.Sums
	periods []map[[2]string]metric.Sums
}

func newGuardrailCells(aggs []metric.Aggregate) guardrailCells {
	c := guardrailCells{pooled: map[[2]string]metric.Sums{}}
	var starts []int64
	byStart := map[int64]map[[2]string]metric.Sums{}
	for _, a := range aggs {
		k := [2]string{a.Variant, a.Metric}
		s := c.pooled[k]
		s.Add(a.Sums)
		c.pooled[k] = s
		if byStart[a.Period] == nil {
			byStart[a.Period] = map[[2]string]metric.Sums{}
			starts = append(starts, a.Period)
		}
		byStart[a.Period][k] = a.Sums
	}
	if len(starts) > 1 {
		slices.Sort(starts)
		for _, p := range starts {
			c.periods = append(c.periods, byStart[p])
		}
	}
	return c
}

// strata returns, when the users came in several split periods (the steps
// of the rollout), the stratified input of metric key: each step compared
// on its own and the steps combined with the Mantel–Haenszel weights of
// package stats, so that a later, larger share of the variant does not meet
// whatever changed over time.
func (c guardrailCells) strata(m metric.Metric, baseline, variant string) []stats.Stratum {
	var out []stats.Stratum
	served := []float64{1, 1}
	for _, cells := range c.periods {
		b, v := metric.SummaryOf(m, cells[[2]string{baseline, m.Key}]), metric.SummaryOf(m, cells[[2]string{variant, m.Key}])
		units := []int64{cells[[2]string{baseline, ""}].N, cells[[2]string{variant, ""}].N}
		// Both variants served: their ratio would matter only to the SRM
		// check, which guardrails skip (stats.Settings.SplitUnknown).
		out = append(out, stats.Stratum{Weights: served, Units: units, Summaries: [][]stats.Summary{{b, v}}})
	}
	return out
}

// Guardrails judges each guardrail of p from the flag's aggregates, with
// the metric definitions of the environment. A guardrail is breached when
// the always-valid interval of the relative change lies entirely beyond the
// tolerance in the harmful direction: for a lower-is-better metric, when
// even the lower bound is a rise of more than Tolerance.
//
// It is ok when the harmful bound is within the tolerance (non-inferiority),
// and no_harm_detected when the interval contains the tolerance. percent is
// the share of users the variant is served now, for NeededUsers.
func Guardrails(p *Plan, percent float64, metrics []metric.Metric, aggs []metric.Aggregate) []GuardrailResult {
	return guardrails(p, percent, metrics, aggs, nil)
}

// guardrails is Guardrails with the step's sizing memo (nil: none).
func guardrails(p *Plan, percent float64, metrics []metric.Metric, aggs []metric.Aggregate, sizing *stepSizing) []GuardrailResult {
	if len(p.Guardrails) == 0 {
		return nil
	}
	byKey := map[string]metric.Metric{}
	for _, m := range metrics {
		byKey[m.Key] = m
	}
	cells := newGuardrailCells(aggs)
	alpha := p.Alpha / float64(len(p.Guardrails))
	settings := stats.Settings{
		Alpha:            alpha,
		Alternative:      stats.TwoSided,
		SequentialTuning: p.SequentialTuning,
		CUPED:            true,
		Correction:       stats.NoCorrection,
		// A guardrail judges a metric, not the assignment: the engine has
		// the split of the current step only, not of each period the users
		// came in, so a sample-ratio check here would test an assumed
		// split and be ignored. The flag's results check it per period
		// with the recorded split history (package experiment).
		SplitUnknown: true,
	}
	out := make([]GuardrailResult, len(p.Guardrails))
	for i, g := range p.Guardrails {
		r := &out[i]
		*r = GuardrailResult{Metric: g.Metric, Direction: g.Direction, Tolerance: g.Tolerance, Level: 1 - alpha}
		m, ok := byKey[g.Metric]
		if !ok {
			r.Status, r.Reason = GuardrailNotEnoughData, fmt.Sprintf("metric %q is no longer defined", g.Metric)
			continue
		}
		base := metric.SummaryOf(m, cells.pooled[[2]string{p.Baseline, g.Metric}])
		cand := metric.SummaryOf(m, cells.pooled[[2]string{p.Variant, g.Metric}])
		r.BaselineUsers, r.VariantUsers = base.N, cand.N
		if base.N < p.MinSample || cand.N < p.MinSample {
			r.Status = GuardrailNotEnoughData
			r.Reason = fmt.Sprintf("needs %s in each variant, has %d in %s and %d in %s", valueloop.Count(p.MinSample, "user"), base.N, p.Baseline, cand.N, p.Variant)
			r.Baseline, r.Value = estimate(m, base), estimate(m, cand)
			continue
		}
		res, err := stats.Analyze(settings, stats.Input{
			// Weight 1: served (SplitUnknown: no split is assumed).
			Variants: []stats.Variant{{Name: p.Baseline, Weight: 1, Units: base.N}, {Name: p.Variant, Weight: 1, Units: cand.N}},
			Metrics: []stats.Metric{{
				Name: g.Metric, Kind: m.StatsKind(), LowerIsBetter: g.Direction == metric.LowerIsBetter,
				// Counts and conversions cannot fall below zero: their
				// relative interval stays above −100%.
				NonNegative: m.Kind == metric.Conversion || m.Kind == metric.Count,
				Summaries:   []stats.Summary{base, cand},
			}},
			Strata: cells.strata(m, p.Baseline, p.Variant),
		})
		if err != nil {
			r.Status, r.Reason = GuardrailNotEnoughData, err.Error()
			continue
		}
		mr := res.Metrics[0]
		r.Baseline, r.Value = mr.Arms[0].Estimate, mr.Arms[1].Estimate
		c := mr.Comparisons[0]
		switch {
		case c.Status != stats.OK:
			r.Status, r.Reason = GuardrailNotEnoughData, c.Reason
			continue
		case c.Relative == nil:
			r.Status, r.Reason = GuardrailNotEnoughData, "the baseline is 0, so there is no relative change yet"
			if c.Absolute.Method == stats.MethodNewcombe {
				// 0% against 100%, either way: the note says why there is
				// neither a relative change nor a sequential interval.
				r.Reason = c.Absolute.Note
			}
			// A fall from 100% to none (Newcombe's other case) is −100%,
			// beyond any tolerance below that.
			if harmFromZero(g.Direction, c.Absolute.Sequential) && (r.Baseline == 0 || g.Tolerance < 1) {
				// Any harm from 0 is an infinite relative change, beyond
				// every tolerance: shown once the absolute difference's
				// interval lies wholly on the harmful side of 0.
				r.Status, r.FromZero = GuardrailBreached, true
				r.Reason = zeroBreachReason(*r, p, c.Absolute)
			}
			continue
		}
		r.Change, r.Interval = c.Relative.Estimate, c.Relative.Sequential
		// Harm is positive when worse: the rise of a lower-is-better metric,
		// the fall of a higher-is-better one.
		harmLo, harmHi := r.Interval.Lower, r.Interval.Upper
		if g.Direction == metric.HigherIsBetter {
			harmLo, harmHi = -r.Interval.Upper, -r.Interval.Lower
		}
		switch {
		case harmLo > g.Tolerance:
			r.Status = GuardrailBreached
			r.Reason = breachReason(*r, p)
		case harmHi <= g.Tolerance:
			r.Status = GuardrailOK
		default:
			r.Status = GuardrailNoHarmDetected
		}
		in := sizingInput{alpha: alpha, se: c.Relative.SE, nb: base.N, nv: cand.N, tol: g.Tolerance, percent: percent}
		r.NeededUsers = sizing.needed(g.Metric, in, func() int64 {
			return neededUsers(p, alpha, in.se, in.nb, in.nv, in.tol, in.percent)
		})
	}
	return out
}

// stepSizing remembers, for the current step of one rollout, the users each
// guardrail needs and the figures they were worked out from: neededUsers
// iterates a sample size to a fixed point, and the engine ticks every few
// seconds on figures that mostly did not change since the last tick. It is
// reset when the step changes.
type stepSizing struct {
	step     int
	last     map[string]sizingEntry
	computed int // how many times neededUsers ran, for tests
}

type sizingInput struct {
	alpha, se, tol, percent float64
	nb, nv                  int64
}

type sizingEntry struct {
	in   sizingInput
	need int64
}

// needed returns what compute returns for in, computing it only when the
// guardrail's figures changed since the last call.
func (s *stepSizing) needed(metric string, in sizingInput, compute func() int64) int64 {
	if s == nil {
		return compute()
	}
	if e, ok := s.last[metric]; ok && e.in == in {
		return e.need
	}
	n := compute()
	s.computed++
	if s.last == nil {
		s.last = map[string]sizingEntry{}
	}
	s.last[metric] = sizingEntry{in, n}
	return n
}

// neededUsers is the number of users of the released variant with which the
// guardrail's confidence sequence, at level 1 − alpha, detects a relative
// harm of tol with the plan's power when the variant is served to percent of
// users (the baseline to the rest). With σ the per-user standard deviation
// of the relative change, estimated from its standard error se at nb
// baseline and nv variant users as σ = se / √(1/nb + 1/nv), and q = percent/100,
// it solves
//
//	(m(n/q) + z_power) · σ · √(1/(n(1 − q))) = tol
//
// for n, where m(t) is the sequence's multiplier at t users in both arms
// (found by fixed-point iteration, as m grows slowly with t). It is 0 when
// it cannot be computed.
func neededUsers(p *Plan, alpha, se float64, nb, nv int64, tol, percent float64) int64 {
	q := percent / 100
	if !(tol > 0) || !(q > 0 && q < 1) || !(se > 0) || nb < 2 || nv < 2 {
		return 0
	}
	sd := se / math.Sqrt(1/float64(nb)+1/float64(nv))
	power := p.Power
	if power == 0 {
		power = DefaultPower
	}
	total := float64(nb + nv)
	var need float64
	for range 30 {
		m := stats.SequentialMultiplier(alpha, p.SequentialTuning, total)
		plan := stats.Plan{Alpha: math.Erfc(m/math.Sqrt2) / 2, Alternative: stats.Greater, Power: power, SD: sd, Ratio: q / (1 - q)}
		_, nt, err := plan.SampleSize(tol)
		if err != nil || !(nt < 1e12) {
			return 0
		}
		next := nt / q
		if math.Abs(next-total) < 0.5 {
			need = nt
			break
		}
		total, need = next, nt
	}
	return int64(math.Ceil(need))
}

// estimate is the metric's value from its summary when the analysis is not
// run.
func estimate(m metric.Metric, s stats.Summary) float64 {
	if m.Kind == metric.Ratio {
		if s.DenMean == 0 {
			return 0
		}
		return s.Mean / s.DenMean
	}
	return s.Mean
}

func breachReason(r GuardrailResult, p *Plan) string {
	worse := "rose"
	limit := "+" + pct(r.Tolerance)
	if r.Direction == metric.HigherIsBetter {
		worse, limit = "fell", "-"+pct(r.Tolerance)
	}
	return fmt.Sprintf("guardrail %s %s: %s is %s vs %s for %s (%s, %.4g%% interval %s), beyond the tolerated %s",
		r.Metric, worse, p.Variant, num(r.Value), num(r.Baseline), p.Baseline,
		signedPct(r.Change), r.Level*100, IntervalString(r.Interval), limit)
}

// harmFromZero reports whether an absolute difference's interval lies
// wholly on the harmful side of 0.
func harmFromZero(dir metric.Direction, iv stats.Interval) bool {
	if dir == metric.HigherIsBetter {
		return !iv.UpperUnbounded && iv.Upper < 0
	}
	return !iv.LowerUnbounded && iv.Lower > 0
}

// zeroBreachReason is breachReason for a zero baseline, in absolute terms:
// there is no relative change to state; or for a baseline at 100% against
// a variant at none, whose −100% has no interval (stats' Newcombe case).
func zeroBreachReason(r GuardrailResult, p *Plan, abs stats.Effect) string {
	worse := "rose"
	if r.Direction == metric.HigherIsBetter {
		worse = "fell"
	}
	beyond := "beyond any tolerance of a zero baseline"
	if r.Baseline != 0 { // every baseline user converted, no variant user
		beyond = "a fall of 100%, beyond the tolerated -" + pct(r.Tolerance)
	}
	return fmt.Sprintf("guardrail %s %s from %s: %s is %s vs %s for %s (%+.4g, %.4g%% interval [%+.4g, %+.4g]), %s",
		r.Metric, worse, num(r.Baseline), p.Variant, num(r.Value), num(r.Baseline), p.Baseline, abs.Estimate, r.Level*100, abs.Sequential.Lower, abs.Sequential.Upper, beyond)
}

// IntervalString writes a relative interval as percentages.
func IntervalString(iv stats.Interval) string {
	lo, hi := signedPct(iv.Lower), signedPct(iv.Upper)
	if iv.LowerUnbounded {
		lo = "-inf"
	}
	if iv.UpperUnbounded {
		hi = "+inf"
	}
	return "[" + lo + ", " + hi + "]"
}

func pct(x float64) string { return trimFloat(x*100) + "%" }

func signedPct(x float64) string {
	if x >= 0 {
		return "+" + pct(x)
	}
	return "-" + pct(-x)
}

func trimFloat(x float64) string {
	if x == math.Trunc(x) && math.Abs(x) < 1e9 {
		return fmt.Sprintf("%.0f", x)
	}
	switch a := math.Abs(x); {
	case a >= 10:
		return fmt.Sprintf("%.1f", x)
	case a >= 1:
		return fmt.Sprintf("%.2f", x)
	}
	return fmt.Sprintf("%.3g", x)
}

func num(x float64) string { return fmt.Sprintf("%.4g", x) }
