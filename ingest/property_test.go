package ingest

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/valueloop/valueloop/metric"
)

// memStore is a hand-written in-memory Store for tests.
type memStore struct {
	mu      sync.Mutex
	metrics map[string][]metric.Metric
	ids     map[string]map[DedupKey]bool
	log     map[string][]LogRecord
	aggs    map[string]map[cellKey]metric.Aggregate
	// splits are the split changes per environment and flag (SplitStore);
	// splitReads counts the reads.
	splits        map[string]map[string][]int64
	splitsVersion int64
	splitReads    int
	// failNext makes the next transaction fail after fn ran.
	failNext bool
}

func newMemStore() *memStore {
	return &memStore{metrics: map[string][]metric.Metric{}, ids: map[string]map[DedupKey]bool{},
		log: map[string][]LogRecord{}, aggs: map[string]map[cellKey]metric.Aggregate{}}
}

func (s *memStore) Metrics(ctx context.Context, env string) ([]metric.Metric, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]metric.Metric(nil), s.metrics[env]...), nil
}

func (s *memStore) SplitChanges(ctx context.Context, env string) (map[string][]int64, int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.splitReads++
	return s.splits[env], s.splitsVersion, nil
}

// SplitsVersion is ingest.SplitTx's: the splits of a test change only
// between transactions.
func (tx *memTx) SplitsVersion(env string) (int64, error) {
	tx.s.mu.Lock()
	defer tx.s.mu.Unlock()
	return tx.s.splitsVersion, nil
}

