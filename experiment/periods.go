package experiment

import (
	"cmp"
	"encoding/json"
	"math"
	"slices"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/metric"
	"github.com/valueloop/valueloop/stats"
)

// SplitPeriod is one period of a flag's split: from Start until the next
// period's, the flag served its variants in the proportions of Weights.
type SplitPeriod struct {
	// Start is the time the split took effect, in Unix milliseconds as
	// metric.Aggregate.Period has it; 0 for the first period.
	Start int64 `json:"-"`
	// Weights are the split's weights (any unit); a variant not served has
	// none.
	Weights map[string]float64 `json:"weights"`
	// Ruled is true when a targeting rule may have served some users of the
	// period a variant of the split by their attributes (a split under an
	// "if" that may return one of its variants, or no split). Those users
	// are recorded outside the split, so Weights are still the randomised
	// users' expected shares unless Unknown says otherwise; a failed
	// sample-ratio check then points at users recorded as randomised.
	Ruled bool `json:"ruled,omitempty"`
	// Unknown is why Weights are not the expected shares of the period's
	// randomised users ("" when they are): no split, splits that disagree
	// (splitsDisagree) in any version of the flag the period spans. Its
	// sample-ratio check then does not apply.
	Unknown string `json:"unknown,omitempty"`
}

// FlagVersion is a flag as it was defined from At on; Flag is nil once
// deleted.
type FlagVersion struct {
	At   time.Time
	Flag *valueloop.Flag
}

// SplitOf returns the split a flag definition serves: its first static
// fractional split (FractionalSplit), else all users to the default variant;
// nil for a disabled or missing flag, which serves nobody. A variant with
// weight 0 is left out.
func SplitOf(f *valueloop.Flag) map[string]float64 {
	if f == nil || f.State == valueloop.StateDisabled {
		return nil
	}
	if w, ok := FractionalSplit(f.Targeting); ok {
		out := make(map[string]float64, len(w))
		for k, v := range w {
			if v > 0 {
				out[k] = v
			}
		}
		return out
	}
	if f.DefaultVariant != nil {
		return map[string]float64{*f.DefaultVariant: 1}
	}
	return nil
}

// SplitHistory turns a flag's versions (oldest first) into its split
// periods: a new period starts whenever the split's shares change (a rollout
// step, an edited split, the flag disabled), not for other edits. The first
// period starts at 0.
func SplitHistory(versions []FlagVersion) []SplitPeriod {
	var out []SplitPeriod
	for _, v := range versions {
		w, ruled := SplitOf(v.Flag), ruledBy(v.Flag)
		var unknown string
		if ruled { // else the split alone assigns, which splitsDisagree accepts
			unknown = splitsDisagree(v.Flag.Targeting)
		}
		if n := len(out); n > 0 && sameShares(out[n-1].Weights, w) && out[n-1].Ruled == ruled {
			// Periods start where they did before Unknown was kept (the
			// aggregates are filed by them): within one, the first reason
			// not to check stays.
			out[n-1].Unknown = cmp.Or(out[n-1].Unknown, unknown)
			continue
		}
		start := v.At.UnixMilli()
		if len(out) == 0 {
			start = 0
		}
		out = append(out, SplitPeriod{Start: start, Weights: w, Ruled: ruled, Unknown: unknown})
	}
	return out
}

// ruledBy reports whether f, enabled, assigns some users by a targeting
// rule rather than by its split alone (SplitPeriod.Ruled).
func ruledBy(f *valueloop.Flag) bool {
	return f != nil && f.State != valueloop.StateDisabled && len(f.Targeting) > 0 && !splitAlone(f)
}

// SplitChanges returns the starts of every period but the first: what
// ingest.SplitStore reports.
func SplitChanges(periods []SplitPeriod) []int64 {
	var out []int64
	for _, p := range periods[min(1, len(periods)):] {
		out = append(out, p.Start)
	}
	return out
}

