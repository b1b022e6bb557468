package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/valueloop/valueloop/delivery"
	"github.com/valueloop/valueloop/dora"
	"github.com/valueloop/valueloop/postgres/pgtest"
	"github.com/valueloop/valueloop/storetest"
)

// TestDeliveryRollsBackWhole: a delivery whose records cannot all be
// stored leaves nothing behind, not even its ID, and a retry stores it (a
// trigger refuses links).
func TestDeliveryRollsBackWhole(t *testing.T) {
	dsn := pgtest.Schema(t)
	db := MustOpen(t, dsn, nil)
	storetest.DeliveryRollsBackWhole(t, db, func(t *testing.T) func() {
		ctx := t.Context()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close(context.Background()) })
		if _, err := conn.Exec(ctx, `CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused'; END $$;
			CREATE TRIGGER no_links BEFORE INSERT ON delivery_flag_changes FOR EACH ROW EXECUTE FUNCTION refuse()`); err != nil {
			t.Fatal(err)
		}
		return func() {
			if _, err := conn.Exec(ctx, `DROP TRIGGER no_links ON delivery_flag_changes`); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// TestDeliveryAcrossNodes: two nodes on one database, each with its own
// delivery service and timeline cache. A deployment recorded through one is
// in the next report of the other, and a redelivery through the other
// stores nothing.
func TestDeliveryAcrossNodes(t *testing.T) {
	ctx := t.Context()
	dsn := pgtest.Schema(t)
	nodes := [2]*delivery.Service{}
	for i := range nodes {
		nodes[i] = delivery.New(MustOpen(t, dsn, nil))
		// Cross-node visibility is the subject here, not the stale answer
		// a slow build allows (tested in package delivery): on a loaded
		// machine a build takes longer than the default SlowBuild.
		nodes[i].SlowBuild = time.Hour
	}
	from, to := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	deployed := func(node int) int {
		t.Helper()
		list, err := nodes[node].Deployments(ctx, "shop", from, to)
		if err != nil {
			t.Fatalf("node %d: %v", node, err)
		}
		return len(list)
	}
	yes := true
	record := func(node int, at time.Time, key string) delivery.Receipt {
		t.Helper()
		_, rec, err := nodes[node].RecordDeployment(ctx, delivery.DeploymentInput{Service: "shop", Environment: "production",
			Status: dora.StatusSuccess, At: &at, Production: &yes}, key)
		if err != nil {
			t.Fatalf("node %d: %v", node, err)
		}
		return rec
	}
	record(0, from.Add(time.Hour), "k1")
	if n := deployed(1); n != 1 {
		t.Fatalf("node 1 sees %d deployments, want 1", n)
	}
	builds := nodes[1].Builds()
	if n := deployed(1); n != 1 || nodes[1].Builds() != builds {
		t.Errorf("unchanged data: %d deployments, %d builds → %d; want the cached timeline", n, builds, nodes[1].Builds())
	}
	record(0, from.Add(2*time.Hour), "k2")
	if n := deployed(1); n != 2 {
		t.Errorf("after a second deployment through node 0, node 1 sees %d, want 2", n)
	}
	if rec := record(1, from.Add(2*time.Hour), "k2"); !rec.Duplicate {
		t.Errorf("the same key through node 1: %+v, want a duplicate", rec)
	}
	if n := deployed(0); n != 2 {
		t.Errorf("node 0 sees %d deployments, want 2", n)
	}
}

// BenchmarkRecordDelivery: one webhook-sized delivery (a deployment and two
// changes) per operation, each its own transaction.
func BenchmarkRecordDelivery(b *testing.B) {
	db := MustOpen(b, pgtest.Schema(b), nil)
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	i := 0
	for b.Loop() {
		i++
		d := &delivery.Delivery{Source: "gh", ID: fmt.Sprint(i), Kind: "deployment_status", ReceivedAt: at,
			Changes: []dora.Change{{Repo: "acme/shop", SHA: fmt.Sprint("a", i), AuthoredAt: at}, {Repo: "acme/shop", SHA: fmt.Sprint("b", i), AuthoredAt: at}},
			Deployments: []dora.Deployment{{ID: fmt.Sprint("d", i), Service: "shop", Environment: "production", Production: true,
				Status: dora.StatusSuccess, At: at}}}
		if _, err := db.RecordDelivery(b.Context(), d); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDeliveryData: reading 100,000 changes and 10,000 deployments,
// what a node does to rebuild its timeline after a change.
func BenchmarkDeliveryData(b *testing.B) {
	db := MustOpen(b, pgtest.Schema(b), nil)
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for i := range 10 {
		d := &delivery.Delivery{Source: "api", ID: fmt.Sprint(i), Kind: "bulk", ReceivedAt: at}
		for j := range 10000 {
			d.Changes = append(d.Changes, dora.Change{Repo: "acme/shop", SHA: fmt.Sprint(i, "-", j), Branch: "main", AuthoredAt: at.Add(time.Duration(j) * time.Second)})
		}
		for j := range 1000 {
			d.Deployments = append(d.Deployments, dora.Deployment{ID: fmt.Sprint(i, "-", j), Service: "shop", Environment: "production",
				Production: true, Status: dora.StatusSuccess, At: at.Add(time.Duration(j) * time.Minute)})
		}
		if _, err := db.RecordDelivery(b.Context(), d); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		data, _, err := db.DeliveryData(b.Context())
		if err != nil || len(data.Changes) != 100000 {
			b.Fatalf("%d changes, %v", len(data.Changes), err)
		}
	}
}
