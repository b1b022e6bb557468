package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/flags"
	"github.com/valueloop/valueloop/httpapi"
	"github.com/valueloop/valueloop/sqlite"
)

// bulkStreams evaluates every flag with token (and headers) and returns
// the answer's ETag, its eventStreams and the flags' reasons by key.
func bulkStreams(t *testing.T, e *env, token, query string, headers map[string]string) (etag string, streams []map[string]any, reasons map[string]string) {
	t.Helper()
	resp, body := e.do(t, call{method: "POST", path: "/ofrep/v1/evaluate/flags" + query, token: token,
		body: `{"context":{"targetingKey":"u1"}}`, headers: headers})
	if resp.StatusCode != 200 {
		t.Fatalf("bulk: %d %s", resp.StatusCode, body)
	}
	var out struct {
		Flags []struct {
			Key    string `json:"key"`
			Reason string `json:"reason"`
		} `json:"flags"`
		EventStreams []map[string]any `json:"eventStreams"`
	}
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		t.Fatal(err)
	}
	reasons = map[string]string{}
	for _, f := range out.Flags {
		reasons[f.Key] = f.Reason
	}
	return resp.Header.Get("ETag"), out.EventStreams, reasons
}

// ofrepStreamURI is the requestUri of the one "sse" event stream of a bulk
// answer, in the shape OFREP 0.3.0 (ADR-0008) gives it.
func ofrepStreamURI(t *testing.T, streams []map[string]any) string {
	t.Helper()
	if len(streams) != 1 || streams[0]["type"] != "sse" || len(streams[0]) != 2 {
		t.Fatalf("eventStreams = %v, want one {type: sse, endpoint}", streams)
	}
	ep, _ := streams[0]["endpoint"].(map[string]any)
	uri, _ := ep["requestUri"].(string)
	if len(ep) != 1 || !strings.HasPrefix(uri, "/ofrep/v1/stream?") {
		t.Fatalf("endpoint = %v, want {requestUri: /ofrep/v1/stream?...}", ep)
	}
	return uri
}

// openOFREPStream opens uri (a requestUri) without any header, as a
// browser's EventSource does, and returns its status and, when 200, its
// events (heartbeats left out).
func openOFREPStream(t *testing.T, e *env, uri, lastID string, headers map[string]string) (*http.Response, <-chan string) {
	t.Helper()
	return openOFREPStreamVia(t, http.DefaultClient, e, uri, lastID, headers)
}

// openOFREPStreamVia is openOFREPStream through client c (one from another
// address, say). The stream is closed at the test's end.
func openOFREPStreamVia(t *testing.T, c *http.Client, e *env, uri, lastID string, headers map[string]string) (*http.Response, <-chan string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", e.srv.URL()+uri, nil)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		checkResponse(t, "GET", uri, resp, string(body))
		return resp, nil
	}
	checkResponse(t, "GET", uri, resp, "")
	return resp, sseEvents(resp)
}

func refetchEvent(version int64) string {
	v := strconv.FormatInt(version, 10)
	return "id: " + v + "\nevent: message\ndata: {\"type\":\"refetchEvaluation\",\"etag\":\"" + v + "\"}\n"
}

// TestOFREPEventStreams: a bulk answer announces the caller's change
// notification stream (OFREP 0.3.0 eventStreams), whose URL carries no
// secret and opens without headers; it sends refetchEvaluation (etag: the
// version) at once and after each change, resumes by Last-Event-ID, and
// the fetch it triggers (flagConfigEtag, flagConfigLastModified in the
// query) answers the new flags, or 304 for an ETag of them.
func TestOFREPEventStreams(t *testing.T) {
	e := MustServer(t)
	etag, streams, reasons := bulkStreams(t, e, e.eval, "", nil)
	uri := ofrepStreamURI(t, streams)
	if strings.Contains(uri, e.eval) {
		t.Fatalf("stream URL %q carries the token", uri)
	}
	if reasons["kill"] != "STATIC" {
		t.Fatalf("kill: %s before the change", reasons["kill"])
	}
	v := e.flags.Live("production").Version
	resp, events := openOFREPStream(t, e, uri, "", nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if ev := next(t, events); ev != refetchEvent(v) {
		t.Fatalf("first event:\n%s\nwant\n%s", ev, refetchEvent(v))
	}
	e.do(t, call{method: "POST", path: "/api/v1/environments/production/flags/kill/disable", token: adminSecret})
	if ev := next(t, events); ev != refetchEvent(v+1) {
		t.Fatalf("after a change:\n%s\nwant\n%s", ev, refetchEvent(v+1))
	}
	triggered := "?flagConfigEtag=" + strconv.FormatInt(v+1, 10) + "&flagConfigLastModified=1771622898"
	newETag, again, reasons := bulkStreams(t, e, e.eval, triggered, map[string]string{"If-None-Match": etag})
	if reasons["kill"] != "DISABLED" || newETag == etag || ofrepStreamURI(t, again) != uri {
		t.Errorf("triggered fetch: kill %s, ETag %s (was %s), stream %v", reasons["kill"], newETag, etag, again)
	}
	resp, body := e.do(t, call{method: "POST", path: "/ofrep/v1/evaluate/flags" + triggered, token: e.eval,
		body: `{"context":{"targetingKey":"u1"}}`, headers: map[string]string{"If-None-Match": newETag}})
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("triggered fetch with the current ETag: %d %s, want 304", resp.StatusCode, body)
	}
	// Resumed at the current version: nothing until the next change.
	_, resumed := openOFREPStream(t, e, uri, strconv.FormatInt(v+1, 10), nil)
	e.do(t, call{method: "POST", path: "/api/v1/environments/production/flags/kill/enable", token: adminSecret})
	if ev := next(t, resumed); ev != refetchEvent(v+2) {
		t.Errorf("resumed stream's first event:\n%s\nwant\n%s", ev, refetchEvent(v+2))
	}
	// Another token's answer announces its own stream, so its ETag differs
	// for the same flags and context.
	other := mustEvalToken(t, e.auth)
	otherETag, otherStreams, _ := bulkStreams(t, e, other, "", nil)
	current, _, _ := bulkStreams(t, e, e.eval, "", nil)
	if ofrepStreamURI(t, otherStreams) == uri || otherETag == current {
		t.Errorf("another token: stream %v, ETag %s; first token's ETag %s", otherStreams, otherETag, current)
	}
}

