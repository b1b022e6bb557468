package features_test

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/delivery"
	"github.com/valueloop/valueloop/dora"
	"github.com/valueloop/valueloop/experiment"
	"github.com/valueloop/valueloop/features"
	"github.com/valueloop/valueloop/metric"
	"github.com/valueloop/valueloop/sqlite"
	"github.com/valueloop/valueloop/sqlite/sqlitetest"
	"github.com/valueloop/valueloop/storetest"
	"github.com/valueloop/valueloop/value"
)

// mustService opens the service on a fresh SQLite store with environment
// production (metric m, flags f1 and f2) and objective o.
func mustService(t *testing.T) (*features.Service, *sqlite.DB) {
	t.Helper()
	ctx := context.Background()
	db := sqlitetest.Open(t, nil)
	prod := valueloop.Environment{Key: "production", Name: "production", Production: true}
	if err := db.CreateEnvironment(ctx, prod, "t"); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateMetric(ctx, "production", &metric.Metric{Key: "m", Kind: metric.Conversion, Event: "e"}, "t"); err != nil {
		t.Fatal(err)
	}
	svc := features.New(db, db)
	svc.Environments = func() []valueloop.Environment { return []valueloop.Environment{prod} }
	svc.Flags = func(string) []string { return []string{"f1", "f2"} }
	horizon, _ := value.ParseDate("2027-06-30")
	o := value.Objective{Key: "o", Title: "O", Metric: "m", Target: value.Target{Direction: experiment.Increase, Value: 0.1}, Horizon: horizon}
	if err := svc.PutObjective(ctx, &o, "", "t"); err != nil {
		t.Fatal(err)
	}
	return svc, db
}

func feature(key string, flag string, deps ...string) *value.Feature {
	f := &value.Feature{Key: key, Title: key, Objective: "o", Hypothesis: value.Hypothesis{Change: key}, DependsOn: deps}
	if flag != "" {
		f.Links.Flags = []value.FlagLink{{Environment: "production", Flag: flag}}
	}
	return f
}

// TestPutFeatureAgainstTheOthers: what only the stored set shows is
// refused, naming the field of the feature sent, and stores nothing.
func TestPutFeatureAgainstTheOthers(t *testing.T) {
	svc, db := mustService(t)
	ctx := context.Background()
	for _, f := range []*value.Feature{feature("a", "f1"), feature("b", "f2", "a")} {
		if err := svc.PutFeature(ctx, f, "", "t"); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		f          *value.Feature
		field, msg string
	}{
		{feature("c", "f1"), "links.flags[0].flag", `already linked to feature "a"`},
		{feature("a", "f1", "b"), "dependsOn", "dependency cycle: a → b → a"},
		{feature("d", "", "nobody"), "dependsOn[0]", `no feature "nobody"`},
	} {
		err := svc.PutFeature(ctx, tc.f, "", "t")
		e, ok := err.(*valueloop.Error)
		if !ok || e.Field != tc.field || !strings.Contains(e.Message, tc.msg) {
			t.Errorf("%s: got %v, want %s: …%s…", tc.f.Key, err, tc.field, tc.msg)
		}
	}
	if fs, _ := db.Features(ctx); len(fs) != 2 || len(fs[0].DependsOn) != 0 {
		t.Errorf("refused features changed the store: %+v", fs)
	}
}

