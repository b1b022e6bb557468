package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

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
	switch dec := d.Verdict.Decision; {
	case d.Environment == "":
		return false, valueloop.FieldErrorf("environment", "required")
	case d.Flag == "":
		return false, valueloop.FieldErrorf("flag", "required")
	case d.Terms == "":
		return false, valueloop.FieldErrorf("terms", "required: the hypothesis' terms the decision holds for")
	case !experiment.Final(dec) && dec != experiment.Inconclusive:
		return false, valueloop.FieldErrorf("verdict.decision", "%q is not a decision at the planned sample: want %s, %s or %s", dec, experiment.Validated, experiment.Invalidated, experiment.Inconclusive)
	case d.Users < 0:
		return false, valueloop.FieldErrorf("users", "must not be negative, got %d", d.Users)
	}
	var stored bool
	var out experiment.FixedDecision
	err := s.write(ctx, func(tx Tx) error {
		stored = false
		// Two nodes reaching the planned sample at once must store one
		// decision: the lock is the one verdict records take.
		if err := s.lock(ctx, tx, d.Environment+"\x00"+d.Flag); err != nil {
			return err
		}
		old, err := s.fixedDecision(ctx, tx, d.Environment, d.Flag)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			old = nil
		case err != nil:
			return err
		case old.Terms == d.Terms:
			out = *old
			return nil
		}
		c := *d
		c.At = s.now()
		verdict, err := json.Marshal(&c.Verdict)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM fixed_decisions WHERE environment = ? AND flag = ?`, c.Environment, c.Flag); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO fixed_decisions (environment, flag, terms, decision, verdict, users, at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			c.Environment, c.Flag, c.Terms, string(c.Verdict.Decision), string(verdict), c.Users, s.o.D.Time(c.At))
		if err != nil {
			if s.isCode(err, valueloop.ENOTFOUND) {
				return valueloop.Errorf(valueloop.ENOTFOUND, "environment %q not found", c.Environment)
			}
			return fmt.Errorf("%s: store fixed decision %s/%s: %w", s.o.D.Name, c.Environment, c.Flag, err)
		}
		var before []byte
		if old != nil {
			before, _ = json.Marshal(old)
		}
		after, err := json.Marshal(&c)
		if err != nil {
			return err
		}
		if err := s.audit(ctx, tx, VerdictActor, c.Environment, "experiment.fixed_decision", c.Flag, before, after, c.Verdict.Reason); err != nil {
			return err
		}
		out, stored = c, true
		return nil
	})
	if err != nil {
		return false, err
	}
	*d = out
	return stored, nil
}
