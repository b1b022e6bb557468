package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/delivery"
	"github.com/valueloop/valueloop/dora"
)

// testDeliveryCorrections: records are listed newest first with where they
// came from, filtered; an edit replaces every field of one record and a
// deletion removes it, both audited with the record before (and after), and
// both bump the version the timeline cache reads; a redelivery of a
// corrected delivery still stores nothing.
func testDeliveryCorrections(t *testing.T, db DeliveryStore, _ *Clock) {
	ctx := context.Background()
	at := time.Date(2026, 4, 1, 12, 0, 0, 0, time.UTC)
	d := &delivery.Delivery{Source: "api", ID: "fix-1", Kind: "change", ReceivedAt: at,
		Changes: []dora.Change{
			{Repo: "acme/shop", SHA: "c1", PR: "7", AuthoredAt: at.Add(-2 * time.Hour), OpenedAt: at.Add(-90 * time.Minute), MergedAt: at.Add(-time.Hour)},
			{Repo: "acme/other", SHA: "c2", AuthoredAt: at.Add(-3 * time.Hour), MergedAt: at.Add(-time.Hour)},
		},
		Deployments: []dora.Deployment{{ID: "dep-1", Service: "shop", Environment: "production", Production: true, SHA: "c1", Status: dora.StatusSuccess, At: at}},
		Incidents:   []dora.Incident{{ID: "inc-1", Service: "shop", OpenedAt: at.Add(time.Hour)}},
		Reviews:     []dora.Review{{Repo: "acme/shop", PR: "7", At: at.Add(-80 * time.Minute)}, {Repo: "acme/shop", PR: "7", At: at.Add(-70 * time.Minute)}},
	}
	if _, err := db.RecordDelivery(ctx, d); err != nil {
		t.Fatal(err)
	}
	// Opening times and reviews are read back for the lead time breakdown.
	data, _, err := db.DeliveryData(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(data.Reviews) != 2 || !data.Reviews[0].At.Equal(at.Add(-80*time.Minute)) || data.Reviews[1].PR != "7" || !data.Changes[0].OpenedAt.Equal(at.Add(-90*time.Minute)) {
		t.Fatalf("reviews %+v and change %+v, want two reviews of PR 7 in order and the opening time", data.Reviews, data.Changes[0])
	}
	changes, err := db.Records(ctx, delivery.RecordFilter{Kind: delivery.RecordChanges})
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 2 || changes[0].Change.SHA != "c2" || changes[1].Change.SHA != "c1" || changes[0].Source != "api" || changes[0].Delivery != "fix-1" {
		t.Fatalf("changes = %+v, want c2 then c1 from api/fix-1", changes)
	}
	if got, _ := db.Records(ctx, delivery.RecordFilter{Kind: delivery.RecordChanges, Repo: "ACME/shop"}); len(got) != 1 || got[0].Change.SHA != "c1" {
		t.Fatalf("changes of acme/shop = %+v, want c1 only", got)
	}
	// Paging: Limit bounds a page, Before starts it below a record number.
	if got, _ := db.Records(ctx, delivery.RecordFilter{Kind: delivery.RecordChanges, Limit: 1}); len(got) != 1 || got[0].Change.SHA != "c2" {
		t.Fatalf("changes, limit 1 = %+v, want c2 only", got)
	}
	if got, _ := db.Records(ctx, delivery.RecordFilter{Kind: delivery.RecordChanges, Before: changes[0].Record}); len(got) != 1 || got[0].Change.SHA != "c1" {
		t.Fatalf("changes before record %d = %+v, want c1 only", changes[0].Record, got)
	}
	if got, _ := db.Records(ctx, delivery.RecordFilter{Kind: delivery.RecordChanges, Before: changes[1].Record}); len(got) != 0 {
		t.Fatalf("changes before the oldest = %+v, want none", got)
	}
	deps, err := db.Records(ctx, delivery.RecordFilter{Kind: delivery.RecordDeployments, ID: "dep-1"})
	if err != nil || len(deps) != 1 || !deps[0].Deployment.At.Equal(at) {
		t.Fatalf("deployments = %+v, %v; want dep-1", deps, err)
	}

	v0, _ := db.DeliveryVersion(ctx)
	fixed := *changes[1].Change
	fixed.AuthoredAt = at.Add(-5 * time.Hour)
	fixed.Paths = []string{"cmd"}
	edit := delivery.Record{Kind: delivery.RecordChanges, Record: changes[1].Record, Change: &fixed}
	if err := db.EditRecord(ctx, &edit, "alice", "authored time was the PR's"); err != nil {
		t.Fatal(err)
	}
	if edit.Source != "api" || edit.Delivery != "fix-1" {
		t.Errorf("edited record from %s/%s, want api/fix-1", edit.Source, edit.Delivery)
	}
	got, _ := db.Records(ctx, delivery.RecordFilter{Kind: delivery.RecordChanges, Record: edit.Record})
	if len(got) != 1 || !got[0].Change.AuthoredAt.Equal(fixed.AuthoredAt) || len(got[0].Change.Paths) != 1 {
		t.Fatalf("after edit = %+v, want authoredAt %s and paths [cmd]", got, fixed.AuthoredAt)
	}
	if v1, _ := db.DeliveryVersion(ctx); v1 <= v0 {
		t.Errorf("version %d after an edit, want more than %d", v1, v0)
	}

	incs, _ := db.Records(ctx, delivery.RecordFilter{Kind: delivery.RecordIncidents, Service: "shop"})
	if len(incs) != 1 {
		t.Fatalf("incidents = %+v, want inc-1", incs)
	}
	if err := db.DeleteRecord(ctx, delivery.RecordIncidents, incs[0].Record, "bob", "not an incident"); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.Records(ctx, delivery.RecordFilter{Kind: delivery.RecordIncidents}); len(got) != 0 {
		t.Errorf("incidents after delete = %+v, want none", got)
	}
	if err := db.DeleteRecord(ctx, delivery.RecordIncidents, incs[0].Record, "bob", ""); valueloop.ErrorCode(err) != valueloop.ENOTFOUND {
		t.Errorf("second delete: %v, want ENOTFOUND", err)
	}
	missing := delivery.Record{Kind: delivery.RecordChanges, Record: 1 << 40, Change: &fixed}
	if err := db.EditRecord(ctx, &missing, "alice", ""); valueloop.ErrorCode(err) != valueloop.ENOTFOUND {
		t.Errorf("edit of a missing record: %v, want ENOTFOUND", err)
	}
	if stored, err := db.RecordDelivery(ctx, d); err != nil || stored {
		t.Errorf("redelivery after corrections: stored %v, %v; want nothing stored", stored, err)
	}
	if got, _ := db.Records(ctx, delivery.RecordFilter{Kind: delivery.RecordChanges}); len(got) != 2 {
		t.Errorf("%d changes after the redelivery, want 2", len(got))
	}

	for _, c := range []struct{ target, action, actor, reason string }{
		{recordTargetName("change", edit.Record), "delivery.change.edit", "alice", "authored time was the PR's"},
		{recordTargetName("incident", incs[0].Record), "delivery.incident.delete", "bob", "not an incident"},
	} {
		entries, err := db.Audit(ctx, valueloop.AuditFilter{Target: c.target})
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 1 || entries[0].Action != c.action || entries[0].Actor != c.actor || entries[0].Reason != c.reason || len(entries[0].Before) == 0 {
			t.Errorf("audit of %s = %+v, want one %s by %s (%q) with the record before", c.target, entries, c.action, c.actor, c.reason)
		}
	}
}

func recordTargetName(kind string, n int64) string { return fmt.Sprintf("%s/%d", kind, n) }
