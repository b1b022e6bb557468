package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/valueloop/valueloop"
)

func (db *DB) audit(ctx context.Context, tx pgx.Tx, actor, env, action, target string, before, after []byte, reason string) error {
	_, err := tx.Exec(ctx, `INSERT INTO audit (at, actor, environment, action, target, before, after, reason) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		db.now(), actor, env, action, target, nullString(before), nullString(after), reason)
	if err != nil {
		return fmt.Errorf("postgres: audit %s %s: %w", action, target, err)
	}
	return nil
}

func nullString(b []byte) *string {
	if b == nil {
		return nil
	}
	s := string(b)
	return &s
}

// Audit returns audit entries, newest first.
func (db *DB) Audit(ctx context.Context, f valueloop.AuditFilter) ([]valueloop.AuditEntry, error) {
	var where []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if f.Environment != "" {
		add("environment = $%d", f.Environment)
	}
	if f.Target != "" {
		add("target = $%d", f.Target)
	}
	if f.Actor != "" {
		add("actor = $%d", f.Actor)
	}
	if f.BeforeID > 0 {
		add("id < $%d", f.BeforeID)
	}
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 100
	}
	q := `SELECT id, at, actor, environment, action, target, before, after, reason FROM audit`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	args = append(args, f.Limit)
	q += fmt.Sprintf(" ORDER BY id DESC LIMIT $%d", len(args))
	rows, err := db.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: audit: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (valueloop.AuditEntry, error) {
		var e valueloop.AuditEntry
		var before, after *string
		err := row.Scan(&e.ID, &e.At, &e.Actor, &e.Environment, &e.Action, &e.Target, &before, &after, &e.Reason)
		e.At = e.At.UTC()
		if before != nil {
			e.Before = json.RawMessage(*before)
		}
		if after != nil {
			e.After = json.RawMessage(*after)
		}
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: audit: %w", err)
	}
	return out, nil
}
