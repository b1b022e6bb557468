package sqlite_test

import (
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/valueloop/valueloop/delivery"
	"github.com/valueloop/valueloop/deliverysvc"
	"github.com/valueloop/valueloop/sqlite"
	"github.com/valueloop/valueloop/storetest"
)

// The store-generic cases of delivery metrics (records, redelivery,
// sources, catalog) are in the contract: storetest's Delivery cases, run by
// TestContract. What follows needs SQLite itself.

var _ storetest.DeliveryStore = (*sqlite.DB)(nil)

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
