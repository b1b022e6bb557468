package delivery

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/dora"
)

// Loop is the loop's own figures for one flag in one environment: from the
// first commit of the changes linked to the flag, through production, to
// the rollout reaching all users and the verdict on its hypothesis.
// In JSON its durations are seconds (MarshalJSON).
type Loop struct {
	Flag        string `json:"flag"`
	Environment string `json:"environment"`
	// Changes are the change records linked to the flag.
	Changes     []dora.Change `json:"changes"`
	FirstCommit time.Time     `json:"firstCommit,omitzero"`
	// InProductionAt is when the last of the linked changes was first
	// deployed to production; zero while one is not.
	InProductionAt time.Time `json:"inProductionAt,omitzero"`
	Undeployed     int       `json:"undeployedChanges"`
	// RolloutStartedAt and FullRolloutAt come from the flag's rollout in
	// Environment; RolloutPercent and RolloutState say where it is now.
	RolloutStartedAt time.Time `json:"rolloutStartedAt,omitzero"`
	FullRolloutAt    time.Time `json:"fullRolloutAt,omitzero"`
	RolloutPercent   *float64  `json:"rolloutPercent,omitempty"`
	RolloutState     string    `json:"rolloutState,omitempty"`
	Verdict          string    `json:"verdict,omitempty"`
	VerdictAt        time.Time `json:"verdictAt,omitzero"`

	// CommitToProduction: first commit → all linked changes in production.
	CommitToProduction *time.Duration `json:"commitToProduction,omitempty"`
	// LeadTimeToCustomer: first commit → rollout at 100% of users.
	LeadTimeToCustomer *time.Duration `json:"leadTimeToCustomer,omitempty"`
	// TimeToValidatedLearning: rollout start → verdict.
	TimeToValidatedLearning *time.Duration `json:"timeToValidatedLearning,omitempty"`
	// Missing says, for each figure not given, what it waits for.
	Missing []string `json:"missing,omitempty"`
}

// loopJSON is Loop with its durations in seconds, the API's unit.
type loopJSON struct {
	loopFields
	CommitToProduction      *valueloop.Seconds `json:"commitToProduction,omitempty"`
	LeadTimeToCustomer      *valueloop.Seconds `json:"leadTimeToCustomer,omitempty"`
	TimeToValidatedLearning *valueloop.Seconds `json:"timeToValidatedLearning,omitempty"`
	Missing                 []string           `json:"missing,omitempty"`
}

// loopFields has Loop's fields without its methods, so that loopJSON can
// embed them without recursing into MarshalJSON.
type loopFields Loop

