package rollout

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/valueloop/valueloop"
)

// State is where a rollout is in its life.
type State string

const (
	// Running: the engine advances the steps while the guardrails hold.
	Running State = "running"
	// Paused: the percentage is held; the guardrails are still checked, and
	// a breach still rolls back when the plan says so.
	Paused State = "paused"
	// Completed: the last step was held for its time; the split stays.
	Completed State = "completed"
	// RolledBack: everyone is served the baseline again.
	RolledBack State = "rolled_back"
)

// Active reports whether the rollout still drives its flag. A flag has at
// most one active rollout per environment.
func (s State) Active() bool { return s == Running || s == Paused }

// Kind names a transition, as recorded in a rollout's history, in the audit
// trail (as "rollout.<kind>") and in webhooks.
type Kind string

const (
	KindStart    Kind = "start"
	KindAdvance  Kind = "advance"
	KindPause    Kind = "pause"
	KindResume   Kind = "resume"
	KindRollback Kind = "rollback"
	KindComplete Kind = "complete"
	// KindHold is no transition but the engine's note, written once per
	// step, that the step's time is up and it still cannot end: a
	// guardrail lacks the plan's minSample users in a variant (see Hold).
	// The state is unchanged; only a human may advance the step.
	KindHold Kind = "hold"
)

// Hold says that a running rollout's step has lasted its MinDuration but
// is held: below 100% a step ends only once each guardrail has the plan's
// MinSample users in each variant, and some have fewer. It holds for as
// long as they lack them; nothing times it out.
type Hold struct {
	// Since is when the step's MinDuration ran out.
	Since time.Time `json:"since"`
	// Reason says it in one line, naming the guardrails and their users.
	Reason string `json:"reason"`
	// Guardrails are those without enough users.
	Guardrails []HeldGuardrail `json:"guardrails"`
}

// HeldGuardrail is a guardrail that holds a step: the users it has in
// each variant and the users it needs in each (the plan's MinSample).
type HeldGuardrail struct {
	Metric        string `json:"metric"`
	BaselineUsers int64  `json:"baselineUsers"`
	VariantUsers  int64  `json:"variantUsers"`
	Needs         int64  `json:"needs"`
}

