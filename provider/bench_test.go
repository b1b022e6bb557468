package provider_test

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/open-feature/go-sdk/openfeature"

	"github.com/valueloop/valueloop/evaluation"
	"github.com/valueloop/valueloop/flagd"
	"github.com/valueloop/valueloop/provider"
)

// Local evaluation cost, bare engine against the provider, for the same
// flag and context:
//
//	go test ./provider -run '^$' -bench 'Boolean' -benchtime 1s -count 3
//
// The provider's overhead is an atomic load, the translation of the result
// and, with exposures on (the default), one lock and one map lookup to see
// whether the exposure is already queued in this interval.

var benchCtx = map[string]any{"targetingKey": "user-1", "email": "ann@example.org"}

// mustCompile compiles testdata/flags.json as the provider does.
func mustCompile(tb testing.TB) *evaluation.Snapshot {
	tb.Helper()
	data, err := os.ReadFile("testdata/flags.json")
	if err != nil {
		tb.Fatal(err)
	}
	return mustCompileFile(tb, "testdata/flags.json", data)
}

// mustCompileFile parses and compiles a flagd file as the provider does.
func mustCompileFile(tb testing.TB, name string, data []byte) *evaluation.Snapshot {
	tb.Helper()
	set, err := flagd.Parse(name, data)
	if err != nil {
		tb.Fatal(err)
	}
	snap, err := evaluation.Compile(set)
	if err != nil {
		tb.Fatal(err)
	}
	return snap
}

// eachExposures runs fn as a sub-benchmark on a provider of srv with
// exposures on ("exposures") and off ("no-exposures").
func eachExposures(b *testing.B, srv *testServer, fn func(b *testing.B, p *provider.Provider)) {
	for _, exposures := range []bool{true, false} {
		name := "exposures"
		if !exposures {
			name = "no-exposures"
		}
		b.Run(name, func(b *testing.B) {
			p := srv.NewProvider()
			p.NoExposures = !exposures
			MustInit(b, p)
			fn(b, p)
		})
	}
}

func BenchmarkEngineBoolean(b *testing.B) {
	snap := mustCompile(b)
	b.ReportAllocs()
	var v bool
	for b.Loop() {
		v, _ = evaluation.ResolveBool(snap.Evaluate("dark-mode", benchCtx), true)
	}
	if v {
		b.Fatal("dark-mode = true, want false")
	}
}

func BenchmarkProviderBoolean(b *testing.B) {
	srv := MustServe(b)
	ctx := context.Background()
	eachExposures(b, srv, func(b *testing.B, p *provider.Provider) {
		b.ReportAllocs()
		var v bool
		for b.Loop() {
			v = p.BooleanEvaluation(ctx, "dark-mode", true, benchCtx).Value
		}
		if v {
			b.Fatal("dark-mode = true, want false")
		}
	})
	// For scale: the same evaluation through the OpenFeature SDK client,
	// whose own work (context merging, hooks, event state) dominates.
	b.Run("sdk-client", func(b *testing.B) {
		p := srv.NewProvider()
		if err := openfeature.SetNamedProviderAndWait(b.Name(), p); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(p.Shutdown)
		c := openfeature.NewClient(b.Name())
		ec := openfeature.NewEvaluationContext("user-1", map[string]any{"email": "ann@example.org"})
		b.ReportAllocs()
		for b.Loop() {
			if v, _ := c.BooleanValue(ctx, "dark-mode", true, ec); v {
				b.Fatal("dark-mode = true, want false")
			}
		}
	})
}

// BenchmarkProviderOverhead alternates blocks of engine and provider
// evaluations (exposures on) and reports the median of each and of their
// difference per block, which a busy machine disturbs far less than two
// separate benchmarks:
//
//	go test ./provider -run '^$' -bench Overhead -benchtime 2s
func BenchmarkProviderOverhead(b *testing.B) {
	snap := mustCompile(b)
	srv := MustServe(b)
	eachExposures(b, srv, func(b *testing.B, p *provider.Provider) { benchOverhead(b, snap, p) })
}

func benchOverhead(b *testing.B, snap *evaluation.Snapshot, p *provider.Provider) {
	ctx := context.Background()
	const block = 2000
	var engine, prov, diff []float64
	var sink bool
	b.ResetTimer()
	for done := 0; done < b.N; done += block {
		t0 := time.Now()
		for range block {
			v, _ := evaluation.ResolveBool(snap.Evaluate("dark-mode", benchCtx), true)
			sink = sink || v
		}
		t1 := time.Now()
		for range block {
			sink = sink || p.BooleanEvaluation(ctx, "dark-mode", true, benchCtx).Value
		}
		t2 := time.Now()
		e, q := float64(t1.Sub(t0))/block, float64(t2.Sub(t1))/block
		engine, prov, diff = append(engine, e), append(prov, q), append(diff, q-e)
	}
	if sink {
		b.Fatal("dark-mode = true, want false")
	}
	median := func(xs []float64) float64 { slices.Sort(xs); return xs[len(xs)/2] }
	b.ReportMetric(median(engine), "engine-ns/eval")
	b.ReportMetric(median(prov), "provider-ns/eval")
	b.ReportMetric(median(diff), "overhead-ns/eval")
	b.ReportMetric(0, "ns/op") // an op is two evaluations here; the metrics above say it all
}

