package postgres

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	valueloop "github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/postgres/pgtest"
)

// crossNodeLocks are the locks a node holds while it works on other
// connections, by the name their key is made of.
var crossNodeLocks = []struct {
	name string
	lock func(db *DB, ctx context.Context) (context.Context, func(), error)
}{
	{"features", (*DB).LockSync},
	{"value writes", (*DB).LockValueWrites},
	{"rollouts", (*DB).LockRollouts},
}

// openNodes opens n nodes on one schema.
func openNodes(t *testing.T, dsn string, n int) []*DB {
	t.Helper()
	var dbs []*DB
	for range n {
		db := NewDB(dsn)
		if err := db.Open(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		dbs = append(dbs, db)
	}
	return dbs
}

// holder is the backend holding the cross-node lock called name, 0 when
// none does.
func holder(t *testing.T, db *DB, name string) int {
	t.Helper()
	return slices.Max(append(backends(t, db, lockSync, name, true), 0))
}

// backends are the backends holding (granted) or waiting for the lock of
// class and name.
func backends(t *testing.T, db *DB, class int32, name string, granted bool) []int {
	t.Helper()
	rows, err := db.pool.Query(t.Context(), `SELECT pid FROM pg_locks
		WHERE locktype = 'advisory' AND classid::int8 = $1 AND objid::int8 = $2 AND objsubid = 2 AND granted = $3`,
		int64(uint32(class)), int64(uint32(db.lockKey(name))), granted)
	if err != nil {
		t.Fatal(err)
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		t.Fatal(err)
	}
	return pids
}

// lockedOnA opens two nodes a and b on one schema and takes a's lock
// (released at the end of the test), under ctxA.
func lockedOnA(t *testing.T, lock func(*DB, context.Context) (context.Context, func(), error)) (a, b *DB, ctxA context.Context) {
	t.Helper()
	dbs := openNodes(t, pgtest.Schema(t), 2)
	ctxA, release, err := lock(dbs[0], t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(release)
	return dbs[0], dbs[1], ctxA
}

// TestLostLockFailsWrite: a node whose lock's backend is terminated (an
// operator's pg_terminate_backend, a crash of that backend) while it works
// under the lock must not commit its writes, since another node may have
// taken the lock and written meanwhile. Before, both nodes' writes under
// the one lock committed.
func TestLostLockFailsWrite(t *testing.T) {
	for _, l := range crossNodeLocks {
		t.Run(l.name, func(t *testing.T) {
			a, b, ctxA := lockedOnA(t, l.lock)
			pid := holder(t, a, l.name)
			if pid == 0 {
				t.Fatal("no backend holds the lock A took")
			}
			pgtest.Exec(t, `SELECT pg_terminate_backend($1)`, pid)

			ctxB, releaseB, err := l.lock(b, t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if err := b.CreateEnvironment(ctxB, valueloop.Environment{Key: "b", Name: "B"}, "test"); err != nil {
				t.Fatalf("B's write under the lock it took: %v", err)
			}
			err = a.CreateEnvironment(ctxA, valueloop.Environment{Key: "a", Name: "A"}, "test")
			releaseB()
			if err == nil {
				t.Fatal("A's write under the lock it lost committed, as did B's under the same lock")
			}
			t.Logf("A's write: %v", err)
			if envs, err := a.Environments(t.Context()); err != nil {
				t.Fatal(err)
			} else if len(envs) != 1 {
				t.Errorf("%d environments stored, want B's only", len(envs))
			}
		})
	}
}

// TestNextHolderWaitsForFencedWrite: a write that found the lock held and
// has not committed when the holding backend ends is waited for by the
// next holder, so that it reads what that write stored rather than write
// over it.
func TestNextHolderWaitsForFencedWrite(t *testing.T) {
	for _, l := range crossNodeLocks {
		t.Run(l.name, func(t *testing.T) {
			a, b, ctxA := lockedOnA(t, l.lock)
			tx, err := a.sdb.BeginTx(t.Context(), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback()
			if err := a.fence(ctxA, tx); err != nil {
				t.Fatalf("fence with the lock held: %v", err)
			}
			if _, err := tx.ExecContext(t.Context(), `INSERT INTO environments (key, name, created_at) VALUES ('a', 'A', now())`); err != nil {
				t.Fatal(err)
			}
			pgtest.Exec(t, `SELECT pg_terminate_backend($1)`, holder(t, a, l.name))

			type locked struct {
				ctx     context.Context
				release func()
				err     error
			}
			got := make(chan locked, 1)
			go func() {
				ctx, release, err := l.lock(b, t.Context())
				got <- locked{ctx, release, err}
			}()
			for len(backends(t, a, lockFence, l.name, false)) == 0 {
				select {
				case r := <-got:
					if r.err == nil {
						r.release() // the pool closes only once it is back
					}
					t.Fatalf("B took the lock while A's write was under way (err %v)", r.err)
				case <-time.After(5 * time.Millisecond):
				}
			}
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			r := <-got
			if r.err != nil {
				t.Fatal(r.err)
			}
			defer r.release()
			envs, err := b.Environments(r.ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(envs) != 1 || envs[0].Key != "a" {
				t.Fatalf("B reads environments %v after it waited for A's write of a", envs)
			}
		})
	}
}

// TestLockOutlivesIdleTimeout: a server (or role) with
// idle_in_transaction_session_timeout ends idle transactions; the one
// holding a cross-node lock is idle while the work reads and writes on
// other connections, and is kept: the work under it writes.
func TestLockOutlivesIdleTimeout(t *testing.T) {
	for _, l := range crossNodeLocks {
		t.Run(l.name, func(t *testing.T) {
			// The timeout ends the write's own transaction too when a pause
			// between its statements exceeds it (50 ms did, under load).
			dsn := pgtest.WithParam(t, pgtest.Schema(t), "idle_in_transaction_session_timeout", "400")
			db := openNodes(t, dsn, 1)[0]
			ctx, release, err := l.lock(db, t.Context())
			if err != nil {
				t.Fatal(err)
			}
			defer release()
			time.Sleep(1200 * time.Millisecond) // three times the timeout
			if holder(t, db, l.name) == 0 {
				t.Fatal("the lock was dropped with its idle transaction")
			}
			if err := db.CreateEnvironment(ctx, valueloop.Environment{Key: "e", Name: "E"}, "test"); err != nil {
				t.Fatalf("write under the lock after the idle timeout: %v", err)
			}
		})
	}
}

// TestFlagLockApartFromLeaders: a flag's lock (its verdicts, its fixed
// decision and plan) is of a class of its own. It was in the leaders'
// class under a 32-bit hash of its name, so a flag whose name hashed as a
// singleton work's ("rollouts") waited for as long as a node led that
// work. The collision is made by taking the leaders' lock under the
// flag's own key, as a leader of a work so named would.
func TestFlagLockApartFromLeaders(t *testing.T) {
	db := openNodes(t, pgtest.Schema(t), 1)[0]
	conn, err := db.connect(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	key := db.lockKey(flagLockName("prod", "checkout"))
	if _, err := conn.Exec(t.Context(), `SELECT pg_advisory_lock($1, $2)`, lockLeader, key); err != nil {
		t.Fatal(err)
	}
	tx, err := db.sdb.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	// A bound on the failure only: the lock is free or waited for forever.
	if _, err := tx.ExecContext(t.Context(), `SET LOCAL lock_timeout = '2s'`); err != nil {
		t.Fatal(err)
	}
	if err := db.lockFlag(t.Context(), tx, "prod", "checkout"); err != nil {
		t.Fatalf("flag lock while a leader holds its key in the leaders' class: %v", err)
	}
}
