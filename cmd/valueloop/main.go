// Command valueloop runs the Valueloop server and administers it: flags,
// tokens, and (as they arrive) events, experiments and delivery metrics.
// Everything is wired here; no other package reads flags or the environment.
//
// The commands form a tree (commandTree in commands.go): one entry per
// command, each defined in its own file with one run function per
// subcommand. Help (-h, --help, 'valueloop help PATH') and the shell
// completion scripts are generated from that tree.
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
	os.Exit(Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Environ()))
}
