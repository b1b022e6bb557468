package storetest

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/delivery"
	"github.com/valueloop/valueloop/dora"
)

// DeliveryStore keeps delivery metrics: webhook sources, the service
// catalog and the delivered records. A store that implements it runs the
// Delivery cases of the contract.
type DeliveryStore interface {
	Store
	delivery.Store
}

var deliveryCases = []struct {
	name string
	fn   func(t *testing.T, s DeliveryStore, clock *Clock)
}{
	{"Records", testDeliveryRecords},
	{"ConcurrentRedelivery", testDeliveryConcurrentRedelivery},
	{"Sources", testDeliverySources},
	{"SourceVersions", testDeliverySourceVersions},
	{"Catalog", testDeliveryCatalog},
	{"Corrections", testDeliveryCorrections},
	{"LongID", testDeliveryLongID},
	{"Text", testDeliveryText},
	{"IgnoredRedelivered", testDeliveryIgnoredRedelivered},
	{"Replayed", testDeliveryReplayed},
	{"ChangeByHand", testDeliveryChangeByHand},
}

func deliveryCase(fn func(t *testing.T, s DeliveryStore, clock *Clock)) func(t *testing.T, s Store, clock *Clock) {
	return func(t *testing.T, s Store, clock *Clock) {
		ds, ok := s.(DeliveryStore)
		if !ok {
			t.Skip("the store keeps no delivery metrics")
		}
		fn(t, ds, clock)
	}
}

func ptime(t time.Time) *time.Time { return &t }

