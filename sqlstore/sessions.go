package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/valueloop/valueloop"
)

// CreateSession stores a session and, in the same transaction, deletes
// every session that expired by its creation and the oldest sessions of its
// token beyond perToken (the new one counted; perToken ≤ 0: no cap).
// EINVALID when its token does not exist or was revoked.
func (s *Store) CreateSession(ctx context.Context, ses valueloop.Session, perToken int) error {
	return s.write(ctx, func(tx Tx) error {
		var revoked bool
		err := tx.QueryRow(ctx, `SELECT revoked_at IS NOT NULL FROM tokens WHERE id = ?`+s.o.D.ForUpdate, ses.TokenID).Scan(&revoked)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && revoked) {
			return valueloop.Errorf(valueloop.EINVALID, "token %d does not exist or was revoked", ses.TokenID)
		} else if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM sessions WHERE expires_at <= ?`, s.o.D.Time(ses.CreatedAt)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO sessions (hash, token_id, created_at, expires_at) VALUES (?, ?, ?, ?)`,
			ses.Hash, ses.TokenID, s.o.D.Time(ses.CreatedAt), s.o.D.Time(ses.ExpiresAt)); err != nil {
			return err
		}
		if perToken <= 0 {
			return nil
		}
		// Newest first by creation (then by hash, so that equal times
		// still give one order); everything past the cap goes.
		_, err = tx.Exec(ctx, `DELETE FROM sessions WHERE token_id = ? AND hash NOT IN (
			SELECT hash FROM sessions WHERE token_id = ? ORDER BY created_at DESC, hash DESC LIMIT ?)`,
			ses.TokenID, ses.TokenID, perToken)
		return err
	})
}

// Session returns the stored session of hash with its token; ENOTFOUND when
// there is none or its token was revoked. Expiry is the caller's to check
// (its clock decides).
func (s *Store) Session(ctx context.Context, hash []byte) (valueloop.Session, valueloop.Token, error) {
	ses := valueloop.Session{Hash: hash}
	var t valueloop.Token
	err := s.read().QueryRow(ctx, `SELECT s.token_id, s.created_at, s.expires_at, t.name, t.scope, t.environment, t.created_at
		FROM sessions s JOIN tokens t ON t.id = s.token_id WHERE s.hash = ? AND t.revoked_at IS NULL`, hash).
		Scan(&ses.TokenID, timeDest{&ses.CreatedAt}, timeDest{&ses.ExpiresAt}, &t.Name, &t.Scope, &t.Environment, timeDest{&t.CreatedAt})
	if errors.Is(err, sql.ErrNoRows) {
		return ses, t, valueloop.Errorf(valueloop.ENOTFOUND, "no such session")
	} else if err != nil {
		return ses, t, fmt.Errorf("%s: read session: %w", s.o.D.Name, err)
	}
	t.ID = ses.TokenID
	return ses, t, nil
}

// TouchSession moves the expiry of a session (a use extends it); no error
// when it is gone.
func (s *Store) TouchSession(ctx context.Context, hash []byte, expires time.Time) error {
	return s.write(ctx, func(tx Tx) error {
		_, err := tx.Exec(ctx, `UPDATE sessions SET expires_at = ? WHERE hash = ?`, s.o.D.Time(expires), hash)
		return err
	})
}

// DeleteSession ends a session (sign-out); no error when it is gone.
func (s *Store) DeleteSession(ctx context.Context, hash []byte) error {
	return s.write(ctx, func(tx Tx) error {
		_, err := tx.Exec(ctx, `DELETE FROM sessions WHERE hash = ?`, hash)
		return err
	})
}
