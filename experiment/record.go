package experiment

import "time"

// VerdictRecord is one transition of the verdict on a flag's hypothesis in
// one environment: the first final verdict (validated or invalidated), or a
// final verdict different from the last one recorded. A verdict that goes
// back to keep running or inconclusive is not a transition: the last final
// verdict stands until another final one replaces it. The store keeps the
// records; At is when the store recorded it, by its clock.
type VerdictRecord struct {
	Environment string    `json:"environment"`
	Flag        string    `json:"flag"`
	Decision    Decision  `json:"decision"`
	Code        string    `json:"code"`
	Reason      string    `json:"reason"`
	At          time.Time `json:"at"`
	// Figures summarise the result the verdict was reached on.
	Figures VerdictFigures `json:"figures"`
}

// VerdictFigures are the few numbers behind a recorded verdict.
type VerdictFigures struct {
	// Variant is the treatment the verdict is about; empty when it is
	// about every treatment.
	Variant string `json:"variant,omitempty"`
	// PrimaryMetric and Effect: the primary metric's effect on Variant in
	// the hypothesis' units (relative unless Absolute), with its interval.
	PrimaryMetric string  `json:"primaryMetric,omitempty"`
	Effect        *Bounds `json:"effect,omitempty"`
	Absolute      bool    `json:"absolute,omitempty"`
	// Users is the number of users analysed.
	Users int64 `json:"users"`
}

// Final reports whether d settles the hypothesis (validated or
// invalidated): the decisions whose time is recorded.
func Final(d Decision) bool { return d == Validated || d == Invalidated }

// RecordOf returns the verdict record r would make, and false when r has no
// final verdict. At is left for the store.
func RecordOf(r *Result) (VerdictRecord, bool) {
	if r == nil || r.Verdict == nil || !Final(r.Verdict.Decision) {
		return VerdictRecord{}, false
	}
	v := r.Verdict
	rec := VerdictRecord{Environment: r.Environment, Flag: r.Flag, Decision: v.Decision, Code: v.Code, Reason: v.Reason,
		Figures: VerdictFigures{Variant: v.Variant, Users: r.Users}}
	if v.Decided != nil { // a fixed decision: the users it was decided on
		rec.Figures.Users = v.Decided.Users
	}
	if r.Hypothesis != nil {
		rec.Figures.PrimaryMetric, rec.Figures.Absolute = r.Hypothesis.PrimaryMetric, r.Hypothesis.Absolute
	}
	for _, vv := range v.Variants {
		if vv.Variant == v.Variant && vv.Effect != nil {
			e := *vv.Effect
			rec.Figures.Effect = &e
		}
	}
	return rec, true
}

// FirstReached returns the time of the first record with decision d in
// history (oldest first), and false when there is none.
func FirstReached(history []VerdictRecord, d Decision) (time.Time, bool) {
	for _, r := range history {
		if r.Decision == d {
			return r.At, true
		}
	}
	return time.Time{}, false
}

// FlagRef names a flag in an environment.
type FlagRef struct {
	Environment string `json:"environment"`
	Flag        string `json:"flag"`
}
