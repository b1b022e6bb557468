package ingest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"iter"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/metric"
)

// stateStore is a hand-written StateStore in memory that behaves like a
// database at READ COMMITTED with row locks: transactions run concurrently,
// LoadUsers locks users (waiting for other transactions that hold them),
// Claim waits for keys that another open transaction inserted, StateVersion
// takes a shared or exclusive lock, and what a transaction writes becomes
// visible to others when it commits. Two pipelines on one stateStore are two
// nodes on one database.
type stateStore struct {
	*memStore
	cond     *sync.Cond // on memStore.mu
	users    map[string]map[string][]byte
	versions map[string]string
	// locks held by open transactions
	userLock map[string]*stateTx // env + "\x00" + key
	idLock   map[string]map[DedupKey]*stateTx
	shared   map[string]int
	excl     map[string]*stateTx
	// fullScans counts ScanLog calls that read every record (recomputations)
	fullScans atomic.Int64
	nextTx    int
}

func newStateStore() *stateStore {
	s := &stateStore{memStore: newMemStore(), users: map[string]map[string][]byte{}, versions: map[string]string{},
		userLock: map[string]*stateTx{}, idLock: map[string]map[DedupKey]*stateTx{}, shared: map[string]int{}, excl: map[string]*stateTx{}}
	s.cond = sync.NewCond(&s.mu)
	return s
}

var _ StateStore = (*stateStore)(nil)

type stateTx struct {
	s        *stateStore
	id       int
	shared   []string
	excl     []string
	users    []string // locked user lock keys
	ids      map[string]map[DedupKey]bool
	log      map[string][]LogRecord
	puts     map[string]map[string][]byte
	deltas   map[string][]metric.Aggregate
	replaced map[string]bool
	marked   map[string]bool // MarkStale, not replaced since
	version  map[string]string
	repUsers map[string]map[string][]byte
	repAggs  map[string][]metric.Aggregate
}

func (s *stateStore) StateTx(ctx context.Context, fn func(StateTx) error) error {
	s.mu.Lock()
	s.nextTx++
	tx := &stateTx{s: s, id: s.nextTx, ids: map[string]map[DedupKey]bool{}, log: map[string][]LogRecord{},
		puts: map[string]map[string][]byte{}, deltas: map[string][]metric.Aggregate{}, replaced: map[string]bool{}, marked: map[string]bool{},
		version: map[string]string{}, repUsers: map[string]map[string][]byte{}, repAggs: map[string][]metric.Aggregate{}}
	s.mu.Unlock()
	err := fn(tx)
	s.mu.Lock()
	defer s.mu.Unlock()
	defer tx.release()
	if err != nil {
		return err
	}
	if s.failNext {
		s.failNext = false
		return fmt.Errorf("stateStore: injected commit failure")
	}
	s.commitLog(tx.ids, tx.log)
	for env := range tx.replaced {
		s.users[env] = tx.repUsers[env]
		s.aggs[env] = map[cellKey]metric.Aggregate{}
		s.putAggregates(env, tx.repAggs[env])
		s.versions[env] = tx.version[env]
	}
	for env := range tx.marked {
		s.versions[env] = ""
	}
	for env, m := range tx.puts {
		if s.users[env] == nil {
			s.users[env] = map[string][]byte{}
		}
		for k, v := range m {
			s.users[env][k] = v
		}
	}
	for env, ds := range tx.deltas {
		if s.aggs[env] == nil {
			s.aggs[env] = map[cellKey]metric.Aggregate{}
		}
		for _, d := range ds {
			k := cellOf(d)
			a := s.aggs[env][k]
			a.Flag, a.Variant, a.Metric, a.Period, a.Dimension, a.Value = d.Flag, d.Variant, d.Metric, d.Period, d.Dimension, d.Value
			a.Sums.Add(d.Sums)
			s.aggs[env][k] = a
		}
	}
	return nil
}

// release drops the transaction's locks (with s.mu held).
func (tx *stateTx) release() {
	s := tx.s
	for _, env := range tx.shared {
		s.shared[env]--
	}
	for _, env := range tx.excl {
		delete(s.excl, env)
	}
	for _, k := range tx.users {
		delete(s.userLock, k)
	}
	for env, m := range tx.ids {
		for k := range m {
			delete(s.idLock[env], k)
		}
	}
	s.cond.Broadcast()
}

