package httpapi_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/delivery"
	"github.com/valueloop/valueloop/httpapi"
	"github.com/valueloop/valueloop/opsgenie"
	"github.com/valueloop/valueloop/pagerduty"
	"github.com/valueloop/valueloop/valuelooptest"
)

// limitedServer opens a second server on e's store with lim (and delivery
// metrics from svc when not nil).
func limitedServer(t testing.TB, e *env, lim httpapi.Limits, svc *delivery.Service) *httpapi.Server {
	t.Helper()
	srv := httpapi.NewServer(e.auth, e.flags, e.db, nil)
	srv.Limits = lim
	srv.Delivery = svc
	srv.Events = e.srv.Events
	openServer(t, srv)
	return srv
}

// rawConn dials srv; the test fails rather than hangs when the server never
// answers (the bug these tests reproduce).
func rawConn(t testing.TB, srv *httpapi.Server) net.Conn {
	t.Helper()
	return rawConnFrom(t, srv, nil)
}

// rawConnFrom is rawConn from the local address local (nil: any).
func rawConnFrom(t testing.TB, srv *httpapi.Server, local net.Addr) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: local}
	c, err := d.Dial("tcp", strings.TrimPrefix(srv.URL(), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(20 * time.Second))
	t.Cleanup(func() { c.Close() })
	return c
}

// startBody sends a request's headers with a Content-Length of length and
// the first part of its body, then stalls.
func startBody(t testing.TB, c net.Conn, method, path, token string, length int, part string, headers ...string) {
	t.Helper()
	h := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n", method, path, length)
	if token != "" {
		h += "Authorization: Bearer " + token + "\r\n"
	}
	for i := 0; i+1 < len(headers); i += 2 {
		h += headers[i] + ": " + headers[i+1] + "\r\n"
	}
	if _, err := io.WriteString(c, h+"\r\n"+part); err != nil {
		t.Fatal(err)
	}
}

func readResponse(t *testing.T, c net.Conn) *http.Response {
	t.Helper()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// waitState waits until cond holds for the server's guard counters.
func waitState(t *testing.T, srv *httpapi.Server, what string, cond func(conns, buffered int64, inflight int) bool) {
	t.Helper()
	for i := 0; i < 1000; i++ {
		if cond(httpapi.GuardState(srv)) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	c, b, n := httpapi.GuardState(srv)
	t.Fatalf("waiting for %s: %d connections, %d bytes buffered, %d bodies in flight", what, c, b, n)
}

// TestBodyDeadline: a client that stops sending its body is answered 408
// and disconnected (slow-body connections once stayed open forever).
func TestBodyDeadline(t *testing.T) {
	e := MustServer(t)
	srv := limitedServer(t, e, httpapi.Limits{BodyTimeout: 100 * time.Millisecond}, nil)
	for _, tc := range []struct{ name, path, token string }{
		{"admin route", "/api/v1/environments/production/flags", adminSecret},
		{"unauthenticated", "/api/v1/environments/production/flags", "nope"},
		{"events", "/api/v1/events", e.eval},
		{"ofrep", "/ofrep/v1/evaluate/flags/kill", e.eval},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := rawConn(t, srv)
			startBody(t, c, "POST", tc.path, tc.token, 1000, `{"key":`)
			resp := readResponse(t, c)
			if tc.token == "nope" {
				if resp.StatusCode != http.StatusUnauthorized {
					t.Errorf("status %d, want 401 before the body", resp.StatusCode)
				}
				return
			}
			// OFREP too: the server cut the body, the request was not
			// malformed (it was answered 400 PARSE_ERROR).
			if resp.StatusCode != http.StatusRequestTimeout {
				t.Errorf("status %d, want 408", resp.StatusCode)
			}
		})
	}
	waitState(t, srv, "no bodies in flight", func(_, _ int64, n int) bool { return n == 0 })
}

// TestBodyDeadlineEveryPath: the body deadline holds whatever answers the
// request — the mux's 404, 405 and CORS preflight, a flag stream, the
// dashboard — not only the API's routes. net/http discards a small unread
// body before it answers, so without a deadline a client that stalls its
// body kept the connection (and its MaxConns slot) forever, unanswered.
func TestBodyDeadlineEveryPath(t *testing.T) {
	e := MustServer(t)
	srv := httpapi.NewServer(e.auth, e.flags, e.db, nil)
	srv.Limits = httpapi.Limits{BodyTimeout: 100 * time.Millisecond}
	// The dashboard's stand-in reads its form as package ui does.
	srv.UI = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
		}
	})
	openServer(t, srv)
	for _, tc := range []struct{ name, method, path, token string }{
		{"unknown API path", "POST", "/api/v1/nope", ""},
		{"method not allowed", "PUT", "/healthz", ""},
		{"preflight", "OPTIONS", "/ofrep/v1/evaluate/flags", ""},
		{"stream, bad token", "GET", "/api/v1/environments/production/stream", "nope"},
		{"stream", "GET", "/api/v1/environments/production/stream", e.eval},
		{"dashboard", "POST", "/signin", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := rawConn(t, srv)
			c.SetDeadline(time.Now().Add(5 * time.Second))
			startBody(t, c, tc.method, tc.path, tc.token, 1000, "a=")
			readResponse(t, c)
			if n, err := c.Read(make([]byte, 1)); err == nil {
				t.Errorf("connection read %d bytes after the answer, want it closed", n)
			}
		})
	}
	waitState(t, srv, "no connections, no bodies in flight", func(c, _ int64, n int) bool { return c == 0 && n == 0 })
}

