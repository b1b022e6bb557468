package rollout

import (
	"fmt"
	"math"

	"github.com/valueloop/valueloop/ingest"
	"github.com/valueloop/valueloop/stats"
)

// Guardrail statuses.
const (
	GuardrailOK            = "ok"
	GuardrailBreached      = "breached"
	GuardrailNotEnoughData = "not_enough_data"
)

// GuardrailResult is one guardrail judged on the figures so far.
type GuardrailResult struct {
	Metric    string           `json:"metric"`
	Direction ingest.Direction `json:"direction"`
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
}

// Breached reports whether the interval lies entirely beyond the tolerance
// in the harmful direction.
func (g GuardrailResult) Breached() bool { return g.Status == GuardrailBreached }

// Users returns the exposed users per variant of a flag from its
// aggregates: the users whose first exposure was that variant, not counting
// those excluded for having seen several.
func Users(aggs []ingest.Aggregate) map[string]int64 {
	out := map[string]int64{}
	for _, a := range aggs {
		if a.Metric == "" && a.Variant != "" {
			out[a.Variant] = a.Sums.N
		}
	}
	return out
}

// Guardrails judges each guardrail of p from the flag's aggregates, with
// the metric definitions of the environment. A guardrail is breached when
// the always-valid interval of the relative change lies entirely beyond the
// tolerance in the harmful direction: for a lower-is-better metric, when
// even the lower bound is a rise of more than Tolerance.
func Guardrails(p *Plan, metrics []ingest.Metric, aggs []ingest.Aggregate) []GuardrailResult {
	if len(p.Guardrails) == 0 {
		return nil
	}
	byKey := map[string]ingest.Metric{}
	for _, m := range metrics {
		byKey[m.Key] = m
	}
	cells := map[[2]string]ingest.Sums{}
	for _, a := range aggs {
		cells[[2]string{a.Variant, a.Metric}] = a.Sums
	}
	alpha := p.Alpha / float64(len(p.Guardrails))
	settings := stats.Settings{
		Alpha:            alpha,
		Alternative:      stats.TwoSided,
		SequentialTuning: p.SequentialTuning,
		CUPED:            true,
		Correction:       stats.NoCorrection,
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
		base := cells[[2]string{p.Baseline, g.Metric}].Summary()
		cand := cells[[2]string{p.Variant, g.Metric}].Summary()
		r.BaselineUsers, r.VariantUsers = base.N, cand.N
		if base.N < p.MinSample || cand.N < p.MinSample {
			r.Status = GuardrailNotEnoughData
			r.Reason = fmt.Sprintf("needs %d users in each variant, has %d in %s and %d in %s", p.MinSample, base.N, p.Baseline, cand.N, p.Variant)
			r.Baseline, r.Value = estimate(m, base), estimate(m, cand)
			continue
		}
		res, err := stats.Analyze(settings, stats.Input{
			Variants: []stats.Variant{{Name: p.Baseline, Weight: 1, Units: base.N}, {Name: p.Variant, Weight: 1, Units: cand.N}},
			Metrics: []stats.Metric{{
				Name: g.Metric, Kind: m.StatsKind(), LowerIsBetter: g.Direction == ingest.LowerIsBetter,
				Summaries: []stats.Summary{base, cand},
			}},
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
			continue
		}
		r.Change, r.Interval = c.Relative.Estimate, c.Relative.Sequential
		r.Status = GuardrailOK
		if g.Direction == ingest.LowerIsBetter && r.Interval.Lower > g.Tolerance ||
			g.Direction == ingest.HigherIsBetter && r.Interval.Upper < -g.Tolerance {
			r.Status = GuardrailBreached
			r.Reason = breachReason(*r, p)
		}
	}
	return out
}

// estimate is the metric's value from its summary when the analysis is not
// run.
func estimate(m ingest.Metric, s stats.Summary) float64 {
	if m.Kind == ingest.Ratio {
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
	if r.Direction == ingest.HigherIsBetter {
		worse, limit = "fell", "-"+pct(r.Tolerance)
	}
	return fmt.Sprintf("guardrail %s %s: %s is %s vs %s for %s (%s, %.4g%% interval %s), beyond the tolerated %s",
		r.Metric, worse, p.Variant, num(r.Value), num(r.Baseline), p.Baseline,
		signedPct(r.Change), r.Level*100, IntervalString(r.Interval), limit)
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