func (tx *stateTx) StateVersion(env string, exclusive bool) (string, error) {
	s := tx.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if exclusive {
		for (s.excl[env] != nil && s.excl[env] != tx) || s.shared[env] > 0 {
			s.cond.Wait()
		}
		s.excl[env] = tx
		tx.excl = append(tx.excl, env)
	} else {
		for s.excl[env] != nil && s.excl[env] != tx {
			s.cond.Wait()
		}
		s.shared[env]++
		tx.shared = append(tx.shared, env)
	}
	return s.versions[env], nil
}

// SplitsVersion is ingest.SplitTx's: the splits of a test change only
// between transactions.
func (tx *stateTx) SplitsVersion(env string) (int64, error) {
	tx.s.mu.Lock()
	defer tx.s.mu.Unlock()
	return tx.s.splitsVersion, nil
}

func (tx *stateTx) Claim(env string, keys []DedupKey) ([]bool, error) {
	if !slices.IsSortedFunc(keys, func(a, b DedupKey) int {
		if a.Time != b.Time {
			return cmp.Compare(a.Time, b.Time)
		}
		return cmp.Compare(a.Hash, b.Hash)
	}) {
		return nil, errors.New("stateStore: claim keys not sorted")
	}
	s := tx.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.idLock[env] == nil {
		s.idLock[env] = map[DedupKey]*stateTx{}
	}
	if tx.ids[env] == nil {
		tx.ids[env] = map[DedupKey]bool{}
	}
	out := make([]bool, len(keys))
	for i, k := range keys {
		for s.idLock[env][k] != nil && s.idLock[env][k] != tx {
			s.cond.Wait() // another open transaction inserted it: wait for it
		}
		if s.ids[env][k] || tx.ids[env][k] {
			continue
		}
		out[i] = true
		tx.ids[env][k] = true
		s.idLock[env][k] = tx
	}
	return out, nil
}

func (tx *stateTx) LoadUsers(env string, keys []string, fn func(key string, state []byte) error) error {
	if !slices.IsSorted(keys) {
		return errors.New("stateStore: user keys not sorted")
	}
	s := tx.s
	s.mu.Lock()
	found := map[string][]byte{}
	for _, k := range keys {
		lk := env + "\x00" + k
		for s.userLock[lk] != nil && s.userLock[lk] != tx {
			s.cond.Wait()
		}
		if s.userLock[lk] == nil {
			s.userLock[lk] = tx
			tx.users = append(tx.users, lk)
		}
		if st, ok := tx.puts[env][k]; ok {
			found[k] = st
		} else if st, ok := s.users[env][k]; ok {
			found[k] = st
		}
	}
	s.mu.Unlock()
	for k, st := range found {
		if err := fn(k, slices.Clone(st)); err != nil {
			return err
		}
	}
	return nil
}

// ScanLog reads what is committed (READ COMMITTED).
func (tx *stateTx) ScanLog(env string, since int64, fn func([]byte) error) error {
	if since == math.MinInt64 {
		tx.s.fullScans.Add(1)
	}
	return tx.s.memStore.ScanLog(context.Background(), env, since, fn)
}

func (tx *stateTx) Append(env string, rec LogRecord) error {
	tx.log[env] = append(tx.log[env], rec)
	return nil
}

func (tx *stateTx) PutUsers(env string, users []UserState) error {
	if !slices.IsSortedFunc(users, func(a, b UserState) int { return cmp.Compare(a.Key, b.Key) }) {
		return errors.New("stateStore: users not sorted")
	}
	if tx.puts[env] == nil {
		tx.puts[env] = map[string][]byte{}
	}
	tx.s.mu.Lock()
	defer tx.s.mu.Unlock()
	for _, u := range users {
		if tx.s.userLock[env+"\x00"+u.Key] != tx {
			return fmt.Errorf("stateStore: put of user %q not loaded by the transaction", u.Key)
		}
		tx.puts[env][u.Key] = slices.Clone(u.State)
	}
	return nil
}

func (tx *stateTx) AddAggregates(env string, deltas []metric.Aggregate) error {
	tx.deltas[env] = append(tx.deltas[env], deltas...)
	return nil
}

func (tx *stateTx) Aggregates(env string) ([]metric.Aggregate, error) {
	return tx.s.stored(env), nil
}

func (tx *stateTx) MarkStale(env string) error {
	tx.marked[env] = true
	return nil
}

