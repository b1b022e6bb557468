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

// VerdictActor is the actor of the audit entries of recorded verdicts:
// the server reaches them, no one sets them.
const VerdictActor = "valueloop"

// RecordVerdict records rec as the verdict of its flag when it is a
// transition: the flag's first final verdict, or a final verdict other
// than the last recorded. It reports whether it recorded, and then sets
// rec.At to the store's clock and audits an experiment.verdict entry with
// the flag as target. A decision that is not final is EINVALID; an
// unknown environment ENOTFOUND.
func (s *Store) RecordVerdict(ctx context.Context, rec *experiment.VerdictRecord) (bool, error) {
	switch {
	case rec.Environment == "":
		return false, valueloop.FieldErrorf("environment", "required")
	case rec.Flag == "":
		return false, valueloop.FieldErrorf("flag", "required")
	case !experiment.Final(rec.Decision):
		return false, valueloop.FieldErrorf("decision", "%q is not a final verdict: want %s or %s", rec.Decision, experiment.Validated, experiment.Invalidated)
	}
	var recorded bool
	var out experiment.VerdictRecord
	err := s.write(ctx, func(tx Tx) error {
		recorded = false
		// Two nodes must never record the same transition twice.
		if err := s.lockFlag(ctx, tx, rec.Environment, rec.Flag); err != nil {
			return err
		}
		var seq int64
		var last string
		err := tx.QueryRow(ctx, `SELECT seq, decision FROM verdicts WHERE environment = ? AND flag = ? ORDER BY seq DESC LIMIT 1`,
			rec.Environment, rec.Flag).Scan(&seq, &last)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return err
		case last == string(rec.Decision):
			return nil
		}
		c := *rec
		c.At = s.now()
		figures, err := json.Marshal(c.Figures)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO verdicts (environment, flag, seq, decision, code, reason, at, figures) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			c.Environment, c.Flag, seq+1, string(c.Decision), c.Code, c.Reason, s.o.D.Time(c.At), string(figures))
		if err != nil {
			if s.isCode(err, valueloop.ENOTFOUND) {
				return valueloop.Errorf(valueloop.ENOTFOUND, "environment %q not found", c.Environment)
			}
			return fmt.Errorf("%s: record verdict %s/%s: %w", s.o.D.Name, c.Environment, c.Flag, err)
		}
		var before []byte
		if last != "" {
			before, _ = json.Marshal(map[string]string{"decision": last})
		}
		after, err := json.Marshal(&c)
		if err != nil {
			return err
		}
		if err := s.audit(ctx, tx, VerdictActor, c.Environment, "experiment.verdict", c.Flag, before, after, c.Reason); err != nil {
			return err
		}
		out, recorded = c, true
		return nil
	})
	if err != nil {
		return false, err
	}
	if recorded {
		*rec = out
	}
	return recorded, nil
}

// VerdictHistory returns the recorded verdicts of flag in env, oldest
// first; empty when there are none.
func (s *Store) VerdictHistory(ctx context.Context, env, flag string) ([]experiment.VerdictRecord, error) {
	rows, err := s.read().Query(ctx, `SELECT decision, code, reason, at, figures FROM verdicts WHERE environment = ? AND flag = ? ORDER BY seq`, env, flag)
	if err != nil {
		return nil, s.domainError(err)
	}
	out, err := collectList(rows, func(rows *sql.Rows) (experiment.VerdictRecord, error) {
		r := experiment.VerdictRecord{Environment: env, Flag: flag}
		var decision, figures string
		if err := rows.Scan(&decision, &r.Code, &r.Reason, timeDest{&r.At}, &figures); err != nil {
			return r, err
		}
		r.Decision = experiment.Decision(decision)
		if err := json.Unmarshal([]byte(figures), &r.Figures); err != nil {
			return r, fmt.Errorf("%s: verdict figures %s/%s: %w", s.o.D.Name, env, flag, err)
		}
		return r, nil
	})
	return out, err
}

// HypothesisFlags lists the flags that have a hypothesis, by environment
// and key: those whose verdicts the server checks.
func (s *Store) HypothesisFlags(ctx context.Context) ([]experiment.FlagRef, error) {
	rows, err := s.read().Query(ctx, `SELECT environment, flag FROM hypotheses ORDER BY environment, flag`)
	if err != nil {
		return nil, s.domainError(err)
	}
	out, err := collectList(rows, func(rows *sql.Rows) (experiment.FlagRef, error) {
		var f experiment.FlagRef
		err := rows.Scan(&f.Environment, &f.Flag)
		return f, err
	})
	return out, err
}
