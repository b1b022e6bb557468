package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/valueloop/valueloop"
)

func (db *DB) audit(ctx context.Context, tx *sql.Tx, actor, env, action, target string, before, after []byte, reason string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO audit (at, actor, environment, action, target, before, after, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		db.now(), actor, env, action, target, nullString(before), nullString(after), reason)
	if err != nil {
		return fmt.Errorf("sqlite: audit %s %s: %w", action, target, err)
	}
	return nil
}

func nullString(b []byte) any {
	if b == nil {
		return nil
	}
	return string(b)
}

// Audit returns audit entries, newest first.
func (db *DB) Audit(ctx context.Context, f valueloop.AuditFilter) ([]valueloop.AuditEntry, error) {
	var where []string
	var args []any
	add := func(cond string, v any) { where = append(where, cond); args = append(args, v) }
	if f.Environment != "" {
		add("environment = ?", f.Environment)
	}
	if f.Target != "" {
		add("target = ?", f.Target)
	}
	if f.Actor != "" {
		add("actor = ?", f.Actor)
	}
	if f.BeforeID > 0 {
		add("id < ?", f.BeforeID)
	}
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 100
	}
	q := `SELECT id, at, actor, environment, action, target, before, after, reason FROM audit`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY id DESC LIMIT ?"
	args = append(args, f.Limit)
	rows, err := db.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: audit: %w", err)
	}
	defer rows.Close()
	var out []valueloop.AuditEntry
	for rows.Next() {
		var e valueloop.AuditEntry
		var at string
		var before, after sql.NullString
		if err := rows.Scan(&e.ID, &at, &e.Actor, &e.Environment, &e.Action, &e.Target, &before, &after, &e.Reason); err != nil {
			return nil, err
		}
		if e.At, err = parseTime(at); err != nil {
			return nil, err
		}
		if before.Valid {
			e.Before = json.RawMessage(before.String)
		}
		if after.Valid {
			e.After = json.RawMessage(after.String)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}