// TestApplyPrune plans, dry-runs and applies with prune.
func TestApplyPrune(t *testing.T) {
	svc, db := mustService(t)
	ctx := context.Background()
	for _, f := range []*value.Feature{feature("a", "f1"), feature("b", "f2")} {
		if err := svc.PutFeature(ctx, f, "", "t"); err != nil {
			t.Fatal(err)
		}
	}
	file, _ := svc.Export(ctx)
	file.Features = file.Features[:1] // b is gone from the file
	ops, err := svc.Apply(ctx, file, true, true, "ci")
	if err != nil || len(ops) != 1 || ops[0].Action != "delete" || ops[0].Kind != "feature" || ops[0].Key != "b" {
		t.Fatalf("dry run: %+v, %v", ops, err)
	}
	if fs, _ := db.Features(ctx); len(fs) != 2 {
		t.Errorf("a dry run deleted: %+v", fs)
	}
	if _, err := svc.Apply(ctx, file, true, false, "ci"); err != nil {
		t.Fatal(err)
	}
	if fs, _ := db.Features(ctx); len(fs) != 1 || fs[0].Key != "a" {
		t.Errorf("after prune: %+v", fs)
	}
}

// TestTouchAndLink: a touched flag's features are synced without anyone
// asking; a change with the trailer links and moves its feature.
func TestTouchAndLink(t *testing.T) {
	svc, db := mustService(t)
	ctx := context.Background()
	svc.Interval = time.Hour // only touches sync after the first run
	if err := svc.PutFeature(ctx, feature("a", "f1"), "", "t"); err != nil {
		t.Fatal(err)
	}
	if err := svc.Open(); err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	if _, err := db.MoveFeature(ctx, "a", value.Ready, "planned", "t", time.Time{}); err != nil {
		t.Fatal(err)
	}
	svc.Touch("production", "f1")
	waitStage(t, db, "a", value.Ready)
	c := dora.Change{Repo: "acme/shop", SHA: "abc1234", AuthoredAt: time.Now().Add(time.Minute), MergedAt: time.Now().Add(time.Minute)}
	if err := svc.Link(ctx, []delivery.ChangeText{{Change: c, Message: "Do it\n\nFeature: a\n"}, {Change: c, Message: "Feature: nobody"}}); err != nil {
		t.Fatal(err)
	}
	if links, _ := db.FeatureChanges(ctx, "a"); len(links) != 1 || links[0].By != "trailer" {
		t.Errorf("links: %+v", links)
	}
	waitStage(t, db, "a", value.Building)
}

// heldSave holds the next SaveLifecycle, once armed, until released: a
// sync that has derived its lifecycle and not stored it yet.
type heldSave struct {
	features.Store
	mu      sync.Mutex
	release chan struct{} // armed: the next save waits on it
	entered chan struct{} // closed when the held save has begun
}

func (h *heldSave) SaveLifecycle(ctx context.Context, key string, l *value.Lifecycle) ([]value.Transition, error) {
	h.mu.Lock()
	wait := h.release
	h.release = nil
	h.mu.Unlock()
	if wait != nil {
		close(h.entered)
		<-wait
	}
	return h.Store.SaveLifecycle(ctx, key, l)
}

