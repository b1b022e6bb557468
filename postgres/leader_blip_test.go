package postgres_test

import (
	"context"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valueloop/valueloop/postgres"
	"github.com/valueloop/valueloop/postgres/pgtest"
)

// TestLeaderSurvivesBlip: a leader whose database goes silent for a
// moment (2 s, a network blip: nothing is lost, the bytes arrive late)
// keeps its work running, and no other node leads meanwhile, since the
// server kept its session and lock. The leader stopped its work after one
// ping unanswered for a second, and the next leader started it over. A
// leader whose connection is closed (its backend terminated) still stops
// at once, long before its grace ends: its lock is gone.
func TestLeaderSurvivesBlip(t *testing.T) {
	dsn := pgtest.Schema(t)
	p := startPausingProxy(t, dsn)
	var starts, stops atomic.Int32
	work := func(ctx context.Context) error {
		starts.Add(1)
		<-ctx.Done()
		stops.Add(1)
		return ctx.Err()
	}
	a := postgres.NewLeader(MustOpen(t, pgtest.WithParam(t, p.dsn, "application_name", "node-a"), nil))
	a.Poll = 50 * time.Millisecond
	a.Grace = time.Minute // longer than any wait below: a stop within it is not the grace's
	runLeader(t, a, work)
	eventually(t, "a leads", func() bool { return a.Leading("work") })

	b := postgres.NewLeader(MustOpen(t, pgtest.WithParam(t, dsn, "application_name", "node-b"), nil))
	b.Poll = 50 * time.Millisecond
	var bLed atomic.Bool
	runLeader(t, b, func(ctx context.Context) error {
		bLed.Store(true)
		<-ctx.Done()
		return ctx.Err()
	})

	p.pause(true)
	time.Sleep(2 * time.Second) // a's pings wait; b tries forty times
	p.pause(false)
	time.Sleep(500 * time.Millisecond) // a's pings are answered again
	if starts.Load() != 1 || stops.Load() != 0 || !a.Leading("work") || bLed.Load() {
		t.Fatalf("after a 2 s blip: a's work started %d times, stopped %d; a leads %v; b led %v; want started once, never stopped, b never",
			starts.Load(), stops.Load(), a.Leading("work"), bLed.Load())
	}

	pgtest.Exec(t, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'node-a'`)
	eventually(t, "a stops its work once its backend is gone", func() bool { return stops.Load() >= 1 })
	eventually(t, "one node leads again", func() bool { return a.Leading("work") != b.Leading("work") })
}

// pausingProxy forwards TCP connections to the test server; paused, it
// holds the bytes of every connection, in both directions, until resumed.
type pausingProxy struct {
	dsn    string // the test DSN, through the proxy
	mu     sync.Mutex
	cond   *sync.Cond
	paused bool
}

func startPausingProxy(t *testing.T, dsn string) *pausingProxy {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil || u.Host == "" {
		t.Skipf("%s must be a postgres:// URL with a host for this test", pgtest.EnvVar)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	upstream := u.Host
	u.Host = ln.Addr().String()
	p := &pausingProxy{dsn: u.String()}
	p.cond = sync.NewCond(&p.mu)
	var conns sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		p.pause(false)
		conns.Wait()
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", upstream)
			if err != nil {
				c.Close()
				continue
			}
			conns.Add(2)
			go p.pipe(&conns, s, c)
			go p.pipe(&conns, c, s)
		}
	}()
	return p
}

func (p *pausingProxy) pause(on bool) {
	p.mu.Lock()
	p.paused = on
	p.mu.Unlock()
	p.cond.Broadcast()
}

// pipe copies src to dst, waiting while paused; when either side ends it
// closes both.
func (p *pausingProxy) pipe(wg *sync.WaitGroup, dst, src net.Conn) {
	defer wg.Done()
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		p.mu.Lock()
		for p.paused {
			p.cond.Wait()
		}
		p.mu.Unlock()
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
