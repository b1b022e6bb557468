package valueloop_test

import (
	"fmt"
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

// TestCheckControlBidi: a bidirectional embedding, override or isolate
// reorders what a terminal shows after it, and unicode.IsControl does not
// count them (they are formats): every text checked refuses them naming
// the field; the marks that right-to-left text needs stay, and a reason
// the program composed is fitted rather than refused.
func TestCheckControlBidi(t *testing.T) {
	for _, r := range []rune{0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2066, 0x2067, 0x2068, 0x2069} {
		s := "ab" + string(r) + "cd"
		for name, check := range map[string]func(string, string) error{
			"CheckLine": valueloop.CheckLine, "CheckReason": valueloop.CheckReason,
			"CheckControl": func(f, s string) error {
				return valueloop.CheckControl(f, s, true, 100, func(r rune) bool { return r != '\n' })
			},
		} {
			err := check("title", s)
			if want := fmt.Sprintf("title: must not hold bidirectional control character %U at byte 3", r); valueloop.ErrorCode(err) != valueloop.EINVALID || !strings.Contains(valueloop.ErrorMessage(err), want) {
				t.Errorf("%s(%+q) = %v, want %q", name, s, err, want)
			}
		}
		if got := valueloop.FitReason(s); got != "ab cd" {
			t.Errorf("FitReason(%+q) = %+q, want \"ab cd\"", s, got)
		}
	}
	for _, s := range []string{"\u05e9\u05dc\u05d5\u05dd \u200fok", "a\u200eb", "\u061c"} {
		if err := valueloop.CheckLine("title", s); err != nil {
			t.Errorf("CheckLine(%+q) = %v, want it accepted", s, err)
		}
	}
}

func TestListFirst(t *testing.T) {
	for _, tc := range []struct {
		items []string
		want  string
	}{
		{nil, ""},
		{[]string{"a", "b", "c"}, "a, b, c"},
		{[]string{"a", "b", "c", "d", "e"}, "a, b, c and 2 more"},
	} {
		if got := valueloop.ListFirst(tc.items, 3); got != tc.want {
			t.Errorf("ListFirst(%q, 3) = %q, want %q", tc.items, got, tc.want)
		}
	}
}
