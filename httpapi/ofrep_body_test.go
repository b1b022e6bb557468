package httpapi_test

import (
	"strings"
	"testing"

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
