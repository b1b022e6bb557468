package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/experiment"
)

// Hypothesis returns the hypothesis of flag in env; ENOTFOUND when it has
// none.
func (db *DB) Hypothesis(ctx context.Context, env, flag string) (*experiment.Hypothesis, error) {
	h, err := hypothesis(ctx, db.db, env, flag)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, valueloop.Errorf(valueloop.ENOTFOUND, "flag %q has no hypothesis in environment %q", flag, env)
	}
	return h, err
}

type queryRower interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func hypothesis(ctx context.Context, q queryRower, env, flag string) (*experiment.Hypothesis, error) {
	var def, updated string
	h := &experiment.Hypothesis{}
	err := q.QueryRowContext(ctx, `SELECT definition, version, updated_at, updated_by FROM hypotheses WHERE environment = ? AND flag = ?`, env, flag).
		Scan(&def, &h.Version, &updated, &h.UpdatedBy)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(def), h); err != nil {
		return nil, fmt.Errorf("sqlite: hypothesis %s/%s: %w", env, flag, err)
	}
	if h.UpdatedAt, err = parseTime(updated); err != nil {
		return nil, err
	}
	return h, nil
}

// PutHypothesis makes h (already normalised) the hypothesis of flag in env,
// creating or replacing it, and sets its Version, UpdatedAt and UpdatedBy.
// ENOTFOUND without the environment. The change is audited with the flag
// as target.
func (db *DB) PutHypothesis(ctx context.Context, env, flag string, h *experiment.Hypothesis, actor string) error {
	return db.write(ctx, func(tx *sql.Tx) error {
		var before []byte
		old, err := hypothesis(ctx, tx, env, flag)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return err
		default:
			before, _ = definition(old)
		}
		c := *h
		c.Version, c.UpdatedAt, c.UpdatedBy = 1, db.Now().UTC(), actor
		if old != nil {
			c.Version = old.Version + 1
		}
		after, err := definition(&c)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO hypotheses (environment, flag, definition, version, updated_at, updated_by) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (environment, flag) DO UPDATE SET definition = excluded.definition, version = excluded.version,
			updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
			env, flag, string(after), c.Version, formatTime(c.UpdatedAt), actor)
		if err != nil {
			if valueloop.ErrorCode(domainError(err)) == valueloop.ENOTFOUND {
				return valueloop.Errorf(valueloop.ENOTFOUND, "environment %q not found", env)
			}
			return fmt.Errorf("sqlite: store hypothesis %s/%s: %w", env, flag, err)
		}
		if err := db.audit(ctx, tx, actor, env, "hypothesis.put", flag, before, after, ""); err != nil {
			return err
		}
		*h = c
		return nil
	})
}

// DeleteHypothesis removes the hypothesis of flag in env; ENOTFOUND when it
// has none.
func (db *DB) DeleteHypothesis(ctx context.Context, env, flag, actor string) error {
	return db.write(ctx, func(tx *sql.Tx) error {
		var def string
		err := tx.QueryRowContext(ctx, `DELETE FROM hypotheses WHERE environment = ? AND flag = ? RETURNING definition`, env, flag).Scan(&def)
		if errors.Is(err, sql.ErrNoRows) {
			return valueloop.Errorf(valueloop.ENOTFOUND, "flag %q has no hypothesis in environment %q", flag, env)
		} else if err != nil {
			return err
		}
		return db.audit(ctx, tx, actor, env, "hypothesis.delete", flag, []byte(def), nil, "")
	})
}

// definition is the stored JSON of h: everything but the columns.
func definition(h *experiment.Hypothesis) ([]byte, error) {
	c := *h
	c.Version, c.UpdatedAt, c.UpdatedBy = 0, time.Time{}, ""
	return json.Marshal(&c)
}
