package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
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
// it cannot connect, after keeping why in fanOutFailure.
type follower func(ctx context.Context, hc *http.Client, url string, seq chan<- int64)

// fanOutFailure keeps the first reason a stream could not connect, for the
// benchmark to report.
var fanOutFailure struct {
	once sync.Once
	err  error
}

// cannotConnect records why a stream could not connect and tells seq.
func cannotConnect(seq chan<- int64, err error) {
	fanOutFailure.once.Do(func() { fanOutFailure.err = err })
	seq <- -1
}

func benchmarkFanOut(b *testing.B, follow follower) {
	n := 10_000
	if v, err := strconv.Atoi(os.Getenv("VALUELOOP_FANOUT_STREAMS")); err == nil && v > 0 {
		n = v
	}
	raiseFileLimit(b)
	bin, data := buildBinary(b), filepath.Join(b.TempDir(), "data")
	// The server holds 2,048 SSE streams by default; this many need more.
	cmd, url := startProcess(b, bin, data, "--max-streams", strconv.Itoa(n))
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
	// One stream per client first, and the others once it has its first
	// set: a client that starts 100 requests on no connection dials 100
	// connections (Go's transport does not wait for the first to offer
	// HTTP/2), and 10,000 streams would then take 10,000 connections, past
	// the server's --max-connections (4,096), which closes the excess at
	// once. That, not the streams, is why streams failed to connect.
	var clients []*http.Client
	for i := 0; i < n; i += perConn {
		tr := &http.Transport{Protocols: new(http.Protocols)}
		tr.Protocols.SetUnencryptedHTTP2(true)
		hc := &http.Client{Transport: tr}
		clients = append(clients, hc)
		go follow(ctx, hc, url, ids)
	}
	for range clients {
		if <-ids < 0 {
			b.Fatalf("a stream could not connect: %v (server: %s)", fanOutFailure.err, serverLimits(url))
		}
	}
	for i, hc := range clients {
		for range min(perConn, n-i*perConn) - 1 {
			go follow(ctx, hc, url, ids)
		}
	}
	// Every stream sends the current set first.
	for range n - len(clients) {
		if <-ids < 0 {
			b.Fatalf("a stream could not connect: %v (server: %s)", fanOutFailure.err, serverLimits(url))
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
		cannotConnect(ids, err) // the benchmark fails
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		cannotConnect(ids, fmt.Errorf("HTTP %d: %s", resp.StatusCode, msg))
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
		cannotConnect(ids, err)
		return
	}
	defer stream.Close()
	var seq int64
	for stream.Receive() {
		ids <- seq
		seq++
	}
	if seq == 0 {
		cannotConnect(ids, fmt.Errorf("SyncFlags ended before its first message: %v", stream.Err()))
	}
}

// serverLimits reports the server's counts of what its limits refused, from
// /metrics, to tell why a stream could not connect.
func serverLimits(url string) string {
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	var out []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, "valueloop_http_") && !strings.HasPrefix(line, "valueloop_http_request") {
			out = append(out, line)
		}
	}
	return strings.Join(out, ", ")
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
