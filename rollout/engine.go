package rollout

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/cluster"
	"github.com/valueloop/valueloop/evaluation"
	"github.com/valueloop/valueloop/experiment"
	"github.com/valueloop/valueloop/flags"
	"github.com/valueloop/valueloop/metric"
)

// Store keeps rollouts and their history. Every method is one transaction.
type Store interface {
	// CreateRollout stores a new rollout with its first history entry,
	// setting r.ID, r.Version and ev.ID; ECONFLICT when the flag already has
	// an active rollout in the environment.
	CreateRollout(ctx context.Context, r *Rollout, ev *Event) error
	// UpdateRollout stores r if the stored version is still r.Version, and
	// increases r.Version; ECONFLICT otherwise. A non-nil ev is appended to
	// the history and written to the audit trail.
	UpdateRollout(ctx context.Context, r *Rollout, ev *Event) error
	// UpdateRolloutIfEnabled is UpdateRollout made only while r's flag
	// exists and is enabled in r's environment, read in the same
	// transaction as the write under the lock the flag's writers take: a
	// disable cannot land between the check and the write. It reports
	// false, and stores nothing, when the flag is not enabled.
	UpdateRolloutIfEnabled(ctx context.Context, r *Rollout, ev *Event) (bool, error)
	// Rollouts lists rollouts, newest first.
	Rollouts(ctx context.Context, f Filter) ([]Rollout, error)
	// CountRollouts counts the rollouts f selects (its Limit and Offset
	// aside), up to upTo.
	CountRollouts(ctx context.Context, f Filter, upTo int) (int, error)
	// RolloutEvents returns the history of a rollout, oldest first.
	RolloutEvents(ctx context.Context, id int64) ([]Event, error)
}

// Filter selects rollouts; zero fields match everything.
type Filter struct {
	Environment string
	// Environments, when not empty, keeps the rollouts of these
	// environments only (a list of those a token may read).
	Environments []string
	Flag         string
	// Active keeps running and paused rollouts only; Finished the others.
	Active, Finished bool
	// State, when set, keeps rollouts in that state only.
	State State
	// FlagPending keeps rollouts whose flag write is still to be made
	// (Rollout.FlagPending).
	FlagPending bool
	// Limit defaults to 100; a Store lists at most 1,000 at once.
	Limit int
	// BeforeID keeps rollouts with a smaller ID: the next page after one
	// whose last rollout it is.
	BeforeID int64
	// Offset skips that many of the newest rollouts selected: a page by
	// number (the dashboard's), whose caller bounds it by a count.
	Offset int
}

// Flags is how the engine reads and writes flags: *flags.Service.
type Flags interface {
	Live(env string) *flags.Live
	PutFlag(ctx context.Context, env string, f *valueloop.Flag, ifVersion int64, actor, reason string) (int64, error)
}

// Data is what the engine reads of the feedback: metric definitions and a
// flag's aggregates (package ingest keeps them, a store serves them): the
// cells of the randomised users, which the guardrails read, and those of
// the users served outside the split (dimension metric.OutsideDimension),
// which count in the users a rollout reached.
// The flag's split periods (its split history) date the cells: the status
// reads those of the current step's split (StepServed).
type Data interface {
	Metrics(ctx context.Context, env string) ([]metric.Metric, error)
	Aggregates(ctx context.Context, env, flag string) ([]metric.Aggregate, error)
	DimensionAggregates(ctx context.Context, env, flag, dimension string) ([]metric.Aggregate, error)
	SplitHistory(ctx context.Context, env, flag string) ([]experiment.SplitPeriod, error)
}

// reached returns the users per variant of flag that aggs (its cells of
// randomised users) count, plus those served it outside the split: every
// user the flag exposed; and the cells it read of the latter.
func (e *Engine) reached(ctx context.Context, env, flag string, aggs []metric.Aggregate) (map[string]int64, []metric.Aggregate, error) {
	outside, err := e.Data.DimensionAggregates(ctx, env, flag, metric.OutsideDimension)
	if err != nil {
		return nil, nil, err
	}
	return Users(slices.Concat(aggs, outside)), outside, nil
}

// flagCells are a flag's cells as observe read them: of its randomised
// users and of those served outside the split.
type flagCells struct {
	randomised, outside []metric.Aggregate
}

// Notification announces a transition.
type Notification struct {
	// Text is one line for people (chat messages).
	Text    string  `json:"text"`
	Event   Event   `json:"event"`
	Rollout Rollout `json:"rollout"`
}

// Notifier announces transitions. Notify must not block: webhooks are
// delivered in the background.
type Notifier interface {
	Notify(n Notification)
}

// NotifierFunc adapts a function to Notifier.
type NotifierFunc func(Notification)

// Notify calls f.
func (f NotifierFunc) Notify(n Notification) { f(n) }

// Leader runs the engine's ticks on one node at a time when several nodes
// share one database. Its method set is that of cluster.Singleton, so a
// lock-based leader plugs in unchanged: Run calls fn while this node holds
// the lock called name, with a context that ends when the lock is lost, and
// returns when ctx ends. Without a Leader the engine runs its ticks itself
// (one node). Manual actions run on any node: the store's version check
// keeps them consistent.
type Leader interface {
	Run(ctx context.Context, name string, fn func(ctx context.Context) error) error
}

// LeaderName is the lock name the engine runs under.
const LeaderName = "rollouts"

// EngineActor is the actor the engine's own decisions are recorded under.
const EngineActor = "valueloop"

