// Package auth issues access tokens and recognises them. Secrets are random,
// shown once, and only their SHA-256 hashes are stored; the set of live tokens
// is kept in memory so that checking a token on the evaluation path costs one
// hash and one map lookup, never a database query.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/valueloop/valueloop"
)

// Store is what the token service needs from storage.
type Store interface {
	CreateToken(ctx context.Context, t *valueloop.Token, hash []byte, actor string) error
	Tokens(ctx context.Context) ([]valueloop.StoredToken, error)
	RevokeToken(ctx context.Context, id int64, actor string) error
}

// Service creates, revokes and recognises tokens.
type Service struct {
	store Store

	mu     sync.Mutex // serialises reloads
	tokens atomic.Pointer[map[[sha256.Size]byte]*valueloop.Token]
	// changed is closed (and replaced) by every Reload: long-lived
	// requests (flag streams) wait on it to check their token again.
	changed atomic.Pointer[chan struct{}]
}

// NewService returns a service over store; call Reload before use.
func NewService(store Store) *Service {
	s := &Service{store: store}
	empty := map[[sha256.Size]byte]*valueloop.Token{}
	s.tokens.Store(&empty)
	ch := make(chan struct{})
	s.changed.Store(&ch)
	return s
}

// Changed returns a channel closed at the next reload of the live tokens
// (on this node: after a create or revoke here, or one made on another node
// and propagated). Whoever holds a token for long checks it again then.
func (s *Service) Changed() <-chan struct{} { return *s.changed.Load() }

// Reload reads the live tokens from the store. Call it after any change made
// elsewhere (another node, a CLI on the same file).
func (s *Service) Reload(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	all, err := s.store.Tokens(ctx)
	if err != nil {
		return fmt.Errorf("auth: load tokens: %w", err)
	}
	m := make(map[[sha256.Size]byte]*valueloop.Token, len(all))
	for i := range all {
		if all[i].RevokedAt != nil || len(all[i].Hash) != sha256.Size {
			continue
		}
		t := all[i].Token
		m[[sha256.Size]byte(all[i].Hash)] = &t
	}
	s.tokens.Store(&m)
	next := make(chan struct{})
	close(*s.changed.Swap(&next))
	return nil
}

// Authenticate returns the live token whose secret is secret, or an
// EUNAUTHORIZED error that says nothing more.
func (s *Service) Authenticate(secret string) (*valueloop.Token, error) {
	if secret != "" {
		if t, ok := (*s.tokens.Load())[Hash(secret)]; ok {
			return t, nil
		}
	}
	return nil, valueloop.Errorf(valueloop.EUNAUTHORIZED, "missing or invalid token")
}

// HasAdmin reports whether any live admin token exists.
func (s *Service) HasAdmin() bool {
	for _, t := range *s.tokens.Load() {
		if t.Scope == valueloop.ScopeAdmin {
			return true
		}
	}
	return false
}

var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@:-]{0,99}$`)

// Create validates t, stores it with a new secret (or with secret when not
// empty, for the bootstrap token) and returns the secret.
func (s *Service) Create(ctx context.Context, t *valueloop.Token, secret, actor string) (string, error) {
	if !namePattern.MatchString(t.Name) {
		return "", valueloop.FieldErrorf("name", "must be 1-100 letters, digits or ._@:- and start with a letter or digit")
	}
	switch t.Scope {
	case valueloop.ScopeEvaluate:
		if t.Environment == "" {
			return "", valueloop.FieldErrorf("environment", "an evaluate token must be bound to one environment")
		}
	case valueloop.ScopeAdmin:
	default:
		return "", valueloop.FieldErrorf("scope", "must be %q or %q, not %q", valueloop.ScopeEvaluate, valueloop.ScopeAdmin, t.Scope)
	}
	if secret == "" {
		secret = NewSecret(t.Scope)
	} else if len(secret) < 16 {
		return "", valueloop.FieldErrorf("secret", "must be at least 16 characters")
	}
	h := Hash(secret)
	if err := s.store.CreateToken(ctx, t, h[:], actor); err != nil {
		if valueloop.ErrorCode(err) == valueloop.ECONFLICT {
			return "", valueloop.FieldErrorf("secret", "is already in use by another token")
		}
		return "", err
	}
	return secret, s.Reload(ctx)
}

// Revoke revokes a token by id; it stops working at once on this node.
func (s *Service) Revoke(ctx context.Context, id int64, actor string) error {
	if err := s.store.RevokeToken(ctx, id, actor); err != nil {
		return err
	}
	return s.Reload(ctx)
}

// List returns every token, revoked ones included.
func (s *Service) List(ctx context.Context) ([]valueloop.Token, error) {
	all, err := s.store.Tokens(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]valueloop.Token, len(all))
	for i := range all {
		out[i] = all[i].Token
	}
	return out, nil
}

// NewSecret returns a new random secret with a prefix naming its scope, so a
// leaked token is recognisable in logs and by secret scanners.
func NewSecret(scope string) string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("auth: no randomness: " + err.Error())
	}
	prefix := "vl_eval_"
	if scope == valueloop.ScopeAdmin {
		prefix = "vl_admin_"
	}
	return prefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// Hash returns the stored form of a secret.
func Hash(secret string) [sha256.Size]byte {
	return sha256.Sum256([]byte(secret))
}

// BearerToken extracts the token from an Authorization header value.
func BearerToken(header string) string {
	const p = "bearer "
	if len(header) > len(p) && strings.EqualFold(header[:len(p)], p) {
		return strings.TrimSpace(header[len(p):])
	}
	return ""
}