func (tx *stateTx) ReplaceState(env, version string, users iter.Seq[UserState], aggs []metric.Aggregate) error {
	m := map[string][]byte{}
	prev := ""
	for u := range users {
		if u.Key <= prev && prev != "" {
			return errors.New("stateStore: replaced users not sorted")
		}
		prev = u.Key
		m[u.Key] = slices.Clone(u.State)
	}
	tx.replaced[env], tx.version[env], tx.repUsers[env], tx.repAggs[env] = true, version, m, slices.Clone(aggs)
	delete(tx.puts, env)
	delete(tx.deltas, env)
	delete(tx.marked, env)
	return nil
}

// TestStateRestartReadsNoEvents ingests through one pipeline, closes it, and
// continues with a new one on the same store: the new one loads the users it
// needs and never recomputes from the events, and the sums stay exact.
func TestStateRestartReadsNoEvents(t *testing.T) {
	metrics := testMetrics()
	r := rand.New(rand.NewPCG(5, 6))
	store := newStateStore()
	store.metrics["prod"] = metrics
	events := randomEvents(r, 600)
	r.Shuffle(len(events), func(i, j int) { events[i], events[j] = events[j], events[i] })
	for round := range 3 {
		p := NewPipeline(store, nil)
		if err := p.Open(); err != nil {
			t.Fatal(err)
		}
		part := events[round*200 : (round+1)*200]
		for len(part) > 0 {
			k := min(len(part), 1+r.IntN(40))
			if _, err := p.Ingest(t.Context(), "prod", part[:k]); err != nil {
				t.Fatal(err)
			}
			part = part[k:]
		}
		p.Close()
		if d := diffAggregates(store.stored("prod"), naive(metrics, store.events("prod"), nil)); d != "" {
			t.Fatalf("after pipeline %d: stored aggregates differ from recomputation:\n%s", round, d)
		}
	}
	// One recomputation: the first use of an environment without state.
	if n := store.fullScans.Load(); n != 2 {
		t.Errorf("%d full scans of the log, want 2 (one recomputation of two passes, at first use)", n)
	}
	if n := len(store.users["prod"]); n == 0 || n > 12 {
		t.Errorf("%d users stored, want 1 to 12", n)
	}
}

// TestTwoWritersStayExact runs two pipelines (two nodes) on one store,
// concurrently, with events of the same users in random batches, each batch
// sent to a random node and some sent to both: the sums equal the
// recomputation and every event is stored once.
func TestTwoWritersStayExact(t *testing.T) {
	metrics := testMetrics()
	for seed := uint64(1); seed <= 8; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 9))
			store := newStateStore()
			store.metrics["prod"] = metrics
			nodes := make([]*Pipeline, 2)
			for i := range nodes {
				nodes[i] = NewPipeline(store, nil)
				nodes[i].MaxGroupEvents = 1 + r.IntN(60)
				if err := nodes[i].Open(); err != nil {
					t.Fatal(err)
				}
				defer nodes[i].Close()
			}
			events := randomEvents(r, 800)
			r.Shuffle(len(events), func(i, j int) { events[i], events[j] = events[j], events[i] })
			type job struct {
				node   int
				events []Event
			}
			var jobs []job
			for rest := events; len(rest) > 0; {
				k := min(len(rest), 1+r.IntN(25))
				jobs = append(jobs, job{r.IntN(2), rest[:k]})
				if r.IntN(4) == 0 {
					jobs = append(jobs, job{r.IntN(2), rest[:k]}) // sent again, maybe to the other node
				}
				rest = rest[k:]
			}
			var wg sync.WaitGroup
			var stored atomic.Int64
			errs := make(chan error, len(jobs))
			sem := make(chan struct{}, 6)
			for _, j := range jobs {
				wg.Add(1)
				sem <- struct{}{}
				go func() {
					defer wg.Done()
					defer func() { <-sem }()
					fresh, err := nodes[j.node].Ingest(t.Context(), "prod", j.events)
					if err != nil {
						errs <- err
						return
					}
					for _, f := range fresh {
						if f {
							stored.Add(1)
						}
					}
				}()
			}
			done := make(chan struct{})
			go func() { wg.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(time.Minute):
				t.Fatal("the two writers deadlocked")
			}
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			if n := stored.Load(); n != int64(len(events)) {
				t.Errorf("stored %d events, want %d (each once)", n, len(events))
			}
			if d := diffAggregates(store.stored("prod"), naive(metrics, store.events("prod"), nil)); d != "" {
				t.Fatalf("stored aggregates differ from recomputation:\n%s", d)
			}
		})
	}
}

