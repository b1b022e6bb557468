// Package sqlite stores Valueloop's data in one embedded SQLite file, the
// default for a single node. It uses a pure-Go driver (modernc.org/sqlite), WAL
// journaling and embedded, versioned migrations applied in a transaction at
// Open. Most store methods are package sqlstore's, written once for SQLite
// and PostgreSQL; this package gives them their dialect and holds its own
// event log (events.go), a measured hot path. Every public method is one
// transaction.
//
// What is not here: flag evaluation (package evaluation serves from memory) and
// the rules of what may change (package flags and the HTTP layer decide; this
// package only records).
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	sqlite3 "modernc.org/sqlite"
	sqlite3lib "modernc.org/sqlite/lib"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/metric"
	"github.com/valueloop/valueloop/sqlstore"
	"github.com/valueloop/valueloop/tracing"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// dialect is what SQLite needs of the shared store methods: ? placeholders,
// timestamps as text, no row locks (the single writer serialises writes).
var dialect = sqlstore.Dialect{
	Name:        "sqlite",
	Time:        sqlstore.FormatTime,
	ReadTx:      sql.TxOptions{ReadOnly: true},
	DomainError: codeError,
}

// DB is the SQLite store. Construct with NewDB, set fields, then Open.
type DB struct {
	// Store holds the store methods written once for SQLite and
	// PostgreSQL; this package adds the event log (events.go).
	*sqlstore.Store

	// Path of the database file; its directory is created when missing.
	Path string
	// Now is the clock used for every timestamp written.
	Now func() time.Time
	// Tracer, when set, traces the store methods' transactions and
	// queries (package sqlstore).
	Tracer *tracing.Tracer
	// KeepSchema makes Open apply no migration: a store that needs one is
	// refused with ErrMigrationsPending. For a process that opens the store
	// of a running server (token recover), which must not change the schema
	// under it.
	KeepSchema bool
	// SyncFull makes every commit wait until the disk has it (SQLite's
	// synchronous=FULL), so that an OS crash or a power loss loses no
	// acknowledged write; by default (NORMAL) only a crash of the process
	// is survived, and a power loss can take the transactions committed
	// since the last checkpoint. It costs an fsync per transaction.
	SyncFull bool

	db  *sql.DB // readers
	wdb *sql.DB // the single writer: SQLite serialises writes anyway, and one
	// connection avoids busy-retries between our own transactions.

	ev events // per-user state and statements of the event store (events.go)

	stopCheckpoints func() // ends checkpointer; nil when none runs
}

// NewDB returns a store for the file at path.
func NewDB(path string) *DB {
	return &DB{Path: path, Now: time.Now}
}

// Open opens the database file and applies pending migrations.
func (db *DB) Open() error {
	if db.Path == "" {
		return errors.New("sqlite: path required")
	}
	if db.Path != ":memory:" {
		if err := os.MkdirAll(filepath.Dir(db.Path), 0o700); err != nil {
			return fmt.Errorf("sqlite: create directory: %w", err)
		}
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "journal_mode(WAL)")
	// NORMAL in WAL mode loses nothing a process crash (kill -9) could take:
	// a committed transaction is in the WAL file before COMMIT returns. Only
	// an OS crash or a power loss could drop the last transactions, which
	// FULL (SyncFull) prevents at the price of an fsync per commit.
	if db.SyncFull {
		q.Add("_pragma", "synchronous(FULL)")
	} else {
		q.Add("_pragma", "synchronous(NORMAL)")
	}
	dsn := "file:" + db.Path + "?" + q.Encode()
	var err error
	if db.db, err = sql.Open("sqlite", dsn); err != nil {
		return fmt.Errorf("sqlite: open %s: %w", db.Path, err)
	}
	wdsn := dsn + "&_txlock=immediate&_pragma=" + url.QueryEscape(fmt.Sprintf("wal_autocheckpoint(%d)", writerCheckpoints)) +
		"&_pragma=" + url.QueryEscape(fmt.Sprintf("journal_size_limit(%d)", walSizeLimit))
	if db.wdb, err = sql.Open("sqlite", wdsn); err != nil {
		return fmt.Errorf("sqlite: open %s: %w", db.Path, err)
	}
	db.wdb.SetMaxOpenConns(1)
	db.Store = sqlstore.New(sqlstore.Options{D: dialect, Read: db.db, Write: db.wdb, Now: func() time.Time { return db.Now() }, Tracer: db.Tracer,
		ReadAggregates: func(ctx context.Context, env, query string, args []any) ([]metric.Aggregate, error) {
			return readAggregates(ctx, db.db, env, query, args)
		},
	})
	migrate := db.migrate
	if db.KeepSchema {
		migrate = db.checkSchema
	}
	if err := migrate(context.Background()); err != nil {
		db.Close()
		return err
	}
	if db.Path != ":memory:" {
		db.startCheckpoints()
	}
	return nil
}

// Checkpoints copy the write-ahead log into the database file and sync
// it. SQLite runs them on the connection that commits, by default every
// 1,000 pages: under a stream of events that is several times a second,
// each one holding the single writer while it copies and waits for the
// disk. The writer's connection checkpoints only when the log is very long
// (a safety net); a goroutine, on a connection of its own, checkpoints
// whenever checkpointPages were written, concurrently with the writer.
//
// A log starts again from its beginning only when a write transaction
// begins with every frame of it copied, which a writer that never pauses
// never gives a concurrent checkpoint the time for: once the log holds
// restartPages, the goroutine runs a RESTART checkpoint, which holds off
// the writer while it copies the few frames left, so that the next
// transaction starts the log over.
const (
	checkpointEvery   = 200 * time.Millisecond
	checkpointPages   = 4096                // 16 MiB of 4 KiB pages
	restartPages      = 2 * checkpointPages // 32 MiB
	writerCheckpoints = 1 << 16             // 256 MiB: the writer's own checkpoints
	// walSizeLimit is what the log file is cut back to when it starts
	// over, should it have grown beyond.
	walSizeLimit = 64 << 20
)

