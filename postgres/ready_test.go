package postgres_test

import (
	"net/url"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/valueloop/valueloop/postgres"
	"github.com/valueloop/valueloop/postgres/pgtest"
)

// TestWriteReady: readiness holds while the database takes writes and
// fails once the schema is recreated empty (it once reported ready while
// every write failed).
func TestWriteReady(t *testing.T) {
	dsn := pgtest.Schema(t)
	db := postgres.NewDB(dsn)
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.WriteReady(t.Context()); err != nil {
		t.Fatalf("WriteReady on a fresh database = %v", err)
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	schema := pgx.Identifier{u.Query().Get("search_path")}.Sanitize()
	pgtest.Exec(t, "DROP SCHEMA "+schema+" CASCADE")
	pgtest.Exec(t, "CREATE SCHEMA "+schema)
	if err := db.WriteReady(t.Context()); err == nil {
		t.Errorf("WriteReady with the schema recreated empty = nil, want an error")
	}
}
