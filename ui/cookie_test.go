package ui

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/valueloop/valueloop/auth"
	"github.com/valueloop/valueloop/flags"
	"github.com/valueloop/valueloop/sqlite/sqlitetest"
)

// TestSecureCookieOverTLS: the dashboard's cookies are Secure as
// SecureCookies says (auto: over TLS or forwarded as https), and HttpOnly
// and SameSite=Strict always.
func TestSecureCookieOverTLS(t *testing.T) {
	db := sqlitetest.Open(t, nil)
	a := auth.NewService(db)
	f := flags.NewService(db, nil)
	if err := a.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		mode      string
		tls       bool
		forwarded string // X-Forwarded-Proto
		secure    bool
	}{
		{"auto, plain HTTP", "auto", false, "", false},
		{"auto, TLS", "auto", true, "", true},
		{"auto, a proxy forwarding https", "auto", false, "https", true},
		{"auto, a proxy forwarding http", "auto", false, "http", false},
		{"always, plain HTTP behind a TLS proxy", "always", false, "", true},
		{"never, TLS", "never", true, "https", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mode, err := ParseCookieSecurity(tc.mode)
			if err != nil {
				t.Fatal(err)
			}
			u := &UI{Auth: a, Sessions: db, Flags: f, Audit: db, SecureCookies: mode}
			if err := u.Open(); err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(u)
			if tc.tls {
				srv = httptest.NewTLSServer(u)
			}
			defer srv.Close()
			req, _ := http.NewRequest(http.MethodGet, srv.URL+"/signin", nil)
			if tc.forwarded != "" {
				req.Header.Set("X-Forwarded-Proto", tc.forwarded)
			}
			resp, err := srv.Client().Do(req)
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

func TestParseCookieSecurity(t *testing.T) {
	for _, s := range []string{"auto", "always", "never"} {
		if m, err := ParseCookieSecurity(s); err != nil || m.String() != s {
			t.Errorf("ParseCookieSecurity(%q) = %v, %v", s, m, err)
		}
	}
	if _, err := ParseCookieSecurity("yes"); err == nil || !strings.Contains(err.Error(), "auto, always or never") {
		t.Errorf("ParseCookieSecurity(yes): %v, want an error naming the choices", err)
	}
}
