// Package sqlstore holds the store methods of Valueloop written once over
// database/sql, serving both SQLite (package sqlite) and PostgreSQL (package
// postgres, through pgx's stdlib adapter). Where the two databases differ
// (placeholders, how a timestamp is stored, row locks, driver error codes,
// retrying serialization failures, what a peer is told of a change) the
// difference is a field of Dialect or a hook of Store, not a second copy of
// the method.
//
// Queries are written with ? placeholders; a Dialect with Numbered set
// rewrites them to $1, $2, ... Both databases accept the rest as written:
// INSERT ... ON CONFLICT ... DO UPDATE with excluded, and RETURNING.
//
// A new store method goes here, once: a write in s.write (one
// transaction, retried whole on PostgreSQL serialization failures, driver
// codes mapped to domain errors), a read on s.read() or, for several
// queries that must agree, in s.readTx; timestamps written through
// s.o.D.Time and scanned with timeDest; a row read and then changed
// selected with s.o.D.ForUpdate appended; audit with s.audit in the same
// transaction; peers told with s.changed. Its tables come in a migration
// of the same number in sqlite/migrations and postgres/migrations (see
// Migrate), and its contract cases in package storetest.
//
// What is not here: opening the database and migrating it (each package
// does, with its own driver), and the driver-native paths measured to
// matter (SQLite's event log, PostgreSQL's COPY ingestion, LISTEN/NOTIFY
// and advisory locks).
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/delivery"
	"github.com/valueloop/valueloop/metric"
	"github.com/valueloop/valueloop/tracing"
)

// Dialect is what differs between the SQL databases a Store serves.
type Dialect struct {
	// Name prefixes error messages ("sqlite", "postgres").
	Name string
	// Numbered rewrites ? placeholders to $1, $2, ... (PostgreSQL).
	Numbered bool
	// Time encodes a timestamp for a column: SQLite stores sortable text,
	// PostgreSQL a timestamptz.
	Time func(time.Time) any
	// ForUpdate is appended to a SELECT that reads a row the transaction
	// goes on to change (" FOR UPDATE" where several writers may race;
	// empty where one writer is all there is).
	ForUpdate string
	// ReadTx are the options of the transactions of multi-query reads.
	ReadTx sql.TxOptions
	// DomainError maps a driver error code (never a message) to a
	// *valueloop.Error, or returns nil when the code means nothing to the
	// domain.
	DomainError func(error) error
	// Retryable reports whether a failed write transaction may be run
	// again from the start (serialization failure, deadlock); nil: never.
	Retryable func(error) bool
}

// Store is the shared implementation of the store methods. Packages sqlite
// and postgres embed a *Store (made by New) in their DB, which gives DB the
// methods and nothing else.
type Store struct {
	o      Options
	splits splitCache
}

// New returns the store methods over the databases and hooks of o.
func New(o Options) *Store { return &Store{o: o} }

// Options are what a Store works with: the database's dialect, its
// handles, its clock and the hooks where the databases differ.
type Options struct {
	D Dialect
	// Read serves reads; Write the write transactions (SQLite: one
	// connection, its single writer).
	Read, Write *sql.DB
	// Now is the clock of every timestamp written.
	Now func() time.Time
	// Changed, when set, runs inside a write transaction that changed
	// something of kind (KindFlags, KindTokens, KindMetrics) in env
	// (empty for kinds not of one environment), so that peers learn of it
	// when the transaction commits.
	Changed func(ctx context.Context, tx *sql.Tx, kind, env string) error
	// LockFlag, when set, takes the lock of flag in env that the
	// transaction holds until it ends (its verdicts, its decision and plan
	// under fixed inference); nil where writes are serialised anyway.
	LockFlag func(ctx context.Context, tx *sql.Tx, env, flag string) error
	// Fence, when set, runs first in every write transaction and fails it
	// when a lock ctx says the write is made under is no longer held
	// (PostgreSQL: a cross-node lock held on another connection).
	Fence func(ctx context.Context, tx *sql.Tx) error
	// InsertRecords, when set, stores the records of delivery id in its
	// own way (PostgreSQL: one statement per kind of record, whatever
	// their number); nil: one prepared statement per kind, run per record.
	InsertRecords func(ctx context.Context, tx *sql.Tx, id int64, d *delivery.Delivery) error
	// Tracer, when set, traces transactions and queries (tracing.go).
	Tracer *tracing.Tracer
	// ReadAggregates runs a read of the stored figures of env (query and
	// args from AggregatesQuery or UserCellsQuery, ? placeholders) on the
	// store's own driver, as its event transactions read them; the
	// figures' read methods (aggregates.go) go through it.
	ReadAggregates func(ctx context.Context, env, query string, args []any) ([]metric.Aggregate, error)
}

// Kinds of change passed to Changed (the values of cluster.KindFlags and
// cluster.KindTokens; package cluster is not imported here, to keep the
// storage layer below it).
const (
	KindFlags  = "flags"
	KindTokens = "tokens"
)

