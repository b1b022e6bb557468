// Package valuelooptest checks, for the tests of any package, what the
// domain package valueloop promises of errors: a refusal of bad input is an
// EINVALID *valueloop.Error naming the field.
package valuelooptest

import (
	"errors"
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
