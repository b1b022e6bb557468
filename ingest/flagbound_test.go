package ingest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
)

// boundEvents are the requests of TestFlagsPerUserBounded: user victim is
// exposed to ten flags in two requests, with tracking events between, u1 to
// one; the flags of the second request are exposed earlier than those of
// the first and sort before them, so that neither time nor key order, only
// the order of the log, keeps the first request's.
func boundEvents() [][]Event {
	at := func(ev Event, t int64) Event {
		ev.Time, ev.TimeSet = propBase+t, true
		return ev
	}
	expose := func(key, flag string, t int64) Event {
		return at(Event{Type: Exposure, TargetingKey: key, Flag: flag, Variant: "on"}, t)
	}
	track := func(key string, t int64) Event {
		return at(Event{Type: Tracking, TargetingKey: key, Name: "purchase", Value: 2 * Scale, HasValue: true}, t)
	}
	var first, second []Event
	for i := range 6 {
		first = append(first, expose("victim", fmt.Sprintf("m%d", i), 100))
		second = append(second, expose("victim", fmt.Sprintf("a%d", i), 50))
	}
	first = append(first, expose("u1", "m0", 100), track("victim", 150), track("u1", 150))
	second = append(second, track("victim", 160), track("victim", 60))
	return [][]Event{first, second}
}

// TestFlagsPerUserBounded sends one user exposures to more flags than
// MaxFlagsPerUser: every event is stored, the user keeps the first flags of
// the log (their units never more than the bound), the others are counted
// and have no cells, and a rebuild from the log gives the same sums. Before
// the bound the user had a unit per flag, which every event of theirs
// walked. Both modes: the state in memory and in the store.
func TestFlagsPerUserBounded(t *testing.T) {
	const bound = 4
	for _, mode := range []string{"memory", "state"} {
		t.Run(mode, func(t *testing.T) {
			mem := newMemStore()
			var store Store = mem
			var ss *stateStore
			if mode == "state" {
				ss = newStateStore()
				mem, store = ss.memStore, ss
			}
			mem.metrics["prod"] = testMetrics()
			p := openBounded(t, store, bound)
			sent := 0
			for _, evs := range boundEvents() {
				sent += len(evs)
				if _, err := p.Ingest(t.Context(), "prod", evs); err != nil {
					t.Fatal(err)
				}
			}
			p.Close() // the writer's engine may be read now
			if n := len(mem.events("prod")); n != sent {
				t.Errorf("%d events stored, want all %d", n, sent)
			}
			if n := p.Counters().ExposuresUnanalysed.Load(); n != 12-bound {
				t.Errorf("ExposuresUnanalysed = %d, want %d", n, 12-bound)
			}
			if flags := victimFlags(t, p, ss, bound); flags != "[m0 m1 m2 m3]" {
				t.Errorf("victim's units are of flags %v, want the first %d of the log, [m0 m1 m2 m3]", flags, bound)
			}
			before := mem.stored("prod")
			for _, a := range before {
				if a.Flag != "m0" && a.Flag != "m1" && a.Flag != "m2" && a.Flag != "m3" {
					t.Fatalf("a cell of flag %q, which no user analysed", a.Flag)
				}
			}
			// Another node, or a restart, rebuilds from the log.
			q := openBounded(t, store, bound)
			if _, err := q.Rebuild(t.Context(), "prod"); err != nil {
				t.Fatal(err)
			}
			q.Close()
			if d := diffAggregates(mem.stored("prod"), before); d != "" {
				t.Errorf("rebuilt sums differ from those ingested:\n%s", d)
			}
			if flags := victimFlags(t, q, ss, bound); flags != "[m0 m1 m2 m3]" {
				t.Errorf("after the rebuild victim's units are of flags %v, want [m0 m1 m2 m3]", flags)
			}
		})
	}
}

