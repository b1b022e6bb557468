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

// VerdictActor is the actor of the audit entries of recorded verdicts:
// the server reaches them, no one sets them.
const VerdictActor = "valueloop"

// lockVerdict is the advisory lock class that serialises the recording of
// one flag's verdicts, so two nodes never record the same transition twice.
const lockVerdict int32 = 0x564c0002

// RecordVerdict records rec as the verdict of its flag when it is a
// transition: the flag's first final verdict, or a final verdict other
// than the last recorded. It reports whether it recorded, and then sets
// rec.At to the store's clock and audits an experiment.verdict entry with
// the flag as target. A decision that is not final is EINVALID; an
// unknown environment ENOTFOUND.
func (db *DB) RecordVerdict(ctx context.Context, rec *experiment.VerdictRecord) (bool, error) {
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
	err := db.write(ctx, func(tx pgx.Tx) error {
		recorded = false
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, $2)`, lockVerdict, db.lockKey(rec.Environment+"\x00"+rec.Flag)); err != nil {
			return err
		}
		var seq int64
		var last string
		err := tx.QueryRow(ctx, `SELECT seq, decision FROM verdicts WHERE environment = $1 AND flag = $2 ORDER BY seq DESC LIMIT 1`,
			rec.Environment, rec.Flag).Scan(&seq, &last)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
		case err != nil:
			return err
		case last == string(rec.Decision):
			return nil
		}
		c := *rec
		c.At = db.now()
		figures, err := json.Marshal(c.Figures)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO verdicts (environment, flag, seq, decision, code, reason, at, figures) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			c.Environment, c.Flag, seq+1, string(c.Decision), c.Code, c.Reason, c.At, string(figures))
		if err != nil {
			if valueloop.ErrorCode(domainError(err)) == valueloop.ENOTFOUND {
				return valueloop.Errorf(valueloop.ENOTFOUND, "environment %q not found", c.Environment)
			}
			return fmt.Errorf("postgres: record verdict %s/%s: %w", c.Environment, c.Flag, err)
		}
		var before []byte
		if last != "" {
			before, _ = json.Marshal(map[string]string{"decision": last})
		}
		after, err := json.Marshal(&c)
		if err != nil {
			return err
		}
		if err := db.audit(ctx, tx, VerdictActor, c.Environment, "experiment.verdict", c.Flag, before, after, c.Reason); err != nil {
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
func (db *DB) VerdictHistory(ctx context.Context, env, flag string) ([]experiment.VerdictRecord, error) {
	rows, err := db.pool.Query(ctx, `SELECT decision, code, reason, at, figures FROM verdicts WHERE environment = $1 AND flag = $2 ORDER BY seq`, env, flag)
	if err != nil {
		return nil, domainError(err)
	}
	defer rows.Close()
	out := []experiment.VerdictRecord{}
	for rows.Next() {
		r := experiment.VerdictRecord{Environment: env, Flag: flag}
		var decision, figures string
		var at time.Time
		if err := rows.Scan(&decision, &r.Code, &r.Reason, &at, &figures); err != nil {
			return nil, err
		}
		r.Decision, r.At = experiment.Decision(decision), at.UTC()
		if err := json.Unmarshal([]byte(figures), &r.Figures); err != nil {
			return nil, fmt.Errorf("postgres: verdict figures %s/%s: %w", env, flag, err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// HypothesisFlags lists the flags that have a hypothesis, by environment
// and key: those whose verdicts the server checks.
func (db *DB) HypothesisFlags(ctx context.Context) ([]experiment.FlagRef, error) {
	rows, err := db.pool.Query(ctx, `SELECT environment, flag FROM hypotheses ORDER BY environment, flag`)
	if err != nil {
		return nil, domainError(err)
	}
	defer rows.Close()
	out := []experiment.FlagRef{}
	for rows.Next() {
		var f experiment.FlagRef
		if err := rows.Scan(&f.Environment, &f.Flag); err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, rows.Err()
}
