package sqlstore

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
func (s *Store) Hypothesis(ctx context.Context, env, flag string) (*experiment.Hypothesis, error) {
	h, err := s.hypothesis(ctx, s.read(), env, flag, false)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, valueloop.Errorf(valueloop.ENOTFOUND, "flag %q has no hypothesis in environment %q", flag, env)
	}
	return h, err
}

// Hypotheses returns the hypotheses of env's flags given, by flag, in one
// read that names them (those without one are absent): what a reader of
// many flags of one environment (the value loop's next) reads instead of
// one query per flag. The caller bounds the flags per call well within
// the parameters a statement may have.
func (s *Store) Hypotheses(ctx context.Context, env string, flags ...string) (map[string]*experiment.Hypothesis, error) {
	out := make(map[string]*experiment.Hypothesis, len(flags))
	if len(flags) == 0 {
		return out, nil
	}
	in, args := flagsIn(env, flags)
	rows, err := s.read().Query(ctx, `SELECT flag, `+hypothesisColumns+` FROM hypotheses WHERE environment = ? AND flag `+in, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: hypotheses of %s: %w", s.o.D.Name, env, err)
	}
	defer rows.Close()
	for rows.Next() {
		var flag string
		var row hypothesisRow
		if err := rows.Scan(append([]any{&flag}, row.dest()...)...); err != nil {
			return nil, fmt.Errorf("%s: hypotheses of %s: %w", s.o.D.Name, env, err)
		}
		if out[flag], err = row.decode(s.o.D.Name, env, flag); err != nil {
			return nil, err
		}
	}
	return out, rows.Err()
}

// hypothesisColumns are a hypothesis' columns as hypothesisRow scans them.
const hypothesisColumns = `definition, version, updated_at, updated_by`

// hypothesisRow is a row of hypothesisColumns as it is scanned: the
// definition (JSON) and what is kept beside it.
type hypothesisRow struct {
	def string
	h   experiment.Hypothesis
}

func (r *hypothesisRow) dest() []any {
	return []any{&r.def, &r.h.Version, timeDest{&r.h.UpdatedAt}, &r.h.UpdatedBy}
}

// decode is the hypothesis of env's flag the row holds.
func (r *hypothesisRow) decode(store, env, flag string) (*experiment.Hypothesis, error) {
	if err := json.Unmarshal([]byte(r.def), &r.h); err != nil {
		return nil, fmt.Errorf("%s: hypothesis %s/%s: %w", store, env, flag, err)
	}
	return &r.h, nil
}

func (s *Store) hypothesis(ctx context.Context, q querier, env, flag string, lock bool) (*experiment.Hypothesis, error) {
	query := `SELECT ` + hypothesisColumns + ` FROM hypotheses WHERE environment = ? AND flag = ?`
	if lock {
		query += s.o.D.ForUpdate
	}
	var row hypothesisRow
	if err := q.QueryRow(ctx, query, env, flag).Scan(row.dest()...); err != nil {
		return nil, err
	}
	return row.decode(s.o.D.Name, env, flag)
}

// PutHypothesis makes h (already normalised) the hypothesis of flag in env,
// creating or replacing it, and sets its Version, UpdatedAt and UpdatedBy.
// A hypothesis made (again) starts above every version its flag's
// hypothesis had before it was deleted, not at 1.
// ENOTFOUND without the environment. The change is audited with the flag
// as target.
func (s *Store) PutHypothesis(ctx context.Context, env, flag string, h *experiment.Hypothesis, actor string) error {
	return s.PutHypothesisAt(ctx, env, flag, h, actor, time.Time{})
}

// PutHypothesisAt is PutHypothesis with the change dated at (zero: now),
// for loading a history whose experiment ran after its hypothesis was
// stated (serve --demo). Only a hypothesis the flag never had in env may
// be dated back, to no later than the store's clock; anything else is
// EINVALID and writes nothing.
func (s *Store) PutHypothesisAt(ctx context.Context, env, flag string, h *experiment.Hypothesis, actor string, at time.Time) error {
	if !at.IsZero() && at.After(s.now()) {
		return valueloop.Errorf(valueloop.EINVALID, "hypothesis time %s is ahead of the server's clock", at.UTC().Format(time.RFC3339))
	}
	return s.write(ctx, func(tx Tx) error {
		var before []byte
		first := int64(1)
		old, err := s.hypothesis(ctx, tx, env, flag, true)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			// A hypothesis made, or made again after a delete, starts
			// above every version one of this flag had before: every put
			// raised the version by one and audited one hypothesis.put,
			// so their count is at least the last version. Made at 1, a
			// deleted hypothesis' versions came back, and a client that
			// keyed what it kept by version (the dashboard's replay once
			// did) took the new hypothesis for the old one.
			var puts int64
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM audit WHERE environment = ? AND target = ? AND action = 'hypothesis.put'`, env, flag).Scan(&puts); err != nil {
				return fmt.Errorf("%s: count the puts of hypothesis %s/%s: %w", s.o.D.Name, env, flag, err)
			}
			first = puts + 1
		case err != nil:
			return err
		default:
			before, _ = definition(old)
		}
		when := s.now()
		if !at.IsZero() {
			if before != nil || first > 1 {
				return valueloop.Errorf(valueloop.EINVALID, "flag %q: only a hypothesis it never had in %s may be dated back", flag, env)
			}
			when = at.UTC()
		}
		c := *h
		c.UpdatedAt, c.UpdatedBy = when, actor
		after, err := definition(&c)
		if err != nil {
			return err
		}
		err = tx.QueryRow(ctx, `INSERT INTO hypotheses (environment, flag, definition, version, updated_at, updated_by) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (environment, flag) DO UPDATE SET definition = excluded.definition, version = hypotheses.version + 1,
			updated_at = excluded.updated_at, updated_by = excluded.updated_by RETURNING version`,
			env, flag, string(after), first, s.o.D.Time(c.UpdatedAt), actor).Scan(&c.Version)
		if err != nil {
			if s.isCode(err, valueloop.ENOTFOUND) {
				return valueloop.Errorf(valueloop.ENOTFOUND, "environment %q not found", env)
			}
			return fmt.Errorf("%s: store hypothesis %s/%s: %w", s.o.D.Name, env, flag, err)
		}
		if err := s.auditAt(ctx, tx, when, actor, env, "hypothesis.put", flag, before, after, ""); err != nil {
			return err
		}
		*h = c
		return nil
	})
}

// DeleteHypothesis removes the hypothesis of flag in env; ENOTFOUND when it
// has none.
func (s *Store) DeleteHypothesis(ctx context.Context, env, flag, actor string) error {
	return s.write(ctx, func(tx Tx) error {
		var def string
		err := tx.QueryRow(ctx, `DELETE FROM hypotheses WHERE environment = ? AND flag = ? RETURNING definition`, env, flag).Scan(&def)
		if errors.Is(err, sql.ErrNoRows) {
			return valueloop.Errorf(valueloop.ENOTFOUND, "flag %q has no hypothesis in environment %q", flag, env)
		} else if err != nil {
			return err
		}
		return s.audit(ctx, tx, actor, env, "hypothesis.delete", flag, []byte(def), nil, "")
	})
}

// definition is the stored JSON of h: everything but the columns.
func definition(h *experiment.Hypothesis) ([]byte, error) {
	c := *h
	c.Version, c.UpdatedAt, c.UpdatedBy = 0, time.Time{}, ""
	return json.Marshal(&c)
}