var fanoutClients = flag.Int("fanout", 1000, "stream clients of TestFanout1000 and TestFanout1000Streams")

// logSpread logs how long the slowest and the typical client took.
func logSpread(t *testing.T, what string, got []time.Duration) {
	t.Helper()
	slices.Sort(got)
	n := len(got)
	q := func(f float64) time.Duration { return got[int(f*float64(n-1))].Round(time.Millisecond) }
	t.Logf("change reached all %d %s in %s (p50 %s, p90 %s, p99 %s)", n, what, q(1), q(0.5), q(0.9), q(0.99))
}

// changeFlagAndWait starts n waiters, changes dark-mode once they all
// wait, and returns how long after the change each wait(i) returned: -1
// when it returned false (it gave up).
func changeFlagAndWait(t *testing.T, srv *testServer, n int, wait func(i int) bool) []time.Duration {
	t.Helper()
	got := make([]time.Duration, n)
	var wg sync.WaitGroup
	var start time.Time
	ready := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-ready
			if !wait(i) {
				got[i] = -1
				return
			}
			got[i] = time.Since(start)
		}()
	}
	def := `{"state":"ENABLED","variants":{"on":true,"off":false},"defaultVariant":"on"}`
	start = time.Now()
	close(ready)
	if _, err := srv.Client().PutFlag(context.Background(), testEnv, "dark-mode", json.RawMessage(def), 0, "fanout"); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	return got
}

// TestFanout1000Streams is TestFanout1000 with bare stream readers instead
// of providers: it measures the server's fan-out alone, without 1,000
// clients parsing and compiling the new set on the same two cores:
//
//	go test ./provider -run TestFanout1000Streams -v [-fanout 1000]
func TestFanout1000Streams(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 1,000 connections")
	}
	n := *fanoutClients
	srv := MustServe(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	readers := make([]*bufio.Reader, n)
	// nextID reads events until one with an id and returns that id.
	nextID := func(br *bufio.Reader) (string, error) {
		id := ""
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return "", err
			}
			line = strings.TrimRight(line, "\r\n")
			if rest, ok := strings.CutPrefix(line, "id: "); ok {
				id = rest
			}
			if line == "" && id != "" {
				return id, nil
			}
		}
	}
	first := ""
	for i := range readers {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/api/v1/environments/"+testEnv+"/stream", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+srv.Eval)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
		defer resp.Body.Close()
		br := bufio.NewReaderSize(resp.Body, 64<<10)
		id, err := nextID(br)
		if err != nil {
			t.Fatalf("client %d: first set: %v", i, err)
		}
		first = id
		readers[i] = br
	}

	ids := make([]string, n)
	stop := time.AfterFunc(60*time.Second, cancel) // unblocks the readers
	defer stop.Stop()
	got := changeFlagAndWait(t, srv, n, func(i int) bool {
		id, err := nextID(readers[i])
		ids[i] = id
		return err == nil
	})
	for i := range n {
		if got[i] < 0 || ids[i] == "" || ids[i] == first {
			t.Fatalf("client %d: got id %q after %s, want a new version after %s", i, ids[i], got[i], first)
		}
	}
	logSpread(t, "stream clients", got)
}

// TestFanout1000 measures how long a change takes to reach 1,000 providers
// (each its own stream connection) from the moment the admin request is
// sent, and checks that every one of them applied it. The figures are
// logged, not asserted:
//
//	go test ./provider -run TestFanout1000 -v [-fanout 1000]
func TestFanout1000(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 1,000 connections")
	}
	n := *fanoutClients
	srv := MustServe(t)
	providers := make([]*provider.Provider, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	errs := make(chan error, n)
	for i := range providers {
		p := srv.NewProvider()
		p.FlushInterval = time.Minute
		providers[i] = p
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := p.Init(openfeature.EvaluationContext{}); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	defer func() {
		for _, p := range providers {
			wg.Add(1)
			go func() { defer wg.Done(); p.Shutdown() }()
		}
		wg.Wait()
	}()
	close(errs)
	for err := range errs {
		t.Fatalf("Init: %v", err)
	}

	got := changeFlagAndWait(t, srv, n, func(i int) bool {
		timeout := time.After(60 * time.Second)
		for {
			select {
			case ev := <-providers[i].EventChannel():
				if ev.EventType == openfeature.ProviderConfigChange {
					return true
				}
			case <-timeout:
				return false
			}
		}
	})

	missed := 0
	for i, p := range providers {
		if got[i] < 0 || !p.BooleanEvaluation(context.Background(), "dark-mode", false, nil).Value {
			missed++
		}
	}
	if missed > 0 {
		t.Fatalf("%d of %d providers did not apply the change", missed, n)
	}
	logSpread(t, "providers", got)
}
