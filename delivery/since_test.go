package delivery_test

import (
	"strings"
	"testing"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/delivery"
)

// TestParseSince: a span is read in days, weeks or Go's units, and a
// refused one says why: a span of nothing or beyond a hundred years was
// answered with the same "want a duration such as 30d", which 100000d is.
func TestParseSince(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		err  string // "" for accepted
	}{
		{"90d", 90 * 24 * time.Hour, ""},
		{"12w", 84 * 24 * time.Hour, ""},
		{"36h", 36 * time.Hour, ""},
		{"36600d", 36600 * 24 * time.Hour, ""},
		{"ninety", 0, `want a duration such as 30d, 12w, 36h or 90m, not "ninety"`},
		{"0d", 0, `must be longer than nothing, not "0d"`},
		{"-5h", 0, `must be longer than nothing, not "-5h"`},
		{"36601d", 0, `must be at most 36600d (100 years), not "36601d"`},
		{"100000d", 0, `must be at most 36600d (100 years), not "100000d"`},
		{"5229w", 0, `must be at most 36600d (100 years), not "5229w"`},
		{"900000h", 0, `must be at most 36600d (100 years), not "900000h"`},
		{"99999999999999999999d", 0, `must be at most 36600d (100 years)`},
	} {
		d, err := delivery.ParseSince(tc.in)
		msg := valueloop.ErrorMessage(err)
		switch {
		case tc.err == "" && (err != nil || d != tc.want):
			t.Errorf("ParseSince(%q) = %v, %v; want %v", tc.in, d, err, tc.want)
		case tc.err != "" && (err == nil || !strings.Contains(msg, tc.err) || !strings.HasPrefix(msg, "since: ")):
			t.Errorf("ParseSince(%q) = %v, %v; want an error naming since with %q", tc.in, d, err, tc.err)
		}
	}
}
