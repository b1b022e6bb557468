package httpapi

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// halfHeld is a guard with a 100-byte budget of which 50 bytes are held
// until the test ends: not alone, so the budget applies.
func halfHeld(t *testing.T) *guard {
	g := newGuard(Limits{MaxBufferedBytes: 100})
	release, err := g.reserve(50, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(release)
	return g
}

// TestReserveRefusedUnseen: while a reservation is being refused for
// being over the budget, another that fits beside what is held is
// granted, and the count holds only what was granted.
func TestReserveRefusedUnseen(t *testing.T) {
	g := halfHeld(t)
	var during error
	g.refusing = func() {
		g.refusing = nil // the one inside is granted, or refused without this
		if n := g.buffered.Load(); n != 50 {
			t.Errorf("buffered %d while 1000 bytes are refused, want the 50 held", n)
		}
		var release func()
		if release, during = g.reserve(10, 0); during == nil {
			release()
		}
	}
	if _, err := g.reserve(1000, 0); err == nil {
		t.Fatal("1000 bytes beside 50 held in a 100-byte budget: granted, want refused")
	}
	if g.refusing != nil {
		t.Fatal("the refusal did not run the hook")
	}
	if during != nil {
		t.Errorf("10 bytes beside 50 held in a 100-byte budget, while 1000 were refused: %v, want granted", during)
	}
	if n := g.buffered.Load(); n != 50 {
		t.Errorf("buffered %d after, want the 50 held", n)
	}
}

// TestReserveRefusalUnseen: a reservation refused for being over the
// budget never shows in the count, so requests that fit beside what is
// held are not refused while a large one is being turned away. Whether
// the goroutines interleave is up to the scheduler: the test cannot fail
// when reserve is right, and with reserve adding before checking it
// fails when they do.
func TestReserveRefusalUnseen(t *testing.T) {
	g := halfHeld(t)

	// Four requests of 10 bytes fit beside the 50 held, together.
	const rounds, small = 100000, 4
	var refusedSmall, acceptedBig, triedBig atomic.Int64
	var smallDone sync.WaitGroup
	var done atomic.Bool
	smallDone.Add(small)
	bigDone := make(chan struct{})
	go func() { // turns away a large upload until the small ones are done
		defer close(bigDone)
		for !done.Load() {
			if release, err := g.reserve(1000, 0); err == nil {
				acceptedBig.Add(1)
				release()
			}
			triedBig.Add(1)
		}
	}()
	for range small {
		go func() {
			defer smallDone.Done()
			// Each does its rounds while the large one is being refused.
			for i := 0; i < rounds || triedBig.Load() < rounds; i++ {
				if release, err := g.reserve(10, 0); err != nil {
					refusedSmall.Add(1)
				} else {
					release()
				}
				if i%1000 == 0 {
					runtime.Gosched()
				}
			}
		}()
	}
	smallDone.Wait()
	done.Store(true)
	<-bigDone
	if n := acceptedBig.Load(); n != 0 {
		t.Errorf("1000 bytes beside 50 held in a 100-byte budget: accepted %d times, want never", n)
	}
	if n := refusedSmall.Load(); n != 0 {
		t.Errorf("10 bytes (four at once) beside 50 held in a 100-byte budget: refused %d times, want never", n)
	}
	if n := g.buffered.Load(); n != 50 {
		t.Errorf("buffered %d after the rounds, want the 50 still held", n)
	}
}