// h2cConn opens one unencrypted HTTP/2 connection to srv, closed at the
// test's end: the requests sent on it share it, whatever a transport's
// pool would choose.
func h2cConn(t *testing.T, ctx context.Context, srv *httpapi.Server) *http.ClientConn {
	t.Helper()
	var protos http.Protocols
	protos.SetUnencryptedHTTP2(true)
	c, err := (&http.Transport{Protocols: &protos}).NewClientConn(ctx, "http", strings.TrimPrefix(srv.URL(), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestDashboardPostsPerConn: the dashboard reads a form post's body before
// it knows the sender (the sign-in has no session yet), so one HTTP/2
// connection may keep only MaxAnonBodiesPerConn of them under way: with
// two stalled, the next post on that connection is answered 503 at once,
// while a page (GET) on it and a post on another connection are served.
// Without the bound each of a connection's 250 streams could keep a form
// post waiting, from anyone.
func TestDashboardPostsPerConn(t *testing.T) {
	e := MustServer(t)
	srv := httpapi.NewServer(e.auth, e.flags, e.db, nil)
	const perConn = 2
	srv.Limits = httpapi.Limits{MaxAnonBodiesPerConn: perConn, BodyTimeout: time.Hour}
	var reading atomic.Int64
	// The dashboard's stand-in reads its form as package ui does.
	srv.UI = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			reading.Add(1)
			defer reading.Add(-1)
		}
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
		}
	})
	openServer(t, srv)
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	h2c := h2cConn(t, ctx, srv)
	send := func(method string, body io.Reader) (*http.Response, error) {
		req, err := http.NewRequestWithContext(ctx, method, srv.URL()+"/signin", body)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return h2c.RoundTrip(req)
	}
	for range perConn {
		r, w := io.Pipe()
		t.Cleanup(func() { w.Close() })
		go func() {
			if resp, err := send("POST", r); err == nil {
				resp.Body.Close()
			}
		}()
		if _, err := io.WriteString(w, "csrf="); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; reading.Load() < perConn; i++ {
		if i == 1000 {
			t.Fatalf("%d posts being read, want %d", reading.Load(), perConn)
		}
		time.Sleep(10 * time.Millisecond)
	}
	resp, err := send("POST", strings.NewReader("csrf=x&token=y"))
	if err != nil {
		t.Fatalf("one post more on the connection: %v, want 503", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("one post more on the connection: %d, want 503 with Retry-After", resp.StatusCode)
	}
	if resp, err := send("GET", nil); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("a page on the connection: %v %v, want 200", resp, err)
	} else {
		resp.Body.Close()
	}
	if resp, _ := doCall(t, srv.URL(), call{method: "POST", path: "/signin", body: "csrf=x", headers: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}}); resp.StatusCode != http.StatusOK {
		t.Errorf("a post on another connection: %d, want 200", resp.StatusCode)
	}
}

// TestHeaderTimeoutTrickled: HeaderTimeout bounds the whole header, not
// the wait for each byte: a client that trickles header lines, each well
// within the timeout, is cut off when the header as a whole is late
// (slowloris), long before it stops trickling.
func TestHeaderTimeoutTrickled(t *testing.T) {
	e := MustServer(t)
	srv := limitedServer(t, e, httpapi.Limits{HeaderTimeout: 300 * time.Millisecond}, nil)
	c := rawConn(t, srv)
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		io.Copy(io.Discard, c) // returns when the server closes the connection
	}()
	io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n")
	for i := 0; ; i++ {
		select {
		case <-closed:
			return
		case <-time.After(50 * time.Millisecond):
		}
		if i == 100 { // 5 s of trickling, 16 times the timeout
			t.Fatal("the server still read a header trickled for 5 s, with HeaderTimeout 300ms")
		}
		if _, err := fmt.Fprintf(c, "X-Trickle-%d: a\r\n", i); err != nil {
			return
		}
	}
}

