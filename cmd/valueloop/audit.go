package main

import (
	"context"
	"fmt"
	"time"

	"github.com/valueloop/valueloop"
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
	_, c, err := cf.parse(e, fs, args)
	if err != nil {
		return err
	}
	entries, err := c.Audit(ctx, f)
	if err != nil {
		return err
	}
	if cf.output == "json" {
		return writeJSONOut(e, entries)
	}
	for _, en := range entries {
		fmt.Fprintf(e.stdout, "#%d %s %s %s %s/%s", en.ID, en.At.Local().Format(time.DateTime), en.Actor, en.Action, orDash(en.Environment), en.Target)
		if en.Reason != "" {
			fmt.Fprintf(e.stdout, " — %s", en.Reason)
		}
		fmt.Fprintln(e.stdout)
		for _, op := range en.Diff {
			if op.Path == "" {
				continue // a whole creation or deletion: the action says it
			}
			fmt.Fprintf(e.stdout, "    %s\n", op)
		}
	}
	if n := len(entries); n > 0 && n == f.Limit {
		fmt.Fprintf(e.stderr, "Older entries: add --before %d for the next page.\n", entries[n-1].ID)
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
