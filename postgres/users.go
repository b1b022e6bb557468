package postgres

import (
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"sync"

	"github.com/jackc/pgx/v5"

	"github.com/valueloop/valueloop/ingest"
	"github.com/valueloop/valueloop/metric"
)

// Per-user state of event ingestion, kept as in package sqlite: the states
// as of the last compaction in event_users, and since then one row per
// transaction in event_user_log. Each node keeps in memory every state of the
// uncompacted log plus the compacted ones it read (a cache). Under the
// environment's writer lock, a transaction first catches up with the log
// rows other nodes appended since its cache's generation (all of them after a
// compaction it did not see); then a user in the cache has its latest state
// there, and one not in it has it in event_users.
const (
	// DefaultUserLogBytes is the size of an environment's user log beyond
	// which the writer that passes it compacts it: it bounds what a node
	// starting or catching up after a compaction reads.
	DefaultUserLogBytes = 32 << 20
	// DefaultCachedUsers bounds the compacted states a node keeps per
	// environment; beyond it they are dropped (read again when needed).
	DefaultCachedUsers = 2 << 20
)

// userCache is this node's copy of an environment's user states.
type userCache struct {
	gen    int64 // the generation it reflects; -1 for none
	states map[string]cached
	dirty  int // states in the uncompacted log
}

type cached struct {
	state []byte
	dirty bool // in the uncompacted log (never dropped)
}

// set stores a state, keeping the count of dirty ones.
func (c *userCache) set(key string, state []byte, dirty bool) {
	old, ok := c.states[key]
	if ok && old.dirty {
		c.dirty--
	}
	if dirty {
		c.dirty++
	}
	c.states[key] = cached{state, dirty}
}

type userCaches struct {
	mu   sync.Mutex
	envs map[string]*userCache
}

func (u *userCaches) get(env string) *userCache {
	if u.envs == nil {
		u.envs = map[string]*userCache{}
	}
	c := u.envs[env]
	if c == nil {
		c = &userCache{gen: -1}
		u.envs[env] = c
	}
	return c
}

// txUsers is what a transaction did to an environment's users.
type txUsers struct {
	gen, compacted, logBytes int64 // event_state, read under the writer lock
	next                     int64 // the last generation written (gen when none)
	puts                     map[string][]byte
	compactedNow, replaced   bool
}

// users takes env's writer lock, reads its event state and brings this
// node's cache up to its generation, once per transaction.
func (t *eventTx) users(env string) (*txUsers, error) {
	if u := t.userTx[env]; u != nil {
		return u, nil
	}
	if err := t.lockWriters(env); err != nil {
		return nil, err
	}
	u := &txUsers{}
	err := t.tx.QueryRow(t.ctx, `SELECT generation, compacted, log_bytes FROM event_state WHERE environment = $1`, env).
		Scan(&u.gen, &u.compacted, &u.logBytes)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("postgres: read event state of %s: %w", env, err)
	}
	caches := &t.db.users
	caches.mu.Lock()
	defer caches.mu.Unlock()
	c := caches.get(env)
	if c.gen != u.gen {
		from := c.gen
		if c.gen < u.compacted || c.gen > u.gen || c.states == nil {
			c.states, c.dirty, from = map[string]cached{}, 0, u.compacted
		}
		rows, err := t.tx.Query(t.ctx, `SELECT data FROM event_user_log WHERE environment = $1 AND generation > $2 ORDER BY generation`, env, from)
		if err != nil {
			c.gen = -1
			return nil, fmt.Errorf("postgres: read user log of %s: %w", env, err)
		}
		for rows.Next() {
			err = decodeUsers(rows.RawValues()[0], func(key string, state []byte) {
				c.set(key, state, true)
			})
			if err != nil {
				break
			}
		}
		rows.Close()
		if err == nil {
			err = rows.Err()
		}
		if err != nil {
			c.gen = -1
			return nil, fmt.Errorf("postgres: read user log of %s: %w", env, err)
		}
		c.gen = u.gen
	}
	u.next = u.gen
	t.userTx[env] = u
	return u, nil
}

