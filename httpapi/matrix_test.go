package httpapi_test

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/auth"
	"github.com/valueloop/valueloop/delivery"
	"github.com/valueloop/valueloop/features"
	"github.com/valueloop/valueloop/httpapi"
	"github.com/valueloop/valueloop/sqlite"
)

// goTypeNames matches what Go's errors say and users must never see.
var goTypeNames = regexp.MustCompile(`map\[|json\.|struct \{|\bint64\b|\bfloat64\b|\[\]string|valueloop\.|\*http\.`)

// matrixPath fills a route pattern's wildcards with values that exist in
// MustServer's store (or at least look right).
func matrixPath(pattern string) (method, path string) {
	method, path, _ = strings.Cut(pattern, " ")
	r := strings.NewReplacer("{env}", "production", "{key}", "checkout", "{id}", "1", "{name}", "x",
		"{kind}", "deployments", "{record}", "1")
	if strings.ContainsAny(r.Replace(path), "{}") {
		panic("matrixPath: no value for a wildcard of " + pattern)
	}
	return method, r.Replace(path)
}

// send sends one request and returns its status and (for answers that are
// not streams) body, which it checks against the document as doCall does.
func send(t *testing.T, base, method, path, token, body string) (int, string) {
	t.Helper()
	var h map[string]string
	if token != "" {
		h = map[string]string{"Authorization": "Bearer " + token}
	}
	return sendHeaders(t, base, method, path, h, body)
}

// sendHeaders is send with the token (or none) in the given headers.
func sendHeaders(t *testing.T, base, method, path string, headers map[string]string, body string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequestWithContext(ctx, method, base+path, rd)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(httpapi.EnvironmentHeader, "production")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Content-Type") == "text/event-stream" {
		return resp.StatusCode, "" // a stream: do not wait for its end
	}
	b, _ := io.ReadAll(resp.Body)
	checkResponse(t, method, path, resp, string(b))
	return resp.StatusCode, string(b)
}

// globalAdminRoutes need an admin token for every environment (their
// handlers check it): an admin token bound to one environment is refused
// with 403 whatever it sends. Every other route without {env} lets it in.
var globalAdminRoutes = map[string]bool{
	"POST /api/v1/environments":                       true,
	"GET /api/v1/delivery/sources":                    true,
	"PUT /api/v1/delivery/sources/{name}":             true,
	"DELETE /api/v1/delivery/sources/{name}":          true,
	"PUT /api/v1/delivery/services/{name}":            true,
	"DELETE /api/v1/delivery/services/{name}":         true,
	"POST /api/v1/delivery/changes":                   true,
	"POST /api/v1/delivery/incidents":                 true,
	"POST /api/v1/delivery/incidents/{id}/resolve":    true,
	"GET /api/v1/delivery/records/{kind}":             true,
	"GET /api/v1/delivery/records/{kind}/{record}":    true,
	"PUT /api/v1/delivery/records/{kind}/{record}":    true,
	"DELETE /api/v1/delivery/records/{kind}/{record}": true,
	"POST /api/v1/objectives":                         true,
	"PUT /api/v1/objectives/{key}":                    true,
	"DELETE /api/v1/objectives/{key}":                 true,
	"POST /api/v1/features":                           true,
	"PUT /api/v1/features/{key}":                      true,
	"DELETE /api/v1/features/{key}":                   true,
	"POST /api/v1/features/{key}/move":                true,
	"PUT /api/v1/value/file":                          true,
}

// matrixToken is one kind of token TestRouteTokenMatrix sends every route.
type matrixToken struct{ kind, secret string }

