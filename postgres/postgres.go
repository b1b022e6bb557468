// Package postgres stores Valueloop's data in PostgreSQL, for deployments of
// several identical nodes sharing one database. Most store methods are
// package sqlstore's, written once for SQLite and PostgreSQL and reached
// here through pgx's stdlib adapter; this package gives them their dialect
// (placeholders, timestamptz, row locks, driver error codes mapped to
// domain errors, retried serialization failures) and hooks (notifications,
// advisory locks). It passes the same contract as package sqlite (package
// storetest), and applies embedded versioned migrations in one transaction
// at Open under an advisory lock (so nodes may start at once). Every public
// method is one transaction.
//
// Beyond storage it holds what several nodes need from the database:
// notifications of changes sent inside the writing transaction and received
// by a Listener, a cheap version read for the periodic safety-net check,
// leader election for singleton work through session advisory locks
// (Leader), and the folding of ingested events into aggregates by one node
// (Aggregator), which keeps the aggregates exact when several nodes ingest
// events of the same users.
//
// What is not here: deciding what may change (packages flags, auth, ingest)
// and acting on a peer's change (package cluster).
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"log/slog"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/sqlstore"
	"github.com/valueloop/valueloop/tracing"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// DB is the PostgreSQL store. Construct with NewDB, set fields, then Open.
type DB struct {
	// Store holds the store methods written once for SQLite and
	// PostgreSQL (over database/sql through pgx's stdlib adapter); this
	// package adds event ingestion, the storing of delivery records, and
	// what several nodes need.
	*sqlstore.Store

	// DSN is a postgres:// URL or a key=value connection string.
	DSN string
	// Now is the clock used for every timestamp written.
	Now func() time.Time
	// MaxConns bounds the connection pool (0: pgx's default, at least 4).
	MaxConns int32
	// ConnectTimeout bounds each connection attempt (default 5s), so that a
	// wrong host fails fast.
	ConnectTimeout time.Duration
	// UserLogBytes and CachedUsers size the per-user state of event
	// ingestion (see users.go); NewDB sets the defaults.
	UserLogBytes int64
	CachedUsers  int
	Logger       *slog.Logger
	// Tracer, when set, traces the store methods' transactions and
	// queries (package sqlstore).
	Tracer *tracing.Tracer

	pool    *pgxpool.Pool
	sdb     *sql.DB // the pool through pgx's stdlib adapter, for sqlstore
	cfg     *pgxpool.Config
	schema  string // current_schema(): namespaces locks and notifications
	channel string
	users   userCaches // per-user states of event ingestion (users.go)
}

// MinConns is the smallest connection pool Open accepts.
const MinConns = 4

// NewDB returns a store for the database at dsn.
func NewDB(dsn string) *DB {
	return &DB{DSN: dsn, Now: time.Now, ConnectTimeout: 5 * time.Second,
		UserLogBytes: DefaultUserLogBytes, CachedUsers: DefaultCachedUsers}
}

// Open connects, checks that the database answers, and applies pending
// migrations. Its errors name the problem (unreachable host, unknown
// database, authentication) and never contain the password.
func (db *DB) Open() error {
	if db.Logger == nil {
		db.Logger = slog.New(slog.DiscardHandler)
	}
	if db.Now == nil {
		db.Now = time.Now
	}
	cfg, err := ParseDSN(db.DSN)
	if err != nil {
		return err
	}
	if db.ConnectTimeout > 0 {
		cfg.ConnConfig.ConnectTimeout = db.ConnectTimeout
	}
	if db.MaxConns > 0 {
		cfg.MaxConns = db.MaxConns
	}
	// Work under the rollouts' and the features' cross-node locks holds one
	// pooled connection for its lock and takes others for its reads and
	// writes; with both under way, fewer connections than this wait on each
	// other for ever.
	if cfg.MaxConns < MinConns {
		return fmt.Errorf("postgres: pool_max_conns is %d: at least %d connections are needed (work under a cross-node lock holds one for the lock and takes another)", cfg.MaxConns, MinConns)
	}
	// TCP keepalives of the server's own (a silent peer is dropped within
	// 25 s), asked for at startup by every connection, pooled or dedicated
	// (connect copies this configuration): a node whose host vanishes
	// (power cut, partition) sends no FIN, and with the system's defaults
	// the server would keep its session, and the locks it holds (the
	// leaders', and the rollouts' and features' of hold), for two hours
	// and more.
	maps.Copy(cfg.ConnConfig.RuntimeParams, map[string]string{
		"tcp_keepalives_idle": "10", "tcp_keepalives_interval": "5", "tcp_keepalives_count": "3"})
	db.cfg = cfg
	ctx, cancel := context.WithTimeout(context.Background(), 2*cfg.ConnConfig.ConnectTimeout+5*time.Second)
	defer cancel()
	if db.pool, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		return db.connectError(err)
	}
	var schema *string
	if err := db.pool.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		db.pool.Close()
		return db.connectError(err)
	}
	if schema == nil {
		db.pool.Close()
		return fmt.Errorf("postgres: no schema of the search_path (%s) exists in database %q: create it first",
			cfg.ConnConfig.RuntimeParams["search_path"], cfg.ConnConfig.Database)
	}
	db.schema = *schema
	db.channel = "valueloop"
	if db.schema != "public" {
		db.channel = "valueloop." + db.schema
	}
	db.openShared()
	if err := db.migrate(ctx); err != nil {
		db.Close()
		return err
	}
	return nil
}

