package webhook

import (
	"testing"
	"time"
)

// TestJitterIsFull: the default pause is drawn from [0, ceiling], and
// varies (so senders retrying together spread out).
func TestJitterIsFull(t *testing.T) {
	s := &Sender{}
	seen := map[time.Duration]bool{}
	for range 200 {
		d := s.jitter(time.Second)
		if d < 0 || d > time.Second {
			t.Fatalf("jitter(1s) = %v, outside [0, 1s]", d)
		}
		seen[d] = true
	}
	if len(seen) < 100 {
		t.Errorf("200 draws gave %d distinct pauses: not random", len(seen))
	}
}