// TestHeaderLimit: a header or query string beyond MaxHeaderBytes is
// answered 431 before any handler runs, over HTTP/1.1 and HTTP/2 (h2c);
// net/http's default, 1 MiB, let each open connection hold a megabyte
// while its header arrived (100 connections held 107 MiB of heap).
func TestHeaderLimit(t *testing.T) {
	e := MustServer(t)
	h2c := &http.Client{Transport: &http.Transport{Protocols: new(http.Protocols)}}
	h2c.Transport.(*http.Transport).Protocols.SetUnencryptedHTTP2(true)
	big := strings.Repeat("a", 100<<10)
	for _, tc := range []struct {
		name   string
		header map[string]string
		query  string
	}{
		{"header", map[string]string{"X-Big": big}, ""},
		{"query string", nil, "?q=" + big},
		{"many headers", manyHeaders(2000), ""},
	} {
		for _, client := range []struct {
			name string
			c    *http.Client
		}{{"HTTP/1.1", http.DefaultClient}, {"h2c", h2c}} {
			t.Run(tc.name+" "+client.name, func(t *testing.T) {
				req, _ := http.NewRequest("GET", e.srv.URL()+"/healthz"+tc.query, nil)
				for k, v := range tc.header {
					req.Header.Set(k, v)
				}
				resp, err := client.c.Do(req)
				if err != nil {
					// Over HTTP/2 the client may refuse to send a header
					// list over the size the server advertised, or the
					// server ends the connection (GOAWAY) on a header field
					// over it: refused either way, before any handler.
					if client.name == "h2c" && (strings.Contains(err.Error(), "header list") || strings.Contains(err.Error(), "GOAWAY")) {
						return
					}
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
					t.Errorf("status %d, want 431", resp.StatusCode)
				}
			})
		}
	}
	// The limit is a setting: raised, the same request is served.
	srv := limitedServer(t, e, httpapi.Limits{MaxHeaderBytes: 1 << 20}, nil)
	req, _ := http.NewRequest("GET", srv.URL()+"/healthz?q="+big, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("with MaxHeaderBytes 1 MiB: status %d, want 200", resp.StatusCode)
	}
}

func manyHeaders(n int) map[string]string {
	h := map[string]string{}
	for i := 0; i < n; i++ {
		h[fmt.Sprintf("X-H%d", i)] = "0123456789012345678901234567890123456789"
	}
	return h
}

// TestConnectionCap: connections beyond MaxConns are closed at once, so
// idle connections cannot exhaust file descriptors; below the cap the
// server serves again.
func TestConnectionCap(t *testing.T) {
	e := MustServer(t)
	srv := limitedServer(t, e, httpapi.Limits{MaxConns: 3}, nil)
	var held []net.Conn
	for i := 0; i < 3; i++ {
		held = append(held, rawConn(t, srv))
	}
	waitState(t, srv, "3 connections", func(c, _ int64, _ int) bool { return c == 3 })
	extra := rawConn(t, srv)
	if n, err := extra.Read(make([]byte, 1)); err == nil {
		t.Fatalf("connection over the cap read %d bytes, want it closed", n)
	}
	if c, _, _ := httpapi.GuardState(srv); c != 3 {
		t.Errorf("%d connections counted, want 3", c)
	}
	held[0].Close()
	waitState(t, srv, "2 connections", func(c, _ int64, _ int) bool { return c == 2 })
	resp, body := doCall(t, srv.URL(), call{method: "GET", path: "/metrics"})
	if resp.StatusCode != 200 || !strings.Contains(body, "valueloop_http_connections_refused_total 1") {
		t.Errorf("metrics: %d, want 200 counting 1 refused connection:\n%s", resp.StatusCode, valuelooptest.GrepLines(body, "valueloop_http_connections"))
	}
}

