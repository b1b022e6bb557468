// Package valuelooptest holds what the tests of any package share: a
// check of what the domain package valueloop promises of errors (a refusal
// of bad input is an EINVALID *valueloop.Error naming the field), the
// reading of a JSON test file (golden values a script made, a document),
// and the lines of a long text that matter to a failure message.
package valuelooptest

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/valueloop/valueloop"
)

// WantFieldError asserts that err is an EINVALID *valueloop.Error naming
// field.
func WantFieldError(tb testing.TB, err error, field string) {
	tb.Helper()
	var e *valueloop.Error
	if !errors.As(err, &e) {
		tb.Fatalf("error = %v, want a *valueloop.Error for %s", err, field)
	}
	if e.Code != valueloop.EINVALID || e.Field != field {
		tb.Errorf("error = %v (code %q, field %q), want code %q, field %q", err, e.Code, e.Field, valueloop.EINVALID, field)
	}
}

// ReadJSON returns the JSON file at path decoded into a T, failing the test
// when it cannot be read or decoded.
func ReadJSON[T any](tb testing.TB, path string) T {
	tb.Helper()
	var v T
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	if err := json.Unmarshal(b, &v); err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	return v
}

// GrepLines returns the lines of s that contain sub, for a failure message
// that shows the part of a long page or response that matters.
func GrepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
