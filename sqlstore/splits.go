package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/experiment"
)

// The split history of a flag comes from the audit trail: every change of a
// flag is recorded there with the definition after it, in the transaction
// that makes it, so the trail is the flag's version history (rollout steps
// included: the rollout engine writes its splits as flag updates).

// SplitHistory returns the split periods of flag in env, oldest first
// (experiment.SplitHistory of its audited versions); nil when the flag was
// never stored. It is read for every results request, so it comes from the
// cache of SplitChanges (one primary-key read when no flag changed); the
// periods are shared and must not be changed.
func (s *Store) SplitHistory(ctx context.Context, env, flag string) ([]experiment.SplitPeriod, error) {
	e, err := s.splitsOf(ctx, env)
	if err != nil {
		return nil, err
	}
	return e.history[flag], nil
}

// SplitHistories returns the split periods of every flag of env, by flag,
// as SplitHistory gives each (one primary-key read when no flag changed):
// for a reader of many flags of env, which would read the environment's
// version once per flag. The map and periods are shared and must not be
// changed.
func (s *Store) SplitHistories(ctx context.Context, env string) (map[string][]experiment.SplitPeriod, error) {
	e, err := s.splitsOf(ctx, env)
	if err != nil {
		return nil, err
	}
	return e.history, nil
}

// SplitChanges returns, per flag of env, the times at which its split
// changed, and the environment version they are of (ingest.SplitStore).
// The version is read first, so the changes are at least those of that
// version; the pipeline holds the version in its transactions
// (SplitsVersion) and reads again when it moved.
func (s *Store) SplitChanges(ctx context.Context, env string) (map[string][]int64, int64, error) {
	e, err := s.splitsOf(ctx, env)
	if err != nil {
		return nil, 0, err
	}
	return e.changes, e.version, nil
}

// splitsOf returns the split histories of env's flags, cached per
// environment version, which every change of a flag increases, on any node:
// one primary-key read when nothing changed.
func (s *Store) splitsOf(ctx context.Context, env string) (splitEntry, error) {
	var version int64
	err := s.read().QueryRow(ctx, `SELECT version FROM environments WHERE key = ?`, env).Scan(&version)
	if errors.Is(err, sql.ErrNoRows) {
		return splitEntry{}, nil
	} else if err != nil {
		return splitEntry{}, fmt.Errorf("%s: split history of %s: %w", s.o.D.Name, env, err)
	}
	if e, ok := s.splits.get(env, version); ok {
		return e, nil
	}
	vs, err := s.flagVersions(ctx, env)
	if err != nil {
		return splitEntry{}, err
	}
	e := splitEntry{version: version, history: map[string][]experiment.SplitPeriod{}, changes: map[string][]int64{}}
	for flag, v := range vs {
		h := experiment.SplitHistory(v)
		e.history[flag] = h
		if ch := experiment.SplitChanges(h); len(ch) > 0 {
			e.changes[flag] = ch
		}
	}
	s.splits.put(env, e)
	return e, nil
}

// ChangeTime is the time a change of flags is recorded at: now rounded up
// to the millisecond, as split periods and exposures are timed. Taken
// once the environment's row is locked, it is later than every exposure
// of the transactions that held the row before (ingest.SplitStore).
func ChangeTime(now time.Time) time.Time {
	if t := now.Truncate(time.Millisecond); !t.Equal(now) {
		return t.Add(time.Millisecond)
	}
	return now
}

// flagVersions returns the audited versions of every flag of env, oldest
// first.
func (s *Store) flagVersions(ctx context.Context, env string) (map[string][]experiment.FlagVersion, error) {
	q := `SELECT at, target, after FROM audit WHERE environment = ? AND action IN ('flag.create', 'flag.update', 'flag.delete')`
	rows, err := s.read().Query(ctx, q+` ORDER BY id`, env)
	if err != nil {
		return nil, fmt.Errorf("%s: flag history of %s: %w", s.o.D.Name, env, err)
	}
	defer rows.Close()
	out := map[string][]experiment.FlagVersion{}
	for rows.Next() {
		var v experiment.FlagVersion
		var key string
		var after sql.NullString
		if err := rows.Scan(timeDest{&v.At}, &key, &after); err != nil {
			return nil, fmt.Errorf("%s: flag history of %s: %w", s.o.D.Name, env, err)
		}
		if after.Valid {
			var f valueloop.Flag
			if err := json.Unmarshal([]byte(after.String), &f); err != nil {
				return nil, fmt.Errorf("%s: flag history of %s/%s: %w", s.o.D.Name, env, key, err)
			}
			f.Key = key
			v.Flag = &f
		}
		out[key] = append(out[key], v)
	}
	return out, rows.Err()
}

// splitCache holds the split histories of a store's environments at the
// environment version they were read at.
type splitCache struct {
	mu sync.Mutex
	m  map[string]splitEntry
}

type splitEntry struct {
	version int64
	history map[string][]experiment.SplitPeriod
	changes map[string][]int64
}

func (c *splitCache) get(env string, version int64) (splitEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[env]
	return e, ok && e.version == version
}

func (c *splitCache) put(env string, e splitEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]splitEntry{}
	}
	c.m[env] = e
}
