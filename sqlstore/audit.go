package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/valueloop/valueloop"
)

// audit records one change inside the transaction that makes it.
func (s *Store) audit(ctx context.Context, tx Tx, actor, env, action, target string, before, after []byte, reason string) error {
	return s.auditAt(ctx, tx, s.now(), actor, env, action, target, before, after, reason)
}

// auditAt is audit at time at.
func (s *Store) auditAt(ctx context.Context, tx Tx, at time.Time, actor, env, action, target string, before, after []byte, reason string) error {
	_, err := tx.Exec(ctx, `INSERT INTO audit (at, actor, environment, action, target, before, after, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		s.o.D.Time(at), actor, env, action, target, nullString(before), nullString(after), reason)
	if err != nil {
		return fmt.Errorf("%s: audit %s %s: %w", s.o.D.Name, action, target, err)
	}
	return nil
}

// auditWhere is the conditions of f.
func auditWhere(f valueloop.AuditFilter) where {
	var w where
	if f.Environment != "" {
		w.add("environment = ?", f.Environment)
	}
	if f.Target != "" {
		w.add("target = ?", f.Target)
	}
	if f.Actor != "" {
		w.add("actor = ?", f.Actor)
	}
	if f.BeforeID > 0 {
		w.add("id < ?", f.BeforeID)
	}
	return w
}

// CountAudit counts the audit entries f selects, up to upTo (its Limit and
// Offset aside): a page by number needs their number, and counting stops
// at upTo however long the trail.
func (s *Store) CountAudit(ctx context.Context, f valueloop.AuditFilter, upTo int) (int, error) {
	w := auditWhere(f)
	n, err := w.count(ctx, s.read(), "audit", upTo)
	if err != nil {
		return 0, fmt.Errorf("%s: count audit: %w", s.o.D.Name, err)
	}
	return n, nil
}

// Audit returns audit entries, newest first.
func (s *Store) Audit(ctx context.Context, f valueloop.AuditFilter) ([]valueloop.AuditEntry, error) {
	w := auditWhere(f)
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 100
	}
	rows, err := w.newestFrom(ctx, s.read(), `SELECT id, at, actor, environment, action, target, before, after, reason FROM audit`, "id", f.Limit, f.Offset)
	if err != nil {
		return nil, fmt.Errorf("%s: audit: %w", s.o.D.Name, err)
	}
	return collect(rows, func(rows *sql.Rows) (valueloop.AuditEntry, error) {
		var e valueloop.AuditEntry
		var before, after sql.NullString
		err := rows.Scan(&e.ID, timeDest{&e.At}, &e.Actor, &e.Environment, &e.Action, &e.Target, &before, &after, &e.Reason)
		if before.Valid {
			e.Before = json.RawMessage(before.String)
		}
		if after.Valid {
			e.After = json.RawMessage(after.String)
		}
		return e, err
	})
}
