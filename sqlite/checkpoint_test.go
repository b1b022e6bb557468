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

// TestLogStartsOverUnderAWriterThatNeverPauses writes 40 MB/s in
// transactions a millisecond or two apart, as ingestion does, so that no
// concurrent checkpoint ever finds every frame copied: the log must still
// start over, long before the writer's own checkpoints would.
func TestLogStartsOverUnderAWriterThatNeverPauses(t *testing.T) {
	db := NewDB(filepath.Join(t.TempDir(), "test.db"))
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.wdb.Exec(`CREATE TABLE filler (b BLOB)`); err != nil {
		t.Fatal(err)
	}
	blob := make([]byte, 64<<10)
	most, restarted := 0, false
	deadline := time.Now().Add(20 * time.Second)
	start, n := time.Now(), 0
	for !restarted && time.Now().Before(deadline) && most < writerCheckpoints {
		for range 16 {
			if _, err := db.wdb.Exec(`INSERT INTO filler (b) VALUES (?)`, blob); err != nil {
				t.Fatal(err)
			}
			n++
			time.Sleep(time.Until(start.Add(time.Duration(n) * 1600 * time.Microsecond)))
		}
		var busy, frames, copied int
		if err := db.db.QueryRow(`PRAGMA wal_checkpoint(NOOP)`).Scan(&busy, &frames, &copied); err != nil {
			t.Fatal(err)
		}
		restarted = frames < most
		most = max(most, frames)
	}
	// At 40 MB/s a tick every 200 ms sees at most 2,000 frames more than
	// restartPages; the writer's own checkpoints would start the log over
	// at writerCheckpoints.
	if !restarted || most >= 4*restartPages {
		t.Fatalf("the log reached %d frames (restartPages %d) before starting over", most, restartPages)
	}
	t.Logf("the log started over after %d frames", most)
}
