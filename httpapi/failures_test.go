package httpapi

import (
	"testing"
	"time"
)

// TestFailureLimiterWindow: an address is blocked from its max-th failure
// to the end of the window, and again after its max-th failure in a later
// window; other addresses never are. (blocked answers most requests from
// an atomic flag; this holds it to the counts.)
func TestFailureLimiterWindow(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	f := newFailureLimiter(2, time.Minute, true)
	f.now = func() time.Time { return now }
	const a, b = "192.0.2.1", "192.0.2.2"
	steps := []struct {
		advance    time.Duration
		fail       string
		blockedA   bool
		blockedB   bool
		throttledN uint64
	}{
		{0, "", false, false, 0},
		{0, a, false, false, 0},
		{0, a, true, false, 1}, // a's second failure: blocked
		{30 * time.Second, b, true, false, 2},
		{31 * time.Second, "", false, false, 2}, // a new window
		{0, a, false, false, 2},
		{0, a, true, false, 3},
	}
	for i, s := range steps {
		now = now.Add(s.advance)
		if s.fail != "" {
			f.fail(s.fail)
		}
		if got := f.blocked(a); got != s.blockedA {
			t.Errorf("step %d: blocked(a) = %v, want %v", i, got, s.blockedA)
		}
		if got := f.blocked(b); got != s.blockedB {
			t.Errorf("step %d: blocked(b) = %v, want %v", i, got, s.blockedB)
		}
		if got := f.throttled.Load(); got != s.throttledN {
			t.Errorf("step %d: throttled = %d, want %d", i, got, s.throttledN)
		}
	}
}
