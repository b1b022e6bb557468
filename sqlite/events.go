package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"math"
	"slices"
	"strings"
	"sync"

	"github.com/valueloop/valueloop/ingest"
	"github.com/valueloop/valueloop/metric"
	"github.com/valueloop/valueloop/sqlstore"
)

var (
	_ ingest.Store      = (*DB)(nil)
	_ ingest.StateStore = (*DB)(nil)
	_ ingest.SplitStore = (*DB)(nil)
	_ ingest.SplitTx    = (*eventTx)(nil)
)

// Metric definitions (Metrics, Metric, CreateMetric, DeleteMetric) are
// package sqlstore's, shared with PostgreSQL.

type queryer interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}

func aggregates(ctx context.Context, q queryer, env, flag, dimension, from string) ([]metric.Aggregate, error) {
	query, args := sqlstore.AggregatesQuery(env, flag, dimension, from)
	return readAggregates(ctx, q, env, query, args)
}

// readAggregates runs a read of the stored figures (sqlstore's
// AggregatesQuery or UserCellsQuery) of env.
func readAggregates(ctx context.Context, q queryer, env, query string, args []any) ([]metric.Aggregate, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: read aggregates of %s: %w", env, err)
	}
	defer rows.Close()
	var out []metric.Aggregate
	var buf sql.RawBytes
	for rows.Next() {
		var a metric.Aggregate
		if err := rows.Scan(&a.Flag, &a.Variant, &a.Dimension, &a.Value, &a.Metric, &a.Period, &buf); err != nil {
			return nil, err
		}
		if err := a.Sums.UnmarshalBinary(buf); err != nil {
			return nil, fmt.Errorf("sqlite: aggregate %s/%s/%s: %w", a.Flag, a.Variant, a.Metric, err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// ScanLog calls fn with the stored event records of env that may hold an
// event with time ≥ since; all of them, in storage order, for since =
// math.MinInt64.
func (db *DB) ScanLog(ctx context.Context, env string, since int64, fn func(data []byte) error) error {
	tx, err := db.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	defer tx.Rollback()
	return scanLog(ctx, tx, env, since, fn)
}

func scanLog(ctx context.Context, tx *sql.Tx, env string, since int64, fn func(data []byte) error) error {
	var rows *sql.Rows
	var err error
	if since == math.MinInt64 {
		rows, err = tx.QueryContext(ctx, `SELECT data FROM event_log NOT INDEXED WHERE environment = ? ORDER BY seq`, env)
	} else {
		rows, err = tx.QueryContext(ctx, `SELECT data FROM event_log WHERE environment = ? AND max_time >= ?`, env, since)
	}
	if err != nil {
		return fmt.Errorf("sqlite: scan events of %s: %w", env, err)
	}
	defer rows.Close()
	var data sql.RawBytes
	for rows.Next() {
		if err := rows.Scan(&data); err != nil {
			return err
		}
		if err := fn(data); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Events calls fn with every stored event of env, in storage order. The
// event passed is reused between calls.
func (db *DB) Events(ctx context.Context, env string, fn func(*ingest.Event) error) error {
	return db.ScanLog(ctx, env, math.MinInt64, func(data []byte) error { return ingest.DecodeLog(data, fn) })
}

// IngestTx runs fn in one write transaction (see ingest.Store).
func (db *DB) IngestTx(ctx context.Context, fn func(ingest.Tx) error) error {
	return db.eventTx(ctx, func(t *eventTx) error { return fn(t) })
}

// StateTx runs fn in one write transaction (see ingest.StateStore).
func (db *DB) StateTx(ctx context.Context, fn func(ingest.StateTx) error) error {
	return db.eventTx(ctx, func(t *eventTx) error { return fn(t) })
}

func (db *DB) eventTx(ctx context.Context, fn func(*eventTx) error) error {
	if err := db.ev.prepare(ctx, db.wdb); err != nil {
		return err
	}
	t := &eventTx{db: db, ctx: ctx, envs: map[string]*txEnv{}}
	err := db.write(ctx, func(tx *sql.Tx) error {
		t.tx = tx
		return fn(t)
	})
	db.ev.finish(t, err == nil)
	return err
}

// Sizes of the per-user state kept beside the database.
const (
	// userCacheBytes bounds the user states kept in memory (latest ones,
	// stored or not yet compacted); beyond it, compacted ones are dropped.
	userCacheBytes = 128 << 20
	// userLogBytes is the size an environment's user log is kept at: each
	// transaction that grows it beyond moves its oldest records into
	// event_users. It bounds what a restart reads (256 MiB: about 3 million
	// states, a second or two). The larger it is, the more often a user's
	// state was replaced by a later one before its record is compacted, and
	// need not be written: writing random rows of a large event_users is
	// what costs. With 1,000,000 users active at random, 6% of the states of
	// a compacted record are still the latest; with 100,000, none.
	userLogBytes = 256 << 20
	// compactRecords bounds the records one transaction compacts, so that
	// none takes long.
	compactRecords = 4
)

// events is what the event store keeps beside the database: the ids of
// environments, the per-user states in memory and the prepared statements of
// the write path. Only write transactions (one at a time) use it.
type events struct {
	mu    sync.Mutex
	ids   map[string]int64
	users map[int64]*envUsers
	stmts map[string]*sql.Stmt
	bytes int64 // held by all envUsers
	// logLimit overrides userLogBytes, cacheLimit userCacheBytes (tests).
	logLimit, cacheLimit int64
}

func (ev *events) cacheBytes() int64 {
	if ev.cacheLimit > 0 {
		return ev.cacheLimit
	}
	return userCacheBytes
}

// envUsers are the per-user states of one environment in memory, as of
// generation gen of its event_state row: every state of the user log (not in
// event_users yet) and some of event_users. States live in slots, found by
// key through index, so that a transaction that loaded a user updates its
// slot without another lookup.
type envUsers struct {
	gen    int64
	loaded bool // the user log was read
	// complete: every user of the environment is in memory, so a key
	// not found there has no state anywhere and LoadUsers need not look
	// it up in event_users. True when event_users held none of the
	// environment's users as the user log was read, until a state is
	// evicted. Under first-seen traffic that lookup found nothing for
	// every user and was a tenth of the writer's CPU (profiled).
	complete bool
	logBytes int64
	index    userIndex
	slots    slotTable
	free     []int32
	evictAt  int32 // the slot evict looks at next
	// live lists, per user log record, the slots that held a state of it
	// when it was written; those whose seq is still the record's hold the
	// latest state of their user. Compaction writes those without reading
	// the record (by the time a record is compacted, most of its users
	// have sent events again, and with 100,000 users all of them have).
	live map[int64][]int32
}

func (ev *events) env(id int64) *envUsers {
	if ev.users == nil {
		ev.users = map[int64]*envUsers{}
	}
	u := ev.users[id]
	if u == nil {
		u = &envUsers{gen: -1, index: newUserIndex(), live: map[int64][]int32{}}
		ev.users[id] = u
	}
	return u
}

func (ev *events) drop(id int64) {
	if u := ev.users[id]; u != nil {
		for _, x := range u.slots.all() {
			if x.hasState() {
				ev.bytes -= stateBytes(x.klen, x.slen)
			}
		}
		delete(ev.users, id)
	}
}

// set keeps a copy of a user's state in slot i, or in a new slot when
// i < 0 (with ev.mu held), and returns the slot. k and s need only be
// valid during the call: the slot's key and state are copied into its
// table's arena (slotTable).
func (ev *events) set(u *envUsers, i int32, k string, s []byte, seq int64) int32 {
	if s == nil {
		s = []byte{} // a state, if empty
	}
	// A slot given is the one LoadUsers found or reserved for k in this
	// transaction: nothing evicts during one, so it is k's (comparing the
	// keys would cost a cache miss per user).
	fresh := false
	if i < 0 || i >= u.slots.len() {
		ok := false
		if i, ok = u.index.get(k, &u.slots); !ok {
			i, fresh = ev.newSlot(u, k, s), true // key and state copied once
		}
	}
	x := u.slots.at(i)
	if !fresh {
		if x.hasState() {
			ev.bytes -= stateBytes(x.klen, x.slen)
		}
		u.slots.put(i, k, s)
	}
	x.seq = seq
	if seq != 0 {
		u.live[seq] = append(u.live[seq], i)
	}
	ev.bytes += stateBytes(x.klen, x.slen)
	return i
}

// newSlot returns a slot for k, not in the index, with state s (copies of
// both; nil: no state yet, for a slot reserved).
func (ev *events) newSlot(u *envUsers, k string, s []byte) int32 {
	var i int32
	if n := len(u.free); n > 0 {
		i, u.free = u.free[n-1], u.free[:n-1]
	} else {
		i = u.slots.add()
	}
	u.slots.put(i, k, s)
	u.index.set(k, i)
	return i
}

// freeSlot removes slot i's user from memory.
func (ev *events) freeSlot(u *envUsers, i int32) {
	x := u.slots.at(i)
	if x.hasState() {
		ev.bytes -= stateBytes(x.klen, x.slen)
	}
	u.index.del(u.slots.key(i), i)
	u.slots.free(i)
	u.free = append(u.free, i)
}

// stateBytes is what a user's state of slen bytes, of a key of klen, is
// counted to take in memory, for userCacheBytes.
func stateBytes(klen uint32, slen int32) int64 { return int64(klen) + int64(slen) + 64 }

// finish applies what a transaction staged once it committed, and forgets
// the environments whose state it read otherwise.
func (ev *events) finish(t *eventTx, committed bool) {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	if ev.ids == nil {
		ev.ids = map[string]int64{}
	}
	for name, e := range t.envs {
		if !committed {
			if e.usersRead {
				ev.drop(e.id)
			}
			continue
		}
		ev.ids[name] = e.id
		if e.replaced {
			ev.drop(e.id)
			u := ev.env(e.id)
			u.loaded = true
			// Every user is in event_users now, none in memory: complete
			// only when there are none.
			u.complete = e.replacedUsers == 0
			u.gen = e.gen
			continue
		}
		u := ev.env(e.id)
		if !e.changed {
			ev.unreserve(u, e)
			continue
		}
		for _, c := range e.written {
			if c.slot < u.slots.len() && u.slots.at(c.slot).seq == c.seq {
				u.slots.at(c.slot).seq = 0
			}
		}
		for _, seq := range e.compacted {
			delete(u.live, seq)
		}
		if len(e.puts) > 0 {
			u.live[e.putSeq] = make([]int32, 0, len(e.puts))
		}
		// puts and the loaded keys are both sorted: walk them together.
		j := 0
		for _, x := range e.puts {
			for j < len(e.loaded) && e.loaded[j].key < x.Key {
				j++
			}
			slot := int32(-1)
			if j < len(e.loaded) && e.loaded[j].key == x.Key {
				slot = e.loaded[j].slot
			}
			ev.set(u, slot, x.Key, x.State, e.putSeq)
		}
		ev.unreserve(u, e)
		u.gen, u.logBytes = e.gen, e.logBytes
	}
	if ev.bytes > ev.cacheBytes() {
		ev.evict()
	}
	for _, u := range ev.users {
		u.slots.tidy()
	}
}

// unreserve frees the slots LoadUsers reserved for new users whose state
// was not stored after all. They are slots of u, unchecked: a reserved slot
// has no state, which evict passes over; slots never move (slotTable); a
// key is reserved once per transaction (LoadUsers finds it again); and u
// is dropped between LoadUsers and finish only by a replacement, whose
// finish returns before this (StateVersion keeps it while the transaction
// runs, TestStateVersionAfterPut). Write transactions, whose finish this
// is, run one after another (the pipeline's one goroutine).
func (ev *events) unreserve(u *envUsers, e *txEnv) {
	for _, i := range e.reserved {
		if !u.slots.at(i).hasState() {
			ev.freeSlot(u, i)
		}
	}
}

// evict drops clean states until the cache holds 3/4 of its budget. Each
// environment's slots are visited from where the last eviction stopped, so
// that one after another they drop states of every age, not the same
// slots' again and again.
func (ev *events) evict() {
	for _, u := range ev.users {
		for n := u.slots.len(); n > 0; n-- {
			if ev.bytes <= ev.cacheBytes()*3/4 {
				return
			}
			if u.evictAt >= u.slots.len() {
				u.evictAt = 0
			}
			i := u.evictAt
			u.evictAt++
			if x := u.slots.at(i); x.hasState() && x.seq == 0 {
				u.complete = false
				ev.freeSlot(u, i)
			}
		}
	}
}

// stmt returns the statement q, prepared on the writer connection before
// the transaction began, for the transaction.
func (t *eventTx) stmt(q string) (*sql.Stmt, error) {
	t.db.ev.mu.Lock()
	st := t.db.ev.stmts[q]
	t.db.ev.mu.Unlock()
	if st == nil {
		return nil, fmt.Errorf("sqlite: statement not prepared: %s", q)
	}
	return t.tx.StmtContext(t.ctx, st), nil
}

// statements lists every statement of the write path. They are prepared
// once, before the first event transaction: the writer has one connection,
// which the transaction holds.
var statements = sync.OnceValue(func() []string {
	qs := []string{
		appendSQL, userLogSQL, flagAggregatesSQL, putAggregateSQL,
		savepointSQL, releaseSQL, rollbackToSQL,
		stateVersionSQL, bumpSQL, oldestLogSQL, deleteLogSQL, splitsVersionSQL,
	}
	for _, n := range []int{claimRows, 50, 10, 1} {
		qs = append(qs, claimSQL(n, false), claimSQL(n, true), loadSQL(n))
	}
	for _, n := range []int{usersRows, 50, 10, 1} {
		qs = append(qs, usersSQL(n, false), usersSQL(n, true))
	}
	return qs
})

func (ev *events) prepare(ctx context.Context, wdb *sql.DB) error {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	if ev.stmts != nil {
		return nil
	}
	// The writer's connection: a larger page cache for the user table.
	for _, q := range []string{`PRAGMA cache_size = -32768`} {
		if _, err := wdb.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("sqlite: %s: %w", q, err)
		}
	}
	stmts := map[string]*sql.Stmt{}
	for _, q := range statements() {
		st, err := wdb.PrepareContext(ctx, q)
		if err != nil {
			for _, st := range stmts {
				st.Close()
			}
			return fmt.Errorf("sqlite: prepare: %w", err)
		}
		stmts[q] = st
	}
	ev.stmts = stmts
	return nil
}

const (
	appendSQL         = `INSERT INTO event_log (environment, min_time, max_time, count, data) VALUES (?, ?, ?, ?, ?)`
	userLogSQL        = `INSERT INTO event_user_log (env, count, data) VALUES (?, ?, ?)`
	flagAggregatesSQL = `SELECT metric, period, sums FROM event_aggregates WHERE environment = ? AND flag = ? AND variant = ? AND dimension = ? AND value = ?`
	savepointSQL      = `SAVEPOINT claim`
	releaseSQL        = `RELEASE claim`
	rollbackToSQL     = `ROLLBACK TO claim`
	// Those of every transaction, and of compaction, prepared too: parsing
	// one costs about as much as storing a user's state.
	stateVersionSQL  = `SELECT version, generation, user_log_bytes FROM event_state WHERE id = ?`
	bumpSQL          = `UPDATE event_state SET generation = ?, user_log_bytes = ? WHERE id = ?`
	oldestLogSQL     = `SELECT seq, length(data) FROM event_user_log WHERE env = ? ORDER BY seq LIMIT 1`
	deleteLogSQL     = `DELETE FROM event_user_log WHERE seq = ?`
	splitsVersionSQL = `SELECT version FROM environments WHERE key = ?`
	putAggregateSQL  = `INSERT INTO event_aggregates (environment, flag, variant, dimension, value, metric, period, n, sums) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (environment, flag, variant, dimension, value, metric, period) DO UPDATE SET n = excluded.n, sums = excluded.sums`
)

// Multi-row statements, by number of rows, built once.
var (
	claimSQLs  = sync.OnceValue(func() map[int][2]string { return sqlBySize(claimSQLOf) })
	loadSQLs   = sync.OnceValue(func() map[int][2]string { return sqlBySize(func(n int, _ bool) string { return loadSQLOf(n) }) })
	usersSQLs  = sync.OnceValue(func() map[int][2]string { return sqlBySize(usersSQLOf) })
	chunkSizes = []int{claimRows, usersRows, 50, 10, 1}
)

func sqlBySize(f func(n int, alt bool) string) map[int][2]string {
	m := map[int][2]string{}
	for _, n := range chunkSizes {
		m[n] = [2]string{f(n, false), f(n, true)}
	}
	return m
}

func claimSQL(n int, returning bool) string { return pick(claimSQLs()[n], returning) }
func loadSQL(n int) string                  { return loadSQLs()[n][0] }
func usersSQL(n int, upsert bool) string    { return pick(usersSQLs()[n], upsert) }

func pick(qs [2]string, alt bool) string {
	if alt {
		return qs[1]
	}
	return qs[0]
}

func claimSQLOf(n int, returning bool) string {
	q := `INSERT INTO event_keys (env, time, hash) VALUES ` + rowsSQL(n, 3) + ` ON CONFLICT DO NOTHING`
	if returning {
		q += ` RETURNING time, hash`
	}
	return q
}

func loadSQLOf(n int) string {
	return `SELECT user_key, state FROM event_users WHERE env = ? AND user_key IN (` + placeholders(n) + `)`
}

func usersSQLOf(n int, upsert bool) string {
	s := `INSERT INTO event_users (env, user_key, state) VALUES ` + rowsSQL(n, 3)
	if upsert {
		s += ` ON CONFLICT (env, user_key) DO UPDATE SET state = excluded.state`
	}
	return s
}

type eventTx struct {
	db   *DB
	ctx  context.Context
	tx   *sql.Tx
	envs map[string]*txEnv
}

// txEnv is what a transaction knows and stages of one environment.
type txEnv struct {
	id        int64
	gen       int64 // generation read, then written
	logBytes  int64
	versioned bool // StateVersion read the row
	usersRead bool // the cache of its users was used
	changed   bool // state written: generation moved on
	replaced  bool
	// replacedUsers is the number of users ReplaceState stored.
	replacedUsers int
	puts          []ingest.UserState // sorted by key, copies
	putSeq        int64              // the user log record of puts
	loaded        []loadedUser       // sorted by key
	reserved      []int32            // slots of new users (see LoadUsers)
	written       []writtenUser      // compacted into event_users
	compacted     []int64            // user log records compacted
}

// writtenUser is a state that compaction wrote into event_users, from user
// log record seq.
type writtenUser struct {
	slot int32
	seq  int64
}

// loadedUser is a user LoadUsers found in memory, read or reserved a slot
// for, and its slot.
type loadedUser struct {
	key  string
	slot int32
}

// env returns the transaction's view of env, creating its event_state row
// when new.
func (t *eventTx) env(name string) (*txEnv, error) {
	if e := t.envs[name]; e != nil {
		return e, nil
	}
	e := &txEnv{}
	t.db.ev.mu.Lock()
	id, ok := t.db.ev.ids[name]
	t.db.ev.mu.Unlock()
	if !ok {
		err := t.tx.QueryRowContext(t.ctx, `SELECT id FROM event_state WHERE environment = ?`, name).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			err = t.tx.QueryRowContext(t.ctx, `INSERT INTO event_state (environment) VALUES (?) RETURNING id`, name).Scan(&id)
		}
		if err != nil {
			return nil, fmt.Errorf("sqlite: event state of %s: %w", name, err)
		}
	}
	e.id = id
	t.envs[name] = e
	return e, nil
}

// StateVersion reads env's state row and makes sure the users in memory are
// those of its generation (another process or store object may have
// written): SQLite has one writer at a time, so no lock is needed.
func (t *eventTx) StateVersion(env string, exclusive bool) (string, error) {
	e, err := t.env(env)
	if err != nil {
		return "", err
	}
	var v string
	var gen, logBytes int64
	st, err := t.stmt(stateVersionSQL)
	if err != nil {
		return "", err
	}
	if err := st.QueryRowContext(t.ctx, e.id).Scan(&v, &gen, &logBytes); err != nil {
		return "", fmt.Errorf("sqlite: event state of %s: %w", env, err)
	}
	if e.versioned {
		// Read again in the same transaction: a generation moved on since
		// is this transaction's own (bump; the writer is held), which the
		// users in memory catch up with in finish. Dropped for it, they
		// took along the slots LoadUsers handed out, and finish freed
		// reserved slot numbers of another, emptier table.
		return v, nil
	}
	e.gen, e.logBytes, e.versioned = gen, logBytes, true
	ev := &t.db.ev
	ev.mu.Lock()
	if u := ev.users[e.id]; u != nil && u.gen != e.gen {
		ev.drop(e.id)
	}
	ev.mu.Unlock()
	return v, nil
}

// SplitsVersion returns env's version of flags (ingest.SplitTx): the
// transaction holds the one writer, so no change of flags commits until it
// ends.
func (t *eventTx) SplitsVersion(env string) (int64, error) {
	var v int64
	st, err := t.stmt(splitsVersionSQL)
	if err == nil {
		err = st.QueryRowContext(t.ctx, env).Scan(&v)
	}
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("sqlite: flags' version of %s: %w", env, err)
	}
	return v, nil
}

// claimRows is the number of keys per INSERT statement.
const claimRows = 250

// rowsSQL returns "(?, ?), (?, ?)" for n rows of k columns.
func rowsSQL(n, k int) string {
	row := "(" + placeholders(k) + ")"
	return strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")
}

// chunk returns the largest statement size of sizes (descending) that fits
// in n.
func chunk(n int, sizes ...int) int {
	for _, s := range sizes {
		if s <= n {
			return s
		}
	}
	return 1
}

// Claim inserts the keys (sorted, as the pipeline passes them) in
// multi-row statements. Nearly always every key is new, so it inserts
// without RETURNING (reading a row back per key costs more than the insert)
// and only when fewer rows went in than were sent does it roll the chunk back
// and insert it again with RETURNING, to learn which were new.
func (t *eventTx) Claim(env string, keys []ingest.DedupKey) ([]bool, error) {
	e, err := t.env(env)
	if err != nil {
		return nil, err
	}
	out := make([]bool, len(keys))
	// Repeats within keys are duplicates of their first: send each key once.
	uniq := make([]ingest.DedupKey, 0, len(keys))
	at := make([]int, 0, len(keys))
	sorted := slices.IsSortedFunc(keys, cmpKey)
	seen := map[ingest.DedupKey]bool{}
	for i, k := range keys {
		if sorted {
			if i > 0 && keys[i-1] == k {
				continue
			}
		} else if seen[k] {
			continue
		} else {
			seen[k] = true
		}
		uniq = append(uniq, k)
		at = append(at, i)
	}
	args := make([]any, 0, 3*claimRows)
	for len(uniq) > 0 {
		n := chunk(len(uniq), claimRows, 50, 10, 1)
		args = args[:0]
		for _, k := range uniq[:n] {
			args = append(args, e.id, k.Time, k.Hash)
		}
		fresh, err := t.claimChunk(n, args)
		if err != nil {
			return nil, fmt.Errorf("sqlite: claim event ids: %w", err)
		}
		for j, k := range uniq[:n] {
			out[at[j]] = fresh == nil || fresh[k]
		}
		uniq, at = uniq[n:], at[n:]
	}
	return out, nil
}

func cmpKey(a, b ingest.DedupKey) int {
	switch {
	case a.Time < b.Time:
		return -1
	case a.Time > b.Time:
		return 1
	case a.Hash < b.Hash:
		return -1
	case a.Hash > b.Hash:
		return 1
	}
	return 0
}

// claimChunk inserts n distinct keys; it returns nil when all were new,
// else the set of those that were.
func (t *eventTx) claimChunk(n int, args []any) (map[ingest.DedupKey]bool, error) {
	if err := t.execStmt(savepointSQL); err != nil {
		return nil, err
	}
	st, err := t.stmt(claimSQL(n, false))
	if err != nil {
		return nil, err
	}
	res, err := st.ExecContext(t.ctx, args...)
	if err != nil {
		return nil, err
	}
	if got, err := res.RowsAffected(); err != nil {
		return nil, err
	} else if got == int64(n) {
		return nil, t.execStmt(releaseSQL)
	}
	if err := t.execStmt(rollbackToSQL); err != nil {
		return nil, err
	}
	if err := t.execStmt(releaseSQL); err != nil {
		return nil, err
	}
	if st, err = t.stmt(claimSQL(n, true)); err != nil {
		return nil, err
	}
	rows, err := st.QueryContext(t.ctx, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	fresh := map[ingest.DedupKey]bool{}
	for rows.Next() {
		var k ingest.DedupKey
		if err := rows.Scan(&k.Time, &k.Hash); err != nil {
			return nil, err
		}
		fresh[k] = true
	}
	return fresh, rows.Err()
}

func (t *eventTx) execStmt(q string) error {
	st, err := t.stmt(q)
	if err != nil {
		return err
	}
	_, err = st.ExecContext(t.ctx)
	return err
}

func (t *eventTx) ScanLog(env string, since int64, fn func(data []byte) error) error {
	return scanLog(t.ctx, t.tx, env, since, fn)
}

func (t *eventTx) Append(env string, rec ingest.LogRecord) error {
	st, err := t.stmt(appendSQL)
	if err != nil {
		return err
	}
	if _, err := st.ExecContext(t.ctx, env, rec.MinTime, rec.MaxTime, rec.Count, rec.Data); err != nil {
		return fmt.Errorf("sqlite: append events: %w", err)
	}
	return nil
}

// users returns env's transaction state and its states in memory, reading
// its user log at first use.
func (t *eventTx) users(env string) (*txEnv, *envUsers, error) {
	e, err := t.env(env)
	if err != nil {
		return nil, nil, err
	}
	if !e.versioned {
		if _, err := t.StateVersion(env, false); err != nil {
			return nil, nil, err
		}
	}
	e.usersRead = true
	ev := &t.db.ev
	ev.mu.Lock()
	u := ev.env(e.id)
	loaded := u.loaded
	ev.mu.Unlock()
	if loaded {
		return e, u, nil
	}
	var stored bool
	if err := t.tx.QueryRowContext(t.ctx, `SELECT EXISTS (SELECT 1 FROM event_users WHERE env = ?)`, e.id).Scan(&stored); err != nil {
		return nil, nil, fmt.Errorf("sqlite: read user states of %s: %w", env, err)
	}
	rows, err := t.tx.QueryContext(t.ctx, `SELECT seq, count, data FROM event_user_log WHERE env = ? ORDER BY seq`, e.id)
	if err != nil {
		return nil, nil, fmt.Errorf("sqlite: read user log of %s: %w", env, err)
	}
	defer rows.Close()
	ev.mu.Lock()
	defer ev.mu.Unlock()
	for rows.Next() {
		var seq, count int64
		var data sql.RawBytes
		if err := rows.Scan(&seq, &count, &data); err != nil {
			return nil, nil, err
		}
		u.live[seq] = make([]int32, 0, count)
		err := decodeUserLog(data, func(k string, s []byte) {
			ev.set(u, -1, k, s, seq)
		})
		if err != nil {
			return nil, nil, fmt.Errorf("sqlite: user log of %s: %w", env, err)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	u.loaded, u.complete, u.gen, u.logBytes = true, !stored, e.gen, e.logBytes
	return e, u, nil
}

// LoadUsers reads the states of keys from memory, and those not there from
// event_users (keeping them in memory).
func (t *eventTx) LoadUsers(env string, keys []string, fn func(key string, state []byte) error) error {
	e, u, err := t.users(env)
	if err != nil {
		return err
	}
	var missing []string
	ev := &t.db.ev
	ev.mu.Lock()
	// Look all keys up first, then hand the states over: a loop of lookups
	// alone lets the processor wait for several cache misses at once.
	found := make([]ingest.UserState, 0, len(keys))
	for _, k := range keys {
		s, ok := e.put(k)
		if !ok {
			var i int32
			if i, ok = u.index.get(k, &u.slots); ok {
				s = u.slots.state(i)
				e.loaded = append(e.loaded, loadedUser{k, i})
			}
		}
		switch {
		case ok && s == nil:
			// Reserved by an earlier call of this transaction: new.
		case ok:
			found = append(found, ingest.UserState{Key: k, State: s})
		case u.complete:
			// A new user: no state anywhere. Its slot is reserved now,
			// while the lookup that found none has its part of the index
			// in the cache: added in finish, it was another cache miss
			// per user. finish frees it should no state come.
			i := ev.newSlot(u, k, nil)
			e.loaded = append(e.loaded, loadedUser{k, i})
			e.reserved = append(e.reserved, i)
		default:
			missing = append(missing, k)
		}
	}
	ev.mu.Unlock()
	for _, x := range found {
		if err := fn(x.Key, x.State); err != nil {
			return err
		}
	}
	args := make([]any, 0, 1+loadRows)
	for rest := missing; len(rest) > 0; {
		n := chunk(len(rest), loadRows, 50, 10, 1)
		args = append(args[:0], e.id)
		for _, k := range rest[:n] {
			args = append(args, k)
		}
		rest = rest[n:]
		st, err := t.stmt(loadSQL(n))
		if err != nil {
			return err
		}
		rows, err := st.QueryContext(t.ctx, args...)
		if err != nil {
			return fmt.Errorf("sqlite: load users of %s: %w", env, err)
		}
		for rows.Next() {
			var k string
			var s []byte
			if err := rows.Scan(&k, &s); err != nil {
				rows.Close()
				return err
			}
			ev.mu.Lock()
			e.loaded = append(e.loaded, loadedUser{k, ev.set(u, -1, k, s, 0)})
			ev.mu.Unlock()
			if err := fn(k, s); err != nil {
				rows.Close()
				return err
			}
		}
		if err := rows.Close(); err != nil {
			return fmt.Errorf("sqlite: load users of %s: %w", env, err)
		}
	}
	byKey := func(a, b loadedUser) int { return strings.Compare(a.key, b.key) }
	if !slices.IsSortedFunc(e.loaded, byKey) {
		slices.SortFunc(e.loaded, byKey)
	}
	return nil
}

const (
	loadRows  = 250
	usersRows = 200
)

// PutUsers appends the states to env's user log as one record, and moves
// the oldest records into event_users while the log is larger than
// userLogBytes.
func (t *eventTx) PutUsers(env string, users []ingest.UserState) error {
	if len(users) == 0 {
		return nil
	}
	e, u, err := t.users(env)
	if err != nil {
		return err
	}
	if len(e.puts) > 0 {
		return fmt.Errorf("sqlite: user states of %s stored twice in one transaction", env)
	}
	// The states until finish keeps them, in one allocation (set copies
	// each into its slot); the keys are valid until the transaction ends.
	size, n := 0, 0
	for _, x := range users {
		size += len(x.Key) + len(x.State) + 4
		n += len(x.State)
	}
	states := make([]byte, 0, n)
	e.puts = make([]ingest.UserState, len(users))
	for i, x := range users {
		at := len(states)
		states = append(states, x.State...)
		e.puts[i] = ingest.UserState{Key: x.Key, State: states[at:len(states):len(states)]}
	}
	rec := encodeUserLog(users, size)
	st, err := t.stmt(userLogSQL)
	if err != nil {
		return err
	}
	res, err := st.ExecContext(t.ctx, e.id, len(users), rec)
	if err != nil {
		return fmt.Errorf("sqlite: append user states of %s: %w", env, err)
	}
	if e.putSeq, err = res.LastInsertId(); err != nil {
		return err
	}
	e.logBytes += int64(len(rec))
	limit := int64(userLogBytes)
	if t.db.ev.logLimit > 0 {
		limit = t.db.ev.logLimit
	}
	for range compactRecords {
		if e.logBytes <= limit {
			break
		}
		if done, err := t.compactOldest(e, u); err != nil {
			return fmt.Errorf("sqlite: compact user log of %s: %w", env, err)
		} else if !done {
			break
		}
	}
	return t.bump(env, e)
}

// compactOldest moves env's oldest user log record into event_users: the
// states in it that are still the latest of their user are written, from
// memory (see envUsers.live), the others were replaced by later records;
// then the record goes, unread. It reports false when only this
// transaction's record is left.
func (t *eventTx) compactOldest(e *txEnv, u *envUsers) (bool, error) {
	var seq, size int64
	oldest, err := t.stmt(oldestLogSQL)
	if err != nil {
		return false, err
	}
	err = oldest.QueryRowContext(t.ctx, e.id).Scan(&seq, &size)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && seq == e.putSeq) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	type latestState struct {
		ingest.UserState
		slot int32
	}
	var latest []latestState
	ev := &t.db.ev
	ev.mu.Lock()
	for _, i := range u.live[seq] {
		x := u.slots.at(i)
		if !x.hasState() || x.seq != seq {
			continue // replaced by a later record
		}
		k := u.slots.key(i)
		if _, put := e.put(k); put {
			continue // replaced in this transaction
		}
		latest = append(latest, latestState{ingest.UserState{Key: k, State: u.slots.state(i)}, i})
	}
	ev.mu.Unlock()
	slices.SortFunc(latest, func(a, b latestState) int { return strings.Compare(a.Key, b.Key) })
	states := func(yield func(ingest.UserState) bool) {
		for _, x := range latest {
			if !yield(x.UserState) {
				return
			}
		}
	}
	if err := t.insertUsers(e.id, states, true); err != nil {
		return false, err
	}
	del, err := t.stmt(deleteLogSQL)
	if err != nil {
		return false, err
	}
	if _, err := del.ExecContext(t.ctx, seq); err != nil {
		return false, err
	}
	for _, x := range latest {
		e.written = append(e.written, writtenUser{x.slot, seq})
	}
	e.compacted = append(e.compacted, seq)
	e.logBytes -= size
	return true, nil
}

// put returns the state of key that the transaction stored.
func (e *txEnv) put(key string) ([]byte, bool) {
	i, ok := slices.BinarySearchFunc(e.puts, key, func(x ingest.UserState, k string) int { return strings.Compare(x.Key, k) })
	if !ok {
		return nil, false
	}
	return e.puts[i].State, true
}

// bump moves env's state to the next generation (once per transaction).
func (t *eventTx) bump(env string, e *txEnv) error {
	if !e.changed {
		e.changed = true
		e.gen++
	}
	st, err := t.stmt(bumpSQL)
	if err == nil {
		_, err = st.ExecContext(t.ctx, e.gen, e.logBytes, e.id)
	}
	if err != nil {
		return fmt.Errorf("sqlite: event state of %s: %w", env, err)
	}
	return nil
}

// insertUsers writes user states into event_users in multi-row statements.
func (t *eventTx) insertUsers(env int64, users iter.Seq[ingest.UserState], upsert bool) error {
	args := make([]any, 0, 3*usersRows)
	flush := func() error {
		for len(args) > 0 {
			n := chunk(len(args)/3, usersRows, 50, 10, 1)
			st, err := t.stmt(usersSQL(n, upsert))
			if err != nil {
				return err
			}
			if _, err := st.ExecContext(t.ctx, args[:3*n]...); err != nil {
				return err
			}
			args = args[:copy(args, args[3*n:])]
			if len(args) < 3*usersRows {
				return nil
			}
		}
		return nil
	}
	for x := range users {
		args = append(args, env, x.Key, bytes.Clone(x.State))
		if len(args) == 3*usersRows {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	for len(args) > 0 {
		if err := flush(); err != nil {
			return err
		}
	}
	return nil
}

// encodeUserLog encodes users as one user log record: their number, then
// per user the key and the state, each with its length.
func encodeUserLog(users []ingest.UserState, size int) []byte {
	buf := make([]byte, 0, size+8)
	buf = binary.AppendUvarint(buf, uint64(len(users)))
	for _, x := range users {
		buf = binary.AppendUvarint(buf, uint64(len(x.Key)))
		buf = append(buf, x.Key...)
		buf = binary.AppendUvarint(buf, uint64(len(x.State)))
		buf = append(buf, x.State...)
	}
	return buf
}

var errBadUserLog = errors.New("corrupt user log record")

func decodeUserLog(data []byte, fn func(key string, state []byte)) error {
	n, k := binary.Uvarint(data)
	if k <= 0 {
		return errBadUserLog
	}
	data = data[k:]
	next := func() ([]byte, bool) {
		l, k := binary.Uvarint(data)
		if k <= 0 || uint64(len(data)-k) < l {
			return nil, false
		}
		b := data[k : k+int(l)]
		data = data[k+int(l):]
		return b, true
	}
	for range n {
		key, ok1 := next()
		state, ok2 := next()
		if !ok1 || !ok2 {
			return errBadUserLog
		}
		fn(string(key), state)
	}
	if len(data) != 0 {
		return errBadUserLog
	}
	return nil
}

// AddAggregates adds each delta to its stored cell, reading the stored
// cells of each variant's slice (flag, variant, dimension, value) the
// deltas touch once: not every cell of the flag, which with cells per day
// of first exposure (metric.ExposureDayDimension) grow by a day's for as
// long as the flag runs, while a group touches today's.
func (t *eventTx) AddAggregates(env string, deltas []metric.Aggregate) error {
	get, err := t.stmt(flagAggregatesSQL)
	if err != nil {
		return err
	}
	type slice struct{ flag, variant, dimension, value string }
	type cell struct {
		slice
		metric string
		period int64
	}
	stored := map[cell]metric.Sums{}
	read := map[slice]bool{}
	sum := make([]metric.Aggregate, 0, len(deltas))
	for _, d := range deltas {
		sl := slice{d.Flag, d.Variant, d.Dimension, d.Value}
		if !read[sl] {
			read[sl] = true
			rows, err := get.QueryContext(t.ctx, env, sl.flag, sl.variant, sl.dimension, sl.value)
			if err != nil {
				return fmt.Errorf("sqlite: read aggregates of %s/%s: %w", env, sl.flag, err)
			}
			var buf sql.RawBytes
			for rows.Next() {
				c := cell{slice: sl}
				var s metric.Sums
				if err := rows.Scan(&c.metric, &c.period, &buf); err != nil {
					rows.Close()
					return err
				}
				if err := s.UnmarshalBinary(buf); err != nil {
					rows.Close()
					return fmt.Errorf("sqlite: aggregate %s/%s/%s: %w", sl.flag, sl.variant, c.metric, err)
				}
				stored[c] = s
			}
			if err := rows.Close(); err != nil {
				return err
			}
		}
		s := stored[cell{sl, d.Metric, d.Period}]
		s.Add(d.Sums)
		d.Sums = s
		sum = append(sum, d)
	}
	return t.PutAggregates(env, sum)
}

// Aggregates returns env's cells, sorted.
func (t *eventTx) Aggregates(env string) ([]metric.Aggregate, error) {
	return aggregates(t.ctx, t.tx, env, "", sqlstore.EveryDimension, "")
}

func (t *eventTx) PutAggregates(env string, aggs []metric.Aggregate) error {
	st, err := t.stmt(putAggregateSQL)
	if err != nil {
		return err
	}
	for _, a := range aggs {
		buf, _ := a.Sums.MarshalBinary()
		if _, err := st.ExecContext(t.ctx, env, a.Flag, a.Variant, a.Dimension, a.Value, a.Metric, a.Period, a.Sums.N, buf); err != nil {
			return fmt.Errorf("sqlite: store aggregate %s/%s/%s: %w", a.Flag, a.Variant, a.Metric, err)
		}
	}
	return nil
}

func (t *eventTx) ReplaceAggregates(env string, aggs []metric.Aggregate) error {
	if _, err := t.tx.ExecContext(t.ctx, `DELETE FROM event_aggregates WHERE environment = ?`, env); err != nil {
		return fmt.Errorf("sqlite: clear aggregates of %s: %w", env, err)
	}
	return t.PutAggregates(env, aggs)
}

// MarkStale sets env's state version to "", which no metric definitions
// have (ingest.StateTx); the users, in memory or not, are left as they
// are, of the same generation.
func (t *eventTx) MarkStale(env string) error {
	e, err := t.env(env)
	if err != nil {
		return err
	}
	if _, err := t.tx.ExecContext(t.ctx, `UPDATE event_state SET version = '' WHERE id = ?`, e.id); err != nil {
		return fmt.Errorf("sqlite: mark event state of %s stale: %w", env, err)
	}
	return nil
}

// ReplaceState replaces env's users, user log and aggregates (a rebuild).
func (t *eventTx) ReplaceState(env, version string, users iter.Seq[ingest.UserState], aggs []metric.Aggregate) error {
	e, err := t.env(env)
	if err != nil {
		return err
	}
	if !e.versioned {
		if _, err := t.StateVersion(env, true); err != nil {
			return err
		}
	}
	for _, q := range []string{`DELETE FROM event_users WHERE env = ?`, `DELETE FROM event_user_log WHERE env = ?`} {
		if _, err := t.tx.ExecContext(t.ctx, q, e.id); err != nil {
			return fmt.Errorf("sqlite: clear user states of %s: %w", env, err)
		}
	}
	e.replacedUsers = 0
	counted := func(yield func(ingest.UserState) bool) {
		for x := range users {
			e.replacedUsers++
			if !yield(x) {
				return
			}
		}
	}
	if err := t.insertUsers(e.id, counted, false); err != nil {
		return fmt.Errorf("sqlite: store user states of %s: %w", env, err)
	}
	if err := t.ReplaceAggregates(env, aggs); err != nil {
		return err
	}
	e.puts, e.written, e.compacted, e.logBytes, e.replaced = nil, nil, nil, 0, true
	if err := t.bump(env, e); err != nil {
		return err
	}
	if _, err := t.tx.ExecContext(t.ctx, `UPDATE event_state SET version = ? WHERE id = ?`, version, e.id); err != nil {
		return fmt.Errorf("sqlite: event state of %s: %w", env, err)
	}
	return nil
}

// EventCount returns the number of stored events of env.
func (db *DB) EventCount(ctx context.Context, env string) (int64, error) {
	var n sql.NullInt64
	err := db.db.QueryRowContext(ctx, `SELECT SUM(count) FROM event_log WHERE environment = ?`, env).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("sqlite: count events of %s: %w", env, err)
	}
	return n.Int64, nil
}
