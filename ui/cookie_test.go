package ui

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/valueloop/valueloop/auth"
	"github.com/valueloop/valueloop/flags"
	"github.com/valueloop/valueloop/sqlite"
)

// TestSecureCookieOverTLS: the dashboard's cookies are Secure when the
// request came over TLS (or SecureCookies says a proxy terminates it), and
// HttpOnly and SameSite=Strict always.
func TestSecureCookieOverTLS(t *testing.T) {
	db := sqlite.NewDB(filepath.Join(t.TempDir(), "ui.db"))
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	a := auth.NewService(db)
	f := flags.NewService(db, nil)
	if err := a.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name       string
		tls, proxy bool
		secure     bool
	}{
		{"plain HTTP", false, false, false},
		{"TLS", true, false, true},
		{"behind a TLS proxy", false, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := &UI{Auth: a, Flags: f, Audit: db, SecureCookies: tc.proxy}
			if err := u.Open(); err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(u)
			if tc.tls {
				srv = httptest.NewTLSServer(u)
			}
			defer srv.Close()
			resp, err := srv.Client().Get(srv.URL + "/signin")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			c := resp.Header.Get("Set-Cookie")
			if got := strings.Contains(c, "; Secure"); got != tc.secure || !strings.Contains(c, "HttpOnly") || !strings.Contains(c, "SameSite=Strict") {
				t.Errorf("Set-Cookie %q: Secure %v, want %v, and HttpOnly, SameSite=Strict", c, got, tc.secure)
			}
			if resp.StatusCode != http.StatusOK {
				t.Errorf("GET /signin: %d", resp.StatusCode)
			}
		})
	}
}
