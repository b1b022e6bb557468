package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/client"
)

func auditCommand() *command {
	return &command{name: "audit", args: "[--env ENV] [--flag KEY] [--actor NAME] [--limit N] [--before ID]",
		summary: "show the audit trail: who changed what, when and why", run: runAudit}
}

func runAudit(ctx context.Context, e *cliEnv, args []string) error {
	fs := newFlagSet(e, "audit")
	cf := addClientFlags(e, fs)
	var f valueloop.AuditFilter
	fs.StringVar(&f.Environment, "env", "", "only this environment")
	fs.StringVar(&f.Target, "flag", "", "only this flag")
	fs.StringVar(&f.Actor, "actor", "", "only changes by this token name")
	fs.IntVar(&f.Limit, "limit", 20, "at most this many entries (1-1000)")
	fs.Int64Var(&f.BeforeID, "before", 0, "only entries older than this `ID` (the next page: the last ID shown)")
	c, err := cf.parseNoArgs(e, fs, args)
	if err != nil {
		return err
	}
	if err := checkLimit(f.Limit); err != nil {
		return err
	}
	entries, err := c.Audit(ctx, f)
	if err != nil {
		return err
	}
	if cf.output == "json" {
		return writeJSONOut(e, entries)
	}
	if len(entries) == 0 {
		fmt.Fprintln(e.stdout, "No audit entries match.")
		return nil
	}
	writeAudit(e.stdout, entries)
	nextPageHint(e, "entries", len(entries), f.Limit, func() int64 { return entries[len(entries)-1].ID })
	return nil
}

// nextPageHint says, on stderr, how to read the next page when a list of
// what came back filled its page of limit: with --before the last ID.
func nextPageHint(e *cliEnv, what string, n, limit int, lastID func() int64) {
	if n > 0 && n == limit {
		fmt.Fprintf(e.stderr, "Older %s: add --before %d for the next page.\n", what, lastID())
	}
}

// writeAudit writes the entries, each with its diff.
func writeAudit(w io.Writer, entries []client.AuditEntry) {
	for _, en := range entries {
		fmt.Fprintf(w, "#%d %s %s %s %s/%s", en.ID, en.At.UTC().Format(time.DateTime+" UTC"), en.Actor, en.Action, orDash(en.Environment), en.Target)
		if en.Reason != "" {
			fmt.Fprintf(w, " — %s", oneLine(en.Reason))
		}
		fmt.Fprintln(w)
		for _, op := range en.Diff {
			if op.Path == "" {
				continue // a whole creation or deletion: the action says it
			}
			fmt.Fprintf(w, "    %s\n", op)
		}
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// checkLimit refuses a --limit the server's pages cannot hold: 0 or less
// would be sent as no limit and answered with the server's default page.
func checkLimit(n int) error {
	if n < 1 || n > 1000 {
		return usageErrorf("--limit: must be from 1 to 1000, got %d", n)
	}
	return nil
}
