package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/sqlite"
	"github.com/valueloop/valueloop/storetest"
)

// The store-generic cases (delivery's included) are in the contract, run
// by TestContract; the tests of this package need SQLite itself.
var (
	_ storetest.Store         = (*sqlite.DB)(nil)
	_ storetest.DeliveryStore = (*sqlite.DB)(nil)
)

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T, clock *storetest.Clock) storetest.Store {
		return MustOpen(t, clock)
	})
}

// MustOpen opens a fresh database in a temporary directory.
func MustOpen(tb testing.TB, clock *storetest.Clock) *sqlite.DB {
	tb.Helper()
	db := sqlite.NewDB(filepath.Join(tb.TempDir(), "test.db"))
	return storetest.Opened(tb, db, &db.Now, clock)
}

func TestReopenKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "test.db")
	db := sqlite.NewDB(path)
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateEnvironment(t.Context(), valueloopEnv("prod"), "t"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db = sqlite.NewDB(path) // migrations run again and must be no-ops
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	envs, err := db.Environments(t.Context())
	if err != nil || len(envs) != 1 || envs[0].Key != "prod" {
		t.Fatalf("after reopen: %+v, %v", envs, err)
	}
}

func valueloopEnv(key string) valueloop.Environment {
	return valueloop.Environment{Key: key, Name: key}
}