// Engine runs rollouts: every Interval it checks each active rollout's
// flag, guardrails and schedule and makes the transition Decide calls for.
// Construct with NewEngine, set fields, then Open; Close stops the ticks.
// Start, Act, Status and Tick may be called without Open (tests drive Tick
// with their own clock).
type Engine struct {
	Store    Store
	Flags    Flags
	Data     Data
	Notifier Notifier // optional
	Leader   Leader   // optional: nil for a single node
	// Now is the clock of every decision.
	Now func() time.Time
	// Interval between ticks (default 10s).
	Interval time.Duration
	Logger   *slog.Logger

	mu     sync.Mutex // one transition at a time on this node
	cancel context.CancelFunc

	sizingMu sync.Mutex
	sizing   map[int64]*stepSizing // per active rollout, its current step's
	// announced is, per active rollout, the step (index and start) whose
	// hold this node knows was announced (announceHold), under sizingMu.
	announced map[int64]heldStep
	done      chan struct{}
}

// NewEngine returns an engine with the default clock and interval.
func NewEngine(store Store, fl Flags, data Data, logger *slog.Logger) *Engine {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Engine{Store: store, Flags: fl, Data: data, Now: time.Now, Interval: 10 * time.Second, Logger: logger}
}

// Open starts the ticks.
func (e *Engine) Open() error {
	if e.Store == nil || e.Flags == nil || e.Data == nil {
		return errors.New("rollout: Engine.Store, Flags and Data are required")
	}
	if e.Interval <= 0 {
		e.Interval = 10 * time.Second
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel, e.done = cancel, make(chan struct{})
	go func() {
		defer close(e.done)
		if e.Leader == nil {
			e.run(ctx)
			return
		}
		lead := func(lctx context.Context) error {
			e.run(lctx)
			if ctx.Err() != nil {
				return nil
			}
			return errLostLead // Run tries again once this node leads
		}
		if err := e.Leader.Run(ctx, LeaderName, lead); err != nil {
			e.Logger.Error("rollouts: leader stopped", "err", err)
		}
	}()
	return nil
}

var errLostLead = errors.New("rollouts: no longer the leader")

// Close stops the ticks and waits for the one under way.
func (e *Engine) Close() error {
	if e.cancel == nil {
		return nil
	}
	e.cancel()
	<-e.done
	return nil
}

func (e *Engine) run(ctx context.Context) {
	cluster.Every(ctx, e.Interval, e.Tick, e.Logger.Error, "rollouts: tick failed")
}

// Start validates p against the flag and metrics of env and starts it: the
// flag's split is set to the first step. Bad plans are an EINVALID
// *valueloop.ValidationError listing every problem and change nothing; a
// flag with an active rollout is ECONFLICT, as is one changed between the
// check and the write of its split, and neither changes anything.
func (e *Engine) Start(ctx context.Context, env string, p Plan, actor, reason string) (*Rollout, error) {
	return e.StartAt(ctx, env, p, actor, reason, time.Time{})
}

// StartAt is Start with the start dated at (zero: now), for loading a
// history whose traffic came after the start (serve --demo). A time
// ahead of the engine's clock is refused (EINVALID).
func (e *Engine) StartAt(ctx context.Context, env string, p Plan, actor, reason string, at time.Time) (*Rollout, error) {
	if err := valueloop.CheckReason("reason", reason); err != nil {
		return nil, err // a reason is one line of the history and the audit trail
	}
	if !at.IsZero() && at.After(e.Now()) {
		return nil, valueloop.Errorf(valueloop.EINVALID, "rollout start %s is ahead of the server's clock", at.UTC().Format(time.RFC3339))
	}
	ctx, unlock, err := e.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	// Made sure of: the plan is checked against the flag the split is
	// written over, and this node's live flags may lag a peer's edit.
	if err := e.load(ctx); err != nil {
		return nil, err
	}
	live := e.Flags.Live(env)
	if live == nil {
		return nil, valueloop.Errorf(valueloop.ENOTFOUND, "environment %q not found", env)
	}
	set := live.Snapshot.Set()
	f := set.Flags[p.Flag]
	metrics, err := e.Data.Metrics(ctx, env)
	if err != nil {
		return nil, err
	}
	if err := p.Check(f, metrics); err != nil {
		return nil, err
	}
	next, err := ApplySplit(f, p.Variant, p.Baseline, Weight(p.Steps[0].Percent))
	if err != nil {
		return nil, err
	}
	if probs := evaluation.CheckFlag(p.Flag, next, set.Evaluators); len(probs) > 0 {
		return nil, &valueloop.ValidationError{Problems: probs}
	}
	if active, err := e.Store.Rollouts(ctx, Filter{Environment: env, Flag: p.Flag, Active: true, Limit: 1}); err != nil {
		return nil, err
	} else if len(active) > 0 {
		return nil, alreadyActive(active[0])
	}
	aggs, err := e.Data.Aggregates(ctx, env, p.Flag)
	if err != nil {
		return nil, err
	}
	now := at
	if now.IsZero() {
		now = e.Now()
	}
	users, _, err := e.reached(ctx, env, p.Flag, aggs)
	if err != nil {
		return nil, err
	}
	r := Start(env, p, actor, now, users[p.Variant])
	r.FlagVersion = f.Version
	if reason == "" {
		reason = "started: " + stepsString(p.Steps)
	}
	// The split is written before the rollout is stored, unlike a
	// transition's: a write refused (an edit since the check) then
	// leaves no rollout behind, paused, that a start again would find
	// active. A crash in between leaves the flag at the first step with
	// no rollout, which a start again takes as it is.
	if err := e.writeStart(ctx, &r, f, next); err != nil {
		return nil, err
	}
	ev := Event{At: now, Kind: KindStart, Actor: actor, Step: 0, Percent: r.Percent, State: r.State, Reason: reason}
	if err := e.Store.CreateRollout(ctx, &r, &ev); err != nil {
		e.undoStart(ctx, r, f)
		if valueloop.ErrorCode(err) == valueloop.ECONFLICT {
			return nil, valueloop.Errorf(valueloop.ECONFLICT, "flag %q already has an active rollout in %s: roll it back or let it finish first (a paused one is still active)", p.Flag, env)
		}
		return nil, err
	}
	e.notify(r, ev)
	return &r, nil
}

// writeStart writes next, flag f with r's first step, over f's version
// only (the one the plan was checked against), and records the version in
// r. An edit since is ECONFLICT.
func (e *Engine) writeStart(ctx context.Context, r *Rollout, f, next *valueloop.Flag) error {
	if got, err := SplitOf(f, r.Plan.Variant, r.Plan.Baseline); err == nil && got == Weight(r.Percent) {
		return nil
	}
	version, err := e.Flags.PutFlag(ctx, r.Environment, next, f.Version, r.StartedBy, r.flagReason())
	if valueloop.ErrorCode(err) == valueloop.ECONFLICT {
		return valueloop.Errorf(valueloop.ECONFLICT, "flag %q was changed in %s while the rollout started: nothing was started; check the flag and start again", r.Plan.Flag, r.Environment)
	}
	if err != nil {
		return err
	}
	r.FlagVersion = version
	return nil
}

// undoStart puts back flag f as it was before writeStart when the rollout
// could not be stored: a split without the rollout that drives it.
func (e *Engine) undoStart(ctx context.Context, r Rollout, f *valueloop.Flag) {
	if r.FlagVersion == f.Version {
		return
	}
	if _, err := e.Flags.PutFlag(ctx, r.Environment, f, r.FlagVersion, r.StartedBy, "rollout not started: split put back"); err != nil {
		e.Logger.Error("rollouts: cannot put back the split of a rollout not started", "environment", r.Environment, "flag", r.Plan.Flag, "err", err)
	}
}

func alreadyActive(r Rollout) error {
	return valueloop.Errorf(valueloop.ECONFLICT, "flag %q already has an active rollout in %s (rollout %d, %s at %s%%): roll it back or let it finish first (a paused one is still active)",
		r.Plan.Flag, r.Environment, r.ID, r.State, trimFloat(r.Percent))
}

// Act makes a manual transition (pause, resume, advance or rollback) of the
// active rollout of flag in env, and writes the flag at once.
func (e *Engine) Act(ctx context.Context, env, flag string, k Kind, actor, reason string) (*Rollout, error) {
	switch k {
	case KindPause, KindResume, KindAdvance, KindRollback:
	default:
		return nil, valueloop.Errorf(valueloop.EINVALID, "unknown rollout action %q: want pause, resume, advance or rollback", k)
	}
	if err := valueloop.CheckReason("reason", reason); err != nil {
		return nil, err // a reason is one line of the history and the audit trail
	}
	ctx, unlock, err := e.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	r, err := e.latest(ctx, env, flag)
	if err != nil {
		return nil, err
	}
	if (k == KindResume && r.State == Paused) || (k == KindAdvance && r.State.Active()) {
		if err := e.checkFlag(ctx, r, k); err != nil {
			return nil, err
		}
	}
	if k == KindResume && r.State == Paused {
		if err := e.restartClock(ctx, r); err != nil {
			return nil, err
		}
	}
	_, figures, users, err := e.observe(ctx, r)
	if err != nil {
		return nil, err
	}
	if reason == "" {
		reason = "by hand"
	}
	next, err := e.transition(ctx, *r, k, actor, reason, figures, users)
	if err != nil {
		return nil, err
	}
	return &next, nil
}

// restartClock moves the start of paused r's step on by the time it was
// paused, so that the step's MinDuration counts the time it ran: paused,
// the step's share is held or, with the flag disabled (the kill switch),
// served to nobody, and a resume would otherwise advance at the next tick
// on time nobody watched as a running step.
func (e *Engine) restartClock(ctx context.Context, r *Rollout) error {
	hist, err := e.Store.RolloutEvents(ctx, r.ID)
	if err != nil {
		return err
	}
	if from, ok := clockStopped(*r, hist); ok {
		if paused := e.Now().Sub(from); paused > 0 {
			r.StepStartedAt = r.StepStartedAt.Add(paused)
		}
		// A step whose time ran out before the pause (held) ends at the
		// resume, not the pause's length after its end: a moment inside
		// the pause, which a hold then gave as its "since".
		if end := r.StepStartedAt.Add(time.Duration(r.Plan.Steps[r.Step].MinDuration)); end.Before(e.Now()) {
			r.StepStartedAt = r.StepStartedAt.Add(e.Now().Sub(end))
		}
	}
	return nil
}

// clockStopped is when paused r's step stopped counting its time: its last
// pause (the history's), or the step's start for a step begun while paused
// (an advance by hand), which counts from the resume.
func clockStopped(r Rollout, hist []Event) (time.Time, bool) {
	for i := len(hist) - 1; i >= 0; i-- {
		if hist[i].Kind == KindPause {
			if hist[i].At.Before(r.StepStartedAt) {
				return r.StepStartedAt, true
			}
			return hist[i].At, true
		}
	}
	return time.Time{}, false
}

// pausedLeft is the time paused r's step has left of its MinDuration.
func pausedLeft(r Rollout, hist []Event) time.Duration {
	from, ok := clockStopped(r, hist)
	if !ok {
		return 0
	}
	return r.StepStartedAt.Add(time.Duration(r.Plan.Steps[r.Step].MinDuration)).Sub(from)
}

// latest returns the newest rollout of flag in env.
func (e *Engine) latest(ctx context.Context, env, flag string) (*Rollout, error) {
	rs, err := e.Store.Rollouts(ctx, Filter{Environment: env, Flag: flag, Limit: 1})
	if err != nil {
		return nil, err
	}
	if len(rs) == 0 {
		return nil, valueloop.Errorf(valueloop.ENOTFOUND, "flag %q has no rollout in %s: start one with 'valueloop rollout start %s --env %s ...'", flag, env, flag, env)
	}
	return &rs[0], nil
}

// transition applies k to r, stores it with its history entry, writes the
// flag and announces it.
func (e *Engine) transition(ctx context.Context, r Rollout, k Kind, actor, reason string, figures []GuardrailResult, users map[string]int64) (Rollout, error) {
	if k == KindAdvance && actor == EngineActor {
		ok, err := e.stepOver(ctx, &r)
		if err != nil || !ok {
			return r, err
		}
	}
	next, ev, err := r.Apply(k, e.Now(), users[r.Plan.Variant], actor, reason, figures)
	if err != nil {
		return r, err
	}
	if stored, err := e.store(ctx, &next, &ev); err != nil || !stored {
		if err == nil && actor != EngineActor {
			err = e.refused(ctx, r, k)
		}
		return r, err // the engine's: the next tick finds the flag disabled, and pauses
	}
	e.notify(next, ev)
	// Pausing holds the split and completing keeps it; the other
	// transitions set it (a resume takes back a flag changed meanwhile).
	if k == KindAdvance || k == KindResume || k == KindRollback {
		if err := e.applyFlag(ctx, &next, actor); err != nil {
			if k == KindRollback && valueloop.ErrorCode(err) == valueloop.ENOTFOUND {
				// No flag left to send back to the baseline: nothing
				// failed. Known only once applyFlag has made sure of
				// it, as this node's live flags may not yet have seen
				// a peer delete it.
				return next, nil
			}
			return next, e.flagFailed(ctx, &next, err)
		}
	}
	return next, nil
}

// store stores next, r after a transition, with its history entry ev.
// A transition that only an enabled flag allows (an advance, a resume, a
// completion: checkFlag and tick check the flag first) is stored only
// while it is enabled, read in the write's transaction: a disable, on
// this node or a peer, landing after the check (while the figures are
// read, or up to 5 s before this node's live flags show it) would have
// the step stored, and its split written, for a disabled flag. It reports
// whether next was stored.
func (e *Engine) store(ctx context.Context, next *Rollout, ev *Event) (bool, error) {
	switch ev.Kind {
	case KindAdvance, KindResume, KindComplete:
		return e.Store.UpdateRolloutIfEnabled(ctx, next, ev)
	}
	return true, e.Store.UpdateRollout(ctx, next, ev)
}

// refused is the error of a person's transition k of r that was not
// stored: its flag was disabled or deleted after checkFlag found it
// enabled, which checkFlag, made sure of now, says.
func (e *Engine) refused(ctx context.Context, r Rollout, k Kind) error {
	// Made sure of: a node whose live flags have not seen a peer's
	// disable yet finds the flag as it was, enabled, without loading it.
	if err := e.load(ctx); err != nil {
		return err
	}
	if err := e.checkFlag(ctx, &r, k); err != nil {
		return err
	}
	return valueloop.Errorf(valueloop.ECONFLICT, "rollout %d of %q cannot %s: flag %q was disabled in %s meanwhile: check it and try again", r.ID, r.Plan.Flag, k, r.Plan.Flag, r.Environment)
}

// stepOver reports whether the engine may write its step over r's flag:
// the flag is as the tick found it. An edit since (while the tick read the
// figures) is not stepped over; the next tick finds it and pauses, saying
// what it found. The flag is read from the store, as this node's live
// flags may lag a peer's edit by up to 5 s: an edit that left the split
// alone (metadata) is adopted, as the tick adopts one it sees, rather
// than found at the write and taken for a change of the split there.
func (e *Engine) stepOver(ctx context.Context, r *Rollout) (bool, error) {
	if err := e.load(ctx); err != nil {
		return false, err
	}
	f := e.flag(r)
	switch {
	case f == nil:
		return false, nil
	case f.Version == r.FlagVersion:
		return true, nil
	}
	if got, err := SplitOf(f, r.Plan.Variant, r.Plan.Baseline); err != nil || got != Weight(r.Percent) || f.State != valueloop.StateEnabled {
		return false, nil
	}
	r.FlagVersion = f.Version
	return true, nil
}

// applyFlag makes the flag's split match r.Percent (applyFlagOnce). A
// rollback's write that loses a race with an edit of the flag is made
// again on the edited flag: everyone goes back to the baseline whatever
// the flag was changed to a moment before, while a step's write that
// loses one pauses the rollout (flagFailed) rather than fight the edit.
func (e *Engine) applyFlag(ctx context.Context, r *Rollout, actor string) error {
	err := e.applyFlagOnce(ctx, r, actor)
	for try := 0; try < 3 && r.State == RolledBack && valueloop.ErrorCode(err) == valueloop.ECONFLICT; try++ {
		err = e.applyFlagOnce(ctx, r, actor)
	}
	return err
}

// applyFlagOnce makes the flag's split match r.Percent. It writes only when
// the split differs, against the version it read, and records the version.
func (e *Engine) applyFlagOnce(ctx context.Context, r *Rollout, actor string) error {
	// Made sure of: a manual action may run on a node whose live flags
	// have not yet seen a peer's step, and writing over that stale flag
	// would fail its version check and pause the rollout.
	f, err := e.currentFlag(ctx, r)
	if err != nil {
		return err
	}
	if f == nil {
		return valueloop.Errorf(valueloop.ENOTFOUND, "flag %q no longer exists in %s", r.Plan.Flag, r.Environment)
	}
	want := Weight(r.Percent)
	version := f.Version
	if got, err := SplitOf(f, r.Plan.Variant, r.Plan.Baseline); err != nil || got != want {
		// The engine's own step is written over the flag as the tick
		// found it, not over an edit made since (while it read the
		// figures, or on a peer, up to 5 s before this node saw it):
		// re-read, the flag's version would check nothing. A person's
		// action (a resume, an advance by hand) and a rollback do write
		// over it.
		if actor == EngineActor && r.State == Running && f.Version != r.FlagVersion {
			return valueloop.Errorf(valueloop.ECONFLICT, "the flag was changed outside the rollout while it stepped to %s%%: resume to set it, or roll back", trimFloat(r.Percent))
		}
		next, err := ApplySplit(f, r.Plan.Variant, r.Plan.Baseline, want)
		if err != nil {
			return err
		}
		version, err = e.Flags.PutFlag(ctx, r.Environment, next, f.Version, actor, r.flagReason())
		if err != nil {
			return err
		}
	}
	if version == r.FlagVersion && !r.FlagPending {
		return nil
	}
	r.FlagVersion, r.FlagPending = version, false
	return e.Store.UpdateRollout(ctx, r, nil)
}

// flagFailed pauses a running rollout whose flag could not be written, so
// that it does not advance on a split nobody serves, and returns err.
func (e *Engine) flagFailed(ctx context.Context, r *Rollout, err error) error {
	e.Logger.Error("rollouts: cannot write the flag", "rollout", r.ID, "environment", r.Environment, "flag", r.Plan.Flag, "err", err)
	if r.State == Running {
		reason := "could not set the flag's split: " + valueloop.ErrorMessage(err)
		if next, ev, aerr := r.Apply(KindPause, e.Now(), r.StepStartUsers, EngineActor, reason, nil); aerr == nil {
			if uerr := e.Store.UpdateRollout(ctx, &next, &ev); uerr == nil {
				*r = next
				e.notify(next, ev)
			}
		}
	}
	return err
}

// flagReason is the reason of the engine's change of the flag, for its
// audit trail.
func (r *Rollout) flagReason() string {
	switch r.State {
	case RolledBack:
		return valueloop.FitReason(fmt.Sprintf("rollout %d rolled back: %s", r.ID, r.Reason))
	}
	name := fmt.Sprintf("rollout %d", r.ID)
	if r.ID == 0 {
		name = "rollout start" // written before the rollout is stored (writeStart)
	}
	return fmt.Sprintf("%s: step %d of %d, %s%% %s", name, r.Step+1, len(r.Plan.Steps), trimFloat(r.Percent), r.Plan.Variant)
}

// Locker is a Store that several nodes share (PostgreSQL): LockRollouts
// waits until no other node makes a transition and holds theirs off until
// release is called. A step stores the rollout, then writes the flag: a
// peer's tick in between would write the flag too. The store's writes
// under the context it returns commit only while the lock is held.
type Locker interface {
	LockRollouts(ctx context.Context) (_ context.Context, release func(), err error)
}

// lock holds off every other transition, of this node and, when the
// store is a Locker, of the others, until the function returned is called.
func (e *Engine) lock(ctx context.Context) (context.Context, func(), error) {
	var lock func(context.Context) (context.Context, func(), error)
	if l, ok := e.Store.(Locker); ok {
		lock = l.LockRollouts
	}
	return cluster.Exclude(ctx, &e.mu, lock)
}

// Loader is Flags whose live sets can be brought up to date with the store
// (flags.Service.Load re-reads the sets whose stored version moved).
type Loader interface {
	Load(ctx context.Context) error
}

// load brings this node's live flags up to date with the store, when
// its Flags can (Loader): the one place the engine asks, rather than each
// read made sure of.
func (e *Engine) load(ctx context.Context) error {
	if l, ok := e.Flags.(Loader); ok {
		return l.Load(ctx)
	}
	return nil
}

// currentFlag is flag, made sure of when its split is not r's: on several
// nodes, a peer's step (an advance through its API) reaches this node's
// live set a moment later, by up to 5 s after a lost notification, and the
// old split would be taken for a change made outside the rollout.
func (e *Engine) currentFlag(ctx context.Context, r *Rollout) (*valueloop.Flag, error) {
	// A disabled flag is made sure of too: a peer may have enabled it, and
	// this node would pause the rollout (tick) or refuse to resume it.
	if f := e.flag(r); f != nil && f.State == valueloop.StateEnabled {
		if got, err := SplitOf(f, r.Plan.Variant, r.Plan.Baseline); err == nil && got == Weight(r.Percent) {
			return f, nil
		}
	}
	if err := e.load(ctx); err != nil {
		return nil, err
	}
	return e.flag(r), nil
}

// flag returns the live definition of r's flag, or nil.
func (e *Engine) flag(r *Rollout) *valueloop.Flag {
	live := e.Flags.Live(r.Environment)
	if live == nil {
		return nil
	}
	return live.Snapshot.Set().Flags[r.Plan.Flag]
}

// observe reads r's figures: the flag's cells, its users per variant and
// the guardrail results.
func (e *Engine) observe(ctx context.Context, r *Rollout) (flagCells, []GuardrailResult, map[string]int64, error) {
	metrics, err := e.Data.Metrics(ctx, r.Environment)
	if err != nil {
		return flagCells{}, nil, nil, err
	}
	aggs, err := e.Data.Aggregates(ctx, r.Environment, r.Plan.Flag)
	if err != nil {
		return flagCells{}, nil, nil, err
	}
	users, outside, err := e.reached(ctx, r.Environment, r.Plan.Flag, aggs)
	if err != nil {
		return flagCells{}, nil, nil, err
	}
	e.sizingMu.Lock()
	defer e.sizingMu.Unlock()
	if e.sizing == nil {
		e.sizing = map[int64]*stepSizing{}
	}
	sz := e.sizing[r.ID]
	if sz == nil || sz.step != r.Step {
		sz = &stepSizing{step: r.Step}
		e.sizing[r.ID] = sz
	}
	return flagCells{aggs, outside}, guardrails(&r.Plan, r.Percent, metrics, aggs, sz), users, nil
}

// pruneSizing forgets the sizing and the announced holds of rollouts no
// longer active.
func (e *Engine) pruneSizing(active []Rollout) {
	e.sizingMu.Lock()
	defer e.sizingMu.Unlock()
	isActive := func(id int64) bool { return slices.ContainsFunc(active, func(r Rollout) bool { return r.ID == id }) }
	maps.DeleteFunc(e.sizing, func(id int64, _ *stepSizing) bool { return !isActive(id) })
	maps.DeleteFunc(e.announced, func(id int64, _ heldStep) bool { return !isActive(id) })
}

// holdKnown reports whether this node knows the hold of r's current step
// was announced; markHold records that it was.
func (e *Engine) holdKnown(r Rollout) bool {
	e.sizingMu.Lock()
	defer e.sizingMu.Unlock()
	h, ok := e.announced[r.ID]
	return ok && h.step == r.Step && h.started.Equal(r.StepStartedAt)
}

func (e *Engine) markHold(r Rollout) {
	e.sizingMu.Lock()
	defer e.sizingMu.Unlock()
	if e.announced == nil {
		e.announced = map[int64]heldStep{}
	}
	e.announced[r.ID] = heldStep{r.Step, r.StepStartedAt}
}

// heldStep is a step whose hold was announced.
type heldStep struct {
	step    int
	started time.Time
}

// Tick checks every active rollout once.
func (e *Engine) Tick(ctx context.Context) error {
	ctx, unlock, err := e.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	active, err := e.all(ctx, Filter{Active: true})
	if err != nil {
		return err
	}
	e.pruneSizing(active)
	// A rollback is stored before its flag is written, as every
	// transition is; after a crash in between, the rollout is no longer
	// active and only this finds the flag still serving the variant. The
	// rollback marked its write pending (Rollout.FlagPending), so every
	// rollout left so is found, however many were rolled back since.
	back, err := e.all(ctx, Filter{State: RolledBack, FlagPending: true})
	if err != nil {
		return err
	}
	var errs []error
	for _, r := range active {
		if err := e.tick(ctx, r); err != nil {
			errs = append(errs, fmt.Errorf("rollout %d (%s/%s): %w", r.ID, r.Environment, r.Plan.Flag, err))
		}
	}
	for _, r := range back {
		if err := e.finishRollback(ctx, r); err != nil {
			errs = append(errs, fmt.Errorf("rollout %d (%s/%s): %w", r.ID, r.Environment, r.Plan.Flag, err))
		}
	}
	return errors.Join(errs...)
}

// all lists every rollout f selects, page by page: a tick that read one
// page of active rollouts never stepped nor guarded the older ones.
func (e *Engine) all(ctx context.Context, f Filter) ([]Rollout, error) {
	f.Limit, f.BeforeID = maxPage, 0
	var out []Rollout
	for {
		page, err := e.Store.Rollouts(ctx, f)
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
		if len(page) < f.Limit {
			return out, nil
		}
		f.BeforeID = page[len(page)-1].ID
	}
}

// maxPage is the most rollouts a Store lists at once.
const maxPage = 1000

// finishRollback writes the baseline to the flag of rolled-back r, whose
// flag write is pending, when the rollback's write did not land: r is its
// flag's newest rollout (a later one drives the flag, or left it as it is,
// whatever the split it found), and the flag is still at the version r
// last wrote or adopted, its split serving the variant. A flag changed
// since (by hand, by a later rollout) is left alone, as is one deleted: the
// write is made against that version only, with no retry, and the flag is
// read from the store first, as this node's live flags may lag a peer's
// edit. Either way the write is no longer pending: a failure to read or
// write keeps it so, for the next tick.
func (e *Engine) finishRollback(ctx context.Context, r Rollout) error {
	f, err := e.currentFlag(ctx, &r)
	if err != nil {
		return err
	}
	if rollbackUnwritten(f, r) {
		newest, err := e.latest(ctx, r.Environment, r.Plan.Flag)
		if err != nil {
			return err
		}
		if newest.ID == r.ID {
			if err := e.finishWrite(ctx, &r, f); err != nil {
				return err
			}
		}
	}
	r.FlagPending = false
	return e.Store.UpdateRollout(ctx, &r, nil)
}

// finishWrite sets the split of f, rolled-back r's flag, to the baseline.
func (e *Engine) finishWrite(ctx context.Context, r *Rollout, f *valueloop.Flag) error {
	next, err := ApplySplit(f, r.Plan.Variant, r.Plan.Baseline, Weight(r.Percent))
	if err != nil {
		return err
	}
	e.Logger.Warn("rollouts: finishing the flag write of a rollback", "rollout", r.ID, "environment", r.Environment, "flag", r.Plan.Flag)
	version, err := e.Flags.PutFlag(ctx, r.Environment, next, r.FlagVersion, EngineActor, r.flagReason())
	switch valueloop.ErrorCode(err) {
	case "":
		r.FlagVersion = version
		return nil
	case valueloop.ECONFLICT, valueloop.ENOTFOUND:
		return nil // changed or deleted a moment ago: left as it is
	}
	return err
}

// rollbackUnwritten reports whether f is rolled-back r's flag as r left
// it, still serving the variant.
func rollbackUnwritten(f *valueloop.Flag, r Rollout) bool {
	if f == nil || f.Version != r.FlagVersion {
		return false
	}
	got, err := SplitOf(f, r.Plan.Variant, r.Plan.Baseline)
	return err == nil && got != Weight(r.Percent)
}

func (e *Engine) tick(ctx context.Context, r Rollout) error {
	f, err := e.currentFlag(ctx, &r)
	if err != nil {
		return err
	}
	if f == nil {
		if r.State == Running {
			_, err := e.transition(ctx, r, KindPause, EngineActor, fmt.Sprintf("flag %q no longer exists in %s", r.Plan.Flag, r.Environment), nil, nil)
			return err
		}
		return nil
	}
	if f.State != valueloop.StateEnabled {
		// Disabling is the kill switch: nobody is exposed, so nothing
		// guards the steps, and advancing on time alone would hand whoever
		// enables the flag again a share nobody watched.
		if r.State == Running {
			_, err := e.transition(ctx, r, KindPause, EngineActor, disabledReason(r), nil, nil)
			return err
		}
		return nil
	}
	want := Weight(r.Percent)
	got, splitErr := SplitOf(f, r.Plan.Variant, r.Plan.Baseline)
	switch {
	case splitErr == nil && got == want:
		if f.Version != r.FlagVersion { // edited elsewhere, split untouched
			r.FlagVersion = f.Version
			if err := e.Store.UpdateRollout(ctx, &r, nil); err != nil {
				return err
			}
		}
	case f.Version == r.FlagVersion:
		// The state moved on but the flag write did not land (a crash
		// in between): write it now.
		if err := e.applyFlag(ctx, &r, EngineActor); err != nil {
			return e.flagFailed(ctx, &r, err)
		}
	case r.State == Running:
		found := "no split the rollout can drive"
		if splitErr == nil {
			found = "a split serving " + trimFloat(Percent(got)) + "% " + r.Plan.Variant
		}
		reason := fmt.Sprintf("the flag was changed outside the rollout: it has %s, the rollout expects %s%%; resume to set it back, or roll back", found, trimFloat(r.Percent))
		_, err := e.transition(ctx, r, KindPause, EngineActor, reason, nil, nil)
		return err
	}
	// A paused rollout whose split someone changed keeps their split, but
	// is still guarded: users still get the variant, and a breach rolls it
	// back as the plan says (Decide), as it does any paused rollout.
	_, figures, users, err := e.observe(ctx, &r)
	if err != nil {
		return err
	}
	d := Decide(r, users[r.Plan.Variant], figures, e.Now())
	if d.Held != nil {
		return e.announceHold(ctx, r, d.Held, figures)
	}
	if d.Kind == "" {
		return nil
	}
	_, err = e.transition(ctx, r, d.Kind, EngineActor, d.Reason, figures, users)
	return err
}

// checkFlag refuses to resume or advance r when its flag was deleted or
// its targeting changed to one without a split the rollout can drive (the
// transition would be stored and announced, its flag write fail and the
// rollout pause again), and to resume or advance it while its flag is
// disabled: the next tick would pause a resumed one again, and an advance
// would take the next step (from the step before the last, 100%) with
// nobody exposed at this one, served to everyone once the flag is enabled. A flag that looks gone or disabled is
// made sure of first (currentFlag), as a peer node may have enabled it a
// moment ago.
func (e *Engine) checkFlag(ctx context.Context, r *Rollout, k Kind) error {
	f, err := e.currentFlag(ctx, r)
	switch {
	case err != nil:
		return err
	case f == nil:
		return valueloop.Errorf(valueloop.ECONFLICT, "rollout %d of %q cannot %s: flag %q no longer exists in %s: roll the rollout back", r.ID, r.Plan.Flag, k, r.Plan.Flag, r.Environment)
	case k == KindResume && f.State != valueloop.StateEnabled:
		return valueloop.Errorf(valueloop.ECONFLICT, "rollout %d of %q cannot resume: %s", r.ID, r.Plan.Flag, disabledReason(*r))
	case k == KindAdvance && f.State != valueloop.StateEnabled:
		return valueloop.Errorf(valueloop.ECONFLICT, "rollout %d of %q cannot advance: flag %q is disabled in %s, so nobody is exposed at this step and the next would be taken unguarded: enable it and resume (then advance if you still mean to), or roll back",
			r.ID, r.Plan.Flag, r.Plan.Flag, r.Environment)
	}
	if _, err := ApplySplit(f, r.Plan.Variant, r.Plan.Baseline, Weight(r.Percent)); err != nil {
		return valueloop.Errorf(valueloop.ECONFLICT, "rollout %d of %q cannot %s: %s", r.ID, r.Plan.Flag, k, valueloop.ErrorMessage(err))
	}
	return nil
}

func disabledReason(r Rollout) string {
	return fmt.Sprintf("flag %q is disabled in %s: enable it and resume, or roll back", r.Plan.Flag, r.Environment)
}

// announceHold records and announces, once per step, that r's step is
// held: a KindHold entry in its history (and so the audit trail) and a
// notification, as a transition has. The history says whether this step's
// hold was announced already, on this node or another; it is read once per
// held step and node, not every tick of a hold that may last days (it
// grows with the rollout), since an announced hold stays announced.
func (e *Engine) announceHold(ctx context.Context, r Rollout, h *Hold, figures []GuardrailResult) error {
	if e.holdKnown(r) {
		return nil
	}
	hist, err := e.Store.RolloutEvents(ctx, r.ID)
	if err != nil {
		return err
	}
	for _, ev := range hist {
		if ev.Kind == KindHold && ev.Step == r.Step && !ev.At.Before(r.StepStartedAt) {
			e.markHold(r)
			return nil
		}
	}
	now := e.Now()
	r.UpdatedAt = now
	ev := Event{Rollout: r.ID, At: now, Kind: KindHold, Actor: EngineActor, Step: r.Step, Percent: r.Percent, State: r.State, Reason: h.Reason, Guardrails: figures}
	if err := e.Store.UpdateRollout(ctx, &r, &ev); err != nil {
		return err
	}
	e.markHold(r)
	e.notify(r, ev)
	return nil
}

// Status is a rollout with its live figures and history.
type Status struct {
	Rollout
	// Users is the number of exposed users per variant of the flag: all it
	// reached, those served outside the split too (the guardrails leave
	// them out).
	Users map[string]int64 `json:"users"`
	// Guardrails are judged on the figures now.
	Guardrails []GuardrailResult `json:"guardrails"`
	// LivePercent is the share of users the flag's split serves the
	// variant now (nil when the flag has no split a rollout can drive).
	LivePercent *float64 `json:"livePercent"`
	// Waiting says what an active rollout waits for.
	Waiting string `json:"waiting,omitempty"`
	// Held is set while a running step past its MinDuration is held by
	// guardrails without the plan's minSample users (see Hold).
	Held *Hold `json:"held,omitempty"`
	// StepMinUsers is the number of users the released variant must gain
	// in the current step, and StepMinUsersReason where it comes from (see
	// StepMinUsers).
	StepMinUsers       int64  `json:"stepMinUsers"`
	StepMinUsersReason string `json:"stepMinUsersReason,omitempty"`
	// Served is what the flag served the users first exposed since the
	// current step's split took effect (see StepServed); nil for a
	// finished rollout, and when the flag's latest split is not the
	// step's (changed by hand) or its history does not say (StepServedIn).
	Served *StepServed `json:"served,omitempty"`
	// Notes say, in words, what the figures leave out: users the flag's
	// targeting serves a variant outside the split, left out of the
	// guardrails when their exposures say so (OutsideSplit). Users counts
	// them, as users reached.
	Notes   []string `json:"notes,omitempty"`
	History []Event  `json:"history"`
}

// Status returns the newest rollout of flag in env with its figures.
func (e *Engine) Status(ctx context.Context, env, flag string) (*Status, error) {
	r, err := e.latest(ctx, env, flag)
	if err != nil {
		return nil, err
	}
	return e.status(ctx, r)
}

func (e *Engine) status(ctx context.Context, r *Rollout) (*Status, error) {
	cells, figures, users, err := e.observe(ctx, r)
	if err != nil {
		return nil, err
	}
	served, err := e.served(ctx, r, cells)
	if err != nil {
		return nil, err
	}
	hist, err := e.Store.RolloutEvents(ctx, r.ID)
	if err != nil {
		return nil, err
	}
	st := &Status{Rollout: *r, Users: users, Guardrails: figures, Served: served, History: hist}
	if st.Guardrails == nil {
		st.Guardrails = []GuardrailResult{}
	}
	f := e.flag(r)
	if f != nil {
		if w, err := SplitOf(f, r.Plan.Variant, r.Plan.Baseline); err == nil {
			p := Percent(w)
			st.LivePercent = &p
		}
		if w := OutsideSplit(f, r.Plan.Variant, r.Plan.Baseline); w != "" && len(r.Plan.Guardrails) > 0 {
			st.Notes = append(st.Notes, w)
		}
	}
	if r.State.Active() {
		d := Decide(*r, users[r.Plan.Variant], figures, e.Now())
		st.StepMinUsers, st.StepMinUsersReason = d.StepMinUsers, d.StepMinUsersReason
		st.Waiting, st.Held = d.Waiting, d.Held
		if d.Kind != "" {
			st.Waiting = "next tick: " + string(d.Kind) + " (" + d.Reason + ")"
		}
		if f != nil && f.State != valueloop.StateEnabled {
			// The tick pauses it and decides nothing else (tick).
			st.Waiting, st.Held = disabledReason(*r), nil
			if r.State == Running {
				st.Waiting = "next tick: pause (" + st.Waiting + ")"
			}
		}
		if left := pausedLeft(*r, hist); r.State == Paused && d.Kind == "" && left > 0 {
			st.Waiting += "; the step's clock is stopped with " + Duration(left.Round(time.Minute)).String() + " of its " + r.Plan.Steps[r.Step].MinDuration.String() + " left"
		}
	}
	return st, nil
}

// served reads what the flag served in active r's current step
// (StepServed), from its cells observe read.
func (e *Engine) served(ctx context.Context, r *Rollout, cells flagCells) (*StepServed, error) {
	if !r.State.Active() {
		return nil, nil
	}
	periods, err := e.Data.SplitHistory(ctx, r.Environment, r.Plan.Flag)
	if err != nil || len(periods) == 0 {
		return nil, err
	}
	return StepServedIn(*r, periods[len(periods)-1], cells.randomised, cells.outside), nil
}

// List returns rollouts, newest first.
func (e *Engine) List(ctx context.Context, f Filter) ([]Rollout, error) {
	return e.Store.Rollouts(ctx, f)
}

// Count counts the rollouts f selects, up to upTo.
func (e *Engine) Count(ctx context.Context, f Filter, upTo int) (int, error) {
	return e.Store.CountRollouts(ctx, f, upTo)
}

func (e *Engine) notify(r Rollout, ev Event) {
	if e.Notifier == nil {
		return
	}
	e.Notifier.Notify(Notification{Text: Text(r, ev), Event: ev, Rollout: r})
}

// Text describes a transition in one line, for chat.
func Text(r Rollout, ev Event) string {
	what := fmt.Sprintf("%s of %s in %s", r.Plan.Variant, r.Plan.Flag, r.Environment)
	var s string
	switch ev.Kind {
	case KindStart:
		s = fmt.Sprintf("Rollout %d started: %s at %s%% (plan %s)", r.ID, what, trimFloat(ev.Percent), stepsString(r.Plan.Steps))
	case KindAdvance:
		s = fmt.Sprintf("Rollout %d advanced: %s now at %s%% (step %d of %d)", r.ID, what, trimFloat(ev.Percent), ev.Step+1, len(r.Plan.Steps))
	case KindPause:
		s = fmt.Sprintf("Rollout %d paused: %s held at %s%%", r.ID, what, trimFloat(ev.Percent))
	case KindResume:
		s = fmt.Sprintf("Rollout %d resumed: %s at %s%%", r.ID, what, trimFloat(ev.Percent))
	case KindRollback:
		s = fmt.Sprintf("Rollout %d rolled back: everyone in %s gets %s of %s again", r.ID, r.Environment, r.Plan.Baseline, r.Plan.Flag)
	case KindComplete:
		s = fmt.Sprintf("Rollout %d completed: %s serves %s%%", r.ID, what, trimFloat(ev.Percent))
	case KindHold:
		s = fmt.Sprintf("Rollout %d held: %s stays at %s%% past its step's time", r.ID, what, trimFloat(ev.Percent))
	default:
		s = fmt.Sprintf("Rollout %d: %s %s", r.ID, ev.Kind, what)
	}
	if ev.Reason != "" {
		s += ". " + upperFirst(ev.Reason)
	}
	if ev.Actor != EngineActor {
		s += " (by " + ev.Actor + ")"
	}
	return s
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func stepsString(steps []Step) string {
	parts := make([]string, len(steps))
	for i, s := range steps {
		parts[i] = trimFloat(s.Percent) + "%"
		if s.MinDuration > 0 {
			parts[i] += " for " + s.MinDuration.String()
		}
	}
	return strings.Join(parts, " → ")
}
