package httpapi_test

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/valueloop/valueloop"
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
// not streams) body.
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

// TestRouteTokenMatrix: every route of the route table (so routes added
// later are covered without editing this test) with every kind of token:
// none, unknown, evaluate, admin bound to another environment, admin. The
// webhooks (public: they authenticate by signature or secret) refuse every
// bearer token alike. A token in X-API-Key is let in on OFREP's routes
// and on no other.
func TestRouteTokenMatrix(t *testing.T) {
	e := mustFullServer(t)
	stagingAdmin := mustStagingAdmin(t, e)
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
		if (scope == "public" && !hook) || (method == "DELETE" && strings.Contains(path, "/tokens/")) {
			continue
		}
		if hook {
			t.Run(pattern, func(t *testing.T) {
				for kind, token := range map[string]string{"no token": "", "unknown token": "vl_admin_guess", "evaluate token": e.eval, "admin of another environment": stagingAdmin, "admin token": adminSecret} {
					if status, body := send(t, e.srv.URL(), method, path, token, "{}"); status != 401 {
						t.Errorf("%s: %d %.300s, want 401 (a bearer token is no webhook credential)", kind, status, body)
					}
				}
			})
			continue
		}
		t.Run(pattern, func(t *testing.T) {
			for _, tc := range []struct {
				kind, token string
				want        func(status int) bool
				what        string
			}{
				{"no token", "", func(s int) bool { return s == 401 }, "401"},
				{"unknown token", "vl_admin_guess", func(s int) bool { return s == 401 }, "401"},
				{"evaluate token", e.eval, func(s int) bool {
					if scope == "admin" {
						return s == 403
					}
					return s != 401 && s != 403 && s < 500
				}, "403 on admin routes, else allowed"},
				// A bound token's OFREP and event requests go to its own
				// environment whatever the header says.
				{"admin of another environment", stagingAdmin, func(s int) bool {
					if strings.Contains(pattern, "{env}") || globalAdminRoutes[pattern] {
						return s == 403
					}
					return s != 401 && s != 403 && s < 500
				}, "403 on production's routes and on those of every environment, else allowed"},
				{"admin token", adminSecret, func(s int) bool { return s != 401 && s != 403 && s < 500 }, "allowed"},
			} {
				status, body := send(t, e.srv.URL(), method, path, tc.token, "")
				if status == 404 && strings.Contains(body, "does not serve") {
					continue // a part MustServer leaves out
				}
				if !tc.want(status) {
					t.Errorf("%s: %d %.300s, want %s", tc.kind, status, body, tc.what)
				}
				if goTypeNames.MatchString(body) {
					t.Errorf("%s: the answer names Go types: %.300s", tc.kind, body)
				}
			}
			// X-API-Key carries a token on OFREP's routes only: elsewhere
			// a token sent in it is no token at all, whatever its scope.
			ofrep := strings.HasPrefix(path, "/ofrep/")
			for kind, token := range map[string]string{"evaluate token": e.eval, "admin token": adminSecret} {
				status, body := sendHeaders(t, e.srv.URL(), method, path, map[string]string{httpapi.APIKeyHeader: token}, "")
				if status == 404 && strings.Contains(body, "does not serve") {
					continue
				}
				if ofrep && (status == 401 || status == 403 || status >= 500) {
					t.Errorf("%s as %s: %d %.300s, want it allowed on OFREP's routes", kind, httpapi.APIKeyHeader, status, body)
				}
				if !ofrep && status != 401 {
					t.Errorf("%s as %s: %d %.300s, want 401 (only OFREP's routes read %s)", kind, httpapi.APIKeyHeader, status, body, httpapi.APIKeyHeader)
				}
			}
		})
	}
}

// TestWriteRouteBadInputs: every write route of the route table, with an
// admin token, given bodies that are wrong in the ways a hostile or careless
// client sends: the answer is never a server error, never names Go types,
// and a route that reads a body refuses duplicate keys, deep nesting and
// wrong types alike. Nothing is audited (nothing changed).
func TestWriteRouteBadInputs(t *testing.T) {
	e := mustFullServer(t)
	bad := map[string]string{
		"wrong type":     `[]`,
		"duplicate keys": `{"name":"a","name":"b","key":"x","key":"y"}`,
		"deep":           strings.Repeat(`{"a":`, 300) + "1" + strings.Repeat("}", 300),
		"not JSON":       `{"name":`,
		"huge key":       `{"key":"` + strings.Repeat("k", 70_000) + `"}`,
	}
	for pattern := range httpapi.RouteScopes(e.srv) {
		method, path := matrixPath(pattern)
		if (method != "POST" && method != "PUT") || strings.HasPrefix(path, "/hooks/") || strings.HasPrefix(path, "/ofrep/") {
			continue
		}
		t.Run(pattern, func(t *testing.T) {
			auditBefore := auditCount(t, e)
			readsBody := false
			for _, name := range []string{"wrong type", "not JSON", "duplicate keys", "deep", "huge key"} {
				status, body := send(t, e.srv.URL(), method, path, adminSecret, bad[name])
				if status >= 500 {
					t.Errorf("%s: %d %.300s, want no server error", name, status, body)
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

func auditCount(t *testing.T, e *env) int {
	t.Helper()
	_, body := send(t, e.srv.URL(), "GET", "/api/v1/audit?limit=1000", adminSecret, "")
	return strings.Count(body, `"action"`)
}