// TestShutdownWithStalledClient: a client stalled in its body does not
// hold shutdown: Close returns without error well within its context (it
// once waited the whole grace period and failed).
func TestShutdownWithStalledClient(t *testing.T) {
	e := MustServer(t)
	srv := limitedServer(t, e, httpapi.Limits{BodyTimeout: time.Hour}, nil)
	c := rawConn(t, srv)
	startBody(t, c, "POST", "/api/v1/environments/production/flags", adminSecret, 1000, `{"key":`)
	waitState(t, srv, "the stalled body in flight", func(_, _ int64, n int) bool { return n == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Close(ctx); err != nil {
		t.Fatalf("Close = %v, want nil", err)
	}
	if ctx.Err() != nil {
		t.Errorf("Close used its whole context")
	}
	if resp := readResponse(t, c); resp.StatusCode != http.StatusRequestTimeout {
		t.Errorf("stalled client got %d, want 408", resp.StatusCode)
	}
}

// TestBodyBudget: bodies held by requests at once are bounded for the whole
// server; beyond the budget a request is answered 503 with Retry-After and
// stores nothing, and once the budget is free again the same request works.
func TestBodyBudget(t *testing.T) {
	e := MustServer(t)
	srv := limitedServer(t, e, httpapi.Limits{MaxBufferedBytes: 1 << 20}, nil)
	line := `{"type":"tracking","name":"buy","targetingKey":"u1"}` + "\n"
	big := strings.Repeat(line, (800<<10)/len(line))
	stalled := rawConn(t, srv)
	startBody(t, stalled, "POST", "/api/v1/events", e.eval, len(big)+1000, big, "Content-Type", "application/x-ndjson")
	waitState(t, srv, "800 KiB held", func(_, b int64, _ int) bool { return b >= int64(len(big)) })

	second := strings.Repeat(line, (400<<10)/len(line))
	status, answer := sendEvents(t, srv.URL(), e.eval, "application/x-ndjson", "", []byte(second))
	if status != http.StatusServiceUnavailable || !strings.Contains(answer, "retry") {
		t.Fatalf("over the budget: %d %.300s, want 503", status, answer)
	}
	resp, _ := doCall(t, srv.URL(), call{method: "POST", path: "/api/v1/events", token: e.eval, body: second, headers: map[string]string{"Content-Type": "application/x-ndjson"}})
	if resp.Header.Get("Retry-After") == "" {
		t.Errorf("503 without Retry-After")
	}
	stalled.Close()
	waitState(t, srv, "the budget free", func(_, b int64, _ int) bool { return b == 0 })
	if status, answer := sendEvents(t, srv.URL(), e.eval, "application/x-ndjson", "", []byte(second)); status != 200 {
		t.Errorf("after the budget freed: %d %.300s, want 200", status, answer)
	}
}

// TestHookCheckedBeforeBody: a webhook that no source can accept is refused
// from its headers, before its body arrives.
func TestHookCheckedBeforeBody(t *testing.T) {
	d, svc := mustDeliveryServer(t, nil)
	srv := limitedServer(t, d, httpapi.Limits{MaxHookBodies: 1}, svc)
	if resp, body := d.do(t, call{method: "PUT", path: "/api/v1/delivery/sources/og", token: adminSecret, body: `{"kind":"opsgenie","secret":"opsgenie-secret-for-tests-0123"}`}); resp.StatusCode != 200 {
		t.Fatalf("put source og: %d %s", resp.StatusCode, body)
	}
	for _, tc := range []struct {
		name, path string
		headers    []string
		status     int
	}{
		{"github without signature", "/hooks/github", []string{"X-GitHub-Event", "push"}, 401},
		{"github with a malformed signature", "/hooks/github", []string{"X-GitHub-Event", "push", "X-Hub-Signature-256", "sha256=zz"}, 401},
		{"gitlab with a wrong token", "/hooks/gitlab", []string{"X-Gitlab-Event", "Push Hook", "X-Gitlab-Token", "wrong"}, 401},
		{"opsgenie with a wrong token", "/hooks/opsgenie", []string{opsgenie.TokenHeader, "opsgenie-secret-for-tests-0124"}, 401},
		{"opsgenie without a token", "/hooks/opsgenie", nil, 401},
		{"unknown source", "/hooks/github?source=nope", []string{"X-Hub-Signature-256", "sha256=" + strings.Repeat("0", 64)}, 401},
		{"content length over the limit", "/hooks/github", []string{"X-Hub-Signature-256", "sha256=" + strings.Repeat("0", 64)}, 413},
	} {
		t.Run(tc.name, func(t *testing.T) {
			length := 1000
			if tc.status == 413 {
				length = httpapi.MaxHookBody + 1
			}
			c := rawConn(t, srv)
			startBody(t, c, "POST", tc.path, "", length, "{", tc.headers...)
			if resp := readResponse(t, c); resp.StatusCode != tc.status {
				t.Errorf("status %d, want %d before the body", resp.StatusCode, tc.status)
			}
		})
	}
}

// TestHookBudget: the webhook body bytes not yet verified are bounded
// across deliveries (MaxHookBuffered): a body declared longer than what is
// free is answered 503 with Retry-After before anything is done for it, one
// of unknown length when its bytes pass the budget; a delivery that fits
// is served meanwhile, and the budget is free again once the holder goes.
func TestHookBudget(t *testing.T) {
	d, svc := mustDeliveryServer(t, nil)
	srv := limitedServer(t, d, httpapi.Limits{MaxHookBody: 32 << 10, MaxHookBuffered: 48 << 10, BodyTimeout: time.Hour}, svc)
	forged := []string{"X-GitHub-Event", "push", "X-Hub-Signature-256", "sha256=" + strings.Repeat("0", 64)}
	// 30 KiB of a 32 KiB body, then nothing: 18 KiB of the budget left.
	holder := rawConn(t, srv)
	startBody(t, holder, "POST", "/hooks/github", "", 32<<10, strings.Repeat(" ", 30<<10), forged...)
	waitHookBytes(t, srv, 30<<10)

	declared := rawConn(t, srv)
	startBody(t, declared, "POST", "/hooks/github", "", 20<<10, "{", forged...)
	if resp := readResponse(t, declared); resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("20 KiB declared with 18 KiB free: %d, want 503 with Retry-After", resp.StatusCode)
	}
	chunked := rawConn(t, srv)
	h := "POST /hooks/github HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
	for i := 0; i < len(forged); i += 2 {
		h += forged[i] + ": " + forged[i+1] + "\r\n"
	}
	if _, err := fmt.Fprintf(chunked, "%s\r\n%x\r\n%s\r\n", h, 20<<10, strings.Repeat(" ", 20<<10)); err != nil {
		t.Fatal(err)
	}
	if resp := readResponse(t, chunked); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("20 KiB of unknown length with 18 KiB free: %d, want 503", resp.StatusCode)
	}
	push := readTestdata(t, "github/testdata/push.json")
	if resp, body := doCall(t, srv.URL(), githubCall(push, "push", "beside-the-holder-1")); resp.StatusCode != http.StatusOK {
		t.Errorf("a signed delivery that fits: %d %.300s, want 200", resp.StatusCode, body)
	}
	holder.Close()
	waitHookBytes(t, srv, 0)
	resp, body := doCall(t, srv.URL(), call{method: "POST", path: "/hooks/github", body: strings.Repeat(" ", 20<<10), headers: map[string]string{forged[0]: forged[1], forged[2]: forged[3]}})
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("20 KiB once the budget is free: %d %.300s, want 401 (read, and refused for its signature)", resp.StatusCode, body)
	}
}