// testDeliveryRecords: a delivery is stored whole with every field, read
// back in UTC in the order stored, and a redelivery stores nothing.
func testDeliveryRecords(t *testing.T, db DeliveryStore, _ *Clock) {
	ctx := context.Background()
	plus2 := time.FixedZone("+02", 2*3600)
	d := &delivery.Delivery{
		Source: "gh", ID: "d-1", Kind: "push", ReceivedAt: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC),
		Changes: []dora.Change{
			{Repo: "acme/shop", SHA: "aaa1", Branch: "main", Paths: []string{"a/b.go", "c"}, AuthoredAt: time.Date(2026, 3, 1, 10, 0, 0, 123, plus2), MergedAt: time.Date(2026, 3, 1, 11, 0, 0, 0, time.UTC)},
			{Service: "shop", SHA: "bbb2", PR: "17", AuthoredAt: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)},
		},
		Deployments: []dora.Deployment{{ID: "dep-1", Service: "shop", Repo: "acme/shop", Environment: "production", Production: true,
			SHA: "aaa1", Version: "v1", Status: dora.StatusSuccess, At: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), Rollback: true}},
		Incidents: []dora.Incident{{ID: "inc-1", Service: "shop", Title: "down", OpenedAt: time.Date(2026, 3, 1, 13, 0, 0, 0, time.UTC),
			ResolvedAt: ptime(time.Date(2026, 3, 1, 14, 0, 0, 0, time.UTC)), UpdatedAt: time.Date(2026, 3, 1, 14, 0, 0, 0, time.UTC), DeploymentID: "dep-1", CauseSHA: "aaa1"}},
		Links: []delivery.FlagLink{{Flag: "new-checkout", Repo: "acme/shop", SHA: "aaa1"}},
	}
	v0, err := db.DeliveryVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if stored, err := db.RecordDelivery(ctx, d); err != nil || !stored {
		t.Fatalf("first delivery: stored %v, %v", stored, err)
	}
	if stored, err := db.RecordDelivery(ctx, d); err != nil || stored {
		t.Fatalf("redelivery: stored %v, %v; want not stored", stored, err)
	}
	if v, _ := db.DeliveryVersion(ctx); v != v0+1 {
		t.Errorf("version %d after one stored delivery and a redelivery from %d, want %d", v, v0, v0+1)
	}
	other := *d
	other.Source = "gl" // the same ID from another source is another delivery
	if stored, err := db.RecordDelivery(ctx, &other); err != nil || !stored {
		t.Fatalf("same ID, other source: stored %v, %v", stored, err)
	}
	data, v, err := db.DeliveryData(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if v != v0+2 {
		t.Errorf("version %d after two stored deliveries from %d", v, v0)
	}
	if len(data.Changes) != 4 || len(data.Deployments) != 2 || len(data.Incidents) != 2 {
		t.Fatalf("read %d changes, %d deployments, %d incidents; want 4, 2, 2", len(data.Changes), len(data.Deployments), len(data.Incidents))
	}
	wantChange := d.Changes[0]
	wantChange.AuthoredAt = wantChange.AuthoredAt.UTC()
	if got := data.Changes[0]; !reflect.DeepEqual(got, wantChange) {
		t.Errorf("change:\n got %+v\nwant %+v", got, wantChange)
	}
	if got := data.Changes[1]; !reflect.DeepEqual(got, d.Changes[1]) {
		t.Errorf("change:\n got %+v\nwant %+v", got, d.Changes[1])
	}
	if got := data.Deployments[0]; !reflect.DeepEqual(got, d.Deployments[0]) {
		t.Errorf("deployment:\n got %+v\nwant %+v", got, d.Deployments[0])
	}
	if got := data.Incidents[0]; !reflect.DeepEqual(got, d.Incidents[0]) {
		t.Errorf("incident:\n got %+v\nwant %+v", got, d.Incidents[0])
	}
	linked, err := db.FlagChanges(ctx, "new-checkout")
	if err != nil || len(linked) != 2 || linked[0].SHA != "aaa1" {
		t.Errorf("flag changes: %+v, %v; want the two records of aaa1", linked, err)
	}
	if none, err := db.FlagChanges(ctx, "other"); err != nil || len(none) != 0 {
		t.Errorf("unlinked flag: %+v, %v", none, err)
	}
	snaps, err := db.IncidentSnapshots(ctx, "inc-1")
	if err != nil || len(snaps) != 2 {
		t.Errorf("incident snapshots: %d, %v; want 2", len(snaps), err)
	}
	if _, err := db.IncidentSnapshots(ctx, "nope"); valueloop.ErrorCode(err) != valueloop.ENOTFOUND {
		t.Errorf("unknown incident: %v, want not found", err)
	}
	log, err := db.Deliveries(ctx, "gh", 10)
	if err != nil || len(log) != 1 || log[0].ID != "d-1" || log[0].Records != 5 || log[0].Kind != "push" ||
		!log[0].ReceivedAt.Equal(d.ReceivedAt) {
		t.Errorf("deliveries of gh: %+v, %v", log, err)
	}
	if all, err := db.Deliveries(ctx, "", 0); err != nil || len(all) != 2 || all[0].Source != "gl" {
		t.Errorf("all deliveries: %+v, %v; want gl's then gh's", all, err)
	}

	// Many records in one delivery keep their order.
	big := &delivery.Delivery{Source: "api", ID: "bulk", Kind: "deployment", ReceivedAt: d.ReceivedAt}
	for i := range 500 {
		big.Deployments = append(big.Deployments, dora.Deployment{ID: fmt.Sprintf("bulk-%03d", i), Service: "shop", Environment: "production",
			Production: true, Status: dora.StatusSuccess, At: d.ReceivedAt.Add(time.Duration(i) * time.Minute)})
	}
	if stored, err := db.RecordDelivery(ctx, big); err != nil || !stored {
		t.Fatalf("500 deployments: stored %v, %v", stored, err)
	}
	data, _, err = db.DeliveryData(ctx)
	if err != nil || len(data.Deployments) != 502 {
		t.Fatalf("after the bulk delivery: %d deployments, %v; want 502", len(data.Deployments), err)
	}
	for i, p := range data.Deployments[2:] {
		if want := fmt.Sprintf("bulk-%03d", i); p.ID != want {
			t.Fatalf("deployment %d of the bulk delivery is %s, want %s (the order given)", i, p.ID, want)
		}
	}
}