// Tx is a write transaction with the dialect's placeholders.
type Tx struct {
	Tx *sql.Tx
	s  *Store
	// span is the transaction's span when tracing: the parent of its
	// queries, whatever context the store method passes them (tracing.go).
	span trace.Span
}

// Exec runs q, written with ? placeholders.
func (t Tx) Exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	ctx, end := t.traceQuery(ctx, q) // tracing.go
	res, err := t.Tx.ExecContext(ctx, t.s.o.D.Rebind(q), args...)
	end(err)
	return res, err
}

// Query runs q, written with ? placeholders.
func (t Tx) Query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	ctx, end := t.traceQuery(ctx, q)
	rows, err := t.Tx.QueryContext(ctx, t.s.o.D.Rebind(q), args...)
	end(err)
	return rows, err
}

// QueryRow runs q, written with ? placeholders.
func (t Tx) QueryRow(ctx context.Context, q string, args ...any) *sql.Row {
	ctx, end := t.traceQuery(ctx, q)
	defer end(nil) // the row's error comes with Scan
	return t.Tx.QueryRowContext(ctx, t.s.o.D.Rebind(q), args...)
}

// querier is a Tx or the Store's read pool.
type querier interface {
	Query(ctx context.Context, q string, args ...any) (*sql.Rows, error)
	QueryRow(ctx context.Context, q string, args ...any) *sql.Row
}

// reader queries the read pool.
type reader struct{ s *Store }

func (r reader) Query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	ctx, end := r.s.traceQuery(ctx, q)
	rows, err := r.s.o.Read.QueryContext(ctx, r.s.o.D.Rebind(q), args...)
	end(err)
	return rows, err
}

func (r reader) QueryRow(ctx context.Context, q string, args ...any) *sql.Row {
	ctx, end := r.s.traceQuery(ctx, q)
	defer end(nil)
	return r.s.o.Read.QueryRowContext(ctx, r.s.o.D.Rebind(q), args...)
}

func (s *Store) read() reader { return reader{s} }

// Rebind rewrites the ? placeholders of q for the dialect. Queries hold no
// ? inside string literals.
func (d *Dialect) Rebind(q string) string {
	if !d.Numbered || !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 8)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

// write runs fn in one write transaction, retried from the start on a
// retryable failure (so fn must not keep state between attempts), and maps
// driver errors to domain errors.
func (s *Store) write(ctx context.Context, fn func(Tx) error) (err error) {
	ctx, end := s.traceTx(ctx, "write") // tracing.go
	defer func() { end(err) }()
	for attempt := 1; ; attempt++ {
		err := s.writeOnce(ctx, fn)
		if err != nil && attempt < 4 && s.o.D.Retryable != nil && s.o.D.Retryable(err) {
			continue
		}
		return s.domainError(err)
	}
}

func (s *Store) writeOnce(ctx context.Context, fn func(Tx) error) error {
	tx, err := s.o.Write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%s: begin: %w", s.o.D.Name, err)
	}
	defer tx.Rollback()
	if s.o.Fence != nil {
		if err := s.o.Fence(ctx, tx); err != nil {
			return err
		}
	}
	if err := fn(Tx{Tx: tx, s: s, span: s.txSpan(ctx)}); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%s: commit: %w", s.o.D.Name, err)
	}
	return nil
}

// readTx runs fn in one read transaction, for reads of several queries
// that must agree.
func (s *Store) readTx(ctx context.Context, fn func(Tx) error) (err error) {
	ctx, end := s.traceTx(ctx, "read")
	defer func() { end(err) }()
	opts := s.o.D.ReadTx
	tx, err := s.o.Read.BeginTx(ctx, &opts)
	if err != nil {
		return fmt.Errorf("%s: begin: %w", s.o.D.Name, err)
	}
	defer tx.Rollback()
	return fn(Tx{Tx: tx, s: s, span: s.txSpan(ctx)})
}

// domainError returns err, or the domain error its driver code means.
func (s *Store) domainError(err error) error {
	if err == nil {
		return nil
	}
	var ae *valueloop.Error
	if errors.As(err, &ae) {
		return err
	}
	if s.o.D.DomainError != nil {
		if de := s.o.D.DomainError(err); de != nil {
			return de
		}
	}
	return err
}

// isCode reports whether err is, by its driver code, the domain error code.
func (s *Store) isCode(err error, code string) bool {
	return valueloop.ErrorCode(s.domainError(err)) == code
}

func (s *Store) now() time.Time { return s.o.Now().UTC() }

func (s *Store) changed(ctx context.Context, tx Tx, kind, env string) error {
	if s.o.Changed == nil {
		return nil
	}
	return s.o.Changed(ctx, tx.Tx, kind, env)
}

