package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/rollout"
)

var _ rollout.Store = (*DB)(nil)

const rolloutColumns = `id, environment, plan, state, step, percent, step_started_at, step_start_users, reason,
	acknowledged, flag_version, started_by, started_at, updated_at, finished_at, version`

// CreateRollout stores a new rollout and its first history entry, and
// audits it; ECONFLICT when the flag has an active rollout in the
// environment, ENOTFOUND without the environment.
func (db *DB) CreateRollout(ctx context.Context, r *rollout.Rollout, ev *rollout.Event) error {
	return db.write(ctx, func(tx pgx.Tx) error {
		plan, err := json.Marshal(r.Plan)
		if err != nil {
			return err
		}
		ack, err := json.Marshal(nonNil(r.Acknowledged))
		if err != nil {
			return err
		}
		err = tx.QueryRow(ctx, `INSERT INTO rollouts (environment, flag, plan, state, step, percent, step_started_at, step_start_users,
			reason, acknowledged, flag_version, started_by, started_at, updated_at, finished_at, version)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, 1) RETURNING id`,
			r.Environment, r.Plan.Flag, string(plan), string(r.State), r.Step, r.Percent, r.StepStartedAt, r.StepStartUsers,
			r.Reason, string(ack), r.FlagVersion, r.StartedBy, r.StartedAt, r.UpdatedAt, optTime(r.FinishedAt),
		).Scan(&r.ID)
		if err != nil {
			err = domainError(err)
			switch valueloop.ErrorCode(err) {
			case valueloop.ECONFLICT:
				return valueloop.Errorf(valueloop.ECONFLICT, "flag %q already has an active rollout in %s", r.Plan.Flag, r.Environment)
			case valueloop.ENOTFOUND:
				return valueloop.Errorf(valueloop.ENOTFOUND, "environment %q not found", r.Environment)
			}
			return fmt.Errorf("postgres: create rollout: %w", err)
		}
		r.Version = 1
		ev.Rollout = r.ID
		if err := insertRolloutEvent(ctx, tx, ev); err != nil {
			return err
		}
		after, _ := json.Marshal(map[string]any{"rollout": r.ID, "state": r.State, "step": r.Step, "percent": r.Percent, "plan": r.Plan})
		return db.audit(ctx, tx, ev.Actor, r.Environment, "rollout."+string(ev.Kind), r.Plan.Flag, nil, after, ev.Reason)
	})
}

