// Package verdicts records when the verdicts of experiments are reached, so
// the loop can measure time to validated learning (rollout start →
// verdict). Verdicts are computed on demand by package experiment; a
// Recorder hands each final verdict it sees (validated or invalidated) to
// the store, which keeps it when it is a transition: the first final
// verdict of the flag, or one different from the last recorded.
//
// Under fixed inference a hypothesis is tested once, at its planned
// sample: the planned sample the Recorder first sees computed is stored as
// the flag's plan (experiment.FixedPlan), and later looks are judged on it
// rather than on their own estimate; the first verdict it sees at that
// planned sample is stored as the flag's decision
// (experiment.FixedDecision), and every later result with the same terms
// carries that decision instead of a re-test of all users so far.
//
// Verdicts are seen in two places: the results route (package httpapi calls
// Record with the result it serves, when the request overrides no
// setting), and a periodic check (Open) that analyses every flag with a
// hypothesis, so verdicts are recorded even if nobody looks. On several
// nodes the check runs on one node at a time, through a cluster.Singleton.
//
// What does not live here: the statistics and the verdict rules (package
// experiment), storage (packages sqlite and postgres), HTTP.
package verdicts

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/cluster"
	"github.com/valueloop/valueloop/experiment"
	"github.com/valueloop/valueloop/metric"
)

// Store is what the recorder reads and writes.
type Store interface {
	Metrics(ctx context.Context, env string) ([]metric.Metric, error)
	Aggregates(ctx context.Context, env, flag string) ([]metric.Aggregate, error)
	// DimensionAggregates are the flag's cells of one dimension: those by
	// day of first exposure (experiment.ReadDays).
	DimensionAggregates(ctx context.Context, env, flag, dimension string) ([]metric.Aggregate, error)
	// SplitHistory is the flag's split periods (rollout steps), so that
	// a flag whose split moved is analysed period by period.
	SplitHistory(ctx context.Context, env, flag string) ([]experiment.SplitPeriod, error)
	Hypothesis(ctx context.Context, env, flag string) (*experiment.Hypothesis, error)
	HypothesisFlags(ctx context.Context) ([]experiment.FlagRef, error)
	RecordVerdict(ctx context.Context, rec *experiment.VerdictRecord) (bool, error)
	VerdictHistory(ctx context.Context, env, flag string) ([]experiment.VerdictRecord, error)
	// FixedDecision is the flag's stored decision under fixed inference,
	// nil when none; DecideFixed stores one unless one with the same
	// terms stands, and reports whether it did (d becomes the one that
	// stands).
	FixedDecision(ctx context.Context, env, flag string) (*experiment.FixedDecision, error)
	DecideFixed(ctx context.Context, d *experiment.FixedDecision) (bool, error)
	// FixedPlan is the flag's stored planned sample under fixed
	// inference, nil when none; PlanFixed stores one unless one with the
	// same terms stands, and reports whether it did (p becomes the one
	// that stands).
	FixedPlan(ctx context.Context, env, flag string) (*experiment.FixedPlan, error)
	PlanFixed(ctx context.Context, p *experiment.FixedPlan) (bool, error)
}

// LeaderName is the lock name the periodic check runs under.
const LeaderName = "verdicts"

// DefaultInterval is how often the periodic check runs.
const DefaultInterval = time.Minute

