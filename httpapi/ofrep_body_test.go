package httpapi_test

import (
	"strings"
	"testing"

	"github.com/valueloop/valueloop/ofrep"
)

// TestOFREPBodyLimit: a body of ofrep.MaxBodyBytes is evaluated, one byte
// more is answered 413 (the body is padded with spaces, which JSON allows).
func TestOFREPBodyLimit(t *testing.T) {
	e := MustServer(t)
	ctx := `{"context":{"targetingKey":"user-1"}}`
	for _, tc := range []struct {
		name   string
		size   int
		status int
		want   string
	}{
		{"at the limit", ofrep.MaxBodyBytes, 200, `"variant":"on"`},
		{"a byte over", ofrep.MaxBodyBytes + 1, 413, `"errorCode":"GENERAL"`},
		{"far over", 4 * ofrep.MaxBodyBytes, 413, "request body larger than 65536 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := ctx + strings.Repeat(" ", tc.size-len(ctx))
			resp, answer := e.do(t, call{method: "POST", path: "/ofrep/v1/evaluate/flags/kill", token: e.eval, body: body})
			if resp.StatusCode != tc.status || !strings.Contains(answer, tc.want) {
				t.Errorf("status %d, answer %.200s; want %d with %s", resp.StatusCode, answer, tc.status, tc.want)
			}
		})
	}
}