// waitHookBytes waits until the server holds n webhook body bytes not yet
// verified.
func waitHookBytes(t testing.TB, srv *httpapi.Server, n int64) {
	t.Helper()
	waitCount(t, "webhook bytes held", func() int64 { return httpapi.HookBytes(srv) }, n)
}

// inUse is the heap and stack memory in use after a collection.
func inUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse + m.StackInuse
}

// waitCount waits up to 20 s until count() is n.
func waitCount(t testing.TB, what string, count func() int64, n int64) {
	t.Helper()
	for range 2000 {
		if count() == n {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%d %s, want %d", count(), what, n)
}

// TestAuthThrottle: failed authentications from one address are limited
// per window; past the limit even a good token is answered 429 with
// Retry-After, and /metrics counts both.
func TestAuthThrottle(t *testing.T) {
	e := MustServer(t)
	srv := limitedServer(t, e, httpapi.Limits{AuthFailures: 3, AuthWindow: time.Hour, ThrottleLoopback: true}, nil)
	for i, want := range []int{401, 401, 401, 429, 429} {
		resp, _ := doCall(t, srv.URL(), call{method: "GET", path: "/api/v1/environments", token: fmt.Sprintf("guess-%d", i)})
		if resp.StatusCode != want {
			t.Errorf("guess %d: %d, want %d", i, resp.StatusCode, want)
		}
	}
	resp, _ := doCall(t, srv.URL(), call{method: "GET", path: "/api/v1/environments", token: adminSecret})
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
		t.Errorf("good token from a throttled address: %d, want 429 with Retry-After", resp.StatusCode)
	}
	_, body := doCall(t, srv.URL(), call{method: "GET", path: "/metrics"})
	for _, want := range []string{"valueloop_auth_failures_total 3", "valueloop_auth_throttled_total 3", "valueloop_auth_failures_limit 3"} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q:\n%s", want, valuelooptest.GrepLines(body, "valueloop_auth"))
		}
	}
}

// sourceReads is a delivery store that counts its reads of the sources.
// While hold is set, a read waits until it is closed (after telling
// entered).
type sourceReads struct {
	delivery.Store
	n       atomic.Int64
	hold    atomic.Pointer[chan struct{}]
	entered chan struct{}
}

func (s *sourceReads) Sources(ctx context.Context) ([]delivery.Source, error) {
	s.n.Add(1)
	if hold := s.hold.Load(); hold != nil {
		s.entered <- struct{}{}
		<-*hold
	}
	return s.Store.Sources(ctx)
}

