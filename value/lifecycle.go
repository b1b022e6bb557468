package value

import (
	"cmp"
	"fmt"
	"slices"
	"time"
)

// Stage is where a feature is in the loop.
type Stage string

// The stages, in the order a feature moves through them. Validated and
// Invalidated are one step (decided), with two outcomes; Abandoned leaves
// the loop from any stage before Done.
const (
	Idea        Stage = "idea"
	Ready       Stage = "ready"
	Building    Stage = "building"
	Releasing   Stage = "releasing"
	Measuring   Stage = "measuring"
	Validated   Stage = "validated"
	Invalidated Stage = "invalidated"
	Done        Stage = "done"
	Abandoned   Stage = "abandoned"
)

// Stages lists every stage in order, for tables and charts.
var Stages = []Stage{Idea, Ready, Building, Releasing, Measuring, Validated, Invalidated, Done, Abandoned}

// rank orders the stages of the forward path: both outcomes of a verdict
// share one rank. Abandoned has none (-1).
func (s Stage) rank() int {
	switch s {
	case Idea:
		return 0
	case Ready:
		return 1
	case Building:
		return 2
	case Releasing:
		return 3
	case Measuring:
		return 4
	case Validated, Invalidated:
		return 5
	case Done:
		return 6
	}
	return -1
}

// Valid reports whether s is a stage.
func (s Stage) Valid() bool { return s.rank() >= 0 || s == Abandoned }

// Reachable reports whether a feature at stage s can still be moved to t:
// stages never go back, and abandoned ends the path, as done does unless
// the feature is abandoned before it. A move to s itself is reachable (it
// changes nothing).
func (s Stage) Reachable(t Stage) bool {
	switch {
	case s == t:
		return true
	case s == Abandoned:
		return false
	case t == Abandoned:
		return s != Done
	}
	return t.rank() >= s.rank()
}

// Decided reports whether s is validated or invalidated.
func (s Stage) Decided() bool { return s == Validated || s == Invalidated }

// EventKind is the kind of evidence an event is.
type EventKind string

// Evidence. Each kind proves that a feature reached at least one stage
// (see Proves); some only add to the release record.
const (
	Created           EventKind = "created"             // the feature was written down: idea
	HypothesisSet     EventKind = "hypothesis"          // its hypothesis was stated or changed: record only
	Moved             EventKind = "moved"               // by hand, to Event.Stage, where no event proves it
	CommitPushed      EventKind = "commit"              // a linked change was committed: building
	Merged            EventKind = "merged"              // a linked pull request was merged: building
	Deployed          EventKind = "deployment"          // a production deployment shipped a linked change: releasing
	FlagChanged       EventKind = "flag_change"         // a linked flag's definition changed: record only
	RolloutStarted    EventKind = "rollout_started"     // a linked flag's rollout started: releasing
	RolloutStep       EventKind = "rollout_step"        // it moved to the next step (guardrail readings in Detail): record only
	RolloutRolledBack EventKind = "rollout_rolled_back" // record only: the feature stays where it got
	RolloutCompleted  EventKind = "rollout_completed"   // it reached everyone it was meant for: measuring
	Exposed           EventKind = "exposure"            // a linked flag's first exposure without an experiment (a rollout's users): record only
	ExperimentStarted EventKind = "experiment_started"  // a linked flag's first exposure in an experiment: measuring
	VerdictRecorded   EventKind = "verdict"             // a final verdict (Event.Stage validated or invalidated)
	FlagRemoved       EventKind = "flag_removed"        // a linked flag was removed: done once every production flag is, after a release
)