// TestMetricChangeSeenByTheOtherWriter adds a metric and rebuilds through
// one node while the other keeps ingesting with the old definitions: the
// other node notices the new state version, reads the definitions again, and
// the sums end exact for the new set.
func TestMetricChangeSeenByTheOtherWriter(t *testing.T) {
	metrics := testMetrics()
	r := rand.New(rand.NewPCG(11, 12))
	store := newStateStore()
	store.metrics["prod"] = metrics[:3]
	a, b := NewPipeline(store, nil), NewPipeline(store, nil)
	for _, p := range []*Pipeline{a, b} {
		if err := p.Open(); err != nil {
			t.Fatal(err)
		}
		defer p.Close()
	}
	events := randomEvents(r, 400)
	if _, err := b.Ingest(t.Context(), "prod", events[:200]); err != nil {
		t.Fatal(err)
	}
	store.mu.Lock()
	store.metrics["prod"] = metrics
	store.mu.Unlock()
	res, err := a.Rebuild(t.Context(), "prod")
	if err != nil || !res.Changed || res.Events != 200 {
		t.Fatalf("Rebuild = %+v, %v; want 200 events and changed aggregates", res, err)
	}
	if _, err := b.Ingest(t.Context(), "prod", events[200:]); err != nil {
		t.Fatal(err)
	}
	if d := diffAggregates(store.stored("prod"), naive(metrics, store.events("prod"), nil)); d != "" {
		t.Fatalf("stored aggregates differ from recomputation with the new metrics:\n%s", d)
	}
	// A metric added without a rebuild (a crash in between) is picked up by
	// a restarted node.
	store.mu.Lock()
	store.metrics["prod"] = metrics[1:]
	store.mu.Unlock()
	c := NewPipeline(store, nil)
	if err := c.Open(); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Ingest(t.Context(), "prod", randomEvents(r, 50)); err != nil {
		t.Fatal(err)
	}
	if d := diffAggregates(store.stored("prod"), naive(metrics[1:], store.events("prod"), nil)); d != "" {
		t.Fatalf("after a restart with changed metrics:\n%s", d)
	}
}

// TestStateFailedCommitChangesNothing makes a commit fail: the batch is
// reported failed, and sending it again gives the exact sums.
func TestStateFailedCommitChangesNothing(t *testing.T) {
	metrics := testMetrics()
	r := rand.New(rand.NewPCG(13, 14))
	store := newStateStore()
	store.metrics["prod"] = metrics
	p := NewPipeline(store, nil)
	if err := p.Open(); err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	events := randomEvents(r, 300)
	if _, err := p.Ingest(t.Context(), "prod", events[:150]); err != nil {
		t.Fatal(err)
	}
	before := store.stored("prod")
	store.mu.Lock()
	store.failNext = true
	store.mu.Unlock()
	if _, err := p.Ingest(t.Context(), "prod", events[150:]); err == nil {
		t.Fatal("Ingest succeeded although the commit failed")
	}
	if d := diffAggregates(store.stored("prod"), before); d != "" {
		t.Fatalf("a failed commit changed the aggregates:\n%s", d)
	}
	fresh, err := p.Ingest(t.Context(), "prod", events[150:])
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(fresh, false) {
		t.Errorf("events of the failed batch came back as duplicates: %v", fresh)
	}
	if d := diffAggregates(store.stored("prod"), naive(metrics, store.events("prod"), nil)); d != "" {
		t.Fatalf("after resending:\n%s", d)
	}
}

// TestUserStateRoundTrip encodes users and decodes them into another
// engine; a state of other definitions or a damaged one is refused.
func TestUserStateRoundTrip(t *testing.T) {
	metrics := testMetrics()
	e := newEngine(metrics)
	e.persistent = true
	r := rand.New(rand.NewPCG(15, 16))
	if err := e.apply(randomEvents(r, 300), func(int64, func([]byte) error) error { return nil }); err != nil {
		t.Fatal(err)
	}
	e.finish()
	f := newEngine(metrics)
	for st := range (&recomputation{parts: []*engine{e}}).users() {
		if err := f.load(st.Key, st.State); err != nil {
			t.Fatalf("load %s: %v", st.Key, err)
		}
		again := f.encodeUser(nil, f.users[st.Key])
		if string(again) != string(st.State) {
			t.Errorf("user %s: re-encoded state differs:\n got %x\nwant %x", st.Key, again, st.State)
		}
		if err := newEngine(metrics[:2]).load(st.Key, st.State); err == nil {
			t.Errorf("user %s: a state of other metric definitions was accepted", st.Key)
		}
		if err := newEngine(metrics).load(st.Key, st.State[:len(st.State)-1]); err == nil {
			t.Errorf("user %s: a truncated state was accepted", st.Key)
		}
	}
	if len(f.users) != 12 {
		t.Errorf("%d users, want 12", len(f.users))
	}
}

