package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/delivery"
	"github.com/valueloop/valueloop/dora"
	"github.com/valueloop/valueloop/experiment"
	"github.com/valueloop/valueloop/features"
	"github.com/valueloop/valueloop/metric"
	"github.com/valueloop/valueloop/postgres"
	"github.com/valueloop/valueloop/postgres/pgtest"
	"github.com/valueloop/valueloop/storetest"
	"github.com/valueloop/valueloop/value"
)

// heldSave is a node's store whose next SaveLifecycle, once armed, waits
// until released: a sync that has derived its lifecycle and not stored it
// yet.
type heldSave struct {
	*postgres.DB
	release chan struct{}
	entered chan struct{} // closed when the held save has begun
}

func (h *heldSave) SaveLifecycle(ctx context.Context, key string, l *value.Lifecycle) ([]value.Transition, error) {
	if h.release != nil {
		close(h.entered)
		<-h.release
	}
	return h.DB.SaveLifecycle(ctx, key, l)
}

// TestFeatureSyncsOfTwoNodes: node A's periodic sync derived a feature's
// lifecycle before node B linked a change to it, and stores it after B's
// own sync stored the newer one. It must not put the feature back where it
// was: syncs of every node are serialised, not only those of one node.
// Before, the feature went back to ready until the next periodic sync; a
// feature's record (Show), which syncs it, did the same even on one node.
func TestFeatureSyncsOfTwoNodes(t *testing.T) {
	t.Run("sync", func(t *testing.T) {
		featureSyncsOfTwoNodes(t, func(ctx context.Context, s *features.Service) error { _, err := s.Sync(ctx, "a"); return err })
	})
	t.Run("record", func(t *testing.T) { // a feature's record syncs it too
		featureSyncsOfTwoNodes(t, func(ctx context.Context, s *features.Service) error { _, err := s.Show(ctx, "a"); return err })
	})
}

func featureSyncsOfTwoNodes(t *testing.T, sync func(context.Context, *features.Service) error) {
	ctx := t.Context()
	var held *heldSave
	svcA, svcB, a, b := twoValueNodes(t, func(a *postgres.DB) features.Store { held = &heldSave{DB: a}; return held }, nil)
	f := &value.Feature{Key: "a", Title: "a", Objective: "o", Hypothesis: value.Hypothesis{Change: "a"}}
	if err := svcA.PutFeature(ctx, f, "", "t"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.MoveFeature(ctx, "a", value.Ready, "planned", "t", time.Time{}); err != nil {
		t.Fatal(err)
	}
	held.release, held.entered = make(chan struct{}), make(chan struct{})
	c := dora.Change{Repo: "acme/shop", SHA: "abc1234", AuthoredAt: time.Now().Add(time.Minute), MergedAt: time.Now().Add(time.Minute)}
	storetest.LinkDuringHeldSync(t, held.entered, held.release,
		func() error { return sync(ctx, svcA) }, // A's: it derives "ready", then waits
		func() error { return svcB.Link(ctx, []delivery.ChangeText{{Change: c, Message: "Feature: a"}}) })
	ls, err := b.Lifecycles(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ls["a"].Stage != value.Building {
		t.Errorf("a is %q after B linked a change to it, want building", ls["a"].Stage)
	}
}

// TestFeatureWritesOfTwoNodes: node A's write of a feature claiming flag
// f1 passed its checks and has not stored yet when node B writes another
// feature claiming f1. B's checks must see A's write: B is refused naming
// the field, and f1 stays claimed once. Before, each node checked against
// the features stored before either write and both were stored.
func TestFeatureWritesOfTwoNodes(t *testing.T) {
	ctx := t.Context()
	var held, asking *storetest.HeldWrites
	svcA, svcB, _, b := twoValueNodes(t,
		func(a *postgres.DB) features.Store { held = storetest.NewHeldWrites(a); return held },
		func(b *postgres.DB) features.Store { asking = storetest.NewHeldWrites(b); return asking })
	claim := func(key string) *value.Feature {
		return &value.Feature{Key: key, Title: key, Objective: "o", Hypothesis: value.Hypothesis{Change: key},
			Links: value.Links{Flags: []value.FlagLink{{Environment: "production", Flag: "f1"}}}}
	}
	errB := storetest.WriteDuringHeldWrite(t, held, asking,
		func() error { return svcA.PutFeature(ctx, claim("c"), "", "t") },
		func() error { return svcB.PutFeature(ctx, claim("d"), "", "t") })
	if e, ok := errB.(*valueloop.Error); !ok || e.Field != "links.flags[0].flag" {
		fs, _ := b.Features(ctx)
		t.Errorf("B: got %v, want an error naming links.flags[0].flag; %d features stored", errB, len(fs))
	}
}

// twoValueNodes opens two nodes on one schema storing environment
// production (metric m, flag f1) and objective o, and their services; a
// node's service writes through what wrap makes of its store (nil: the
// store itself).
func twoValueNodes(t *testing.T, wrapA, wrapB func(*postgres.DB) features.Store) (svcA, svcB *features.Service, a, b *postgres.DB) {
	t.Helper()
	ctx := t.Context()
	dsn := pgtest.Schema(t)
	a, b = MustOpen(t, dsn, nil), MustOpen(t, dsn, nil)
	prod := valueloop.Environment{Key: "production", Name: "production", Production: true}
	if err := a.CreateEnvironment(ctx, prod, "t"); err != nil {
		t.Fatal(err)
	}
	if err := a.CreateMetric(ctx, "production", &metric.Metric{Key: "m", Kind: metric.Conversion, Event: "e"}, "t"); err != nil {
		t.Fatal(err)
	}
	node := func(db *postgres.DB, wrap func(*postgres.DB) features.Store) *features.Service {
		var store features.Store = db
		if wrap != nil {
			store = wrap(db)
		}
		s := features.New(store, db)
		s.Environments = func() []valueloop.Environment { return []valueloop.Environment{prod} }
		s.Flags = func(string) []string { return []string{"f1"} }
		return s
	}
	svcA, svcB = node(a, wrapA), node(b, wrapB)
	horizon, _ := value.ParseDate("2027-06-30")
	o := value.Objective{Key: "o", Title: "O", Metric: "m", Target: value.Target{Direction: experiment.Increase, Value: 0.1}, Horizon: horizon}
	if err := svcA.PutObjective(ctx, &o, "", "t"); err != nil {
		t.Fatal(err)
	}
	return svcA, svcB, a, b
}
