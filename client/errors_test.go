package client

import (
	"errors"
	"testing"

	"github.com/valueloop/valueloop"
)

// The server's problem details come back as the error kinds they were made
// from.
func TestDecodeProblem(t *testing.T) {
	for _, c := range []struct {
		name, body    string
		status        int
		code, field   string
		message       string
		validationLen int
	}{
		{"field error", `{"type":"urn:valueloop:problem:invalid","title":"Bad Request","status":400,"detail":"name: is required","code":"invalid","errors":[{"field":"name","message":"is required"}]}`,
			400, valueloop.EINVALID, "name", "is required", 0},
		{"no field", `{"type":"urn:valueloop:problem:not_found","title":"Not Found","status":404,"detail":"flag \"x\" not found"}`,
			404, valueloop.ENOTFOUND, "", `flag "x" not found`, 0},
		{"definition problems", `{"type":"urn:valueloop:problem:invalid","title":"Bad Request","status":400,"detail":"…","code":"invalid","errors":[{"field":"/flags/a/state","message":"bad","flag":"a"},{"field":"/flags/b","message":"worse","flag":"b"}]}`,
			400, valueloop.EINVALID, "", "", 2},
		{"not a problem", `<html>bad gateway</html>`, 502, valueloop.EINTERNAL, "", "server answered 502 Bad Gateway", 0},
		// Statuses without a problem body (a proxy's, or a limit hit before
		// the handler) come back as the kinds the server maps to them.
		{"timeout", ``, 408, valueloop.ETIMEOUT, "", "server answered 408 Request Timeout", 0},
		{"unsupported", `{}`, 415, valueloop.EUNSUPPORTED, "", "server answered 415 Unsupported Media Type", 0},
		{"too many", `slow down`, 429, valueloop.ETOOMANY, "", "server answered 429 Too Many Requests", 0},
		{"unavailable", ``, 503, valueloop.EUNAVAILABLE, "", "server answered 503 Service Unavailable", 0},
		{"problem without a code", `{"type":"about:blank","status":429}`, 429, valueloop.ETOOMANY, "", "", 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := decodeError(c.status, []byte(c.body))
			if got := valueloop.ErrorCode(err); got != c.code {
				t.Errorf("code %q, want %q (%v)", got, c.code, err)
			}
			var ve *valueloop.ValidationError
			if c.validationLen > 0 {
				if !errors.As(err, &ve) || len(ve.Problems) != c.validationLen || ve.Problems[0].Flag != "a" || ve.Problems[0].Path != "/flags/a/state" {
					t.Errorf("got %#v, want a validation error with %d problems", err, c.validationLen)
				}
				return
			}
			var e *valueloop.Error
			if !errors.As(err, &e) || e.Field != c.field || e.Message != c.message {
				t.Errorf("got %#v, want field %q message %q", err, c.field, c.message)
			}
		})
	}
}