// UpdateRollout stores r when the stored version is r.Version and
// increases it; ECONFLICT when someone changed the rollout meanwhile. A
// non-nil ev is appended to the history and audited.
func (db *DB) UpdateRollout(ctx context.Context, r *rollout.Rollout, ev *rollout.Event) error {
	return db.write(ctx, func(tx pgx.Tx) error {
		var state string
		var step, version int64
		var percent float64
		err := tx.QueryRow(ctx, `SELECT state, step, percent, version FROM rollouts WHERE id = $1 FOR UPDATE`, r.ID).Scan(&state, &step, &percent, &version)
		if errors.Is(err, pgx.ErrNoRows) {
			return valueloop.Errorf(valueloop.ENOTFOUND, "rollout %d not found", r.ID)
		} else if err != nil {
			return fmt.Errorf("postgres: read rollout %d: %w", r.ID, err)
		}
		if version != r.Version {
			return valueloop.Errorf(valueloop.ECONFLICT, "rollout %d changed meanwhile (version %d, not %d): read it again", r.ID, version, r.Version)
		}
		ack, err := json.Marshal(nonNil(r.Acknowledged))
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE rollouts SET state = $1, step = $2, percent = $3, step_started_at = $4, step_start_users = $5, reason = $6,
			acknowledged = $7, flag_version = $8, updated_at = $9, finished_at = $10, version = version + 1 WHERE id = $11`,
			string(r.State), r.Step, r.Percent, r.StepStartedAt, r.StepStartUsers, r.Reason,
			string(ack), r.FlagVersion, r.UpdatedAt, optTime(r.FinishedAt), r.ID)
		if err != nil {
			return fmt.Errorf("postgres: update rollout %d: %w", r.ID, err)
		}
		if ev != nil {
			ev.Rollout = r.ID
			if err := insertRolloutEvent(ctx, tx, ev); err != nil {
				return err
			}
			before, _ := json.Marshal(map[string]any{"rollout": r.ID, "state": state, "step": step, "percent": percent})
			after, _ := json.Marshal(map[string]any{"rollout": r.ID, "state": r.State, "step": r.Step, "percent": r.Percent})
			if err := db.audit(ctx, tx, ev.Actor, r.Environment, "rollout."+string(ev.Kind), r.Plan.Flag, before, after, ev.Reason); err != nil {
				return err
			}
		}
		r.Version = version + 1
		return nil
	})
}

func insertRolloutEvent(ctx context.Context, tx pgx.Tx, ev *rollout.Event) error {
	var figures *string
	if len(ev.Guardrails) > 0 {
		buf, err := json.Marshal(ev.Guardrails)
		if err != nil {
			return err
		}
		s := string(buf)
		figures = &s
	}
	err := tx.QueryRow(ctx, `INSERT INTO rollout_events (rollout, at, kind, actor, step, percent, state, reason, guardrails)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
		ev.Rollout, ev.At, string(ev.Kind), ev.Actor, ev.Step, ev.Percent, string(ev.State), ev.Reason, figures).Scan(&ev.ID)
	if err != nil {
		return fmt.Errorf("postgres: rollout history: %w", err)
	}
	return nil
}

// Rollouts lists rollouts, newest first.
func (db *DB) Rollouts(ctx context.Context, f rollout.Filter) ([]rollout.Rollout, error) {
	var where []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if f.Environment != "" {
		add("environment = $%d", f.Environment)
	}
	if f.Flag != "" {
		add("flag = $%d", f.Flag)
	}
	if f.Active {
		where = append(where, "state IN ('running', 'paused')")
	}
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 100
	}
	q := `SELECT ` + rolloutColumns + ` FROM rollouts`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	args = append(args, f.Limit)
	rows, err := db.pool.Query(ctx, q+fmt.Sprintf(" ORDER BY id DESC LIMIT $%d", len(args)), args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: list rollouts: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (rollout.Rollout, error) {
		r, err := scanRollout(row)
		if err != nil {
			return rollout.Rollout{}, err
		}
		return *r, nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: list rollouts: %w", err)
	}
	return out, nil
}

func scanRollout(row pgx.Row) (*rollout.Rollout, error) {
	var r rollout.Rollout
	var plan, ack, state string
	var finished *time.Time
	err := row.Scan(&r.ID, &r.Environment, &plan, &state, &r.Step, &r.Percent, &r.StepStartedAt, &r.StepStartUsers, &r.Reason,
		&ack, &r.FlagVersion, &r.StartedBy, &r.StartedAt, &r.UpdatedAt, &finished, &r.Version)
	if err != nil {
		return nil, err
	}
	r.State = rollout.State(state)
	if err := json.Unmarshal([]byte(plan), &r.Plan); err != nil {
		return nil, fmt.Errorf("rollout %d plan: %w", r.ID, err)
	}
	if err := json.Unmarshal([]byte(ack), &r.Acknowledged); err != nil {
		return nil, fmt.Errorf("rollout %d acknowledged: %w", r.ID, err)
	}
	if len(r.Acknowledged) == 0 {
		r.Acknowledged = nil
	}
	r.StepStartedAt, r.StartedAt, r.UpdatedAt = r.StepStartedAt.UTC(), r.StartedAt.UTC(), r.UpdatedAt.UTC()
	if finished != nil {
		r.FinishedAt = finished.UTC()
	}
	return &r, nil
}

// RolloutEvents returns the history of a rollout, oldest first.
func (db *DB) RolloutEvents(ctx context.Context, id int64) ([]rollout.Event, error) {
	rows, err := db.pool.Query(ctx, `SELECT id, rollout, at, kind, actor, step, percent, state, reason, guardrails
		FROM rollout_events WHERE rollout = $1 ORDER BY id`, id)
	if err != nil {
		return nil, fmt.Errorf("postgres: rollout %d history: %w", id, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (rollout.Event, error) {
		var ev rollout.Event
		var kind, state string
		var figures *string
		if err := row.Scan(&ev.ID, &ev.Rollout, &ev.At, &kind, &ev.Actor, &ev.Step, &ev.Percent, &state, &ev.Reason, &figures); err != nil {
			return ev, err
		}
		ev.Kind, ev.State, ev.At = rollout.Kind(kind), rollout.State(state), ev.At.UTC()
		if figures != nil {
			if err := json.Unmarshal([]byte(*figures), &ev.Guardrails); err != nil {
				return ev, fmt.Errorf("history figures: %w", err)
			}
		}
		return ev, nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: rollout %d history: %w", id, err)
	}
	if out == nil {
		out = []rollout.Event{}
	}
	return out, nil
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
