package cluster_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/valueloop/valueloop/cluster"
	"github.com/valueloop/valueloop/flags"
)

func TestSoloRetriesUntilDone(t *testing.T) {
	runs := 0
	err := cluster.Solo{Pause: time.Millisecond}.Run(context.Background(), "work", func(ctx context.Context) error {
		if runs++; runs < 3 {
			return errors.New("not yet")
		}
		return nil
	})
	if err != nil || runs != 3 {
		t.Errorf("Run = %v after %d runs, want nil after 3 (two failures retried)", err, runs)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := (cluster.Solo{}).Run(ctx, "work", func(ctx context.Context) error { return ctx.Err() }); err != nil {
		t.Errorf("Run after its context ended = %v, want nil", err)
	}
}

// store is a hand-written fake of the stored versions and of the services
// that reload from them.
type store struct {
	mu       sync.Mutex
	stored   map[string]int64 // environment versions in the "database"
	live     map[string]int64 // what the node has loaded
	tokens   int64
	loads    int
	reloads  int
	versions int
	// failReloads is how many token reloads fail before one succeeds.
	failReloads int
}

func (s *store) Versions(context.Context) (cluster.Versions, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.versions++
	v := cluster.Versions{Environments: map[string]int64{}, Tokens: s.tokens}
	for k, n := range s.stored {
		v.Environments[k] = n
	}
	return v, nil
}

func (s *store) Load(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loads++
	for k, n := range s.stored {
		s.live[k] = n
	}
	return nil
}

func (s *store) Live(env string) *flags.Live {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok := s.live[env]
	if !ok {
		return nil
	}
	return &flags.Live{Version: n}
}

func (s *store) Reload(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failReloads > 0 {
		s.failReloads--
		return errors.New("store unreachable")
	}
	s.reloads++
	return nil
}

func (s *store) get(f func() int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return f()
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for start := time.Now(); !cond(); time.Sleep(time.Millisecond) {
		if time.Since(start) > 10*time.Second {
			t.Fatalf("%s: not within 10s", what)
		}
	}
}

func TestFollowerActsOnChanges(t *testing.T) {
	s := &store{stored: map[string]int64{"prod": 1}, live: map[string]int64{"prod": 1}}
	changes := make(chan cluster.Change, 64)
	others := make(chan cluster.Change, 64)
	f := &cluster.Follower{Changes: changes, Versions: s.Versions, Interval: time.Hour, Flags: s, Tokens: s,
		OnChange: func(_ context.Context, c cluster.Change) { others <- c }}
	if err := f.Open(); err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	waitFor(t, "the first version check", func() bool { return s.get(func() int { return s.versions }) == 1 })
	if n := s.get(func() int { return s.loads }); n != 0 {
		t.Errorf("up to date at start, yet flags were loaded %d times", n)
	}

	s.mu.Lock()
	s.stored["prod"] = 2
	s.mu.Unlock()
	for range 10 {
		changes <- cluster.Change{Kind: cluster.KindFlags, Env: "prod"}
	}
	changes <- cluster.Change{Kind: cluster.KindTokens}
	changes <- cluster.Change{Kind: cluster.KindMetrics, Env: "prod"}
	waitFor(t, "flags and tokens reloaded", func() bool {
		return s.Live("prod").Version == 2 && s.get(func() int { return s.reloads }) >= 1
	})
	if n := s.get(func() int { return s.loads }); n > 10 {
		t.Errorf("ten notifications cost %d loads, want at most one per notification", n)
	}
	select {
	case c := <-others:
		if c != (cluster.Change{Kind: cluster.KindMetrics, Env: "prod"}) {
			t.Errorf("OnChange got %+v, want the metrics change of prod", c)
		}
	case <-time.After(10 * time.Second):
		t.Error("OnChange was not told of the metrics change")
	}
	select {
	case c := <-others:
		t.Errorf("OnChange also got %+v; flags and tokens are the follower's own", c)
	default:
	}
}

// checkEvery5ms starts a Follower of s without a feed, checking the
// versions every 5ms, and waits for its first check, which ends by
// reloading the tokens.
func checkEvery5ms(t *testing.T, s *store) {
	t.Helper()
	f := &cluster.Follower{Versions: s.Versions, Interval: 5 * time.Millisecond, Flags: s, Tokens: s}
	if err := f.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	waitFor(t, "the first version check", func() bool { return s.get(func() int { return s.reloads }) >= 1 })
}

func TestFollowerVersionCheckCatchesMissedChanges(t *testing.T) {
	s := &store{stored: map[string]int64{"prod": 1}, live: map[string]int64{"prod": 1}}
	checkEvery5ms(t, s)
	s.mu.Lock()
	s.stored["prod"], s.stored["dev"], s.tokens = 5, 1, 1
	before := s.reloads
	s.mu.Unlock()
	waitFor(t, "a missed change of prod, a new environment and a token change", func() bool {
		return s.Live("prod").Version == 5 && s.Live("dev") != nil && s.get(func() int { return s.reloads }) == before+1
	})
}

// A token change the version check finds, whose reload fails, is reloaded
// at a later check: a token revoked on a peer must not stay valid here.
func TestFollowerRetriesFailedTokenReload(t *testing.T) {
	s := &store{stored: map[string]int64{}, live: map[string]int64{}}
	checkEvery5ms(t, s)
	s.mu.Lock()
	s.tokens, s.failReloads = 1, 1
	before := s.reloads
	s.mu.Unlock()
	waitFor(t, "the tokens reloaded after a failed reload", func() bool { return s.get(func() int { return s.reloads }) == before+1 })
}

// Every runs at once (the interval here is far longer than the test) and
// logs a failure, but not one that comes after its context ended.
func TestEveryRunsAtOnceAndLogsFailures(t *testing.T) {
	for _, tc := range []struct {
		name       string
		cancelInFn bool
		wantLogged int
	}{
		{"failure logged", false, 1},
		{"failure after stop not logged", true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			runs, logged := 0, 0
			fn := func(ctx context.Context) error {
				runs++
				if tc.cancelInFn {
					cancel()
				}
				return errors.New("boom")
			}
			log := func(msg string, args ...any) {
				logged++
				if msg != "work failed" || len(args) != 2 || args[0] != "err" {
					t.Errorf("log(%q, %v)", msg, args)
				}
				cancel()
			}
			cluster.Every(ctx, time.Hour, fn, log, "work failed")
			if runs != 1 || logged != tc.wantLogged {
				t.Errorf("runs %d, logged %d; want 1, %d", runs, logged, tc.wantLogged)
			}
		})
	}
}

// TestExcludeHonoursContext: a caller waiting for the node's lock gives up
// when its context ends, rather than waiting for whoever holds it; the lock
// it gave up on is not left held once the holder lets go.
func TestExcludeHonoursContext(t *testing.T) {
	var mu sync.Mutex
	mu.Lock() // another transition of this node is under way
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	locked := false
	_, release, err := cluster.Exclude(ctx, &mu, func(ctx context.Context) (context.Context, func(), error) {
		locked = true
		return ctx, func() {}, nil
	})
	if !errors.Is(err, context.Canceled) || release != nil || locked {
		t.Fatalf("Exclude with its context ended while the lock is held = (%v, %v), over-node lock taken %v; want context.Canceled, nil, false", release != nil, err, locked)
	}
	mu.Unlock()
	// The abandoned wait must not keep the lock: a later caller gets it
	// (before the fix of the wait, Exclude above never returned).
	_, release, err = cluster.Exclude(context.Background(), &mu, nil)
	if err != nil {
		t.Fatalf("Exclude after the holder let go: %v", err)
	}
	release()
}