// Close closes the pool.
func (db *DB) Close() error {
	if db.sdb != nil {
		db.sdb.Close()
	}
	if db.pool != nil {
		db.pool.Close()
	}
	return nil
}

// Ping reports whether the database accepts statements now; /readyz uses it.
func (db *DB) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := db.pool.Exec(ctx, `SELECT 1`); err != nil {
		return fmt.Errorf("postgres: %s", redact(err.Error(), db.cfg.ConnConfig.Password))
	}
	return nil
}

// Describe names the database for logs: host, port, database, user and
// schema; never the password.
func (db *DB) Describe() string {
	c := db.cfg.ConnConfig
	return fmt.Sprintf("postgres://%s@%s:%d/%s (schema %s)", c.User, c.Host, c.Port, c.Database, db.schema)
}

// ParseDSN parses a connection string; its error says what is wrong without
// repeating the password.
func ParseDSN(dsn string) (*pgxpool.Config, error) {
	if strings.TrimSpace(dsn) == "" {
		return nil, errors.New("postgres: empty connection string: want postgres://USER@HOST:PORT/DATABASE")
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		msg := err.Error()
		var pe *pgconn.ParseConfigError
		if errors.As(err, &pe) && pe.Unwrap() != nil {
			msg = pe.Unwrap().Error()
		}
		return nil, fmt.Errorf("postgres: not a valid connection string (%s): want postgres://USER[:PASSWORD]@HOST:PORT/DATABASE",
			redact(msg, dsnPassword(dsn)))
	}
	return cfg, nil
}

var passwordPattern = regexp.MustCompile(`(?i)(?:://[^:/@\s]*:([^@\s]*)@|password=('(?:[^'\\]|\\.)*'|\S+))`)

// dsnPassword finds the password in a DSN that may not parse.
func dsnPassword(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		if p, ok := u.User.Password(); ok {
			return p
		}
	}
	if m := passwordPattern.FindStringSubmatch(dsn); m != nil {
		return strings.Trim(m[1]+m[2], "'")
	}
	return ""
}

// redact removes a password from an error message.
func redact(msg, password string) string {
	if password == "" {
		return msg
	}
	msg = strings.ReplaceAll(msg, password, "xxxxx")
	return strings.ReplaceAll(msg, url.QueryEscape(password), "xxxxx")
}

func (db *DB) connectError(err error) error {
	c := db.cfg.ConnConfig
	msg := err.Error()
	var pe *pgconn.PgError
	var ce *pgconn.ConnectError
	switch {
	case errors.As(err, &pe):
		switch pe.Code {
		case "3D000":
			msg = fmt.Sprintf("database %q does not exist (create it, or fix the DSN's path)", c.Database)
		case "28P01", "28000":
			msg = fmt.Sprintf("authentication failed for user %q: check the user and password", c.User)
		default:
			msg = pe.Message + " (SQLSTATE " + pe.Code + ")"
		}
	case errors.As(err, &ce):
		msg = ce.Unwrap().Error()
	}
	// Several attempts (TLS then plain, several addresses) report one line
	// each, often the same.
	var lines []string
	for _, l := range strings.Split(msg, "\n") {
		if l = strings.TrimSpace(l); l != "" && !contains(lines, l) {
			lines = append(lines, l)
		}
	}
	msg = strings.Join(lines, "; ")
	return fmt.Errorf("postgres: cannot connect to %s:%d, database %q, user %q: %s",
		c.Host, c.Port, c.Database, c.User, redact(msg, c.Password))
}

