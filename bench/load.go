// Package bench holds the reproducible load tests of Valueloop that run
// against a real server: the ingestion load generator behind
// `valueloop events load` (and bench/events.sh). The scripts beside it drive
// the OFREP benchmark; bench/bare is its net/http ceiling.
package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valueloop/valueloop/bench/cputime"
	"github.com/valueloop/valueloop/client"
	"github.com/valueloop/valueloop/ingest"
)

// Load is the ingestion load test: it sends generated batches as fast as
// the server takes them and reports the rate, the server's memory over time
// and, as a baseline measured in the same run, how fast the same bytes can
// merely be decoded (encoding/json, and ingest's own decoder).
type Load struct {
	Client      *client.Client
	Env         string // for admin tokens not bound to one
	Events      int
	Batch       int // events per request
	Users       int // distinct users
	Concurrency int // requests in flight
	Seed        int
	Out         io.Writer // the report
}

// Run sends the events and writes the report to l.Out.
func (l *Load) Run(ctx context.Context) error {
	gen := NewGen(l.Users, uint64(l.Seed), time.Now().Add(-time.Hour))
	base := DecodeBaseline(gen.Body(l.Batch, 0), l.Batch)
	fmt.Fprintf(l.Out, "baseline (1 core, same bytes): encoding/json %.0f events/s, ingest.Decode %.0f events/s\n", base[0], base[1])

	bodies := make(chan []byte, l.Concurrency*2)
	go func() {
		defer close(bodies)
		for i := 0; i < l.Events; i += l.Batch {
			select {
			case bodies <- gen.Body(min(l.Batch, l.Events-i), i):
			case <-ctx.Done():
				return
			}
		}
	}()
	var sent, stored atomic.Int64
	serverCPU0, ownCPU0 := serverMetric(ctx, l.Client, "process_cpu_seconds_total"), cputime.Seconds()
	start := time.Now()
	stop := l.sampleMemory(ctx, start, &sent)
	err := l.send(ctx, bodies, &sent, &stored)
	close(stop)
	if err != nil {
		return err
	}
	el := time.Since(start)
	rate := float64(sent.Load()) / el.Seconds()
	fmt.Fprintf(l.Out, "sent %d events (%d stored) in %s: %.0f events/s over HTTP; %.2f× the encoding/json decode rate, %.2f× ingest.Decode; server RSS %s; %d cores\n",
		sent.Load(), stored.Load(), el.Round(time.Millisecond), rate, rate/base[0], rate/base[1], serverRSS(ctx, l.Client), runtime.NumCPU())
	// CPU per event does not depend on what else runs on the machine, as
	// the rate does: it is the figure to compare between runs.
	perEvent := func(cpu0, cpu1 float64) string {
		if cpu0 < 0 || cpu1 < 0 || sent.Load() == 0 {
			return "?"
		}
		return fmt.Sprintf("%.2f µs", (cpu1-cpu0)/float64(sent.Load())*1e6)
	}
	fmt.Fprintf(l.Out, "CPU per event: server %s, this load generator %s (GOMAXPROCS %d)\n",
		perEvent(serverCPU0, serverMetric(ctx, l.Client, "process_cpu_seconds_total")), perEvent(ownCPU0, cputime.Seconds()), runtime.GOMAXPROCS(0))
	return nil
}

// send posts the bodies from l.Concurrency goroutines and returns the first
// error.
func (l *Load) send(ctx context.Context, bodies <-chan []byte, sent, stored *atomic.Int64) error {
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for range l.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range bodies {
				res, err := l.Client.SendEvents(ctx, l.Env, b, false, false)
				if err != nil {
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				sent.Add(int64(res.Received))
				stored.Add(int64(res.Stored))
			}
		}()
	}
	wg.Wait()
	err, _ := firstErr.Load().(error)
	return err
}