// TestOFREPStreamRefusals: the stream takes a ticket of a live token, and
// nothing else; it follows the environment of the token, or for an unbound
// (admin) token the one named, which its announced stream names.
func TestOFREPStreamRefusals(t *testing.T) {
	e := MustServer(t)
	_, streams, _ := bulkStreams(t, e, e.eval, "", nil)
	uri := ofrepStreamURI(t, streams)
	ticket := mustQuery(t, uri).Get("ticket")
	_, adminStreams, _ := bulkStreams(t, e, adminSecret, "", map[string]string{httpapi.EnvironmentHeader: "production"})
	adminURI := ofrepStreamURI(t, adminStreams)
	adminTicket := mustQuery(t, adminURI).Get("ticket")
	for _, c := range []struct {
		name, uri string
		status    int
	}{
		{"no ticket", "/ofrep/v1/stream?environment=production", 401},
		{"the token itself as ticket", "/ofrep/v1/stream?environment=production&ticket=" + url.QueryEscape(e.eval), 401},
		// As for evaluations, a bound token's environment is its own.
		{"bound token, another environment named", "/ofrep/v1/stream?environment=staging&ticket=" + ticket, 200},
		{"unbound token, no environment", "/ofrep/v1/stream?ticket=" + adminTicket, 400},
		{"bound token, no environment", "/ofrep/v1/stream?ticket=" + ticket, 200},
		{"unbound token", adminURI, 200},
		{"unbound token, no such environment", "/ofrep/v1/stream?environment=nowhere&ticket=" + adminTicket, 404},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, _ := openOFREPStream(t, e, c.uri, "", nil)
			if resp.StatusCode != c.status {
				t.Errorf("%s: %d, want %d", c.uri, resp.StatusCode, c.status)
			}
		})
	}
}

// mustQuery is the query of uri.
func mustQuery(t *testing.T, uri string) url.Values {
	t.Helper()
	u, err := url.Parse(uri)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}

// TestOFREPStreamEndsOnRevoke: revoking the token ends the streams opened
// with its ticket, and the ticket opens no other.
func TestOFREPStreamEndsOnRevoke(t *testing.T) {
	e := MustServer(t)
	ctx := context.Background()
	tok := &valueloop.Token{Name: "browser", Scope: valueloop.ScopeEvaluate, Environment: "production", Client: true}
	secret, err := e.auth.Create(ctx, tok, "", "test")
	if err != nil {
		t.Fatal(err)
	}
	_, streams, _ := bulkStreams(t, e, secret, "", nil)
	uri := ofrepStreamURI(t, streams)
	_, events := openOFREPStream(t, e, uri, "", nil)
	next(t, events)
	if err := e.auth.Revoke(ctx, tok.ID, "test"); err != nil {
		t.Fatal(err)
	}
	for ev := next(t, events); ev != ""; ev = next(t, events) {
		if strings.Contains(ev, "refetchEvaluation") {
			t.Fatalf("revoked stream sent %s", ev)
		}
	}
	if resp, _ := openOFREPStream(t, e, uri, "", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("revoked token's ticket: %d, want 401", resp.StatusCode)
	}
}

