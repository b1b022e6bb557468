package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

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

// lockShared is the advisory lock class of the locks the shared store
// methods take (today: one flag's verdicts, so that two nodes never record
// the same transition twice).
const lockShared int32 = 0x564c0002

// openShared gives the shared store methods a database/sql handle over the
// pool, through pgx's stdlib adapter.
func (db *DB) openShared() {
	sdb := stdlib.OpenDBFromPool(db.pool)
	db.Store = &sqlstore.Store{
		D: dialect, Read: sdb, Write: sdb,
		Now:           func() time.Time { return db.Now() },
		Changed:       db.changed,
		InsertRecords: insertRecords,
		Lock: func(ctx context.Context, tx *sql.Tx, name string) error {
			_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1, $2)`, lockShared, db.lockKey(name))
			return err
		},
	}
}

// changed tells peers of a change of the shared store methods: tokens
// raise their change counter, flags notify.
func (db *DB) changed(ctx context.Context, tx *sql.Tx, kind, env string) error {
	exec := func(q string, args ...any) error { _, err := tx.ExecContext(ctx, q, args...); return err }
	return db.signal(exec, kind == KindTokens, kind, env)
}

// notify sends a change notification that peers receive when tx commits
// (and only then). kind is one of the Change kinds; env may be empty.
func (db *DB) notify(ctx context.Context, tx pgx.Tx, kind, env string) error {
	return db.signal(pgxExec(ctx, tx), false, kind, env)
}

// bump raises a change counter (see change_counters) and notifies.
func (db *DB) bump(ctx context.Context, tx pgx.Tx, kind, env string) error {
	return db.signal(pgxExec(ctx, tx), true, kind, env)
}

func pgxExec(ctx context.Context, tx pgx.Tx) func(q string, args ...any) error {
	return func(q string, args ...any) error { _, err := tx.Exec(ctx, q, args...); return err }
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

// audit records a change of metrics or delivery inside its pgx
// transaction, as the shared store methods do theirs.
func (db *DB) audit(ctx context.Context, tx pgx.Tx, actor, env, action, target string, before, after []byte, reason string) error {
	_, err := tx.Exec(ctx, `INSERT INTO audit (at, actor, environment, action, target, before, after, reason) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		db.now(), actor, env, action, target, nullString(before), nullString(after), reason)
	if err != nil {
		return fmt.Errorf("postgres: audit %s %s: %w", action, target, err)
	}
	return nil
}

func nullString(b []byte) *string {
	if b == nil {
		return nil
	}
	s := string(b)
	return &s
}
