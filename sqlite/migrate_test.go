package sqlite_test

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/valueloop/valueloop/sqlite"
	"github.com/valueloop/valueloop/storetest"
)

// storeWithEnv makes a store file named name holding the environment
// prod, closes it, and opens it again as a plain database (closed at the
// test's end) for a test to change behind the store's back.
func storeWithEnv(t *testing.T, name string) (path string, raw *sql.DB) {
	t.Helper()
	path = filepath.Join(t.TempDir(), name)
	db := mustOpenFile(t, path, nil)
	mustCreateEnv(t, db, "prod")
	db.Close()
	raw, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	return path, raw
}

// TestMigrationRecordsMove opens a store of the previous schema version,
// which recorded its migrations by path in a table migrations: the store
// opens, keeps its data, records every migration once by file name in
// schema_migrations, and runs none again.
func TestMigrationRecordsMove(t *testing.T) {
	path, raw := storeWithEnv(t, "old.db")
	// Turn the records back into those of the previous version.
	for _, q := range []string{
		`CREATE TABLE migrations (name TEXT PRIMARY KEY)`,
		`INSERT INTO migrations (name) SELECT 'migrations/' || name FROM schema_migrations`,
		`DROP TABLE schema_migrations`,
	} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	raw.Close()

	db := sqlite.NewDB(path)
	if err := db.Open(); err != nil {
		t.Fatalf("open a store of the previous version: %v", err)
	}
	defer db.Close()
	if envs, err := db.Environments(t.Context()); err != nil || len(envs) != 1 {
		t.Fatalf("environments after the upgrade: %v, %v; want prod", envs, err)
	}
	raw, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	rows, err := raw.Query(`SELECT name FROM schema_migrations ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		got = append(got, name)
	}
	storetest.CheckMigrations(t, got)
	var old int
	if err := raw.QueryRow(`SELECT COUNT(*) FROM sqlite_master WHERE name = 'migrations'`).Scan(&old); err != nil || old != 0 {
		t.Errorf("table migrations still there (%d, %v)", old, err)
	}
}

// TestNewerSchemaRefused: a store migrated by a newer version (it records a
// migration this version does not have) is refused, naming the migration,
// and left as it was.
func TestNewerSchemaRefused(t *testing.T) {
	path, raw := storeWithEnv(t, "newer.db")
	if _, err := raw.Exec(`INSERT INTO schema_migrations (name) VALUES ('9999_from_the_future.sql')`); err != nil {
		t.Fatal(err)
	}
	var before int
	raw.QueryRow(`SELECT COUNT(*) FROM schema_migrations`).Scan(&before)

	db := sqlite.NewDB(path)
	err := db.Open()
	if err == nil {
		db.Close()
		t.Fatal("a store migrated by a newer version opened; want it refused")
	}
	if !strings.Contains(err.Error(), "9999_from_the_future.sql") || !strings.Contains(err.Error(), "newer") {
		t.Errorf("error %q: want it to name 9999_from_the_future.sql and say the store is of a newer version", err)
	}
	var after int
	raw.QueryRow(`SELECT COUNT(*) FROM schema_migrations`).Scan(&after)
	if after != before {
		t.Errorf("schema_migrations has %d rows after the refusal, %d before", after, before)
	}
}
