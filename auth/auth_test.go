package auth_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/auth"
	"github.com/valueloop/valueloop/sqlite"
)

func newService(t *testing.T) (*auth.Service, *sqlite.DB) {
	t.Helper()
	db := sqlite.NewDB(filepath.Join(t.TempDir(), "auth.db"))
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s := auth.NewService(db)
	if err := s.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	return s, db
}

func TestCreateAuthenticateRevoke(t *testing.T) {
	s, db := newService(t)
	ctx := t.Context()
	tok := &valueloop.Token{Name: "web", Scope: valueloop.ScopeEvaluate, Environment: "production"}
	secret, err := s.Create(ctx, tok, "", "root")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, "vl_eval_") || len(secret) < 40 {
		t.Errorf("secret %q: want a vl_eval_ prefix and 32 random bytes", secret)
	}
	got, err := s.Authenticate(secret)
	if err != nil || got.ID != tok.ID || !got.CanEvaluate("production") || got.CanEvaluate("development") || got.CanAdmin("production") {
		t.Fatalf("Authenticate = %+v, %v", got, err)
	}
	// Only the hash is stored.
	stored, _ := db.Tokens(ctx)
	h := auth.Hash(secret)
	if len(stored) != 1 || string(stored[0].Hash) != string(h[:]) || strings.Contains(string(stored[0].Hash), secret) {
		t.Errorf("stored token: %+v", stored)
	}
	if err := s.Revoke(ctx, tok.ID, "root"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(secret); valueloop.ErrorCode(err) != valueloop.EUNAUTHORIZED {
		t.Errorf("revoked token: %v, want unauthorized", err)
	}
}

func TestCreateRejects(t *testing.T) {
	s, _ := newService(t)
	for _, tc := range []struct {
		name   string
		tok    valueloop.Token
		secret string
		field  string
	}{
		{"bad name", valueloop.Token{Name: "has space", Scope: valueloop.ScopeAdmin}, "", "name"},
		{"unknown scope", valueloop.Token{Name: "x", Scope: "root"}, "", "scope"},
		{"unbound evaluate", valueloop.Token{Name: "x", Scope: valueloop.ScopeEvaluate}, "", "environment"},
		{"short secret", valueloop.Token{Name: "x", Scope: valueloop.ScopeAdmin}, "short", "secret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Create(t.Context(), &tc.tok, tc.secret, "root")
			var e *valueloop.Error
			if !errors.As(err, &e) || e.Code != valueloop.EINVALID || e.Field != tc.field {
				t.Errorf("Create = %v, want invalid %s", err, tc.field)
			}
		})
	}
	if s.HasAdmin() {
		t.Error("rejected tokens must not be stored")
	}
}

func TestBootstrapSecretAndBearer(t *testing.T) {
	s, _ := newService(t)
	secret, err := s.Create(t.Context(), &valueloop.Token{Name: "boot", Scope: valueloop.ScopeAdmin}, "admin-secret-0123456789", "valueloop")
	if err != nil || secret != "admin-secret-0123456789" || !s.HasAdmin() {
		t.Fatalf("bootstrap: %q, %v", secret, err)
	}
	for header, want := range map[string]string{
		"Bearer abc": "abc", "bearer  abc ": "abc", "Basic abc": "", "Bearer": "", "": "",
	} {
		if got := auth.BearerToken(header); got != want {
			t.Errorf("BearerToken(%q) = %q, want %q", header, got, want)
		}
	}
	if _, err := s.Authenticate(""); err == nil {
		t.Error("empty secret authenticated")
	}
}
