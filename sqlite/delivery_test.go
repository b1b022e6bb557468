package sqlite_test

import (
	"database/sql"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/delivery"
	"github.com/valueloop/valueloop/deliverysvc"
	"github.com/valueloop/valueloop/sqlite"
	"github.com/valueloop/valueloop/storetest"
)

func ptime(t time.Time) *time.Time { return &t }

// TestDeliveryRecords: a delivery is stored whole with every field, read
// back in UTC in the order stored, and a redelivery stores nothing.
func TestDeliveryRecords(t *testing.T) {
	ctx := t.Context()
	db := MustOpen(t, &storetest.Clock{T: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)})
	plus2 := time.FixedZone("+02", 2*3600)
	d := &deliverysvc.Delivery{
		Source: "gh", ID: "d-1", Kind: "push", ReceivedAt: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC),
		Changes: []delivery.Change{
			{Repo: "acme/shop", SHA: "aaa1", Branch: "main", Paths: []string{"a/b.go", "c"}, AuthoredAt: time.Date(2026, 3, 1, 10, 0, 0, 123, plus2), MergedAt: time.Date(2026, 3, 1, 11, 0, 0, 0, time.UTC)},
			{Service: "shop", SHA: "bbb2", PR: "17", AuthoredAt: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)},
		},
		Deployments: []delivery.Deployment{{ID: "dep-1", Service: "shop", Repo: "acme/shop", Environment: "production", Production: true,
			SHA: "aaa1", Version: "v1", Status: delivery.StatusSuccess, At: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), Rollback: true}},
		Incidents: []delivery.Incident{{ID: "inc-1", Service: "shop", Title: "down", OpenedAt: time.Date(2026, 3, 1, 13, 0, 0, 0, time.UTC),
			ResolvedAt: ptime(time.Date(2026, 3, 1, 14, 0, 0, 0, time.UTC)), UpdatedAt: time.Date(2026, 3, 1, 14, 0, 0, 0, time.UTC), DeploymentID: "dep-1", CauseSHA: "aaa1"}},
		Links: []deliverysvc.FlagLink{{Flag: "new-checkout", Repo: "acme/shop", SHA: "aaa1"}},
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
	if err != nil || len(log) != 1 || log[0].ID != "d-1" || log[0].Records != 5 || log[0].Kind != "push" {
		t.Errorf("deliveries of gh: %+v, %v", log, err)
	}
}

// TestDeliveryRollsBackWhole: a delivery whose records cannot all be
// stored leaves nothing behind, not even its ID.
func TestDeliveryRollsBackWhole(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "test.db")
	db := sqlite.NewDB(path)
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	d := &deliverysvc.Delivery{Source: "gh", ID: "d-1", Kind: "push", ReceivedAt: time.Now(),
		Changes: []delivery.Change{{Repo: "acme/shop", SHA: "aaa1", AuthoredAt: time.Now()}},
		Links:   []deliverysvc.FlagLink{{Flag: "f", SHA: "aaa1"}},
	}
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.ExecContext(ctx, `CREATE TRIGGER no_links BEFORE INSERT ON delivery_flag_changes BEGIN SELECT RAISE(ABORT, 'refused'); END`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.RecordDelivery(ctx, d); err == nil {
		t.Fatal("stored a delivery whose link insert failed")
	}
	data, _, err := db.DeliveryData(ctx)
	if err != nil {
		t.Fatal(err)
	}
	log, _ := db.Deliveries(ctx, "", 0)
	if len(data.Changes) != 0 || len(log) != 0 {
		t.Errorf("after a failed delivery: %d changes, %d deliveries stored; want none", len(data.Changes), len(log))
	}
}

func TestDeliverySources(t *testing.T) {
	ctx := t.Context()
	clock := &storetest.Clock{T: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	db := MustOpen(t, clock)
	s := &deliverysvc.Source{Name: "acme", Kind: "github", IncidentLabel: "sev"}
	if err := db.PutSource(ctx, s, "alice"); valueloop.ErrorCode(err) != valueloop.EINVALID {
		t.Errorf("new source without a secret: %v, want invalid", err)
	}
	s.Secret = []byte("a-very-secret-secret")
	if err := db.PutSource(ctx, s, "alice"); err != nil {
		t.Fatal(err)
	}
	clock.T = clock.T.Add(time.Hour)
	update := &deliverysvc.Source{Name: "acme", Kind: "github", IncidentLabel: "outage"} // keeps the secret
	if err := db.PutSource(ctx, update, "bob"); err != nil {
		t.Fatal(err)
	}
	if err := db.PutSource(ctx, &deliverysvc.Source{Name: "acme", Kind: "gitlab"}, "bob"); valueloop.ErrorCode(err) != valueloop.EINVALID {
		t.Errorf("changing the kind: %v, want invalid", err)
	}
	list, err := db.Sources(ctx)
	if err != nil || len(list) != 1 {
		t.Fatalf("sources: %+v, %v", list, err)
	}
	got := list[0]
	if string(got.Secret) != "a-very-secret-secret" || got.IncidentLabel != "outage" ||
		!got.CreatedAt.Equal(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)) || !got.UpdatedAt.Equal(clock.T) {
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
	if err := db.DeleteSource(ctx, "acme", "bob"); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteSource(ctx, "acme", "bob"); valueloop.ErrorCode(err) != valueloop.ENOTFOUND {
		t.Errorf("deleting twice: %v, want not found", err)
	}
}

func TestDeliveryCatalog(t *testing.T) {
	ctx := t.Context()
	db := MustOpen(t, nil)
	checkout := delivery.Service{Name: "checkout", Team: "payments", Sources: []delivery.Source{{Repo: "acme/mono", Path: "services/checkout"}}}
	search := delivery.Service{Name: "search", Team: "discovery", Sources: []delivery.Source{{Repo: "acme/search"}}}
	for _, s := range []delivery.Service{checkout, search} {
		if err := db.PutService(ctx, s, "alice"); err != nil {
			t.Fatal(err)
		}
	}
	v, _ := db.DeliveryVersion(ctx)
	clash := delivery.Service{Name: "cart", Sources: []delivery.Source{{Repo: "ACME/mono", Path: "services/checkout/"}}}
	if err := db.PutService(ctx, clash, "alice"); valueloop.ErrorCode(err) != valueloop.EINVALID {
		t.Errorf("a path another service owns: %v, want invalid", err)
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
	want := delivery.Catalog{Services: []delivery.Service{checkout, search}}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("catalog:\n got %+v\nwant %+v", c, want)
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
}
