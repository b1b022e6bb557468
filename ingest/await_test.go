package ingest

import (
	"errors"
	"testing"
)

// TestAnsweredWriteNotReportedClosed: a write the writer answered before
// it ended gets that answer, though the pipeline's done is closed too when
// the caller looks: its events are stored, and ErrClosed would have the
// client send them again. A select between the two ready channels picked
// either, so about every other such write was reported failed.
func TestAnsweredWriteNotReportedClosed(t *testing.T) {
	p := &Pipeline{done: make(chan struct{})}
	close(p.done)
	for i := range 100 { // a coin toss each time before
		r := &request{done: make(chan error, 1)}
		r.done <- nil
		if err := p.await(r); err != nil {
			t.Fatalf("try %d: a write answered before the pipeline ended got %v, want its answer (nil)", i, err)
		}
	}
	if err := p.await(&request{done: make(chan error, 1)}); !errors.Is(err, ErrClosed) {
		t.Errorf("a write never answered got %v, want %v", err, ErrClosed)
	}
}
