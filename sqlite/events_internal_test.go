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
		want, _, err := ingest.Recompute([]metric.Metric{m}, func(fn func(*ingest.Event) error) error { return db.Events(ctx, "prod", fn) })
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("stored aggregates differ from the recomputation:\n got %v\nwant %v", got, want)
		}
		// Every state in memory whose latest copy is in the user log is
		// listed under its record: compaction writes those it finds there.
		db.ev.mu.Lock()
		for id, u := range db.ev.users {
			for i, x := range u.slots.all() {
				if x.state != nil && x.seq != 0 && !slices.Contains(u.live[x.seq], i) {
					t.Errorf("environment %d: user %s, latest in user log record %d, is not listed under it", id, x.key, x.seq)
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

// TestUserIndex checks that keys held in the map itself (up to shortKeyLen
// bytes) and longer ones are found, told apart and removed, and that all
// yields each slot once.
func TestUserIndex(t *testing.T) {
	keys := []string{"", "a", "a\x00", "\x00", "user-1", "user-10",
		"12345678901234567890123",  // shortKeyLen bytes: in the map itself
		"123456789012345678901234", // one more: a string key
		"123456789012345678901234\x00", "a-much-longer-targeting-key-of-a-user-0001"}
	x := newUserIndex()
	for i, k := range keys {
		if _, ok := x.get(k); ok {
			t.Fatalf("get(%q) before set: found", k)
		}
		x.set(k, int32(i))
	}
	for i, k := range keys {
		if got, ok := x.get(k); !ok || got != int32(i) {
			t.Errorf("get(%q) = %d, %v; want %d, true", k, got, ok, i)
		}
	}
	seen := map[int32]int{}
	for i := range x.all() {
		seen[i]++
	}
	if len(seen) != len(keys) {
		t.Errorf("all yielded %d slots, want %d", len(seen), len(keys))
	}
	for i, n := range seen {
		if n != 1 || int(i) >= len(keys) {
			t.Errorf("all yielded slot %d %d times", i, n)
		}
	}
	// Delete while iterating, as evict does: every other key.
	for i := range x.all() {
		if i%2 == 0 {
			x.del(keys[i])
		}
	}
	for i, k := range keys {
		_, ok := x.get(k)
		if want := i%2 == 1; ok != want {
			t.Errorf("after deleting even slots: get(%q) found %v, want %v", k, ok, want)
		}
	}
}