// TestSyncsDoNotUndoEachOther: a sync that derived a feature's lifecycle
// before a change was linked does not store it after the link's own sync
// stored the newer one. Two syncs ran at once, and the one that had read
// the evidence first saved last: the feature went back to ready until the
// next periodic sync (TestTouchAndLink failed so in CI once).
func TestSyncsDoNotUndoEachOther(t *testing.T) {
	svc, db := mustService(t)
	ctx := context.Background()
	held := &heldSave{Store: svc.Store, entered: make(chan struct{})}
	svc.Store = held
	if err := svc.PutFeature(ctx, feature("a", ""), "", "t"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.MoveFeature(ctx, "a", value.Ready, "planned", "t", time.Time{}); err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	held.mu.Lock()
	held.release = release
	held.mu.Unlock()
	c := dora.Change{Repo: "acme/shop", SHA: "abc1234", AuthoredAt: time.Now().Add(time.Minute), MergedAt: time.Now().Add(time.Minute)}
	storetest.LinkDuringHeldSync(t, held.entered, release,
		func() error { _, err := svc.Sync(ctx, "a"); return err }, // as the periodic one: it derives "ready", then waits
		func() error { return svc.Link(ctx, []delivery.ChangeText{{Change: c, Message: "Feature: a"}}) })
	ls, err := db.Lifecycles(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ls["a"].Stage != value.Building {
		t.Errorf("a is %q after its change was linked, want building", ls["a"].Stage)
	}
}

func waitStage(t *testing.T, db *sqlite.DB, key string, want value.Stage) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ls, err := db.Lifecycles(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if ls[key].Stage == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s is %q, want %s", key, ls[key].Stage, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// failingHypotheses is the store as evidence, except that reading a
// flag's hypothesis fails as a broken disk would.
type failingHypotheses struct{ *sqlite.DB }

func (failingHypotheses) Hypothesis(context.Context, string, string) (*experiment.Hypothesis, error) {
	return nil, errors.New("disk I/O error")
}

func (failingHypotheses) Hypotheses(context.Context, string, ...string) (map[string]*experiment.Hypothesis, error) {
	return nil, errors.New("disk I/O error")
}

// TestNextHypothesisError: a decided feature without a minimum effect of
// its own reaches its flag's hypothesis for the effect hoped for; when that
// read fails, Next fails with it instead of ranking as if there were none.
func TestNextHypothesisError(t *testing.T) {
	svc, db := mustService(t)
	ctx := context.Background()
	if err := svc.PutFeature(ctx, feature("a", "f1"), "", "t"); err != nil {
		t.Fatal(err)
	}
	x := 0.04
	l := value.Derive([]value.Event{{ID: "c", Kind: value.Created, At: time.Now().Add(-time.Hour)},
		{ID: "v", Kind: value.VerdictRecorded, Stage: value.Validated, At: time.Now(), Effect: &x}}, nil)
	if _, err := db.SaveLifecycle(ctx, "a", &l); err != nil {
		t.Fatal(err)
	}
	svc.Evidence = failingHypotheses{db}
	_, err := svc.Next(ctx, features.NextOptions{})
	if err == nil || !strings.Contains(err.Error(), "disk I/O error") || !strings.Contains(err.Error(), "flag f1") {
		t.Errorf("got %v, want the store's error with the flag", err)
	}
	svc.Evidence = db // a failed read is not cached as "no hypothesis"
	if _, err := svc.Next(ctx, features.NextOptions{}); err != nil {
		t.Fatalf("with a working store: %v", err)
	}
}

// TestNextFollowsWrites: next reads the features changed since its cached
// snapshot, so a feature added, changed, moved or deleted shows at once.
func TestNextFollowsWrites(t *testing.T) {
	svc, db := mustService(t)
	ctx := context.Background()
	unranked := func() string {
		t.Helper()
		n, err := svc.Next(ctx, features.NextOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, u := range n.Unranked {
			keys = append(keys, u.Feature)
		}
		for _, r := range n.Ranked {
			keys = append(keys, r.Feature+"*")
		}
		return strings.Join(keys, " ")
	}
	steps := []struct {
		name string
		do   func() error
		want string
	}{
		{"two features", func() error {
			if err := svc.PutFeature(ctx, feature("b", ""), "", "t"); err != nil {
				return err
			}
			return svc.PutFeature(ctx, feature("d", ""), "", "t")
		}, "b d"},
		{"one added before them", func() error { return svc.PutFeature(ctx, feature("a", ""), "", "t") }, "a b d"},
		{"one estimated", func() error {
			f := feature("b", "")
			f.Estimate = &value.Estimate{CostOfDelay: &value.CostOfDelay{UserValue: 5}, Size: 1}
			return svc.PutFeature(ctx, f, "", "t")
		}, "a d b*"},
		{"one building", func() error {
			l := value.Derive([]value.Event{{ID: "c", Kind: value.Created, At: time.Now()}, {ID: "x", Kind: value.CommitPushed, At: time.Now()}}, nil)
			_, err := db.SaveLifecycle(ctx, "d", &l)
			return err
		}, "a b*"},
		{"one deleted", func() error { return svc.DeleteFeature(ctx, "a", "t") }, "b*"},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if got := unranked(); got != st.want {
			t.Errorf("after %s: next lists %q, want %q", st.name, got, st.want)
		}
	}
}

// TestServicesReleaseOnly: a feature that links services is released by
// their production deployments only; one that links none by any service's.
func TestServicesReleaseOnly(t *testing.T) {
	svc, db := mustService(t)
	ctx := context.Background()
	day := func(d int) time.Time { return time.Date(2026, 3, d, 0, 0, 0, 0, time.UTC) }
	deploy := func(service string, d int) delivery.Shipment {
		return delivery.Shipment{Deployment: dora.Deployment{ID: service + "-1", Service: service, Environment: "production", Status: dora.StatusSuccess, At: day(d)}, Changes: 1}
	}
	svc.Shipped = func(context.Context, []dora.Change) ([]delivery.Shipment, error) {
		return []delivery.Shipment{deploy("shop", 3)}, nil // shipped first by shop
	}
	var asked []string
	svc.ShippedBy = func(_ context.Context, _ []dora.Change, services []string) ([]delivery.Shipment, error) {
		asked = services
		return []delivery.Shipment{deploy("api", 5)}, nil
	}
	c := dora.Change{Repo: "acme/mono", SHA: "abc1234", AuthoredAt: day(1), MergedAt: day(2)}
	for _, tc := range []struct {
		key      string
		services []string
		want     time.Time
	}{{"any", nil, day(3)}, {"api-only", []string{"api"}, day(5)}} {
		f := feature(tc.key, "")
		f.Links.Services = tc.services
		if err := svc.PutFeature(ctx, f, "", "t"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.LinkChanges(ctx, []features.ChangeLink{{Feature: tc.key, Change: c, By: "trailer"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Sync(ctx, tc.key); err != nil {
			t.Fatal(err)
		}
		ls, _ := db.Lifecycles(ctx)
		l := ls[tc.key]
		if at, ok := l.Entered(value.Releasing); l.Stage != value.Releasing || !ok || !at.Equal(tc.want) {
			t.Errorf("%s: %s since %v, want releasing since %v", tc.key, l.Stage, at, tc.want)
		}
	}
	if !slices.Equal(asked, []string{"api"}) {
		t.Errorf("ShippedBy asked for %v, want the linked services", asked)
	}
}

// TestLinkToDeletedFlag: a feature's flag cleaned up (how it gets done)
// leaves its link valid, so the exported file applies back and the feature
// can still be edited; a new link to a flag that does not exist is refused.
func TestLinkToDeletedFlag(t *testing.T) {
	svc, _ := mustService(t)
	ctx := context.Background()
	if err := svc.PutFeature(ctx, feature("a", "f1"), "", "t"); err != nil {
		t.Fatal(err)
	}
	svc.Flags = func(string) []string { return []string{"f2"} } // f1 deleted
	file, _ := svc.Export(ctx)
	if ops, err := svc.Apply(ctx, file, false, false, "ci"); err != nil || len(ops) != 0 {
		t.Errorf("the export applied back: %+v, %v; want nothing to change", ops, err)
	}
	edited := feature("a", "f1")
	edited.Title = "A, done"
	if err := svc.PutFeature(ctx, edited, "", "t"); err != nil {
		t.Errorf("editing a done feature: %v", err)
	}
	err := svc.PutFeature(ctx, feature("b", "f3"), "", "t")
	if e, ok := err.(*valueloop.Error); !ok || e.Field != "links.flags[0].flag" {
		t.Errorf("a new link to no flag: %v, want refused naming links.flags[0].flag", err)
	}
}

// TestMoveThatCannotHappen: a move the lifecycle would not follow (back
// to an earlier stage, or on from abandoned) is refused naming stage and
// stores nothing. It was stored and changed nothing: `feature move
// --to ready` on a validated feature printed "validated" and exited 0.
func TestMoveThatCannotHappen(t *testing.T) {
	svc, db := mustService(t)
	ctx := context.Background()
	for _, k := range []string{"v", "x"} {
		if err := svc.PutFeature(ctx, feature(k, ""), "", "t"); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range []struct {
		key   string
		stage value.Stage
	}{{"v", value.Validated}, {"v", value.Validated}, {"x", value.Abandoned}} {
		if _, err := svc.Move(ctx, m.key, m.stage, "", "t"); err != nil {
			t.Fatalf("move %s to %s: %v", m.key, m.stage, err)
		}
	}
	for _, m := range []struct {
		key   string
		stage value.Stage
		now   value.Stage
	}{{"v", value.Ready, value.Validated}, {"v", value.Measuring, value.Validated}, {"x", value.Ready, value.Abandoned}, {"x", value.Done, value.Abandoned}} {
		before, _ := db.Moves(ctx, m.key)
		_, err := svc.Move(ctx, m.key, m.stage, "", "t")
		if e, ok := err.(*valueloop.Error); !ok || e.Code != valueloop.EINVALID || e.Field != "stage" || !strings.Contains(e.Message, "is "+string(m.now)) {
			t.Errorf("move %s (%s) to %s: %v; want invalid naming stage and saying it is %s", m.key, m.now, m.stage, err, m.now)
		}
		if after, _ := db.Moves(ctx, m.key); len(after) != len(before) {
			t.Errorf("move %s to %s refused, yet %d events stored", m.key, m.stage, len(after)-len(before))
		}
	}
	for _, c := range []struct {
		from, to value.Stage
		ok       bool
	}{
		{value.Validated, value.Invalidated, true}, {value.Measuring, value.Validated, true}, {value.Ready, value.Abandoned, true},
		{value.Done, value.Abandoned, false}, {value.Abandoned, value.Abandoned, true}, {value.Building, value.Ready, false},
	} {
		if got := c.from.Reachable(c.to); got != c.ok {
			t.Errorf("%s reachable from %s: %v, want %v", c.to, c.from, got, c.ok)
		}
	}
}

// TestDeleteFeatureOthersDependOn: a feature others depend on cannot be
// deleted: their dependency would name nothing, so next would have them
// wait forever for it, and the exported file would no longer apply back
// ("no feature in the set"). The refusal names the dependants and deletes
// nothing; once they no longer depend on it, it goes.
func TestDeleteFeatureOthersDependOn(t *testing.T) {
	svc, db := mustService(t)
	ctx := context.Background()
	for _, f := range []*value.Feature{feature("a", ""), feature("b", "", "a"), feature("c", "", "a", "b")} {
		if err := svc.PutFeature(ctx, f, "", "t"); err != nil {
			t.Fatal(err)
		}
	}
	err := svc.DeleteFeature(ctx, "a", "t")
	if valueloop.ErrorCode(err) != valueloop.ECONFLICT || !strings.Contains(valueloop.ErrorMessage(err), `features b, c depend on it`) {
		t.Errorf("delete a: got %v, want a conflict naming b and c", err)
	}
	if _, err := db.Feature(ctx, "a"); err != nil {
		t.Errorf("refused delete, then read: %v", err)
	}
	file, err := svc.Export(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Apply(ctx, file, false, true, "t"); err != nil {
		t.Errorf("the export applies back: %v", err)
	}
	// c is deleted first (nothing depends on it), then b, then a.
	for _, key := range []string{"c", "b", "a"} {
		if err := svc.DeleteFeature(ctx, key, "t"); err != nil {
			t.Errorf("delete %s: %v", key, err)
		}
	}
}

// TestDeletedMetricStaysNamed: a metric deleted while an objective measures
// it and a hypothesis names it stays valid for them, as a deleted flag does
// for the features that link it. Before, every feature's write validated
// every stored feature, so one deleted metric refused any new feature,
// whatever it named, and the exported file no longer applied back.
func TestDeletedMetricStaysNamed(t *testing.T) {
	svc, db := mustService(t)
	ctx := context.Background()
	if err := db.CreateMetric(ctx, "production", &metric.Metric{Key: "m2", Kind: metric.Conversion, Event: "e2"}, "t"); err != nil {
		t.Fatal(err)
	}
	horizon, _ := value.ParseDate("2027-06-30")
	o2 := value.Objective{Key: "o2", Title: "O2", Metric: "m2", Target: value.Target{Direction: experiment.Increase, Value: 0.1}, Horizon: horizon}
	if err := svc.PutObjective(ctx, &o2, "", "t"); err != nil {
		t.Fatal(err)
	}
	a := feature("a", "")
	a.Hypothesis.Metric, a.Hypothesis.MinimumEffect = "m2", 0.05
	if err := svc.PutFeature(ctx, a, "", "t"); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteMetric(ctx, "production", "m2", "t"); err != nil {
		t.Fatal(err)
	}
	if err := svc.PutFeature(ctx, feature("b", ""), "", "t"); err != nil {
		t.Errorf("a new feature naming no metric, after m2 was deleted: %v", err)
	}
	a.Title = "A, renamed"
	if err := svc.PutFeature(ctx, a, "", "t"); err != nil {
		t.Errorf("a feature naming the deleted metric, edited: %v", err)
	}
	o2.Title = "O2, renamed"
	if err := svc.PutObjective(ctx, &o2, "", "t"); err != nil {
		t.Errorf("the objective measuring the deleted metric, edited: %v", err)
	}
	file, err := svc.Export(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Apply(ctx, file, true, true, "t"); err != nil {
		t.Errorf("the export applies back: %v", err)
	}
	// A metric nothing named before is still refused.
	o3 := value.Objective{Key: "o3", Title: "O3", Metric: "m3", Target: value.Target{Direction: experiment.Increase, Value: 0.1}, Horizon: horizon}
	if err := svc.PutObjective(ctx, &o3, "", "t"); valueloop.ErrorCode(err) != valueloop.EINVALID {
		t.Errorf("an objective on a metric that never existed: got %v, want invalid", err)
	}
}

// TestVerdictOutsideProduction: a feature's verdicts are those of its
// flags in a production environment, as its rollouts, first exposures and
// cleanup are. A verdict reached in development (a QA script's synthetic
// users) validated the feature, counted in its objective's record of bets
// and moved every other idea's rank.
func TestVerdictOutsideProduction(t *testing.T) {
	svc, db := mustService(t)
	ctx := context.Background()
	withDevelopment(t, svc, db)
	f := feature("a", "f1")
	f.Links.Flags = append(f.Links.Flags, value.FlagLink{Environment: "development", Flag: "f1"})
	if err := svc.PutFeature(ctx, f, "", "t"); err != nil {
		t.Fatal(err)
	}
	verdict := func(env string) {
		t.Helper()
		if _, err := db.RecordVerdict(ctx, &experiment.VerdictRecord{Environment: env, Flag: "f1", Decision: experiment.Validated, Reason: "r"}); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Sync(ctx, "a"); err != nil {
			t.Fatal(err)
		}
	}
	verdict("development")
	if ls, _ := db.Lifecycles(ctx); ls["a"].Stage != value.Idea || ls["a"].Verdict != nil {
		t.Errorf("after a verdict in development: %s, verdict %+v; want idea without one", ls["a"].Stage, ls["a"].Verdict)
	}
	verdict("production")
	if ls, _ := db.Lifecycles(ctx); ls["a"].Stage != value.Validated {
		t.Errorf("after a verdict in production: %s, want validated", ls["a"].Stage)
	}
}

// TestNextHopedOnTheVerdictsFlag: a feature stating no minimum effect is
// measured against the hypothesis of the flag whose verdict stands, not
// of whichever linked flag is listed first: development's hypothesis (a
// large effect, to see it move on test traffic) made production's +8 %
// against its hoped +5 % look like a tenth of its hope.
func TestNextHopedOnTheVerdictsFlag(t *testing.T) {
	svc, db := mustService(t)
	ctx := context.Background()
	withDevelopment(t, svc, db)
	for env, hoped := range map[string]float64{"development": 0.5, "production": 0.05} {
		h := experiment.NewHypothesis()
		h.PrimaryMetric, h.MinimumEffect = "m", hoped
		if err := db.PutHypothesis(ctx, env, "f1", h, "t"); err != nil {
			t.Fatal(err)
		}
	}
	f := feature("a", "")
	f.Links.Flags = []value.FlagLink{{Environment: "development", Flag: "f1"}, {Environment: "production", Flag: "f1"}}
	if err := svc.PutFeature(ctx, f, "", "t"); err != nil {
		t.Fatal(err)
	}
	rec := &experiment.VerdictRecord{Environment: "production", Flag: "f1", Decision: experiment.Validated, Reason: "r",
		Figures: experiment.VerdictFigures{PrimaryMetric: "m", Effect: &experiment.Bounds{Estimate: 0.08}}}
	if _, err := db.RecordVerdict(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Sync(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	n, err := svc.Next(ctx, features.NextOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// 0.08 / 0.05 = 1.6.
	if b := n.Bets[0]; b.Measured != 1 || math.Abs(b.RatioSum-1.6) > 1e-9 {
		t.Errorf("bets: %d measured, ratio sum %v; want 1 measured, 1.6", b.Measured, b.RatioSum)
	}
}

// TestMoveReasonText: a move's reason is one line of the history and the
// audit trail, checked as every reason is (valueloop.CheckReason): control
// characters (an escape sequence, a line break, which it took before) are
// refused naming the field, and nothing is moved. The Go client folds a
// reason typed over several lines into one.
func TestMoveReasonText(t *testing.T) {
	svc, db := mustService(t)
	ctx := context.Background()
	if err := svc.PutFeature(ctx, feature("a", ""), "", "t"); err != nil {
		t.Fatal(err)
	}
	_, err := svc.Move(ctx, "a", value.Ready, "planned \x1b[2J", "t")
	if e, ok := err.(*valueloop.Error); !ok || e.Field != "reason" || !strings.Contains(e.Message, "U+001B") {
		t.Errorf("got %v, want a field error on reason naming U+001B", err)
	}
	if moves, _ := db.Moves(ctx, "a"); len(moves) != 0 {
		t.Errorf("a refused move was stored: %+v", moves)
	}
	_, err = svc.Move(ctx, "a", value.Ready, "planned\nin the sprint review", "t")
	if e, ok := err.(*valueloop.Error); !ok || e.Field != "reason" || !strings.Contains(e.Message, "U+000A") {
		t.Errorf("a reason over two lines: %v, want a field error on reason naming U+000A", err)
	}
	if moves, _ := db.Moves(ctx, "a"); len(moves) != 0 {
		t.Errorf("a refused move was stored: %+v", moves)
	}
	if _, err := svc.Move(ctx, "a", value.Ready, "planned in the sprint review", "t"); err != nil {
		t.Errorf("a reason of one line: %v", err)
	}
}

// withDevelopment adds environment development, not production, beside
// mustService's production.
func withDevelopment(t *testing.T, svc *features.Service, db *sqlite.DB) {
	t.Helper()
	dev := valueloop.Environment{Key: "development", Name: "development"}
	if err := db.CreateEnvironment(context.Background(), dev, "t"); err != nil {
		t.Fatal(err)
	}
	prod := svc.Environments()[0]
	svc.Environments = func() []valueloop.Environment { return []valueloop.Environment{prod, dev} }
}

// TestPutFeatureBesideOldText: a feature stored before titles refused
// control characters (older data, written to the store directly) does not
// refuse the writes of every other feature: each write is checked with the
// stored set, and the old title was a problem of that feature alone, to
// fix when it is next edited.
func TestPutFeatureBesideOldText(t *testing.T) {
	svc, db := mustService(t)
	ctx := context.Background()
	old := feature("old", "")
	old.Title = "Old \x1b[2J title"
	old.Links.Services = []string{"web\x07"}
	if err := db.PutFeature(ctx, old, "t"); err != nil {
		t.Fatal(err)
	}
	if err := svc.PutFeature(ctx, feature("new", "f1"), "", "t"); err != nil {
		t.Errorf("a new feature beside the old one: %v", err)
	}
	file := &value.File{Features: []value.Feature{*feature("applied", "f2")}}
	if _, err := svc.Apply(ctx, file, false, false, "t"); err != nil {
		t.Errorf("a file beside the old feature: %v", err)
	}
	if err := svc.PutFeature(ctx, old, "", "t"); err == nil || !strings.Contains(err.Error(), "title") {
		t.Errorf("the old feature written again: %v, want its title refused", err)
	}
}

// TestCleanupOfEveryProductionFlag: a feature shipped behind two flags in
// production was done once one of them was deleted, and the other, still
// serving, left the list of flags to clean up (it lists decided and
// abandoned features only). It stays validated, with the other flag on the
// list, until that one is deleted too: done then. The development flag's
// deletion counts for nothing either way.
func TestCleanupOfEveryProductionFlag(t *testing.T) {
	svc, db := mustService(t)
	ctx := context.Background()
	withDevelopment(t, svc, db)
	defs := map[[2]string]*valueloop.Flag{}
	on := "on"
	for _, k := range [][2]string{{"production", "f1"}, {"production", "f2"}, {"development", "f1"}} {
		fl := &valueloop.Flag{Key: k[1], State: valueloop.StateEnabled, Variants: map[string]any{"on": true, "off": false}, DefaultVariant: &on}
		if _, _, err := db.PutFlag(ctx, k[0], fl, -1, "t", ""); err != nil {
			t.Fatal(err)
		}
		defs[k] = fl
	}
	svc.Definition = func(env, flag string) *valueloop.Flag { return defs[[2]string{env, flag}] }
	f := feature("a", "f1")
	f.Links.Flags = append(f.Links.Flags, value.FlagLink{Environment: "production", Flag: "f2"}, value.FlagLink{Environment: "development", Flag: "f1"})
	if err := svc.PutFeature(ctx, f, "", "t"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.RecordVerdict(ctx, &experiment.VerdictRecord{Environment: "production", Flag: "f1", Decision: experiment.Validated, Reason: "r"}); err != nil {
		t.Fatal(err)
	}
	svc.Now = func() time.Time { return time.Now().Add(30 * 24 * time.Hour) } // past the cleanup's 14 days
	remove := func(env, flag string, want value.Stage, cleanup ...string) {
		t.Helper()
		if _, err := db.DeleteFlag(ctx, env, flag, 0, "t", "cleanup"); err != nil {
			t.Fatal(err)
		}
		delete(defs, [2]string{env, flag})
		if _, err := svc.Sync(ctx, "a"); err != nil {
			t.Fatal(err)
		}
		if ls, _ := db.Lifecycles(ctx); ls["a"].Stage != want {
			t.Errorf("%s/%s deleted: %s, want %s", env, flag, ls["a"].Stage, want)
		}
		n, err := svc.Next(ctx, features.NextOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, a := range n.Stop {
			if a.Kind == value.CleanUpFlag {
				got = append(got, a.Environment+"/"+a.Flag)
			}
		}
		if !slices.Equal(got, cleanup) {
			t.Errorf("%s/%s deleted: flags to clean up %q, want %q", env, flag, got, cleanup)
		}
	}
	remove("development", "f1", value.Validated, "production/f1", "production/f2")
	remove("production", "f1", value.Validated, "production/f2")
	remove("production", "f2", value.Done)
}