func TestFingerprint(t *testing.T) {
	ms := testMetrics()
	a := newEngine(ms).version
	rev := slices.Clone(ms)
	slices.Reverse(rev)
	if b := newEngine(rev).version; b != a {
		t.Errorf("order of definitions changed the version: %s, %s", a, b)
	}
	named := slices.Clone(ms)
	named[0].Name, named[0].Description = "Converted", "who bought"
	if b := newEngine(named).version; b != a {
		t.Errorf("a display name changed the version: %s, %s", a, b)
	}
	capped := slices.Clone(ms)
	c := 3.0
	capped[1].Cap = &c
	if b := newEngine(capped).version; b == a {
		t.Error("a cap did not change the version")
	}
	over := slices.Clone(ms)
	for i := range over {
		if over[i].PerEvent() {
			over[i].Over = metric.OverUser
		}
	}
	if b := newEngine(over).version; b == a {
		t.Error("a quantile over users instead of events did not change the version")
	}
	if b := newEngine(ms[1:]).version; b == a {
		t.Error("removing a metric did not change the version")
	}
}

// TestIngestRefusesIncompleteEvents: events given in Go are checked as
// Decode checks those of a request; a batch with an incomplete one is
// refused whole, naming the event and the field.
func TestIngestRefusesIncompleteEvents(t *testing.T) {
	store := newStateStore()
	store.metrics["prod"] = testMetrics()
	p := NewPipeline(store, nil)
	if err := p.Open(); err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	good := Event{Type: Exposure, Flag: "f", Variant: "on", TargetingKey: "u", Time: 1, TimeSet: true}
	for _, tt := range []struct {
		field string
		edit  func(*Event)
	}{
		{"variant", func(e *Event) { e.Variant = "" }},
		{"flag", func(e *Event) { e.Flag = "" }},
		{"targetingKey", func(e *Event) { e.TargetingKey = "" }},
		{"name", func(e *Event) { e.Type, e.Flag, e.Variant = Tracking, "", "" }},
		{"type", func(e *Event) { e.Type = 0 }},
	} {
		bad := good
		tt.edit(&bad)
		_, err := p.Ingest(t.Context(), "prod", []Event{good, bad})
		if valueloop.ErrorCode(err) != valueloop.EINVALID || !strings.Contains(err.Error(), "event 1: "+tt.field) {
			t.Errorf("without %s: err = %v, want invalid, naming event 1 and the field", tt.field, err)
		}
	}
	if got := store.stored("prod"); len(got) != 0 {
		t.Errorf("refused batches stored %v", got)
	}
}

// TestExposurePeriodLookedUpOnce: the split period of an exposure is
// looked up once, by expose, and settle keeps it: a split change the
// group did not read (set here between the two) does not move the unit.
// A unit touched later without an exposure is settled under the split
// changes of its own group.
func TestExposurePeriodLookedUpOnce(t *testing.T) {
	e := newEngine(testMetrics())
	noHistory := func(int64, func([]byte) error) error { return nil }
	e.periods = map[string][]int64{"f1": {100}}
	if err := e.apply([]Event{{ID: "x", Type: Exposure, TargetingKey: "u", Flag: "f1", Variant: "on", Time: 150, TimeSet: true}}, noHistory); err != nil {
		t.Fatal(err)
	}
	e.periods = map[string][]int64{"f1": {100, 120}}
	e.finish()
	if got := e.users["u"].units[0].period; got != 100 {
		t.Errorf("exposed unit settled in period %d, want 100 (the period its exposure looked up)", got)
	}
	if err := e.apply([]Event{{ID: "y", Type: Tracking, TargetingKey: "u", Name: "click", Time: 160, TimeSet: true}}, noHistory); err != nil {
		t.Fatal(err)
	}
	e.finish()
	if got := e.users["u"].units[0].period; got != 120 {
		t.Errorf("unit touched by a later group in period %d, want 120 (that group's split changes)", got)
	}
}