// LoadUsers calls fn with the latest states of keys: from this node's cache,
// else from event_users.
func (t *eventTx) LoadUsers(env string, keys []string, fn func(key string, state []byte) error) error {
	if _, err := t.users(env); err != nil {
		return err
	}
	caches := &t.db.users
	var missing []string
	caches.mu.Lock()
	c := caches.get(env)
	for _, k := range keys {
		if s, ok := c.states[k]; ok {
			if err := fn(k, s.state); err != nil {
				caches.mu.Unlock()
				return err
			}
		} else {
			missing = append(missing, k)
		}
	}
	caches.mu.Unlock()
	if len(missing) == 0 {
		return nil
	}
	rows, err := t.tx.Query(t.ctx, `SELECT user_key, state FROM event_users WHERE environment = $1 AND user_key = ANY($2::text[])`, env, missing)
	if err != nil {
		return fmt.Errorf("postgres: load users of %s: %w", env, err)
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		var s []byte
		if err := rows.Scan(&k, &s); err != nil {
			return err
		}
		caches.mu.Lock()
		if c.states != nil {
			c.set(k, s, false)
		}
		caches.mu.Unlock()
		if err := fn(k, s); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("postgres: load users of %s: %w", env, err)
	}
	return nil
}

// PutUsers appends the new states of users to the user log as the next
// generation, and compacts the log when it has grown past UserLogBytes.
func (t *eventTx) PutUsers(env string, users []ingest.UserState) error {
	if len(users) == 0 {
		return nil
	}
	u, err := t.users(env)
	if err != nil {
		return err
	}
	if u.puts == nil {
		u.puts = make(map[string][]byte, len(users))
	}
	size := 0
	for _, x := range users {
		size += len(x.Key) + len(x.State) + 2*binary.MaxVarintLen32
	}
	// The cache keeps slices of buf, which is not written to after.
	buf := make([]byte, 0, size)
	for _, x := range users {
		buf = appendUser(buf, x.Key, x.State)
		u.puts[x.Key] = buf[len(buf)-len(x.State) : len(buf) : len(buf)]
	}
	gen := u.next + 1
	if _, err := t.tx.Exec(t.ctx, `INSERT INTO event_user_log (environment, generation, data) VALUES ($1, $2, $3)`, env, gen, buf); err != nil {
		return fmt.Errorf("postgres: append user log of %s: %w", env, err)
	}
	logBytes := u.logBytes + int64(len(buf))
	if logBytes > t.db.UserLogBytes {
		if err := t.compact(env, u); err != nil {
			return err
		}
		logBytes = 0
	}
	compacted := u.compacted
	if u.compactedNow {
		compacted = gen
	}
	if _, err := t.tx.Exec(t.ctx, `INSERT INTO event_state (environment, generation, compacted, log_bytes) VALUES ($1, $2, $3, $4)
		ON CONFLICT (environment) DO UPDATE SET generation = excluded.generation, compacted = excluded.compacted, log_bytes = excluded.log_bytes`,
		env, gen, compacted, logBytes); err != nil {
		return fmt.Errorf("postgres: event state of %s: %w", env, err)
	}
	u.next, u.logBytes = gen, logBytes
	return nil
}

// compact writes the latest state of every user of the log into event_users
// and empties the log.
func (t *eventTx) compact(env string, u *txUsers) error {
	caches := &t.db.users
	caches.mu.Lock()
	c := caches.get(env)
	latest := make(map[string][]byte, c.dirty+len(u.puts))
	for k, x := range c.states {
		if x.dirty {
			latest[k] = x.state
		}
	}
	caches.mu.Unlock()
	for k, s := range u.puts {
		latest[k] = s
	}
	keys := make([]string, 0, len(latest))
	states := make([][]byte, 0, len(latest))
	for k, s := range latest {
		keys, states = append(keys, k), append(states, s)
	}
	const chunk = 50_000
	for i := 0; i < len(keys); i += chunk {
		j := min(i+chunk, len(keys))
		if _, err := t.tx.Exec(t.ctx, `INSERT INTO event_users (environment, user_key, state)
			SELECT $1, k, s FROM unnest($2::text[], $3::bytea[]) AS u(k, s)
			ON CONFLICT (environment, user_key) DO UPDATE SET state = excluded.state`, env, keys[i:j], states[i:j]); err != nil {
			return fmt.Errorf("postgres: compact user log of %s: %w", env, err)
		}
	}
	if _, err := t.tx.Exec(t.ctx, `DELETE FROM event_user_log WHERE environment = $1`, env); err != nil {
		return fmt.Errorf("postgres: compact user log of %s: %w", env, err)
	}
	u.compactedNow = true
	return nil
}