// Event is one piece of evidence about one feature. Events may arrive in
// any order and more than once (a webhook redelivered, a rollout engine
// retrying): ID identifies the fact, and the lifecycle computed from a set
// of events depends only on the set.
type Event struct {
	ID   string    `json:"id"`
	Kind EventKind `json:"kind"`
	At   time.Time `json:"at"`
	// Stage is the stage moved to (Moved) or the decision (VerdictRecorded).
	Stage Stage `json:"stage,omitempty"`
	// Cause says in words what happened, with the record it comes from:
	// "commit 4c1e9a0 in shop/web: Feature: new-onboarding".
	Cause string `json:"cause"`
	Actor string `json:"actor,omitempty"`
	// Environment and Flag, for events about a flag.
	Environment string `json:"environment,omitempty"`
	Flag        string `json:"flag,omitempty"`
	// Detail carries a rollout step's percentage and guardrail readings, a
	// verdict's reason: text for the record.
	Detail string `json:"detail,omitempty"`
	// Effect is a verdict's measured effect of the primary metric, in the
	// hypothesis' units; nil when not measured.
	Effect *float64 `json:"effect,omitempty"`
	// EffectMetric and EffectAbsolute say what Effect measured: the metric
	// the verdict was decided on (its flag's primary metric) and its units.
	// A feature's hypothesis may name another metric or other units than
	// its flag's experiment, and an effect is compared with the effect
	// hoped for only when both are of one metric in one unit. EffectMetric
	// is empty for a verdict recorded before these were kept.
	EffectMetric   string `json:"effectMetric,omitempty"`
	EffectAbsolute bool   `json:"effectAbsolute,omitempty"`
	// Code is a verdict's reason for programs (experiment.CodeWorthShipping,
	// experiment.CodeGuardrailBreached, …); empty for other events.
	Code string `json:"code,omitempty"`
}

// Proves returns the stage e shows the feature reached, and false for
// events that only add to the record.
func (e Event) Proves() (Stage, bool) {
	switch e.Kind {
	case Created:
		return Idea, true
	case Moved:
		return e.Stage, e.Stage.Valid()
	case CommitPushed, Merged:
		return Building, true
	case Deployed, RolloutStarted:
		return Releasing, true
	case RolloutCompleted, ExperimentStarted:
		return Measuring, true
	case VerdictRecorded:
		return e.Stage, e.Stage.Decided()
	case FlagRemoved:
		return Done, true
	}
	return "", false
}

// Transition is a feature entering a stage: when, and the event that shows
// it.
type Transition struct {
	From  Stage     `json:"from,omitempty"`
	To    Stage     `json:"to"`
	At    time.Time `json:"at"`
	Cause string    `json:"cause"`
	// Event is the ID of the evidence.
	Event string `json:"event"`
	// Manual marks a transition made by hand.
	Manual bool `json:"manual,omitempty"`
}

// Lifecycle is a feature's path through the stages, computed from its
// evidence by Derive.
type Lifecycle struct {
	Stage Stage `json:"stage"`
	// Since is when the feature entered Stage.
	Since time.Time `json:"since"`
	// Transitions in order: times never decrease, stages never go back.
	Transitions []Transition `json:"transitions"`
	// Verdict is the final verdict that stands (the last one recorded);
	// nil before any.
	Verdict *Event `json:"verdict,omitempty"`
}

// Entered returns when the lifecycle entered s, and false when it did not.
func (l *Lifecycle) Entered(s Stage) (time.Time, bool) {
	for _, t := range l.Transitions {
		if t.To == s {
			return t.At, true
		}
	}
	return time.Time{}, false
}

// Decision returns the final verdict that stands: Validated, Invalidated,
// or "" when none was reached.
func (l *Lifecycle) Decision() Stage {
	if l.Verdict == nil {
		return ""
	}
	return l.Verdict.Stage
}

var kinds = []EventKind{Created, HypothesisSet, Moved, CommitPushed, Merged, Deployed, FlagChanged,
	RolloutStarted, Exposed, RolloutStep, RolloutRolledBack, RolloutCompleted, ExperimentStarted, VerdictRecorded, FlagRemoved}

// kindOrder breaks ties between events at the same instant so that the
// record reads in the order things happen: a commit before its deployment.
func kindOrder(k EventKind) int { return slices.Index(kinds, k) }