// TestOFREPStreamCORS: a page of a client token's origin may open its
// stream (EventSource is a CORS request); another origin is refused.
func TestOFREPStreamCORS(t *testing.T) {
	e := MustServer(t)
	secret, err := e.auth.Create(context.Background(), &valueloop.Token{Name: "browser", Scope: valueloop.ScopeEvaluate,
		Environment: "production", Client: true, Origins: []string{"https://shop.example"}}, "", "test")
	if err != nil {
		t.Fatal(err)
	}
	_, streams, _ := bulkStreams(t, e, secret, "", map[string]string{"Origin": "https://shop.example"})
	uri := ofrepStreamURI(t, streams)
	resp, _ := openOFREPStream(t, e, uri, "", map[string]string{"Origin": "https://shop.example"})
	if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "https://shop.example" {
		t.Errorf("allowed origin: %d, Access-Control-Allow-Origin %q", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
	}
	resp, _ = openOFREPStream(t, e, uri, "", map[string]string{"Origin": "https://evil.example"})
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("another origin: %d, Access-Control-Allow-Origin %q", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
	}
}

// TestOFREPStreamCapPerClient: the OFREP stream counts against
// MaxStreamsPerClient with the other flag streams.
func TestOFREPStreamCapPerClient(t *testing.T) {
	e := mustServer(t, func(srv *httpapi.Server, _ *sqlite.DB) {
		srv.Limits = httpapi.Limits{MaxStreams: 8, MaxStreamsPerClient: 2, LimitLoopback: true}
	})
	_, streams, _ := bulkStreams(t, e, e.eval, "", nil)
	uri := ofrepStreamURI(t, streams)
	a := clientFrom(t, 1)
	if code := openSSEVia(t, a, e.srv.URL(), e.eval); code != http.StatusOK {
		t.Fatalf("flag stream: %d", code)
	}
	open := func() int {
		resp, _ := openOFREPStreamVia(t, a, e, uri, "", nil)
		return resp.StatusCode
	}
	if code := open(); code != http.StatusOK {
		t.Fatalf("OFREP stream, the address's second: %d, want 200", code)
	}
	if code := open(); code != http.StatusTooManyRequests {
		t.Errorf("OFREP stream, the address's third: %d, want 429", code)
	}
}

// TestOFREPFetchAwaitsNotifiedVersion: a fetch triggered by the
// notification of a version the node has not loaded yet (the stream and the
// fetch may reach different nodes) answers that version's flags once it
// lands, not the older ones (kill disabled). The race is forced: another
// node (a second flags service on the same store) makes the change, and
// this node loads it only once the fetch waits for it (OnAwait); a fetch
// that does not wait answers at once, with kill still enabled.
func TestOFREPFetchAwaitsNotifiedVersion(t *testing.T) {
	waiting := make(chan struct{}, 1)
	e := mustServer(t, func(srv *httpapi.Server, _ *sqlite.DB) {
		httpapi.OnAwait(srv, func() { waiting <- struct{}{} })
	})
	ctx := context.Background()
	peer := flags.NewService(e.db, nil)
	if err := peer.Load(ctx); err != nil {
		t.Fatal(err)
	}
	v, err := peer.SetState(ctx, "production", "kill", "DISABLED", -1, "test", "")
	if err != nil {
		t.Fatal(err)
	}
	if live := e.flags.Live("production"); live.Version >= v {
		t.Fatalf("this node already has version %d of the peer's change (%d)", live.Version, v)
	}
	done := goCall(t, e.srv.URL(), call{method: "POST", token: e.eval, body: `{"context":{"targetingKey":"u1"}}`,
		path: "/ofrep/v1/evaluate/flags?flagConfigEtag=" + strconv.FormatInt(v, 10)})
	var r callResult
	select {
	case <-waiting:
		if err := e.flags.Load(ctx); err != nil {
			t.Fatal(err)
		}
		r = <-done
	case r = <-done: // answered without waiting: kill still enabled
	}
	if r.errs != nil || r.status != 200 || !strings.Contains(r.body, `{"key":"kill","reason":"DISABLED"}`) {
		t.Errorf("fetch of version %d: %d %s %v, want kill DISABLED", v, r.status, r.body, r.errs)
	}
}

// TestOFREPStreamTicketGuessesThrottled: wrong tickets count as failed
// authentications, so an address guessing them is throttled (429), even
// with a right one, as for tokens.
func TestOFREPStreamTicketGuessesThrottled(t *testing.T) {
	e := mustServer(t, func(srv *httpapi.Server, _ *sqlite.DB) {
		srv.Limits = httpapi.Limits{AuthFailures: 3, AuthWindow: time.Hour, ThrottleLoopback: true}
	})
	_, streams, _ := bulkStreams(t, e, e.eval, "", nil)
	uri := ofrepStreamURI(t, streams)
	for i := range 3 {
		if resp, _ := openOFREPStream(t, e, "/ofrep/v1/stream?ticket=guess"+strconv.Itoa(i), "", nil); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d, want 401", i, resp.StatusCode)
		}
	}
	if resp, _ := openOFREPStream(t, e, uri, "", nil); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("the right ticket after 3 guesses: %d, want 429", resp.StatusCode)
	}
}