func (s *memStore) ScanLog(ctx context.Context, env string, since int64, fn func([]byte) error) error {
	s.mu.Lock()
	recs := append([]LogRecord(nil), s.log[env]...)
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

// memTx stages writes and applies them at commit.
type memTx struct {
	s    *memStore
	ids  map[string]map[DedupKey]bool
	log  map[string][]LogRecord
	aggs map[string][]metric.Aggregate
	repl map[string]bool
}

func (s *memStore) IngestTx(ctx context.Context, fn func(Tx) error) error {
	tx := &memTx{s: s, ids: map[string]map[DedupKey]bool{}, log: map[string][]LogRecord{}, aggs: map[string][]metric.Aggregate{}, repl: map[string]bool{}}
	if err := fn(tx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failNext {
		s.failNext = false
		return fmt.Errorf("memStore: injected commit failure")
	}
	s.commitLog(tx.ids, tx.log)
	for env := range tx.repl {
		s.aggs[env] = map[cellKey]metric.Aggregate{}
	}
	for env, as := range tx.aggs {
		s.putAggregates(env, as)
	}
	return nil
}

// commitLog makes a transaction's claimed keys and log records visible
// (with s.mu held).
func (s *memStore) commitLog(ids map[string]map[DedupKey]bool, log map[string][]LogRecord) {
	for env, m := range ids {
		if s.ids[env] == nil {
			s.ids[env] = map[DedupKey]bool{}
		}
		for k := range m {
			s.ids[env][k] = true
		}
	}
	for env, recs := range log {
		s.log[env] = append(s.log[env], recs...)
	}
}

// putAggregates stores aggs in env's cells, replacing what they held
// (with s.mu held).
func (s *memStore) putAggregates(env string, aggs []metric.Aggregate) {
	if s.aggs[env] == nil {
		s.aggs[env] = map[cellKey]metric.Aggregate{}
	}
	for _, a := range aggs {
		s.aggs[env][cellOf(a)] = a
	}
}

// cellOf is the cell an aggregate fills.
func cellOf(a metric.Aggregate) cellKey {
	return cellKey{a.Flag, a.Variant, a.Metric, a.Period, a.Dimension, a.Value}
}

func (tx *memTx) Claim(env string, keys []DedupKey) ([]bool, error) {
	tx.s.mu.Lock()
	defer tx.s.mu.Unlock()
	if tx.ids[env] == nil {
		tx.ids[env] = map[DedupKey]bool{}
	}
	out := make([]bool, len(keys))
	for i, k := range keys {
		if !tx.s.ids[env][k] && !tx.ids[env][k] {
			out[i] = true
			tx.ids[env][k] = true
		}
	}
	return out, nil
}

func (tx *memTx) ScanLog(env string, since int64, fn func([]byte) error) error {
	return tx.s.ScanLog(context.Background(), env, since, fn)
}

func (tx *memTx) Append(env string, rec LogRecord) error {
	tx.log[env] = append(tx.log[env], rec)
	return nil
}

func (tx *memTx) PutAggregates(env string, aggs []metric.Aggregate) error {
	tx.aggs[env] = append(tx.aggs[env], aggs...)
	return nil
}

func (tx *memTx) ReplaceAggregates(env string, aggs []metric.Aggregate) error {
	tx.repl[env] = true
	tx.aggs[env] = append([]metric.Aggregate(nil), aggs...)
	return nil
}

// stored returns the stored aggregates of env, sorted, without empty cells.
func (s *memStore) stored(env string) []metric.Aggregate {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []metric.Aggregate
	for _, a := range s.aggs[env] {
		out = append(out, a)
	}
	sortAggregates(out)
	return out
}

// events returns every stored event of env.
func (s *memStore) events(env string) []Event {
	var out []Event
	s.ScanLog(context.Background(), env, math.MinInt64, func(data []byte) error {
		return DecodeLog(data, func(ev *Event) error {
			c := *ev
			c.Attributes = append([]byte(nil), ev.Attributes...)
			out = append(out, c)
			return nil
		})
	})
	return out
}

// naive recomputes the aggregates straight from the definitions, sharing no
// code with the engine but Sums.apply (tested on its own against big.Int).
func naive(metrics []metric.Metric, events []Event, splits map[string][]int64) []metric.Aggregate {
	period := func(flag string, t0 int64) int64 {
		var p int64
		for _, b := range splits[flag] {
			if b <= t0 {
				p = b
			}
		}
		return p
	}
	type exposure struct {
		t0       int64
		variants map[string]bool
		first    string
		// outside: every exposure at t0 was outside the split; such a
		// user counts in the cells of metric.OutsideDimension only.
		outside bool
	}
	flags := map[string]map[string]*exposure{} // flag → user
	byUser := map[string][]Event{}
	for _, ev := range events {
		switch ev.Type {
		case Exposure:
			if flags[ev.Flag] == nil {
				flags[ev.Flag] = map[string]*exposure{}
			}
			x := flags[ev.Flag][ev.TargetingKey]
			if x == nil {
				x = &exposure{t0: ev.Time, variants: map[string]bool{}, first: ev.Variant, outside: true}
				flags[ev.Flag][ev.TargetingKey] = x
			}
			x.variants[ev.Variant] = true
			switch {
			case ev.Time < x.t0:
				x.t0, x.first, x.outside = ev.Time, ev.Variant, ev.OutsideSplit
			case ev.Time == x.t0:
				x.outside = x.outside && ev.OutsideSplit
			}
		case Tracking:
			byUser[ev.TargetingKey] = append(byUser[ev.TargetingKey], ev)
		}
	}
	cells := map[cellKey]*metric.Sums{}
	sketches := map[cellKey]metric.Sketch{}
	perEvent := map[cellKey]metric.EventSketch{}
	cell := func(k cellKey) *metric.Sums {
		if cells[k] == nil {
			cells[k] = &metric.Sums{}
		}
		return cells[k]
	}
	// With a windowed metric the randomised users count once more in the
	// cells of their UTC day of first exposure.
	byDay := slices.ContainsFunc(metrics, func(m metric.Metric) bool { return m.Window > 0 })
	for flag, users := range flags {
		cell(cellKey{flag: flag})
		for _, x := range users {
			for v := range x.variants {
				cell(cellKey{flag, v, "", period(flag, x.t0), "", ""})
				for _, m := range metrics {
					cell(cellKey{flag, v, m.Key, period(flag, x.t0), "", ""})
				}
			}
		}
		for user, x := range users {
			if len(x.variants) > 1 {
				cell(cellKey{flag: flag}).N++
				continue
			}
			dim := ""
			if x.outside {
				dim = metric.OutsideDimension
			}
			keys := func(m string) []cellKey {
				ks := []cellKey{{flag, x.first, m, period(flag, x.t0), dim, ""}}
				if byDay && !x.outside {
					day := time.UnixMilli(x.t0).UTC().Format("2006-01-02")
					ks = append(ks, cellKey{flag, x.first, m, period(flag, x.t0), metric.ExposureDayDimension, day})
				}
				return ks
			}
			for _, k := range keys("") {
				cell(k).N++
			}
			for _, m := range metrics {
				// count and sum of an event name before t0 and in the window
				agg := func(name string, post bool) (cnt, sum int64) {
					for _, ev := range byUser[user] {
						if ev.Name != name {
							continue
						}
						in := ev.Time < x.t0
						if post {
							in = ev.Time >= x.t0 && (m.Window == 0 || ev.Time < x.t0+int64(time.Duration(m.Window)/time.Millisecond))
						}
						if in {
							cnt++
							sum += ev.Value
						}
					}
					return cnt, sum
				}
				val := func(post bool) (v, den int64, ok bool) {
					cnt, sum := agg(m.Event, post)
					switch m.Kind {
					case metric.Conversion:
						if cnt > 0 {
							return Scale, 0, true
						}
						return 0, 0, true
					case metric.Count:
						v = cnt * Scale
					case metric.Sum:
						v = sum
					case metric.Mean, metric.Quantile:
						if cnt == 0 {
							return 0, 0, false
						}
						if m.PerEvent() {
							return cnt * Scale, 0, true
						}
						// round half away from zero, exactly
						q, rem := sum/cnt, sum%cnt
						if 2*max(rem, -rem) >= cnt {
							if sum < 0 {
								q--
							} else {
								q++
							}
						}
						v = q
					case metric.Ratio:
						v = sum
						if m.Aggregate == metric.AggCount {
							v = cnt * Scale
						}
						dc, ds := agg(m.Denominator.Event, post)
						den = ds
						if m.Denominator.Aggregate == metric.AggCount {
							den = dc * Scale
						}
					}
					if m.Cap != nil {
						v = min(v, int64(math.Round(*m.Cap*Scale)))
					}
					return v, den, true
				}
				xv, yv, ok := val(true)
				if !ok {
					continue
				}
				cv, _, pok := val(false)
				if !pok || m.PerEvent() {
					cv = 0
				}
				for _, k := range keys(m.Key) {
					cell(k).Apply(xv, yv, cv, 1)
					if m.PerEvent() {
						// the user's own bucket counts of the events in the window
						var h metric.UserHist
						for _, ev := range byUser[user] {
							if ev.Name == m.Event && ev.Time >= x.t0 && (m.Window == 0 || ev.Time < x.t0+int64(time.Duration(m.Window)/time.Millisecond)) {
								h.Add(ev.Value, 1)
							}
						}
						ek := perEvent[k]
						ek.AddUser(h, 1)
						perEvent[k] = ek
					} else if m.Kind == metric.Quantile {
						sk := sketches[k]
						sk.Add(xv, 1)
						sketches[k] = sk
					}
				}
			}
		}
	}
	var out []metric.Aggregate
	for k, s := range cells {
		s.SetSketch(sketches[k])
		if ek, ok := perEvent[k]; ok {
			s.SetEventSketch(ek)
		}
		out = append(out, metric.Aggregate{Flag: k.flag, Variant: k.variant, Metric: k.metric, Period: k.period, Dimension: k.dim, Value: k.value, Sums: *s})
	}
	sortAggregates(out)
	return out
}

func testMetrics() []metric.Metric {
	capv := 25.0
	ms := []metric.Metric{
		{Key: "converted", Kind: metric.Conversion, Event: "purchase", Window: metric.Window(50 * time.Millisecond)},
		{Key: "clicks", Kind: metric.Count, Event: "click"},
		{Key: "revenue", Kind: metric.Sum, Event: "purchase", Cap: &capv},
		{Key: "latency", Kind: metric.Mean, Event: "load", Direction: metric.LowerIsBetter},
		{Key: "latency-p90", Kind: metric.Quantile, Event: "load", Direction: metric.LowerIsBetter, Quantile: 0.9},
		{Key: "load-p95", Kind: metric.Quantile, Over: metric.OverEvent, Event: "load", Direction: metric.LowerIsBetter, Quantile: 0.95, Window: metric.Window(40 * time.Millisecond)},
		{Key: "rpo", Kind: metric.Ratio, Event: "purchase", Denominator: &metric.Part{Event: "purchase"}},
		{Key: "clicks-per-load", Kind: metric.Ratio, Event: "click", Aggregate: metric.AggCount, Denominator: &metric.Part{Event: "load", Aggregate: metric.AggSum}},
	}
	for i := range ms {
		if err := ms[i].Normalize(); err != nil {
			panic(err)
		}
	}
	return ms
}

// propBase is the earliest time of randomEvents: 100 ms before a UTC
// midnight, so that first exposures fall on two days and one moving earlier
// can move its user to the day before (the cells by day of exposure).
const propBase = 1_700_006_400_000 - 100

// randomEvents makes events of a few users, flags and names at random
// times, a few with large values (so that naive float sums would lose
// digits) and a few with ids.
func randomEvents(r *rand.Rand, n int) []Event {
	names := []string{"purchase", "click", "load", "other"}
	var out []Event
	for i := 0; i < n; i++ {
		ev := Event{
			ID:           fmt.Sprintf("e%d", i),
			TargetingKey: fmt.Sprintf("u%d", r.IntN(12)),
			Time:         propBase + r.Int64N(200),
			TimeSet:      true,
		}
		if r.IntN(4) == 0 {
			ev.Type, ev.Flag = Exposure, []string{"f1", "f2"}[r.IntN(2)]
			ev.Variant = []string{"on", "off", "on", "off", "on", "off", "x"}[r.IntN(7)]
			// The context served in, for dimensions: listed values, others,
			// missing ones, and values that are not strings.
			ev.Attributes = []byte([]string{`{"country":"US","platform":"ios"}`, `{"country":"GB"}`, `{"country":"FR","platform":3}`,
				`{"platform":"android","country":null}`, `{"country":"US","platform":["x"]}`, ``}[r.IntN(6)])
			if len(ev.Attributes) == 0 {
				ev.Attributes = nil
			}
			// Served by a rule, say: counted apart from the split's users.
			// By position, not drawn, so that the streams of the seeds stay
			// those the other tests were written for.
			ev.OutsideSplit = i%3 == 1
		} else {
			ev.Type, ev.Name = Tracking, names[r.IntN(len(names))]
			if r.IntN(3) > 0 {
				ev.Value, ev.HasValue = r.Int64N(100*Scale)-10*Scale, true
				if r.IntN(20) == 0 {
					ev.Value = 900_000_000 * Scale
				}
			}
		}
		out = append(out, ev)
	}
	return out
}

// TestIncrementalEqualsRecomputation feeds random events in random batches,
// shuffled, with duplicates resent, through a Pipeline and checks that the
// stored aggregates equal the naive recomputation, bit for bit, after every
// batch; with dimensions, every slice's cells too (naiveDims).
func TestIncrementalEqualsRecomputation(t *testing.T) {
	metrics := testMetrics()
	for _, c := range []struct {
		name   string
		seeds  uint64
		stream uint64
		dims   []metric.Dimension
	}{{"", 40, 7, nil}, {"dimensions/", 20, 11, testDims}} {
		for _, mode := range []string{"memory", "state"} {
			for seed := uint64(1); seed <= c.seeds; seed++ {
				t.Run(fmt.Sprintf("%s%s/%d", c.name, mode, seed), func(t *testing.T) {
					r := rand.New(rand.NewPCG(seed, c.stream))
					store := newMemStore()
					var ingestStore Store = store
					if mode == "state" {
						ss := newStateStore()
						store, ingestStore = ss.memStore, ss
					}
					store.metrics["prod"] = metrics
					if seed%2 == 0 {
						// Splits that changed: the cells are kept per period.
						store.splits = map[string]map[string][]int64{"prod": {
							"f1": {propBase + 50, propBase + 120},
							"f2": {propBase + int64(seed)},
						}}
					}
					testIncremental(t, r, metrics, store, ingestStore, c.dims...)
				})
			}
		}
	}
}

func testIncremental(t *testing.T, r *rand.Rand, metrics []metric.Metric, store *memStore, ingestStore Store, dims ...metric.Dimension) {
	{
		{
			p := NewPipeline(ingestStore, nil)
			p.Dimensions = dims
			p.MaxGroupEvents = 1 + r.IntN(50)
			if err := p.Open(); err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			events := randomEvents(r, 150+r.IntN(150))
			r.Shuffle(len(events), func(i, j int) { events[i], events[j] = events[j], events[i] })
			var sent []Event
			for len(events) > 0 {
				k := min(len(events), 1+r.IntN(30))
				batch := append([]Event(nil), events[:k]...)
				events = events[k:]
				// resend a few earlier events: they must come back as duplicates
				var resent int
				for j := 0; j < 3 && len(sent) > 0; j++ {
					batch = append(batch, sent[r.IntN(len(sent))])
					resent++
				}
				fresh, err := p.Ingest(t.Context(), "prod", batch)
				if err != nil {
					t.Fatal(err)
				}
				for i := range fresh {
					wantFresh := i < k
					if fresh[i] != wantFresh {
						t.Fatalf("event %d (%+v): fresh = %v, want %v", i, batch[i], fresh[i], wantFresh)
					}
				}
				sent = append(sent, batch[:k]...)
				got, want := store.stored("prod"), naiveDims(metrics, dims, store.events("prod"), store.splits["prod"])
				if d := diffAggregates(got, want); d != "" {
					t.Fatalf("after %d events: stored aggregates differ from recomputation:\n%s", len(sent), d)
				}
			}
			if n := len(store.events("prod")); n != len(sent) {
				t.Errorf("stored %d events, want %d", n, len(sent))
			}
			res, err := p.Rebuild(t.Context(), "prod")
			if err != nil {
				t.Fatal(err)
			}
			if res.Changed || res.Events != int64(len(sent)) {
				t.Errorf("rebuild = %+v, want unchanged over %d events", res, len(sent))
			}
		}
	}
}

// diffAggregates compares non-empty cells.
func diffAggregates(got, want []metric.Aggregate) string {
	nonEmpty := func(as []metric.Aggregate) map[cellKey]metric.Sums {
		m := map[cellKey]metric.Sums{}
		for _, a := range as {
			if !a.Sums.IsZero() {
				m[cellOf(a)] = a.Sums
			}
		}
		return m
	}
	g, w := nonEmpty(got), nonEmpty(want)
	var lines []string
	for k, ws := range w {
		if gs, ok := g[k]; !ok || gs != ws {
			lines = append(lines, fmt.Sprintf("  %v: got %+v, want %+v", k, g[k].Summary(), ws.Summary()))
		}
	}
	for k, gs := range g {
		if _, ok := w[k]; !ok {
			lines = append(lines, fmt.Sprintf("  %v: got %+v, want nothing", k, gs.Summary()))
		}
	}
	sort.Strings(lines)
	if len(lines) > 10 {
		lines = append(lines[:10], fmt.Sprintf("  ... and %d more", len(lines)-10))
	}
	out := ""
	for _, l := range lines {
		out += l + "\n"
	}
	return out
}