// Advisory lock classes (the first key of the two-key form); the second key
// is a hash of the schema and a name, so several schemas of one database
// (tests) do not contend. One class per purpose: a 32-bit hash of one
// purpose's name (a flag's) equal to another's ("rollouts") cannot make
// the two wait for each other.
const (
	lockMigrate int32 = 0x564c0001
	lockLeader  int32 = 0x564c0002
	lockSync    int32 = 0x564c0005
	lockFence   int32 = 0x564c0006
	lockFlag    int32 = 0x564c0007
)

// LockSync waits until no other node syncs the value loop's features and
// holds their syncs off until release is called (features.SyncLocker): a
// sync that read the evidence before another node's change would store
// after it and undo it. The store's writes under the context returned
// commit only while the lock is held (hold).
func (db *DB) LockSync(ctx context.Context) (context.Context, func(), error) {
	return db.hold(ctx, "features", "the features' sync")
}

// LockValueWrites waits until no other node writes objectives or
// features and holds their writes off until release is called
// (features.WriteLocker): a write's checks against the stored features (a
// flag claimed twice, a dependency cycle, a dependant of a deleted
// feature) and its write must see no other node's write in between.
func (db *DB) LockValueWrites(ctx context.Context) (context.Context, func(), error) {
	return db.hold(ctx, "value writes", "the objectives' and features' writes")
}

// LockRollouts waits until no other node makes a rollout transition and
// holds theirs off until release is called (rollout.Locker): a leader's
// tick between a peer's step and its flag write would write the flag too.
func (db *DB) LockRollouts(ctx context.Context) (context.Context, func(), error) {
	return db.hold(ctx, "rollouts", "the rollouts")
}

// hold takes the lock called name (of class lockSync) in a transaction of
// the pool kept open until release is called: a node that dies releases it
// with its connection. The work under it reads and writes on other
// connections, so the lock could be lost unnoticed (the holding backend
// terminated) while a peer takes it and writes; hence a fence: every write
// of the store under the context returned (fence) first takes the name's
// lockFence shared and finds the holding backend still holding the lock,
// or fails; and a new holder, once it has the lock, waits for lockFence
// exclusive, that is for every write that passed that check to end. A
// write either commits before the next holder reads or does not commit.
// The holding transaction is idle between the work's statements, so it
// is exempt from idle_in_transaction_session_timeout.
func (db *DB) hold(ctx context.Context, name, what string) (_ context.Context, release func(), err error) {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("postgres: lock %s: %w", what, err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback(context.Background())
			err = fmt.Errorf("postgres: lock %s: %w", what, err)
		}
	}()
	if _, err = tx.Exec(ctx, `SET LOCAL idle_in_transaction_session_timeout = 0`); err != nil {
		return nil, nil, err
	}
	h := held{name: name, what: what, key: db.lockKey(name)}
	if err = tx.QueryRow(ctx, `SELECT pg_backend_pid() FROM (SELECT pg_advisory_xact_lock($1, $2)) AS l`, lockSync, h.key).Scan(&h.pid); err != nil {
		return nil, nil, err
	}
	// A statement of its own is a transaction of its own: the lock is
	// taken once every fenced write of the former holder ended, and let go.
	if _, err = db.pool.Exec(ctx, `SELECT pg_advisory_xact_lock($1, $2)`, lockFence, h.key); err != nil {
		return nil, nil, err
	}
	holds, _ := ctx.Value(heldKey{}).([]held)
	ctx = context.WithValue(ctx, heldKey{}, append(slices.Clip(holds), h))
	return ctx, func() { _ = tx.Rollback(context.Background()) }, nil
}

// held is a cross-node lock held (hold), by the backend pid.
type held struct {
	name, what string
	key        int32
	pid        int
}

type heldKey struct{}

