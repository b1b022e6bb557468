package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/flagplan"
)

// Environments returns every environment, ordered by key.
func (s *Store) Environments(ctx context.Context) ([]valueloop.Environment, error) {
	rows, err := s.read().Query(ctx, `SELECT key, name, production FROM environments ORDER BY key`)
	if err != nil {
		return nil, fmt.Errorf("%s: list environments: %w", s.o.D.Name, err)
	}
	return collect(rows, func(rows *sql.Rows) (valueloop.Environment, error) {
		var e valueloop.Environment
		err := rows.Scan(&e.Key, &e.Name, &e.Production)
		return e, err
	})
}

// CreateEnvironment adds an environment; ECONFLICT when the key exists.
func (s *Store) CreateEnvironment(ctx context.Context, env valueloop.Environment, actor string) error {
	return s.write(ctx, func(tx Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO environments (key, name, production, created_at) VALUES (?, ?, ?, ?)`,
			env.Key, env.Name, env.Production, s.o.D.Time(s.now())); err != nil {
			return err
		}
		after, _ := json.Marshal(env)
		if err := s.audit(ctx, tx, actor, env.Key, "environment.create", env.Key, nil, after, ""); err != nil {
			return err
		}
		return s.changed(ctx, tx, KindFlags, env.Key)
	})
}

// FlagSet returns the flag set of env and the environment's version.
func (s *Store) FlagSet(ctx context.Context, env string) (*valueloop.FlagSet, int64, error) {
	var set *valueloop.FlagSet
	var version int64
	err := s.readTx(ctx, func(tx Tx) error {
		var err error
		set, version, err = s.flagSet(ctx, tx, env, false)
		return err
	})
	return set, version, err
}

// flagSet reads env's set; lock takes the environment's row lock first,
// which serialises writers of one environment across nodes.
func (s *Store) flagSet(ctx context.Context, tx Tx, env string, lock bool) (*valueloop.FlagSet, int64, error) {
	var evaluators, metadata string
	var version int64
	q := `SELECT evaluators, metadata, version FROM environments WHERE key = ?`
	if lock {
		q += s.o.D.ForUpdate
	}
	err := tx.QueryRow(ctx, q, env).Scan(&evaluators, &metadata, &version)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, 0, valueloop.Errorf(valueloop.ENOTFOUND, "environment %q not found", env)
	} else if err != nil {
		return nil, 0, fmt.Errorf("%s: read environment %s: %w", s.o.D.Name, env, err)
	}
	set := &valueloop.FlagSet{Flags: map[string]*valueloop.Flag{}}
	if err := json.Unmarshal([]byte(evaluators), &set.Evaluators); err != nil {
		return nil, 0, fmt.Errorf("%s: environment %s evaluators: %w", s.o.D.Name, env, err)
	}
	if err := json.Unmarshal([]byte(metadata), &set.Metadata); err != nil {
		return nil, 0, fmt.Errorf("%s: environment %s metadata: %w", s.o.D.Name, env, err)
	}
	rows, err := tx.Query(ctx, `SELECT key, definition, version FROM flags WHERE environment = ?`, env)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: read flags of %s: %w", s.o.D.Name, env, err)
	}
	defer rows.Close()
	for rows.Next() {
		var key, def string
		var v int64
		if err := rows.Scan(&key, &def, &v); err != nil {
			return nil, 0, err
		}
		f := &valueloop.Flag{}
		if err := json.Unmarshal([]byte(def), f); err != nil {
			return nil, 0, fmt.Errorf("%s: flag %s/%s: %w", s.o.D.Name, env, key, err)
		}
		f.Key, f.Version = key, v
		set.Flags[key] = f
	}
	return set, version, rows.Err()
}

// ReplaceFlagSet makes set the complete flag set of env, in one transaction:
// flags that differ are written with their version increased, flags not in set
// are removed, each change is audited. Identical content writes nothing.
// ifVersion guards a set made from a stored one (a merge): -1 writes
// whatever is stored, n >= 0 only over the environment's version n
// (ECONFLICT when it moved, and nothing is written).
func (s *Store) ReplaceFlagSet(ctx context.Context, env string, set *valueloop.FlagSet, ifVersion int64, actor, reason string) (valueloop.FlagSetChange, error) {
	return s.ReplaceFlagSetAt(ctx, env, set, ifVersion, actor, reason, time.Time{})
}

// ReplaceFlagSetAt is ReplaceFlagSet with the change dated at (zero: now),
// for loading a history whose traffic came after its flags were made
// (serve --demo). Only the creation of flags env never had may be dated
// back, and no earlier than env's latest flag change: a flag's first
// version starts no split period (experiment.SplitHistory), so the periods
// the pipeline filed exposures by stay as they were, and the flag history
// stays in order. Anything else, or a time ahead of the store's clock, is
// EINVALID and writes nothing.
func (s *Store) ReplaceFlagSetAt(ctx context.Context, env string, set *valueloop.FlagSet, ifVersion int64, actor, reason string, at time.Time) (valueloop.FlagSetChange, error) {
	var change valueloop.FlagSetChange
	err := s.write(ctx, func(tx Tx) error {
		change = valueloop.FlagSetChange{}
		old, version, err := s.flagSet(ctx, tx, env, true)
		if err != nil {
			return err
		}
		if err := setMoved(env, version, ifVersion); err != nil {
			return err
		}
		plan, err := flagplan.Compare(old, set)
		if err != nil {
			return valueloop.FieldErrorf("flags", "cannot encode: %v", err)
		}
		when := ChangeTime(s.now()) // after the lock: see ChangeTime
		if !at.IsZero() && !plan.Empty() {
			if err := s.mayDateBack(ctx, tx, env, plan, at); err != nil {
				return err
			}
			when = ChangeTime(at)
		}
		now := s.o.D.Time(when)
		for _, w := range plan.Writes {
			action := "flag.update"
			switch {
			case w.Before == nil:
				action = "flag.create"
				// Made at the environment's next version: see PutFlagOver.
				_, err = tx.Exec(ctx, `INSERT INTO flags (environment, key, definition, version, updated_at) VALUES (?, ?, ?, ?, ?)`, env, w.Key, string(w.After), version+1, now)
			case w.After == nil:
				action = "flag.delete"
				_, err = tx.Exec(ctx, `DELETE FROM flags WHERE environment = ? AND key = ?`, env, w.Key)
			default:
				_, err = tx.Exec(ctx, `UPDATE flags SET definition = ?, version = version + 1, updated_at = ? WHERE environment = ? AND key = ?`, string(w.After), now, env, w.Key)
			}
			if err != nil {
				return err
			}
			if err := s.auditAt(ctx, tx, when, actor, env, action, w.Key, w.Before, w.After, reason); err != nil {
				return err
			}
		}
		if plan.SetAfter != nil {
			if err := s.auditAt(ctx, tx, when, actor, env, "flagset.update", env, plan.SetBefore, plan.SetAfter, reason); err != nil {
				return err
			}
		}
		change = plan.Change(version)
		if plan.Empty() {
			return nil
		}
		change.Version = version + 1
		if _, err := tx.Exec(ctx, `UPDATE environments SET evaluators = ?, metadata = ?, version = ? WHERE key = ?`,
			string(plan.Evaluators), string(plan.Metadata), change.Version, env); err != nil {
			return err
		}
		return s.changed(ctx, tx, KindFlags, env)
	})
	return change, err
}

// mayDateBack checks that plan may be dated at (ReplaceFlagSetAt): at is
// not ahead of the clock nor before env's latest flag change, each write
// creates a flag env's audit trail has never had, and the set's
// $evaluators and metadata change only when env never had them (a $ref'd
// fragment changed changes the flags that use it).
func (s *Store) mayDateBack(ctx context.Context, tx Tx, env string, plan flagplan.Plan, at time.Time) error {
	if at.After(s.now()) {
		return valueloop.Errorf(valueloop.EINVALID, "flag change time %s is ahead of the server's clock", at.UTC().Format(time.RFC3339))
	}
	const flagActions = `environment = ? AND action IN ('flag.create', 'flag.update', 'flag.delete', 'flagset.update')`
	var latest time.Time
	err := tx.QueryRow(ctx, `SELECT at FROM audit WHERE `+flagActions+` ORDER BY id DESC LIMIT 1`, env).Scan(timeDest{&latest})
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: latest flag change of %s: %w", s.o.D.Name, env, err)
	}
	if at.Before(latest) {
		return valueloop.Errorf(valueloop.EINVALID, "flag change time %s is before the latest flag change of %s (%s)", at.UTC().Format(time.RFC3339), env, latest.UTC().Format(time.RFC3339))
	}
	if plan.SetAfter != nil {
		var n int64
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM audit WHERE environment = ? AND action = 'flagset.update'`, env).Scan(&n); err != nil {
			return fmt.Errorf("%s: set history of %s: %w", s.o.D.Name, env, err)
		}
		if n > 0 || len(plan.Writes) == 0 {
			return valueloop.Errorf(valueloop.EINVALID, "flag set of %s: only the creation of flags it never had may be dated back, not a change of its $evaluators or metadata", env)
		}
	}
	for _, w := range plan.Writes {
		var n int64
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM audit WHERE `+flagActions+` AND target = ?`, env, w.Key).Scan(&n); err != nil {
			return fmt.Errorf("%s: history of flag %s/%s: %w", s.o.D.Name, env, w.Key, err)
		}
		if w.Before != nil || n > 0 {
			return valueloop.Errorf(valueloop.EINVALID, "flag %q: only the creation of a flag %s never had may be dated back", w.Key, env)
		}
	}
	return nil
}

// PutFlag creates or updates one flag of env. ifVersion guards against lost
// updates: -1 writes whatever is stored, 0 only creates (ECONFLICT when the
// flag exists), n > 0 only updates version n (ECONFLICT when the stored
// version differs, ENOTFOUND when there is no such flag), and
// valueloop.IfFlagExists only updates, any version (ENOTFOUND when there is
// no such flag). It returns the
// flag's new version and the environment's; an identical definition writes
// nothing and returns the current versions.
func (s *Store) PutFlag(ctx context.Context, env string, f *valueloop.Flag, ifVersion int64, actor, reason string) (flagVersion, envVersion int64, err error) {
	return s.PutFlagOver(ctx, env, -1, f, ifVersion, actor, reason)
}

// PutFlagOver is PutFlag for a flag checked against the environment's set
// at version over (-1: any): ECONFLICT, and nothing written, when the
// environment's version moved on. A check against the rest of the set
// (a $ref to an evaluator, which a peer may have removed) holds only for
// the set it was made with.
func (s *Store) PutFlagOver(ctx context.Context, env string, over int64, f *valueloop.Flag, ifVersion int64, actor, reason string) (flagVersion, envVersion int64, err error) {
	err = s.write(ctx, func(tx Tx) error {
		if err := tx.QueryRow(ctx, `SELECT version FROM environments WHERE key = ?`+s.o.D.ForUpdate, env).Scan(&envVersion); errors.Is(err, sql.ErrNoRows) {
			return valueloop.Errorf(valueloop.ENOTFOUND, "environment %q not found", env)
		} else if err != nil {
			return err
		}
		if err := setMoved(env, envVersion, over); err != nil {
			return err
		}
		after, err := flagplan.EncodeFlag(f)
		if err != nil {
			return err
		}
		var before string
		err = tx.QueryRow(ctx, `SELECT definition, version FROM flags WHERE environment = ? AND key = ?`, env, f.Key).Scan(&before, &flagVersion)
		exists := err == nil
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		switch {
		case ifVersion == 0 && exists:
			return valueloop.Errorf(valueloop.ECONFLICT, "flag %q already exists in %s", f.Key, env)
		case (ifVersion > 0 || ifVersion == valueloop.IfFlagExists) && !exists:
			return valueloop.Errorf(valueloop.ENOTFOUND, "flag %q not found in %s", f.Key, env)
		case ifVersion > 0 && flagVersion != ifVersion:
			return valueloop.Errorf(valueloop.ECONFLICT, "flag %q is at version %d, not %d: someone changed it first", f.Key, flagVersion, ifVersion)
		}
		if exists && before == string(after) {
			return nil
		}
		envVersion++
		at := ChangeTime(s.now()) // after the lock: see ChangeTime
		now := s.o.D.Time(at)
		if exists {
			flagVersion++
			_, err = tx.Exec(ctx, `UPDATE flags SET definition = ?, version = ?, updated_at = ? WHERE environment = ? AND key = ?`,
				string(after), flagVersion, now, env, f.Key)
		} else {
			// A flag made, or made again after a delete, starts at the
			// environment's version, just moved: every write of a flag
			// moves it too, so it is above every version a flag of this
			// key had before, and a write from one read before the delete
			// is refused rather than taken as this flag's. Made at 1, it
			// took such a write's version for its own.
			flagVersion = envVersion
			_, err = tx.Exec(ctx, `INSERT INTO flags (environment, key, definition, version, updated_at) VALUES (?, ?, ?, ?, ?)`,
				env, f.Key, string(after), flagVersion, now)
		}
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE environments SET version = ? WHERE key = ?`, envVersion, env); err != nil {
			return err
		}
		action, prev := "flag.update", []byte(before)
		if !exists {
			action, prev = "flag.create", nil
		}
		if err := s.auditAt(ctx, tx, at, actor, env, action, f.Key, prev, after, reason); err != nil {
			return err
		}
		return s.changed(ctx, tx, KindFlags, env)
	})
	return flagVersion, envVersion, err
}