// lockFlag takes flag's lock in env for the rest of tx: two nodes must
// never record one verdict transition twice nor store two decisions or
// plans of a flag.
func (s *Store) lockFlag(ctx context.Context, tx Tx, env, flag string) error {
	if s.o.LockFlag == nil {
		return nil
	}
	return s.o.LockFlag(ctx, tx.Tx, env, flag)
}

// TimeFormat is how SQLite stores timestamps: sub-second precision, and
// sorting as text sorts by time.
const TimeFormat = "2006-01-02T15:04:05.000000000Z07:00"

// FormatTime is SQLite's Dialect.Time.
func FormatTime(t time.Time) any { return t.UTC().Format(TimeFormat) }

// timeDest scans a timestamp stored either way (text or timestamptz) into
// a UTC time.
type timeDest struct{ t *time.Time }

func (d timeDest) Scan(src any) error {
	t, err := parseTime(src)
	if err != nil {
		return err
	}
	*d.t = t
	return nil
}

// nullTimeDest scans a nullable timestamp; NULL leaves the zero time.
type nullTimeDest struct{ t *time.Time }

func (d nullTimeDest) Scan(src any) error {
	if src == nil {
		*d.t = time.Time{}
		return nil
	}
	return timeDest(d).Scan(src)
}

func parseTime(src any) (time.Time, error) {
	switch v := src.(type) {
	case time.Time:
		return v.UTC(), nil
	case string:
		return parseText(v)
	case []byte:
		return parseText(string(v))
	}
	return time.Time{}, fmt.Errorf("timestamp of type %T", src)
}

func parseText(s string) (time.Time, error) {
	t, err := time.Parse(TimeFormat, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("bad timestamp %q: %w", s, err)
	}
	return t.UTC(), nil
}

// optTime encodes a timestamp that is NULL when zero.
func (s *Store) optTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return s.o.D.Time(t)
}

// nullString is b as a nullable text argument.
func nullString(b []byte) any {
	if b == nil {
		return nil
	}
	return string(b)
}

// where is the WHERE clause of a list, built up condition by condition.
type where struct {
	conds []string
	args  []any
}

// add adds a condition (AND) with the arguments of its placeholders.
func (w *where) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

// clause is the conditions as a WHERE clause, "" for none.
func (w *where) clause() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// newest runs query (SELECT … FROM …) under the conditions: at most limit
// rows, newest first by the column id.
func (w *where) newest(ctx context.Context, q querier, query, id string, limit int) (*sql.Rows, error) {
	return w.newestFrom(ctx, q, query, id, limit, 0)
}

// newestFrom is newest past the offset newest rows: a page by number.
func (w *where) newestFrom(ctx context.Context, q querier, query, id string, limit, offset int) (*sql.Rows, error) {
	args := append(slices.Clip(w.args), limit, max(offset, 0))
	return q.Query(ctx, query+w.clause()+" ORDER BY "+id+" DESC LIMIT ? OFFSET ?", args...)
}

// count counts the rows of table under the conditions, up to upTo: the
// count stops there, so that counting a table of any size (an old
// install's audit trail) reads at most upTo rows of its index.
func (w *where) count(ctx context.Context, q querier, table string, upTo int) (int, error) {
	var n int
	args := append(slices.Clip(w.args), max(upTo, 0))
	err := q.QueryRow(ctx, "SELECT count(*) FROM (SELECT 1 FROM "+table+w.clause()+" LIMIT ?) AS counted", args...).Scan(&n)
	return n, err
}

// collect reads every row of rows with scan.
func collect[T any](rows *sql.Rows, scan func(*sql.Rows) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// collectList is collect for a list that the API answers as [] when it is
// empty, never null.
func collectList[T any](rows *sql.Rows, scan func(*sql.Rows) (T, error)) ([]T, error) {
	out, err := collect(rows, scan)
	if out == nil && err == nil {
		out = []T{}
	}
	return out, err
}

// WriteReady reports whether the store can take writes now, for /readyz: its
// schema is there (a PostgreSQL database recreated empty has none) and a
// write commits (a full disk or a read-only database refuses it). The probe
// rewrites one row of schema_migrations with its own value: a real commit,
// changing nothing.
func (s *Store) WriteReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var n int
	if err := s.o.Read.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil {
		return fmt.Errorf("%s: schema missing: %w", s.o.D.Name, err)
	}
	if n == 0 {
		return fmt.Errorf("%s: schema missing: no migration recorded", s.o.D.Name)
	}
	for _, table := range []string{"environments", "flags", "tokens", "audit"} {
		if _, err := s.o.Read.ExecContext(ctx, `SELECT 1 FROM `+table+` WHERE 1 = 0`); err != nil {
			return fmt.Errorf("%s: schema missing: table %s: %w", s.o.D.Name, table, err)
		}
	}
	return s.writeOnce(ctx, func(tx Tx) error {
		_, err := tx.Exec(ctx, `UPDATE schema_migrations SET name = name WHERE name = (SELECT min(name) FROM schema_migrations)`)
		return err
	})
}