func sameShares(a, b map[string]float64) bool {
	if len(a) != len(b) {
		return false
	}
	sa, sb := total(a), total(b)
	for k, w := range a {
		if math.Abs(w/sa-b[k]/sb) > 1e-12 {
			return false
		}
	}
	return true
}

func total(w map[string]float64) float64 {
	var s float64
	for _, v := range w {
		s += v
	}
	return s
}

// Period is one split period of a result analysed by period.
type Period struct {
	// Start is when the split took effect; absent for the first period.
	Start *time.Time `json:"start,omitempty"`
	// Weights is the period's split and Users the users first exposed in
	// it, per variant of the analysis.
	Weights map[string]float64 `json:"weights"`
	Users   map[string]int64   `json:"users"`
	// Weight is the period's share W_p of the combined estimate: 0 when a
	// variant of the analysis had no users in it (a 0% or 100% step).
	Weight float64 `json:"weight"`
	// SRM checks the period's users against its own split.
	SRM stats.SRM `json:"srm"`
}

// periodCells are a flag's cells split by period (sorted by start).
type periodCells struct {
	starts []int64
	cells  []*cells
}

// byPeriod splits a flag's aggregates by period; the excluded count (a
// flag-wide figure, period 0) goes to the pooled cells. A period without
// users (periodUsers) is none of the flag's periods.
func byPeriod(flag string, aggs []metric.Aggregate) periodCells {
	var pc periodCells
	idx := map[int64][]metric.Aggregate{}
	with := map[int64]bool{}
	for _, a := range aggs {
		if a.Flag == flag && a.Variant != "" && a.Dimension == "" {
			idx[a.Period] = append(idx[a.Period], a)
			with[a.Period] = with[a.Period] || periodUsers(a, flag)
		}
	}
	for p := range idx {
		if with[p] {
			pc.starts = append(pc.starts, p)
		}
	}
	slices.Sort(pc.starts)
	for _, p := range pc.starts {
		pc.cells = append(pc.cells, newCells(flag, idx[p]))
	}
	return pc
}

// stratified reports whether in is analysed period by period: the weights
// are not forced, the flag's split history is known, and its users were
// assigned in more than one period, in one that is not the first, or in the
// first when the split has changed since. In that last case the flag's
// split now is not the one that assigned them (a rollout step before anyone
// came under it): their period's split weighs the arms and checks their
// ratio, and the users to come are a period of their own.
func stratified(in Input, flag string) bool {
	if len(in.Settings.Weights) > 0 || len(in.Splits) == 0 {
		return false
	}
	for _, a := range in.Aggregates {
		if periodUsers(a, flag) && (a.Period != 0 || len(in.Splits) > 1) {
			return true
		}
	}
	return false
}

// periodUsers reports whether a is a cell of flag's users with some in it.
// The ingestion keeps a cell of 0 users for a variant whose users were all
// served outside the split or excluded since (they saw two variants): no
// user of its period was assigned by the split.
func periodUsers(a metric.Aggregate, flag string) bool {
	return a.Flag == flag && a.Variant != "" && a.Dimension == "" && a.Metric == "" && a.Sums.N > 0
}

// splitAt returns the split in force from start: the period that starts
// there, else the latest before it.
func splitAt(splits []SplitPeriod, start int64) map[string]float64 {
	return periodAt(splits, start).Weights
}

func periodAt(splits []SplitPeriod, start int64) SplitPeriod {
	var out SplitPeriod
	for _, p := range splits {
		if p.Start <= start {
			out = p
		}
	}
	return out
}

// encodeWeights is for error messages.
func encodeWeights(w map[string]float64) string {
	b, _ := json.Marshal(w)
	return string(b)
}

