// Command soak is the soak test of Valueloop (docs/operations.md, "Soak
// test"): it starts `valueloop serve --demo` on a fresh data directory and
// drives it with OFREP evaluations, event uploads, flag streams and admin
// writes together for a while, sampling the server's resident memory,
// goroutines and open file descriptors every interval. At the end it
// prints a summary: each series' range after the warm-up and the change
// from the first sample after it to the last, with a sparkline.
//
//	go run ./bench/soak -duration 30m -interval 30s
//
// It needs Linux (/proc) and a valueloop binary (built from this checkout
// when -bin is not given).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"time"
)

type options struct {
	bin                 string
	duration, interval  time.Duration
	warmup              time.Duration
	ofrep, uploads      int // concurrent clients
	streams             int
	writeEvery          time.Duration
	eventsPerUpload     int
	pauseOfrep, pauseUp time.Duration
}

func main() {
	var o options
	flag.StringVar(&o.bin, "bin", "", "valueloop `BINARY` to run (default: build ./cmd/valueloop)")
	flag.DurationVar(&o.duration, "duration", 30*time.Minute, "how long to run")
	flag.DurationVar(&o.interval, "interval", 30*time.Second, "how often to sample the server")
	flag.DurationVar(&o.warmup, "warmup", 5*time.Minute, "samples before this are left out of the summary's ranges")
	flag.IntVar(&o.ofrep, "ofrep", 4, "concurrent OFREP clients (bulk evaluations)")
	flag.IntVar(&o.uploads, "uploads", 2, "concurrent event uploaders")
	flag.IntVar(&o.streams, "streams", 50, "open flag streams (reconnected when they end)")
	flag.DurationVar(&o.writeEvery, "write-every", time.Second, "pause between admin writes (a flag toggled, a token created and revoked)")
	flag.IntVar(&o.eventsPerUpload, "events", 500, "events per upload")
	flag.DurationVar(&o.pauseOfrep, "ofrep-pause", 10*time.Millisecond, "pause between one OFREP client's requests")
	flag.DurationVar(&o.pauseUp, "upload-pause", time.Second, "pause between one uploader's requests")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("soak: ")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, o, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, o options, out io.Writer) error {
	work, err := os.MkdirTemp("", "valueloop-soak-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	if o.bin == "" {
		o.bin = filepath.Join(work, "valueloop")
		build := exec.CommandContext(ctx, "go", "build", "-o", o.bin, "./cmd/valueloop")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("building valueloop: %w", err)
		}
	}
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	const admin = "soak-admin-token-0123456789abcdef"
	srv := exec.Command(o.bin, "serve", "--demo", "--data", filepath.Join(work, "data"), "--addr", addr, "--log-level", "warn")
	srv.Env = append(os.Environ(), "VALUELOOP_ADMIN_TOKEN="+admin)
	srv.Stdout, srv.Stderr = os.Stderr, os.Stderr
	if err := srv.Start(); err != nil {
		return err
	}
	defer func() {
		srv.Process.Signal(os.Interrupt)
		srv.Wait()
	}()
	d := &driver{base: "http://" + addr, admin: admin, o: o}
	if err := d.setup(ctx); err != nil {
		return err
	}
	fmt.Fprintf(out, "soak: server pid %d on %s; %s of %d OFREP clients, %d uploaders (%d events each), %d streams, an admin write every %s; a sample every %s\n",
		srv.Process.Pid, addr, o.duration, o.ofrep, o.uploads, o.eventsPerUpload, o.streams, o.writeEvery, o.interval)
	runCtx, cancel := context.WithTimeout(ctx, o.duration)
	defer cancel()
	d.start(runCtx)
	samples := sampleLoop(runCtx, srv.Process.Pid, d, o.interval, out)
	cancel()
	d.wait()
	summarize(out, samples, o.warmup, d)
	if ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return errors.New("interrupted")
	}
	return nil
}

// freeAddr returns a loopback address with a port free now.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
