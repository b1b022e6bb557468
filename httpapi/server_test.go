package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/auth"
	"github.com/valueloop/valueloop/flagd"
	"github.com/valueloop/valueloop/flags"
	"github.com/valueloop/valueloop/httpapi"
	"github.com/valueloop/valueloop/sqlite"
	"github.com/valueloop/valueloop/sqlite/sqlitetest"
	"github.com/valueloop/valueloop/storetest"
	"github.com/valueloop/valueloop/valuelooptest"
)

const adminSecret = "admin-secret-for-tests-0123"

type env struct {
	srv   *httpapi.Server
	db    *sqlite.DB
	flags *flags.Service
	auth  *auth.Service
	eval  string // evaluate token for production
}

const prodFlags = `{"flags":{
 "checkout":{"state":"ENABLED","variants":{"a":"a","b":"b"},"defaultVariant":"a","targeting":{"if":[{"==":[{"var":"tier"},"gold"]},"b",null]}},
 "kill":{"state":"ENABLED","variants":{"on":true,"off":false},"defaultVariant":"on"}}}`

// MustServer starts a real server on a free port with a temporary database
// holding environment "production" with prodFlags.
func MustServer(t testing.TB) *env {
	t.Helper()
	return mustServer(t, nil)
}

// mustServer is MustServer with configure (if not nil) called on the
// server before it opens.
func mustServer(t testing.TB, configure func(*httpapi.Server, *sqlite.DB)) *env {
	t.Helper()
	db, a := openStore(t)
	f := flags.NewService(db, nil)
	addEnvironment(t, f, valueloop.Environment{Key: "production", Name: "Production", Production: true}, prodFlags)
	eval := mustEvalToken(t, a)
	srv := httpapi.NewServer(a, f, db, nil)
	srv.Events = &httpapi.Events{Pipeline: storetest.OpenPipeline(t, db), Store: db}
	srv.Heartbeat = 50 * time.Millisecond
	if configure != nil {
		configure(srv, db)
	}
	openServer(t, srv)
	return &env{srv: srv, db: db, flags: f, auth: a, eval: eval}
}

// openStore opens a fresh SQLite store in a temporary directory and
// its token service, holding the admin token adminSecret; the store closes
// when t ends.
func openStore(t testing.TB) (*sqlite.DB, *auth.Service) {
	t.Helper()
	db := sqlitetest.Open(t, nil)
	a := auth.NewService(db)
	if err := a.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Create(context.Background(), &valueloop.Token{Name: "root", Scope: valueloop.ScopeAdmin}, adminSecret, "test"); err != nil {
		t.Fatal(err)
	}
	return db, a
}

// addEnvironment creates environment e holding the flagd document
// flagsJSON (no flags when empty).
func addEnvironment(t testing.TB, f *flags.Service, e valueloop.Environment, flagsJSON string) {
	t.Helper()
	ctx := context.Background()
	if err := f.EnsureEnvironment(ctx, e, "test"); err != nil {
		t.Fatal(err)
	}
	if flagsJSON == "" {
		return
	}
	set, err := flagd.Parse(e.Key+".json", []byte(flagsJSON))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Apply(ctx, e.Key, set, "test", "setup"); err != nil {
		t.Fatal(err)
	}
}

// mustEvalToken creates an evaluate token for production and returns it.
func mustEvalToken(t testing.TB, a *auth.Service) string {
	t.Helper()
	eval, err := a.Create(context.Background(), &valueloop.Token{Name: "web", Scope: valueloop.ScopeEvaluate, Environment: "production"}, "", "test")
	if err != nil {
		t.Fatal(err)
	}
	return eval
}

// openServer opens srv on a free port; it closes when t ends.
func openServer(t testing.TB, srv *httpapi.Server) {
	t.Helper()
	srv.Addr = "127.0.0.1:0"
	if err := srv.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Close(ctx)
	})
}

type call struct {
	method, path, token, body string
	headers                   map[string]string
}

func (e *env) do(t testing.TB, c call) (*http.Response, string) {
	t.Helper()
	return doCall(t, e.srv.URL(), c)
}

// doCall sends c to the server at base and returns the response, whose
// body is read and closed, and the body.
func doCall(t testing.TB, base string, c call) (*http.Response, string) {
	t.Helper()
	var body io.Reader
	if c.body != "" {
		body = strings.NewReader(c.body)
	}
	req, err := http.NewRequest(c.method, base+c.path, body)
	if err != nil {
		t.Fatal(err)
	}
	if c.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for k, v := range c.headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	checkResponse(t, c.method, c.path, resp, string(b))
	return resp, string(b)
}

