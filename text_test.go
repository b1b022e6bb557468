package valueloop_test

import (
	"strings"
	"testing"

	"github.com/valueloop/valueloop"
)

// TestReasonLimit: a reason a person gives is refused past MaxReason
// bytes, naming the field; one the program composed is fitted to what
// CheckReason accepts rather than refused.
func TestReasonLimit(t *testing.T) {
	if err := valueloop.CheckReason("reason", strings.Repeat("x", valueloop.MaxReason)); err != nil {
		t.Errorf("a reason of MaxReason bytes: %v", err)
	}
	err := valueloop.CheckReason("reason", strings.Repeat("x", valueloop.MaxReason+1))
	if valueloop.ErrorCode(err) != valueloop.EINVALID || !strings.Contains(valueloop.ErrorMessage(err), "reason: must be at most 1000 bytes long, got 1001") {
		t.Errorf("a reason of MaxReason+1 bytes: %v", err)
	}
	for _, s := range []string{"", "fine", "two\nlines\x1b[2J", strings.Repeat("é", valueloop.MaxReason)} {
		got := valueloop.FitReason(s)
		if err := valueloop.CheckReason("reason", got); err != nil {
			t.Errorf("FitReason(%.20q…) = %.20q…, refused: %v", s, got, err)
		}
		if len(s) <= valueloop.MaxReason && len(got) != len(s) {
			t.Errorf("FitReason(%.20q…) changed the length of a reason that fits: %d → %d", s, len(s), len(got))
		}
	}
}
