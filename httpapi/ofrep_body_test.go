package httpapi_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/valueloop/valueloop/httpapi"
	"github.com/valueloop/valueloop/ofrep"
)

// TestOFREPBodyLimit: a body of ofrep.MaxBodyBytes is evaluated, one byte
// more is answered 400 GENERAL saying so (the body is padded with spaces,
// which JSON allows; not 413, whose body OFREP providers do not read),
// in the shape of the route's failures (and of openapi.json: the bulk
// route's has no key). Sent chunked, its length not declared, the limit is
// the read's: a declared length over it is refused from the header before
// the read, so without these cases nothing tested the read's limit.
func TestOFREPBodyLimit(t *testing.T) {
	e := MustServer(t)
	ctx := `{"context":{"targetingKey":"user-1"}}`
	const single, bulk = "/ofrep/v1/evaluate/flags/kill", "/ofrep/v1/evaluate/flags"
	for _, tc := range []struct {
		name, path string
		size       int
		status     int
		want       string
		chunked    bool
	}{
		{"at the limit", single, ofrep.MaxBodyBytes, 200, `"variant":"on"`, false},
		{"a byte over", single, ofrep.MaxBodyBytes + 1, 400, `{"key":"kill","errorCode":"GENERAL"`, false},
		{"far over", single, 4 * ofrep.MaxBodyBytes, 400, "request body larger than 65536 bytes", false},
		{"bulk, a byte over", bulk, ofrep.MaxBodyBytes + 1, 400, `{"errorCode":"GENERAL"`, false},
		{"chunked, at the limit", single, ofrep.MaxBodyBytes, 200, `"variant":"on"`, true},
		{"chunked, a byte over", single, ofrep.MaxBodyBytes + 1, 400, `{"key":"kill","errorCode":"GENERAL"`, true},
		{"chunked, bulk, far over", bulk, 4 * ofrep.MaxBodyBytes, 400, `{"errorCode":"GENERAL","errorDetails":"request body larger than 65536 bytes"`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := ctx + strings.Repeat(" ", tc.size-len(ctx))
			if !tc.chunked {
				resp, answer := e.do(t, call{method: "POST", path: tc.path, token: e.eval, body: body})
				if resp.StatusCode != tc.status || !strings.Contains(answer, tc.want) {
					t.Errorf("status %d, answer %.200s; want %d with %s", resp.StatusCode, answer, tc.status, tc.want)
				}
				return
			}
			req, err := http.NewRequest("POST", e.srv.URL()+tc.path, strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			req.ContentLength, req.TransferEncoding = -1, []string{"chunked"}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+e.eval)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			checkResponse(t, "POST", tc.path, resp, string(b))
			if resp.StatusCode != tc.status || !strings.Contains(string(b), tc.want) {
				t.Errorf("status %d, answer %.200s; want %d with %s", resp.StatusCode, b, tc.status, tc.want)
			}
			// Refused with the rest of its body unread: not kept for
			// another request (TestOFREPRefusedUnread). A byte over may
			// have been read to its end with that byte (the chunked end
			// came with it), and may keep its connection: either is right.
			unread := tc.size > ofrep.MaxBodyBytes+1
			if resp.Close != unread && (tc.status == http.StatusOK || unread) {
				t.Errorf("status %d, Connection: close %v", resp.StatusCode, resp.Close)
			}
		})
	}
}

// TestOFREPRefusedUnread: over HTTP/1.1 an OFREP request refused before
// its body was read whole — its token unknown or missing, its declared
// length over ofrep.MaxBodyBytes — is answered at once, its connection
// not kept for another request, while its body stalls. OFREP answers its own errors, and
// net/http read up to 256 KiB of the rest before writing them: a client
// sending a byte a second got its 401 or its refusal only at body-timeout,
// holding its request and connection that long.
func TestOFREPRefusedUnread(t *testing.T) {
	e := MustServer(t)
	srv := limitedServer(t, e, httpapi.Limits{BodyTimeout: time.Hour}, nil)
	for _, tc := range []struct {
		name, path, token string
		length, status    int
	}{
		{"unknown token", "/ofrep/v1/evaluate/flags", "vl_eval_unknown", 100, http.StatusUnauthorized},
		{"no token", "/ofrep/v1/evaluate/flags/kill", "", 100, http.StatusUnauthorized},
		{"declared too long, bulk", "/ofrep/v1/evaluate/flags", e.eval, ofrep.MaxBodyBytes + 1, http.StatusBadRequest},
		{"declared too long, one flag", "/ofrep/v1/evaluate/flags/kill", e.eval, 1 << 20, http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := rawConn(t, srv)
			startBody(t, c, "POST", tc.path, tc.token, tc.length, "{")
			if resp := readResponse(t, c); resp.StatusCode != tc.status || !resp.Close {
				t.Errorf("status %d, Connection: close %v; want %d and the connection not kept for another request", resp.StatusCode, resp.Close, tc.status)
			}
		})
	}
}

// TestOFREPRefusedKeepsHTTP2: over HTTP/2 an OFREP request refused before
// its body was read (its token unknown, its declared length over
// ofrep.MaxBodyBytes) leaves its connection to the requests after it.
// Connection: close is not HTTP/2's (RFC 9113 8.2.2): net/http's server
// takes it for a shutdown of the whole connection (GOAWAY), so answering
// a refusal with it would end every other stream a client has open there.
func TestOFREPRefusedKeepsHTTP2(t *testing.T) {
	e := MustServer(t)
	srv := limitedServer(t, e, httpapi.Limits{BodyTimeout: time.Hour}, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	h2c := h2cConn(t, ctx, srv)
	const path = "/ofrep/v1/evaluate/flags/kill"
	send := func(token string, length int64) *http.Response {
		t.Helper()
		// A pipe: the body never comes, as a stalling client's.
		r, w := io.Pipe()
		t.Cleanup(func() { w.Close() })
		var body io.Reader = r
		if length < 0 {
			body = strings.NewReader(`{"context":{"targetingKey":"user-1"}}`)
			length = int64(body.(*strings.Reader).Len())
		}
		req, err := http.NewRequestWithContext(ctx, "POST", srv.URL()+path, body)
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = length
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := h2c.RoundTrip(req)
		if err != nil {
			t.Fatalf("on the connection: %v", err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	for _, tc := range []struct {
		name, token string
		length      int64
		status      int
	}{
		{"unknown token", "vl_eval_unknown", 100, http.StatusUnauthorized},
		{"declared too long", e.eval, 1 << 20, http.StatusBadRequest},
	} {
		if resp := send(tc.token, tc.length); resp.ProtoMajor != 2 || resp.StatusCode != tc.status {
			t.Errorf("%s: HTTP/%d %d, want HTTP/2 %d", tc.name, resp.ProtoMajor, resp.StatusCode, tc.status)
		}
		if resp := send(e.eval, -1); resp.StatusCode != http.StatusOK {
			t.Errorf("after %s, an evaluation on the connection: %d, want 200", tc.name, resp.StatusCode)
		}
	}
}
