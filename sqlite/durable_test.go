package sqlite

import (
	"path/filepath"
	"testing"
)

// TestWriterSyncsEveryCommit: the event API answers once a batch is
// committed, and says that the events are then durable. With
// synchronous=NORMAL in WAL mode, SQLite syncs the log only at
// checkpoints: a process crash loses nothing, but a power loss or an OS
// crash loses the last transactions, acknowledged. The writer's connection
// syncs the log at every commit (FULL, 2).
func TestWriterSyncsEveryCommit(t *testing.T) {
	db := NewDB(filepath.Join(t.TempDir(), "test.db"))
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var sync int
	if err := db.wdb.QueryRow(`PRAGMA synchronous`).Scan(&sync); err != nil || sync != 2 {
		t.Errorf("writer's synchronous = %d, %v; want 2 (FULL)", sync, err)
	}
}
