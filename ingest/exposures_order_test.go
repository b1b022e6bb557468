package ingest

import "testing"

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
