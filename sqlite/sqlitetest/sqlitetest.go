// Package sqlitetest gives a test a fresh SQLite store in its temporary
// directory, closed when the test ends: the store most tests of the
// services and handlers run on.
package sqlitetest

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/valueloop/valueloop/sqlite"
)

// Open opens a fresh, migrated store; now, when not nil, is its clock. It
// is closed when tb ends.
func Open(tb testing.TB, now func() time.Time) *sqlite.DB {
	tb.Helper()
	db := sqlite.NewDB(filepath.Join(tb.TempDir(), "valueloop.db"))
	if now != nil {
		db.Now = now
	}
	if err := db.Open(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}