// setMoved is the ECONFLICT of a write made for env's set at version want
// (-1: any) when the set is at version got.
func setMoved(env string, got, want int64) error {
	if want < 0 || got == want {
		return nil
	}
	return valueloop.Errorf(valueloop.ECONFLICT, "the flags of %s are at version %d, not %d: someone changed them first", env, got, want)
}

// DeleteFlag removes one flag of env; ifVersion as for PutFlag (-1 and
// valueloop.IfFlagExists: any; a missing flag is ENOTFOUND whatever it is). It
// returns the environment's new version.
func (s *Store) DeleteFlag(ctx context.Context, env, key string, ifVersion int64, actor, reason string) (envVersion int64, err error) {
	err = s.write(ctx, func(tx Tx) error {
		if err := tx.QueryRow(ctx, `SELECT version FROM environments WHERE key = ?`+s.o.D.ForUpdate, env).Scan(&envVersion); errors.Is(err, sql.ErrNoRows) {
			return valueloop.Errorf(valueloop.ENOTFOUND, "flag %q not found in %s", key, env)
		} else if err != nil {
			return err
		}
		var before string
		var v int64
		err := tx.QueryRow(ctx, `SELECT definition, version FROM flags WHERE environment = ? AND key = ?`, env, key).Scan(&before, &v)
		if errors.Is(err, sql.ErrNoRows) {
			return valueloop.Errorf(valueloop.ENOTFOUND, "flag %q not found in %s", key, env)
		} else if err != nil {
			return err
		}
		if ifVersion > 0 && v != ifVersion {
			return valueloop.Errorf(valueloop.ECONFLICT, "flag %q is at version %d, not %d: someone changed it first", key, v, ifVersion)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM flags WHERE environment = ? AND key = ?`, env, key); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `UPDATE environments SET version = version + 1 WHERE key = ? RETURNING version`, env).Scan(&envVersion); err != nil {
			return err
		}
		if err := s.auditAt(ctx, tx, ChangeTime(s.now()), actor, env, "flag.delete", key, []byte(before), nil, reason); err != nil {
			return err
		}
		return s.changed(ctx, tx, KindFlags, env)
	})
	return envVersion, err
}