// compareEvents orders the record: by time, then kind, then ID, then the
// rest; a total order, so sorting any arrival order gives one result.
func compareEvents(a, b *Event) int {
	if c := a.At.Compare(b.At); c != 0 {
		return c
	}
	if a.Kind != b.Kind {
		return cmp.Compare(kindOrder(a.Kind), kindOrder(b.Kind))
	}
	return cmp.Or(cmp.Compare(a.ID, b.ID), cmp.Compare(a.Stage, b.Stage), cmp.Compare(a.Cause, b.Cause),
		cmp.Compare(a.Detail, b.Detail), cmp.Compare(a.Actor, b.Actor))
}

// order returns the indices of events in the order of the record, each ID
// once: of the events sharing an ID, the first in record order counts (a
// fact reported twice with two times happened at the earlier). It sorts
// indices, not events, because events are large and there are many.
func order(events []Event) []int32 {
	idx := make([]int32, len(events))
	for i := range idx {
		idx[i] = int32(i)
	}
	// By ID, then record order: the first of each ID is kept.
	slices.SortFunc(idx, func(a, b int32) int {
		return cmp.Or(cmp.Compare(events[a].ID, events[b].ID), compareEvents(&events[a], &events[b]))
	})
	idx = slices.CompactFunc(idx, func(a, b int32) bool { return events[a].ID == events[b].ID })
	slices.SortFunc(idx, func(a, b int32) int { return compareEvents(&events[a], &events[b]) })
	return idx
}

// Timeline returns the events in the order of the record, each ID once.
func Timeline(events []Event) []Event {
	out := make([]Event, 0, len(events))
	for _, i := range order(events) {
		out = append(out, events[i])
	}
	return out
}

// Derive computes the lifecycle that the events prove. It depends only on
// the set of events, not on the order they arrived in nor on repeats (of
// the events sharing an ID the earliest counts):
//
//   - a stage on the forward path is entered at the earliest event that
//     proves that stage or a later one (a deployment proves building as
//     well as releasing). So the stages' times never decrease along the
//     path, and evidence arriving late can only make a time earlier, never
//     later;
//   - the transitions list the stages some event proves directly, in
//     order; a stage skipped (no change linked before the rollout started)
//     is not listed and takes no time;
//   - the decided step's outcome is the last final verdict: a verdict
//     validated, later invalidated, is invalidated;
//   - abandoned (by hand) ends the path unless the feature was done before;
//   - done by evidence is the cleanup: every one of flags (the feature's
//     flags linked in production, Feature.ProductionFlags) removed, the
//     last removal after something was released. It is dated by that last
//     removal; a removal of a flag not among flags proves nothing.
func Derive(events []Event, flags []FlagLink) Lifecycle {
	idx := order(events)
	var l Lifecycle
	// earliest[r]: the earliest event proving rank ≥ r; direct[r]: some event
	// proves rank r itself.
	const ranks = 7
	var earliest [ranks]*Event
	var direct [ranks]bool
	var abandon, first, last *Event // abandonment, first and last verdicts
	var gone []bool                 // gone[i]: flags[i] was removed
	left := 0                       // the flags not removed yet, once one was
	for _, i := range idx {
		e := &events[i]
		s, ok := e.Proves()
		if !ok {
			continue
		}
		if s == Abandoned {
			if abandon == nil {
				abandon = e
			}
			continue
		}
		// A flag removed is the cleanup that ends the loop only once every
		// flag linked in production is removed: one of several gone leaves
		// the others to clean up (the finish list names them while the
		// feature is decided). And only once something was released (an
		// event at or before it proves releasing or later: same-instant
		// evidence sorts first): before, it is a placeholder flag deleted,
		// and the idea or build goes on.
		if e.Kind == FlagRemoved {
			i := slices.IndexFunc(flags, func(f FlagLink) bool { return f.Environment == e.Environment && f.Flag == e.Flag })
			if i < 0 {
				continue
			}
			if gone == nil {
				gone, left = make([]bool, len(flags)), distinctFlags(flags)
			}
			if !gone[i] {
				gone[i] = true
				left--
			}
			if left > 0 || earliest[Releasing.rank()] == nil {
				continue
			}
		}
		r := s.rank()
		direct[r] = true
		if s.Decided() {
			if first == nil {
				first = e
			}
			last = e
		}
		// Events are in time order: the first to reach a rank is the
		// earliest. The ranks reached are always 0…m, so filling down from r
		// stops at the first one already set.
		for k := r; k >= 0 && earliest[k] == nil; k-- {
			earliest[k] = e
		}
	}
	from := Stage("")
	add := func(to Stage, e *Event) {
		l.Transitions = append(l.Transitions, Transition{From: from, To: to, At: e.At, Cause: e.Cause, Event: e.ID, Manual: e.Kind == Moved})
		from = to
	}
	for r, to := range [ranks]Stage{Idea, Ready, Building, Releasing, Measuring, "", Done} {
		if earliest[r] == nil || !direct[r] {
			continue
		}
		if r == 5 {
			to = first.Stage
		}
		add(to, earliest[r])
	}
	if last != nil {
		v := *last
		l.Verdict = &v
		// The outcome changed after the first verdict: one more transition,
		// unless the feature was done before.
		if n := len(l.Transitions); l.Transitions[n-1].To.Decided() && l.Transitions[n-1].To != last.Stage {
			add(last.Stage, last)
		}
	}
	if abandon != nil && (earliest[6] == nil || abandon.At.Before(earliest[6].At)) {
		at := abandon.At
		if n := len(l.Transitions); n > 0 && at.Before(l.Transitions[n-1].At) {
			at = l.Transitions[n-1].At // abandoned after the last thing that happened, never before it
		}
		l.Transitions = append(l.Transitions, Transition{From: from, To: Abandoned, At: at, Cause: abandon.Cause, Event: abandon.ID, Manual: true})
	}
	if n := len(l.Transitions); n > 0 {
		l.Stage, l.Since = l.Transitions[n-1].To, l.Transitions[n-1].At
	} else {
		l.Stage = Idea
	}
	return l
}

