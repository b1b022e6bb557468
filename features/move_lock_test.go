package features_test

import (
	"context"
	"testing"
	"time"

	"github.com/valueloop/valueloop/features"
	"github.com/valueloop/valueloop/value"
)

// moveWatcher reports whether the sync lock was held when a move was
// stored.
type moveWatcher struct {
	features.Store
	svc    *features.Service
	locked []bool
}

func (m *moveWatcher) MoveFeature(ctx context.Context, key string, stage value.Stage, reason, actor string, at time.Time) (value.Event, error) {
	m.locked = append(m.locked, features.SyncLocked(m.svc))
	return m.Store.MoveFeature(ctx, key, stage, reason, actor, at)
}

// TestMoveCheckedUnderSyncLock: Move checks that the lifecycle can reach
// the stage and stores the move under the sync lock. The check was made
// by a sync that let go of the lock before the move was stored, so a sync
// in between (evidence just linked: the feature validated) could make the
// stored move one back, which the lifecycle ignores while the command
// reports success. A deterministic interleaving of the race would need a
// hook inside Move; the lock held at the write is what excludes it.
func TestMoveCheckedUnderSyncLock(t *testing.T) {
	svc, db := mustService(t)
	ctx := context.Background()
	if err := svc.PutFeature(ctx, feature("a", ""), "", "t"); err != nil {
		t.Fatal(err)
	}
	w := &moveWatcher{Store: db, svc: svc}
	svc.Store = w
	if _, err := svc.Move(ctx, "a", value.Ready, "", "t"); err != nil {
		t.Fatal(err)
	}
	if len(w.locked) != 1 || !w.locked[0] {
		t.Errorf("moves stored with the sync lock held: %v, want [true]", w.locked)
	}
	if features.SyncLocked(svc) {
		t.Error("the sync lock is still held after Move")
	}
}
