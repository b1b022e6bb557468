// Command bare is the HTTP ceiling of the OFREP load benchmark: a net/http
// server that reads the request body and writes one fixed OFREP-like answer,
// with no routing, authentication or flag evaluation. bench/ofrep.sh runs it
// beside valueloop and flagd under the same load, so their throughput can be
// read as a fraction of what net/http alone does on the same core.
//
// It is a benchmark tool, not part of valueloop.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bare:", err)
		os.Exit(1)
	}
}

// answer is what every request gets: the shape of an OFREP single-flag
// evaluation for a static boolean flag.
var answer = []byte(`{"key":"static-bool","reason":"STATIC","variant":"on","value":true,"metadata":{}}`)

// handler drains the body, as a real OFREP server must read its evaluation
// context, and writes answer.
func handler(w http.ResponseWriter, r *http.Request) {
	if _, err := io.Copy(io.Discard, r.Body); err != nil {
		http.Error(w, "reading body: "+err.Error(), http.StatusBadRequest)
		return
	}
	h := w.Header()
	h["Content-Type"] = []string{"application/json"}
	w.Write(answer)
}

func run(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("bare", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", *addr, err)
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv := &http.Server{Handler: http.HandlerFunc(handler)}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	fmt.Fprintf(stderr, "bare: listening on %s\n", ln.Addr())
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving: %w", err)
	}
	return nil
}