// Recorder records verdict transitions. Construct with New, set fields,
// Open to start the periodic check, Close to stop it.
type Recorder struct {
	Store Store
	// Definition returns the flag as env defines it, nil when it does not.
	Definition func(env, flag string) *valueloop.Flag
	// Leader runs the periodic check on one node at a time; nil runs it
	// here (a single node).
	Leader   cluster.Singleton
	Interval time.Duration
	Logger   *slog.Logger
	// Recorded, when set, learns of each verdict transition recorded,
	// and of each fixed plan or decision stored (the value loop moves the
	// features of the flag at once, and reads their experiments again).
	// It must not block.
	Recorded func(env, flag string)

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New returns a Recorder on store with the default interval.
func New(store Store) *Recorder {
	return &Recorder{Store: store, Interval: DefaultInterval, Logger: slog.Default(),
		Definition: func(string, string) *valueloop.Flag { return nil }}
}

// Record records the verdict of res when it is final and a transition, and
// reports whether it did. res must be analysed with the hypothesis' own
// settings: a verdict under settings overridden for one request is not the
// hypothesis' verdict.
//
// Under fixed inference, res is first judged on the flag's stored plan,
// fixing it when res is the first look that can compute it from a
// pilot large enough (experiment.NewFixedPlan), and its
// verdict becomes the flag's stored decision when one holds for the
// hypothesis' terms (see Settle); else, when res is the first look at the
// planned sample, its verdict is stored as that decision. So the verdict recorded, and the one res then
// carries, is the one decided at the planned sample, whatever later looks
// say.
func (r *Recorder) Record(ctx context.Context, res *experiment.Result) (bool, error) {
	if err := r.decide(ctx, res); err != nil {
		return false, err
	}
	rec, ok := experiment.RecordOf(res)
	if !ok {
		return false, nil
	}
	recorded, err := r.Store.RecordVerdict(ctx, &rec)
	if recorded {
		r.Logger.Info("verdict recorded", "env", rec.Environment, "flag", rec.Flag, "decision", rec.Decision, "at", rec.At)
		r.touch(rec.Environment, rec.Flag)
	}
	return recorded, err
}

// decide settles res on the flag's stored plan and decision, storing the
// plan res fixes (experiment.NewFixedPlan) and the decision it makes
// (experiment.NewFixedDecision) when there is none under its terms.
func (r *Recorder) decide(ctx context.Context, res *experiment.Result) error {
	settled, err := r.settle(ctx, res, true)
	if err != nil || settled {
		return err
	}
	d, ok := experiment.NewFixedDecision(res)
	if !ok {
		return nil
	}
	stored, err := r.Store.DecideFixed(ctx, &d)
	if err != nil {
		return err
	}
	if stored {
		r.Logger.Info("fixed decision stored", "env", d.Environment, "flag", d.Flag, "decision", d.Verdict.Decision, "users", d.Users, "at", d.At)
		r.touch(d.Environment, d.Flag)
	}
	// d is the decision that stands: another node's, when it stored one
	// first with the same terms.
	d.Apply(res)
	return nil
}

// touch tells Recorded that what the flag's results say changed.
func (r *Recorder) touch(env, flag string) {
	if r.Recorded != nil {
		r.Recorded(env, flag)
	}
}

// Settle makes res, analysed with the hypothesis' own settings under
// fixed inference, judged on the flag's stored plan when one holds for
// the hypothesis' terms (experiment.FixedPlan.Apply), and its verdict the
// flag's stored decision when one holds (experiment.FixedDecision.Apply);
// the verdict res had stays as its Decided.Current, descriptive. It
// stores nothing: the dashboard and the value loop call it; the results
// route and the periodic check call Record, which settles too.
func (r *Recorder) Settle(ctx context.Context, res *experiment.Result) error {
	_, err := r.settle(ctx, res, false)
	return err
}

// settle applies the stored plan, or with store fixes the plan res makes,
// then applies the stored decision; it reports whether a decision holds.
func (r *Recorder) settle(ctx context.Context, res *experiment.Result, store bool) (bool, error) {
	if res == nil || res.Hypothesis == nil || res.Settings.Inference != experiment.Fixed {
		return false, nil
	}
	if res.Verdict != nil && res.Verdict.Decided != nil {
		return true, nil // settled already
	}
	d, err := r.Store.FixedDecision(ctx, res.Environment, res.Flag)
	if err != nil {
		return false, err
	}
	// A decision that holds was taken at its planned sample: a plan fixed
	// now (one decided before plans were stored) would be fixed after it.
	if err := r.plan(ctx, res, store && (d == nil || !d.Holds(res))); err != nil {
		return false, err
	}
	return d != nil && d.Apply(res), nil
}

// plan judges res on the flag's stored plan when it holds; else, with
// store, stores the plan res fixes, if it fixes one, and judges res on
// the plan that then stands (another node's, when it stored one first).
func (r *Recorder) plan(ctx context.Context, res *experiment.Result, store bool) error {
	if res.Plan != nil {
		return nil
	}
	p, err := r.Store.FixedPlan(ctx, res.Environment, res.Flag)
	if err != nil || p != nil && p.Apply(res) || !store {
		return err
	}
	np, ok := experiment.NewFixedPlan(res)
	if !ok {
		return nil
	}
	stored, err := r.Store.PlanFixed(ctx, &np)
	if err != nil {
		return err
	}
	if stored {
		r.Logger.Info("fixed plan stored", "env", np.Environment, "flag", np.Flag, "planned", np.Planned(), "fixedOn", np.FixedOn, "at", np.At)
		r.touch(np.Environment, np.Flag)
	}
	np.Apply(res)
	return nil
}

// History returns the recorded verdicts of flag in env, oldest first.
func (r *Recorder) History(ctx context.Context, env, flag string) ([]experiment.VerdictRecord, error) {
	return r.Store.VerdictHistory(ctx, env, flag)
}

// Latest returns the last recorded verdict of flag in env and when it was
// reached; zero values when there is none. It is what the loop figures
// read (delivery.Service.Verdicts).
func (r *Recorder) Latest(ctx context.Context, env, flag string) (string, time.Time, error) {
	h, err := r.Store.VerdictHistory(ctx, env, flag)
	if err != nil || len(h) == 0 {
		return "", time.Time{}, err
	}
	last := h[len(h)-1]
	return string(last.Decision), last.At, nil
}

// Check analyses every flag with a hypothesis with the hypothesis' own
// settings and records the verdicts that are transitions. It returns how
// many it recorded; a flag that cannot be analysed (its hypothesis names a
// metric since deleted, say) is logged and skipped, so one broken
// experiment does not hide the others' verdicts.
func (r *Recorder) Check(ctx context.Context) (int, error) {
	refs, err := r.Store.HypothesisFlags(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	metrics := map[string][]metric.Metric{}
	for _, f := range refs {
		if ctx.Err() != nil {
			return n, ctx.Err()
		}
		ms, ok := metrics[f.Environment]
		if !ok {
			if ms, err = r.Store.Metrics(ctx, f.Environment); err != nil {
				return n, err
			}
			metrics[f.Environment] = ms
		}
		res, err := r.analyze(ctx, f, ms)
		if err == nil && res != nil {
			var ok bool
			if ok, err = r.Record(ctx, res); ok {
				n++
			}
		}
		if err != nil {
			if code := valueloop.ErrorCode(err); code == valueloop.EINTERNAL || errors.Is(err, context.Canceled) {
				return n, err // the store failed: retry the whole check later
			}
			r.Logger.Warn("verdict check skipped a flag", "env", f.Environment, "flag", f.Flag, "err", valueloop.ErrorMessage(err))
		}
	}
	return n, nil
}

func (r *Recorder) analyze(ctx context.Context, f experiment.FlagRef, ms []metric.Metric) (*experiment.Result, error) {
	h, err := r.Store.Hypothesis(ctx, f.Environment, f.Flag)
	if valueloop.ErrorCode(err) == valueloop.ENOTFOUND {
		return nil, nil // deleted since listed
	} else if err != nil {
		return nil, err
	}
	aggs, err := r.Store.Aggregates(ctx, f.Environment, f.Flag)
	if err != nil {
		return nil, err
	}
	def := r.Definition(f.Environment, f.Flag)
	if def == nil && len(aggs) == 0 {
		return nil, nil
	}
	splits, err := r.Store.SplitHistory(ctx, f.Environment, f.Flag)
	if err != nil {
		return nil, err
	}
	in := experiment.Input{Environment: f.Environment, Flag: f.Flag, Definition: def, Hypothesis: h,
		Settings: h.Settings, Metrics: ms, Aggregates: aggs, Splits: splits}
	// The verdict recorded is the results page's: with the users whose
	// window may still be open counted, or left out, as it does.
	if err := experiment.ReadDays(ctx, r.Store, &in); err != nil {
		return nil, err
	}
	return experiment.Analyze(in)
}

// Open starts the periodic check: at once, then every Interval, on the
// node that leads LeaderName.
func (r *Recorder) Open() error {
	if r.Interval <= 0 {
		return valueloop.FieldErrorf("interval", "must be positive, got %v", r.Interval)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	leader := r.Leader
	if leader == nil {
		leader = cluster.Solo{Logger: r.Logger}
	}
	r.wg.Go(func() {
		leader.Run(ctx, LeaderName, r.loop)
	})
	return nil
}

// loop checks every Interval until ctx ends; a failed check is logged and
// the next one tried at the next tick.
func (r *Recorder) loop(ctx context.Context) error {
	cluster.Every(ctx, r.Interval, func(ctx context.Context) error {
		n, err := r.Check(ctx)
		if err == nil && n > 0 {
			r.Logger.Debug("verdict check", "recorded", n)
		}
		return err
	}, r.Logger.Error, "verdict check failed")
	return nil
}

// Close stops the periodic check and waits for it.
func (r *Recorder) Close() {
	if r.cancel != nil {
		r.cancel()
		r.wg.Wait()
	}
}
