package auth_test

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/auth"
	"github.com/valueloop/valueloop/sqlite"
	"github.com/valueloop/valueloop/sqlite/sqlitetest"
)

func newService(t *testing.T) (*auth.Service, *sqlite.DB) {
	t.Helper()
	db := sqlitetest.Open(t, nil)
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
		{"admin client", valueloop.Token{Name: "x", Scope: valueloop.ScopeAdmin, Client: true}, "", "client"},
		{"unbound client", valueloop.Token{Name: "x", Scope: valueloop.ScopeEvaluate, Client: true}, "", "environment"},
		{"origins on a server token", valueloop.Token{Name: "x", Scope: valueloop.ScopeEvaluate, Environment: "p", Origins: []string{"https://a.example"}}, "", "origins"},
		{"wildcard origin", valueloop.Token{Name: "x", Scope: valueloop.ScopeEvaluate, Environment: "p", Client: true, Origins: []string{"https://a.example", "https://*.example"}}, "", "origins[1]"},
		{"origin with a path", valueloop.Token{Name: "x", Scope: valueloop.ScopeEvaluate, Environment: "p", Client: true, Origins: []string{"https://a.example/app"}}, "", "origins[0]"},
		{"star origin", valueloop.Token{Name: "x", Scope: valueloop.ScopeEvaluate, Environment: "p", Client: true, Origins: []string{"*"}}, "", "origins[0]"},
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

func TestClientTokens(t *testing.T) {
	s, _ := newService(t)
	ctx := t.Context()
	if s.AllowsOrigin("https://shop.example") {
		t.Fatal("no client token yet, yet an origin is allowed")
	}
	web := &valueloop.Token{Name: "web", Scope: valueloop.ScopeEvaluate, Environment: "production", Client: true,
		Origins: []string{"HTTPS://Shop.Example:443", "http://localhost:3000"}}
	secret, err := s.Create(ctx, web, "", "root")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, "vl_client_") {
		t.Errorf("secret %q: want a vl_client_ prefix, so it is recognisable as public", secret)
	}
	got, err := s.Authenticate(secret)
	if err != nil {
		t.Fatal(err)
	}
	if !got.CanEvaluate("production") || got.CanReadDefinitions("production") || got.CanAdmin("production") {
		t.Errorf("client token: evaluate %v, read definitions %v, admin %v; want only evaluate",
			got.CanEvaluate("production"), got.CanReadDefinitions("production"), got.CanAdmin("production"))
	}
	for origin, want := range map[string]bool{
		"https://shop.example": true, "http://localhost:3000": true,
		"http://shop.example": false, "https://evil.example": false, "": false,
	} {
		if g := got.AllowsOrigin(origin); g != want {
			t.Errorf("token.AllowsOrigin(%q) = %v, want %v (origins stored as %q)", origin, g, want, got.Origins)
		}
		if g := s.AllowsOrigin(origin); g != want {
			t.Errorf("service.AllowsOrigin(%q) = %v, want %v", origin, g, want)
		}
	}

	// A server token is never answered to browsers, and allows no origin.
	server := &valueloop.Token{Name: "api", Scope: valueloop.ScopeEvaluate, Environment: "production"}
	if _, err := s.Create(ctx, server, "", "root"); err != nil {
		t.Fatal(err)
	}
	if server.AllowsOrigin("https://shop.example") || !server.CanReadDefinitions("production") {
		t.Errorf("server token: %+v", server)
	}

	// A client token without origins opens every origin to preflights;
	// revoking it closes them again.
	anyOrigin := &valueloop.Token{Name: "app", Scope: valueloop.ScopeEvaluate, Environment: "production", Client: true}
	if _, err := s.Create(ctx, anyOrigin, "", "root"); err != nil {
		t.Fatal(err)
	}
	if !s.AllowsOrigin("https://evil.example") {
		t.Error("a client token without origins should allow any origin")
	}
	if err := s.Revoke(ctx, anyOrigin.ID, "root"); err != nil {
		t.Fatal(err)
	}
	if s.AllowsOrigin("https://evil.example") || !s.AllowsOrigin("https://shop.example") {
		t.Error("after revoking the any-origin token, only the listed origins should stay allowed")
	}
}

