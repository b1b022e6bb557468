package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/termchart"
)

// sample is one look at the server process.
type sample struct {
	at                    time.Duration
	rssMiB, heapMiB       float64
	goroutines, fds, open float64 // open: connections the server counts
}

// sampleLoop samples pid every interval until ctx ends, printing each
// sample as it is taken.
func sampleLoop(ctx context.Context, pid int, d *driver, interval time.Duration, out io.Writer) []sample {
	start := time.Now()
	var samples []sample
	fmt.Fprintf(out, "%8s %9s %9s %10s %6s %6s %12s %10s %8s %8s %8s\n", "t", "rss MiB", "heap MiB", "goroutines", "fds", "conns", "ofrep", "events", "writes", "streams", "failures")
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return samples
		case <-tick.C:
		}
		s, err := take(pid, d.base)
		if ctx.Err() != nil {
			return samples // taken while the clients stop: not a sample of the load
		}
		if err != nil {
			fmt.Fprintf(out, "soak: sampling: %v\n", err)
			continue
		}
		s.at = time.Since(start).Round(time.Second)
		samples = append(samples, s)
		fmt.Fprintf(out, "%8s %9.1f %9.1f %10.0f %6.0f %6.0f %12d %10d %8d %8d %8d\n", s.at, s.rssMiB, s.heapMiB, s.goroutines, s.fds, s.open,
			d.ofrepOK.Load(), d.events.Load(), d.writes.Load(), d.streamConnects.Load(), d.failures.Load())
	}
}

func take(pid int, base string) (sample, error) {
	var s sample
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, err
	}
	for line := range strings.SplitSeq(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			s.rssMiB = kb / 1024
		}
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return s, err
	}
	s.fds = float64(len(fds))
	m, err := metrics(base)
	if err != nil {
		return s, err
	}
	s.goroutines, s.heapMiB, s.open = m["go_goroutines"], m["go_memstats_heap_inuse_bytes"]/(1<<20), m["valueloop_http_connections"]
	return s, nil
}

// metrics reads the unlabelled series of /metrics.
func metrics(base string) (map[string]float64, error) {
	resp, err := httpClient.Get(base + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, v, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(name, "#") || strings.Contains(name, "{") {
			continue
		}
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			out[name] = f
		}
	}
	return out, sc.Err()
}

// summarize prints, per series, its range after the warm-up, the change
// from the first sample after the warm-up to the last, and a sparkline of
// every sample (from zero, so that a flat series looks flat).
func summarize(out io.Writer, samples []sample, warmup time.Duration, d *driver) {
	fmt.Fprintf(out, "\nsoak: %d samples; done: %s OFREP bulk evaluations, %s events, %s admin writes, %s stream connections, %s stream events, %d failures\n",
		len(samples), valueloop.GroupDigits(d.ofrepOK.Load()), valueloop.GroupDigits(d.events.Load()), valueloop.GroupDigits(d.writes.Load()),
		valueloop.GroupDigits(d.streamConnects.Load()), valueloop.GroupDigits(d.streamEvents.Load()), d.failures.Load())
	if d.lastFailure != "" {
		fmt.Fprintf(out, "soak: last failure: %s\n", d.lastFailure)
	}
	var after []sample
	for _, s := range samples {
		if s.at >= warmup {
			after = append(after, s)
		}
	}
	if len(after) < 2 {
		fmt.Fprintf(out, "soak: fewer than two samples after the %s warm-up: no summary\n", warmup)
		return
	}
	fmt.Fprintf(out, "after the %s warm-up (%d samples):\n", warmup, len(after))
	series := []struct {
		name string
		get  func(sample) float64
	}{
		{"rss MiB", func(s sample) float64 { return s.rssMiB }},
		{"heap MiB", func(s sample) float64 { return s.heapMiB }},
		{"goroutines", func(s sample) float64 { return s.goroutines }},
		{"fds", func(s sample) float64 { return s.fds }},
		{"connections", func(s sample) float64 { return s.open }},
	}
	for _, se := range series {
		var vals []float64
		var ok []bool
		for _, s := range samples {
			vals, ok = append(vals, se.get(s)), append(ok, true)
		}
		lo, hi := se.get(after[0]), se.get(after[0])
		for _, s := range after {
			lo, hi = min(lo, se.get(s)), max(hi, se.get(s))
		}
		first, last := se.get(after[0]), se.get(after[len(after)-1])
		change := 0.0
		if first != 0 {
			change = (last - first) / first * 100
		}
		fmt.Fprintf(out, "  %-11s %9.1f – %-9.1f first %9.1f last %9.1f (%+.1f%%)  %s\n", se.name, lo, hi, first, last, change, termchart.Sparkline(vals, ok, 80))
	}
}
