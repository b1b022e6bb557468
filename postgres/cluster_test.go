package postgres_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/auth"
	"github.com/valueloop/valueloop/cluster"
	"github.com/valueloop/valueloop/flags"
	"github.com/valueloop/valueloop/ingest"
	"github.com/valueloop/valueloop/postgres"
	"github.com/valueloop/valueloop/postgres/pgtest"
	"github.com/valueloop/valueloop/storetest"
)

// TestTwoNodesIngestSameUsers: two nodes ingest interleaved batches of the
// same users at once, some batches sent to both. The aggregates must equal a
// recomputation from the stored events, and each event be stored once.
func TestTwoNodesIngestSameUsers(t *testing.T) {
	ctx := t.Context()
	dsn := pgtest.Schema(t)
	a, b := MustOpen(t, dsn, nil), MustOpen(t, dsn, nil)
	// a compacts the user log often and keeps few users cached, so that b
	// keeps finding its cache outdated by a compaction it did not make.
	a.UserLogBytes, a.CachedUsers = 16<<10, 20
	ms := storetest.Metrics(t)
	storetest.CreateEnvWithMetrics(t, a, "prod", ms)
	pipes := []*ingest.Pipeline{storetest.OpenPipeline(t, a), storetest.OpenPipeline(t, b)}
	r := rand.New(rand.NewPCG(7, 8))
	events := storetest.GenEvents(r, 0, 8000, 150)
	r.Shuffle(len(events), func(i, j int) { events[i], events[j] = events[j], events[i] })
	var batches [2][][]ingest.Event
	for rest := events; len(rest) > 0; {
		k := min(len(rest), 1+r.IntN(300))
		node := r.IntN(2)
		batches[node] = append(batches[node], rest[:k])
		if r.IntN(10) == 0 { // resent to the other node
			batches[1-node] = append(batches[1-node], rest[:k])
		}
		rest = rest[k:]
	}

	var stored [2]int
	var wg sync.WaitGroup
	for node := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, batch := range batches[node] {
				fresh, err := pipes[node].Ingest(ctx, "prod", batch)
				if err != nil {
					t.Errorf("node %d: %v", node, err)
					return
				}
				for _, f := range fresh {
					if f {
						stored[node]++
					}
				}
			}
		}()
	}
	wg.Wait()
	if got := stored[0] + stored[1]; got != len(events) {
		t.Errorf("stored %d + %d events, want %d in all (each once)", stored[0], stored[1], len(events))
	}
	got, err := a.Aggregates(ctx, "prod", "")
	if err != nil {
		t.Fatal(err)
	}
	want := storetest.Recompute(t, a, "prod")
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("aggregates differ from a single-node recomputation:\n got %v\nwant %v", got, want)
	}
	if n, _ := a.EventCount(ctx, "prod"); n != int64(len(events)) {
		t.Errorf("EventCount = %d, want %d", n, len(events))
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var gen, compacted int64
	if err := conn.QueryRow(ctx, `SELECT generation, compacted FROM event_state WHERE environment = 'prod'`).Scan(&gen, &compacted); err != nil || compacted == 0 {
		t.Errorf("user log: generation %d, compacted up to %d (%v); want compactions to have happened", gen, compacted, err)
	}
	// The compacted states plus the user log hold exactly the users with
	// events: a rebuild from the log changes nothing.
	res, err := pipes[1].Rebuild(ctx, "prod")
	if err != nil || res.Changed || res.Events != int64(len(events)) {
		t.Errorf("Rebuild = %+v, %v; want %d events, unchanged", res, err, len(events))
	}
	if got, _ := b.Aggregates(ctx, "prod", ""); !reflect.DeepEqual(got, want) {
		t.Error("aggregates changed by the rebuild")
	}
	// More events after the rebuild, on both nodes, stay exact.
	more := storetest.GenEvents(r, len(events), 1000, 150)
	for i, p := range pipes {
		if _, err := p.Ingest(ctx, "prod", more[i*500:(i+1)*500]); err != nil {
			t.Fatal(err)
		}
	}
	got, _ = a.Aggregates(ctx, "prod", "")
	if want := storetest.Recompute(t, a, "prod"); !reflect.DeepEqual(got, want) {
		t.Error("after the rebuild: aggregates differ from the recomputation")
	}
}