// TestHookStoreWork: an unauthenticated webhook delivery reads the sources
// once, and only while it holds a MaxHookBodies slot: one whose headers
// fail, or that finds every slot taken, costs the store nothing.
func TestHookStoreWork(t *testing.T) {
	e := MustServer(t)
	store := &sourceReads{Store: e.db, entered: make(chan struct{})}
	svc := delivery.New(store)
	if err := svc.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	const pdSecret, ogSecret = "pagerduty-secret-for-tests-0123", "opsgenie-secret-for-tests-0123"
	ctx := context.Background()
	for _, src := range []delivery.Source{{Name: "pd", Kind: delivery.KindPagerDuty, Secret: []byte(pdSecret)}, {Name: "og", Kind: delivery.KindOpsgenie, Secret: []byte(ogSecret)}} {
		if err := svc.Store.PutSource(ctx, &src, "test"); err != nil {
			t.Fatal(err)
		}
	}
	srv := limitedServer(t, e, httpapi.Limits{MaxHookBodies: 1}, svc)
	triggered, created := readTestdata(t, "pagerduty/testdata/incident.triggered.json"), readTestdata(t, "opsgenie/testdata/create.json")
	wellFormed := "v1=" + strings.Repeat("0", 64)
	for _, tc := range []struct {
		name, path, body string
		headers          map[string]string
		status           int
		reads            int64
	}{
		{"pagerduty signed", "/hooks/pagerduty", triggered, map[string]string{pagerduty.SignatureHeader: pagerduty.Sign([]byte(pdSecret), []byte(triggered))}, 200, 1},
		{"pagerduty wrong signature", "/hooks/pagerduty", triggered, map[string]string{pagerduty.SignatureHeader: wellFormed}, 401, 1},
		{"pagerduty unknown source", "/hooks/pagerduty?source=nope", triggered, map[string]string{pagerduty.SignatureHeader: wellFormed}, 401, 1},
		{"pagerduty without signature", "/hooks/pagerduty", triggered, nil, 401, 0},
		{"pagerduty malformed signature", "/hooks/pagerduty", triggered, map[string]string{pagerduty.SignatureHeader: "v1=zz"}, 401, 0},
		{"opsgenie with its secret", "/hooks/opsgenie", created, map[string]string{opsgenie.TokenHeader: ogSecret}, 200, 1},
		{"opsgenie wrong secret", "/hooks/opsgenie", created, map[string]string{opsgenie.TokenHeader: ogSecret + "x"}, 401, 1},
		{"opsgenie without secret", "/hooks/opsgenie", created, nil, 401, 0},
		{"github without signature", "/hooks/github", "{}", map[string]string{"X-GitHub-Event": "push"}, 401, 0},
		{"gitlab without token", "/hooks/gitlab", "{}", map[string]string{"X-Gitlab-Event": "Push Hook"}, 401, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := store.n.Load()
			resp, body := doCall(t, srv.URL(), call{method: "POST", path: tc.path, body: tc.body, headers: tc.headers})
			if resp.StatusCode != tc.status {
				t.Errorf("status %d %s, want %d", resp.StatusCode, body, tc.status)
			}
			if got := store.n.Load() - before; got != tc.reads {
				t.Errorf("the sources were read %d times, want %d", got, tc.reads)
			}
		})
	}
	// A delivery waits in its read of the sources: it holds the only
	// slot, and the next one is refused without a read of the store.
	hold := make(chan struct{})
	store.hold.Store(&hold)
	first := goCall(t, srv.URL(), call{method: "POST", path: "/hooks/pagerduty", body: triggered, headers: map[string]string{pagerduty.SignatureHeader: wellFormed}})
	select {
	case <-store.entered:
	case r := <-first:
		t.Fatalf("the first hook ended before it read the sources: %d %s %q", r.status, r.body, r.errs)
	}
	store.hold.Store(nil)
	before := store.n.Load()
	resp, body := doCall(t, srv.URL(), call{method: "POST", path: "/hooks/pagerduty", body: triggered, headers: map[string]string{pagerduty.SignatureHeader: wellFormed}})
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("second hook while one is checked: %d %s, want 503 with Retry-After", resp.StatusCode, body)
	}
	if got := store.n.Load() - before; got != 0 {
		t.Errorf("a hook refused for want of a slot read the sources %d times, want 0", got)
	}
	close(hold)
	if r := <-first; r.errs != nil {
		t.Errorf("the held hook: %q", r.errs)
	} else if r.status != http.StatusUnauthorized {
		t.Errorf("the held hook: %d, want 401 (its signature is wrong)", r.status)
	}
}

// TestOFREPBodyLimits: an OFREP body over 64 KiB (GENERAL) and a context
// nested too deep (INVALID_CONTEXT) are answered 400, the one failure
// status whose body OFREP providers pass on, naming the problem, single
// and bulk.
func TestOFREPBodyLimits(t *testing.T) {
	e := MustServer(t)
	big := `{"context":{"targetingKey":"` + strings.Repeat("x", 64<<10) + `"}}`
	deep := `{"context":{"targetingKey":"u","a":` + strings.Repeat("[", 300) + strings.Repeat("]", 300) + `}}`
	for _, path := range []string{"/ofrep/v1/evaluate/flags/kill", "/ofrep/v1/evaluate/flags"} {
		for _, tc := range []struct {
			name, body string
			status     int
			want       string
		}{
			{"too large", big, http.StatusBadRequest, `"errorCode":"GENERAL","errorDetails":"request body larger than 65536 bytes"`},
			{"too deep", deep, http.StatusBadRequest, `"errorCode":"INVALID_CONTEXT","errorDetails":"context nested more than 200 levels deep"`},
		} {
			resp, body := e.do(t, call{method: "POST", path: path, token: e.eval, body: tc.body})
			if resp.StatusCode != tc.status || !strings.Contains(body, tc.want) {
				t.Errorf("%s %s: %d %s, want %d with %q", path, tc.name, resp.StatusCode, body, tc.status, tc.want)
			}
		}
	}
}

