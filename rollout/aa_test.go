package rollout_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/evaluation"
	"github.com/valueloop/valueloop/experiment"
	"github.com/valueloop/valueloop/flags"
	"github.com/valueloop/valueloop/ingest"
	"github.com/valueloop/valueloop/metric"
	"github.com/valueloop/valueloop/rollout"
)

// TestAAContinuousCheckingNoFalseRollback runs 200 seeded A/A rollouts —
// the released variant is the baseline under another name — with the
// guardrail checked at every tick (every 10 simulated minutes, about 45
// looks: the 1% step waits about 4 hours for minSample users of the
// variant) and no tolerance at all. Traffic goes through the ingestion pipeline and
// the engine's decision code; storage is in memory to keep 200 runs fast.
// The always-valid intervals must keep false rollbacks under 5% of runs.
func TestAAContinuousCheckingNoFalseRollback(t *testing.T) {
	runs := 200
	if testing.Short() {
		runs = 40
	}
	rolledBack, completed := 0, 0
	for seed := range runs {
		switch aaRun(t, uint64(seed)) {
		case rollout.RolledBack:
			rolledBack++
		case rollout.Completed:
			completed++
		}
	}
	t.Logf("A/A: %d of %d runs rolled back (%.1f%%), %d completed", rolledBack, runs, 100*float64(rolledBack)/float64(runs), completed)
	if rolledBack*20 > runs {
		t.Errorf("%d of %d A/A runs rolled back: more than 5%%", rolledBack, runs)
	}
	if completed+rolledBack != runs {
		t.Errorf("%d runs neither completed nor rolled back", runs-completed-rolledBack)
	}
}

// aaRun runs one A/A rollout to its end and returns its final state.
func aaRun(t *testing.T, seed uint64) rollout.State {
	t.Helper()
	ctx := context.Background()
	clk := &clock{t: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}
	m := errorMetric()
	events := &memEvents{metrics: []metric.Metric{m}, aggs: map[[4]string]metric.Aggregate{}}
	pipe := ingest.NewPipeline(events, nil)
	pipe.ExposureQueue = 1 // the runs send no server-side exposures
	if err := pipe.Open(); err != nil {
		t.Fatal(err)
	}
	defer pipe.Close()
	fl := newMemFlags(t, checkoutFlag())
	eng := rollout.NewEngine(&memRollouts{flags: fl}, fl, events, nil)
	eng.Now = clk.Now
	plan := rollout.Plan{
		Flag: "checkout", Variant: "one-page", Baseline: "classic",
		Steps: []rollout.Step{
			{Percent: 1, MinDuration: hours(1)}, {Percent: 5, MinDuration: hours(1)},
			{Percent: 25, MinDuration: hours(1)}, {Percent: 50, MinDuration: hours(1)}, {Percent: 100},
		},
		Guardrails: []rollout.Guardrail{{Metric: m.Key, Tolerance: 0}},
	}
	if _, err := eng.Start(ctx, env, plan, "test", ""); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, 7))
	user := 0
	ectx := map[string]any{}
	for tick := 0; tick < 60; tick++ {
		clk.Add(10 * time.Minute)
		snap := fl.Live(env).Snapshot
		at := clk.Now().UnixMilli()
		batch := make([]ingest.Event, 0, 450)
		for range 400 {
			key := "s" + strconv.FormatUint(seed, 10) + "-u" + strconv.Itoa(user)
			user++
			ectx["targetingKey"] = key
			variant := snap.Evaluate("checkout", ectx).Variant
			batch = append(batch, ingest.Event{Type: ingest.Exposure, Flag: "checkout", Variant: variant, TargetingKey: key, Time: at, TimeSet: true})
			if rng.Float64() < 0.10 { // the same error rate in both variants
				batch = append(batch, ingest.Event{Type: ingest.Tracking, Name: "error", TargetingKey: key, Time: at, TimeSet: true})
			}
		}
		if _, err := pipe.Ingest(ctx, env, batch); err != nil {
			t.Fatal(err)
		}
		if st := mustTickStatus(t, eng); !st.State.Active() {
			return st.State
		}
	}
	return rollout.Running
}