// matrixTokens makes one token of every kind: none, unknown, revoked (an
// admin token, revoked), evaluate, client (a public evaluate token for
// browsers), viewer, viewer and admin bound to another environment
// (staging), admin. All but the admin of another environment are of
// production or of every environment.
func matrixTokens(t *testing.T, e *env) []matrixToken {
	t.Helper()
	ctx := context.Background()
	create := func(tok valueloop.Token) string {
		secret, err := e.auth.Create(ctx, &tok, "", "test")
		if err != nil {
			t.Fatal(err)
		}
		return secret
	}
	stagingAdmin := mustStagingAdmin(t, e)
	return []matrixToken{
		{"no token", ""},
		{"unknown token", "vl_admin_guess"},
		{"revoked admin token", mustRevokedToken(t, e)},
		{"evaluate token", e.eval},
		{"client token", create(valueloop.Token{Name: "browser", Scope: valueloop.ScopeEvaluate, Environment: "production", Client: true})},
		{"viewer token", create(valueloop.Token{Name: "pm", Scope: valueloop.ScopeViewer})},
		{"viewer of another environment", create(valueloop.Token{Name: "staging-pm", Scope: valueloop.ScopeViewer, Environment: "staging"})},
		{"admin of another environment", stagingAdmin},
		{"admin token", adminSecret},
	}
}

// matrixWant is the answer a route (its pattern and the scope of the
// route table) owes a token of kind: "401", "403" or "allowed" (neither
// of them nor a server error).
func matrixWant(kind, pattern, scope string) string {
	method, _, _ := strings.Cut(pattern, " ")
	read := method == "GET"
	events := pattern == "POST /api/v1/events"
	// Flag streams send definitions; OFREP's change notifications do not.
	stream := strings.HasSuffix(pattern, "/stream") && !strings.HasPrefix(pattern, "GET /ofrep/")
	// A token of staging is refused production's routes and those that
	// need a token of every environment; its OFREP requests go to its
	// own environment whatever the header says.
	elsewhere := strings.Contains(pattern, "{env}") || globalAdminRoutes[pattern]
	allowedIf := func(ok bool) string {
		if ok {
			return "allowed"
		}
		return "403"
	}
	switch kind {
	case "no token", "unknown token", "revoked admin token":
		return "401"
	case "evaluate token":
		return allowedIf(scope != "admin")
	case "client token": // evaluates and sends events; reads no definitions
		return allowedIf(scope != "admin" && !stream)
	case "viewer token": // reads everything, changes nothing, sends no events
		return allowedIf(read || (scope == "evaluate" && !events))
	case "viewer of another environment":
		return allowedIf((read && !elsewhere) || (scope == "evaluate" && !events && !stream))
	case "admin of another environment":
		return allowedIf(!elsewhere)
	}
	return "allowed"
}

// TestRouteTokenMatrix: every route of the route table (so routes added
// later are covered without editing this test) with every kind of token
// (matrixTokens), each answered as matrixWant says. The webhooks (public:
// they authenticate by signature or secret) refuse every bearer token
// alike. A token in X-API-Key is let in on OFREP's routes and on no other.
func TestRouteTokenMatrix(t *testing.T) {
	e := mustFullServer(t)
	tokens := matrixTokens(t, e)
	scopes := httpapi.RouteScopes(e.srv)
	if len(scopes) < 40 {
		t.Fatalf("only %d routes in the table", len(scopes))
	}
	for pattern := range globalAdminRoutes {
		if scopes[pattern] != "admin" {
			t.Errorf("globalAdminRoutes names %s, which is no admin route of the table", pattern)
		}
	}
	for pattern, scope := range scopes {
		method, path := matrixPath(pattern)
		hook := strings.HasPrefix(path, "/hooks/")
		if scope == "public" && !hook {
			continue
		}
		hookBody := ""
		if hook {
			hookBody = "{}"
		}
		t.Run(pattern, func(t *testing.T) {
			for _, tok := range tokens {
				want := matrixWant(tok.kind, pattern, scope)
				if hook {
					want = "401" // a bearer token is no webhook credential
				}
				if want == "allowed" && method == "DELETE" && strings.Contains(path, "/tokens/") {
					continue // it would revoke the admin token the test runs on
				}
				status, body := send(t, e.srv.URL(), method, path, tok.secret, hookBody)
				if pattern == "GET /ofrep/v1/stream" {
					// Its credential is the token's ticket, in the URL.
					status, body = sendHeaders(t, e.srv.URL(), method, path+"?environment=production&ticket="+auth.Ticket(tok.secret), nil, "")
				}
				if status == 404 && strings.Contains(body, "does not serve") {
					continue // a part the server leaves out
				}
				if got := matrixClass(status); got != want {
					t.Errorf("%s: %d %.300s, want %s", tok.kind, status, body, want)
				}
				if goTypeNames.MatchString(body) {
					t.Errorf("%s: the answer names Go types: %.300s", tok.kind, body)
				}
			}
			if !hook {
				checkAPIKeyHeader(t, e, method, path, tokens)
			}
		})
	}
}

