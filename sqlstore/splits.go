package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/experiment"
)

// The split history of a flag comes from the audit trail: every change of a
// flag is recorded there with the definition after it, in the transaction
// that makes it, so the trail is the flag's version history (rollout steps
// included: the rollout engine writes its splits as flag updates).

// SplitHistory returns the split periods of flag in env, oldest first
// (experiment.SplitHistory of its audited versions); nil when the flag was
// never stored.
func (s *Store) SplitHistory(ctx context.Context, env, flag string) ([]experiment.SplitPeriod, error) {
	vs, err := s.flagVersions(ctx, env, flag)
	if err != nil {
		return nil, err
	}
	return experiment.SplitHistory(vs[flag]), nil
}

// SplitChanges returns, per flag of env, the times at which its split
// changed (ingest.SplitStore). It is read before every group of events the
// pipeline writes, so it is cached per environment version, which every
// change of a flag increases: one primary-key read when nothing changed.
func (s *Store) SplitChanges(ctx context.Context, env string) (map[string][]int64, error) {
	var version int64
	err := s.read().QueryRow(ctx, `SELECT version FROM environments WHERE key = ?`, env).Scan(&version)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("%s: split changes of %s: %w", s.o.D.Name, env, err)
	}
	if ch, ok := s.splits.get(env, version); ok {
		return ch, nil
	}
	vs, err := s.flagVersions(ctx, env, "")
	if err != nil {
		return nil, err
	}
	out := map[string][]int64{}
	for flag, v := range vs {
		if ch := experiment.SplitChanges(experiment.SplitHistory(v)); len(ch) > 0 {
			out[flag] = ch
		}
	}
	s.splits.put(env, version, out)
	return out, nil
}

// flagVersions returns the audited versions of flag in env (every flag's
// with flag ""), oldest first.
func (s *Store) flagVersions(ctx context.Context, env, flag string) (map[string][]experiment.FlagVersion, error) {
	q := `SELECT at, target, after FROM audit WHERE environment = ? AND action IN ('flag.create', 'flag.update', 'flag.delete')`
	args := []any{env}
	if flag != "" {
		q += ` AND target = ?`
		args = append(args, flag)
	}
	rows, err := s.read().Query(ctx, q+` ORDER BY id`, args...)
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

// splitChangesCache holds the split changes of a store's environments at
// the environment version they were read at.
type splitChangesCache struct {
	mu sync.Mutex
	m  map[string]splitEntry
}

type splitEntry struct {
	version int64
	changes map[string][]int64
}

func (c *splitChangesCache) get(env string, version int64) (map[string][]int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[env]
	return e.changes, ok && e.version == version
}

func (c *splitChangesCache) put(env string, version int64, ch map[string][]int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]splitEntry{}
	}
	c.m[env] = splitEntry{version, ch}
}