// periodArms returns the arms of a result by period: every variant served
// in a period with users, weighted by its expected share of them (Σ_p U_p ·
// share in p / Σ_p U_p), control chosen as for a fixed split.
func periodArms(def *valueloop.Flag, pc periodCells, splits []SplitPeriod, s Settings) ([]Variant, error) {
	weights := map[string]float64{}
	var all float64
	for i, start := range pc.starts {
		var u float64
		for _, n := range pc.cells[i].users {
			u += float64(n)
		}
		split := splitAt(splits, start)
		sum := total(split)
		for k, w := range split {
			weights[k] += u * w / sum
		}
		all += u
	}
	for k, w := range weights {
		if !(w > 0) {
			delete(weights, k)
			continue
		}
		weights[k] = 100 * w / all
	}
	source := "the flag's split history"
	if len(weights) < 2 {
		return nil, valueloop.FieldErrorf("settings.weights", "an experiment needs a control and at least one treatment, but %s serves %d variant(s) to the users exposed: set the weights, e.g. weights=control:50,treatment:50", source, len(weights))
	}
	if s.Control != "" && weights[s.Control] == 0 {
		return nil, valueloop.FieldErrorf("settings.control", "variant %q takes no part: %s serves %s", s.Control, source, encodeWeights(weights))
	}
	return orderArms(def, weights, source, s.Control, nil)
}

// strata returns the analysis' strata: per period, its split, users and
// summaries in the arms' order.
func strata(pc periodCells, splits []SplitPeriod, arms []Variant, metrics []metric.Metric) []stats.Stratum {
	out := make([]stats.Stratum, len(pc.starts))
	for p, start := range pc.starts {
		c, period := pc.cells[p], periodAt(splits, start)
		split := period.Weights
		st := stats.Stratum{Name: periodName(start), Weights: make([]float64, len(arms)), Units: make([]int64, len(arms)),
			Summaries: make([][]stats.Summary, len(metrics)), Unchecked: periodUnchecked(period, arms)}
		for i, a := range arms {
			st.Weights[i], st.Units[i] = split[a.Name], c.users[a.Name]
		}
		for m, def := range metrics {
			st.Summaries[m] = make([]stats.Summary, len(arms))
			for i, a := range arms {
				st.Summaries[m][i] = c.summary(a.Name, def)
			}
		}
		out[p] = st
	}
	return out
}

// periodUnchecked is why the sample-ratio check does not apply to a
// period, "" when it does (stats.Stratum.Unchecked): its split's weights
// are not its randomised users' expected shares (SplitPeriod.Unknown), or
// its split serves fewer than two of the arms, so that there is no ratio to
// test however many users come.
func periodUnchecked(p SplitPeriod, arms []Variant) string {
	if p.Unknown != "" {
		return p.Unknown
	}
	if len(p.Weights) == 0 {
		return "the flag was disabled in this period (everyone got its default variant), so no split assigned its users"
	}
	var served []string
	for _, a := range arms {
		if p.Weights[a.Name] > 0 {
			served = append(served, a.Name)
		}
	}
	switch len(served) {
	case 0:
		return "the split of this period serves none of the analysis' variants, so there is no ratio to check"
	case 1:
		return "the split of this period serves only " + served[0] + " (a 0% or 100% step), so there is no ratio to check"
	}
	return ""
}

// periods describes the periods of a result.
func periods(in []stats.Stratum, res []stats.StratumResult, pc periodCells, arms []Variant, splits []SplitPeriod) []Period {
	out := make([]Period, len(in))
	for p, st := range in {
		out[p] = Period{Weights: map[string]float64{}, Users: map[string]int64{}, Weight: res[p].Weight, SRM: res[p].SRM}
		if out[p].SRM.Mismatch && periodAt(splits, pc.starts[p]).Ruled {
			out[p].SRM.Reason = ruledMismatch
		}
		if start := pc.starts[p]; start != 0 {
			t := time.UnixMilli(start).UTC()
			out[p].Start = &t
		}
		for i, a := range arms {
			if st.Weights[i] > 0 {
				out[p].Weights[a.Name] = st.Weights[i]
			}
			out[p].Users[a.Name] = st.Units[i]
		}
	}
	return out
}

func periodName(start int64) string {
	if start == 0 {
		return "start"
	}
	return time.UnixMilli(start).UTC().Format(time.RFC3339Nano)
}
