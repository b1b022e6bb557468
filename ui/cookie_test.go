package ui

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

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

// TestLongMessagesFitACookie: a conflict notice lists up to three changes
// with their diffs, and variant names have no length limit; a cookie over
// 4,096 bytes is dropped by browsers without a word, so the warning never
// showed. Messages are cut between characters to fit.
func TestLongMessagesFitACookie(t *testing.T) {
	u := &UI{}
	for _, tc := range []struct {
		name, msg string
		cut       bool
	}{
		{"short", "Saved theme.", false},
		{"long, at a character", strings.Repeat("é", 3000) + "end", true},
		{"long ASCII", strings.Repeat("x", 10000), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			u.redirectNotice(w, httptest.NewRequest("POST", "/flags/production/theme", nil), "/flags/production/theme", tc.msg)
			header := w.Header().Get("Set-Cookie")
			if len(header) > 4096 {
				t.Fatalf("Set-Cookie is %d bytes, over the 4,096 browsers keep", len(header))
			}
			c, err := http.ParseSetCookie(header)
			if err != nil {
				t.Fatal(err)
			}
			b, err := base64.RawURLEncoding.DecodeString(c.Value)
			if err != nil {
				t.Fatal(err)
			}
			got := string(b)
			switch {
			case !utf8.ValidString(got):
				t.Errorf("the message was cut inside a character: %q", got[len(got)-8:])
			case !tc.cut && got != tc.msg:
				t.Errorf("a short message came back as %q", got)
			case tc.cut && (!strings.HasSuffix(got, "…") || !strings.HasPrefix(tc.msg, strings.TrimSuffix(got, "…"))):
				t.Errorf("a long message was not cut to a prefix and an ellipsis: ends %q", got[len(got)-12:])
			}
		})
	}
}
