package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/valueloop/valueloop/httpapi"
	"github.com/valueloop/valueloop/ofrep"
)

// TestOFREPBodyLimit: a body of ofrep.MaxBodyBytes is evaluated, one byte
// more is answered 413 (the body is padded with spaces, which JSON allows),
// in the shape of the route's failures (and of openapi.json: the bulk
// route's has no key).
func TestOFREPBodyLimit(t *testing.T) {
	e := MustServer(t)
	ctx := `{"context":{"targetingKey":"user-1"}}`
	const single, bulk = "/ofrep/v1/evaluate/flags/kill", "/ofrep/v1/evaluate/flags"
	for _, tc := range []struct {
		name, path string
		size       int
		status     int
		want       string
	}{
		{"at the limit", single, ofrep.MaxBodyBytes, 200, `"variant":"on"`},
		{"a byte over", single, ofrep.MaxBodyBytes + 1, 413, `{"key":"kill","errorCode":"GENERAL"`},
		{"far over", single, 4 * ofrep.MaxBodyBytes, 413, "request body larger than 65536 bytes"},
		{"bulk, a byte over", bulk, ofrep.MaxBodyBytes + 1, 413, `{"errorCode":"GENERAL"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := ctx + strings.Repeat(" ", tc.size-len(ctx))
			resp, answer := e.do(t, call{method: "POST", path: tc.path, token: e.eval, body: body})
			if resp.StatusCode != tc.status || !strings.Contains(answer, tc.want) {
				t.Errorf("status %d, answer %.200s; want %d with %s", resp.StatusCode, answer, tc.status, tc.want)
			}
		})
	}
}

// TestOFREPRefusedUnread: over HTTP/1.1 an OFREP request refused before
// its body was read whole — its token unknown or missing, its declared
// length over ofrep.MaxBodyBytes — is answered at once, its connection
// not kept for another request, while its body stalls. OFREP answers its own errors, and
// net/http read up to 256 KiB of the rest before writing them: a client
// sending a byte a second got its 401 or 413 only at body-timeout,
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
		{"declared too long, bulk", "/ofrep/v1/evaluate/flags", e.eval, ofrep.MaxBodyBytes + 1, http.StatusRequestEntityTooLarge},
		{"declared too long, one flag", "/ofrep/v1/evaluate/flags/kill", e.eval, 1 << 20, http.StatusRequestEntityTooLarge},
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
