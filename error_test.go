package valueloop_test

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

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

// Clip keeps a value of 64 bytes whole and cuts a longer one at 64 bytes,
// dropping a rune the cut splits, so that the message stays valid UTF-8.
func TestClip(t *testing.T) {
	s64 := strings.Repeat("a", 64)
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{s64, s64},
		{s64 + "b", s64 + "…"},
		{strings.Repeat("a", 63) + "é" + "tail", strings.Repeat("a", 63) + "…"},
	} {
		got := valueloop.Clip(c.in)
		if got != c.want || !utf8.ValidString(got) {
			t.Errorf("Clip(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