// Rollout is a plan under way in one environment, as stored.
type Rollout struct {
	ID          int64  `json:"id"`
	Environment string `json:"environment"`
	Plan        Plan   `json:"plan"`
	State       State  `json:"state"`
	// Step is the index of the current step in Plan.Steps.
	Step int `json:"step"`
	// Percent of users the flag serves the released variant now.
	Percent float64 `json:"percent"`
	// StepStartedAt is when the current step began, moved on by the time
	// it was paused (a resume does: the step's MinDuration counts the time
	// it ran); StepStartUsers the users of the released variant when it
	// began (for the step's MinUsers).
	StepStartedAt  time.Time `json:"stepStartedAt"`
	StepStartUsers int64     `json:"stepStartUsers"`
	// Reason says why the rollout is paused, rolled back or completed.
	Reason string `json:"reason,omitempty"`
	// Acknowledged lists guardrails whose breach a human accepted by
	// resuming: they no longer stop the rollout.
	Acknowledged []string `json:"acknowledged,omitempty"`
	// FlagVersion is the version of the flag the engine last wrote or
	// adopted. A flag at another version with another split was changed by
	// someone else, and the rollout pauses rather than fight them.
	FlagVersion int64 `json:"flagVersion"`
	// FlagPending marks a rollback stored before its flag write: the
	// engine sets the flag to the baseline after storing the rollback, and
	// a crash in between left a rollout no longer active whose flag still
	// serves the variant. Cleared once the write is made, or found not to
	// be wanted; the tick finishes every rollout so marked.
	FlagPending bool      `json:"-"`
	StartedBy   string    `json:"startedBy"`
	StartedAt   time.Time `json:"startedAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
	FinishedAt  time.Time `json:"finishedAt,omitzero"`
	// Version grows with every stored change (optimistic concurrency).
	Version int64 `json:"version"`
}

// Event is one entry of a rollout's history: a transition, who made it
// (a token's name, or "valueloop" for the engine), why, and for decisions
// of the engine the guardrail figures it decided on.
type Event struct {
	ID         int64             `json:"id"`
	Rollout    int64             `json:"rollout"`
	At         time.Time         `json:"at"`
	Kind       Kind              `json:"kind"`
	Actor      string            `json:"actor"`
	Step       int               `json:"step"`
	Percent    float64           `json:"percent"`
	State      State             `json:"state"`
	Reason     string            `json:"reason,omitempty"`
	Guardrails []GuardrailResult `json:"guardrails,omitempty"`
}

// Start returns a new rollout of p (already checked) at its first step.
func Start(env string, p Plan, actor string, now time.Time, variantUsers int64) Rollout {
	return Rollout{
		Environment:    env,
		Plan:           p,
		State:          Running,
		Percent:        p.Steps[0].Percent,
		StepStartedAt:  now,
		StepStartUsers: variantUsers,
		StartedBy:      actor,
		StartedAt:      now,
		UpdatedAt:      now,
	}
}

// Apply returns the rollout after a transition of kind k at now, and the
// history entry that records it. variantUsers is the released variant's
// users now; figures are the guardrail results the transition rests on (a
// resume acknowledges those breached). A transition that makes no sense in
// the current state (resuming a running rollout, advancing a finished one)
// is an ECONFLICT error that says why.
//
// The reason is fitted to one line of at most valueloop.MaxReason bytes
// (valueloop.FitReason): a person's was checked already and is kept as
// given, while the engine's own (every breached guardrail with its
// figures, an error message) is recorded whatever it says.
func (r Rollout) Apply(k Kind, now time.Time, variantUsers int64, actor, reason string, figures []GuardrailResult) (Rollout, Event, error) {
	reason = valueloop.FitReason(reason)
	next := r
	next.UpdatedAt = now
	next.Acknowledged = slices.Clone(r.Acknowledged)
	conflict := func(format string, args ...any) (Rollout, Event, error) {
		return r, Event{}, valueloop.Errorf(valueloop.ECONFLICT, "rollout %d of %q is %s: %s", r.ID, r.Plan.Flag, strings.ReplaceAll(string(r.State), "_", " "), fmt.Sprintf(format, args...))
	}
	switch k {
	case KindAdvance:
		if !r.State.Active() {
			return conflict("start a new rollout instead")
		}
		if r.Step+1 >= len(r.Plan.Steps) {
			return r.Apply(KindComplete, now, variantUsers, actor, reason, figures)
		}
		next.Step++
		next.Percent = r.Plan.Steps[next.Step].Percent
		next.StepStartedAt, next.StepStartUsers = now, variantUsers
	case KindComplete:
		if !r.State.Active() {
			return conflict("start a new rollout instead")
		}
		next.State, next.FinishedAt, next.Reason = Completed, now, reason
	case KindPause:
		if r.State != Running {
			return conflict("only a running rollout can be paused")
		}
		next.State, next.Reason = Paused, reason
	case KindResume:
		if r.State != Paused {
			return conflict("only a paused rollout can be resumed")
		}
		next.State, next.Reason = Running, ""
		for _, g := range figures {
			if g.Breached() && !slices.Contains(next.Acknowledged, g.Metric) {
				next.Acknowledged = append(next.Acknowledged, g.Metric)
			}
		}
	case KindRollback:
		if !r.State.Active() {
			return conflict("nothing to roll back")
		}
		next.State, next.Percent, next.FinishedAt, next.Reason = RolledBack, 0, now, reason
		next.FlagPending = true
	default:
		return r, Event{}, valueloop.Errorf(valueloop.EINVALID, "unknown rollout action %q: want pause, resume, advance or rollback", k)
	}
	ev := Event{Rollout: r.ID, At: now, Kind: k, Actor: actor, Step: next.Step, Percent: next.Percent, State: next.State, Reason: reason, Guardrails: figures}
	return next, ev, nil
}

// Decision is what the engine should do with a rollout now.
type Decision struct {
	// Kind is the transition to make, or "" for none.
	Kind   Kind
	Reason string
	// Waiting says, when Kind is "", what the rollout waits for.
	Waiting string
	// Held is set, when Kind is "", for a running step past its
	// MinDuration that guardrails without enough users keep from ending.
	Held *Hold
	// StepMinUsers and StepMinUsersReason are StepMinUsers of the rollout
	// and figures decided on (0 and "" for an inactive rollout), so that
	// the status need not work them out again.
	StepMinUsers       int64
	StepMinUsersReason string
}

// Decide is the engine's rule, pure: given the rollout, the released
// variant's users and the guardrail results at now,
//
//   - a breached guardrail (not acknowledged) rolls the rollout back, or
//     pauses a running one, as the plan says — even a paused rollout is
//     rolled back when the plan says rollback;
//   - a running rollout whose step has lasted its MinDuration, gained its
//     minimum of users (StepMinUsers), whose guardrails show no breach and
//     (below 100%) each have the plan's MinSample users in each variant
//     advances (or completes after the last step); with
//     Plan.RequireNonInferiority, advancing into the last step also needs
//     every guardrail ok.
//
// "No harm detected" does not block: the step's minimum of users — by
// default the users that detect a harm of the tolerated size with the plan's
// power — is what makes it mean something.
func Decide(r Rollout, variantUsers int64, figures []GuardrailResult, now time.Time) Decision {
	if !r.State.Active() {
		return Decision{}
	}
	need, why := StepMinUsers(r, figures)
	d := decide(r, variantUsers, figures, now, need, why)
	d.StepMinUsers, d.StepMinUsersReason = need, why
	return d
}

func decide(r Rollout, variantUsers int64, figures []GuardrailResult, now time.Time, need int64, why string) Decision {
	var breached []string
	for _, g := range figures {
		if g.Breached() && !slices.Contains(r.Acknowledged, g.Metric) {
			breached = append(breached, g.Reason)
		}
	}
	if len(breached) > 0 {
		reason := strings.Join(breached, "; ")
		if r.Plan.OnBreach == RollbackOnBreach {
			return Decision{Kind: KindRollback, Reason: reason}
		}
		if r.State == Running {
			return Decision{Kind: KindPause, Reason: reason}
		}
	}
	if r.State == Paused {
		return Decision{Waiting: "paused: resume, advance or roll back"}
	}
	step := r.Plan.Steps[r.Step]
	var waits []string
	stepEnd := r.StepStartedAt.Add(time.Duration(step.MinDuration))
	if left := stepEnd.Sub(now); left > 0 {
		unit := time.Second
		if left > time.Minute {
			unit = time.Minute
		}
		waits = append(waits, Duration(left.Round(unit)).String()+" more at "+trimFloat(r.Percent)+"%")
	}
	if variantUsers-r.StepStartUsers < need {
		waits = append(waits, fmt.Sprintf("%s of %s (%s)", valueloop.Count(need-(variantUsers-r.StepStartUsers), "more user"), r.Plan.Variant, why))
	}
	// A guardrail is a guard only once it has seen users: "no harm
	// detected" on no data would let a rollout reach 100% on time alone
	// (a guardrail without a tolerance sets no minimum of users, nor does
	// one on a metric no user reached). Below 100% a step ends only when
	// each guardrail has MinSample users in each variant; a human may
	// still advance.
	var held []HeldGuardrail
	if step.Percent < 100 {
		for _, g := range figures {
			if g.Status == GuardrailNotEnoughData && (g.BaselineUsers < r.Plan.MinSample || g.VariantUsers < r.Plan.MinSample) && !slices.Contains(r.Acknowledged, g.Metric) {
				waits = append(waits, fmt.Sprintf("guardrail %s to have %s in each variant (it has %d in %s and %d in %s)",
					g.Metric, valueloop.Count(r.Plan.MinSample, "user"), g.BaselineUsers, r.Plan.Baseline, g.VariantUsers, r.Plan.Variant))
				held = append(held, HeldGuardrail{Metric: g.Metric, BaselineUsers: g.BaselineUsers, VariantUsers: g.VariantUsers, Needs: r.Plan.MinSample})
			}
		}
	}
	var hold *Hold
	if len(held) > 0 && !now.Before(stepEnd) {
		hold = &Hold{Since: stepEnd, Guardrails: held, Reason: valueloop.FitReason(holdReason(r, held))}
	}
	if r.Plan.RequireNonInferiority && r.Step+2 == len(r.Plan.Steps) {
		for _, g := range figures {
			if g.Status != GuardrailOK && !slices.Contains(r.Acknowledged, g.Metric) {
				waits = append(waits, fmt.Sprintf("guardrail %s to show non-inferiority before the last step (it is %s)", g.Metric, strings.ReplaceAll(g.Status, "_", " ")))
			}
		}
	}
	if len(waits) > 0 {
		return Decision{Waiting: strings.Join(waits, " and "), Held: hold}
	}
	if r.Step+1 >= len(r.Plan.Steps) {
		return Decision{Kind: KindComplete, Reason: fmt.Sprintf("held %s%% for %s; %s", trimFloat(r.Percent), step.MinDuration, guardSummary(figures))}
	}
	nextPct := r.Plan.Steps[r.Step+1].Percent
	return Decision{Kind: KindAdvance, Reason: fmt.Sprintf("step %d of %d held (%s%% for %s); %s: on to %s%%",
		r.Step+1, len(r.Plan.Steps), trimFloat(r.Percent), step.MinDuration, guardSummary(figures), trimFloat(nextPct))}
}

// holdReason says why a step is held, naming each guardrail's users.
func holdReason(r Rollout, held []HeldGuardrail) string {
	parts := make([]string, len(held))
	for i, g := range held {
		parts[i] = fmt.Sprintf("%s has %d in %s and %d in %s", g.Metric, g.BaselineUsers, r.Plan.Baseline, g.VariantUsers, r.Plan.Variant)
	}
	lasted := " has no minimum time"
	if d := r.Plan.Steps[r.Step].MinDuration; d > 0 {
		lasted = " has lasted its " + d.String()
	}
	return fmt.Sprintf("step %d of %d (%s%%)%s but holds until each guardrail has %s in each variant: %s; advance by hand to go on without them",
		r.Step+1, len(r.Plan.Steps), trimFloat(r.Percent), lasted, valueloop.Count(held[0].Needs, "user"), strings.Join(parts, "; "))
}

// guardSummary says what the guardrails show, without claiming more. A
// breached guardrail that lets the rollout go on was acknowledged (a
// resume accepted it, Decide stops at any other): it is named as
// breached, not counted in "no harm detected".
func guardSummary(figures []GuardrailResult) string {
	if len(figures) == 0 {
		return "no guardrails"
	}
	var acked []string
	allOK, othersOK := true, true
	for _, g := range figures {
		switch {
		case g.Breached():
			acked = append(acked, g.Metric)
			allOK = false
		case g.Status != GuardrailOK:
			allOK, othersOK = false, false
		}
	}
	switch {
	case allOK:
		return "every guardrail shown within tolerance"
	case len(acked) == 0:
		return "no harm detected"
	}
	s := strings.Join(acked, ", ") + " breached (acknowledged)"
	switch {
	case len(acked) == len(figures):
		return s
	case othersOK:
		return s + "; every other guardrail shown within tolerance"
	}
	return s + "; no other harm detected"
}

// StepMinUsers is the number of users the released variant must gain in the
// rollout's current step before it may end, and why: the step's MinUsers
// when set; else the largest NeededUsers of the guardrails (a tolerance of 0
// has no harm size to plan for, and an acknowledged guardrail no longer
// stops the rollout: both are skipped); else, while a guardrail with
// a tolerance has no figures yet, the plan's MinSample; else none.
func StepMinUsers(r Rollout, figures []GuardrailResult) (int64, string) {
	step := r.Plan.Steps[r.Step]
	if step.MinUsers > 0 {
		return step.MinUsers, "the step's minimum"
	}
	if step.Percent >= 100 {
		return 0, "no baseline left to compare with"
	}
	var need int64
	var which *GuardrailResult
	waiting := false
	for i, g := range figures {
		switch {
		// An acknowledged guardrail no longer stops the rollout: not
		// by its breach, nor by the users it would need.
		case g.Tolerance == 0 || slices.Contains(r.Acknowledged, g.Metric):
		case g.NeededUsers > need:
			need, which = g.NeededUsers, &figures[i]
		case g.NeededUsers == 0 && g.Status == GuardrailNotEnoughData:
			waiting = true
		}
	}
	power := r.Plan.Power
	if power == 0 {
		power = DefaultPower
	}
	switch {
	case need > 0:
		return need, fmt.Sprintf("to detect a %s harm on %s with %.0f%% power", pct(which.Tolerance), which.Metric, 100*power)
	case waiting:
		return r.Plan.MinSample, "the plan's minSample, until the guardrails have figures to size the step"
	}
	if len(r.Acknowledged) > 0 {
		return 0, "no guardrail with a tolerance to size the step but those acknowledged (" + strings.Join(r.Acknowledged, ", ") + ")"
	}
	return 0, "no guardrail with a tolerance to size the step"
}
