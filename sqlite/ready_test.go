package sqlite_test

import (
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/valueloop/valueloop/sqlite"
)

// TestWriteReady: readiness holds while the store takes writes and fails
// once its schema is gone (it once reported ready while every write failed).
func TestWriteReady(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ready.db")
	db := sqlite.NewDB(path)
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.WriteReady(t.Context()); err != nil {
		t.Fatalf("WriteReady on a fresh store = %v", err)
	}
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec(`DROP TABLE tokens`); err != nil {
		t.Fatal(err)
	}
	if err := db.WriteReady(t.Context()); err == nil {
		t.Errorf("WriteReady with the tokens table dropped = nil, want an error")
	}
}
