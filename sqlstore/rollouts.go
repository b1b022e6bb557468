package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/delivery"
	"github.com/valueloop/valueloop/rollout"
)

var _ rollout.Store = (*Store)(nil)

const rolloutColumns = `id, environment, plan, state, step, percent, step_started_at, step_start_users, reason,
	acknowledged, flag_version, flag_pending, started_by, started_at, updated_at, finished_at, version`

// CreateRollout stores a new rollout and its first history entry, and
// audits it at the entry's time; ECONFLICT when the flag has an active
// rollout in the environment, ENOTFOUND without the environment.
func (s *Store) CreateRollout(ctx context.Context, r *rollout.Rollout, ev *rollout.Event) error {
	return s.write(ctx, func(tx Tx) error {
		plan, err := json.Marshal(r.Plan)
		if err != nil {
			return err
		}
		ack, err := json.Marshal(nonNil(r.Acknowledged))
		if err != nil {
			return err
		}
		err = tx.QueryRow(ctx, `INSERT INTO rollouts (environment, flag, plan, state, step, percent, step_started_at, step_start_users,
			reason, acknowledged, flag_version, flag_pending, started_by, started_at, updated_at, finished_at, version)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1) RETURNING id`,
			r.Environment, r.Plan.Flag, string(plan), string(r.State), r.Step, r.Percent, s.o.D.Time(r.StepStartedAt), r.StepStartUsers,
			r.Reason, string(ack), r.FlagVersion, r.FlagPending, r.StartedBy, s.o.D.Time(r.StartedAt), s.o.D.Time(r.UpdatedAt), s.optTime(r.FinishedAt),
		).Scan(&r.ID)
		if err != nil {
			switch valueloop.ErrorCode(s.domainError(err)) {
			case valueloop.ECONFLICT:
				return valueloop.Errorf(valueloop.ECONFLICT, "flag %q already has an active rollout in %s", r.Plan.Flag, r.Environment)
			case valueloop.ENOTFOUND:
				return valueloop.Errorf(valueloop.ENOTFOUND, "environment %q not found", r.Environment)
			}
			return fmt.Errorf("%s: create rollout: %w", s.o.D.Name, err)
		}
		r.Version = 1
		ev.Rollout = r.ID
		if err := s.insertRolloutEvent(ctx, tx, ev); err != nil {
			return err
		}
		after, _ := json.Marshal(map[string]any{"rollout": r.ID, "state": r.State, "step": r.Step, "percent": r.Percent, "plan": r.Plan})
		return s.auditAt(ctx, tx, s.eventTime(ev.At), ev.Actor, r.Environment, "rollout."+string(ev.Kind), r.Plan.Flag, nil, after, ev.Reason)
	})
}

// UpdateRollout stores r when the stored version is r.Version and
// increases it; ECONFLICT when someone changed the rollout meanwhile. A
// non-nil ev is appended to the history and audited at its time.
func (s *Store) UpdateRollout(ctx context.Context, r *rollout.Rollout, ev *rollout.Event) error {
	_, err := s.updateRollout(ctx, r, ev, false)
	return err
}

// UpdateRolloutIfEnabled is UpdateRollout made only while r's flag exists
// and is enabled in r's environment: false, and nothing stored, otherwise.
// The flag is read in the write's transaction after the environment's row
// lock, the one every writer of its flags takes first (PutFlagOver,
// DeleteFlag, ReplaceFlagSet), so no disable commits between the read and
// the write.
func (s *Store) UpdateRolloutIfEnabled(ctx context.Context, r *rollout.Rollout, ev *rollout.Event) (bool, error) {
	return s.updateRollout(ctx, r, ev, true)
}