// MarshalJSON writes the durations in seconds.
func (l Loop) MarshalJSON() ([]byte, error) {
	j := loopJSON{loopFields: loopFields(l), Missing: l.Missing}
	j.CommitToProduction = seconds(l.CommitToProduction)
	j.LeadTimeToCustomer = seconds(l.LeadTimeToCustomer)
	j.TimeToValidatedLearning = seconds(l.TimeToValidatedLearning)
	return json.Marshal(j)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (l *Loop) UnmarshalJSON(b []byte) error {
	var j loopJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*l = Loop(j.loopFields)
	l.CommitToProduction = duration(j.CommitToProduction)
	l.LeadTimeToCustomer = duration(j.LeadTimeToCustomer)
	l.TimeToValidatedLearning = duration(j.TimeToValidatedLearning)
	l.Missing = j.Missing
	return nil
}

func seconds(d *time.Duration) *valueloop.Seconds {
	if d == nil {
		return nil
	}
	s := valueloop.Seconds(*d)
	return &s
}

func duration(s *valueloop.Seconds) *time.Duration {
	if s == nil {
		return nil
	}
	d := time.Duration(*s)
	return &d
}

// Loop computes the loop figures of flag in env.
func (s *Service) Loop(ctx context.Context, env, flag string) (*Loop, error) {
	if err := checkFlagKey(flag); err != nil {
		return nil, err
	}
	changes, err := s.Store.FlagChanges(ctx, flag)
	if err != nil {
		return nil, err
	}
	l := &Loop{Flag: flag, Environment: env, Changes: changes}
	if l.Changes == nil {
		l.Changes = []dora.Change{}
	}
	miss := func(format string) { l.Missing = append(l.Missing, format) }
	dur := func(d time.Duration, ok bool) *time.Duration {
		if !ok {
			return nil
		}
		return &d
	}
	l.FirstCommit, _ = dora.FirstCommit(changes)
	if len(changes) == 0 {
		miss("first commit: no change is linked to the flag; link one with a 'valueloop-flag: " + flag + "' commit trailer, a 'valueloop-flag:" + flag + "' pull request label or 'valueloop change record --flag " + flag + "'")
	} else if err := s.deployedAt(ctx, l); err != nil {
		return nil, err
	}
	if l.InProductionAt.IsZero() && len(changes) > 0 {
		miss("in production: " + plural(l.Undeployed, "linked change is", "linked changes are") + " not deployed to production yet")
	} else if !l.InProductionAt.IsZero() {
		l.CommitToProduction = dur(max(l.InProductionAt.Sub(l.FirstCommit), 0), true)
	}

	if s.Rollouts == nil {
		miss("rollout: this server runs no rollouts")
	} else {
		rt, err := s.Rollouts(ctx, env, flag)
		if err != nil {
			return nil, err
		}
		l.RolloutStartedAt, l.FullRolloutAt = rt.StartedAt, rt.FullAt
		if !rt.StartedAt.IsZero() {
			l.RolloutPercent, l.RolloutState = &rt.Percent, rt.State
		}
		switch {
		case rt.StartedAt.IsZero():
			miss("rollout: the flag has no rollout in " + env)
		case rt.FullAt.IsZero():
			miss("full rollout: the rollout has not reached 100% of users")
		}
	}
	l.LeadTimeToCustomer = dur(dora.LeadTimeToCustomer(changes, l.FullRolloutAt))

	if s.Verdicts == nil {
		miss("verdict: verdict times are not recorded yet (experiment verdicts are computed on demand, without the time they were reached)")
	} else {
		decision, at, err := s.Verdicts(ctx, env, flag)
		if err != nil {
			return nil, err
		}
		l.Verdict, l.VerdictAt = decision, at
		if at.IsZero() {
			miss("verdict: the hypothesis has no verdict yet")
		}
	}
	l.TimeToValidatedLearning = dur(dora.TimeToValidatedLearning(l.RolloutStartedAt, l.VerdictAt))
	return l, nil
}

// deployedAt finds when each linked change first reached production.
func (s *Service) deployedAt(ctx context.Context, l *Loop) error {
	snap, err := s.timeline(ctx)
	if err != nil {
		return err
	}
	linked := newLinkedChanges(l.Changes)
	for _, service := range loopServices(snap, l.Changes) {
		for _, d := range snap.tl.Deployments(service) {
			if d.Status != dora.StatusSuccess {
				continue
			}
			for _, c := range d.Changes {
				if linked.deliver(c) > 0 {
					l.InProductionAt = latestTime(l.InProductionAt, d.At)
				}
			}
		}
	}
	l.Undeployed = linked.undelivered()
	if l.Undeployed > 0 {
		l.InProductionAt = time.Time{}
	}
	return nil
}

// loopServices returns the services whose deployments may carry changes:
// those the changes name, those the catalog maps their repositories to,
// and the repositories no service claims.
func loopServices(snap *snapshot, changes []dora.Change) []string {
	var out []string
	add := func(s string) {
		for _, o := range out {
			if o == s {
				return
			}
		}
		out = append(out, s)
	}
	for _, c := range changes {
		if c.Service != "" {
			add(c.Service)
			continue
		}
		found := false
		for _, svc := range snap.data.Catalog.Services {
			for _, src := range svc.Sources {
				if strings.EqualFold(src.Repo, c.Repo) {
					add(svc.Name)
					found = true
				}
			}
		}
		if !found {
			add(c.Repo)
		}
	}
	return out
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}
