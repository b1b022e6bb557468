package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/valueloop/valueloop"
)

// CreateToken stores a token by the hash of its secret and sets t.ID and
// t.CreatedAt.
func (s *Store) CreateToken(ctx context.Context, t *valueloop.Token, hash []byte, actor string) error {
	return s.write(ctx, func(tx Tx) error {
		now := s.now()
		err := tx.QueryRow(ctx, `INSERT INTO tokens (name, scope, environment, hash, created_at, client, origins, no_exposures) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			t.Name, t.Scope, t.Environment, hash, s.o.D.Time(now), t.Client, strings.Join(t.Origins, " "), t.NoExposures).Scan(&t.ID)
		if err != nil {
			return err
		}
		t.CreatedAt = now
		after, _ := json.Marshal(t)
		if err := s.audit(ctx, tx, actor, t.Environment, "token.create", t.Name, nil, after, ""); err != nil {
			return err
		}
		return s.changed(ctx, tx, KindTokens, "")
	})
}

// Tokens returns every token, revoked ones included, ordered by id.
func (s *Store) Tokens(ctx context.Context) ([]valueloop.StoredToken, error) {
	rows, err := s.read().Query(ctx, `SELECT id, name, scope, environment, hash, created_at, revoked_at, client, origins, no_exposures FROM tokens ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("%s: list tokens: %w", s.o.D.Name, err)
	}
	return collect(rows, func(rows *sql.Rows) (valueloop.StoredToken, error) {
		var t valueloop.StoredToken
		var revoked time.Time
		var origins string // space-separated (an origin has no spaces)
		err := rows.Scan(&t.ID, &t.Name, &t.Scope, &t.Environment, &t.Hash, timeDest{&t.CreatedAt}, nullTimeDest{&revoked},
			&t.Client, &origins, &t.NoExposures)
		t.Origins = strings.Fields(origins)
		if !revoked.IsZero() {
			t.RevokedAt = &revoked
		}
		return t, err
	})
}

// RevokeToken marks a token revoked and deletes its sessions; ENOTFOUND when there is no such token.
func (s *Store) RevokeToken(ctx context.Context, id int64, actor string) error {
	return s.write(ctx, func(tx Tx) error {
		var name, env string
		err := tx.QueryRow(ctx, `UPDATE tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ? RETURNING name, environment`,
			s.o.D.Time(s.now()), id).Scan(&name, &env)
		if errors.Is(err, sql.ErrNoRows) {
			return valueloop.Errorf(valueloop.ENOTFOUND, "token %d not found", id)
		} else if err != nil {
			return err
		}
		// Its dashboard sessions end with it, on every node: they are
		// read from here.
		if _, err := tx.Exec(ctx, `DELETE FROM sessions WHERE token_id = ?`, id); err != nil {
			return err
		}
		if err := s.audit(ctx, tx, actor, env, "token.revoke", name, nil, nil, ""); err != nil {
			return err
		}
		return s.changed(ctx, tx, KindTokens, "")
	})
}