// testDeliveryConcurrentRedelivery: copies of one delivery sent at once
// (a forge retrying, two nodes behind a load balancer), some of them
// replayed under other IDs with the same body, store it once.
func testDeliveryConcurrentRedelivery(t *testing.T, db DeliveryStore, _ *Clock) {
	ctx := context.Background()
	const copies = 8
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	stored := make([]bool, copies)
	errs := make([]error, copies)
	for i := range copies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := "same"
			if i%2 == 1 {
				id = fmt.Sprint("replayed-", i)
			}
			d := &delivery.Delivery{Source: "gh", ID: id, Kind: "deployment_status", ReceivedAt: at, BodyDigest: strings.Repeat("ab", 32),
				Deployments: []dora.Deployment{{ID: "dep-1", Service: "shop", Environment: "production", Production: true,
					Status: dora.StatusSuccess, At: at}}}
			stored[i], errs[i] = db.RecordDelivery(ctx, d)
		}()
	}
	wg.Wait()
	n := 0
	for i := range copies {
		if errs[i] != nil {
			t.Errorf("copy %d: %v", i, errs[i])
		}
		if stored[i] {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d copies stored, want exactly 1", n)
	}
	data, _, err := db.DeliveryData(ctx)
	if err != nil || len(data.Deployments) != 1 {
		t.Errorf("stored %d deployments, %v; want 1", len(data.Deployments), err)
	}
}

func testDeliverySources(t *testing.T, db DeliveryStore, clock *Clock) {
	ctx := context.Background()
	created := clock.Now().UTC()
	s := &delivery.Source{Name: "acme", Kind: "github", IncidentLabel: "sev"}
	v0, _ := db.DeliveryVersion(ctx)
	if err := db.PutSource(ctx, s, "alice"); valueloop.ErrorCode(err) != valueloop.EINVALID {
		t.Errorf("new source without a secret: %v, want invalid", err)
	}
	if v, _ := db.DeliveryVersion(ctx); v != v0 {
		t.Errorf("a refused source moved the version from %d to %d", v0, v)
	}
	s.Secret = []byte("a-very-secret-secret")
	if err := db.PutSource(ctx, s, "alice"); err != nil {
		t.Fatal(err)
	}
	if !s.CreatedAt.Equal(created) || !s.UpdatedAt.Equal(created) {
		t.Errorf("put set times %v, %v; want %v", s.CreatedAt, s.UpdatedAt, created)
	}
	clock.T = clock.T.Add(time.Hour)
	update := &delivery.Source{Name: "acme", Kind: "github", IncidentLabel: "outage", Repos: []string{"acme/shop", "acme-ops/*"}} // keeps the secret
	if err := db.PutSource(ctx, update, "bob"); err != nil {
		t.Fatal(err)
	}
	if err := db.PutSource(ctx, &delivery.Source{Name: "acme", Kind: "gitlab"}, "bob"); valueloop.ErrorCode(err) != valueloop.EINVALID {
		t.Errorf("changing the kind: %v, want invalid", err)
	}
	list, err := db.Sources(ctx)
	if err != nil || len(list) != 1 {
		t.Fatalf("sources: %+v, %v", list, err)
	}
	got := list[0]
	if string(got.Secret) != "a-very-secret-secret" || got.IncidentLabel != "outage" || got.Kind != "github" ||
		strings.Join(got.Repos, " ") != "acme/shop acme-ops/*" ||
		!got.CreatedAt.Equal(created) || !got.UpdatedAt.Equal(clock.T) {
		t.Errorf("after update: %+v", got)
	}
	audit, err := db.Audit(ctx, valueloop.AuditFilter{Target: "acme"})
	if err != nil || len(audit) != 2 {
		t.Fatalf("audit: %d entries, %v; want 2", len(audit), err)
	}
	for _, a := range audit {
		if strings.Contains(string(a.Before)+string(a.After), "secret-secret") {
			t.Errorf("audit entry %s records the secret: %s %s", a.Action, a.Before, a.After)
		}
	}
	if audit[0].Actor != "bob" || audit[0].Action != "delivery.source.put" || audit[1].Before != nil {
		t.Errorf("audit: %+v; want bob's update, then alice's creation without before", audit)
	}
	if err := db.DeleteSource(ctx, "acme", "bob"); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteSource(ctx, "acme", "bob"); valueloop.ErrorCode(err) != valueloop.ENOTFOUND {
		t.Errorf("deleting twice: %v, want not found", err)
	}
	if list, err := db.Sources(ctx); err != nil || len(list) != 0 {
		t.Errorf("after delete: %+v, %v", list, err)
	}
}

