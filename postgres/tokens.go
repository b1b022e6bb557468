package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/valueloop/valueloop"
)

// CreateToken stores a token by the hash of its secret and sets t.ID and
// t.CreatedAt.
func (db *DB) CreateToken(ctx context.Context, t *valueloop.Token, hash []byte, actor string) error {
	return db.write(ctx, func(tx pgx.Tx) error {
		now := db.now()
		err := tx.QueryRow(ctx, `INSERT INTO tokens (name, scope, environment, hash, created_at, client, origins, no_exposures) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
			t.Name, t.Scope, t.Environment, hash, now, t.Client, strings.Join(t.Origins, " "), t.NoExposures).Scan(&t.ID)
		if err != nil {
			return err
		}
		t.CreatedAt = now
		after, _ := json.Marshal(t)
		if err := db.audit(ctx, tx, actor, t.Environment, "token.create", t.Name, nil, after, ""); err != nil {
			return err
		}
		return db.bump(ctx, tx, KindTokens, "")
	})
}

// Tokens returns every token, revoked ones included, ordered by id.
func (db *DB) Tokens(ctx context.Context) ([]valueloop.StoredToken, error) {
	rows, err := db.pool.Query(ctx, `SELECT id, name, scope, environment, hash, created_at, revoked_at, client, origins, no_exposures FROM tokens ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("postgres: list tokens: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (valueloop.StoredToken, error) {
		var t valueloop.StoredToken
		var revoked *time.Time
		var origins string
		err := row.Scan(&t.ID, &t.Name, &t.Scope, &t.Environment, &t.Hash, &t.CreatedAt, &revoked, &t.Client, &origins, &t.NoExposures)
		t.Origins = strings.Fields(origins)
		t.CreatedAt = t.CreatedAt.UTC()
		if revoked != nil {
			r := revoked.UTC()
			t.RevokedAt = &r
		}
		return t, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: list tokens: %w", err)
	}
	return out, nil
}

// RevokeToken marks a token revoked; ENOTFOUND when there is no such token.
func (db *DB) RevokeToken(ctx context.Context, id int64, actor string) error {
	return db.write(ctx, func(tx pgx.Tx) error {
		var name, env string
		err := tx.QueryRow(ctx, `UPDATE tokens SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2 RETURNING name, environment`,
			db.now(), id).Scan(&name, &env)
		if errors.Is(err, pgx.ErrNoRows) {
			return valueloop.Errorf(valueloop.ENOTFOUND, "token %d not found", id)
		} else if err != nil {
			return err
		}
		if err := db.audit(ctx, tx, actor, env, "token.revoke", name, nil, nil, ""); err != nil {
			return err
		}
		return db.bump(ctx, tx, KindTokens, "")
	})
}
