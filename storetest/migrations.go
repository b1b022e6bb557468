package storetest

import (
	"os"
	"slices"
	"testing"
)

// CheckMigrations checks that got, the names a store recorded in
// schema_migrations in order, are the files of the package's migrations
// directory (the test's working directory holds it), each once.
func CheckMigrations(t *testing.T, got []string) {
	t.Helper()
	files, err := os.ReadDir("migrations")
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, f := range files {
		want = append(want, f.Name())
	}
	if !slices.Equal(got, want) {
		t.Errorf("schema_migrations = %v, want %v", got, want)
	}
}