// callResult is what a doCall run by goCall got: its failures (errs), or
// the status and body of the response.
type callResult struct {
	status int
	body   string
	errs   []string
}

// goCall runs doCall in a goroutine of its own, for a request the test
// waits on while it does others. FailNow (t.Fatal) must be called from the
// test's goroutine: doCall's failures are collected instead, for the test
// to report when it receives the result.
func goCall(t testing.TB, base string, c call) <-chan callResult {
	done := make(chan callResult, 1)
	go func() {
		g := &goroutineTB{TB: t}
		var r callResult
		defer func() {
			r.errs = g.errs
			done <- r
		}()
		resp, body := doCall(g, base, c)
		r.status, r.body = resp.StatusCode, body
	}()
	return done
}

// goroutineTB is a testing.TB for a goroutine other than the test's: it
// records failures, and a fatal one ends the goroutine (runtime.Goexit)
// rather than the test. Only that goroutine uses it until it is done.
type goroutineTB struct {
	testing.TB
	errs []string
}

func (g *goroutineTB) Error(args ...any) { g.errs = append(g.errs, fmt.Sprint(args...)) }
func (g *goroutineTB) Errorf(format string, args ...any) {
	g.errs = append(g.errs, fmt.Sprintf(format, args...))
}
func (g *goroutineTB) Fail()                             { g.errs = append(g.errs, "failed") }
func (g *goroutineTB) Failed() bool                      { return g.errs != nil }
func (g *goroutineTB) FailNow()                          { g.Fail(); runtime.Goexit() }
func (g *goroutineTB) Fatal(args ...any)                 { g.Error(args...); runtime.Goexit() }
func (g *goroutineTB) Fatalf(format string, args ...any) { g.Errorf(format, args...); runtime.Goexit() }

// openAPIRoutes returns "METHOD /path" for every operation in the document.
func openAPIRoutes(t *testing.T, e *env) (routes []string, doc map[string]any) {
	t.Helper()
	resp, body := e.do(t, call{method: "GET", path: "/api/v1/openapi.json"})
	if resp.StatusCode != 200 {
		t.Fatalf("openapi.json: %d", resp.StatusCode)
	}
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatalf("openapi.json is not JSON: %v", err)
	}
	for path, ops := range doc["paths"].(map[string]any) {
		for method, op := range ops.(map[string]any) {
			routes = append(routes, strings.ToUpper(method)+" "+path)
			if _, ok := op.(map[string]any)["responses"]; !ok {
				t.Errorf("%s %s documents no responses", method, path)
			}
		}
	}
	sort.Strings(routes)
	return routes, doc
}

// TestOpenAPIMatchesRoutes: every route is documented and every documented
// route answers (anything but the 404 or 405 of a request no route takes).
func TestOpenAPIMatchesRoutes(t *testing.T) {
	e := MustServer(t)
	documented, _ := openAPIRoutes(t, e)
	served := httpapi.Routes(e.srv)
	sort.Strings(served)
	if strings.Join(documented, "\n") != strings.Join(served, "\n") {
		t.Errorf("documented routes:\n%s\n\nserved routes:\n%s", strings.Join(documented, "\n"), strings.Join(served, "\n"))
	}
	for _, r := range documented {
		method, path, _ := strings.Cut(r, " ")
		path = strings.NewReplacer("{env}", "production", "{key}", "kill", "{id}", "999").Replace(path)
		if strings.HasSuffix(path, "/stream") {
			continue // answers with a stream; TestStream covers it
		}
		resp, body := e.do(t, call{method: method, path: path, token: adminSecret, body: "{}"})
		if resp.StatusCode == 404 && (strings.Contains(body, "no route of the API") || !strings.Contains(body, `"code"`) && !strings.Contains(body, "errorCode")) || resp.StatusCode == 405 {
			t.Errorf("%s %s: %d %s, want the route to answer", method, path, resp.StatusCode, body)
		}
	}
}

