package valueloop_test

import (
	"errors"
	"testing"

	"github.com/valueloop/valueloop"
)

func TestPrefixField(t *testing.T) {
	inner := valueloop.FieldErrorf("key", "is required")
	err := valueloop.PrefixField("features[2].", inner)
	var e *valueloop.Error
	if !errors.As(err, &e) || e.Field != "features[2].key" || e.Message != "is required" || e.Code != valueloop.EINVALID {
		t.Errorf("PrefixField = %#v, want field features[2].key", err)
	}
	if inner.Field != "key" {
		t.Errorf("PrefixField changed the error it was given: field %q", inner.Field)
	}
	for _, other := range []error{nil, errors.New("disk full"), valueloop.Errorf(valueloop.ECONFLICT, "taken")} {
		if got := valueloop.PrefixField("x.", other); got != other {
			t.Errorf("PrefixField(%v) = %v, want it unchanged", other, got)
		}
	}
}
