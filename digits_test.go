package valueloop_test

import (
	"math"
	"testing"

	"github.com/valueloop/valueloop"
)

func TestGroupDigits(t *testing.T) {
	for n, want := range map[int64]string{
		0: "0", 7: "7", 999: "999", 1000: "1,000", 175134: "175,134", 1234567: "1,234,567",
		-123: "-123", -1234: "-1,234", -123456: "-123,456",
		math.MaxInt64: "9,223,372,036,854,775,807", math.MinInt64: "-9,223,372,036,854,775,808",
	} {
		if got := valueloop.GroupDigits(n); got != want {
			t.Errorf("GroupDigits(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestCount(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		noun string
		want string
	}{
		{0, "user", "0 users"}, {1, "user", "1 user"}, {2, "user", "2 users"},
		{1, "more user", "1 more user"}, {12345, "more user", "12,345 more users"}, {1, "day", "1 day"},
	} {
		if got := valueloop.Count(tc.n, tc.noun); got != tc.want {
			t.Errorf("Count(%d, %q) = %q, want %q", tc.n, tc.noun, got, tc.want)
		}
	}
}
