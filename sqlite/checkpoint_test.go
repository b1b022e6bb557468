package sqlite

import (
	"path/filepath"
	"testing"
	"time"
)

// TestCheckpointsOffTheWriter writes more than checkpointPages pages in
// transactions of the writer, whose own checkpoints wait for a far longer
// log, and checks that the log is copied into the database anyway: by the
// checkpointer's connection.
func TestCheckpointsOffTheWriter(t *testing.T) {
	db := NewDB(filepath.Join(t.TempDir(), "test.db"))
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var auto int
	if err := db.wdb.QueryRow(`PRAGMA wal_autocheckpoint`).Scan(&auto); err != nil || auto != writerCheckpoints {
		t.Fatalf("writer's wal_autocheckpoint = %d, %v; want %d", auto, err, writerCheckpoints)
	}
	if _, err := db.wdb.Exec(`CREATE TABLE filler (b BLOB)`); err != nil {
		t.Fatal(err)
	}
	blob := make([]byte, 1<<20)
	for range 2 * checkpointPages * 4096 / len(blob) {
		if _, err := db.wdb.Exec(`INSERT INTO filler (b) VALUES (?)`, blob); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		// NOOP reports the log's frames and how many are in the database
		// already without copying any.
		var busy, frames, copied int
		if err := db.db.QueryRow(`PRAGMA wal_checkpoint(NOOP)`).Scan(&busy, &frames, &copied); err != nil {
			t.Fatal(err)
		}
		if frames-copied < checkpointPages {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30 s, %d of %d frames of the log copied", copied, frames)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