func openBounded(t *testing.T, store Store, bound int) *Pipeline {
	t.Helper()
	p := NewPipeline(store, nil)
	p.MaxFlagsPerUser = bound
	if err := p.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// victimFlags returns the flags of user victim's units, sorted: the memory
// engine's (p closed), or those of the state stored (ss).
func victimFlags(t *testing.T, p *Pipeline, ss *stateStore, bound int) string {
	t.Helper()
	var units []unit
	if ss == nil {
		units = p.engines["prod"].users["victim"].units
	} else {
		ss.mu.Lock()
		state := ss.users["prod"]["victim"]
		ss.mu.Unlock()
		e := newEngine(testMetrics()).limitUnits(bound)
		e.persistent = true
		if err := e.load("victim", state); err != nil {
			t.Fatal(err)
		}
		units = e.users["victim"].units
	}
	var flags []string
	for _, un := range units {
		flags = append(flags, un.flag)
	}
	slices.Sort(flags)
	return fmt.Sprint(flags)
}

// TestFlagsPerUserBoundTwoNodes has two nodes on one store ingest, at the
// same time, exposures of a few users to more flags than the bound, with
// tracking events: the sums stored equal those a rebuild from the log gives,
// because the store serialises the transactions of each user and each one's
// log record follows those before it, so both apply a user's exposures in
// the same order.
func TestFlagsPerUserBoundTwoNodes(t *testing.T) {
	const bound = 3
	for seed := uint64(1); seed <= 4; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 11))
			store := newStateStore()
			store.metrics["prod"] = testMetrics()
			nodes := []*Pipeline{openBounded(t, store, bound), openBounded(t, store, bound)}
			var batches [][]Event
			for i := range 40 {
				var b []Event
				for range 1 + r.IntN(6) {
					ev := Event{TargetingKey: fmt.Sprintf("u%d", r.IntN(3)), Time: propBase + r.Int64N(200), TimeSet: true}
					if r.IntN(2) == 0 {
						ev.Type, ev.Flag, ev.Variant = Exposure, fmt.Sprintf("f%d", r.IntN(8)), []string{"on", "off"}[r.IntN(2)]
					} else {
						ev.Type, ev.Name, ev.Value, ev.HasValue = Tracking, "purchase", Scale, true
						ev.ID = fmt.Sprintf("e%d-%d", i, len(b))
					}
					b = append(b, ev)
				}
				batches = append(batches, b)
			}
			var wg sync.WaitGroup
			for i, b := range batches {
				wg.Go(func() {
					if _, err := nodes[i%2].Ingest(t.Context(), "prod", b); err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
			if nodes[0].Counters().ExposuresUnanalysed.Load()+nodes[1].Counters().ExposuresUnanalysed.Load() == 0 {
				t.Fatal("no exposure was past the bound: the test tests nothing")
			}
			before := store.stored("prod")
			if _, err := nodes[0].Rebuild(t.Context(), "prod"); err != nil {
				t.Fatal(err)
			}
			if d := diffAggregates(store.stored("prod"), before); d != "" {
				t.Errorf("rebuilt sums differ from those the two nodes ingested:\n%s", d)
			}
		})
	}
}

// TestUnanalysedAsEngine: Unanalysed finds, flag by flag, the users whose
// exposure the engine leaves out under the bound: random exposures of 30
// users to 8 flags (each pair once, in random order) through an engine
// bounded to 3, and the users Unanalysed lists, over all flags, are as
// many as the exposures the engine counted unanalysed, and each is a user
// without a unit of that flag.
func TestUnanalysedAsEngine(t *testing.T) {
	const bound = 3
	r := rand.New(rand.NewPCG(7, 3))
	var events []Event
	for u := range 30 {
		for f := range 8 {
			if r.IntN(2) == 0 {
				events = append(events, Event{Type: Exposure, TargetingKey: fmt.Sprintf("u%d", u), Flag: fmt.Sprintf("f%d", f), Variant: "on", Time: propBase, TimeSet: true})
			}
		}
	}
	r.Shuffle(len(events), func(i, j int) { events[i], events[j] = events[j], events[i] })
	e := newEngine(testMetrics()).limitUnits(bound)
	e.persistent, e.bulk = true, true
	for _, ev := range events {
		e.expose(e.touch(ev.TargetingKey), e.intern([]byte(ev.Flag)), e.intern([]byte(ev.Variant)), ev.Time, nil, false)
	}
	scan := func(fn func(*Event) error) error {
		for i := range events {
			if err := fn(&events[i]); err != nil {
				return err
			}
		}
		return nil
	}
	listed := 0
	for f := range 8 {
		flag := fmt.Sprintf("f%d", f)
		left, err := Unanalysed(flag, bound, scan)
		if err != nil {
			t.Fatal(err)
		}
		for user := range left {
			if e.users[user].unitOf(flag) >= 0 {
				t.Errorf("%s: %s listed unanalysed, but the engine analyses it", flag, user)
			}
		}
		listed += len(left)
	}
	if listed == 0 || uint64(listed) != e.unanalysed {
		t.Errorf("Unanalysed lists %d users over all flags, the engine left out %d exposures; want as many, some", listed, e.unanalysed)
	}
}
