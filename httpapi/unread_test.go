package httpapi_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/valueloop/valueloop/httpapi"
	"github.com/valueloop/valueloop/sqlite"
)

// TestAnsweredUnread: over HTTP/1.1 any answer written while the
// request's body was declared and not read to its end — the mux's 404 and
// 405, a GET route sent with a body, a flagd call refused for its
// declared length — goes out at once with Connection: close, and the
// server closes the connection after it, while the client has sent only
// the first bytes of its body. The guard wraps every body in its own
// reader, so net/http could not tell the body was unread and read up to
// 256 KiB more of it before writing the answer: a client trickling its
// body got the answer, and freed the request's goroutine, only at
// body-timeout (here an hour; the connection's deadline, 20 s, fails the
// test first). The OFREP routes had this since TestOFREPRefusedUnread,
// through a hook of their own.
func TestAnsweredUnread(t *testing.T) {
	e := mustServer(t, func(srv *httpapi.Server, _ *sqlite.DB) {
		srv.Limits = httpapi.Limits{BodyTimeout: time.Hour}
		withFlagd(srv, 0)
	})
	for _, tc := range []struct {
		name, method, path, token string
		length, status            int
		headers                   []string
	}{
		{"404", "POST", "/api/v1/nowhere", "", 100, http.StatusNotFound, nil},
		{"405", "PATCH", "/api/v1/environments", "", 100, http.StatusMethodNotAllowed, nil},
		{"GET with a body", "GET", "/healthz", "", 100, http.StatusOK, nil},
		{"flagd, declared too long", "POST", "/flagd.evaluation.v1.Service/ResolveBoolean", e.eval, 1 << 20,
			http.StatusTooManyRequests, []string{"Connect-Protocol-Version", "1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := rawConn(t, e.srv)
			startBody(t, c, tc.method, tc.path, tc.token, tc.length, "{", tc.headers...)
			resp := readResponse(t, c)
			if resp.StatusCode != tc.status || !resp.Close {
				t.Errorf("status %d, Connection: close %v; want %d and the connection not kept for another request", resp.StatusCode, resp.Close, tc.status)
			}
			// The server does not wait for the rest either: it closes.
			if n, err := c.Read(make([]byte, 1)); err != io.EOF {
				t.Errorf("after the answer: %d bytes, %v; want the connection closed (EOF)", n, err)
			}
		})
	}
}

// TestAnsweredReadKeptAlive: an answer to a request whose body was read
// whole keeps its connection, as before.
func TestAnsweredReadKeptAlive(t *testing.T) {
	e := MustServer(t)
	c := rawConn(t, e.srv)
	body := `{"context":{"targetingKey":"u"}}`
	for i := range 2 {
		startBody(t, c, "POST", "/ofrep/v1/evaluate/flags/kill", e.eval, len(body), body)
		if resp := readResponse(t, c); resp.StatusCode != http.StatusOK || resp.Close || strings.Contains(resp.Header.Get("Connection"), "close") {
			t.Fatalf("request %d: status %d, Connection: close %v; want 200 on a connection kept", i, resp.StatusCode, resp.Close)
		}
	}
}
