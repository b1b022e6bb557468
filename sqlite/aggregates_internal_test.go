package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/ingest"
	"github.com/valueloop/valueloop/metric"
)

// TestAddAggregatesReadsItsCells: a group's deltas read only their own
// stored cells, not every cell of their flag. With a windowed metric a
// flag keeps its cells once more per day of first exposure, for ever, and
// a group touches today's: reading them all made every write of a flag
// that ran a year read and decode 365 days of cells. A cell of another day
// that cannot be decoded shows which were read; before, it failed the
// write of today's.
func TestAddAggregatesReadsItsCells(t *testing.T) {
	ctx := context.Background()
	db := NewDB(filepath.Join(t.TempDir(), "events.db"))
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.CreateEnvironment(ctx, valueloop.Environment{Key: "prod", Name: "prod"}, "t"); err != nil {
		t.Fatal(err)
	}
	day := func(label string, n int64) metric.Aggregate {
		return metric.Aggregate{Flag: "checkout", Variant: "control", Dimension: metric.ExposureDayDimension, Value: label, Sums: metric.Sums{N: n}}
	}
	if err := db.StateTx(ctx, func(tx ingest.StateTx) error {
		return tx.AddAggregates("prod", []metric.Aggregate{day("2026-01-01", 3), day("2026-01-02", 4)})
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.wdb.Exec(`UPDATE event_aggregates SET sums = x'ff' WHERE value = '2026-01-01'`); err != nil {
		t.Fatal(err)
	}
	if err := db.StateTx(ctx, func(tx ingest.StateTx) error {
		return tx.AddAggregates("prod", []metric.Aggregate{day("2026-01-02", 5), day("2026-01-03", 1)})
	}); err != nil {
		t.Fatalf("adding to the cells of 2026-01-02 and -03: %v", err)
	}
	if _, err := db.wdb.Exec(`DELETE FROM event_aggregates WHERE value = '2026-01-01'`); err != nil {
		t.Fatal(err)
	}
	got, err := db.DimensionAggregates(ctx, "prod", "checkout", metric.ExposureDayDimension)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{"2026-01-02": 9, "2026-01-03": 1}
	if len(got) != len(want) {
		t.Fatalf("cells %v, want %v", got, want)
	}
	for _, a := range got {
		if a.Sums.N != want[a.Value] {
			t.Errorf("day %s: %d users, want %d", a.Value, a.Sums.N, want[a.Value])
		}
	}
}
