package flags

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/valueloop/valueloop"
)

func liveOf(env string, version int64) *Live {
	return &Live{Environment: valueloop.Environment{Key: env}, Version: version}
}

func encodeVersion(l *Live) (string, error) {
	return fmt.Sprintf("%s@%d", l.Environment.Key, l.Version), nil
}

// TestEncodedPerEnvironment: while one environment's set is being encoded,
// another environment's streams get theirs. With one lock for every
// environment the second Get waits for the first, which waits for the
// second: the test fails at its guard instead of hanging.
func TestEncodedPerEnvironment(t *testing.T) {
	var e Encoded[string]
	started, release := make(chan struct{}), make(chan struct{})
	aDone := make(chan error, 1)
	go func() {
		_, err := e.Get(liveOf("a", 1), func(l *Live) (string, error) {
			close(started)
			<-release // a slow encoding of a, until b has been served
			return encodeVersion(l)
		})
		aDone <- err
	}()
	// b waits until a's encoding has started, then must not wait for it.
	bDone := make(chan string, 1)
	go func() {
		<-started
		v, _ := e.Get(liveOf("b", 1), encodeVersion)
		bDone <- v
	}()
	select {
	case v := <-bDone:
		if v != "b@1" {
			t.Errorf("b: got %q, want b@1", v)
		}
	case <-time.After(time.Minute): // a hang guard, not a timing assertion
		t.Fatal("b's encoding waited for a's")
	}
	close(release)
	if err := <-aDone; err != nil {
		t.Fatal(err)
	}
}

// TestEncodedOncePerVersion: concurrent streams of one environment share
// one encoding per version; a new version replaces the old one's; a late
// reader of the old version is answered without evicting the new one; a
// failed encoding is not kept.
func TestEncodedOncePerVersion(t *testing.T) {
	var e Encoded[string]
	v1, v2 := liveOf("a", 1), liveOf("a", 2)
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if v, err := e.Get(v1, encodeVersion); err != nil || v != "a@1" {
				t.Errorf("Get(v1) = %q, %v", v, err)
			}
		})
	}
	wg.Wait()
	if n := e.Made(); n != 1 {
		t.Fatalf("20 concurrent Gets of one version made %d encodings, want 1", n)
	}
	if v, _ := e.Get(v2, encodeVersion); v != "a@2" || e.Made() != 2 {
		t.Fatalf("Get(v2) = %q after %d encodings, want a@2 after 2", v, e.Made())
	}
	if v, _ := e.Get(v1, encodeVersion); v != "a@1" {
		t.Errorf("late Get(v1) = %q, want a@1", v)
	}
	if v, _ := e.Get(v2, encodeVersion); v != "a@2" || e.Made() != 3 {
		t.Errorf("Get(v2) after a late v1 = %q after %d encodings, want a@2 still held (3 encodings)", v, e.Made())
	}
	boom := errors.New("boom")
	v3 := liveOf("a", 3)
	if _, err := e.Get(v3, func(*Live) (string, error) { return "", boom }); !errors.Is(err, boom) {
		t.Errorf("failed encoding: got %v", err)
	}
	if v, err := e.Get(v3, encodeVersion); err != nil || v != "a@3" {
		t.Errorf("Get(v3) after a failure = %q, %v; want a@3 encoded again", v, err)
	}
}