func (s *Store) updateRollout(ctx context.Context, r *rollout.Rollout, ev *rollout.Event, ifEnabled bool) (stored bool, err error) {
	err = s.write(ctx, func(tx Tx) error {
		stored = false
		if ifEnabled {
			if on, err := s.flagEnabled(ctx, tx, r.Environment, r.Plan.Flag); err != nil || !on {
				return err
			}
		}
		var state string
		var step, version int64
		var percent float64
		err := tx.QueryRow(ctx, `SELECT state, step, percent, version FROM rollouts WHERE id = ?`+s.o.D.ForUpdate, r.ID).Scan(&state, &step, &percent, &version)
		if errors.Is(err, sql.ErrNoRows) {
			return valueloop.Errorf(valueloop.ENOTFOUND, "rollout %d not found", r.ID)
		} else if err != nil {
			return fmt.Errorf("%s: read rollout %d: %w", s.o.D.Name, r.ID, err)
		}
		if version != r.Version {
			return valueloop.Errorf(valueloop.ECONFLICT, "rollout %d changed meanwhile (version %d, not %d): read it again", r.ID, version, r.Version)
		}
		ack, err := json.Marshal(nonNil(r.Acknowledged))
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE rollouts SET state = ?, step = ?, percent = ?, step_started_at = ?, step_start_users = ?, reason = ?,
			acknowledged = ?, flag_version = ?, flag_pending = ?, updated_at = ?, finished_at = ?, version = version + 1 WHERE id = ?`,
			string(r.State), r.Step, r.Percent, s.o.D.Time(r.StepStartedAt), r.StepStartUsers, r.Reason,
			string(ack), r.FlagVersion, r.FlagPending, s.o.D.Time(r.UpdatedAt), s.optTime(r.FinishedAt), r.ID)
		if err != nil {
			return fmt.Errorf("%s: update rollout %d: %w", s.o.D.Name, r.ID, err)
		}
		if ev != nil {
			ev.Rollout = r.ID
			if err := s.insertRolloutEvent(ctx, tx, ev); err != nil {
				return err
			}
			before, _ := json.Marshal(map[string]any{"rollout": r.ID, "state": state, "step": step, "percent": percent})
			after, _ := json.Marshal(map[string]any{"rollout": r.ID, "state": r.State, "step": r.Step, "percent": r.Percent})
			if err := s.auditAt(ctx, tx, s.eventTime(ev.At), ev.Actor, r.Environment, "rollout."+string(ev.Kind), r.Plan.Flag, before, after, ev.Reason); err != nil {
				return err
			}
		}
		r.Version = version + 1
		stored = true
		return nil
	})
	return stored, err
}

// flagEnabled reports whether flag exists and is enabled in env, holding
// env's row lock for the rest of tx.
func (s *Store) flagEnabled(ctx context.Context, tx Tx, env, flag string) (bool, error) {
	var version int64
	err := tx.QueryRow(ctx, `SELECT version FROM environments WHERE key = ?`+s.o.D.ForUpdate, env).Scan(&version)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("%s: lock environment %s: %w", s.o.D.Name, env, err)
	}
	var def string
	err = tx.QueryRow(ctx, `SELECT definition FROM flags WHERE environment = ? AND key = ?`, env, flag).Scan(&def)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("%s: read flag %s/%s: %w", s.o.D.Name, env, flag, err)
	}
	var f struct {
		State string `json:"state"`
	}
	if err := json.Unmarshal([]byte(def), &f); err != nil {
		return false, fmt.Errorf("%s: flag %s/%s: %w", s.o.D.Name, env, flag, err)
	}
	return f.State == valueloop.StateEnabled, nil
}

// eventTime is when a rollout's transition is audited: the time of its
// history entry, so that the audit trail and the rollout's page agree (a
// start dated in the past, serve --demo's six hours ago, was audited at
// the store's clock); the store's clock when the entry has none.
func (s *Store) eventTime(at time.Time) time.Time {
	if at.IsZero() {
		return s.now()
	}
	return at.UTC()
}

func (s *Store) insertRolloutEvent(ctx context.Context, tx Tx, ev *rollout.Event) error {
	var figures any
	if len(ev.Guardrails) > 0 {
		buf, err := json.Marshal(ev.Guardrails)
		if err != nil {
			return err
		}
		figures = string(buf)
	}
	err := tx.QueryRow(ctx, `INSERT INTO rollout_events (rollout, at, kind, actor, step, percent, state, reason, guardrails)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		ev.Rollout, s.o.D.Time(ev.At), string(ev.Kind), ev.Actor, ev.Step, ev.Percent, string(ev.State), ev.Reason, figures).Scan(&ev.ID)
	if err != nil {
		return fmt.Errorf("%s: rollout history: %w", s.o.D.Name, err)
	}
	return nil
}

// rolloutWhere is the conditions of f.
func rolloutWhere(f rollout.Filter) where {
	var w where
	if f.Environment != "" {
		w.add("environment = ?", f.Environment)
	}
	if len(f.Environments) > 0 {
		in, args := inList(f.Environments)
		w.add("environment "+in, args...)
	}
	if f.Flag != "" {
		w.add("flag = ?", f.Flag)
	}
	if f.Active {
		w.add("state IN ('running', 'paused')")
	}
	if f.Finished {
		w.add("state NOT IN ('running', 'paused')")
	}
	if f.State != "" {
		w.add("state = ?", string(f.State))
	}
	if f.FlagPending {
		w.add("flag_pending") // as the partial index rollouts_flag_pending
	}
	if f.BeforeID > 0 {
		w.add("id < ?", f.BeforeID)
	}
	return w
}

// CountRollouts counts the rollouts f selects, up to upTo (its Limit and
// Offset aside): counting stops at upTo however many there are.
func (s *Store) CountRollouts(ctx context.Context, f rollout.Filter, upTo int) (int, error) {
	w := rolloutWhere(f)
	n, err := w.count(ctx, s.read(), "rollouts", upTo)
	if err != nil {
		return 0, fmt.Errorf("%s: count rollouts: %w", s.o.D.Name, err)
	}
	return n, nil
}

// Rollouts lists rollouts, newest first.
func (s *Store) Rollouts(ctx context.Context, f rollout.Filter) ([]rollout.Rollout, error) {
	w := rolloutWhere(f)
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 100
	}
	rows, err := w.newestFrom(ctx, s.read(), `SELECT `+rolloutColumns+` FROM rollouts`, "id", f.Limit, f.Offset)
	if err != nil {
		return nil, fmt.Errorf("%s: list rollouts: %w", s.o.D.Name, err)
	}
	return collect(rows, func(rows *sql.Rows) (rollout.Rollout, error) {
		r, err := s.scanRollout(rows)
		if err != nil {
			return rollout.Rollout{}, err
		}
		return *r, nil
	})
}