// testDeliverySourceVersions: a write made from a version read refuses to
// overwrite a change made since (two admins rotating one source at once),
// and one made from a source deleted since; nothing is written either way.
func testDeliverySourceVersions(t *testing.T, db DeliveryStore, _ *Clock) {
	ctx := context.Background()
	s := &delivery.Source{Name: "acme", Kind: "github", Secret: []byte("a-very-secret-secret")}
	if err := db.PutSource(ctx, s, "alice"); err != nil || s.Version != 1 {
		t.Fatalf("created at version %d, %v; want 1", s.Version, err)
	}
	// Alice and Bob both read version 1; Alice writes first.
	alice := &delivery.Source{Name: "acme", Kind: "github", Secret: []byte("alices-new-secret-1"), Version: 1}
	if err := db.PutSource(ctx, alice, "alice"); err != nil || alice.Version != 2 {
		t.Fatalf("alice's write over version 1: version %d, %v; want 2", alice.Version, err)
	}
	bob := &delivery.Source{Name: "acme", Kind: "github", Repos: []string{"acme/shop"}, Version: 1}
	if err := db.PutSource(ctx, bob, "bob"); valueloop.ErrorCode(err) != valueloop.ECONFLICT || !strings.Contains(err.Error(), "version 2, not 1") {
		t.Errorf("bob's write over version 1, now 2: %v; want a conflict naming both versions", err)
	}
	list, err := db.Sources(ctx)
	if err != nil || len(list) != 1 || list[0].Version != 2 || string(list[0].Secret) != "alices-new-secret-1" || list[0].Repos != nil {
		t.Fatalf("after the refused write: %+v, %v; want alice's version 2 as she wrote it", list, err)
	}
	for _, v := range []int64{2, delivery.SourceExists, 0} {
		w := &delivery.Source{Name: "acme", Kind: "github", IncidentLabel: "sev", Version: v}
		if err := db.PutSource(ctx, w, "bob"); err != nil || w.Version != list[0].Version+1 {
			t.Errorf("write with version %d over %d: now %d, %v; want %d", v, list[0].Version, w.Version, err, list[0].Version+1)
		}
		list[0].Version = w.Version
	}
	if err := db.DeleteSource(ctx, "acme", "bob"); err != nil {
		t.Fatal(err)
	}
	for _, v := range []int64{5, delivery.SourceExists} {
		w := &delivery.Source{Name: "acme", Kind: "github", Secret: []byte("a-very-secret-secret"), Version: v}
		if err := db.PutSource(ctx, w, "alice"); valueloop.ErrorCode(err) != valueloop.ENOTFOUND {
			t.Errorf("write with version %d over a deleted source: %v; want not found", v, err)
		}
	}
	if list, err := db.Sources(ctx); err != nil || len(list) != 0 {
		t.Errorf("a write over a deleted source made it again: %+v, %v", list, err)
	}
	// Alice reads beta at its first version; Bob deletes it and makes it
	// again with other repositories. Alice's write from what she read is
	// over another source: refused, as a change since her read is. Made
	// again at version 1, it took her version for its own and her write
	// silently replaced Bob's repositories.
	beta := &delivery.Source{Name: "beta", Kind: "github", Secret: []byte("a-very-secret-secret"), Repos: []string{"acme/old"}}
	if err := db.PutSource(ctx, beta, "bob"); err != nil {
		t.Fatal(err)
	}
	read := beta.Version
	if err := db.DeleteSource(ctx, "beta", "bob"); err != nil {
		t.Fatal(err)
	}
	again := &delivery.Source{Name: "beta", Kind: "github", Secret: []byte("bobs-other-secret-1"), Repos: []string{"acme/new"}}
	if err := db.PutSource(ctx, again, "bob"); err != nil || again.Version <= read {
		t.Errorf("beta made again: version %d, %v; want above the %d it had before", again.Version, err, read)
	}
	w := &delivery.Source{Name: "beta", Kind: "github", Repos: []string{"acme/old"}, Version: read}
	if err := db.PutSource(ctx, w, "alice"); valueloop.ErrorCode(err) != valueloop.ECONFLICT {
		t.Errorf("alice's write from version %d of the deleted beta over the one made again: %v; want a conflict", read, err)
	}
	if list, err := db.Sources(ctx); err != nil || len(list) != 1 || !slices.Equal(list[0].Repos, []string{"acme/new"}) {
		t.Errorf("beta after alice's stale write: %+v, %v; want bob's acme/new", list, err)
	}
}

