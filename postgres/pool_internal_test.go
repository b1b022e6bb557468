package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/experiment"
	"github.com/valueloop/valueloop/features"
	"github.com/valueloop/valueloop/metric"
	"github.com/valueloop/valueloop/postgres/pgtest"
	"github.com/valueloop/valueloop/value"
)

// TestValueWorkOnTheLastConnection: with the smallest pool and all its
// connections but two taken (held by this node's rollouts' lock and
// another lock's work, say), each value write and sync still finishes:
// it holds one connection for its cross-node lock and must need only one
// more at a time. Work that needed two more would wait for the pool
// forever while holding its lock (the deadline below ends the wait).
func TestValueWorkOnTheLastConnection(t *testing.T) {
	db := NewDB(pgtest.Schema(t))
	db.MaxConns = MinConns
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	prod := valueloop.Environment{Key: "production", Name: "production", Production: true}
	if err := db.CreateEnvironment(ctx, prod, "t"); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateMetric(ctx, "production", &metric.Metric{Key: "m", Kind: metric.Conversion, Event: "e"}, "t"); err != nil {
		t.Fatal(err)
	}
	for range MinConns - 2 {
		c, err := db.pool.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Release()
	}
	svc := features.New(db, db)
	svc.Environments = func() []valueloop.Environment { return []valueloop.Environment{prod} }
	svc.Flags = func(string) []string { return []string{"f1"} }
	horizon, _ := value.ParseDate("2027-06-30")
	o := value.Objective{Key: "o", Title: "O", Metric: "m", Target: value.Target{Direction: experiment.Increase, Value: 0.1}, Horizon: horizon}
	feature := func(key string) value.Feature {
		return value.Feature{Key: key, Title: key, Objective: "o", Hypothesis: value.Hypothesis{Change: key},
			Links: value.Links{Flags: []value.FlagLink{{Environment: "production", Flag: "f1"}}}}
	}
	a, b := feature("a"), feature("b")
	for _, step := range []struct {
		name string
		run  func() error
	}{
		{"objective", func() error { return svc.PutObjective(ctx, &o, features.Absent, "t") }},
		{"feature", func() error { return svc.PutFeature(ctx, &a, features.Absent, "t") }},
		{"delete", func() error { return svc.DeleteFeature(ctx, "a", "t") }},
		{"apply", func() error {
			_, err := svc.Apply(ctx, &value.File{Features: []value.Feature{b}}, false, false, "t")
			return err
		}},
		{"sync", func() error { _, err := svc.Sync(ctx); return err }},
		{"record", func() error { _, err := svc.Show(ctx, "b"); return err }},
	} {
		if err := step.run(); err != nil {
			t.Fatalf("%s on the pool's last two connections: %v", step.name, err)
		}
	}
}
