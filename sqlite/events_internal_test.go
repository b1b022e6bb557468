package sqlite

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/ingest"
	"github.com/valueloop/valueloop/metric"
	"github.com/valueloop/valueloop/storetest"
)

// TestUserLogCompaction makes the user log compact every few transactions:
// the sums stay exact, the log stays short, every user ends up in
// event_users, and a reopened store continues exactly. With a small cache
// ("evicting"), compacted states are dropped from memory and read again
// from event_users when their users come back: a user not in memory is new
// only while none was evicted.
func TestUserLogCompaction(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cache int64
	}{{"cached", 0}, {"evicting", 4 << 10}} {
		t.Run(tc.name, func(t *testing.T) { testUserLogCompaction(t, tc.cache) })
	}
}

func testUserLogCompaction(t *testing.T, cache int64) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "events.db")
	evicted := false
	open := func() *DB {
		db := NewDB(path)
		if err := db.Open(); err != nil {
			t.Fatal(err)
		}
		db.ev.logLimit, db.ev.cacheLimit = 8<<10, cache
		return db
	}
	db := open()
	m := metric.Metric{Key: "revenue", Kind: metric.Sum, Event: "purchase"}
	if err := m.Normalize(); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateEnvironment(ctx, valueloop.Environment{Key: "prod", Name: "prod"}, "t"); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateMetric(ctx, "prod", &m, "t"); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(7, 8))
	send := func(db *DB, from, n int) {
		p := ingest.NewPipeline(db, nil)
		if err := p.Open(); err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		for i := from; i < from+n; i += 50 {
			var evs []ingest.Event
			for j := i; j < i+50; j++ {
				u := fmt.Sprintf("user-%d", r.IntN(300))
				ev := ingest.Event{ID: fmt.Sprint(j), TargetingKey: u, Time: 1_780_000_000_000 + int64(r.IntN(100_000)), TimeSet: true}
				if r.IntN(4) == 0 {
					ev.Type, ev.Flag, ev.Variant = ingest.Exposure, "f", []string{"a", "b"}[r.IntN(2)]
				} else {
					ev.Type, ev.Name, ev.Value, ev.HasValue = ingest.Tracking, "purchase", int64(r.IntN(100))*ingest.Scale, true
				}
				evs = append(evs, ev)
			}
			if _, err := p.Ingest(ctx, "prod", evs); err != nil {
				t.Fatal(err)
			}
		}
	}
	check := func(db *DB) {
		t.Helper()
		got, err := db.Aggregates(ctx, "prod", "")
		if err != nil {
			t.Fatal(err)
		}
		all, _, err := ingest.Recompute([]metric.Metric{m}, func(fn func(*ingest.Event) error) error { return db.Events(ctx, "prod", fn) })
		if err != nil {
			t.Fatal(err)
		}
		want := storetest.AllUsers(all)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("stored aggregates differ from the recomputation:\n got %v\nwant %v", got, want)
		}
		// Every state in memory whose latest copy is in the user log is
		// listed under its record: compaction writes those it finds there.
		db.ev.mu.Lock()
		for id, u := range db.ev.users {
			for i, x := range u.slots.all() {
				if x.hasState() && x.seq != 0 && !slices.Contains(u.live[x.seq], i) {
					t.Errorf("environment %d: user %s, latest in user log record %d, is not listed under it", id, u.slots.key(i), x.seq)
				}
			}
			evicted = evicted || len(u.free) > 0
			if len(u.free) > 0 && u.complete {
				t.Errorf("environment %d: states evicted, yet every user taken to be in memory", id)
			}
		}
		db.ev.mu.Unlock()
		var logRows, logBytes, users int
		if err := db.db.QueryRow(`SELECT COUNT(*), COALESCE(SUM(LENGTH(data)), 0) FROM event_user_log`).Scan(&logRows, &logBytes); err != nil {
			t.Fatal(err)
		}
		if err := db.db.QueryRow(`SELECT COUNT(*) FROM event_users`).Scan(&users); err != nil {
			t.Fatal(err)
		}
		if logBytes > 8<<10 || users == 0 {
			t.Errorf("user log of %d rows and %d bytes (limit 8 KiB), %d users compacted", logRows, logBytes, users)
		}
	}
	send(db, 0, 3000)
	check(db)
	if evicted != (cache > 0) {
		t.Errorf("states evicted: %v, with a cache of %d bytes (0: the default)", evicted, cache)
	}
	db.Close()
	db = open()
	defer db.Close()
	send(db, 3000, 2000)
	check(db)
	var n int
	if err := db.db.QueryRow(`SELECT COUNT(DISTINCT user_key) FROM event_users`).Scan(&n); err != nil || n < 250 {
		t.Errorf("%d users in event_users, %v; want nearly all 300", n, err)
	}
}