// trickle sends on c the headers of a GitHub delivery with a well-formed
// signature that no source will verify, and its body a byte at a time,
// every interval, until the test ends: a client holding on to whatever
// the server gives a webhook body while it arrives.
func trickle(t *testing.T, c net.Conn, every time.Duration) {
	t.Helper()
	startBody(t, c, "POST", "/hooks/github", "", 1<<20, "{", "X-GitHub-Event", "push", "X-Hub-Signature-256", "sha256="+strings.Repeat("0", 64))
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	go func() {
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if _, err := io.WriteString(c, " "); err != nil {
					return
				}
			}
		}
	}()
}

// BenchmarkWaitingDelivery is what one webhook delivery waiting for its
// body costs the server (docs/security.md quotes it): 1,000 connections
// each send a signed GitHub delivery's header and the first byte of its
// body over HTTP/1.1, and stall; the heap and stacks in use grow by
// KiB/waiting each (both ends of the connections, in this process).
//
//	go test ./httpapi -run '^$' -bench WaitingDelivery -benchtime 3x
func BenchmarkWaitingDelivery(b *testing.B) {
	const n = 1000
	d, svc := mustDeliveryServer(b, nil)
	// Slots for all: the burst of store checks is not what is measured.
	srv := limitedServer(b, d, httpapi.Limits{BodyTimeout: time.Hour, MaxHookBodies: n}, svc)
	for b.Loop() {
		before := inUse()
		conns := make([]net.Conn, n)
		for i := range conns {
			conns[i] = rawConn(b, srv)
			startBody(b, conns[i], "POST", "/hooks/github", "", 1<<20, "{", "X-GitHub-Event", "push", "X-Hub-Signature-256", "sha256="+strings.Repeat("0", 64))
		}
		waitHookBytes(b, srv, n)
		b.ReportMetric(float64(inUse()-before)/n/1024, "KiB/waiting")
		for _, c := range conns {
			c.Close()
		}
		waitHookBytes(b, srv, 0)
	}
}

// TestHookTricklersHoldNoSlot: MaxHookBodies clients trickling webhook
// bodies do not shut out a real delivery. Each once held one of the
// MaxHookBodies slots until its body deadline, and reconnected: a few
// idle connections answered every real webhook 503.
func TestHookTricklersHoldNoSlot(t *testing.T) {
	d, svc := mustDeliveryServer(t, nil)
	const slots = 4
	srv := limitedServer(t, d, httpapi.Limits{MaxHookBodies: slots, BodyTimeout: time.Hour}, svc)
	for range slots {
		trickle(t, rawConn(t, srv), 50*time.Millisecond)
	}
	// Each trickler's first byte has been read: it is past every check
	// made before its body, and waiting for the rest.
	waitState(t, srv, "the tricklers reading", func(_, b int64, n int) bool { return n == slots && b >= slots })
	push := readTestdata(t, "github/testdata/push.json")
	resp, body := doCall(t, srv.URL(), githubCall(push, "push", "past-tricklers-1"))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("a signed delivery while %d clients trickle bodies: %d %.300s, want 200", slots, resp.StatusCode, body)
	}
	if n := deliveryCount(t, d); n != 1 {
		t.Errorf("%d deliveries stored, want 1", n)
	}
}

// TestH2CHalfFrame: an HTTP/2 connection in cleartext whose client stops
// in the middle of a frame is closed within twice the header timeout. It
// was held for the idle timeout (120 s): the half frame opens no stream,
// and nothing else watched the connection.
func TestH2CHalfFrame(t *testing.T) {
	e := MustServer(t)
	srv := limitedServer(t, e, httpapi.Limits{HeaderTimeout: 100 * time.Millisecond}, nil)
	c := rawConn(t, srv) // gives up after 20 s
	var b []byte
	b = append(b, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"...)
	b = append(b, 0, 0, 0, 0x4, 0, 0, 0, 0, 0)              // SETTINGS, empty
	b = append(b, 0, 0, 100, 0x1, 0x4, 0, 0, 0, 1)          // HEADERS of 100 bytes on stream 1 …
	b = append(b, 0x82, 0x86, 0x84, 0x41, 0x8a, 0x08, 0x9d) // … of which 7 are sent
	if _, err := c.Write(b); err != nil {
		t.Fatal(err)
	}
	// The server's frames (SETTINGS, its PING) are read until it closes.
	if _, err := io.Copy(io.Discard, c); err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("the connection with a half frame was not closed: %v", err)
	}
}

