package postgres_test

import (
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/experiment"
	"github.com/valueloop/valueloop/postgres"
	"github.com/valueloop/valueloop/postgres/pgtest"
	"github.com/valueloop/valueloop/storetest"
)

// TestMigrationRenamed opens a store of the previous schema version, which
// recorded the verdicts migration as 0006_verdicts.sql (now 0007, the
// number SQLite's has): it opens without running the migration again,
// keeps its data, and records the current name.
func TestMigrationRenamed(t *testing.T) {
	ctx := t.Context()
	dsn := pgtest.Schema(t)
	db := MustOpen(t, dsn, nil)
	if err := db.CreateEnvironment(ctx, valueloop.Environment{Key: "prod", Name: "prod"}, "t"); err != nil {
		t.Fatal(err)
	}
	rec := &experiment.VerdictRecord{Environment: "prod", Flag: "f", Decision: experiment.Validated}
	if _, err := db.RecordVerdict(ctx, rec); err != nil {
		t.Fatal(err)
	}
	db.Close()

	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `UPDATE schema_migrations SET name = '0006_verdicts.sql' WHERE name = '0007_verdicts.sql'`); err != nil {
		t.Fatal(err)
	}

	db = MustOpen(t, dsn, nil) // would fail creating verdicts again
	if got, err := db.VerdictHistory(ctx, "prod", "f"); err != nil || len(got) != 1 {
		t.Errorf("verdicts after the upgrade: %v, %v; want the one recorded", got, err)
	}
	rows, err := conn.Query(ctx, `SELECT name FROM schema_migrations ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	storetest.CheckMigrations(t, got)
}

// TestNewerSchemaRefused: a database migrated by a newer version (it
// records a migration this version does not have) is refused, naming the
// migration: an older node must not serve a newer schema.
func TestNewerSchemaRefused(t *testing.T) {
	ctx := t.Context()
	dsn := pgtest.Schema(t)
	MustOpen(t, dsn, nil).Close()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `INSERT INTO schema_migrations (name) VALUES ('9999_from_the_future.sql')`); err != nil {
		t.Fatal(err)
	}
	db := postgres.NewDB(dsn)
	err = db.Open()
	if err == nil {
		db.Close()
		t.Fatal("a database migrated by a newer version opened; want it refused")
	}
	if !strings.Contains(err.Error(), "9999_from_the_future.sql") || !strings.Contains(err.Error(), "newer") {
		t.Errorf("error %q: want it to name 9999_from_the_future.sql and say the store is of a newer version", err)
	}
}
