package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/valueloop/valueloop"
)

// CreateToken stores a token by the hash of its secret and sets t.ID and
// t.CreatedAt.
func (db *DB) CreateToken(ctx context.Context, t *valueloop.Token, hash []byte, actor string) error {
	return db.write(ctx, func(tx *sql.Tx) error {
		now := db.Now()
		res, err := tx.ExecContext(ctx, `INSERT INTO tokens (name, scope, environment, hash, created_at, client, origins, no_exposures) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			t.Name, t.Scope, t.Environment, hash, formatTime(now), t.Client, strings.Join(t.Origins, " "), t.NoExposures)
		if err != nil {
			return err
		}
		if t.ID, err = res.LastInsertId(); err != nil {
			return err
		}
		t.CreatedAt = now.UTC()
		after, _ := json.Marshal(t)
		return db.audit(ctx, tx, actor, t.Environment, "token.create", t.Name, nil, after, "")
	})
}

// Tokens returns every token, revoked ones included, ordered by id.
func (db *DB) Tokens(ctx context.Context) ([]valueloop.StoredToken, error) {
	rows, err := db.db.QueryContext(ctx, `SELECT id, name, scope, environment, hash, created_at, revoked_at, client, origins, no_exposures FROM tokens ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list tokens: %w", err)
	}
	defer rows.Close()
	var out []valueloop.StoredToken
	for rows.Next() {
		var t valueloop.StoredToken
		var created string
		var revoked sql.NullString
		var origins string
		if err := rows.Scan(&t.ID, &t.Name, &t.Scope, &t.Environment, &t.Hash, &created, &revoked, &t.Client, &origins, &t.NoExposures); err != nil {
			return nil, err
		}
		t.Origins = strings.Fields(origins)
		if t.CreatedAt, err = parseTime(created); err != nil {
			return nil, err
		}
		if revoked.Valid {
			r, err := parseTime(revoked.String)
			if err != nil {
				return nil, err
			}
			t.RevokedAt = &r
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// RevokeToken marks a token revoked; ENOTFOUND when there is no such token.
func (db *DB) RevokeToken(ctx context.Context, id int64, actor string) error {
	return db.write(ctx, func(tx *sql.Tx) error {
		var name, env string
		err := tx.QueryRowContext(ctx, `UPDATE tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ? RETURNING name, environment`,
			db.now(), id).Scan(&name, &env)
		if err == sql.ErrNoRows {
			return valueloop.Errorf(valueloop.ENOTFOUND, "token %d not found", id)
		} else if err != nil {
			return err
		}
		return db.audit(ctx, tx, actor, env, "token.revoke", name, nil, nil, "")
	})
}