// distinctFlags counts the environment and flag pairs of flags: validation
// refuses a flag linked twice, and were one, it is one flag to remove (not
// two, which would leave the feature waiting for ever).
func distinctFlags(flags []FlagLink) int {
	n := 0
	for i, f := range flags {
		if slices.IndexFunc(flags, func(g FlagLink) bool { return g.Environment == f.Environment && g.Flag == f.Flag }) == i {
			n++
		}
	}
	return n
}

// ProductionFlags returns the flags f links in environments production
// says are production ones: removing every one of them is the cleanup that
// makes f done (Derive). A development flag's removal ends nothing.
func (f *Feature) ProductionFlags(production map[string]bool) []FlagLink {
	var out []FlagLink
	for _, fl := range f.Links.Flags {
		if production[fl.Environment] {
			out = append(out, fl)
		}
	}
	return out
}

// StageTime is the time a feature spent in one stage; Open marks the stage
// it is still in, measured up to now.
type StageTime struct {
	Stage    Stage         `json:"stage"`
	Duration time.Duration `json:"duration"`
	Open     bool          `json:"open,omitempty"`
}

// StageTimes returns the time spent in each stage entered, in order: from
// its transition to the next, and for the current stage up to now (not for
// done and abandoned, where the loop ends).
func (l *Lifecycle) StageTimes(now time.Time) []StageTime {
	var out []StageTime
	for i, t := range l.Transitions {
		if i+1 < len(l.Transitions) {
			out = append(out, StageTime{Stage: t.To, Duration: l.Transitions[i+1].At.Sub(t.At)})
		} else if t.To != Done && t.To != Abandoned {
			out = append(out, StageTime{Stage: t.To, Duration: max(now.Sub(t.At), 0), Open: true})
		}
	}
	return out
}

func (t Transition) String() string {
	return fmt.Sprintf("%s → %s at %s: %s", t.From, t.To, t.At.UTC().Format(time.RFC3339), t.Cause)
}