func TestNormalizeOrigin(t *testing.T) {
	for in, want := range map[string]string{
		"https://Shop.Example":      "https://shop.example",
		"https://shop.example/":     "https://shop.example",
		"http://shop.example:80":    "http://shop.example",
		"https://shop.example:8443": "https://shop.example:8443",
		"http://[::1]:3000":         "http://[::1]:3000",
		"ftp://shop.example":        "",
		"shop.example":              "",
		"https://user@shop.example": "",
		"https://shop.example?x=1":  "",
	} {
		got, err := auth.NormalizeOrigin(in)
		if (err != nil) != (want == "") || got != want {
			t.Errorf("NormalizeOrigin(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestClientKey(t *testing.T) {
	for _, tc := range []struct {
		host string
		want string // "" when not an IP address
	}{
		{"192.0.2.7", "192.0.2.7"},
		{"::ffff:192.0.2.7", "192.0.2.7"},
		{"64:ff9b::192.0.2.7", "192.0.2.7"}, // a translated IPv4 client: itself, not 64:ff9b::/64
		{"64:ff9b::c000:208", "192.0.2.8"},  // the same, written in hex
		{"64:ff9b:0:0:1::1", "64:ff9b::"},   // inside 64:ff9b::/64 but not /96: not a translated address
		{"2001:db8:1:2:aaaa::1", "2001:db8:1:2::"},
		{"2001:db8:1:2:bbbb::9", "2001:db8:1:2::"},
		{"fe80::1%eth0", "fe80::"},
		{"::1", "::"},
		{"127.0.0.1", "127.0.0.1"},
		{"not-an-address", ""},
		{"192.0.2.7:80", ""}, // a port is the caller's to remove
	} {
		// Callers parse the connection's address; one that is not an IP
		// (another kind of listener) never reaches ClientKey.
		ip, err := netip.ParseAddr(tc.host)
		if (err == nil) != (tc.want != "") {
			t.Errorf("%q parses as an IP: %v, want %v", tc.host, err == nil, tc.want != "")
			continue
		}
		if err != nil {
			continue
		}
		if got := auth.ClientKey(ip).String(); got != tc.want {
			t.Errorf("ClientKey(%q) = %q, want %q", tc.host, got, tc.want)
		}
	}
	ip := netip.MustParseAddr("2001:db8:1:2:aaaa::1")
	if n := testing.AllocsPerRun(100, func() { auth.ClientKey(ip) }); n != 0 {
		t.Errorf("ClientKey allocates %v times, want 0", n)
	}
}

// failingReads is a real store whose token reads fail once told to: the
// revocation is stored, reading the tokens back is not possible.
type failingReads struct {
	*sqlite.DB
	fail bool
}

func (f *failingReads) Tokens(ctx context.Context) ([]valueloop.StoredToken, error) {
	if f.fail {
		return nil, errors.New("tokens unreadable")
	}
	return f.DB.Tokens(ctx)
}

// TestRevokeWithoutReload: a revocation stored while the tokens cannot be
// read back still ends the token on this node at once, and its streams
// are told. Failed before the fix: Revoke returned the read error and the
// revoked token kept authenticating here until a later reload.
func TestRevokeWithoutReload(t *testing.T) {
	ctx := t.Context()
	store := &failingReads{DB: sqlitetest.Open(t, nil)}
	s := auth.NewService(store)
	if err := s.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	tok := &valueloop.Token{Name: "sdk", Scope: valueloop.ScopeEvaluate, Environment: "production"}
	secret, err := s.Create(ctx, tok, "", "root")
	if err != nil {
		t.Fatal(err)
	}
	other, err := s.Create(ctx, &valueloop.Token{Name: "other", Scope: valueloop.ScopeViewer}, "", "root")
	if err != nil {
		t.Fatal(err)
	}
	w := s.Watch(secret)
	store.fail = true
	if err := s.Revoke(ctx, tok.ID, "root"); err == nil {
		t.Error("Revoke: no error, want the failed read reported")
	}
	if _, err := s.Authenticate(secret); valueloop.ErrorCode(err) != valueloop.EUNAUTHORIZED {
		t.Errorf("revoked token: %v, want unauthorized", err)
	}
	if !w.Revoked() {
		t.Error("the token's stream was not told")
	}
	if _, err := s.Authenticate(other); err != nil {
		t.Errorf("another token: %v", err)
	}
}

// TestTicket: a token's ticket finds the token (after a reload too) but is
// no secret, a secret is no ticket, and revoking the token kills the ticket
// and tells its watch.
func TestTicket(t *testing.T) {
	ctx := t.Context()
	s, db := newService(t)
	tok := &valueloop.Token{Name: "web", Scope: valueloop.ScopeEvaluate, Environment: "production", Client: true}
	secret, err := s.Create(ctx, tok, "", "root")
	if err != nil {
		t.Fatal(err)
	}
	ticket := auth.Ticket(secret)
	if ticket == secret || strings.Contains(secret, ticket) || strings.Contains(ticket, secret) {
		t.Fatalf("ticket %q shows the secret", ticket)
	}
	if got, err := s.AuthenticateTicket(ticket); err != nil || got.ID != tok.ID {
		t.Fatalf("AuthenticateTicket = %+v, %v", got, err)
	}
	if got := s.TicketOf(secret); got != ticket {
		t.Errorf("TicketOf (held) = %q, want %q", got, ticket)
	}
	if got, want := s.TicketOf("vl_eval_unknown"), auth.Ticket("vl_eval_unknown"); got != want {
		t.Errorf("TicketOf (made) = %q, want %q", got, want)
	}
	fresh := auth.NewService(db)
	if err := fresh.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := fresh.AuthenticateTicket(ticket); err != nil || got.ID != tok.ID {
		t.Fatalf("after a reload: AuthenticateTicket = %+v, %v", got, err)
	}
	if _, err := s.Authenticate(ticket); valueloop.ErrorCode(err) != valueloop.EUNAUTHORIZED {
		t.Errorf("ticket as a secret: %v, want unauthorized", err)
	}
	if _, err := s.AuthenticateTicket(secret); valueloop.ErrorCode(err) != valueloop.EUNAUTHORIZED {
		t.Errorf("secret as a ticket: %v, want unauthorized", err)
	}
	if _, err := s.AuthenticateTicket(""); valueloop.ErrorCode(err) != valueloop.EUNAUTHORIZED {
		t.Errorf("empty ticket: %v, want unauthorized", err)
	}
	w := s.WatchTicket(ticket)
	if w.Revoked() {
		t.Fatal("revoked before the revocation")
	}
	if err := s.Revoke(ctx, tok.ID, "root"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AuthenticateTicket(ticket); valueloop.ErrorCode(err) != valueloop.EUNAUTHORIZED {
		t.Errorf("ticket of a revoked token: %v, want unauthorized", err)
	}
	if !w.Revoked() {
		t.Error("the ticket's watch was not told")
	}
}
