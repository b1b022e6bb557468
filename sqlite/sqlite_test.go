package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/sqlite"
	"github.com/valueloop/valueloop/storetest"
)

// The store-generic cases (delivery's included) are in the contract, run
// by TestContract; the tests of this package need SQLite itself.
var (
	_ storetest.Store                 = (*sqlite.DB)(nil)
	_ storetest.DeliveryStore         = (*sqlite.DB)(nil)
	_ storetest.FixedDecisionStore    = (*sqlite.DB)(nil)
	_ storetest.UserAggregatesReader  = (*sqlite.DB)(nil)
	_ storetest.FlagsAggregatesReader = (*sqlite.DB)(nil)
)

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T, clock *storetest.Clock) storetest.Store {
		return MustOpen(t, clock)
	})
}

// MustOpen opens a fresh database in a temporary directory.
func MustOpen(tb testing.TB, clock *storetest.Clock) *sqlite.DB {
	tb.Helper()
	return mustOpenFile(tb, filepath.Join(tb.TempDir(), "test.db"), clock)
}

// mustOpenFile opens the database at path, with its clock set to clock's
// when clock is not nil, and closes it when the test ends. Tests that
// reopen a database call it again on the same path.
func mustOpenFile(tb testing.TB, path string, clock *storetest.Clock) *sqlite.DB {
	tb.Helper()
	db := sqlite.NewDB(path)
	return storetest.Opened(tb, db, &db.Now, clock)
}

// reopenable opens a fresh database in a temporary directory and returns
// it with a function that closes it and opens it again on the same file.
func reopenable(tb testing.TB, clock *storetest.Clock) (*sqlite.DB, func() *sqlite.DB) {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "test.db")
	db := mustOpenFile(tb, path, clock)
	return db, func() *sqlite.DB {
		db.Close()
		db = mustOpenFile(tb, path, clock)
		return db
	}
}

// TestSurvivesReopen runs contract cases with the database closed and
// opened again midway: rollouts with their history and audit trail,
// hypotheses, and the ingested events (old ids still recognised, aggregates
// equal to a recomputation) survive a restart.
func TestSurvivesReopen(t *testing.T) {
	t.Run("Rollouts", func(t *testing.T) {
		db, reopen := reopenable(t, nil)
		storetest.Rollouts(t, db, func() storetest.RolloutStore { return reopen() })
	})
	t.Run("Hypotheses", func(t *testing.T) {
		clock := &storetest.Clock{T: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
		db, reopen := reopenable(t, clock)
		storetest.Hypotheses(t, db, clock, func() storetest.HypothesisStore { return reopen() })
	})
	t.Run("PipelineAggregates", func(t *testing.T) {
		db, reopen := reopenable(t, nil)
		storetest.PipelineAggregates(t, db, func() storetest.EventStore { return reopen() })
	})
}

func TestReopenKeepsData(t *testing.T) {
	db, reopen := reopenable(t, nil)
	mustCreateEnv(t, db, "prod")
	db = reopen() // migrations run again and must be no-ops
	envs, err := db.Environments(t.Context())
	if err != nil || len(envs) != 1 || envs[0].Key != "prod" {
		t.Fatalf("after reopen: %+v, %v", envs, err)
	}
}

// mustCreateEnv creates environment key in db.
func mustCreateEnv(tb testing.TB, db *sqlite.DB, key string) {
	tb.Helper()
	if err := db.CreateEnvironment(context.Background(), valueloop.Environment{Key: key, Name: key}, "t"); err != nil {
		tb.Fatal(err)
	}
}