// finish updates this node's caches once the transaction ended.
func (t *eventTx) finish(committed bool) {
	caches := &t.db.users
	caches.mu.Lock()
	defer caches.mu.Unlock()
	for env, u := range t.userTx {
		c := caches.get(env)
		switch {
		case !committed:
			// The cache was only brought up to committed rows: keep it.
		case u.replaced:
			c.gen, c.states, c.dirty = -1, nil, 0
		case u.puts == nil:
		case c.gen != u.gen:
			c.gen, c.states, c.dirty = -1, nil, 0 // not expected: start over
		default:
			if u.compactedNow {
				for k, x := range c.states {
					if x.dirty {
						c.states[k] = cached{x.state, false}
					}
				}
				c.dirty = 0
			}
			for k, s := range u.puts {
				c.set(k, s, !u.compactedNow)
			}
			c.gen = u.next
			if limit := t.db.CachedUsers; len(c.states) > limit+c.dirty {
				for k, x := range c.states {
					if len(c.states) <= limit*3/4+c.dirty {
						break
					}
					if !x.dirty {
						delete(c.states, k)
					}
				}
			}
		}
	}
}

// MarkStale sets env's state version to "", which no metric definitions
// have (ingest.StateTx). It takes the locks in the order every transaction
// does (the state lock, then the writer lock, then the row, as PutUsers
// writes it), whether or not the transaction claimed ids. No row: the
// version is "" already.
func (t *eventTx) MarkStale(env string) error {
	if !t.locked[env] {
		if _, err := t.StateVersion(env, false); err != nil {
			return err
		}
	}
	if err := t.lockWriters(env); err != nil {
		return err
	}
	if _, err := t.tx.Exec(t.ctx, `UPDATE event_state SET version = '' WHERE environment = $1`, env); err != nil {
		return fmt.Errorf("postgres: mark event state of %s stale: %w", env, err)
	}
	return nil
}

// ReplaceState replaces env's user states and aggregates (a rebuild) under
// the exclusive state lock, and records version.
func (t *eventTx) ReplaceState(env, version string, users iter.Seq[ingest.UserState], aggs []metric.Aggregate) error {
	if !t.locked[env] {
		if _, err := t.StateVersion(env, true); err != nil {
			return err
		}
	}
	u, err := t.users(env)
	if err != nil {
		return err
	}
	for _, q := range []string{`DELETE FROM event_users WHERE environment = $1`, `DELETE FROM event_user_log WHERE environment = $1`} {
		if _, err := t.tx.Exec(t.ctx, q, env); err != nil {
			return fmt.Errorf("postgres: clear user states of %s: %w", env, err)
		}
	}
	next, stop := iter.Pull(users)
	defer stop()
	src := pgx.CopyFromFunc(func() ([]any, error) {
		x, ok := next()
		if !ok {
			return nil, nil
		}
		return []any{env, x.Key, x.State}, nil
	})
	if _, err := t.tx.CopyFrom(t.ctx, pgx.Identifier{"event_users"}, []string{"environment", "user_key", "state"}, src); err != nil {
		return fmt.Errorf("postgres: store user states of %s: %w", env, err)
	}
	if err := t.ReplaceAggregates(env, aggs); err != nil {
		return err
	}
	gen := u.next + 1
	if _, err := t.tx.Exec(t.ctx, `INSERT INTO event_state (environment, version, generation, compacted, log_bytes) VALUES ($1, $2, $3, $3, 0)
		ON CONFLICT (environment) DO UPDATE SET version = excluded.version, generation = excluded.generation,
		compacted = excluded.compacted, log_bytes = 0`, env, version, gen); err != nil {
		return fmt.Errorf("postgres: event state of %s: %w", env, err)
	}
	u.replaced = true
	return nil
}

// The user log encoding: per user, uvarint length and key, uvarint length
// and state.
func appendUser(buf []byte, key string, state []byte) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(key)))
	buf = append(buf, key...)
	buf = binary.AppendUvarint(buf, uint64(len(state)))
	return append(buf, state...)
}

var errBadUserLog = errors.New("postgres: corrupt user log record")

// decodeUsers calls fn with each user of a log record; state is a copy.
func decodeUsers(d []byte, fn func(key string, state []byte)) error {
	for len(d) > 0 {
		n, k := binary.Uvarint(d)
		if k <= 0 || uint64(len(d)-k) < n {
			return errBadUserLog
		}
		key := string(d[k : k+int(n)])
		d = d[k+int(n):]
		n, k = binary.Uvarint(d)
		if k <= 0 || uint64(len(d)-k) < n {
			return errBadUserLog
		}
		fn(key, append([]byte(nil), d[k:k+int(n)]...))
		d = d[k+int(n):]
	}
	return nil
}
