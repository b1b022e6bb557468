package httpapi

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// TestFailureLimiterFull: once maxAddrs addresses have failed in a window,
// the addresses beyond them are not throttled together. They once shared
// one count, so that 20 more failures from fresh addresses (a /64 holds
// billions) answered 429 to every client that had not failed before, good
// tokens included, for the rest of the window.
func TestFailureLimiterFull(t *testing.T) {
	f := newFailureLimiter(20, time.Hour, false)
	for i := range maxAddrs + 25 {
		failAddr(f, fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255))
	}
	if blockedAddr(f, "203.0.113.7") {
		t.Error("an address that never failed is throttled once the table is full")
	}
	for range 20 {
		failAddr(f, "10.0.0.1")
	}
	if !blockedAddr(f, "10.0.0.1") {
		t.Error("an address tracked before the table filled, with 21 failures, is not throttled")
	}
}

// TestFailureLimiterIPv6Prefix: IPv6 failures count by /64, as the
// dashboard's sign-in limiter does: one client commonly holds a whole /64
// and could otherwise try from a fresh address each time (and fill the
// table of addresses with one prefix).
func TestFailureLimiterIPv6Prefix(t *testing.T) {
	f := newFailureLimiter(20, time.Hour, false)
	for i := range 20 {
		failAddr(f, fmt.Sprintf("2001:db8:1:2::%x", i+1))
	}
	if !blockedAddr(f, "2001:db8:1:2:ffff::1") {
		t.Error("another address of the /64 that failed 20 times is not throttled")
	}
	if blockedAddr(f, "2001:db8:1:3::1") {
		t.Error("an address of another /64 is throttled")
	}
	if blockedAddr(f, "192.0.2.1") {
		t.Error("an IPv4 address is throttled")
	}
	// IPv4 clients behind a translator (64:ff9b::/96) share one /64 but
	// are counted one by one: one of them failing locks out only itself.
	for range 20 {
		failAddr(f, "64:ff9b::198.51.100.1")
	}
	if !blockedAddr(f, "198.51.100.1") || !blockedAddr(f, "64:ff9b::c633:6401") {
		t.Error("a translated IPv4 client that failed 20 times is not throttled")
	}
	if blockedAddr(f, "64:ff9b::198.51.100.2") {
		t.Error("another translated IPv4 client is throttled with the one that failed")
	}
}

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
			failAddr(f, s.fail)
		}
		if got := blockedAddr(f, a); got != s.blockedA {
			t.Errorf("step %d: blocked(a) = %v, want %v", i, got, s.blockedA)
		}
		if got := blockedAddr(f, b); got != s.blockedB {
			t.Errorf("step %d: blocked(b) = %v, want %v", i, got, s.blockedB)
		}
		if got := f.throttled.Load(); got != s.throttledN {
			t.Errorf("step %d: throttled = %d, want %d", i, got, s.throttledN)
		}
	}
}

// TestFailureLimiterOverflow: an address first seen after the table of
// addresses filled is still held to its failures (it was neither counted
// nor throttled, and could guess without limit), while addresses that
// failed once each past the full table throttle nobody else.
func TestFailureLimiterOverflow(t *testing.T) {
	f := newFailureLimiter(10, time.Hour, false)
	for i := range maxAddrs + 5000 {
		failAddr(f, fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255))
	}
	// An address whose two cells no other failed in: with others in both,
	// it would be throttled before its own 10th failure, as the sketch
	// allows (about one address in 200 here, for a random seed).
	addr := ""
	for i := 0; addr == ""; i++ {
		a := fmt.Sprintf("198.51.%d.%d", i>>8&255, i&255)
		key, _ := f.key(netip.MustParseAddr(a), true)
		if x, y := f.cells(key); f.overflow[0][x] == 0 && f.overflow[1][y] == 0 {
			addr = a
		}
	}
	for range 10 {
		if blockedAddr(f, addr) {
			t.Fatal("an untracked address is throttled before its 10th failure")
		}
		failAddr(f, addr)
	}
	if !blockedAddr(f, addr) {
		t.Error("an address past the full table, with 10 failures, is not throttled")
	}
	if blockedAddr(f, "203.0.113.7") {
		t.Error("an address that never failed is throttled")
	}
	now := time.Now()
	f.now = func() time.Time { return now.Add(2 * time.Hour) }
	failAddr(f, "10.0.0.1") // the next window: the counts start again
	if blockedAddr(f, "198.51.100.9") {
		t.Error("the untracked address is still throttled in the next window")
	}
}

// TestBodyDeadlineLateWatch: a body that starts while the watchdog is late
// (its last tick long past: a starved core, a long collection) is given
// its whole BodyTimeout, counted from the watchdog's next tick, not from
// the tick it last recorded. Counting ticks elapsed made the watchdog
// catch up at once, and such a body was cut as soon as it was seen, before
// it had had its time.
func TestBodyDeadlineLateWatch(t *testing.T) {
	g := newGuard(Limits{BodyTimeout: 10 * time.Second}) // ticks of 1 s: 10 of them
	if g.timeoutTicks != 10 {
		t.Fatalf("timeout of %d ticks, want 10", g.timeoutTicks)
	}
	s := &Server{guard: g}
	g.scan(0)
	ran := false
	h := s.guarded(func(w http.ResponseWriter, r *http.Request) {
		ran = true
		b := r.Body.(*guardedBody)
		// The watchdog wakes 20 ticks late: the body started during
		// tick 19 at the earliest, and has had at most a tick.
		for _, step := range []struct {
			now     int64
			expired bool
		}{{20, false}, {29, false}, {30, true}} {
			g.scan(step.now)
			g.mu.Lock()
			expired := b.expired
			g.mu.Unlock()
			if expired != step.expired {
				t.Errorf("at tick %d, 20 ticks after the last before the body began: expired %v, want %v", step.now, expired, step.expired)
			}
		}
	})
	h(httptest.NewRecorder(), httptest.NewRequest("POST", "/api/v1/x", strings.NewReader("{}")))
	if !ran {
		t.Fatal("the handler did not run")
	}
}

// failAddr counts a failure of the client addr, as the server does with
// the address it found.
func failAddr(f *failureLimiter, addr string) {
	ip, err := netip.ParseAddr(addr)
	f.fail(ip, err == nil)
}

// blockedAddr reports whether the client addr is throttled.
func blockedAddr(f *failureLimiter, addr string) bool {
	ip, err := netip.ParseAddr(addr)
	return f.blocked(ip, err == nil)
}
