package storetest

import (
	"context"
	"sync"
	"testing"

	"github.com/valueloop/valueloop/features"
	"github.com/valueloop/valueloop/value"
)

// HeldWrites is a features.Store whose next write of objectives or
// features, once Hold was called, waits: a write whose checks passed and
// that has not stored yet. Its LockValueWrites is the wrapped store's
// when that is a features.WriteLocker (PostgreSQL), else a lock of its
// own, shared by the services that write through it as nodes share a
// database; each call is signalled on asked.
type HeldWrites struct {
	features.Store
	// Seen, when set, is called as each write begins.
	Seen    func()
	mu      sync.Mutex // guards held, entered, release
	lock    sync.Mutex // the write lock when Store has none
	held    bool
	entered chan struct{}
	release chan struct{}
	asked   chan struct{}
}

// NewHeldWrites wraps st.
func NewHeldWrites(st features.Store) *HeldWrites {
	return &HeldWrites{Store: st, asked: make(chan struct{}, 1)}
}

// Hold makes the next write wait.
func (h *HeldWrites) Hold() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.held, h.entered, h.release = true, make(chan struct{}), make(chan struct{})
}

func (h *HeldWrites) wait() {
	if h.Seen != nil {
		h.Seen()
	}
	h.mu.Lock()
	held := h.held
	h.held = false
	h.mu.Unlock()
	if held {
		close(h.entered)
		<-h.release
	}
}

// LockValueWrites is features.WriteLocker.
func (h *HeldWrites) LockValueWrites(ctx context.Context) (context.Context, func(), error) {
	select {
	case h.asked <- struct{}{}:
	default:
	}
	if l, ok := h.Store.(features.WriteLocker); ok {
		return l.LockValueWrites(ctx)
	}
	h.lock.Lock()
	return ctx, h.lock.Unlock, nil
}

func (h *HeldWrites) PutObjective(ctx context.Context, o *value.Objective, actor string) error {
	h.wait()
	return h.Store.PutObjective(ctx, o, actor)
}

func (h *HeldWrites) PutFeature(ctx context.Context, f *value.Feature, actor string) error {
	h.wait()
	return h.Store.PutFeature(ctx, f, actor)
}

func (h *HeldWrites) DeleteFeature(ctx context.Context, key, actor string) error {
	h.wait()
	return h.Store.DeleteFeature(ctx, key, actor)
}

func (h *HeldWrites) ApplyValue(ctx context.Context, file *value.File, ops []value.Op, actor string) error {
	h.wait()
	return h.Store.ApplyValue(ctx, file, ops, actor)
}

// WriteDuringHeldWrite runs first, whose write through held waits (Hold is
// called here), and, once it waits, second, whose store is asking. It
// releases the first write once second is done, or once second asks
// asking for the write lock (which the first holds, if the checks and
// the write are one step), and returns second's error when both are done.
// The first must succeed. Second is checked against the set without the
// first's write when it finishes while the first waits.
func WriteDuringHeldWrite(t testing.TB, held, asking *HeldWrites, first, second func() error) error {
	t.Helper()
	held.Hold()
	done1, done2 := make(chan error, 1), make(chan error, 1)
	go func() { done1 <- first() }()
	select {
	case <-held.entered:
	case err := <-done1:
		t.Fatalf("first write ended before its write was held: %v", err)
	}
	for len(asking.asked) > 0 { // the first write's own ask, on a shared store
		<-asking.asked
	}
	go func() { done2 <- second() }()
	var err2 error
	finished := false
	select {
	case err2 = <-done2:
		finished = true
	case <-asking.asked:
	}
	close(held.release)
	if err := <-done1; err != nil {
		t.Fatalf("first write: %v", err)
	}
	if !finished {
		err2 = <-done2
	}
	return err2
}
