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