// fence fails the write transaction tx unless every cross-node lock ctx
// was given under (hold) is still held by its backend, and makes the next
// holder of each wait for tx to end.
func (db *DB) fence(ctx context.Context, tx *sql.Tx) error {
	holds, _ := ctx.Value(heldKey{}).([]held)
	for _, h := range holds {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock_shared($1, $2)`, lockFence, h.key); err != nil {
			return fmt.Errorf("postgres: fence of the lock of %s: %w", h.what, err)
		}
		var ok bool
		err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT FROM pg_locks
			WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
			AND classid::int8 = $1 AND objid::int8 = $2 AND objsubid = 2 AND pid = $3 AND granted)`,
			int64(uint32(lockSync)), int64(uint32(h.key)), h.pid).Scan(&ok)
		if err != nil {
			return fmt.Errorf("postgres: fence of the lock of %s: %w", h.what, err)
		}
		if !ok {
			return valueloop.Errorf(valueloop.EUNAVAILABLE, "postgres: the lock of %s was lost (its connection ended); nothing written", h.what)
		}
	}
	return nil
}

func (db *DB) lockKey(name string) int32 {
	h := fnv.New32a()
	h.Write([]byte(db.schema))
	h.Write([]byte{0})
	h.Write([]byte(name))
	return int32(h.Sum32())
}

// renamed maps former names of migrations to their current ones (see
// package sqlstore): verdicts took the number 0007 that SQLite's verdicts
// have, 0006 being SQLite's event state.
var renamed = map[string]string{"0006_verdicts.sql": "0007_verdicts.sql"}

// migrate applies, in one transaction under an advisory lock, every embedded
// migration not applied yet (sqlstore.Migrate). A node that starts while
// another migrates waits for it and then finds nothing to do.
func (db *DB) migrate(ctx context.Context) error {
	sub, err := fs.Sub(migrationFS, "migrations")
	if err != nil {
		return err
	}
	err = func() error {
		tx, err := db.sdb.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1, $2)`, lockMigrate, db.lockKey("migrate")); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			name TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`); err != nil {
			return err
		}
		ran, err := sqlstore.Migrate(ctx, tx, dialect, sub, renamed)
		if err != nil {
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
		for _, name := range ran {
			db.Logger.Info("postgres: migration applied", "name", name)
		}
		return nil
	}()
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

// domainError turns driver error codes (never messages) into domain errors.
func domainError(err error) error {
	var pe *pgconn.PgError
	if err == nil || !errors.As(err, &pe) {
		return err
	}
	var ae *valueloop.Error
	if errors.As(err, &ae) {
		return err
	}
	if de := codeError(err); de != nil {
		return de
	}
	return fmt.Errorf("postgres: %w", err)
}

// codeError is the domain error of a driver error code; nil for codes
// that mean nothing to the domain.
func codeError(err error) error {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return nil
	}
	switch pe.Code {
	case "23505": // unique_violation
		return &valueloop.Error{Code: valueloop.ECONFLICT, Message: "already exists"}
	case "23503": // foreign_key_violation
		return &valueloop.Error{Code: valueloop.ENOTFOUND, Message: "referenced item does not exist"}
	case "23514", "23502", "22001", "22P02", "22003": // check, not null, too long, bad text, out of range
		return &valueloop.Error{Code: valueloop.EINVALID, Message: "value not accepted by the store"}
	case "40001", "40P01":
		return &valueloop.Error{Code: valueloop.ECONFLICT, Message: "a concurrent change got there first: try again"}
	}
	return nil
}

// connect opens a dedicated connection (not from the pool), for LISTEN and
// session advisory locks. It asks for the keepalives Open configured, and
// turns off for itself the server's timeouts that could end its session
// sooner than the keepalives would (set by a role, a database or the DSN):
// a leader whose pings go unanswered keeps working for up to Leader.Grace,
// trusting that the session, and its lock, outlive the grace; a
// tcp_user_timeout or idle_session_timeout below it would hand the lock to
// another node meanwhile. Both are looked up in pg_settings, so a server
// without one (idle_session_timeout is PostgreSQL 14's) is not refused.
func (db *DB) connect(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, db.cfg.ConnConfig.Copy())
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, `SELECT set_config(name, '0', false) FROM pg_settings
		WHERE name IN ('idle_session_timeout', 'tcp_user_timeout')`); err != nil {
		conn.Close(ctx)
		return nil, fmt.Errorf("postgres: turning off the session timeouts of a dedicated connection: %w", err)
	}
	return conn, nil
}