// mustTickStatus ticks eng once and returns the status of the checkout
// flag's rollout.
func mustTickStatus(tb testing.TB, eng *rollout.Engine) *rollout.Status {
	tb.Helper()
	ctx := context.Background()
	if err := eng.Tick(ctx); err != nil {
		tb.Fatal(err)
	}
	st, err := eng.Status(ctx, env, "checkout")
	if err != nil {
		tb.Fatal(err)
	}
	return st
}

// memEvents is an in-memory ingest.Store and rollout.Data for one
// environment: it keeps the log and the aggregates.
type memEvents struct {
	metrics []metric.Metric
	mu      sync.Mutex
	log     []ingest.LogRecord
	aggs    map[[4]string]metric.Aggregate // by flag, variant, metric, dimension
}

func (s *memEvents) Metrics(ctx context.Context, env string) ([]metric.Metric, error) {
	return s.metrics, nil
}

// SplitHistory keeps none: the status shows no StepServed.
func (s *memEvents) SplitHistory(ctx context.Context, env, flag string) ([]experiment.SplitPeriod, error) {
	return nil, nil
}

func (s *memEvents) ScanLog(ctx context.Context, env string, since int64, fn func([]byte) error) error {
	s.mu.Lock()
	recs := append([]ingest.LogRecord(nil), s.log...)
	s.mu.Unlock()
	for _, r := range recs {
		if r.MaxTime >= since {
			if err := fn(r.Data); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *memEvents) IngestTx(ctx context.Context, fn func(ingest.Tx) error) error {
	return fn(memEventsTx{s})
}

func (s *memEvents) Aggregates(ctx context.Context, env, flag string) ([]metric.Aggregate, error) {
	return s.DimensionAggregates(ctx, env, flag, "")
}

func (s *memEvents) DimensionAggregates(ctx context.Context, env, flag, dimension string) ([]metric.Aggregate, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []metric.Aggregate
	for k, a := range s.aggs {
		if k[0] == flag && k[3] == dimension {
			out = append(out, a)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return fmt.Sprint(out[i].Variant, out[i].Metric) < fmt.Sprint(out[j].Variant, out[j].Metric)
	})
	return out, nil
}

// memEventsTx writes straight through: the runs never fail a transaction.
type memEventsTx struct{ s *memEvents }

func (tx memEventsTx) Claim(env string, keys []ingest.DedupKey) ([]bool, error) {
	out := make([]bool, len(keys))
	for i := range out {
		out[i] = true
	}
	return out, nil
}

func (tx memEventsTx) ScanLog(env string, since int64, fn func([]byte) error) error {
	return tx.s.ScanLog(context.Background(), env, since, fn)
}

func (tx memEventsTx) Append(env string, rec ingest.LogRecord) error {
	tx.s.mu.Lock()
	tx.s.log = append(tx.s.log, rec)
	tx.s.mu.Unlock()
	return nil
}

func (tx memEventsTx) PutAggregates(env string, aggs []metric.Aggregate) error {
	tx.s.mu.Lock()
	defer tx.s.mu.Unlock()
	for _, a := range aggs {
		tx.s.aggs[[4]string{a.Flag, a.Variant, a.Metric, a.Dimension}] = a
	}
	return nil
}

func (tx memEventsTx) ReplaceAggregates(env string, aggs []metric.Aggregate) error {
	tx.s.mu.Lock()
	clear(tx.s.aggs)
	tx.s.mu.Unlock()
	return tx.PutAggregates(env, aggs)
}

// memFlags is rollout.Flags over one environment held in memory.
type memFlags struct {
	mu   sync.Mutex
	set  *valueloop.FlagSet
	live *flags.Live
	// reasons are those of the changes PutFlag made, oldest first.
	reasons []string
}

func newMemFlags(t testing.TB, fs ...*valueloop.Flag) *memFlags {
	set := &valueloop.FlagSet{Flags: map[string]*valueloop.Flag{}}
	for _, f := range fs {
		f.Version = 1
		set.Flags[f.Key] = f
	}
	m := &memFlags{}
	if err := m.swap(set, 1); err != nil {
		t.Fatal(err)
	}
	return m
}

func (m *memFlags) swap(set *valueloop.FlagSet, version int64) error {
	snap, err := evaluation.Compile(set)
	if err != nil {
		return err
	}
	m.set = set
	m.live = &flags.Live{Environment: valueloop.Environment{Key: env}, Version: version, Snapshot: snap}
	return nil
}

func (m *memFlags) Live(e string) *flags.Live {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e != env {
		return nil
	}
	return m.live
}

func (m *memFlags) PutFlag(ctx context.Context, e string, f *valueloop.Flag, ifVersion int64, actor, reason string) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur := m.set.Flags[f.Key]
	if cur == nil || cur.Version != ifVersion {
		return 0, valueloop.Errorf(valueloop.ECONFLICT, "flag %q changed", f.Key)
	}
	next := &valueloop.FlagSet{Flags: map[string]*valueloop.Flag{}}
	for k, v := range m.set.Flags {
		next.Flags[k] = v
	}
	nf := *f
	nf.Version = cur.Version + 1
	m.reasons = append(m.reasons, reason)
	next.Flags[f.Key] = &nf
	return nf.Version, m.swap(next, m.live.Version+1)
}

// memRollouts is rollout.Store in memory, over flags.
type memRollouts struct {
	flags  *memFlags
	mu     sync.Mutex
	rs     []rollout.Rollout
	events []rollout.Event
}

func (s *memRollouts) CreateRollout(ctx context.Context, r *rollout.Rollout, ev *rollout.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range s.rs {
		if o.Environment == r.Environment && o.Plan.Flag == r.Plan.Flag && o.State.Active() {
			return valueloop.Errorf(valueloop.ECONFLICT, "active")
		}
	}
	r.ID, r.Version = int64(len(s.rs)+1), 1
	s.rs = append(s.rs, *r)
	ev.Rollout, ev.ID = r.ID, int64(len(s.events)+1)
	s.events = append(s.events, *ev)
	return nil
}

func (s *memRollouts) UpdateRollout(ctx context.Context, r *rollout.Rollout, ev *rollout.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := &s.rs[r.ID-1]
	if cur.Version != r.Version {
		return valueloop.Errorf(valueloop.ECONFLICT, "changed")
	}
	r.Version++
	*cur = *r
	if ev != nil {
		ev.Rollout, ev.ID = r.ID, int64(len(s.events)+1)
		s.events = append(s.events, *ev)
	}
	return nil
}

func (s *memRollouts) UpdateRolloutIfEnabled(ctx context.Context, r *rollout.Rollout, ev *rollout.Event) (bool, error) {
	if f := s.flags.Live(r.Environment).Snapshot.Set().Flags[r.Plan.Flag]; f == nil || f.State != valueloop.StateEnabled {
		return false, nil
	}
	return true, s.UpdateRollout(ctx, r, ev)
}

func (s *memRollouts) Rollouts(ctx context.Context, f rollout.Filter) ([]rollout.Rollout, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []rollout.Rollout
	for i := len(s.rs) - 1; i >= 0; i-- {
		r := s.rs[i]
		if (f.Environment == "" || r.Environment == f.Environment) && (f.Flag == "" || r.Plan.Flag == f.Flag) && (!f.Active || r.State.Active()) && (f.State == "" || r.State == f.State) {
			out = append(out, r)
		}
	}
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[:f.Limit]
	}
	return out, nil
}

func (s *memRollouts) CountRollouts(ctx context.Context, f rollout.Filter, upTo int) (int, error) {
	f.Limit = upTo
	list, err := s.Rollouts(ctx, f)
	return len(list), err
}

func (s *memRollouts) RolloutEvents(ctx context.Context, id int64) ([]rollout.Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []rollout.Event
	for _, e := range s.events {
		if e.Rollout == id {
			out = append(out, e)
		}
	}
	return out, nil
}
