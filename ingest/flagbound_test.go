package ingest

import (
	"fmt"
	"math/rand/v2"
	"runtime"
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
// users to 8 flags (a third of the pairs twice, in random order) through
// an engine bounded to 3; a user exposed to a flag is listed for it
// exactly when the engine has no unit of theirs for it.
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
	events = append(events, events[:len(events)/3]...) // a user exposed to a flag again
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
		for _, ev := range events {
			if ev.Flag != flag {
				continue
			}
			if analysed := e.users[ev.TargetingKey].unitOf(flag) >= 0; left[ev.TargetingKey] == analysed {
				t.Errorf("%s: %s listed unanalysed %v, the engine analyses it %v", flag, ev.TargetingKey, left[ev.TargetingKey], analysed)
			}
		}
		listed += len(left)
	}
	if listed == 0 || e.unanalysed == 0 {
		t.Errorf("Unanalysed lists %d users over all flags, the engine left out %d exposures; want some", listed, e.unanalysed)
	}
}

// hostileExposures scans the exposures of a hostile environment: users
// each exposed to flags flags, round by round (flag-0 to all, then
// flag-1...), and returns the last flag's name.
func hostileExposures(users, flags int) (string, func(fn func(*Event) error) error) {
	keys, names := make([]string, users), make([]string, flags)
	for i := range keys {
		keys[i] = fmt.Sprintf("user-%d", i)
	}
	for i := range names {
		names[i] = fmt.Sprintf("flag-%d", i)
	}
	return names[flags-1], func(fn func(*Event) error) error {
		ev := Event{Type: Exposure, Variant: "on", Time: propBase, TimeSet: true}
		for f := range flags {
			for u := range users {
				ev.TargetingKey, ev.Flag = keys[u], names[f]
				if err := fn(&ev); err != nil {
					return err
				}
			}
		}
		return nil
	}
}

// TestUnanalysedMemory: what Unanalysed allocates, for a hostile
// environment whose users are each exposed to more flags than the bound,
// stays well below the log's own size. It kept each user's other flags
// in a map of their names: about 100 bytes per exposure read (a dashboard
// view of a chart spent as much of the server's memory as the log's size,
// twice over); the flags as numbers, 4 bytes each, hold about 12.
func TestUnanalysedMemory(t *testing.T) {
	const users, flags = 300, 1100
	last, scan := hostileExposures(users, flags)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	left, err := Unanalysed(last, DefaultMaxFlagsPerUser, scan)
	runtime.ReadMemStats(&after)
	if err != nil || len(left) != users {
		t.Fatalf("%d users left out, want %d (%v)", len(left), users, err)
	}
	if per := float64(after.TotalAlloc-before.TotalAlloc) / (users * flags); per > 40 {
		t.Errorf("Unanalysed allocated %.0f bytes per exposure read, want at most 40", per)
	}
}

// BenchmarkUnanalysed is the dashboard's replay under the bound in a
// hostile environment: 2,000 users each exposed to 1,100 flags, round by
// round, the flag replayed the last of them (every user past the bound of
// 1,000). What it measures is the memory one replay holds (B/op): the
// other flags Unanalysed keeps per user. go test -run '^$' -bench
// Unanalysed -benchtime 1x -benchmem ./ingest
func BenchmarkUnanalysed(b *testing.B) {
	const users = 2000
	last, scan := hostileExposures(users, 1100)
	for b.Loop() {
		left, err := Unanalysed(last, DefaultMaxFlagsPerUser, scan)
		if err != nil || len(left) != users {
			b.Fatalf("%d users left out, want %d (%v)", len(left), users, err)
		}
	}
}