// TestEvaluateTokenForbiddenOnAdminRoutes walks every admin route of the
// OpenAPI document with an evaluate token (403) and a revoked token (401).
func TestEvaluateTokenForbiddenOnAdminRoutes(t *testing.T) {
	e := MustServer(t)
	_, doc := openAPIRoutes(t, e)
	revoked, _ := e.auth.Create(context.Background(), &valueloop.Token{Name: "old", Scope: valueloop.ScopeAdmin}, "", "test")
	tokens, _ := e.auth.List(context.Background())
	for _, tk := range tokens {
		if tk.Name == "old" {
			e.auth.Revoke(context.Background(), tk.ID, "test")
		}
	}
	n := 0
	for path, ops := range doc["paths"].(map[string]any) {
		for method, op := range ops.(map[string]any) {
			if op.(map[string]any)["x-valueloop-scope"] != "admin" {
				continue
			}
			p := strings.NewReplacer("{env}", "production", "{key}", "kill", "{id}", "1").Replace(path)
			before, _ := e.db.Audit(context.Background(), valueloop.AuditFilter{})
			resp, body := e.do(t, call{method: strings.ToUpper(method), path: p, token: e.eval, body: `{"name":"x","scope":"admin"}`})
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("evaluate token: %s %s = %d %s, want 403", method, p, resp.StatusCode, body)
			}
			resp, _ = e.do(t, call{method: strings.ToUpper(method), path: p, token: revoked, body: `{}`})
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("revoked token: %s %s = %d, want 401", method, p, resp.StatusCode)
			}
			after, _ := e.db.Audit(context.Background(), valueloop.AuditFilter{})
			if len(after) != len(before) {
				t.Errorf("%s %s with a forbidden token changed something", method, p)
			}
			n++
		}
	}
	if n < 15 {
		t.Errorf("walked only %d admin operations", n)
	}
}

func TestFlagCRUDAndConflicts(t *testing.T) {
	e := MustServer(t)
	def := `{"state":"ENABLED","variants":{"on":true,"off":false},"defaultVariant":"off"}`
	resp, body := e.do(t, call{method: "POST", path: "/api/v1/environments/production/flags", token: adminSecret,
		body: `{"key":"new-ui","state":"ENABLED","variants":{"on":true,"off":false},"defaultVariant":"off"}`})
	// A flag starts at its environment's version (the fixture's flags
	// were written first): the ETag is that version, v.
	created := resp.Header.Get("ETag")
	v, err := strconv.ParseInt(strings.Trim(created, `"`), 10, 64)
	if resp.StatusCode != 201 || err != nil || v < 1 || !strings.Contains(body, fmt.Sprintf(`"version": %d`, v)) {
		t.Fatalf("create: %d %s etag %q", resp.StatusCode, body, created)
	}
	resp, _ = e.do(t, call{method: "POST", path: "/api/v1/environments/production/flags", token: adminSecret, body: `{"key":"new-ui",` + def[1:]})
	if resp.StatusCode != 409 {
		t.Errorf("create twice: %d, want 409", resp.StatusCode)
	}
	// Invalid definitions name the field and change nothing.
	resp, body = e.do(t, call{method: "PUT", path: "/api/v1/environments/production/flags/new-ui", token: adminSecret,
		body: `{"state":"ENABLED","variants":{"on":true},"defaultVariant":"nope"}`})
	if resp.StatusCode != 400 || !strings.Contains(body, "defaultVariant") {
		t.Errorf("invalid update: %d %s", resp.StatusCode, body)
	}
	resp, body = e.do(t, call{method: "PUT", path: "/api/v1/environments/production/flags/new-ui", token: adminSecret, body: def,
		headers: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}})
	if resp.StatusCode != 415 {
		t.Errorf("form post: %d %s, want 415", resp.StatusCode, body)
	}
	resp, body = e.do(t, call{method: "PUT", path: "/api/v1/environments/nowhere/flags/new-ui", token: adminSecret, body: def})
	if resp.StatusCode != 404 || !strings.Contains(body, "nowhere") {
		t.Errorf("unknown environment: %d %s", resp.StatusCode, body)
	}

	// Concurrent conflicting updates at version v: exactly one wins.
	racing := make([]<-chan callResult, 6)
	for i := range racing {
		d := strings.Replace(def, `"off"}`, `"off","metadata":{"writer":`+string(rune('0'+i))+`}}`, 1)
		racing[i] = goCall(t, e.srv.URL(), call{method: "PUT", path: "/api/v1/environments/production/flags/new-ui", token: adminSecret, body: d,
			headers: map[string]string{"If-Match": created, "Valueloop-Reason": "race"}})
	}
	count := map[int]int{}
	for _, done := range racing {
		if r := <-done; r.errs != nil {
			t.Errorf("racing update: %q", r.errs)
		} else {
			count[r.status]++
		}
	}
	if count[200] != 1 || count[409] != 5 {
		t.Errorf("racing updates: %v, want one 200 and five 409", count)
	}
	live := e.flags.Live("production").Snapshot.Set().Flags["new-ui"]
	if live.Version != v+1 || live.Metadata["writer"] == nil {
		t.Errorf("after the race: version %d metadata %v", live.Version, live.Metadata)
	}

	// Kill switch: evaluation sees it at once.
	resp, _ = e.do(t, call{method: "POST", path: "/api/v1/environments/production/flags/kill/disable", token: adminSecret,
		headers: map[string]string{"Valueloop-Reason": "incident 42"}})
	if resp.StatusCode != 200 {
		t.Fatalf("disable: %d", resp.StatusCode)
	}
	_, body = e.do(t, call{method: "POST", path: "/ofrep/v1/evaluate/flags/kill", token: e.eval, body: `{}`})
	if !strings.Contains(body, `"reason":"DISABLED"`) {
		t.Errorf("after disable: %s", body)
	}
	_, body = e.do(t, call{method: "GET", path: "/api/v1/audit?flag=kill", token: adminSecret})
	if !strings.Contains(body, `"reason": "incident 42"`) || !strings.Contains(body, `"path": "/state"`) || !strings.Contains(body, `"actor": "root"`) {
		t.Errorf("audit of the kill switch: %s", body)
	}
	resp, _ = e.do(t, call{method: "DELETE", path: "/api/v1/environments/production/flags/new-ui", token: adminSecret, headers: map[string]string{"If-Match": created}})
	if resp.StatusCode != 409 {
		t.Errorf("stale delete: %d, want 409", resp.StatusCode)
	}
}

