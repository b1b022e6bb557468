package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/valueloop/valueloop"
)

// parseArgs parses flags that may stand before, between or after positional
// arguments (`flags get KEY --env prod`), and returns the positionals.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := parseFlags(fs, args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

const flagsUsage = `valueloop flags: manage flags of an environment.

  flags list    --env ENV
  flags get     KEY --env ENV
  flags set     KEY --env ENV -f FILE|- [--if-version N] [--reason TEXT]
  flags enable  KEY --env ENV [--reason TEXT]
  flags disable KEY --env ENV [--reason TEXT]
  flags delete  KEY --env ENV [--if-version N] [--reason TEXT]
  flags apply   -f FILE --env ENV [--dry-run] [--prune] [--reason TEXT]
  flags export  --env ENV [-f FILE]
`

func runFlags(ctx context.Context, e *cliEnv, args []string) error {
	if len(args) == 0 {
		return usageErrorf("flags: want a subcommand\n\n%s", flagsUsage)
	}
	sub := args[0]
	fs := newFlagSet(e, "flags "+sub)
	cf := addClientFlags(e, fs)
	env := fs.String("env", e.getenv("VALUELOOP_ENV"), "environment (VALUELOOP_ENV)")
	reason := fs.String("reason", "", "why: recorded in the audit trail")
	file := fs.String("f", "", "file (- for standard input)")
	ifVersion := fs.Int64("if-version", 0, "only if the flag is still at this version")
	dryRun := fs.Bool("dry-run", false, "show what would change, change nothing")
	prune := fs.Bool("prune", false, "remove flags that the file lacks")
	pos, err := parseArgs(fs, args[1:])
	if err != nil {
		return err
	}
	if *env == "" {
		return usageErrorf("flags %s: --env is required (or set VALUELOOP_ENV)", sub)
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	needKey := func() (string, error) {
		if len(pos) != 1 {
			return "", usageErrorf("flags %s: want one flag key, e.g. 'valueloop flags %s new-checkout --env %s'", sub, sub, *env)
		}
		return pos[0], nil
	}
	switch sub {
	case "list":
		list, err := c.Flags(ctx, *env)
		if err != nil {
			return err
		}
		if cf.output == "json" {
			return writeJSONOut(e, list)
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "KEY\tSTATE\tDEFAULT\tVARIANTS\tTARGETING\tVERSION")
		for _, f := range list {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\n", f.Key, f.State, deref(f.DefaultVariant), variantNames(f.Variants), yesNo(len(f.Targeting) > 0), f.Version)
		}
		return tw.Flush()
	case "get":
		key, err := needKey()
		if err != nil {
			return err
		}
		f, err := c.GetFlag(ctx, *env, key)
		if err != nil {
			return err
		}
		return writeJSONOut(e, f)
	case "set":
		key, err := needKey()
		if err != nil {
			return err
		}
		if *file == "" {
			return usageErrorf("flags set: -f FILE is required (the flag's flagd definition as JSON; - for standard input)")
		}
		def, err := readInput(e, *file)
		if err != nil {
			return err
		}
		f, err := c.PutFlag(ctx, *env, key, def, *ifVersion, *reason)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "Saved %s in %s (version %d).\n", key, *env, f.Version)
		return nil
	case "enable", "disable":
		key, err := needKey()
		if err != nil {
			return err
		}
		v, err := c.SetState(ctx, *env, key, sub == "enable", *reason)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "%s %sd in %s (version %d).\n", key, sub, *env, v)
		return nil
	case "delete":
		key, err := needKey()
		if err != nil {
			return err
		}
		if err := c.DeleteFlag(ctx, *env, key, *ifVersion, *reason); err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "Deleted %s from %s.\n", key, *env)
		return nil
	case "apply":
		if *file == "" {
			return usageErrorf("flags apply: -f FILE is required (a flagd file, JSON or YAML; - for standard input)")
		}
		data, err := readInput(e, *file)
		if err != nil {
			return err
		}
		yaml := strings.HasSuffix(*file, ".yaml") || strings.HasSuffix(*file, ".yml")
		plan, err := c.ApplyFlagd(ctx, *env, data, yaml, true, *prune, *reason)
		if err != nil {
			return err
		}
		printChange(e.stdout, plan.Change)
		if *dryRun || isEmpty(plan.Change) {
			if isEmpty(plan.Change) {
				fmt.Fprintf(e.stderr, "%s is already up to date.\n", *env)
			}
			return nil
		}
		res, err := c.ApplyFlagd(ctx, *env, data, yaml, false, *prune, *reason)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "Applied to %s (version %d).\n", *env, res.Change.Version)
		return nil
	case "export":
		data, err := c.ExportFlagd(ctx, *env)
		if err != nil {
			return err
		}
		if *file == "" || *file == "-" {
			_, err = e.stdout.Write(data)
			return err
		}
		return os.WriteFile(*file, data, 0o644)
	}
	return usageErrorf("flags: unknown subcommand %q\n\n%s", sub, flagsUsage)
}

func isEmpty(c valueloop.FlagSetChange) bool { return c.Empty() }

func printChange(w io.Writer, c valueloop.FlagSetChange) {
	for _, k := range c.Added {
		fmt.Fprintf(w, "+ %s\n", k)
	}
	for _, k := range c.Changed {
		fmt.Fprintf(w, "~ %s\n", k)
	}
	for _, k := range c.Removed {
		fmt.Fprintf(w, "- %s\n", k)
	}
	fmt.Fprintf(w, "%d to add, %d to change, %d to remove.\n", len(c.Added), len(c.Changed), len(c.Removed))
}

func deref(s *string) string {
	if s == nil {
		return "(code default)"
	}
	return *s
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "-"
}

func variantNames(v map[string]any) string {
	names := make([]string, 0, len(v))
	for k := range v {
		names = append(names, k)
	}
	sort.Strings(names)
	return strings.Join(names, ",")
}

func runAudit(ctx context.Context, e *cliEnv, args []string) error {
	fs := newFlagSet(e, "audit")
	cf := addClientFlags(e, fs)
	var f valueloop.AuditFilter
	fs.StringVar(&f.Environment, "env", "", "only this environment")
	fs.StringVar(&f.Target, "flag", "", "only this flag")
	fs.StringVar(&f.Actor, "actor", "", "only changes by this token name")
	fs.IntVar(&f.Limit, "limit", 20, "at most this many entries (1-1000)")
	if _, err := parseArgs(fs, args); err != nil {
		return err
	}
	c, err := cf.client()
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
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// readInput reads the file name, or standard input for "-".
func readInput(e *cliEnv, name string) ([]byte, error) {
	if name == "" {
		return nil, usageErrorf("-f FILE is required (- for standard input)")
	}
	if name == "-" {
		return io.ReadAll(e.stdin)
	}
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, usageErrorf("cannot read %s: %v", name, err)
	}
	return data, nil
}
