package storetest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/ingest"
	"github.com/valueloop/valueloop/metric"
)

// EventStore is the event half of a store: metric definitions, the event
// log and the aggregates, written by an ingestion pipeline over the store
// itself. A store that implements it runs the event cases of the contract.
type EventStore interface {
	Store
	ingest.Store
	Metrics(ctx context.Context, env string) ([]metric.Metric, error)
	Metric(ctx context.Context, env, key string) (*metric.Metric, error)
	CreateMetric(ctx context.Context, env string, m *metric.Metric, actor string) error
	DeleteMetric(ctx context.Context, env, key, actor string) error
	Aggregates(ctx context.Context, env, flag string) ([]metric.Aggregate, error)
	DimensionAggregates(ctx context.Context, env, flag, dimension string) ([]metric.Aggregate, error)
	Events(ctx context.Context, env string, fn func(*ingest.Event) error) error
	EventCount(ctx context.Context, env string) (int64, error)
}

var eventCases = []struct {
	name string
	fn   func(t *testing.T, s EventStore)
}{
	{"MetricsCRUD", testMetricsCRUD},
	{"PipelineAggregates", testPipelineAggregates},
	{"ClaimDeduplicates", testClaimDeduplicates},
	{"MetricChangeRebuild", testMetricChangeRebuild},
	{"LogOnlyWrite", testLogOnlyWrite},
	{"LogOnlyChangedBack", testLogOnlyChangedBack},
	{"DimensionAggregates", testDimensionAggregates},
}

// eventCase adapts an event case to the contract's signature; stores
// without events skip it.
func eventCase(fn func(t *testing.T, s EventStore)) func(t *testing.T, s Store, _ *Clock) {
	return func(t *testing.T, s Store, _ *Clock) {
		es, ok := s.(EventStore)
		if !ok {
			t.Skip("the store keeps no events")
		}
		fn(t, es)
	}
}