// TestLeaderTakeover: one of two nodes runs the singleton work; when it
// stops (cleanly, or its connection is cut) the other takes over.
func TestLeaderTakeover(t *testing.T) {
	dsn := pgtest.Schema(t)
	var running, overlaps atomic.Int32
	started := make(chan string, 10)
	work := func(node string) func(ctx context.Context) error {
		return func(ctx context.Context) error {
			if running.Add(1) > 1 {
				overlaps.Add(1)
			}
			started <- node
			<-ctx.Done()
			running.Add(-1)
			return ctx.Err()
		}
	}
	leader := func(app string) (*postgres.Leader, context.CancelFunc, chan struct{}) {
		s := MustOpen(t, pgtest.WithParam(t, dsn, "application_name", app), nil)
		l := postgres.NewLeader(s)
		l.Poll = 50 * time.Millisecond
		cancel, done := runLeader(t, l, work(app))
		return l, cancel, done
	}
	la, stopA, doneA := leader("node-a")
	if got := waitFor(t, started); got != "node-a" {
		t.Fatalf("first leader = %s, want node-a", got)
	}
	lb, _, _ := leader("node-b")
	time.Sleep(200 * time.Millisecond) // b tries a few times meanwhile
	if lb.Leading("work") || !la.Leading("work") {
		t.Fatalf("while a leads: a %v, b %v", la.Leading("work"), lb.Leading("work"))
	}
	stopA()
	<-doneA
	if got := waitFor(t, started); got != "node-b" {
		t.Fatalf("after a stopped: %s started, want node-b", got)
	}
	if overlaps.Load() > 0 {
		t.Errorf("the work ran on two nodes at once")
	}

	// Cut b's connections, as a broken network would: b stops its work (it
	// can no longer know that it leads), and b or a third node takes over.
	lc, _, _ := leader("node-c")
	pgtest.Exec(t, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'node-b'`)
	if got := waitFor(t, started); got != "node-c" && got != "node-b" {
		t.Fatalf("after b's connection was cut: %s started, want b again or c", got)
	}
	// Until b's check of its connection notices (Poll), it may still run
	// its work beside c's: the work's own writes must tolerate that (the
	// rollout engine's are compare-and-set).
	eventually(t, "exactly one node leads after the takeover", func() bool {
		return running.Load() == 1 && lb.Leading("work") != lc.Leading("work")
	})
}

// runLeader opens l and runs fn as its work "work" until the returned
// cancel is called (done then closes) or t ends.
func runLeader(t *testing.T, l *postgres.Leader, fn func(context.Context) error) (context.CancelFunc, chan struct{}) {
	t.Helper()
	if err := l.Open(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		l.Run(ctx, "work", fn)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		l.Close()
	})
	return cancel, done
}

func waitFor[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(15 * time.Second):
		t.Fatal("nothing happened within 15s")
		panic("unreachable")
	}
}

// node is one node's in-memory state over a store, following its peers.
type node struct {
	store  *postgres.DB
	flags  *flags.Service
	tokens *auth.Service
}

func openNode(t *testing.T, dsn string, follow bool, interval time.Duration) *node {
	t.Helper()
	s := MustOpen(t, dsn, nil)
	n := &node{store: s, flags: flags.NewService(s, nil), tokens: auth.NewService(s)}
	if err := n.flags.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := n.tokens.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	f := &cluster.Follower{Versions: s.Versions, Interval: interval, Flags: n.flags, Tokens: n.tokens}
	if follow {
		l := postgres.NewListener(s)
		if err := l.Open(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		f.Changes = l.Changes()
	}
	if err := f.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return n
}

// eventually polls cond until it holds (15s at most) and returns how long
// that took.
func eventually(t *testing.T, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > 15*time.Second {
			t.Fatalf("%s: not within 15s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(start)
}

// TestFollowerPropagates: flags and tokens changed on node a reach node b
// through notifications, and node c, which gets none, through its periodic
// version check.
func TestFollowerPropagates(t *testing.T) {
	ctx := t.Context()
	dsn := pgtest.Schema(t)
	a := openNode(t, dsn, false, time.Hour)
	b := openNode(t, dsn, true, time.Hour) // notifications only
	c := openNode(t, dsn, false, 100*time.Millisecond)
	updates := make(chan string, 16)
	defer b.flags.Subscribe(updates)()

	if err := a.flags.EnsureEnvironment(ctx, valueloop.Environment{Key: "prod", Name: "prod"}, "t"); err != nil {
		t.Fatal(err)
	}
	on := "on"
	f := &valueloop.Flag{Key: "x", State: valueloop.StateEnabled, Variants: map[string]any{"on": true, "off": false}, DefaultVariant: &on}
	if _, err := a.flags.PutFlag(ctx, "prod", f, 0, "alice", ""); err != nil {
		t.Fatal(err)
	}
	for _, n := range []struct {
		name string
		node *node
	}{{"b (notified)", b}, {"c (version check)", c}} {
		d := eventually(t, "flag x reaches "+n.name, func() bool {
			l := n.node.flags.Live("prod")
			return l != nil && l.Snapshot.Set().Flags["x"] != nil
		})
		t.Logf("flag change reached node %s in %v", n.name, d)
	}
	select {
	case env := <-updates:
		if env != "prod" {
			t.Errorf("stream subscribers of b told of %q, want prod", env)
		}
	case <-time.After(5 * time.Second):
		t.Error("stream subscribers of b were not told")
	}

	tok := &valueloop.Token{Name: "ci", Scope: valueloop.ScopeEvaluate, Environment: "prod"}
	secret, err := a.tokens.Create(ctx, tok, "", "alice")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []*node{b, c} {
		eventually(t, "token reaches a peer", func() bool { _, err := n.tokens.Authenticate(secret); return err == nil })
	}
	if err := a.tokens.Revoke(ctx, tok.ID, "alice"); err != nil {
		t.Fatal(err)
	}
	for _, n := range []*node{b, c} {
		eventually(t, "revocation reaches a peer", func() bool { _, err := n.tokens.Authenticate(secret); return err != nil })
	}
}

// TestRevokedBeforeFollowing: a token revoked through node a after node b
// read its tokens at start but before b listened (serve reads the tokens,
// applies its seeds, then follows) is refused by b once b follows. b's
// first version check took the tokens' version it found for that of the
// tokens it had read, and the revoked token stayed valid on b until the
// next change of any token.
func TestRevokedBeforeFollowing(t *testing.T) {
	ctx := t.Context()
	dsn := pgtest.Schema(t)
	a := openNode(t, dsn, false, time.Hour)
	tok := &valueloop.Token{Name: "ci", Scope: valueloop.ScopeAdmin}
	secret, err := a.tokens.Create(ctx, tok, "", "alice")
	if err != nil {
		t.Fatal(err)
	}
	s := MustOpen(t, dsn, nil)
	tokens := auth.NewService(s)
	if err := tokens.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.tokens.Revoke(ctx, tok.ID, "alice"); err != nil {
		t.Fatal(err)
	}
	l := postgres.NewListener(s)
	if err := l.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	f := &cluster.Follower{Changes: l.Changes(), Versions: s.Versions, Interval: time.Hour, Flags: flags.NewService(s, nil), Tokens: tokens}
	if err := f.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	eventually(t, "the revocation reaches node b", func() bool { _, err := tokens.Authenticate(secret); return err != nil })
}

// TestConnectionsCut cuts every connection of the database again and again
// while flags and events are written: writes in flight may fail (they are
// not acknowledged), and every acknowledged one must be stored. While the
// database refuses connections, Ping says so; afterwards the store works
// again without being reopened.
func TestConnectionsCut(t *testing.T) {
	ctx := t.Context()
	dsn := pgtest.Database(t)
	u, _ := url.Parse(dsn)
	dbName := strings.TrimPrefix(u.Path, "/")
	s := MustOpen(t, dsn, nil)
	svc := flags.NewService(s, nil)
	if err := svc.EnsureEnvironment(ctx, valueloop.Environment{Key: "prod", Name: "prod"}, "t"); err != nil {
		t.Fatal(err)
	}
	p := storetest.OpenPipeline(t, s)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var ackedFlags []int
	var ackedEvents []ingest.Event
	var failed atomic.Int32
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := 1; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			on := "on"
			f := &valueloop.Flag{Key: fmt.Sprintf("f%d", i), State: valueloop.StateEnabled, Variants: map[string]any{"on": true}, DefaultVariant: &on}
			if _, err := svc.PutFlag(ctx, "prod", f, 0, "t", ""); err != nil {
				failed.Add(1)
				time.Sleep(10 * time.Millisecond)
				continue
			}
			ackedFlags = append(ackedFlags, i)
		}
	}()
	go func() {
		defer wg.Done()
		r := rand.New(rand.NewPCG(1, 1))
		for i := 0; ; i += 100 {
			select {
			case <-stop:
				return
			default:
			}
			batch := storetest.GenEvents(r, i, 100, 50)
			if _, err := p.Ingest(ctx, "prod", batch); err != nil {
				failed.Add(1)
				time.Sleep(10 * time.Millisecond)
				continue
			}
			ackedEvents = append(ackedEvents, batch...)
		}
	}()
	for range 6 {
		time.Sleep(100 * time.Millisecond)
		pgtest.Exec(t, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, dbName)
	}
	time.Sleep(100 * time.Millisecond)
	close(stop)
	wg.Wait()
	t.Logf("acknowledged %d flag writes and %d events; %d writes failed", len(ackedFlags), len(ackedEvents), failed.Load())
	if len(ackedFlags) == 0 || len(ackedEvents) == 0 {
		t.Fatal("nothing was acknowledged")
	}

	set, _, err := s.FlagSet(ctx, "prod")
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range ackedFlags {
		if set.Flags[fmt.Sprintf("f%d", i)] == nil {
			t.Errorf("acknowledged flag f%d is missing", i)
		}
	}
	fresh, err := p.Ingest(ctx, "prod", ackedEvents)
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range fresh {
		if f {
			t.Fatalf("acknowledged event %s was not stored (sending it again stored it)", ackedEvents[i].ID)
		}
	}

	pgtest.Exec(t, `ALTER DATABASE `+dbName+` ALLOW_CONNECTIONS false`)
	pgtest.Exec(t, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, dbName)
	if err := s.Ping(ctx); err == nil {
		t.Error("Ping succeeded while the database refuses connections")
	} else {
		t.Logf("Ping while refused: %v", err)
	}
	if live := svc.Live("prod"); live == nil || len(live.Snapshot.Keys()) < len(ackedFlags) {
		t.Error("the in-memory flags were lost while the database was away")
	}
	pgtest.Exec(t, `ALTER DATABASE `+dbName+` ALLOW_CONNECTIONS true`)
	eventually(t, "the store answers again", func() bool { return s.Ping(ctx) == nil })
	got, _ := s.Aggregates(ctx, "prod", "")
	if want := storetest.Recompute(t, s, "prod"); !reflect.DeepEqual(got, want) {
		t.Errorf("aggregates after the faults differ from the recomputation")
	}
}

// TestSplitHistoryAcrossNodes: the split history node b reads (cached per
// environment version) follows each change of the split made on node a.
func TestSplitHistoryAcrossNodes(t *testing.T) {
	dsn := pgtest.Schema(t)
	storetest.SplitHistoryFollows(t, MustOpen(t, dsn, nil), MustOpen(t, dsn, nil))
}
