package main

import (
	"bytes"
	"compress/gzip"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestClientTokensAndCORS: a client token created through the CLI works from
// its allowed origins in the browser's terms (preflight, CORS headers on the
// answer, ETag readable) and can do nothing but evaluate and send events;
// server and admin tokens and admin routes get no CORS headers.
func TestClientTokensAndCORS(t *testing.T) {
	srv := MustServe(t, "", "--demo")
	const shop, evil = "https://shop.example", "https://evil.example"
	client := srv.mustToken(t, "--env", "production", "--client", "--origin", "https://Shop.Example:443", "--name", "web")
	server := srv.mustToken(t, "--env", "production", "--scope", "evaluate", "--name", "api")
	if !strings.HasPrefix(client, "vl_client_") {
		t.Errorf("client token %q: want the vl_client_ prefix", client)
	}
	if code, _, stderr := srv.cli(t, srv.Admin, "token", "create", "--env", "production", "--origin", shop); code != exitUsage || !strings.Contains(stderr, "--client") {
		t.Errorf("--origin without --client: exit %d, %q; want a usage error naming --client", code, stderr)
	}
	if code, _, stderr := srv.cli(t, srv.Admin, "token", "create", "--env", "production", "--client", "--origin", "https://*.example"); code != exitInvalid || !strings.Contains(stderr, "--origin https://*.example") {
		t.Errorf("wildcard origin: exit %d, %q; want invalid --origin https://*.example", code, stderr)
	}
	// 'token create' alone makes an evaluate token, which needs an
	// environment: the refusal names the flag that gives it, not the
	// API's field ("environment: an evaluate token must be bound ...").
	for _, args := range [][]string{{}, {"--client"}} {
		code, _, stderr := srv.cli(t, srv.Admin, append([]string{"token", "create"}, args...)...)
		if code != exitInvalid || !strings.Contains(stderr, "--env") {
			t.Errorf("token create %v without --env: exit %d, %q; want invalid naming --env", args, code, stderr)
		}
	}

	// token list shows the kind, the origins and whether exposures are recorded.
	code, list, _ := srv.cli(t, srv.Admin, "token", "list")
	if code != 0 || !regexp.MustCompile(`web\s+evaluate\s+production\s+client\s+https://shop\.example\s+recorded`).MatchString(list) ||
		!regexp.MustCompile(`api\s+evaluate\s+production\s+server\s+-\s+recorded`).MatchString(list) {
		t.Errorf("token list:\n%s\nwant web as a client token of https://shop.example and api as a server token", list)
	}

	checkPreflights(t, srv, shop, evil)
	checkCORSRequests(t, srv, client, server, shop, evil)
	checkClientScope(t, srv, client, shop)
}

// checkPreflights: OPTIONS of the browser routes from an origin a client
// token allows gets 204 with the CORS headers; any other origin, method or
// route gets none.
func checkPreflights(t *testing.T, srv *testServer, shop, evil string) {
	single := srv.URL + "/ofrep/v1/evaluate/flags/checkout-flow"
	bulk := srv.URL + "/ofrep/v1/evaluate/flags"
	preflight := func(url, origin, method string) map[string]string {
		return map[string]string{"Origin": origin, "Access-Control-Request-Method": method,
			"Access-Control-Request-Headers": "authorization,content-type,if-none-match,traceparent,tracestate,baggage"}
	}
	for _, tc := range []struct {
		name, url, origin, method string
		status                    int
		allowOrigin               string
	}{
		{"single from the allowed origin", single, shop, "POST", 204, shop},
		{"bulk from the allowed origin", bulk, shop, "POST", 204, shop},
		{"events from the allowed origin", srv.URL + "/api/v1/events", shop, "POST", 204, shop},
		{"configuration", srv.URL + "/ofrep/v1/configuration", shop, "GET", 204, shop},
		{"another origin", single, evil, "POST", 403, ""},
		{"a method the route does not take", single, shop, "DELETE", 403, ""},
		{"admin route", srv.URL + "/api/v1/tokens", shop, "GET", 405, ""},
	} {
		t.Run("preflight "+tc.name, func(t *testing.T) {
			resp, body := request(t, "OPTIONS", tc.url, "", preflight(tc.url, tc.origin, tc.method))
			h := resp.Header
			if resp.StatusCode != tc.status || h.Get("Access-Control-Allow-Origin") != tc.allowOrigin {
				t.Fatalf("status %d, Allow-Origin %q (%s); want %d, %q", resp.StatusCode, h.Get("Access-Control-Allow-Origin"), body, tc.status, tc.allowOrigin)
			}
			if tc.status != 204 {
				if h.Get("Access-Control-Allow-Methods") != "" || h.Get("Access-Control-Allow-Headers") != "" {
					t.Errorf("refused preflight carries CORS headers: %v", h)
				}
				return
			}
			if h.Get("Access-Control-Allow-Credentials") != "" {
				t.Error("Access-Control-Allow-Credentials must not be sent: tokens are bearer headers, not cookies")
			}
			// A page traced with OpenTelemetry sends W3C trace context,
			// which the server reads (docs/operations.md#tracing): refused,
			// the browser would block the evaluation itself.
			for _, want := range []string{"Authorization", "Content-Type", "If-None-Match", "traceparent", "tracestate", "baggage"} {
				if !strings.Contains(h.Get("Access-Control-Allow-Headers"), want) {
					t.Errorf("Allow-Headers %q lacks %s", h.Get("Access-Control-Allow-Headers"), want)
				}
			}
			if !strings.Contains(h.Get("Access-Control-Allow-Methods"), tc.method) {
				t.Errorf("Allow-Methods %q lacks %s", h.Get("Access-Control-Allow-Methods"), tc.method)
			}
			if age, err := strconv.Atoi(h.Get("Access-Control-Max-Age")); err != nil || age < 600 {
				t.Errorf("Max-Age %q, want at least 600 seconds", h.Get("Access-Control-Max-Age"))
			}
			if !strings.Contains(h.Get("Vary"), "Origin") {
				t.Errorf("Vary %q, want Origin", h.Get("Vary"))
			}
		})
	}

}

// checkCORSRequests: only a client token from one of its origins gets CORS
// headers on the answer (ETag readable); from another origin it is refused.
func checkCORSRequests(t *testing.T, srv *testServer, client, server, shop, evil string) {
	single := srv.URL + "/ofrep/v1/evaluate/flags/checkout-flow"
	bulk := srv.URL + "/ofrep/v1/evaluate/flags"
	for _, tc := range []struct {
		name, url, token, origin string
		status                   int
		allowOrigin              string
	}{
		{"client token from its origin", bulk, client, shop, 200, shop},
		{"client token from another origin", bulk, client, evil, 403, ""},
		{"client token without Origin (an app, curl)", bulk, client, "", 200, ""},
		{"server token from a page", bulk, server, shop, 200, ""},
		{"admin token from a page", bulk, srv.Admin, shop, 400, ""}, // no environment header; no CORS either way
		{"no token from an allowed origin", bulk, "", shop, 401, shop},
		{"no token from another origin", bulk, "", evil, 401, ""},
		{"single flag", single, client, shop, 200, shop},
	} {
		t.Run("request "+tc.name, func(t *testing.T) {
			h := map[string]string{"Content-Type": "application/json"}
			if tc.origin != "" {
				h["Origin"] = tc.origin
			}
			if tc.token != "" {
				h["Authorization"] = "Bearer " + tc.token
			}
			resp, body := request(t, "POST", tc.url, `{"context":{"targetingKey":"u1"}}`, h)
			if resp.StatusCode != tc.status || resp.Header.Get("Access-Control-Allow-Origin") != tc.allowOrigin {
				t.Fatalf("status %d, Allow-Origin %q (%s); want %d, %q", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"), body, tc.status, tc.allowOrigin)
			}
			if tc.allowOrigin != "" && tc.status == 200 && !strings.Contains(resp.Header.Get("Access-Control-Expose-Headers"), "ETag") {
				t.Errorf("Expose-Headers %q: the page must be able to read ETag", resp.Header.Get("Access-Control-Expose-Headers"))
			}
		})
	}

}

// checkClientScope: a client token is public; it evaluates and sends events,
// nothing else.
func checkClientScope(t *testing.T, srv *testServer, client, shop string) {
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
	}{
		{"events", "POST", "/api/v1/events", `[{"type":"tracking","id":"c1","name":"signup","targetingKey":"u1","time":"2026-06-01T10:00:00Z"}]`, 200},
		{"flag definitions stream", "GET", "/api/v1/environments/production/stream", "", 403},
		{"admin: list flags", "GET", "/api/v1/environments/production/flags", "", 403},
		{"admin: create a token", "POST", "/api/v1/tokens", `{"name":"x","scope":"evaluate","environment":"production"}`, 403},
	} {
		t.Run("client token "+tc.name, func(t *testing.T) {
			resp, body := request(t, tc.method, srv.URL+tc.path, tc.body, map[string]string{
				"Authorization": "Bearer " + client, "Content-Type": "application/json", "Origin": shop})
			if resp.StatusCode != tc.status {
				t.Errorf("status %d (%s), want %d", resp.StatusCode, body, tc.status)
			}
			if strings.HasPrefix(tc.name, "admin") && resp.Header.Get("Access-Control-Allow-Origin") != "" {
				t.Errorf("admin route answered with CORS headers: %v", resp.Header)
			}
		})
	}
}

// TestNoExposuresToken: evaluations with a --no-exposures token, or a
// viewer token (which changes nothing: its evaluations once put whoever it
// evaluated for into experiments), record no exposure; the default token's
// do. Observed through /metrics: the quiet evaluations go first, the
// recorded one fences them.
func TestNoExposuresToken(t *testing.T) {
	srv := MustServe(t, "", "--demo")
	quiet := srv.mustToken(t, "--env", "production", "--no-exposures", "--name", "qa")
	viewer := srv.mustToken(t, "--scope", "viewer", "--env", "production", "--name", "pm")
	loud := srv.mustToken(t, "--env", "production", "--name", "app")
	code, list, _ := srv.cli(t, srv.Admin, "token", "list")
	if code != 0 || !regexp.MustCompile(`qa\s+evaluate\s+production\s+server\s+-\s+off`).MatchString(list) {
		t.Errorf("token list:\n%s\nwant qa with exposures off", list)
	}
	recorded := func() int { return exposuresRecorded(t, srv) }
	base := recorded()
	url := srv.URL + "/ofrep/v1/evaluate/flags/new-onboarding"
	for i := range 20 {
		for _, token := range []string{quiet, viewer} {
			if resp, body := post(t, url, token, `{"context":{"targetingKey":"qa-user-`+strconv.Itoa(i)+`"}}`); resp.StatusCode != 200 {
				t.Fatalf("quiet evaluation: %d %s", resp.StatusCode, body)
			}
		}
	}
	if resp, body := post(t, url, loud, `{"context":{"targetingKey":"real-user"}}`); resp.StatusCode != 200 {
		t.Fatalf("evaluation: %d %s", resp.StatusCode, body)
	}
	waitUntil(t, "the recorded exposure arrives", 10*time.Second, func() bool { return recorded() > base })
	if got := recorded(); got != base+1 {
		t.Errorf("exposures recorded: %d more, want 1 (the 40 evaluations of the --no-exposures and viewer tokens must record none)", got-base)
	}
}

// exposuresRecorded reads valueloop_exposures_recorded_total from /metrics.
func exposuresRecorded(t *testing.T, srv *testServer) int {
	t.Helper()
	resp, body := request(t, "GET", srv.URL+"/metrics", "", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics: %d", resp.StatusCode)
	}
	m := regexp.MustCompile(`(?m)^valueloop_exposures_recorded_total (\d+)`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("/metrics has no valueloop_exposures_recorded_total:\n%.2000s", body)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// TestCORSGzipEvents: a page may send its events gzipped, as the server
// accepts them: the events route's preflight allows Content-Encoding. The
// evaluation routes, which take no compressed body, do not.
func TestCORSGzipEvents(t *testing.T) {
	srv := MustServe(t, "", "--demo")
	const shop = "https://shop.example"
	client := srv.mustToken(t, "--env", "production", "--client", "--origin", shop, "--name", "web")
	for _, tc := range []struct {
		path string
		gzip bool
	}{
		{"/api/v1/events", true},
		{"/ofrep/v1/evaluate/flags", false},
		{"/ofrep/v1/evaluate/flags/checkout-flow", false},
	} {
		t.Run(tc.path, func(t *testing.T) {
			resp, body := request(t, "OPTIONS", srv.URL+tc.path, "", map[string]string{"Origin": shop,
				"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization,content-encoding,content-type"})
			if resp.StatusCode != 204 {
				t.Fatalf("preflight: %d %s, want 204", resp.StatusCode, body)
			}
			allowed := strings.Contains(strings.ToLower(resp.Header.Get("Access-Control-Allow-Headers")), "content-encoding")
			if allowed != tc.gzip {
				t.Errorf("Access-Control-Allow-Headers %q: Content-Encoding allowed %v, want %v", resp.Header.Get("Access-Control-Allow-Headers"), allowed, tc.gzip)
			}
		})
	}
	// The post the preflight lets through: stored, and readable by the page.
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(`[{"type":"tracking","name":"page_view","targetingKey":"u1"}]`))
	zw.Close()
	resp, body := request(t, "POST", srv.URL+"/api/v1/events", gz.String(), map[string]string{"Origin": shop,
		"Authorization": "Bearer " + client, "Content-Type": "application/json", "Content-Encoding": "gzip"})
	if resp.StatusCode != 200 || !strings.Contains(body, `"stored": 1,`) || resp.Header.Get("Access-Control-Allow-Origin") != shop {
		t.Errorf("gzipped events from the page: %d, Allow-Origin %q, %s; want 200, %s, one stored", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"), body, shop)
	}
}
