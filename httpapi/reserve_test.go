package httpapi

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// TestReserveRefusalUnseen: a reservation refused for being over the
// budget never shows in the count, so requests that fit beside what is
// held are not refused while a large one is being turned away. Whether
// the two ever interleave is up to the scheduler; the test cannot fail
// when reserve is right, and with reserve adding before checking it
// fails when they do.
func TestReserveRefusalUnseen(t *testing.T) {
	g := newGuard(Limits{MaxBufferedBytes: 100})
	held, err := g.reserve(50, 0) // not alone: the budget applies
	if err != nil {
		t.Fatal(err)
	}
	defer held()

	const rounds = 100000
	var refusedSmall, acceptedBig atomic.Int64
	var done, started atomic.Bool
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // turns away a large upload until the small ones are done
		defer wg.Done()
		for !done.Load() {
			started.Store(true)
			if release, err := g.reserve(1000, 0); err == nil {
				acceptedBig.Add(1)
				release()
			}
		}
	}()
	go func() {
		defer wg.Done()
		defer done.Store(true)
		for !started.Load() {
			runtime.Gosched()
		}
		for range rounds {
			if release, err := g.reserve(10, 0); err != nil {
				refusedSmall.Add(1)
			} else {
				release()
			}
		}
	}()
	wg.Wait()
	if n := acceptedBig.Load(); n != 0 {
		t.Errorf("1000 bytes beside 50 held in a 100-byte budget: accepted %d times, want never", n)
	}
	if n := refusedSmall.Load(); n != 0 {
		t.Errorf("10 bytes beside 50 held in a 100-byte budget: refused %d of %d, want none", n, rounds)
	}
	if n := g.buffered.Load(); n != 50 {
		t.Errorf("buffered %d after the rounds, want the 50 still held", n)
	}
}
