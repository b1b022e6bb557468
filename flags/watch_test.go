package flags_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/flags"
	"github.com/valueloop/valueloop/sqlite/sqlitetest"
)

// outageStore is a real SQLite store whose flag set writes fail while down
// is set, as a shared store's do while its database is unreachable.
type outageStore struct {
	flags.Store
	down     atomic.Bool
	refusals atomic.Int64
}

func (s *outageStore) ReplaceFlagSet(ctx context.Context, env string, set *valueloop.FlagSet, ifVersion int64, actor, reason string) (valueloop.FlagSetChange, error) {
	if s.down.Load() {
		s.refusals.Add(1)
		return valueloop.FlagSetChange{}, errors.New("database unreachable")
	}
	return s.Store.ReplaceFlagSet(ctx, env, set, ifVersion, actor, reason)
}

// TestWatchFileRetriesAfterStoreFailure: a file edit that could not be
// stored (the store failed, not the file) is applied once the store is
// back. The watcher took the edit as seen and waited for the next edit, so
// the file and the flags served differed until someone touched the file.
func TestWatchFileRetriesAfterStoreFailure(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	store := &outageStore{Store: sqlitetest.Open(t, nil)}
	s := flags.NewService(store, nil)
	if err := s.EnsureEnvironment(ctx, valueloop.Environment{Key: "prod", Name: "Prod"}, "t"); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "flags.json")
	copyFile(t, "testdata/watch_before.json", path)
	if err := s.ApplyFile(ctx, "prod", path); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); s.WatchFile(ctx, "prod", path, time.Millisecond) }()
	defer func() { cancel(); <-done }()

	store.down.Store(true)
	copyFile(t, "testdata/watch_after.json", path)
	waitFor(t, "the edit to reach the store", func() bool { return store.refusals.Load() > 0 })
	store.down.Store(false)
	waitFor(t, "the edit to be served", func() bool {
		return *s.Live("prod").Snapshot.Set().Flags["banner"].DefaultVariant == "on"
	})
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err == nil {
		err = os.WriteFile(to, data, 0o600)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond until it holds; a generous bound keeps a broken
// watcher from hanging the suite.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
	}
}
