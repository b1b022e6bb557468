package ingest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valueloop/valueloop/metric"
)

// TestGroupBytesBounded: requests waiting together are gathered into one
// transaction only up to MaxGroupBytes of encoded events, so that no log
// record (which the store copies outside the Go heap, where no budget
// counts it) grows with the number of large uploads sent at once; a
// request carried over to the next transaction is stored all the same.
// Four uploads of 17.6 MB were one 70 MB record, and a server with the
// default max-body-buffered of 256 MiB peaked at 495 MB of RSS.
func TestGroupBytesBounded(t *testing.T) {
	s := &heldStore{memStore: newMemStore(), entered: make(chan struct{}), release: make(chan struct{})}
	p := NewPipeline(s, nil)
	p.MaxGroupBytes = 64 << 10
	if err := p.Open(); err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	attrs := []byte(`{"a":"` + strings.Repeat("x", 300) + `"}`)
	upload := func(n int) []Event {
		evs := make([]Event, 100)
		for i := range evs {
			evs[i] = Event{Type: Tracking, ID: fmt.Sprintf("u%d-%d", n, i), TargetingKey: fmt.Sprintf("user-%d", i),
				Name: "purchase", Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli(), TimeSet: true, Attributes: attrs}
		}
		return evs
	}
	if size := logSize(upload(0)); 2*size <= p.MaxGroupBytes || size > p.MaxGroupBytes {
		t.Fatalf("an upload encodes to %d bytes: want more than half of MaxGroupBytes (%d), and no more", size, p.MaxGroupBytes)
	}
	// The writer is held in its first transaction (its engine reads the
	// metric definitions) while the other uploads queue behind it.
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	send := func(n int) {
		defer wg.Done()
		_, err := p.Ingest(context.Background(), "production", upload(n))
		errs <- err
	}
	wg.Add(4)
	go send(0)
	<-s.entered
	for n := 1; n < 4; n++ {
		go send(n)
	}
	for len(p.reqs) < 3 {
		time.Sleep(time.Millisecond)
	}
	close(s.release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	stored := 0
	for i, rec := range s.log["production"] {
		stored += rec.Count
		if len(rec.Data) > p.MaxGroupBytes {
			t.Errorf("log record %d: %d events in %d bytes; want at most MaxGroupBytes (%d), one upload a transaction", i, rec.Count, len(rec.Data), p.MaxGroupBytes)
		}
	}
	if stored != 400 {
		t.Errorf("%d events stored, want the 400 sent", stored)
	}
}

// heldStore holds the first read of metric definitions until release.
type heldStore struct {
	*memStore
	entered, release chan struct{}
	once             sync.Once
}

func (h *heldStore) Metrics(ctx context.Context, env string) ([]metric.Metric, error) {
	h.once.Do(func() {
		close(h.entered)
		<-h.release
	})
	return h.memStore.Metrics(ctx, env)
}

// TestDrainWritesCarried: a request gather carried over to the next
// transaction (MaxGroupBytes) when Close comes is stored, as it would
// have been in the group it was taken with, not failed.
func TestDrainWritesCarried(t *testing.T) {
	s := newMemStore()
	p := NewPipeline(s, nil)
	// The writer's state, without its goroutine: drain runs here alone.
	p.reqs, p.exposures, p.engines = make(chan *request, 1), newExposureBuffer(p.ExposureQueue), map[string]*engine{}
	evs := []Event{{Type: Tracking, ID: "carried", TargetingKey: "user-1", Name: "purchase", Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli(), TimeSet: true}}
	p.carry = &request{ctx: context.Background(), env: "production", events: evs, size: logSize(evs), done: make(chan error, 1)}
	r := p.carry
	p.drain()
	if err := <-r.done; err != nil {
		t.Fatalf("the carried request was answered %v, want stored", err)
	}
	if got := s.events("production"); len(got) != 1 || got[0].ID != "carried" {
		t.Errorf("stored %+v, want the carried event", got)
	}
}
