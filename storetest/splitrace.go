package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/experiment"
	"github.com/valueloop/valueloop/ingest"
	"github.com/valueloop/valueloop/metric"
)

// splitStore is an event store that knows split changes and keeps the
// per-user state of ingestion: what the split-change race cases need.
type splitStore interface {
	EventStore
	ingest.StateStore
	ingest.SplitStore
}

// splitProbe is a splitStore that reports the end of a read of split
// changes on read (when not nil), so that a case knows the pipeline has
// read them.
type splitProbe struct {
	splitStore
	mu    sync.Mutex
	read  chan struct{}
	pause func() // run once after the next read, when set
}

func (p *splitProbe) SplitChanges(ctx context.Context, env string) (map[string][]int64, int64, error) {
	ch, v, err := p.splitStore.SplitChanges(ctx, env)
	p.mu.Lock()
	if p.read != nil {
		close(p.read)
		p.read = nil
	}
	pause := p.pause
	p.pause = nil
	p.mu.Unlock()
	if pause != nil {
		pause()
	}
	return ch, v, err
}

// watch returns a channel closed at the next read of split changes.
func (p *splitProbe) watch() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.read = make(chan struct{})
	return p.read
}

// memoryMode hides that a store keeps the per-user state, so that the
// pipeline keeps it in memory.
type memoryMode struct {
	EventStore
	probe *splitProbe
}

func (m memoryMode) SplitChanges(ctx context.Context, env string) (map[string][]int64, int64, error) {
	return m.probe.SplitChanges(ctx, env)
}

// testSplitChangeRace: a split change takes its time, then, before it
// commits, a pipeline stores an exposure timed after it. However the two
// interleave, the exposure's cell must be of the period a recomputation
// from the events gives it: the change's, since it is later than the
// change's time. Run with the pipeline keeping the per-user state in the
// store and in memory.
func testSplitChangeRace(t *testing.T, st Store, clock *Clock) {
	s := kept[splitStore](t, st, "the store keeps no split changes")
	for _, mode := range []string{"store", "memory"} {
		t.Run(mode, func(t *testing.T) {
			env := "race-" + mode
			probe := &splitProbe{splitStore: s}
			var ps ingest.Store = probe
			if mode == "memory" {
				ps = memoryMode{EventStore: s, probe: probe}
			}
			splitChangeRace(t, s, ps, probe, clock, env)
		})
	}
}

