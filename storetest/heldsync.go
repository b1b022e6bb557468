package storetest

import (
	"testing"
	"time"
)

// LinkDuringHeldSync runs sync, whose store of a lifecycle waits until
// release is closed once it has begun (entered is closed then), and, once
// it waits, link. It releases the held sync once the link is done, or a
// moment after the link began if the link waits for it, and returns when
// both are done: the stored stage must then be the link's.
func LinkDuringHeldSync(t testing.TB, entered <-chan struct{}, release chan struct{}, sync, link func() error) {
	t.Helper()
	synced := make(chan error, 1)
	go func() { synced <- sync() }()
	<-entered
	linked := make(chan error, 1)
	go func() { linked <- link() }()
	select {
	case err := <-linked:
		close(release)
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(200 * time.Millisecond):
		close(release)
		if err := <-linked; err != nil {
			t.Fatal(err)
		}
	}
	if err := <-synced; err != nil {
		t.Fatal(err)
	}
}
