package ui

import "testing"

// TestCount: the templates' counts are singular for one, whatever the
// integer type a field has, and refuse what is not an integer.
func TestCount(t *testing.T) {
	one := int64(1)
	for _, tc := range []struct {
		n    any
		noun string
		want string
	}{
		{1, "flag", "1 flag"}, {0, "flag", "0 flags"}, {&one, "more user", "1 more user"},
		{int64(12345), "user", "12,345 users"}, {uint64(1), "day", "1 day"},
	} {
		if got, err := count(tc.n, tc.noun); err != nil || got != tc.want {
			t.Errorf("count(%v, %q) = %q, %v; want %q", tc.n, tc.noun, got, err, tc.want)
		}
	}
	if got, err := count("3", "user"); err == nil {
		t.Errorf("count(\"3\") = %q, want an error", got)
	}
}
