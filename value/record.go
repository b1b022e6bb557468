package value

import (
	"time"

	"github.com/valueloop/valueloop"
)

// Seconds is a duration that JSON writes as a number of seconds, the unit
// of durations in the API: valueloop.Seconds, with D to read it back.
type Seconds time.Duration

// MarshalJSON writes the duration in seconds.
func (s Seconds) MarshalJSON() ([]byte, error) { return valueloop.Seconds(s).MarshalJSON() }

// UnmarshalJSON reads a number of seconds.
func (s *Seconds) UnmarshalJSON(b []byte) error { return (*valueloop.Seconds)(s).UnmarshalJSON(b) }

// D returns s as a time.Duration.
func (s Seconds) D() time.Duration { return time.Duration(s) }

func secondsPtr(d time.Duration, ok bool) *Seconds {
	if !ok {
		return nil
	}
	s := Seconds(d)
	return &s
}

// Record is one feature's release record: everything that happened to it
// on one timeline, with the loop's own figures.
type Record struct {
	Feature     string       `json:"feature"`
	Title       string       `json:"title"`
	Objective   string       `json:"objective"`
	Hypothesis  string       `json:"hypothesis"`
	Stage       Stage        `json:"stage"`
	Since       time.Time    `json:"since"`
	Timeline    []Event      `json:"timeline"`
	Transitions []Transition `json:"transitions"`

	FirstCommit time.Time `json:"firstCommit,omitzero"`
	// ReleasedAt is when the feature reached everyone it was meant for: its
	// rollout completed; for a flag without a rollout (an experiment's
	// split), its first exposure; for a feature without a flag, the first
	// production deployment of its changes.
	ReleasedAt    time.Time `json:"releasedAt,omitzero"`
	FirstExposure time.Time `json:"firstExposure,omitzero"`
	VerdictAt     time.Time `json:"verdictAt,omitzero"`
	Verdict       Stage     `json:"verdict,omitempty"`

	// LeadTimeToCustomer: first commit → released to everyone.
	LeadTimeToCustomer *Seconds `json:"leadTimeToCustomer,omitempty"`
	// TimeToValidatedLearning: first exposure → the verdict that stands.
	TimeToValidatedLearning *Seconds    `json:"timeToValidatedLearning,omitempty"`
	StageTimes              []StageTime `json:"stageTimes"`
	// Missing says, for each figure not given, what it waits for.
	Missing []string `json:"missing,omitempty"`
}

// NewRecord builds f's release record from its evidence, as of now;
// flags are f's flags linked in production, as Derive takes them.
func NewRecord(f *Feature, events []Event, flags []FlagLink, now time.Time) *Record {
	l := Derive(events, flags)
	r := &Record{Feature: f.Key, Title: f.Title, Objective: f.Objective, Hypothesis: f.Hypothesis.Statement(),
		Stage: l.Stage, Since: l.Since, Timeline: Timeline(events), Transitions: l.Transitions, StageTimes: l.StageTimes(now)}
	if r.Transitions == nil {
		r.Transitions = []Transition{}
	}
	var firstDeploy, rolloutStart time.Time
	rollout := false
	for _, e := range r.Timeline {
		switch e.Kind {
		case CommitPushed, Merged:
			r.FirstCommit = earlier(r.FirstCommit, e.At)
		case Deployed:
			firstDeploy = earlier(firstDeploy, e.At)
		case RolloutStarted:
			rollout = true
			rolloutStart = earlier(rolloutStart, e.At)
			r.FirstExposure = earlier(r.FirstExposure, e.At)
		case ExperimentStarted, Exposed:
			r.FirstExposure = earlier(r.FirstExposure, e.At)
		case RolloutCompleted:
			r.ReleasedAt = earlier(r.ReleasedAt, e.At)
		}
	}
	// The verdict that stands is the lifecycle's: the last, recorded or
	// given by hand (a team overruling a recorded verdict), so that the
	// record never names another verdict than its stage.
	if v := l.Verdict; v != nil {
		r.Verdict, r.VerdictAt = v.Stage, v.At
	}
	switch {
	case !r.ReleasedAt.IsZero() || rollout:
	case len(f.Links.Flags) == 0:
		r.ReleasedAt = firstDeploy // no flag: a deployment releases to everyone
	default:
		// A flag without a rollout: an experiment's split serves everyone it
		// is meant for from its first exposure.
		r.ReleasedAt = r.FirstExposure
	}
	if r.FirstExposure.IsZero() && len(f.Links.Flags) == 0 {
		r.FirstExposure = firstDeploy
	}
	miss := func(s string) { r.Missing = append(r.Missing, s) }
	switch {
	case r.FirstCommit.IsZero():
		miss("lead time to customer: no linked change yet (a commit trailer 'Feature: " + f.Key + "' links one)")
	case r.ReleasedAt.IsZero() && rollout:
		miss("lead time to customer: the rollout has not reached everyone yet")
	case r.ReleasedAt.IsZero():
		miss("lead time to customer: not released yet (no completed rollout or exposure of a linked flag)")
	default:
		r.LeadTimeToCustomer = secondsPtr(nonNegative(r.ReleasedAt.Sub(r.FirstCommit)))
	}
	switch {
	case r.FirstExposure.IsZero():
		miss("time to validated learning: no user has seen it yet (no rollout or exposure of a linked flag)")
	case r.VerdictAt.IsZero():
		miss("time to validated learning: no verdict yet")
	default:
		r.TimeToValidatedLearning = secondsPtr(nonNegative(r.VerdictAt.Sub(r.FirstExposure)))
	}
	return r
}

func nonNegative(d time.Duration) (time.Duration, bool) { return max(d, 0), true }

// earlier returns the earlier of a and b, a zero time counting as none.
func earlier(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}