func splitChangeRace(t *testing.T, s splitStore, ps ingest.Store, probe *splitProbe, clock *Clock, env string) {
	ctx := context.Background()
	flag := createBanner(t, s, env)
	p := ingest.NewPipeline(ps, nil)
	if err := p.Open(); err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	// A user exposed before the change, so that the pipeline has read the
	// environment once.
	if _, err := p.Ingest(ctx, env, []ingest.Event{exposure("e0", "u0", "off", clock.T.UnixMilli())}); err != nil {
		t.Fatal(err)
	}

	clock.T = clock.T.Add(time.Minute).Truncate(time.Second)
	at := clock.T
	taken, release := make(chan struct{}), make(chan struct{})
	clock.PauseNext(func() { close(taken); <-release })
	changed := make(chan error, 1)
	go func() {
		on := *flag
		on.DefaultVariant = strp("on")
		_, _, err := s.PutFlag(ctx, env, &on, -1, "t", "")
		changed <- err
	}()
	<-taken // the change has its time and has not committed
	read := probe.watch()
	stored := make(chan error, 1)
	go func() {
		_, err := p.Ingest(ctx, env, []ingest.Event{exposure("e1", "u1", "off", at.UnixMilli()+1)})
		stored <- err
	}()
	// Release the change once the pipeline has read the split changes, or
	// has stored the exposure, or is waiting for the change: a pipeline
	// that reads the split changes only when they moved does not read them
	// here, and where the change holds the one writer (SQLite) it waits
	// before storing anything. Whichever happens, the aggregates must come
	// out the same; the wait only gives a pipeline that reads split changes
	// outside its transaction the chance to be caught doing it.
	select {
	case <-read:
	case err := <-stored:
		stored <- err
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	if err := <-changed; err != nil {
		t.Fatal(err)
	}
	if err := <-stored; err != nil {
		t.Fatal(err)
	}

	checkFiledAfter(t, s, env, at)
}

// testSplitChangeDuringRebuild: a rebuild reads the split changes, then a
// split changes and another node stores an exposure timed after the change
// (under the new split), then the rebuild recomputes: it must file that
// exposure under the new split too.
func testSplitChangeDuringRebuild(t *testing.T, st Store, clock *Clock) {
	s := kept[splitStore](t, st, "the store keeps no split changes")
	ctx := context.Background()
	env := "rebuild-race"
	flag := createBanner(t, s, env)
	probe := &splitProbe{splitStore: s}
	rebuilder, other := OpenPipeline(t, probe), OpenPipeline(t, s)
	if _, err := other.Ingest(ctx, env, []ingest.Event{exposure("e0", "u0", "off", clock.T.UnixMilli())}); err != nil {
		t.Fatal(err)
	}

	read, release := make(chan struct{}), make(chan struct{})
	probe.mu.Lock()
	probe.pause = func() { close(read); <-release }
	probe.mu.Unlock()
	rebuilt := make(chan error, 1)
	go func() { _, err := rebuilder.Rebuild(ctx, env); rebuilt <- err }()
	<-read // the rebuild has the split changes before the change
	clock.T = clock.T.Add(time.Minute).Truncate(time.Second)
	at := clock.T
	on := *flag
	on.DefaultVariant = strp("on")
	if _, _, err := s.PutFlag(ctx, env, &on, -1, "t", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Ingest(ctx, env, []ingest.Event{exposure("e1", "u1", "off", at.UnixMilli()+1)}); err != nil {
		t.Fatal(err)
	}
	close(release)
	if err := <-rebuilt; err != nil {
		t.Fatal(err)
	}

	checkFiledAfter(t, s, env, at)
}

// createBanner creates env, with one metric and flag banner serving
// everyone variant off, and returns the flag.
func createBanner(t *testing.T, s splitStore, env string) *valueloop.Flag {
	t.Helper()
	CreateEnvWithMetrics(t, s, env, Metrics(t)[:1])
	flag := &valueloop.Flag{Key: "banner", State: valueloop.StateEnabled, Variants: map[string]any{"off": false, "on": true}, DefaultVariant: strp("off")}
	if _, _, err := s.PutFlag(context.Background(), env, flag, 0, "t", ""); err != nil {
		t.Fatal(err)
	}
	return flag
}

// checkFiledAfter checks that env's aggregates are those of a
// recomputation, with the exposure of u1 in the period of the split change
// at at.
func checkFiledAfter(t *testing.T, s splitStore, env string, at time.Time) {
	t.Helper()
	got, err := s.Aggregates(context.Background(), env, "")
	if err != nil {
		t.Fatal(err)
	}
	if want := Recompute(t, s, env); !reflect.DeepEqual(got, want) {
		t.Fatalf("aggregates differ from a recomputation:\n got %v\nwant %v", got, want)
	}
	if !hasCell(got, "off", at.UnixMilli(), 1) {
		t.Errorf("no cell of variant off, period %d with one user: %v", at.UnixMilli(), got)
	}
}

func exposure(id, user, variant string, ms int64) ingest.Event {
	return ingest.Event{ID: id, Type: ingest.Exposure, TargetingKey: user, Flag: "banner", Variant: variant, Time: ms, TimeSet: true}
}

// hasCell reports whether aggs hold a cell of flag banner's variant in
// period with users users.
func hasCell(aggs []metric.Aggregate, variant string, period, users int64) bool {
	for _, a := range aggs {
		if a.Flag == "banner" && a.Variant == variant && a.Period == period && a.Sums.N == users {
			return true
		}
	}
	return false
}

// SplitHistoryStore is what SplitHistoryFollows needs of a store.
type SplitHistoryStore interface {
	Store
	SplitHistory(ctx context.Context, env, flag string) ([]experiment.SplitPeriod, error)
	// SplitHistories reads those of every flag of an environment at once.
	SplitHistories(ctx context.Context, env string) (map[string][]experiment.SplitPeriod, error)
}

func testSplitHistoryFollows(t *testing.T, st Store, _ *Clock) {
	s := kept[SplitHistoryStore](t, st, "the store keeps no split history")
	SplitHistoryFollows(t, s, s)
}

// SplitHistoryFollows checks that the split history read through read
// follows each change of a flag's split made through write: the same
// store, or another node's on the same database.
func SplitHistoryFollows(t *testing.T, write, read SplitHistoryStore) {
	ctx := context.Background()
	if err := write.CreateEnvironment(ctx, valueloop.Environment{Key: "hist", Name: "hist"}, "t"); err != nil {
		t.Fatal(err)
	}
	if h, err := read.SplitHistory(ctx, "hist", "banner"); err != nil || h != nil {
		t.Fatalf("history of a flag never stored: %v, %v; want none", h, err)
	}
	for step, on := range []int{0, 10, 50, 50, 100} {
		f := &valueloop.Flag{Key: "banner", State: valueloop.StateEnabled, Variants: map[string]any{"off": false, "on": true}, DefaultVariant: strp("off"),
			Targeting: json.RawMessage(fmt.Sprintf(`{"fractional": [["on", %d], ["off", %d]]}`, on, 100-on))}
		if step == 3 {
			f.Metadata = map[string]any{"note": "not a change of the split"}
		}
		if _, _, err := write.PutFlag(ctx, "hist", f, -1, "t", ""); err != nil {
			t.Fatal(err)
		}
		h, err := read.SplitHistory(ctx, "hist", "banner")
		if err != nil {
			t.Fatal(err)
		}
		want := min(step, 2) + 1
		if step == 4 {
			want = 4
		}
		if len(h) != want || h[len(h)-1].Weights["on"] != float64(on) {
			t.Fatalf("after step %d (%d%% on): history %v, want %d periods, the last %d%% on", step, on, h, want, on)
		}
		// The environment's histories at once are each flag's.
		all, err := read.SplitHistories(ctx, "hist")
		if err != nil || !reflect.DeepEqual(all["banner"], h) {
			t.Fatalf("after step %d: SplitHistories gives banner %v, %v; want %v, as SplitHistory", step, all["banner"], err, h)
		}
	}
}

// testExposureAheadOfChange: an exposure timed ahead of the server's clock
// (the event API takes times up to Limits.MaxFuture ahead), then a split
// change, timed by that clock before the exposure's time as sent. The user
// was served before the change, and the stored aggregates must be those of
// a recomputation from the events, whatever that files the user under: a
// write that filed it under the first period and a recomputation that
// files it under the change's made a rebuild report a difference. Run with
// the pipeline keeping the per-user state in the store and in memory.
func testExposureAheadOfChange(t *testing.T, st Store, clock *Clock) {
	s := kept[splitStore](t, st, "the store keeps no split changes")
	for _, mode := range []string{"store", "memory"} {
		t.Run(mode, func(t *testing.T) {
			ctx := context.Background()
			env := "ahead-" + mode
			var ps ingest.Store = s
			if mode == "memory" {
				ps = memoryMode{EventStore: s, probe: &splitProbe{splitStore: s}}
			}
			flag := createBanner(t, s, env)
			p := ingest.NewPipeline(ps, nil)
			p.Now = func() time.Time { return clock.T }
			if err := p.Open(); err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			ahead := clock.T.Add(3 * time.Minute).UnixMilli()
			if _, err := p.Ingest(ctx, env, []ingest.Event{exposure("e1", "u1", "off", ahead)}); err != nil {
				t.Fatal(err)
			}
			clock.T = clock.T.Add(time.Second)
			on := *flag
			on.DefaultVariant = strp("on")
			if _, _, err := s.PutFlag(ctx, env, &on, -1, "t", ""); err != nil {
				t.Fatal(err)
			}
			// A later write reads the split changes again; its user is
			// another, so u1's state is not touched.
			if _, err := p.Ingest(ctx, env, []ingest.Event{exposure("e2", "u2", "on", clock.T.UnixMilli()+1)}); err != nil {
				t.Fatal(err)
			}
			got, err := s.Aggregates(ctx, env, "")
			if err != nil {
				t.Fatal(err)
			}
			if want := Recompute(t, s, env); !reflect.DeepEqual(got, want) {
				t.Fatalf("aggregates differ from a recomputation:\n got %v\nwant %v", got, want)
			}
			if !hasCell(got, "off", 0, 1) {
				t.Errorf("u1, served before the change, is not in the first period: %v", got)
			}
			res, err := p.Rebuild(ctx, env)
			if err != nil {
				t.Fatal(err)
			}
			if res.Changed {
				t.Errorf("rebuild found the stored aggregates differed: %+v", res)
			}
		})
	}
}