// matrixClass sorts a status as matrixWant names answers; a server error
// is none of them.
func matrixClass(status int) string {
	switch {
	case status == 401:
		return "401"
	case status == 403:
		return "403"
	case status >= 500:
		return "a server error"
	}
	return "allowed"
}

// checkAPIKeyHeader: X-API-Key carries a token on OFREP's routes only:
// there every token that may evaluate is let in; elsewhere a token sent
// in it is no token at all, whatever its kind.
func checkAPIKeyHeader(t *testing.T, e *env, method, path string, tokens []matrixToken) {
	t.Helper()
	ofrep := strings.HasPrefix(path, "/ofrep/") && path != "/ofrep/v1/stream" // that one takes a ticket
	for _, tok := range tokens {
		if tok.secret == "" {
			continue
		}
		want := "401"
		if ofrep {
			want = matrixWant(tok.kind, method+" /ofrep/", "evaluate")
		}
		status, body := sendHeaders(t, e.srv.URL(), method, path, map[string]string{httpapi.APIKeyHeader: tok.secret}, "")
		if status == 404 && strings.Contains(body, "does not serve") {
			continue
		}
		if got := matrixClass(status); got != want {
			t.Errorf("%s as %s: %d %.300s, want %s (only OFREP's routes read %s)", tok.kind, httpapi.APIKeyHeader, status, body, want, httpapi.APIKeyHeader)
		}
	}
}

// TestWriteRouteBadInputs: every write route of the route table, with an
// admin token, given bodies that are wrong in the ways a hostile or careless
// client sends: the answer is never a server error, never names Go types,
// and a route that reads a body refuses duplicate keys, deep nesting and
// wrong types alike. Nothing is audited (nothing changed). No answer
// quotes a long input whole: a 70,000-byte key, unknown, was echoed twice
// (the detail and the field), so that every byte of a body sent came back
// two to four times over.
func TestWriteRouteBadInputs(t *testing.T) {
	const maxErrorBody = 8 << 10
	e := mustFullServer(t)
	bad := map[string]string{
		"wrong type":     `[]`,
		"duplicate keys": `{"name":"a","name":"b","key":"x","key":"y"}`,
		"deep":           strings.Repeat(`{"a":`, 300) + "1" + strings.Repeat("}", 300),
		"not JSON":       `{"name":`,
		"huge key":       `{"key":"` + strings.Repeat("k", 70_000) + `"}`,
		"huge field":     `{"` + strings.Repeat("k", 70_000) + `":1}`,
	}
	for pattern := range httpapi.RouteScopes(e.srv) {
		method, path := matrixPath(pattern)
		if (method != "POST" && method != "PUT") || strings.HasPrefix(path, "/hooks/") || strings.HasPrefix(path, "/ofrep/") {
			continue
		}
		t.Run(pattern, func(t *testing.T) {
			auditBefore := auditCount(t, e)
			readsBody := false
			for _, name := range []string{"wrong type", "not JSON", "duplicate keys", "deep", "huge key", "huge field"} {
				status, body := send(t, e.srv.URL(), method, path, adminSecret, bad[name])
				if status >= 500 {
					t.Errorf("%s: %d %.300s, want no server error", name, status, body)
				}
				if len(body) > maxErrorBody {
					t.Errorf("%s: %d, an answer of %d bytes, want at most %d: %.300s", name, status, len(body), maxErrorBody, body)
				}
				if goTypeNames.MatchString(body) {
					t.Errorf("%s: the answer names Go types: %.300s", name, body)
				}
				if name == "wrong type" || name == "not JSON" {
					readsBody = readsBody || status == 400
					continue
				}
				if readsBody && status/100 == 2 {
					t.Errorf("%s: %d %.300s, want it refused", name, status, body)
				}
			}
			// Routes without a body (enable, pause, ...) act whatever is
			// sent; the others must have changed nothing.
			if after := auditCount(t, e); readsBody && after != auditBefore {
				t.Errorf("audit grew from %d to %d entries: a bad input changed something", auditBefore, after)
			}
		})
	}
}

