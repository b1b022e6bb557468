package sqlite

import (
	"path/filepath"
	"testing"
)

// TestSyncMode: the writer and the readers (whose connections run the
// checkpoints) commit in the mode asked for: NORMAL (1) by default, FULL
// (2) with SyncFull, where an OS crash or power loss loses no
// acknowledged write.
func TestSyncMode(t *testing.T) {
	for _, c := range []struct {
		full bool
		want int
	}{{false, 1}, {true, 2}} {
		db := NewDB(filepath.Join(t.TempDir(), "test.db"))
		db.SyncFull = c.full
		if err := db.Open(); err != nil {
			t.Fatal(err)
		}
		var w, r int
		if err := db.wdb.QueryRow(`PRAGMA synchronous`).Scan(&w); err != nil {
			t.Fatal(err)
		}
		if err := db.db.QueryRow(`PRAGMA synchronous`).Scan(&r); err != nil {
			t.Fatal(err)
		}
		if w != c.want || r != c.want {
			t.Errorf("SyncFull %v: synchronous is %d on the writer and %d on the readers, want %d", c.full, w, r, c.want)
		}
		db.Close()
	}
}