func TestApplyFlagd(t *testing.T) {
	e := MustServer(t)
	file := `{"flags":{"kill":{"state":"DISABLED","variants":{"on":true,"off":false},"defaultVariant":"on"},
		"fresh":{"state":"ENABLED","variants":{"x":"x"},"defaultVariant":"x"}}}`
	put := func(q string) (int, map[string]any) {
		resp, body := e.do(t, call{method: "PUT", path: "/api/v1/environments/production/flagd" + q, token: adminSecret, body: file})
		var out map[string]any
		json.Unmarshal([]byte(body), &out)
		return resp.StatusCode, out
	}
	code, out := put("?dry_run=true&prune=true")
	change, _ := json.Marshal(out["change"])
	if code != 200 || string(change) != `{"added":["fresh"],"changed":["kill"],"removed":["checkout"],"version":1}` {
		t.Errorf("dry run: %d %s", code, change)
	}
	if e.flags.Live("production").Version != 1 {
		t.Errorf("dry run changed the version to %d", e.flags.Live("production").Version)
	}
	code, out = put("") // no prune: checkout is kept
	change, _ = json.Marshal(out["change"])
	if code != 200 || string(change) != `{"added":["fresh"],"changed":["kill"],"version":2}` {
		t.Errorf("apply: %d %s", code, change)
	}
	// Export then apply again: nothing changes.
	_, exported := e.do(t, call{method: "GET", path: "/api/v1/environments/production/flagd", token: adminSecret})
	resp, body := e.do(t, call{method: "PUT", path: "/api/v1/environments/production/flagd?prune=true", token: adminSecret, body: exported})
	if resp.StatusCode != 200 || !strings.Contains(body, `"version": 2`) || strings.Contains(body, "added") || strings.Contains(body, "changed") {
		t.Errorf("round trip export → apply: %d %s", resp.StatusCode, body)
	}
	// An invalid file lists its problems and changes nothing.
	resp, body = e.do(t, call{method: "PUT", path: "/api/v1/environments/production/flagd", token: adminSecret,
		body: `{"flags":{"bad":{"state":"MAYBE","variants":{"a":1},"defaultVariant":"a"}}}`})
	if resp.StatusCode != 400 || !strings.Contains(body, `"errors"`) || !strings.Contains(body, `"field": "/flags/bad/state"`) {
		t.Errorf("invalid file: %d %s", resp.StatusCode, body)
	}
	if e.flags.Live("production").Version != 2 {
		t.Error("an invalid file changed the environment")
	}
}

