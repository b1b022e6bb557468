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

// FixedDecision returns the stored decision under fixed inference of flag
// in env (experiment.FixedDecision); nil when there is none.
func (s *Store) FixedDecision(ctx context.Context, env, flag string) (*experiment.FixedDecision, error) {
	d, err := s.fixedDecision(ctx, s.read(), env, flag)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return d, s.domainError(err)
}

func (s *Store) fixedDecision(ctx context.Context, q querier, env, flag string) (*experiment.FixedDecision, error) {
	d := &experiment.FixedDecision{Environment: env, Flag: flag}
	var verdict string
	err := q.QueryRow(ctx, `SELECT terms, verdict, users, at FROM fixed_decisions WHERE environment = ? AND flag = ?`, env, flag).
		Scan(&d.Terms, &verdict, &d.Users, timeDest{&d.At})
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(verdict), &d.Verdict); err != nil {
		return nil, fmt.Errorf("%s: fixed decision %s/%s: %w", s.o.D.Name, env, flag, err)
	}
	return d, nil
}

// DecideFixed stores d as the decision under fixed inference of its flag,
// unless the flag has one stored with the same terms: that one stands, and
// d becomes it. A decision stored under other terms (the hypothesis has
// changed since) is replaced. It reports whether it stored d, and then
// sets d.At to the store's clock and audits an experiment.fixed_decision
// entry with the flag as target. A verdict that is not validated,
// invalidated or inconclusive is EINVALID; an unknown environment
// ENOTFOUND.
func (s *Store) DecideFixed(ctx context.Context, d *experiment.FixedDecision) (bool, error) {
	if err := checkFixed(d.Environment, d.Flag, d.Terms); err != nil {
		return false, err
	}
	switch dec := d.Verdict.Decision; {
	case !experiment.Final(dec) && dec != experiment.Inconclusive:
		return false, valueloop.FieldErrorf("verdict.decision", "%q is not a decision at the planned sample: want %s, %s or %s", dec, experiment.Validated, experiment.Invalidated, experiment.Inconclusive)
	case d.Users < 0:
		return false, valueloop.FieldErrorf("users", "must not be negative, got %d", d.Users)
	}
	out, stored, err := keepFirst(ctx, s, fixedWrite[experiment.FixedDecision]{
		table: "fixed_decisions", action: "experiment.fixed_decision", env: d.Environment, flag: d.Flag, terms: d.Terms,
		read: func(q querier) (string, *experiment.FixedDecision, error) {
			old, err := s.fixedDecision(ctx, q, d.Environment, d.Flag)
			if err != nil {
				return "", nil, err
			}
			return old.Terms, old, nil
		},
		insert: func(tx Tx, at time.Time) (*experiment.FixedDecision, string, error) {
			c := *d
			c.At = at
			verdict, err := json.Marshal(&c.Verdict)
			if err != nil {
				return nil, "", err
			}
			_, err = tx.Exec(ctx, `INSERT INTO fixed_decisions (environment, flag, terms, decision, verdict, users, at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
				c.Environment, c.Flag, c.Terms, string(c.Verdict.Decision), string(verdict), c.Users, s.o.D.Time(c.At))
			return &c, c.Verdict.Reason, err
		},
	})
	if err != nil {
		return false, err
	}
	*d = out
	return stored, nil
}

// FixedPlan returns the stored plan under fixed inference of flag in env
// (experiment.FixedPlan); nil when there is none.
func (s *Store) FixedPlan(ctx context.Context, env, flag string) (*experiment.FixedPlan, error) {
	p, err := s.fixedPlan(ctx, s.read(), env, flag)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return p, s.domainError(err)
}

func (s *Store) fixedPlan(ctx context.Context, q querier, env, flag string) (*experiment.FixedPlan, error) {
	p := &experiment.FixedPlan{Environment: env, Flag: flag}
	var users, inputs string
	err := q.QueryRow(ctx, `SELECT terms, users, inputs, fixed_on, at FROM fixed_plans WHERE environment = ? AND flag = ?`, env, flag).
		Scan(&p.Terms, &users, &inputs, &p.FixedOn, timeDest{&p.At})
	if err != nil {
		return nil, err
	}
	if err := errors.Join(json.Unmarshal([]byte(users), &p.Users), json.Unmarshal([]byte(inputs), &p.Inputs)); err != nil {
		return nil, fmt.Errorf("%s: fixed plan %s/%s: %w", s.o.D.Name, env, flag, err)
	}
	return p, nil
}

// PlanFixed stores p as the planned sample under fixed inference of its
// flag, unless the flag has one stored with the same terms: that one
// stands, and p becomes it (two nodes fixing the plan at once store one).
// A plan stored under other terms is replaced. It reports whether it
// stored p, and then sets p.At to the store's clock and audits an
// experiment.fixed_plan entry with the flag as target. A plan without
// treatments, with a planned sample below one user, or without usable
// inputs (PlanInputs.Check) for each treatment, is EINVALID; an
// unknown environment ENOTFOUND.
func (s *Store) PlanFixed(ctx context.Context, p *experiment.FixedPlan) (bool, error) {
	if err := checkFixed(p.Environment, p.Flag, p.Terms); err != nil {
		return false, err
	}
	if len(p.Users) == 0 {
		return false, valueloop.FieldErrorf("users", "required: the planned sample of each treatment")
	}
	for v, n := range p.Users {
		if v == "" || n < 1 {
			return false, valueloop.FieldErrorf("users", "want a treatment and a planned sample of at least 1 user, got %q: %d", v, n)
		}
		in, ok := p.Inputs[v]
		if !ok {
			return false, valueloop.FieldErrorf("inputs", "required for each treatment: %q has none", v)
		}
		if err := in.Check(); err != nil {
			return false, valueloop.FieldErrorf("inputs", "of %q: %v", v, err)
		}
	}
	if len(p.Inputs) != len(p.Users) {
		return false, valueloop.FieldErrorf("inputs", "want one per treatment of users, got %d for %d", len(p.Inputs), len(p.Users))
	}
	if p.FixedOn < 0 {
		return false, valueloop.FieldErrorf("fixedOn", "must not be negative, got %d", p.FixedOn)
	}
	out, stored, err := keepFirst(ctx, s, fixedWrite[experiment.FixedPlan]{
		table: "fixed_plans", action: "experiment.fixed_plan", env: p.Environment, flag: p.Flag, terms: p.Terms,
		read: func(q querier) (string, *experiment.FixedPlan, error) {
			old, err := s.fixedPlan(ctx, q, p.Environment, p.Flag)
			if err != nil {
				return "", nil, err
			}
			return old.Terms, old, nil
		},
		insert: func(tx Tx, at time.Time) (*experiment.FixedPlan, string, error) {
			c := *p
			c.At = at
			c.Current = nil // a look's, not the plan's
			users, err := json.Marshal(c.Users)
			if err != nil {
				return nil, "", err
			}
			inputs, err := json.Marshal(c.Inputs)
			if err != nil {
				return nil, "", err
			}
			_, err = tx.Exec(ctx, `INSERT INTO fixed_plans (environment, flag, terms, users, inputs, fixed_on, at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
				c.Environment, c.Flag, c.Terms, string(users), string(inputs), c.FixedOn, s.o.D.Time(c.At))
			return &c, fmt.Sprintf("planned sample %d users at the split then, fixed on %d", c.Initial(), c.FixedOn), err
		},
	})
	if err != nil {
		return false, err
	}
	*p = out
	return stored, nil
}

// checkFixed checks what a fixed decision or plan is stored under.
func checkFixed(env, flag, terms string) error {
	switch {
	case env == "":
		return valueloop.FieldErrorf("environment", "required")
	case flag == "":
		return valueloop.FieldErrorf("flag", "required")
	case terms == "":
		return valueloop.FieldErrorf("terms", "required: the hypothesis' terms it holds for")
	}
	return nil
}

// fixedWrite is one write of a flag's fixed decision or plan (T): read
// returns the stored one's terms and itself (sql.ErrNoRows when none), insert stores the new
// one at the store's time and returns it with the audit entry's reason.
type fixedWrite[T any] struct {
	table, action, env, flag, terms string
	read                            func(q querier) (string, *T, error)
	insert                          func(tx Tx, at time.Time) (*T, string, error)
}

// keepFirst stores w's new one unless one with the same terms stands:
// then it returns that one, not stored. One stored under other terms (the
// hypothesis changed since) is replaced, and is the audit entry's before.
// Two nodes writing at once store one: the write takes the flag's lock,
// the one verdict records take, before it reads.
func keepFirst[T any](ctx context.Context, s *Store, w fixedWrite[T]) (T, bool, error) {
	var out T
	var stored bool
	err := s.write(ctx, func(tx Tx) error {
		stored = false
		if err := s.lockFlag(ctx, tx, w.env, w.flag); err != nil {
			return err
		}
		oldTerms, old, err := w.read(tx)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			old = nil
		case err != nil:
			return err
		case oldTerms == w.terms:
			out = *old
			return nil
		}
		if _, err := tx.Exec(ctx, `DELETE FROM `+w.table+` WHERE environment = ? AND flag = ?`, w.env, w.flag); err != nil {
			return err
		}
		c, reason, err := w.insert(tx, s.now())
		if err != nil {
			if s.isCode(err, valueloop.ENOTFOUND) {
				return valueloop.Errorf(valueloop.ENOTFOUND, "environment %q not found", w.env)
			}
			return fmt.Errorf("%s: store %s %s/%s: %w", s.o.D.Name, w.action, w.env, w.flag, err)
		}
		var before []byte
		if old != nil {
			before, _ = json.Marshal(old)
		}
		after, err := json.Marshal(c)
		if err != nil {
			return err
		}
		if err := s.audit(ctx, tx, VerdictActor, w.env, w.action, w.flag, before, after, reason); err != nil {
			return err
		}
		out, stored = *c, true
		return nil
	})
	return out, stored, err
}
