package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valueloop/valueloop/bench"
	"github.com/valueloop/valueloop/bench/cputime"
	"github.com/valueloop/valueloop/client"
)

// benchExperimentPages are the pages timed beside the experiment of a
// million users (as bench/ui.sh does over a real server).
var benchExperimentPages = []struct{ name, path string }{
	{"overview", "/"},
	{"experiments", "/experiments"},
	{"experiment", "/experiments/production/checkout"},
	{"flag", "/flags/production/checkout-flow"},
}

// benchMetrics are the five metrics of bench/events.sh and bench/ui.sh.
var benchMetrics = [][]string{
	{"--key", "b-converted", "--kind", "conversion", "--event", "purchase", "--window", "1h"},
	{"--key", "b-orders", "--kind", "count", "--event", "purchase"},
	{"--key", "b-revenue", "--kind", "sum", "--event", "purchase"},
	{"--key", "b-load-time", "--kind", "mean", "--event", "page", "--direction", "lower"},
	{"--key", "b-revenue-per-order", "--kind", "ratio", "--event", "purchase", "--denominator-event", "purchase"},
}

// benchUsers is the size of the experiment: VALUELOOP_BENCH_UI_USERS or
// 1,000,000 users (two events each).
func benchUsers(b *testing.B) int {
	s := os.Getenv("VALUELOOP_BENCH_UI_USERS")
	if s == "" {
		return 1_000_000
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		b.Fatalf("VALUELOOP_BENCH_UI_USERS=%q: want a number of users", s)
	}
	return n
}

// benchDataDir returns the data directory of the experiment: made in a
// temporary folder, or kept in VALUELOOP_BENCH_UI_DATA (made there when
// missing) so that reruns skip loading 2,000,000 events.
func benchDataDir(b *testing.B) string {
	dir := os.Getenv("VALUELOOP_BENCH_UI_DATA")
	if dir == "" {
		dir = filepath.Join(b.TempDir(), "data")
	}
	if _, err := os.Stat(dir); err != nil {
		mustLoadExperiment(b, dir, benchUsers(b))
	}
	return dir
}

// mustLoadExperiment fills dataDir with the demo, the five metrics and the
// events of the experiment, through the real server.
func mustLoadExperiment(b *testing.B, dataDir string, users int) {
	srv := MustServe(b, dataDir, "--demo")
	defer srv.Stop(b)
	for _, m := range benchMetrics {
		if code, _, stderr := srv.cli(b, srv.Admin, append([]string{"metrics", "create", "--env", "production"}, m...)...); code != 0 {
			b.Fatalf("metrics create %v: %s", m, stderr)
		}
	}
	args := []string{"events", "load", "--env", "production", "--events", strconv.Itoa(2 * users), "--users", strconv.Itoa(users), "--concurrency", "4"}
	if code, _, stderr := srv.cli(b, srv.Admin, args...); code != 0 {
		b.Fatalf("events load: %s", stderr)
	}
}

// BenchmarkDashboardExperiment measures the server time of the pages beside
// an experiment of a million users (bench/ui.sh's data, made in process):
// each page once warm, and the experiment page's first view after a
// restart (nothing kept). Besides the time over loopback it reports the
// process's CPU time per view (client included), which a busy machine
// does not inflate.
func BenchmarkDashboardExperiment(b *testing.B) {
	dataDir := benchDataDir(b)
	b.Run("first-view", func(b *testing.B) {
		var cpu, server float64
		defer func() {
			b.ReportMetric(cpu*1e3/float64(b.N), "cpu-ms/op")
			b.ReportMetric(server/float64(b.N), "server-ms/op")
		}()
		for b.Loop() {
			b.StopTimer()
			srv := MustServe(b, dataDir)
			admin := mustSignIn(b, srv.URL, srv.Admin)
			b.StartTimer()
			c0 := cputime.Seconds()
			resp, _ := admin.get("/experiments/production/checkout")
			if resp.StatusCode != http.StatusOK {
				b.Fatalf("GET: %d", resp.StatusCode)
			}
			cpu += cputime.Seconds() - c0
			server += serverMs(b, resp)
			b.StopTimer()
			srv.Stop(b)
			b.StartTimer()
		}
	})
	srv := MustServe(b, dataDir)
	admin := mustSignIn(b, srv.URL, srv.Admin)
	// The warm views are timed once the charts over time are kept: the
	// background computation they start is not theirs.
	waitForCharts(b, admin, "/experiments/production/checkout")
	waitForCharts(b, admin, "/flags/production/checkout-flow")
	for _, p := range benchExperimentPages {
		b.Run(p.name, func(b *testing.B) {
			admin.get(p.path)
			c0 := cputime.Seconds()
			var server float64
			defer func() {
				b.ReportMetric((cputime.Seconds()-c0)*1e3/float64(b.N), "cpu-ms/op")
				b.ReportMetric(server/float64(b.N), "server-ms/op")
			}()
			for b.Loop() {
				resp, _ := admin.get(p.path)
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("GET %s: %d", p.path, resp.StatusCode)
				}
				server += serverMs(b, resp)
			}
		})
	}
}

// BenchmarkDashboardWorstCase is the experiment page of a million users
// viewed by many browsers at once while events keep arriving (a batch of
// 1,000 every 20 ms): no view replays the log, whatever arrives, and the
// past-day points and exposure counts are computed once for all of them.
func BenchmarkDashboardWorstCase(b *testing.B) {
	dataDir := benchDataDir(b)
	srv := MustServe(b, dataDir)
	c := client.New(srv.URL, srv.Admin)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		gen := bench.NewGen(1000, 99, time.Now())
		for i := 0; ctx.Err() == nil; i += 1000 {
			c.SendEvents(ctx, "production", gen.Body(1000, i), false, false)
			select {
			case <-ctx.Done():
			case <-time.After(20 * time.Millisecond):
			}
		}
	})
	defer func() { cancel(); wg.Wait() }()
	// Signed in one after the other (sign-ins in flight count against the
	// limit of failed ones), no more than a token's 10 sessions.
	browsers := make(chan *browser, 8)
	for range cap(browsers) {
		browsers <- mustSignIn(b, srv.URL, srv.Admin)
	}
	for _, p := range []string{"/experiments/production/checkout", "/flags/production/checkout-flow"} {
		b.Run(strings.TrimPrefix(p, "/"), func(b *testing.B) {
			b.SetParallelism(4) // 8 browsers on 2 cores
			var mu sync.Mutex
			var server, worst float64
			b.RunParallel(func(pb *testing.PB) {
				admin := <-browsers
				defer func() { browsers <- admin }()
				for pb.Next() {
					resp, _ := admin.get(p)
					if resp.StatusCode != http.StatusOK {
						b.Errorf("GET %s: %d", p, resp.StatusCode)
						return
					}
					ms := serverMs(b, resp)
					mu.Lock()
					server, worst = server+ms, max(worst, ms)
					mu.Unlock()
				}
			})
			b.ReportMetric(server/float64(b.N), "server-ms/op")
			b.ReportMetric(worst, "worst-server-ms")
		})
	}
}

// serverMs reads the server's own time for a page (its Server-Timing).
func serverMs(b *testing.B, resp *http.Response) float64 {
	var ms float64
	if _, err := fmt.Sscanf(resp.Header.Get("Server-Timing"), "page;dur=%g", &ms); err != nil {
		b.Fatalf("Server-Timing %q: %v", resp.Header.Get("Server-Timing"), err)
	}
	return ms
}