func (db *DB) startCheckpoints() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	db.stopCheckpoints = func() { cancel(); <-done }
	go func() {
		defer close(done)
		t := time.NewTicker(checkpointEvery)
		defer t.Stop()
		var conn *sql.Conn
		defer func() {
			if conn != nil {
				conn.Close()
			}
		}()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if conn == nil {
				var err error
				if conn, err = db.db.Conn(ctx); err != nil {
					continue
				}
			}
			if err := checkpoint(ctx, conn); err != nil && ctx.Err() == nil {
				conn.Close()
				conn = nil
			}
		}
	}()
}

// checkpoint copies the log into the database when checkpointPages frames
// wait, without waiting for anyone (PASSIVE), and starts the log over once
// it holds restartPages.
func checkpoint(ctx context.Context, conn *sql.Conn) error {
	var busy, frames, copied int
	mode := func(m string) error {
		return conn.QueryRowContext(ctx, `PRAGMA wal_checkpoint(`+m+`)`).Scan(&busy, &frames, &copied)
	}
	// NOOP copies nothing: it reports the log's frames and how many are
	// in the database already.
	if err := mode("NOOP"); err != nil {
		return err
	}
	if frames-copied >= checkpointPages {
		if err := mode("PASSIVE"); err != nil {
			return err
		}
	}
	// Once every frame is copied (by the last RESTART, say) the next write
	// starts the log over by itself: an idle server need not ask again.
	if frames >= restartPages && copied < frames {
		return mode("RESTART")
	}
	return nil
}

// Close closes the database.
func (db *DB) Close() error {
	if db.stopCheckpoints != nil {
		db.stopCheckpoints()
		db.stopCheckpoints = nil
	}
	var errs []error
	if db.db != nil {
		errs = append(errs, db.db.Close())
	}
	if db.wdb != nil {
		errs = append(errs, db.wdb.Close())
	}
	return errors.Join(errs...)
}

// renamed maps former names of migrations to their current ones (see
// package sqlstore); SQLite's kept theirs.
var renamed = map[string]string{}

// ErrMigrationsPending is why Open refuses a store that needs migrations
// when KeepSchema is set.
var ErrMigrationsPending = errors.New("the store needs migrations")

// checkSchema refuses a store that migrate would change, reading only.
func (db *DB) checkSchema(ctx context.Context) error {
	sub, err := fs.Sub(migrationFS, "migrations")
	if err != nil {
		return err
	}
	todo, err := sqlstore.Pending(ctx, db.db, sub, renamed)
	switch {
	case err != nil:
		return fmt.Errorf("sqlite: %w: %w", ErrMigrationsPending, err)
	case len(todo) > 0:
		return fmt.Errorf("sqlite: %w this version applies (%s)", ErrMigrationsPending, strings.Join(todo, ", "))
	}
	return nil
}

// migrate applies, in one transaction, every embedded migration not
// applied yet (sqlstore.Migrate). Stores made before the migrations were
// recorded in schema_migrations recorded them in a table migrations, by
// path ("migrations/0001_init.sql"): their records move over first.
func (db *DB) migrate(ctx context.Context) error {
	tx, err := db.wdb.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		name TEXT PRIMARY KEY, applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)`); err != nil {
		return fmt.Errorf("sqlite: create schema_migrations: %w", err)
	}
	var old int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'migrations'`).Scan(&old); err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	if old > 0 {
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO schema_migrations (name)
			SELECT replace(name, 'migrations/', '') FROM migrations`); err != nil {
			return fmt.Errorf("sqlite: move migration records: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `DROP TABLE migrations`); err != nil {
			return fmt.Errorf("sqlite: move migration records: %w", err)
		}
	}
	sub, err := fs.Sub(migrationFS, "migrations")
	if err != nil {
		return err
	}
	if _, err := sqlstore.Migrate(ctx, tx, dialect, sub, renamed); err != nil {
		return fmt.Errorf("sqlite: migration %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	return nil
}

// write runs fn in one write transaction.
func (db *DB) write(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := db.wdb.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return domainError(err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: commit: %w", domainError(err))
	}
	return nil
}

// domainError turns driver error codes (never messages) into domain errors.
func domainError(err error) error {
	if de := codeError(err); de != nil {
		return de
	}
	return err
}

// codeError is the domain error of a driver error code; nil for codes
// that mean nothing to the domain.
func codeError(err error) error {
	var se *sqlite3.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3lib.SQLITE_CONSTRAINT_UNIQUE, sqlite3lib.SQLITE_CONSTRAINT_PRIMARYKEY:
			return &valueloop.Error{Code: valueloop.ECONFLICT, Message: "already exists"}
		case sqlite3lib.SQLITE_CONSTRAINT_FOREIGNKEY:
			return &valueloop.Error{Code: valueloop.ENOTFOUND, Message: "referenced item does not exist"}
		}
	}
	return nil
}

// placeholders returns "?, ?, ?" for n values.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}