// OpenPipeline starts an ingestion pipeline on s, closed when the test ends.
func OpenPipeline(t testing.TB, s EventStore) *ingest.Pipeline {
	t.Helper()
	p := ingest.NewPipeline(s, nil)
	if err := p.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// Metrics returns a metric of each kind, normalised.
func Metrics(tb testing.TB) []metric.Metric {
	ms := []metric.Metric{
		{Key: "converted", Kind: metric.Conversion, Event: "purchase", Window: metric.Window(time.Hour)},
		{Key: "orders", Kind: metric.Count, Event: "purchase"},
		{Key: "revenue", Kind: metric.Sum, Event: "purchase"},
		{Key: "load-time", Kind: metric.Mean, Event: "page", Direction: metric.LowerIsBetter},
		{Key: "revenue-per-order", Kind: metric.Ratio, Event: "purchase", Denominator: &metric.Part{Event: "purchase"}},
	}
	for i := range ms {
		if err := ms[i].Normalize(); err != nil {
			tb.Fatal(err)
		}
	}
	return ms
}

// GenEvents makes n events (ids ev-<start+i>) of users 0..users-1: exposures
// to flag "checkout", purchases and page views, times roughly in order.
func GenEvents(r *rand.Rand, start, n, users int) []ingest.Event {
	out := make([]ingest.Event, 0, n)
	base := int64(1_780_000_000_000)
	for i := start; i < start+n; i++ {
		u := r.IntN(users)
		ev := ingest.Event{ID: fmt.Sprintf("ev-%09d", i), TargetingKey: fmt.Sprintf("user-%d", u), Time: base + int64(i), TimeSet: true}
		switch k := r.IntN(10); {
		case k < 2:
			ev.Type, ev.Flag, ev.Variant = ingest.Exposure, "checkout", []string{"control", "treatment"}[u%2]
		case k < 4:
			ev.Type, ev.Name, ev.Value, ev.HasValue = ingest.Tracking, "purchase", int64(r.IntN(200_000))*10_000, true
		default:
			ev.Type, ev.Name, ev.Value, ev.HasValue = ingest.Tracking, "page", int64(r.IntN(3000))*1000, true
		}
		out = append(out, ev)
	}
	return out
}

// Recompute returns the cells of all users of env (what Aggregates
// serves) computed from scratch from the stored events.
func Recompute(tb testing.TB, s EventStore, env string) []metric.Aggregate {
	tb.Helper()
	ms, err := s.Metrics(context.Background(), env)
	if err != nil {
		tb.Fatal(err)
	}
	// A store that knows when splits changed keeps cells per period.
	var periods map[string][]int64
	if ss, ok := s.(ingest.SplitStore); ok {
		if periods, _, err = ss.SplitChanges(context.Background(), env); err != nil {
			tb.Fatal(err)
		}
	}
	all, _, err := ingest.RecomputePeriods(ms, periods, func(fn func(*ingest.Event) error) error { return s.Events(context.Background(), env, fn) })
	if err != nil {
		tb.Fatal(err)
	}
	return AllUsers(all)
}

// AllUsers returns the cells of all users of aggs (Dimension ""), in
// order: what Aggregates serves, without the cells a recomputation keeps
// per dimension, outside the split and by day of exposure.
func AllUsers(aggs []metric.Aggregate) []metric.Aggregate {
	var out []metric.Aggregate
	for _, a := range aggs {
		if a.Dimension == "" {
			out = append(out, a)
		}
	}
	return out
}

// RecomputeEvents returns the cells of all users of ms (what Aggregates
// serves) computed from scratch from events, through the real ingestion
// code.
func RecomputeEvents(tb testing.TB, ms []metric.Metric, events []ingest.Event) []metric.Aggregate {
	tb.Helper()
	all, _, err := ingest.Recompute(ms, ingest.ScanEvents(events))
	if err != nil {
		tb.Fatal(err)
	}
	return AllUsers(all)
}

// CreateEnvWithMetrics creates environment env holding the metrics ms.
func CreateEnvWithMetrics(tb testing.TB, s EventStore, env string, ms []metric.Metric) {
	tb.Helper()
	ctx := context.Background()
	if err := s.CreateEnvironment(ctx, valueloop.Environment{Key: env, Name: env}, "t"); err != nil {
		tb.Fatal(err)
	}
	for i := range ms {
		if err := s.CreateMetric(ctx, env, &ms[i], "t"); err != nil {
			tb.Fatal(err)
		}
	}
}

func testMetricsCRUD(t *testing.T, s EventStore) {
	ctx := context.Background()
	if err := s.CreateEnvironment(ctx, valueloop.Environment{Key: "prod", Name: "prod"}, "t"); err != nil {
		t.Fatal(err)
	}
	m := metric.Metric{Key: "orders", Kind: metric.Count, Event: "purchase"}
	if err := m.Normalize(); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateMetric(ctx, "prod", &m, "alice"); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateMetric(ctx, "prod", &m, "alice"); valueloop.ErrorCode(err) != valueloop.ECONFLICT {
		t.Errorf("second create: got %v, want a conflict", err)
	}
	if err := s.CreateMetric(ctx, "nowhere", &m, "alice"); valueloop.ErrorCode(err) != valueloop.ENOTFOUND {
		t.Errorf("create in a missing environment: got %v, want not found", err)
	}
	got, err := s.Metric(ctx, "prod", "orders")
	if err != nil || got.Kind != metric.Count || got.Event != "purchase" || got.Direction != metric.HigherIsBetter || got.CreatedAt.IsZero() {
		t.Fatalf("Metric = %+v, %v", got, err)
	}
	list, err := s.Metrics(ctx, "prod")
	if err != nil || len(list) != 1 || list[0].Key != "orders" {
		t.Fatalf("Metrics = %+v, %v; want orders", list, err)
	}
	if err := s.DeleteMetric(ctx, "prod", "orders", "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Metric(ctx, "prod", "orders"); valueloop.ErrorCode(err) != valueloop.ENOTFOUND {
		t.Errorf("after delete: got %v, want not found", err)
	}
	if err := s.DeleteMetric(ctx, "prod", "orders", "alice"); valueloop.ErrorCode(err) != valueloop.ENOTFOUND {
		t.Errorf("second delete: got %v, want not found", err)
	}
	entries, err := s.Audit(ctx, valueloop.AuditFilter{Target: "orders"})
	if err != nil || len(entries) != 2 || entries[0].Action != "metric.delete" || entries[1].Action != "metric.create" {
		t.Errorf("audit = %+v, %v; want delete and create", entries, err)
	}
}

// testPipelineAggregates ingests shuffled batches with resent events through
// two pipelines one after the other (a restart), and checks that the stored
// aggregates equal a recomputation from the stored events.
func testPipelineAggregates(t *testing.T, s EventStore) { PipelineAggregates(t, s, nil) }

// PipelineAggregates is the PipelineAggregates case of the contract on s.
// When reopen is not nil it is called between the two pipelines, to close the
// store and open it again on the same data: the second pipeline then also
// checks that old ids are still recognised after a restart.
func PipelineAggregates(t *testing.T, s EventStore, reopen func() EventStore) {
	t.Helper()
	ctx := context.Background()
	CreateEnvWithMetrics(t, s, "prod", Metrics(t))
	r := rand.New(rand.NewPCG(1, 2))
	events := GenEvents(r, 0, 3000, 200)
	r.Shuffle(len(events), func(i, j int) { events[i], events[j] = events[j], events[i] })
	ingestAll := func(p *ingest.Pipeline, events []ingest.Event) (stored, dups int) {
		for len(events) > 0 {
			k := min(len(events), 1+r.IntN(400))
			fresh, err := p.Ingest(ctx, "prod", events[:k])
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range fresh {
				if f {
					stored++
				} else {
					dups++
				}
			}
			events = events[k:]
		}
		return stored, dups
	}
	p := ingest.NewPipeline(s, nil)
	if err := p.Open(); err != nil {
		t.Fatal(err)
	}
	if st, d := ingestAll(p, events[:2000]); st != 2000 || d != 0 {
		t.Fatalf("first part: stored %d, duplicates %d; want 2000, 0", st, d)
	}
	p.Close()
	if reopen != nil {
		s = reopen()
	}
	p = OpenPipeline(t, s)
	// The last 500 of the first part again, then the rest.
	if st, d := ingestAll(p, events[1500:]); st != 1000 || d != 500 {
		t.Fatalf("second part: stored %d, duplicates %d; want 1000, 500", st, d)
	}
	got, err := s.Aggregates(ctx, "prod", "")
	if err != nil {
		t.Fatal(err)
	}
	want := Recompute(t, s, "prod")
	if len(want) == 0 || !reflect.DeepEqual(got, want) {
		t.Fatalf("stored aggregates differ from the recomputation:\n got %v\nwant %v", got, want)
	}
	if n, err := s.EventCount(ctx, "prod"); err != nil || n != 3000 {
		t.Errorf("EventCount = %d, %v; want 3000", n, err)
	}
	res, err := p.Rebuild(ctx, "prod")
	if err != nil || res.Changed || res.Events != 3000 {
		t.Errorf("Rebuild = %+v, %v; want 3000 events, unchanged", res, err)
	}
	if got, _ := s.Aggregates(ctx, "prod", "checkout"); !reflect.DeepEqual(got, want) {
		t.Errorf("after rebuild: aggregates of checkout differ:\n got %v\nwant %v", got, want)
	}
}

func testClaimDeduplicates(t *testing.T, s EventStore) {
	ctx := context.Background()
	p := OpenPipeline(t, s)
	ev := func(id string, ms int64) ingest.Event {
		return ingest.Event{Type: ingest.Tracking, ID: id, Name: "n", TargetingKey: "u", Time: 1_780_000_000_000 + ms, TimeSet: true}
	}
	fresh, err := p.Ingest(ctx, "prod", []ingest.Event{ev("a", 0), ev("a", 0), ev("b", 0), ev("a", 1), {Type: ingest.Tracking, Name: "n", TargetingKey: "u"}})
	if err != nil {
		t.Fatal(err)
	}
	if want := []bool{true, false, true, true, true}; fmt.Sprint(fresh) != fmt.Sprint(want) {
		t.Errorf("first batch: fresh = %v, want %v (same id at another time is another event)", fresh, want)
	}
	fresh, err = p.Ingest(ctx, "prod", []ingest.Event{ev("b", 0), ev("c", 0)})
	if err != nil {
		t.Fatal(err)
	}
	if want := []bool{false, true}; fmt.Sprint(fresh) != fmt.Sprint(want) {
		t.Errorf("second batch: fresh = %v, want %v", fresh, want)
	}
	// Other environments have their own ids.
	fresh, err = p.Ingest(ctx, "dev", []ingest.Event{ev("b", 0)})
	if err != nil || !fresh[0] {
		t.Errorf("other environment: fresh = %v, %v; want stored", fresh, err)
	}
	if n, err := s.EventCount(ctx, "prod"); err != nil || n != 5 {
		t.Errorf("EventCount(prod) = %d, %v; want 5", n, err)
	}
}

// testMetricChangeRebuild adds a metric after events were stored and
// rebuilds, as the API does: the new metric's figures cover the old events.
func testMetricChangeRebuild(t *testing.T, s EventStore) {
	ctx := context.Background()
	ms := Metrics(t)
	CreateEnvWithMetrics(t, s, "prod", ms[:1])
	p := OpenPipeline(t, s)
	r := rand.New(rand.NewPCG(3, 4))
	if _, err := p.Ingest(ctx, "prod", GenEvents(r, 0, 1500, 100)); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateMetric(ctx, "prod", &ms[2], "t"); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Rebuild(ctx, "prod"); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Ingest(ctx, "prod", GenEvents(r, 1500, 500, 100)); err != nil {
		t.Fatal(err)
	}
	got, err := s.Aggregates(ctx, "prod", "")
	if err != nil {
		t.Fatal(err)
	}
	want := Recompute(t, s, "prod")
	var revenue bool
	for _, a := range want {
		revenue = revenue || (a.Metric == "revenue" && a.Sums.N > 0)
	}
	if !revenue || !reflect.DeepEqual(got, want) {
		t.Fatalf("after adding a metric: aggregates differ from the recomputation (revenue present: %v):\n got %v\nwant %v", revenue, got, want)
	}
}

// testLogOnlyWrite is the pipeline's write for a state built with other
// definitions that Close kept it from recomputing: a StateTx that calls
// StateVersion, Claim, Append and MarkStale only. It claims the ids, stores
// the events in the log and leaves the state as it was, marked stale: the
// next write, with the definitions the state was built with (as when they
// were changed back), recomputes it and counts the events, with no call of
// Rebuild. A MarkStale rolled back marks nothing.
func testLogOnlyWrite(t *testing.T, s EventStore) {
	ss, ok := s.(ingest.StateStore)
	if !ok {
		t.Skip("the store keeps no per-user state")
	}
	ctx := context.Background()
	CreateEnvWithMetrics(t, s, "prod", Metrics(t))
	p := OpenPipeline(t, s)
	r := rand.New(rand.NewPCG(5, 6))
	if _, err := p.Ingest(ctx, "prod", GenEvents(r, 0, 500, 50)); err != nil {
		t.Fatal(err)
	}
	version := func() string {
		t.Helper()
		var v string
		if err := ss.StateTx(ctx, func(tx ingest.StateTx) (err error) {
			v, err = tx.StateVersion("prod", false)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return v
	}
	v0 := version()
	if v0 == "" {
		t.Fatal("no state version after a write")
	}
	rollback := errors.New("rolled back")
	if err := ss.StateTx(ctx, func(tx ingest.StateTx) error {
		if _, err := tx.StateVersion("prod", false); err != nil {
			return err
		}
		if err := tx.MarkStale("prod"); err != nil {
			return err
		}
		return rollback
	}); !errors.Is(err, rollback) {
		t.Fatalf("transaction marking the state stale, then failing: %v, want %v", err, rollback)
	}
	if v := version(); v != v0 {
		t.Errorf("state version after a MarkStale rolled back: %q, want %q as before", v, v0)
	}
	before, err := s.Aggregates(ctx, "prod", "")
	if err != nil {
		t.Fatal(err)
	}
	logged := GenEvents(r, 500, 200, 50)
	keys := make([]ingest.DedupKey, len(logged))
	for i := range logged {
		keys[i] = logged[i].Key()
	}
	slices.SortFunc(keys, func(a, b ingest.DedupKey) int {
		return cmp.Or(cmp.Compare(a.Time, b.Time), cmp.Compare(a.Hash, b.Hash))
	})
	if err := ss.StateTx(ctx, func(tx ingest.StateTx) error {
		if _, err := tx.StateVersion("prod", false); err != nil {
			return err
		}
		isNew, err := tx.Claim("prod", keys)
		if err != nil {
			return err
		}
		if i := slices.Index(isNew, false); i >= 0 {
			return fmt.Errorf("key %d claimed before", i)
		}
		if err := tx.Append("prod", ingest.EncodeLog(logged)); err != nil {
			return err
		}
		return tx.MarkStale("prod")
	}); err != nil {
		t.Fatalf("log-only write: %v", err)
	}
	if v := version(); v != "" {
		t.Errorf("state version after a log-only write: %q, want \"\" (marked stale)", v)
	}
	if got, err := s.Aggregates(ctx, "prod", ""); err != nil || !reflect.DeepEqual(got, before) {
		t.Errorf("aggregates after a log-only write changed (%v):\n got %v\nwant %v", err, got, before)
	}
	if n, err := s.EventCount(ctx, "prod"); err != nil || n != 700 {
		t.Errorf("EventCount = %d, %v; want 700", n, err)
	}
	fresh, err := p.Ingest(ctx, "prod", append(logged[:5:5], GenEvents(r, 700, 200, 50)...))
	if err != nil {
		t.Fatalf("write after a log-only write: %v", err)
	}
	if slices.Contains(fresh[:5], true) || slices.Contains(fresh[5:], false) {
		t.Errorf("fresh = %v; want the 5 events of the log-only write duplicates, the rest stored", fresh)
	}
	got, err := s.Aggregates(ctx, "prod", "")
	if err != nil {
		t.Fatal(err)
	}
	if want := Recompute(t, s, "prod"); !reflect.DeepEqual(got, want) {
		t.Fatalf("after the write that found the state marked stale: aggregates differ from the recomputation (the log-only events uncounted?):\n got %v\nwant %v", got, want)
	}
	if v := version(); v != v0 {
		t.Errorf("state version after the write recomputed it: %q, want %q", v, v0)
	}
}
