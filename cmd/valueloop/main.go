// Command valueloop runs the Valueloop server and administers it: flags,
// tokens, and (as they arrive) events, experiments and delivery metrics.
// Everything is wired here; no other package reads flags or the environment.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv))
}
