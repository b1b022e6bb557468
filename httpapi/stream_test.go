package httpapi_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/httpapi"
	"github.com/valueloop/valueloop/valuelooptest"
)

// openStream opens the production flag stream with token and returns a
// channel of its events (heartbeats left out), closed when the stream ends.
func openStream(t *testing.T, base, token string) <-chan string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/api/v1/environments/production/stream", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("stream: %d", resp.StatusCode)
	}
	return sseEvents(resp)
}

// sseEvents reads resp's Server-Sent Events into a channel (heartbeats
// left out), closed when the stream ends.
func sseEvents(resp *http.Response) <-chan string {
	events := make(chan string, 100)
	go func() {
		defer close(events)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<24)
		var ev strings.Builder
		for sc.Scan() {
			line := sc.Text()
			if line == "" {
				if ev.Len() > 0 {
					events <- ev.String()
				}
				ev.Reset()
				continue
			}
			if !strings.HasPrefix(line, ":") {
				ev.WriteString(line + "\n")
			}
		}
	}()
	return events
}

// next returns the stream's next event, "" when it ended.
func next(t *testing.T, events <-chan string) string {
	t.Helper()
	select {
	case ev := <-events:
		return ev
	case <-time.After(15 * time.Second):
		t.Fatal("no event and the stream did not end")
		return ""
	}
}

// TestStreamEndsOnRevoke: revoking a token ends the streams opened with it
// (they once kept delivering flag sets, new flags included); streams of
// other tokens go on.
func TestStreamEndsOnRevoke(t *testing.T) {
	e := MustServer(t)
	ctx := context.Background()
	secret, err := e.auth.Create(ctx, &valueloop.Token{Name: "sdk", Scope: valueloop.ScopeEvaluate, Environment: "production"}, "", "test")
	if err != nil {
		t.Fatal(err)
	}
	tokens, _ := e.auth.List(ctx)
	var id int64
	for _, tk := range tokens {
		if tk.Name == "sdk" {
			id = tk.ID
		}
	}
	revoked, kept := openStream(t, e.srv.URL(), secret), openStream(t, e.srv.URL(), e.eval)
	for _, s := range []<-chan string{revoked, kept} {
		if ev := next(t, s); !strings.HasPrefix(ev, "id: 1\n") {
			t.Fatalf("first event: %q", ev)
		}
	}
	if resp, body := e.do(t, call{method: "DELETE", path: "/api/v1/tokens/" + strconv.FormatInt(id, 10), token: adminSecret}); resp.StatusCode/100 != 2 {
		t.Fatalf("revoke: %d %s", resp.StatusCode, body)
	}
	e.do(t, call{method: "POST", path: "/api/v1/environments/production/flags/kill/disable", token: adminSecret})
	if ev := next(t, revoked); ev != "" {
		t.Errorf("the revoked token's stream delivered %q, want it ended", ev)
	}
	if ev := next(t, kept); !strings.HasPrefix(ev, "id: 2\n") {
		t.Errorf("another token's stream: %q, want the change", ev)
	}
	_, body := e.do(t, call{method: "GET", path: "/metrics"})
	if !strings.Contains(body, "valueloop_stream_revoked_total 1") {
		t.Errorf("metrics:\n%s", valuelooptest.GrepLines(body, "valueloop_stream"))
	}
}

// TestStreamsShareOneEncoding: the flag set event is encoded once per
// change and shared by every stream (each stream once kept its own copy of
// the set: 1.45 GB for 500 streams of a 1.68 MB set).
func TestStreamsShareOneEncoding(t *testing.T) {
	e := MustServer(t)
	var streams []<-chan string
	for i := 0; i < 5; i++ {
		s := openStream(t, e.srv.URL(), e.eval)
		if ev := next(t, s); !strings.HasPrefix(ev, "id: 1\n") {
			t.Fatalf("first event: %q", ev)
		}
		streams = append(streams, s)
	}
	e.do(t, call{method: "POST", path: "/api/v1/environments/production/flags/kill/disable", token: adminSecret})
	for _, s := range streams {
		if ev := next(t, s); !strings.HasPrefix(ev, "id: 2\n") {
			t.Fatalf("after the change: %q", ev)
		}
	}
	if got := httpapi.StreamEncodes(e.srv); got != 2 {
		t.Errorf("%d encodings for 5 streams and 2 versions, want 2", got)
	}
}

// TestSlowStreamReaderDropped: a stream client that does not read is
// dropped once a flag set cannot be written to it in time, and counted.
func TestSlowStreamReaderDropped(t *testing.T) {
	e := MustServer(t)
	srv := limitedServer(t, e, httpapi.Limits{StreamWriteTimeout: 50 * time.Millisecond}, nil)
	c := rawConn(t, srv)
	if _, err := io.WriteString(c, "GET /api/v1/environments/production/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "+e.eval+"\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	// The client reads nothing; each change sends a set of about 1 MB
	// until the connection's buffers are full.
	big := strings.Repeat("x", 1<<20)
	for i := 0; i < 64; i++ {
		body := `{"state":"ENABLED","variants":{"a":"` + big + `","b":"` + strconv.Itoa(i) + `"},"defaultVariant":"a"}`
		if resp, b := e.do(t, call{method: "PUT", path: "/api/v1/environments/production/flags/big", token: adminSecret, body: body}); resp.StatusCode/100 != 2 {
			t.Fatalf("put: %d %.200s", resp.StatusCode, b)
		}
		_, metrics := doCall(t, srv.URL(), call{method: "GET", path: "/metrics"})
		if strings.Contains(metrics, "valueloop_stream_dropped_total 1") {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("the stream that reads nothing was not dropped after 64 MB of sets")
}
