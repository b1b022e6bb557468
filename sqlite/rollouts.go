package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

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
	return db.write(ctx, func(tx *sql.Tx) error {
		plan, err := json.Marshal(r.Plan)
		if err != nil {
			return err
		}
		ack, err := json.Marshal(nonNil(r.Acknowledged))
		if err != nil {
			return err
		}
		err = tx.QueryRowContext(ctx, `INSERT INTO rollouts (environment, flag, plan, state, step, percent, step_started_at, step_start_users,
			reason, acknowledged, flag_version, started_by, started_at, updated_at, finished_at, version)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1) RETURNING id`,
			r.Environment, r.Plan.Flag, string(plan), r.State, r.Step, r.Percent, formatTime(r.StepStartedAt), r.StepStartUsers,
			r.Reason, string(ack), r.FlagVersion, r.StartedBy, formatTime(r.StartedAt), formatTime(r.UpdatedAt), optTime(r),
		).Scan(&r.ID)
		if err != nil {
			err = domainError(err)
			switch valueloop.ErrorCode(err) {
			case valueloop.ECONFLICT:
				return valueloop.Errorf(valueloop.ECONFLICT, "flag %q already has an active rollout in %s", r.Plan.Flag, r.Environment)
			case valueloop.ENOTFOUND:
				return valueloop.Errorf(valueloop.ENOTFOUND, "environment %q not found", r.Environment)
			}
			return fmt.Errorf("sqlite: create rollout: %w", err)
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
	return db.write(ctx, func(tx *sql.Tx) error {
		var state string
		var step, version int64
		var percent float64
		err := tx.QueryRowContext(ctx, `SELECT state, step, percent, version FROM rollouts WHERE id = ?`, r.ID).Scan(&state, &step, &percent, &version)
		if errors.Is(err, sql.ErrNoRows) {
			return valueloop.Errorf(valueloop.ENOTFOUND, "rollout %d not found", r.ID)
		} else if err != nil {
			return fmt.Errorf("sqlite: read rollout %d: %w", r.ID, err)
		}
		if version != r.Version {
			return valueloop.Errorf(valueloop.ECONFLICT, "rollout %d changed meanwhile (version %d, not %d): read it again", r.ID, version, r.Version)
		}
		ack, err := json.Marshal(nonNil(r.Acknowledged))
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE rollouts SET state = ?, step = ?, percent = ?, step_started_at = ?, step_start_users = ?, reason = ?,
			acknowledged = ?, flag_version = ?, updated_at = ?, finished_at = ?, version = version + 1 WHERE id = ?`,
			r.State, r.Step, r.Percent, formatTime(r.StepStartedAt), r.StepStartUsers, r.Reason,
			string(ack), r.FlagVersion, formatTime(r.UpdatedAt), optTime(r), r.ID)
		if err != nil {
			return fmt.Errorf("sqlite: update rollout %d: %w", r.ID, err)
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

func insertRolloutEvent(ctx context.Context, tx *sql.Tx, ev *rollout.Event) error {
	var figures any
	if len(ev.Guardrails) > 0 {
		buf, err := json.Marshal(ev.Guardrails)
		if err != nil {
			return err
		}
		figures = string(buf)
	}
	err := tx.QueryRowContext(ctx, `INSERT INTO rollout_events (rollout, at, kind, actor, step, percent, state, reason, guardrails)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		ev.Rollout, formatTime(ev.At), ev.Kind, ev.Actor, ev.Step, ev.Percent, ev.State, ev.Reason, figures).Scan(&ev.ID)
	if err != nil {
		return fmt.Errorf("sqlite: rollout history: %w", err)
	}
	return nil
}

// Rollouts lists rollouts, newest first.
func (db *DB) Rollouts(ctx context.Context, f rollout.Filter) ([]rollout.Rollout, error) {
	var where []string
	var args []any
	if f.Environment != "" {
		where, args = append(where, "environment = ?"), append(args, f.Environment)
	}
	if f.Flag != "" {
		where, args = append(where, "flag = ?"), append(args, f.Flag)
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
	rows, err := db.db.QueryContext(ctx, q+" ORDER BY id DESC LIMIT ?", append(args, f.Limit)...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list rollouts: %w", err)
	}
	defer rows.Close()
	var out []rollout.Rollout
	for rows.Next() {
		r, err := scanRollout(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *r)
	}
	return out, rows.Err()
}

func scanRollout(row interface{ Scan(...any) error }) (*rollout.Rollout, error) {
	var r rollout.Rollout
	var plan, ack, stepStarted, started, updated string
	var finished sql.NullString
	err := row.Scan(&r.ID, &r.Environment, &plan, &r.State, &r.Step, &r.Percent, &stepStarted, &r.StepStartUsers, &r.Reason,
		&ack, &r.FlagVersion, &r.StartedBy, &started, &updated, &finished, &r.Version)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(plan), &r.Plan); err != nil {
		return nil, fmt.Errorf("sqlite: rollout %d plan: %w", r.ID, err)
	}
	if err := json.Unmarshal([]byte(ack), &r.Acknowledged); err != nil {
		return nil, fmt.Errorf("sqlite: rollout %d acknowledged: %w", r.ID, err)
	}
	if len(r.Acknowledged) == 0 {
		r.Acknowledged = nil
	}
	if r.StepStartedAt, err = parseTime(stepStarted); err != nil {
		return nil, err
	}
	if r.StartedAt, err = parseTime(started); err != nil {
		return nil, err
	}
	if r.UpdatedAt, err = parseTime(updated); err != nil {
		return nil, err
	}
	if finished.Valid {
		if r.FinishedAt, err = parseTime(finished.String); err != nil {
			return nil, err
		}
	}
	return &r, nil
}

// RolloutEvents returns the history of a rollout, oldest first.
func (db *DB) RolloutEvents(ctx context.Context, id int64) ([]rollout.Event, error) {
	rows, err := db.db.QueryContext(ctx, `SELECT id, rollout, at, kind, actor, step, percent, state, reason, guardrails
		FROM rollout_events WHERE rollout = ? ORDER BY id`, id)
	if err != nil {
		return nil, fmt.Errorf("sqlite: rollout %d history: %w", id, err)
	}
	defer rows.Close()
	out := []rollout.Event{}
	for rows.Next() {
		var ev rollout.Event
		var at string
		var figures sql.NullString
		if err := rows.Scan(&ev.ID, &ev.Rollout, &at, &ev.Kind, &ev.Actor, &ev.Step, &ev.Percent, &ev.State, &ev.Reason, &figures); err != nil {
			return nil, err
		}
		if ev.At, err = parseTime(at); err != nil {
			return nil, err
		}
		if figures.Valid {
			if err := json.Unmarshal([]byte(figures.String), &ev.Guardrails); err != nil {
				return nil, fmt.Errorf("sqlite: rollout %d history figures: %w", id, err)
			}
		}
		out = append(out, ev)
	}
	return out, rows.Err()
}

func optTime(r *rollout.Rollout) any {
	if r.FinishedAt.IsZero() {
		return nil
	}
	return formatTime(r.FinishedAt)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
