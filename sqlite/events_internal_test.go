package sqlite

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/ingest"
)

// TestUserLogCompaction makes the user log compact every few transactions:
// the sums stay exact, the log stays short, every user ends up in
// event_users, and a reopened store continues exactly.
func TestUserLogCompaction(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "events.db")
	open := func() *DB {
		db := NewDB(path)
		if err := db.Open(); err != nil {
			t.Fatal(err)
		}
		db.ev.logLimit = 8 << 10
		return db
	}
	db := open()
	m := ingest.Metric{Key: "revenue", Kind: ingest.Sum, Event: "purchase"}
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
		want, _, err := ingest.Recompute([]ingest.Metric{m}, func(fn func(*ingest.Event) error) error { return db.Events(ctx, "prod", fn) })
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("stored aggregates differ from the recomputation:\n got %v\nwant %v", got, want)
		}
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