func (s *Store) scanRollout(row interface{ Scan(...any) error }) (*rollout.Rollout, error) {
	var r rollout.Rollout
	var plan, ack, state string
	err := row.Scan(&r.ID, &r.Environment, &plan, &state, &r.Step, &r.Percent, timeDest{&r.StepStartedAt}, &r.StepStartUsers, &r.Reason,
		&ack, &r.FlagVersion, &r.FlagPending, &r.StartedBy, timeDest{&r.StartedAt}, timeDest{&r.UpdatedAt}, nullTimeDest{&r.FinishedAt}, &r.Version)
	if err != nil {
		return nil, err
	}
	r.State = rollout.State(state)
	if err := json.Unmarshal([]byte(plan), &r.Plan); err != nil {
		return nil, fmt.Errorf("%s: rollout %d plan: %w", s.o.D.Name, r.ID, err)
	}
	if err := json.Unmarshal([]byte(ack), &r.Acknowledged); err != nil {
		return nil, fmt.Errorf("%s: rollout %d acknowledged: %w", s.o.D.Name, r.ID, err)
	}
	if len(r.Acknowledged) == 0 {
		r.Acknowledged = nil
	}
	return &r, nil
}

// RolloutEvents returns the history of a rollout, oldest first.
func (s *Store) RolloutEvents(ctx context.Context, id int64) ([]rollout.Event, error) {
	rows, err := s.read().Query(ctx, `SELECT id, rollout, at, kind, actor, step, percent, state, reason, guardrails
		FROM rollout_events WHERE rollout = ? ORDER BY id`, id)
	if err != nil {
		return nil, fmt.Errorf("%s: rollout %d history: %w", s.o.D.Name, id, err)
	}
	out, err := collectList(rows, func(rows *sql.Rows) (rollout.Event, error) {
		var ev rollout.Event
		var kind, state string
		var figures sql.NullString
		if err := rows.Scan(&ev.ID, &ev.Rollout, timeDest{&ev.At}, &kind, &ev.Actor, &ev.Step, &ev.Percent, &state, &ev.Reason, &figures); err != nil {
			return ev, err
		}
		ev.Kind, ev.State = rollout.Kind(kind), rollout.State(state)
		if figures.Valid {
			if err := json.Unmarshal([]byte(figures.String), &ev.Guardrails); err != nil {
				return ev, fmt.Errorf("%s: rollout %d history figures: %w", s.o.D.Name, id, err)
			}
		}
		return ev, nil
	})
	return out, err
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// RolloutsReached lists the rollouts of flag in env, newest first (at most
// 1000), each with when it first served 100% of users: the time of the
// first entry of its history at 100% that did not roll it back, zero when
// none. One query: the loop figures once read each rollout's history in a
// query of its own.
func (s *Store) RolloutsReached(ctx context.Context, env, flag string) ([]delivery.RolloutReach, error) {
	rows, err := s.read().Query(ctx, `SELECT `+rolloutColumns+`,
		(SELECT e.at FROM rollout_events e WHERE e.rollout = rollouts.id AND e.percent >= 100 AND e.state <> ?
			ORDER BY e.id LIMIT 1)
		FROM rollouts WHERE environment = ? AND flag = ? ORDER BY id DESC LIMIT 1000`, string(rollout.RolledBack), env, flag)
	if err != nil {
		return nil, fmt.Errorf("%s: rollouts of %s in %s: %w", s.o.D.Name, flag, env, err)
	}
	return collect(rows, func(rows *sql.Rows) (delivery.RolloutReach, error) {
		var out delivery.RolloutReach
		r, err := s.scanRollout(scanWith{rows, []any{nullTimeDest{&out.FullAt}}})
		if err != nil {
			return out, err
		}
		out.Rollout = *r
		return out, nil
	})
}

// scanWith scans a row into the destinations given and then extra.
type scanWith struct {
	rows  *sql.Rows
	extra []any
}

func (s scanWith) Scan(dest ...any) error { return s.rows.Scan(append(dest, s.extra...)...) }
