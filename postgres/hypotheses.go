package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/experiment"
)

// Hypothesis returns the hypothesis of flag in env; ENOTFOUND when it has
// none.
func (db *DB) Hypothesis(ctx context.Context, env, flag string) (*experiment.Hypothesis, error) {
	h, err := hypothesis(ctx, db.pool, env, flag, false)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, valueloop.Errorf(valueloop.ENOTFOUND, "flag %q has no hypothesis in environment %q", flag, env)
	}
	return h, err
}

func hypothesis(ctx context.Context, q querier, env, flag string, lock bool) (*experiment.Hypothesis, error) {
	var def string
	h := &experiment.Hypothesis{}
	sql := `SELECT definition, version, updated_at, updated_by FROM hypotheses WHERE environment = $1 AND flag = $2`
	if lock {
		sql += ` FOR UPDATE`
	}
	var updated time.Time
	if err := q.QueryRow(ctx, sql, env, flag).Scan(&def, &h.Version, &updated, &h.UpdatedBy); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(def), h); err != nil {
		return nil, fmt.Errorf("postgres: hypothesis %s/%s: %w", env, flag, err)
	}
	h.UpdatedAt = updated.UTC()
	return h, nil
}

// PutHypothesis makes h (already normalised) the hypothesis of flag in env,
// creating or replacing it, and sets its Version, UpdatedAt and UpdatedBy.
// ENOTFOUND without the environment. The change is audited with the flag
// as target.
func (db *DB) PutHypothesis(ctx context.Context, env, flag string, h *experiment.Hypothesis, actor string) error {
	return db.write(ctx, func(tx pgx.Tx) error {
		var before []byte
		old, err := hypothesis(ctx, tx, env, flag, true)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
		case err != nil:
			return err
		default:
			before, _ = hypothesisJSON(old)
		}
		c := *h
		c.UpdatedAt, c.UpdatedBy = db.now(), actor
		after, err := hypothesisJSON(&c)
		if err != nil {
			return err
		}
		err = tx.QueryRow(ctx, `INSERT INTO hypotheses (environment, flag, definition, version, updated_at, updated_by) VALUES ($1, $2, $3, 1, $4, $5)
			ON CONFLICT (environment, flag) DO UPDATE SET definition = excluded.definition, version = hypotheses.version + 1,
			updated_at = excluded.updated_at, updated_by = excluded.updated_by RETURNING version`,
			env, flag, string(after), c.UpdatedAt, actor).Scan(&c.Version)
		if err != nil {
			if valueloop.ErrorCode(domainError(err)) == valueloop.ENOTFOUND {
				return valueloop.Errorf(valueloop.ENOTFOUND, "environment %q not found", env)
			}
			return fmt.Errorf("postgres: store hypothesis %s/%s: %w", env, flag, err)
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
	return db.write(ctx, func(tx pgx.Tx) error {
		var def string
		err := tx.QueryRow(ctx, `DELETE FROM hypotheses WHERE environment = $1 AND flag = $2 RETURNING definition`, env, flag).Scan(&def)
		if errors.Is(err, pgx.ErrNoRows) {
			return valueloop.Errorf(valueloop.ENOTFOUND, "flag %q has no hypothesis in environment %q", flag, env)
		} else if err != nil {
			return err
		}
		return db.audit(ctx, tx, actor, env, "hypothesis.delete", flag, []byte(def), nil, "")
	})
}

// hypothesisJSON is the stored JSON of h: everything but the columns (the
// same as package sqlite's).
func hypothesisJSON(h *experiment.Hypothesis) ([]byte, error) {
	c := *h
	c.Version, c.UpdatedAt, c.UpdatedBy = 0, time.Time{}, ""
	return json.Marshal(&c)
}