// TestRecordedExposuresInChunks: a batch of exposures recorded by the
// server is stored in transactions of ExposureChunk, and the aggregates
// are those of a recomputation, cells per split period included, although
// the split changes are read at most once for the whole batch (each
// transaction checks their version instead), not once per transaction.
func TestRecordedExposuresInChunks(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 9))
	metrics := testMetrics()
	ss := newStateStore()
	ss.metrics["prod"] = metrics
	ss.splits = map[string]map[string][]int64{"prod": {"f1": {1_700_000_000_050, 1_700_000_000_120}}}
	p := NewPipeline(ss, nil)
	p.FlushInterval = time.Hour // one batch: the one Close stores
	if err := p.Open(); err != nil {
		t.Fatal(err)
	}
	// Tracking events first, stored at once, so that exposures have metrics
	// to count.
	var tracked []Event
	for _, ev := range randomEvents(r, 300) {
		if ev.Type == Tracking {
			tracked = append(tracked, ev)
		}
	}
	if _, err := p.Ingest(t.Context(), "prod", tracked); err != nil {
		t.Fatal(err)
	}
	reads, tx := ss.splitReads, p.Counters().Transactions.Load()
	const n = 3*ExposureChunk + 17
	for i := range n {
		at := time.UnixMilli(1_700_000_000_000 + r.Int64N(200))
		if !p.RecordExposure("prod", "f1", []string{"on", "off"}[r.IntN(2)], fmt.Sprintf("u%d", i%40), at, nil, false) {
			t.Fatalf("exposure %d not buffered", i)
		}
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if got := p.Counters().Transactions.Load() - tx; got != (n+ExposureChunk-1)/ExposureChunk {
		t.Errorf("%d transactions for %d exposures, want %d of at most %d", got, n, (n+ExposureChunk-1)/ExposureChunk, ExposureChunk)
	}
	if got := ss.splitReads - reads; got > 1 {
		t.Errorf("split changes read %d times for one batch, want at most once", got)
	}
	got, want := ss.stored("prod"), naive(metrics, ss.events("prod"), ss.splits["prod"])
	if d := diffAggregates(got, want); d != "" {
		t.Fatalf("stored aggregates differ from recomputation:\n%s", d)
	}
}

// TestUpgradeRebuildsOutsideCells: state written by engine-4 counted the
// users first exposed outside the split with the randomised ones. Its
// version is not the current engine's, so the first write after the
// upgrade rebuilds env from the log (whose records keep the bit) without
// reading the old users' states, and the outside users move to their own
// cells.
func TestUpgradeRebuildsOutsideCells(t *testing.T) {
	metrics := testMetrics()
	store := newStateStore()
	store.metrics["prod"] = metrics
	events := randomEvents(rand.New(rand.NewPCG(21, 22)), 300)
	p := NewPipeline(store, nil)
	if err := p.Open(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Ingest(t.Context(), "prod", events[:250]); err != nil {
		t.Fatal(err)
	}
	p.Close()
	// What engine-4 left: its version, its states (format 3, which this
	// engine refuses to read) and cells without the outside ones.
	old := make([]Event, 0, 250)
	for _, ev := range store.events("prod") {
		ev.OutsideSplit = false
		old = append(old, ev)
	}
	store.mu.Lock()
	sorted := slices.Clone(metrics)
	slices.SortFunc(sorted, func(a, b metric.Metric) int { return cmp.Compare(a.Key, b.Key) })
	store.versions["prod"] = fingerprint("engine-4", sorted, nil)
	for k := range store.users["prod"] {
		store.users["prod"][k] = []byte{3, 0}
	}
	store.aggs["prod"] = nil
	store.putAggregates("prod", naive(metrics, old, nil))
	store.mu.Unlock()
	if !slices.ContainsFunc(store.stored("prod"), func(a metric.Aggregate) bool { return a.Dimension == "" && a.Variant != "" && a.Sums.N > 0 }) {
		t.Fatal("setup: no cells of engine-4")
	}

	p = NewPipeline(store, nil)
	if err := p.Open(); err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, err := p.Ingest(t.Context(), "prod", events[250:]); err != nil {
		t.Fatal(err)
	}
	got, want := store.stored("prod"), naive(metrics, store.events("prod"), nil)
	if d := diffAggregates(got, want); d != "" {
		t.Fatalf("after the upgrade: stored aggregates differ from recomputation:\n%s", d)
	}
	if !slices.ContainsFunc(got, func(a metric.Aggregate) bool { return a.Dimension == metric.OutsideDimension && a.Sums.N > 0 }) {
		t.Error("no outside cells after the upgrade")
	}
	if v := store.versions["prod"]; !strings.HasPrefix(v, engineVersion+":") {
		t.Errorf("stored version %q, want one of %s", v, engineVersion)
	}
}