// TestStream: the full set on connect, then each change, with ids; resuming
// with the current id sends nothing until the next change.
func TestStream(t *testing.T) {
	e := MustServer(t)
	open := func(lastID string) (*http.Response, func() string) {
		req, _ := http.NewRequest("GET", e.srv.URL()+"/api/v1/environments/production/stream", nil)
		req.Header.Set("Authorization", "Bearer "+e.eval)
		if lastID != "" {
			req.Header.Set("Last-Event-ID", lastID)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		lines := make(chan string, 100)
		go func() {
			buf := make([]byte, 1<<16)
			var acc string
			for {
				n, err := resp.Body.Read(buf)
				acc += string(buf[:n])
				for {
					i := strings.Index(acc, "\n\n")
					if i < 0 {
						break
					}
					lines <- acc[:i]
					acc = acc[i+2:]
				}
				if err != nil {
					close(lines)
					return
				}
			}
		}()
		next := func() string {
			for {
				select {
				case ev, ok := <-lines:
					if !ok {
						return ""
					}
					if strings.HasPrefix(ev, ":") {
						continue // heartbeat
					}
					return ev
				case <-time.After(5 * time.Second):
					return "timeout"
				}
			}
		}
		return resp, next
	}
	resp, next := open("")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	first := next()
	if !strings.HasPrefix(first, "id: 1\nevent: flags\ndata: ") || !strings.Contains(first, `"checkout"`) {
		t.Fatalf("first event:\n%s", first)
	}
	e.do(t, call{method: "POST", path: "/api/v1/environments/production/flags/kill/disable", token: adminSecret})
	second := next()
	if !strings.HasPrefix(second, "id: 2\n") || !strings.Contains(second, `"DISABLED"`) {
		t.Fatalf("after a change:\n%s", second)
	}
	// Resume at the current version: nothing until the next change.
	_, resumed := open("2")
	e.do(t, call{method: "POST", path: "/api/v1/environments/production/flags/kill/enable", token: adminSecret})
	if ev := resumed(); !strings.HasPrefix(ev, "id: 3\n") {
		t.Errorf("resumed stream's first event:\n%s", ev)
	}
	// Data lines join back into the flagd file.
	var data []string
	for _, l := range strings.Split(second, "\n") {
		if d, ok := strings.CutPrefix(l, "data: "); ok {
			data = append(data, d)
		}
	}
	if _, err := flagd.Parse("stream", []byte(strings.Join(data, "\n"))); err != nil {
		t.Errorf("streamed set does not parse: %v", err)
	}
	// Another environment's token is refused.
	resp, body := e.do(t, call{method: "GET", path: "/api/v1/environments/staging/stream", token: e.eval})
	if resp.StatusCode != 403 {
		t.Errorf("stream of another environment: %d %s", resp.StatusCode, body)
	}
}

// TestOpenAPIScopes: the scope each operation documents is the one the
// route table enforces.
func TestOpenAPIScopes(t *testing.T) {
	e := MustServer(t)
	_, doc := openAPIRoutes(t, e)
	scopes := httpapi.RouteScopes(e.srv)
	for path, ops := range doc["paths"].(map[string]any) {
		for method, op := range ops.(map[string]any) {
			key := strings.ToUpper(method) + " " + path
			if got := op.(map[string]any)["x-valueloop-scope"]; got != scopes[key] {
				t.Errorf("%s: documented scope %v, route table says %q", key, got, scopes[key])
			}
		}
	}
}

// TestOFREPRecordsExposures: evaluations with a targeting key reach the
// ingestion pipeline as exposures, off the request path. A targeting rule
// serves the gold tier "b": outside the split, in the variant's reach
// (outsideSplit) and not its randomised users.
func TestOFREPRecordsExposures(t *testing.T) {
	e := MustServer(t)
	for _, user := range []string{"u1", "u2", "u3"} {
		resp, body := e.do(t, call{method: "POST", path: "/ofrep/v1/evaluate/flags/checkout", token: e.eval,
			body: `{"context":{"targetingKey":"` + user + `","tier":"gold"}}`})
		if resp.StatusCode != 200 {
			t.Fatalf("evaluate: %d %s", resp.StatusCode, body)
		}
	}
	e.do(t, call{method: "POST", path: "/ofrep/v1/evaluate/flags/checkout", token: e.eval, body: `{"context":{}}`}) // no key: no exposure
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, body := e.do(t, call{method: "GET", path: "/api/v1/environments/production/aggregates?flag=checkout", token: adminSecret})
		if strings.Contains(body, `"variant": "b"`) && strings.Contains(body, `"users": 0`) && strings.Contains(body, `"outsideSplit": 3`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("exposures not recorded within 10s: %s", body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	_, metrics := e.do(t, call{method: "GET", path: "/metrics"})
	if !strings.Contains(metrics, "valueloop_exposures_recorded_total 3") {
		t.Errorf("/metrics should count 3 recorded exposures:\n%s", valuelooptest.GrepLines(metrics, "exposures"))
	}
}