// TestUserIndex checks that keys are found in their slots, told apart from
// others of the same 32 bits of hash, and removed, with the table growing
// and entries moving back over removed ones (many keys, half of them
// removed at random, then added again), against a map.
func TestUserIndex(t *testing.T) {
	keys := []string{"", "a", "a\x00", "\x00", "user-1", "user-10",
		"12345678901234567890123", "123456789012345678901234",
		"a-much-longer-targeting-key-of-a-user-0001"}
	for i := range 5000 {
		keys = append(keys, fmt.Sprintf("key-%d", i))
	}
	var slots slotTable
	x := newUserIndex()
	want := map[string]int32{}
	add := func(k string) {
		if _, ok := x.get(k, &slots); ok {
			t.Fatalf("get(%q) before set: found", k)
		}
		i := slots.add()
		slots.put(i, k, nil)
		x.set(k, i)
		want[k] = i
	}
	check := func(when string) {
		t.Helper()
		for _, k := range keys {
			i, ok := x.get(k, &slots)
			w, wok := want[k]
			if ok != wok || (ok && i != w) {
				t.Fatalf("%s: get(%q) = %d, %v; want %d, %v", when, k, i, ok, w, wok)
			}
		}
		if x.n != len(want) || 4*x.n > 3*len(x.tab) {
			t.Fatalf("%s: %d entries counted, %d keys, table of %d", when, x.n, len(want), len(x.tab))
		}
	}
	for _, k := range keys {
		add(k)
	}
	check("added")
	r := rand.New(rand.NewPCG(1, 2))
	for _, k := range keys {
		if r.IntN(2) == 0 {
			x.del(k, want[k])
			delete(want, k)
		}
	}
	check("half removed")
	for _, k := range keys {
		if _, ok := want[k]; !ok {
			add(k)
		}
	}
	check("added again")
	// An entry of another slot with the hash of "a" (as another key of the
	// same 32 bits of hash would have) is passed over.
	other := slots.add()
	slots.put(other, "not-a", nil)
	x.set("a", other) // as set would for "not-a", had it a's hash
	x.n--             // not a key of want
	for _, k := range []string{"a", "not-a"} {
		if i, ok := x.get(k, &slots); ok != (k == "a") || (ok && i != want["a"]) {
			t.Errorf("with an entry of the same hash: get(%q) = %d, %v; want %d, %v", k, i, ok, want["a"], k == "a")
		}
	}
}

