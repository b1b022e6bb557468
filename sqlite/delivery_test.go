package sqlite_test

import (
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/valueloop/valueloop/storetest"
)

// TestDeliveryRollsBackWhole: a delivery whose records cannot all be
// stored leaves nothing behind, not even its ID (a trigger refuses links).
func TestDeliveryRollsBackWhole(t *testing.T) {
	path := filepath.Join(t.TempDir(), "test.db")
	db := mustOpenFile(t, path, nil)
	storetest.DeliveryRollsBackWhole(t, db, func(t *testing.T) func() {
		raw, err := sql.Open("sqlite", path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { raw.Close() })
		if _, err := raw.Exec(`CREATE TRIGGER no_links BEFORE INSERT ON delivery_flag_changes BEGIN SELECT RAISE(ABORT, 'refused'); END`); err != nil {
			t.Fatal(err)
		}
		return func() {
			if _, err := raw.Exec(`DROP TRIGGER no_links`); err != nil {
				t.Fatal(err)
			}
		}
	})
}
