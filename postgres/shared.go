package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/stdlib"

	"github.com/valueloop/valueloop/metric"
	"github.com/valueloop/valueloop/sqlstore"
)

// dialect is what PostgreSQL needs of the shared store methods (package
// sqlstore): numbered placeholders, timestamptz columns, row locks (several
// nodes write), repeatable reads, and retries of serialization failures.
var dialect = sqlstore.Dialect{
	Name:        "postgres",
	Numbered:    true,
	Time:        func(t time.Time) any { return t.UTC() },
	ForUpdate:   " FOR UPDATE",
	ReadTx:      sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true},
	DomainError: codeError,
	Retryable:   retryable,
}

// openShared gives the shared store methods a database/sql handle over the
// pool, through pgx's stdlib adapter.
func (db *DB) openShared() {
	db.sdb = stdlib.OpenDBFromPool(db.pool)
	db.Store = sqlstore.New(sqlstore.Options{
		D: dialect, Read: db.sdb, Write: db.sdb,
		Now:           func() time.Time { return db.Now() },
		Changed:       db.changed,
		InsertRecords: insertRecords,
		Tracer:        db.Tracer,
		LockFlag:      db.lockFlag,
		Fence:         db.fence,
		ReadAggregates: func(ctx context.Context, env, query string, args []any) ([]metric.Aggregate, error) {
			return readAggregates(ctx, db.pool, env, query, args)
		},
	})
}

// lockFlag takes, for the rest of tx, the lock of flag in env (its
// verdicts, its decision and plan under fixed inference), in a class of its
// own: the previous version took it in the leaders' class, where a flag
// whose name hashed as "rollouts" waited for as long as a node led the
// rollouts. During a rolling upgrade the old and new nodes' locks do not
// exclude each other; the primary keys of verdicts (a transition's
// sequence number), fixed decisions and fixed plans then fail the second
// of two writes of one flag rather than store it.
func (db *DB) lockFlag(ctx context.Context, tx *sql.Tx, env, flag string) error {
	_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1, $2)`, lockFlag, db.lockKey(flagLockName(env, flag)))
	if err != nil {
		return fmt.Errorf("postgres: lock flag %s in %s: %w", flag, env, err)
	}
	return nil
}

// flagLockName is the name of flag's lock in env.
func flagLockName(env, flag string) string { return env + "\x00" + flag }

// changed tells peers of a change of the shared store methods: tokens and
// metrics raise their change counter, flags notify (their counter is the
// environment's version).
func (db *DB) changed(ctx context.Context, tx *sql.Tx, kind, env string) error {
	exec := func(q string, args ...any) error { _, err := tx.ExecContext(ctx, q, args...); return err }
	return db.signal(exec, kind != KindFlags, kind, env)
}

// signal notifies peers of a change of kind, first raising its counter
// when count is set, on the transaction exec runs in.
func (db *DB) signal(exec func(q string, args ...any) error, count bool, kind, env string) error {
	if count {
		if err := exec(`UPDATE change_counters SET n = n + 1 WHERE kind = $1`, kind); err != nil {
			return fmt.Errorf("postgres: count %s change: %w", kind, err)
		}
	}
	if err := exec(`SELECT pg_notify($1, $2)`, db.channel, kind+":"+env); err != nil {
		return fmt.Errorf("postgres: notify %s: %w", kind, err)
	}
	return nil
}