// TestHookBodiesPerConn: one HTTP/2 connection may keep only
// MaxAnonBodiesPerConn webhook deliveries waiting for their body; the next
// is answered 503 at once, and other connections are served. Without the
// bound its 250 streams could each keep one waiting, on every connection.
func TestHookBodiesPerConn(t *testing.T) {
	d, svc := mustDeliveryServer(t, nil)
	const perConn = 2
	srv := limitedServer(t, d, httpapi.Limits{MaxAnonBodiesPerConn: perConn, BodyTimeout: time.Hour}, svc)
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	h2c := h2cConn(t, ctx, srv)
	send := func(body io.Reader) (*http.Response, error) {
		req, err := http.NewRequestWithContext(ctx, "POST", srv.URL()+"/hooks/github", body)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-GitHub-Event", "push")
		req.Header.Set("X-Hub-Signature-256", "sha256="+strings.Repeat("0", 64))
		return h2c.RoundTrip(req)
	}
	for range perConn {
		r, w := io.Pipe()
		t.Cleanup(func() { w.Close() })
		go send(r)
		if _, err := io.WriteString(w, "{"); err != nil {
			t.Fatal(err)
		}
	}
	waitHookBytes(t, srv, perConn)
	resp, err := send(strings.NewReader("{}"))
	if err != nil {
		t.Fatalf("one delivery more on the connection: %v, want 503 at once", err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 2 || resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("one delivery more on the connection: HTTP/%d %d, want HTTP/2 503 with Retry-After", resp.ProtoMajor, resp.StatusCode)
	}
	// The refusal resets its stream alone: the connection and its other
	// requests go on (a "Connection: close" would have made the server
	// end the connection, as it must for HTTP/1.1).
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL()+"/api/v1/environments", nil)
	req.Header.Set("Authorization", "Bearer "+adminSecret)
	if resp, err := h2c.RoundTrip(req); err != nil || resp.StatusCode != 200 {
		t.Errorf("a request on the connection after the refusal: %v %v, want 200", resp, err)
	} else {
		resp.Body.Close()
	}
	push := readTestdata(t, "github/testdata/push.json")
	if resp, body := doCall(t, srv.URL(), githubCall(push, "push", "another-conn-1")); resp.StatusCode != http.StatusOK {
		t.Errorf("a signed delivery on another connection: %d %.300s, want 200", resp.StatusCode, body)
	}
}

// TestAuthThrottleCrossOrigin: an address past Limits.AuthFailures is
// answered 429 on the browser routes too, whatever Origin it sends and
// wherever the token goes (bearer or OFREP's X-API-Key). The CORS check
// looked the token up before the handler's throttle: a live client token
// sent from an origin it does not allow was answered 403, an unknown one
// 429, so a throttled address could still tell client tokens from guesses.
func TestAuthThrottleCrossOrigin(t *testing.T) {
	e := MustServer(t)
	client, err := e.auth.Create(context.Background(), &valueloop.Token{Name: "shop", Scope: valueloop.ScopeEvaluate,
		Environment: "production", Client: true, Origins: []string{"https://shop.example"}}, "", "test")
	if err != nil {
		t.Fatal(err)
	}
	srv := limitedServer(t, e, httpapi.Limits{AuthFailures: 3, AuthWindow: time.Hour, ThrottleLoopback: true}, nil)
	const path = "/ofrep/v1/evaluate/flags/kill"
	body := `{"context":{"targetingKey":"u1"}}`
	for i, want := range []int{401, 401, 401, 429} {
		resp, _ := doCall(t, srv.URL(), call{method: "POST", path: path, body: body,
			headers: map[string]string{httpapi.APIKeyHeader: fmt.Sprintf("vl_eval_guess%d", i), "Origin": "https://evil.example"}})
		if resp.StatusCode != want {
			t.Errorf("X-API-Key guess %d: %d, want %d", i, resp.StatusCode, want)
		}
	}
	for _, tc := range []struct{ name, origin string }{{"another origin", "https://evil.example"}, {"its origin", "https://shop.example"}} {
		for _, h := range []map[string]string{{"Authorization": "Bearer " + client}, {httpapi.APIKeyHeader: client}} {
			h["Origin"] = tc.origin
			if resp, got := doCall(t, srv.URL(), call{method: "POST", path: path, body: body, headers: h}); resp.StatusCode != 429 {
				t.Errorf("live client token from %s (%v): %d %s, want 429", tc.name, h, resp.StatusCode, got)
			} else if tc.origin == "https://shop.example" && (resp.Header.Get("Access-Control-Allow-Origin") == "" || resp.Header.Get("Retry-After") == "") {
				t.Errorf("429 to an allowed origin: headers %v, want Access-Control-Allow-Origin and Retry-After", resp.Header)
			}
		}
	}
	// Each refused request is counted as throttled once: the guess past
	// the limit and the four above.
	if _, got := doCall(t, srv.URL(), call{method: "GET", path: "/metrics"}); !strings.Contains(got, "valueloop_auth_throttled_total 5\n") {
		t.Errorf("metrics: %s; want valueloop_auth_throttled_total 5", valuelooptest.GrepLines(got, "valueloop_auth"))
	}
}
