package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/valueloop/valueloop/client"
)

// BenchmarkSSEFanOut measures the fan-out of a flag change: a real server
// process with VALUELOOP_FANOUT_STREAMS (default 10,000) SSE streams of
// /api/v1/environments/production/stream connected, 100 per unencrypted
// HTTP/2 connection (the server accepts 4,096 connections by default); each
// iteration changes a flag and waits until every stream has the new set.
// It reports the time from the change to the last stream (s/update) and the
// server's resident memory per idle stream (KiB/stream: RSS with the streams
// connected minus RSS before, over the number of streams).
//
//	go test ./cmd/valueloop -run '^$' -bench SSEFanOut -benchtime 5x
func BenchmarkSSEFanOut(b *testing.B) {
	n := 10_000
	if v, err := strconv.Atoi(os.Getenv("VALUELOOP_FANOUT_STREAMS")); err == nil && v > 0 {
		n = v
	}
	raiseFileLimit(b)
	bin, data := buildBinary(b), filepath.Join(b.TempDir(), "data")
	cmd, url := startProcess(b, bin, data)
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	c := client.New(url, testAdminToken)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	def := func(v string) json.RawMessage {
		return json.RawMessage(`{"state":"ENABLED","variants":{"on":true,"off":false},"defaultVariant":"` + v + `"}`)
	}
	if _, err := c.PutFlag(ctx, "production", "fanout", def("on"), 0, "bench"); err != nil {
		b.Fatal(err)
	}
	time.Sleep(time.Second) // let the server settle before measuring its memory
	before := residentKiB(b, cmd.Process.Pid)

	ids := make(chan int64, n)
	const perConn = 100
	for i := 0; i < n; i += perConn {
		tr := &http.Transport{Protocols: new(http.Protocols)}
		tr.Protocols.SetUnencryptedHTTP2(true)
		hc := &http.Client{Transport: tr}
		for range min(perConn, n-i) {
			go followStream(ctx, hc, url, ids)
		}
	}
	// Every stream sends the current set first.
	var last int64
	for range n {
		id := <-ids
		if id < 0 {
			b.Fatal("a stream could not connect")
		}
		last = max(last, id)
	}
	time.Sleep(time.Second)
	perStream := float64(residentKiB(b, cmd.Process.Pid)-before) / float64(n)

	b.ResetTimer()
	var total time.Duration
	for i := range b.N {
		start := time.Now()
		if _, err := c.PutFlag(ctx, "production", "fanout", def([]string{"off", "on"}[i%2]), 0, "bench"); err != nil {
			b.Fatal(err)
		}
		// The event ids are the environment's versions: each stream's
		// next id above the last is the new set.
		next := last
		for got := 0; got < n; {
			if id := <-ids; id > last {
				got++
				next = max(next, id)
			}
		}
		last = next
		total += time.Since(start)
	}
	b.ReportMetric(total.Seconds()/float64(b.N), "s/update")
	b.ReportMetric(perStream, "KiB/stream") // after ResetTimer, which clears it
	b.ReportMetric(0, "ns/op")
}

// followStream reads the SSE stream of production and sends the id of every
// event to ids.
func followStream(ctx context.Context, hc *http.Client, url string, ids chan<- int64) {
	req, _ := http.NewRequestWithContext(ctx, "GET", url+"/api/v1/environments/production/stream", nil)
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	resp, err := hc.Do(req)
	if err != nil {
		ids <- -1 // the benchmark fails
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		ids <- -1
		return
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		if id, ok := strings.CutPrefix(sc.Text(), "id: "); ok {
			if v, err := strconv.ParseInt(id, 10, 64); err == nil {
				ids <- v
			}
		}
	}
}

// residentKiB reads VmRSS of a process.
func residentKiB(tb testing.TB, pid int) int64 {
	tb.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		tb.Skipf("no /proc: %v", err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kib, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kib
		}
	}
	tb.Fatal("no VmRSS in /proc status")
	return 0
}

// raiseFileLimit lifts the soft limit of open files to the hard one: the
// streams' connections (and the server's, which inherits it).
func raiseFileLimit(tb testing.TB) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		tb.Skip(err)
	}
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		tb.Skip(err)
	}
}