// sampleMemory reports the rate and the server's memory every two seconds
// until the returned channel is closed.
func (l *Load) sampleMemory(ctx context.Context, start time.Time, sent *atomic.Int64) chan struct{} {
	stop := make(chan struct{})
	go func() {
		t := time.NewTicker(2 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				fmt.Fprintf(l.Out, "  %6.1fs %10d events %9.0f events/s  server RSS %s\n", time.Since(start).Seconds(), sent.Load(),
					float64(sent.Load())/time.Since(start).Seconds(), serverRSS(ctx, l.Client))
			case <-stop:
				return
			}
		}
	}()
	return stop
}

// serverMetric reads an untyped value from /metrics; -1 when missing.
func serverMetric(ctx context.Context, c *client.Client, name string) float64 {
	var raw []byte
	if err := c.Do(ctx, "GET", "/metrics", nil, &raw); err != nil {
		return -1
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				return f
			}
		}
	}
	return -1
}

// serverRSS reads process_resident_memory_bytes from /metrics.
func serverRSS(ctx context.Context, c *client.Client) string {
	var raw []byte
	if err := c.Do(ctx, "GET", "/metrics", nil, &raw); err != nil {
		return "?"
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "process_resident_memory_bytes "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return fmt.Sprintf("%.0f MiB", f/(1<<20))
		}
	}
	return "?"
}

// DecodeBaseline returns events/s of encoding/json and of ingest.Decode on
// body, each run for about half a second on one goroutine.
func DecodeBaseline(body []byte, n int) [2]float64 {
	type ev struct {
		Type, ID, Flag, Variant, Name, TargetingKey, Time string
		Value                                             *float64
		Attributes                                        json.RawMessage
	}
	var out [2]float64
	for k := range 2 {
		start := time.Now()
		runs := 0
		for time.Since(start) < 500*time.Millisecond {
			if k == 0 {
				var evs []ev
				json.Unmarshal(body, &evs)
			} else {
				ingest.Decode(body, time.Now(), ingest.Limits{})
			}
			runs++
		}
		out[k] = float64(runs*n) / time.Since(start).Seconds()
	}
	return out
}

// Gen makes realistic batches: per user an exposure first, then page
// views and purchases, each with a unique id and a time.
// Safe for concurrent use.
type Gen struct {
	mu    sync.Mutex
	users int
	r     *rand.Rand
	base  int64
}

// NewGen returns a generator over users distinct users, seeded, with event
// times from base on (a millisecond per hundred events).
func NewGen(users int, seed uint64, base time.Time) *Gen {
	return &Gen{users: users, r: rand.New(rand.NewPCG(seed, 1)), base: base.UnixMilli()}
}

// Body returns a JSON array of n events, numbered from offset (their ids
// are ld-NUMBER, so that sending a body again stores nothing).
func (g *Gen) Body(n, offset int) []byte {
	g.mu.Lock()
	defer g.mu.Unlock()
	buf := make([]byte, 0, n*150)
	buf = append(buf, '[')
	for i := 0; i < n; i++ {
		if i > 0 {
			buf = append(buf, ',')
		}
		seq := offset + i
		u := g.r.IntN(g.users)
		t := time.UnixMilli(g.base + int64(seq/100)).UTC().Format("2006-01-02T15:04:05.000Z")
		switch k := g.r.IntN(10); {
		case k < 2:
			buf = fmt.Appendf(buf, `{"type":"exposure","id":"ld-%d","flag":"checkout","variant":"%s","targetingKey":"user-%d","time":"%s"}`,
				seq, []string{"control", "treatment"}[u%2], u, t)
		case k < 4:
			buf = fmt.Appendf(buf, `{"type":"tracking","id":"ld-%d","name":"purchase","targetingKey":"user-%d","value":%d.%02d,"time":"%s"}`,
				seq, u, g.r.IntN(200), g.r.IntN(100), t)
		default:
			buf = fmt.Appendf(buf, `{"type":"tracking","id":"ld-%d","name":"page","targetingKey":"user-%d","value":%d,"time":"%s"}`,
				seq, u, 200+g.r.IntN(3000), t)
		}
	}
	return append(buf, ']')
}
