package rollout

import (
	"time"

	"github.com/valueloop/valueloop/experiment"
	"github.com/valueloop/valueloop/metric"
)

// StepServed is what a flag served the users first exposed to it since a
// split took effect: how many the split drew a variant for, how many of
// them it drew the released variant for, and how many were served
// outside it. These are users, not evaluations: no count of evaluations
// is kept, and a user counts once, in the split period of their first
// exposure, so users who came back from an earlier step count there.
type StepServed struct {
	// Since is when the split took effect (zero: since the flag began).
	Since time.Time `json:"since,omitzero"`
	// SplitUsers were drawn a variant by the split, VariantUsers of them
	// the released one; Percent is the share, 100 × VariantUsers /
	// SplitUsers (nil without users), to hold against the step's.
	SplitUsers   int64    `json:"splitUsers"`
	VariantUsers int64    `json:"variantUsers"`
	Percent      *float64 `json:"percent"`
	// OutsideUsers were served a variant outside the split (a targeting
	// rule, the default variant, a disabled flag), as their exposures'
	// reason or split said; an exposure that says neither counts in the
	// split (docs/events.md).
	OutsideUsers int64 `json:"outsideUsers"`
	// Ruled: a targeting rule may serve users a variant of the split, and
	// those whose exposures did not say so are counted in it.
	Ruled bool `json:"ruled,omitempty"`
}

// StepServedIn returns what the flag served the users first exposed in
// r's current step: since p, the flag's latest split period, took effect,
// from the flag's cells of randomised users (aggs) and of users served
// outside the split (outside). Nil when p is not the step's split (the
// split was changed by hand since, or p's weights are unknown): the
// figures would be another split's.
func StepServedIn(r Rollout, p experiment.SplitPeriod, aggs, outside []metric.Aggregate) *StepServed {
	var total float64
	for _, w := range p.Weights {
		total += w
	}
	if p.Unknown != "" || total <= 0 || Weight(100*p.Weights[r.Plan.Variant]/total) != Weight(r.Percent) {
		return nil
	}
	s := &StepServed{Ruled: p.Ruled}
	if p.Start != 0 {
		s.Since = time.UnixMilli(p.Start).UTC()
	}
	for _, a := range aggs {
		if a.Metric == "" && a.Variant != "" && a.Period == p.Start && a.Dimension == "" {
			s.SplitUsers += a.Sums.N
			if a.Variant == r.Plan.Variant {
				s.VariantUsers += a.Sums.N
			}
		}
	}
	for _, a := range outside {
		if a.Metric == "" && a.Variant != "" && a.Period == p.Start {
			s.OutsideUsers += a.Sums.N
		}
	}
	if s.SplitUsers > 0 {
		pct := 100 * float64(s.VariantUsers) / float64(s.SplitUsers)
		s.Percent = &pct
	}
	return s
}
