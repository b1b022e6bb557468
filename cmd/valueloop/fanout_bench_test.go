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

	"buf.build/gen/go/open-feature/flagd/connectrpc/go/flagd/sync/v1/syncv1connect"
	syncv1 "buf.build/gen/go/open-feature/flagd/protocolbuffers/go/flagd/sync/v1"
	"connectrpc.com/connect"

	"github.com/valueloop/valueloop/client"
)

// BenchmarkFanOut measures the fan-out of a flag change: a real server
// process with VALUELOOP_FANOUT_STREAMS (default 10,000) streams of the
// production environment connected, 100 per unencrypted HTTP/2 connection
// (the server accepts 4,096 connections by default): SSE streams of
// /api/v1/environments/production/stream (sse), or flagd.sync.v1 SyncFlags
// streams, what flagd providers in in-process mode hold (sync). Each
// iteration changes a flag and waits until every stream has the new set. It
// reports the time from the change to the last stream (s/update) and the
// server's resident memory per idle stream (KiB/stream: RSS with the streams
// connected minus RSS before, over the number of streams).
//
//	go test ./cmd/valueloop -run '^$' -bench FanOut -benchtime 3x
func BenchmarkFanOut(b *testing.B) {
	b.Run("sse", func(b *testing.B) { benchmarkFanOut(b, followStream) })
	b.Run("sync", func(b *testing.B) { benchmarkFanOut(b, followSync) })
}

// A follower reads one stream and sends to seq the sequence number of every
// flag set it receives: 0 for the first, 1 for the next, and so on; -1 when
// it cannot connect.
type follower func(ctx context.Context, hc *http.Client, url string, seq chan<- int64)

func benchmarkFanOut(b *testing.B, follow follower) {
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
			go follow(ctx, hc, url, ids)
		}
	}
	// Every stream sends the current set first.
	for range n {
		if <-ids < 0 {
			b.Fatal("a stream could not connect")
		}
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
		for got := 0; got < n; {
			if <-ids == int64(i+1) {
				got++
			}
		}
		total += time.Since(start)
	}
	b.ReportMetric(total.Seconds()/float64(b.N), "s/update")
	b.ReportMetric(perStream, "KiB/stream") // after ResetTimer, which clears it
	b.ReportMetric(0, "ns/op")
}

// followStream follows the SSE stream of production.
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
	var seq int64
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "id: ") {
			ids <- seq
			seq++
		}
	}
}

// followSync follows a flagd.sync.v1 SyncFlags stream of production.
func followSync(ctx context.Context, hc *http.Client, url string, ids chan<- int64) {
	c := syncv1connect.NewFlagSyncServiceClient(hc, url, connect.WithGRPC())
	req := connect.NewRequest(&syncv1.SyncFlagsRequest{})
	req.Header().Set("Authorization", "Bearer "+testAdminToken)
	req.Header().Set("Flagd-Selector", "production")
	stream, err := c.SyncFlags(ctx, req)
	if err != nil {
		ids <- -1
		return
	}
	defer stream.Close()
	var seq int64
	for stream.Receive() {
		ids <- seq
		seq++
	}
	if seq == 0 {
		ids <- -1
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