// TestUnreservedSlot: a new user LoadUsers reserved a slot for, whose state
// the transaction did not store, is not left in memory: not found (with
// a state or without) by the next transaction, and its slot is reused.
func TestUnreservedSlot(t *testing.T) {
	ctx := context.Background()
	db := NewDB(filepath.Join(t.TempDir(), "events.db"))
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	load := func(keys ...string) (loaded []string) {
		t.Helper()
		err := db.StateTx(ctx, func(tx ingest.StateTx) error {
			if _, err := tx.StateVersion("prod", false); err != nil {
				return err
			}
			return tx.LoadUsers("prod", keys, func(k string, _ []byte) error {
				loaded = append(loaded, k)
				return nil
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		return loaded
	}
	for range 2 {
		if got := load("new-a", "new-b"); len(got) != 0 {
			t.Fatalf("new users loaded with a state: %v", got)
		}
		db.ev.mu.Lock()
		for _, u := range db.ev.users {
			for _, k := range []string{"new-a", "new-b"} {
				if _, ok := u.index.get(k, &u.slots); ok {
					t.Errorf("%s still in the index after a transaction that stored no state of it", k)
				}
			}
			if u.index.n != 0 || u.slots.len() != 2 || len(u.free) != 2 {
				t.Errorf("%d keys in the index, %d slots, %d free; want 0, 2 (reused), 2", u.index.n, u.slots.len(), len(u.free))
			}
		}
		db.ev.mu.Unlock()
	}
}

// TestUserIndexWhileMoving: keys added, deleted and found again while the
// entries of the table before a growth are still moving into the new one
// are found exactly as a map finds them, and the moves finish.
func TestUserIndexWhileMoving(t *testing.T) {
	m := newIndexModel(rand.New(rand.NewPCG(3, 4)))
	delsWhileMoving := 0
	for op := range 60000 {
		k := fmt.Sprintf("k-%d", m.r.IntN(20000))
		m.check(t, op, k)
		switch _, ok := m.want[k]; {
		case !ok:
			m.add(k)
		case m.r.IntN(3) == 0:
			if m.x.old != nil {
				delsWhileMoving++
			}
			m.del(k)
		}
		if m.x.n != len(m.want) {
			t.Fatalf("op %d: %d entries counted, want %d", op, m.x.n, len(m.want))
		}
	}
	if delsWhileMoving == 0 {
		t.Fatal("no key was deleted while entries were moving: the test misses its case")
	}
	for k := range m.want {
		m.check(t, -1, k)
	}
	t.Logf("%d deletions while moving; table of %d, moving: %v", delsWhileMoving, len(m.x.tab), m.x.old != nil)
}

// indexModel is a user index and the map of what it must hold, its slots
// reused as events.go reuses them.
type indexModel struct {
	x     userIndex
	slots slotTable
	want  map[string]int32
	free  []int32
	r     *rand.Rand
}

func newIndexModel(r *rand.Rand) *indexModel {
	return &indexModel{x: newUserIndex(), want: map[string]int32{}, r: r}
}

// check fails t unless the index finds k where the map does.
func (m *indexModel) check(t *testing.T, op int, k string) {
	t.Helper()
	i, ok := m.x.get(k, &m.slots)
	w, wok := m.want[k]
	if ok != wok || (ok && i != w) {
		t.Fatalf("op %d: get(%q) = %d, %v; want %d, %v (moving: %v)", op, k, i, ok, w, wok, m.x.old != nil)
	}
}

// add adds k, not held, in a free slot or a new one.
func (m *indexModel) add(k string) {
	var s int32
	if n := len(m.free); n > 0 && m.r.IntN(2) == 0 {
		s, m.free = m.free[n-1], m.free[:n-1]
	} else {
		s = m.slots.add()
	}
	m.slots.put(s, k, nil)
	m.x.set(k, s)
	m.want[k] = s
}

// del removes k, held. Its slot keeps the key until reused: an entry
// left behind pointing to it would be found.
func (m *indexModel) del(k string) {
	s := m.want[k]
	m.x.del(k, s)
	delete(m.want, k)
	m.free = append(m.free, s)
}

// TestUserIndexCollisions: keys whose 32 bits of hash are the same (found
// for the index's seed, not faked) are told apart by their keys while
// they are added, deleted and added again, their slots reused, and the
// table grows, with its entries still moving into the new one, and grown
// again before they have all moved; against a map.
func TestUserIndexCollisions(t *testing.T) {
	m := newIndexModel(rand.New(rand.NewPCG(5, 6)))
	// Pairs of keys of one hash, by the birthday bound: about 2^18 keys
	// give eight.
	var keys []string
	byHash := map[uint32]string{}
	for i := 0; len(keys) < 16; i++ {
		k := fmt.Sprintf("c-%d", i)
		h := m.x.hash(k)
		if other, ok := byHash[h]; ok {
			keys = append(keys, other, k)
			delete(byHash, h)
			continue
		}
		byHash[h] = k
	}
	for i := range 3000 {
		keys = append(keys, fmt.Sprintf("k-%d", i))
	}
	var collidingWhileMoving, earlyGrowths int
	for op := range 100_000 {
		// Colliding keys half the time: both of a pair present, one, none.
		var k string
		if m.r.IntN(2) == 0 {
			k = keys[m.r.IntN(16)]
		} else {
			k = keys[16+m.r.IntN(len(keys)-16)]
		}
		switch _, ok := m.want[k]; {
		case !ok:
			m.add(k)
		case m.r.IntN(2) == 0:
			m.del(k)
		}
		// A growth before the last one's entries have moved (while the
		// table is not yet mostly empty: growths beyond make it larger
		// and its moves longer without end).
		if m.x.old != nil && 8*m.x.n > len(m.x.tab) && m.r.IntN(200) == 0 {
			m.x.grow()
			earlyGrowths++
		}
		if m.x.old != nil {
			for _, c := range keys[:16] {
				if _, ok := m.want[c]; ok {
					collidingWhileMoving++
					break
				}
			}
		}
		for _, c := range keys[:16] {
			m.check(t, op, c)
		}
		m.check(t, op, k)
		if m.x.n != len(m.want) {
			t.Fatalf("op %d: %d entries counted, want %d", op, m.x.n, len(m.want))
		}
	}
	t.Logf("colliding keys present while moving %d times, %d early growths, table of %d", collidingWhileMoving, earlyGrowths, len(m.x.tab))
	if collidingWhileMoving == 0 || earlyGrowths == 0 {
		t.Fatalf("colliding keys present while moving %d times, early growths %d: the test misses its cases", collidingWhileMoving, earlyGrowths)
	}
	for _, k := range keys {
		m.check(t, -1, k)
	}
}

// TestStateVersionAfterPut: StateVersion called again in a transaction that
// reserved slots for new users and stored states already reads the
// generation the transaction itself moved on to. That is no other writer's:
// the users in memory stay, and with them the slots LoadUsers gave out,
// which finish frees or fills (dropped, finish freed a reserved slot of an
// empty table: index out of range).
func TestStateVersionAfterPut(t *testing.T) {
	ctx := context.Background()
	db := NewDB(filepath.Join(t.TempDir(), "events.db"))
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err := db.StateTx(ctx, func(tx ingest.StateTx) error {
		if _, err := tx.StateVersion("prod", false); err != nil {
			return err
		}
		if err := tx.LoadUsers("prod", []string{"new-a", "new-b"}, func(string, []byte) error { return nil }); err != nil {
			return err
		}
		if err := tx.PutUsers("prod", []ingest.UserState{{Key: "new-a", State: []byte("state-a")}}); err != nil {
			return err
		}
		_, err := tx.StateVersion("prod", false)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var loaded []string
	err = db.StateTx(ctx, func(tx ingest.StateTx) error {
		if _, err := tx.StateVersion("prod", false); err != nil {
			return err
		}
		return tx.LoadUsers("prod", []string{"new-a", "new-b"}, func(k string, s []byte) error {
			loaded = append(loaded, k+"="+string(s))
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"new-a=state-a"}; !slices.Equal(loaded, want) {
		t.Errorf("loaded %q; want %q", loaded, want)
	}
	db.ev.mu.Lock()
	defer db.ev.mu.Unlock()
	for _, u := range db.ev.users {
		if u.index.n != 1 || u.slots.len() != 2 || !slices.Equal(u.free, []int32{1}) {
			t.Errorf("%d keys in the index, %d slots, free %v; want 1, 2, [1] (new-b's)", u.index.n, u.slots.len(), u.free)
		}
		for _, i := range u.free {
			if i >= u.slots.len() {
				t.Errorf("free slot %d of a table of %d", i, u.slots.len())
			}
		}
	}
}