// TestRouteBadPaths: every route of the route table with a wildcard, given
// hostile values in its path and query (a key that cannot exist, control
// characters, 5,000 characters, unknown and malformed parameters), with
// an admin token: the answer is a client error (or a success for a
// parameter a route ignores), never a server error or Go type names, and
// nothing changes.
func TestRouteBadPaths(t *testing.T) {
	e := mustFullServer(t)
	values := map[string]string{"dot-dot": "..", "control": "a%00b%0A", "long": strings.Repeat("k", 5000), "percent": "%25zz"}
	queries := []string{"?alpha=abc&limit=-1&since=yesterday", "?" + strings.Repeat("x", 3000) + "=1", "?weights=a:b,c"}
	for pattern := range httpapi.RouteScopes(e.srv) {
		if !strings.Contains(pattern, "{") {
			continue
		}
		method, _ := matrixPath(pattern)
		t.Run(pattern, func(t *testing.T) {
			auditBefore := auditCount(t, e)
			try := func(what, path string) {
				status, body := send(t, e.srv.URL(), method, path, adminSecret, "")
				if status >= 500 || goTypeNames.MatchString(body) {
					t.Errorf("%s %s: %d %.300s, want a client error in JSON terms", what, path[:min(len(path), 120)], status, body)
				}
			}
			for name, v := range values {
				for _, wildcard := range []string{"{env}", "{key}", "{id}", "{name}", "{kind}", "{record}"} {
					if strings.Contains(pattern, wildcard) {
						_, path := matrixPath(strings.Replace(pattern, wildcard, v, 1))
						try(name+" as "+wildcard, path)
					}
				}
			}
			if method == "GET" {
				_, path := matrixPath(pattern)
				for _, q := range queries {
					try("query", path+q)
				}
			}
			if after := auditCount(t, e); method == "GET" && after != auditBefore {
				t.Errorf("audit grew from %d to %d entries on reads", auditBefore, after)
			}
		})
	}
}

// mustFullServer is MustServer that also serves delivery metrics, the
// experiments, flagd's protocols and the value loop, so that the matrices reach their routes instead of the 404
// of a part left out.
func mustFullServer(t *testing.T) *env {
	t.Helper()
	return mustServer(t, func(srv *httpapi.Server, db *sqlite.DB) {
		d := delivery.New(db)
		if err := d.Open(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		srv.Delivery = d
		srv.Value = features.New(db, db)
		srv.Experiments = db
		withFlagd(srv, 0)
	})
}

// mustStagingAdmin adds environment staging and returns the secret of an
// admin token bound to it.
func mustStagingAdmin(t *testing.T, e *env) string {
	t.Helper()
	ctx := context.Background()
	if err := e.flags.EnsureEnvironment(ctx, valueloop.Environment{Key: "staging", Name: "Staging"}, "test"); err != nil {
		t.Fatal(err)
	}
	secret, err := e.auth.Create(ctx, &valueloop.Token{Name: "staging-admin", Scope: valueloop.ScopeAdmin, Environment: "staging"}, "", "test")
	if err != nil {
		t.Fatal(err)
	}
	return secret
}

// mustRevokedToken returns the secret of an admin token of every
// environment, revoked.
func mustRevokedToken(t *testing.T, e *env) string {
	t.Helper()
	ctx := context.Background()
	secret, err := e.auth.Create(ctx, &valueloop.Token{Name: "gone", Scope: valueloop.ScopeAdmin}, "", "test")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := e.auth.Authenticate(secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.auth.Revoke(ctx, tok.ID, "test"); err != nil {
		t.Fatal(err)
	}
	return secret
}

func auditCount(t *testing.T, e *env) int {
	t.Helper()
	_, body := send(t, e.srv.URL(), "GET", "/api/v1/audit?limit=1000", adminSecret, "")
	return strings.Count(body, `"action"`)
}