func testDeliveryCatalog(t *testing.T, db DeliveryStore, _ *Clock) {
	ctx := context.Background()
	if c, err := db.Catalog(ctx); err != nil || c.Services == nil || len(c.Services) != 0 {
		t.Errorf("empty catalog: %#v, %v; want no services (not nil)", c, err)
	}
	checkout := dora.Service{Name: "checkout", Team: "payments", Sources: []dora.Source{{Repo: "acme/mono", Path: "services/checkout"}}}
	search := dora.Service{Name: "search", Team: "discovery", Sources: []dora.Source{{Repo: "acme/search"}}}
	for _, s := range []dora.Service{checkout, search} {
		if err := db.PutService(ctx, s, "alice"); err != nil {
			t.Fatal(err)
		}
	}
	v, _ := db.DeliveryVersion(ctx)
	clash := dora.Service{Name: "cart", Sources: []dora.Source{{Repo: "ACME/mono", Path: "services/checkout/"}}}
	if err := db.PutService(ctx, clash, "alice"); valueloop.ErrorCode(err) != valueloop.EINVALID {
		t.Errorf("a path another service owns: %v, want invalid", err)
	}
	// A repository no webhook can send ("nope", without its owner) would
	// match no delivery: refused, as a source's is, and nothing stored.
	for _, repo := range []string{"nope", "acme/shop ", "https://github.com/acme/shop", "acme/*"} {
		bad := dora.Service{Name: "cart", Sources: []dora.Source{{Repo: repo}}}
		if err := db.PutService(ctx, bad, "alice"); valueloop.ErrorCode(err) != valueloop.EINVALID || !strings.Contains(fmt.Sprint(err), "/services/2/sources/0/repo") {
			t.Errorf("service with repository %q: %v; want invalid, naming /services/2/sources/0/repo", repo, err)
		}
	}
	if v2, _ := db.DeliveryVersion(ctx); v2 != v {
		t.Errorf("a refused change moved the version from %d to %d", v, v2)
	}
	search.Team = "platform"
	if err := db.PutService(ctx, search, "bob"); err != nil {
		t.Fatal(err)
	}
	c, err := db.Catalog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := dora.Catalog{Services: []dora.Service{checkout, search}}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("catalog:\n got %+v\nwant %+v", c, want)
	}
	if data, _, err := db.DeliveryData(ctx); err != nil || !reflect.DeepEqual(data.Catalog, want) {
		t.Errorf("catalog of DeliveryData:\n got %+v, %v\nwant %+v", data.Catalog, err, want)
	}
	if err := db.DeleteService(ctx, "checkout", "bob"); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteService(ctx, "checkout", "bob"); valueloop.ErrorCode(err) != valueloop.ENOTFOUND {
		t.Errorf("deleting twice: %v, want not found", err)
	}
	if c, _ := db.Catalog(ctx); len(c.Services) != 1 || c.Services[0].Name != "search" {
		t.Errorf("after delete: %+v", c)
	}
	audit, err := db.Audit(ctx, valueloop.AuditFilter{Target: "checkout"})
	if err != nil || len(audit) != 2 || audit[0].Action != "delivery.service.delete" || !strings.Contains(string(audit[0].Before), "services/checkout") {
		t.Errorf("audit of checkout: %+v, %v; want the delete with the service before it", audit, err)
	}
}

