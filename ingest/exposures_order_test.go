package ingest

import (
	"fmt"
	"sync"
	"testing"
)

// TestExposureTakeOrder: a part keeps its exposures in the order they were
// added, not by time; take hands them over oldest first all the same.
func TestExposureTakeOrder(t *testing.T) {
	b := newExposureBuffer(1024)
	for _, at := range []int64{30, 10, 20} {
		// One targeting key: one part, added out of time order.
		if !b.add(recordedExposure{env: "production", flag: "f", variant: "on", key: "u", at: at}) {
			t.Fatal("buffer full")
		}
	}
	part := &b.parts[0]
	for i := range b.parts {
		if len(b.parts[i].buf) > 0 {
			part = &b.parts[i]
		}
	}
	if got := []int64{part.buf[0].at, part.buf[1].at, part.buf[2].at}; got[0] != 30 || got[1] != 10 {
		t.Fatalf("the part holds %v, want the order of adding (30 10 20)", got)
	}
	got := b.take(nil)
	if len(got) != 3 || got[0].at != 10 || got[1].at != 20 || got[2].at != 30 {
		t.Errorf("take: %+v, want times 10, 20, 30", got)
	}
}

// TestExposureTakeWhileAdding: requests add while the writer takes, each
// take swapping the parts' memory for that of the take before; every
// exposure added is taken once, and none is lost or repeated through the
// reused memory.
func TestExposureTakeWhileAdding(t *testing.T) {
	const adders, each = 4, 5000
	// Each part holds capacity/exposureShards and keys hash unevenly: room
	// for all of them in any one part, so that none is dropped.
	b := newExposureBuffer(adders * each * exposureShards)
	var wg sync.WaitGroup
	for a := range adders {
		wg.Go(func() {
			for i := range each {
				if !b.add(recordedExposure{env: "production", flag: "f", variant: "on", key: fmt.Sprintf("u-%d-%d", a, i), at: int64(i)}) {
					t.Error("buffer full")
					return
				}
			}
		})
	}
	seen := map[string]int{}
	var got []recordedExposure
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for finished := false; !finished; {
		select {
		case <-done:
			finished = true
		default:
		}
		got = b.take(got[:0])
		for i := range got {
			seen[got[i].key]++
		}
	}
	if len(seen) != adders*each {
		t.Errorf("%d distinct exposures taken, want %d", len(seen), adders*each)
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("%s taken %d times", k, n)
		}
	}
}