// DeliveryRollsBackWhole checks that a delivery whose records cannot all
// be stored leaves nothing behind, not even its ID or a new version, and
// that a retry stores it once the fault is gone. refuseLinks makes the
// database refuse inserts into delivery_flag_changes (a trigger) and
// returns the function that lifts the refusal: how is the database's own.
func DeliveryRollsBackWhole(t *testing.T, db DeliveryStore, refuseLinks func(t *testing.T) (lift func())) {
	ctx := t.Context()
	lift := refuseLinks(t)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	d := &delivery.Delivery{Source: "gh", ID: "d-1", Kind: "push", ReceivedAt: now,
		Changes: []dora.Change{{Repo: "acme/shop", SHA: "aaa1", AuthoredAt: now}},
		Links:   []delivery.FlagLink{{Flag: "f", SHA: "aaa1"}},
	}
	v0, _ := db.DeliveryVersion(ctx)
	if _, err := db.RecordDelivery(ctx, d); err == nil {
		t.Fatal("stored a delivery whose link insert failed")
	}
	data, v, err := db.DeliveryData(ctx)
	if err != nil {
		t.Fatal(err)
	}
	log, _ := db.Deliveries(ctx, "", 0)
	if len(data.Changes) != 0 || len(log) != 0 || v != v0 {
		t.Errorf("after a failed delivery: %d changes, %d deliveries, version %d→%d; want none stored", len(data.Changes), len(log), v0, v)
	}
	lift()
	if stored, err := db.RecordDelivery(ctx, d); err != nil || !stored {
		t.Errorf("retry after the failure: stored %v, %v; want stored", stored, err)
	}
}

// testDeliveryChangeByHand: a change read for the metrics says whether it
// came through the API (dora.Change.ByHand), so that a pull request typed
// by hand does not replace the one a forge recorded for the commit.
func testDeliveryChangeByHand(t *testing.T, db DeliveryStore, _ *Clock) {
	ctx := context.Background()
	when := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	for _, x := range []struct{ source, pr string }{{"gh", "12"}, {delivery.APISource, "99"}, {delivery.APISource, ""}} {
		d := &delivery.Delivery{Source: x.source, ID: "d-" + x.source + x.pr, Kind: "change", ReceivedAt: when,
			Changes: []dora.Change{{Repo: "acme/shop", SHA: "abc1234", PR: x.pr, AuthoredAt: when}},
			Links:   []delivery.FlagLink{{Flag: "f", Repo: "acme/shop", SHA: "abc1234"}}}
		if _, err := db.RecordDelivery(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	data, _, err := db.DeliveryData(ctx)
	if err != nil {
		t.Fatal(err)
	}
	linked, err := db.FlagChanges(ctx, "f")
	if err != nil {
		t.Fatal(err)
	}
	for name, got := range map[string][]dora.Change{"DeliveryData": data.Changes, "FlagChanges": linked} {
		var byHand []bool
		for _, c := range got {
			byHand = append(byHand, c.ByHand)
		}
		// A record without a pull request needs no source: false.
		if !slices.Equal(byHand, []bool{false, true, false}) {
			t.Errorf("%s: by hand %v, want [false true false] (gh #12, api #99, api without a pull request)", name, byHand)
		}
	}
}
