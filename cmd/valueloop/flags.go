package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/client"
	"github.com/valueloop/valueloop/termchart"
)

func flagsCommand() *command {
	return &command{name: "flags", summary: "manage the flags of an environment", subs: []*command{
		{name: "list", args: "--env ENV", summary: "list the flags of an environment", run: runFlagsList},
		{name: "get", args: "KEY --env ENV", summary: "print a flag's definition as JSON", run: runFlagsGet},
		{name: "set", args: "KEY --env ENV -f FILE|- [--if-version N] [--reason TEXT]", summary: "create or replace a flag from its flagd definition", run: runFlagsSet},
		{name: "enable", args: "KEY --env ENV [--reason TEXT]", summary: "turn a flag on", run: runFlagsState("enable")},
		{name: "disable", args: "KEY --env ENV [--reason TEXT]", summary: "turn a flag off: it serves the code default", run: runFlagsState("disable")},
		{name: "delete", args: "KEY --env ENV [--if-version N] [--reason TEXT]", summary: "delete a flag", run: runFlagsDelete},
		{name: "apply", args: "-f FILE --env ENV [--dry-run] [--prune] [--reason TEXT]", summary: "make an environment's flags those of a flagd file", run: runFlagsApply},
		{name: "export", args: "--env ENV [-f FILE]", summary: "write an environment's flags as a flagd file", run: runFlagsExport},
	}}
}

// flagsCmd is what every flags subcommand shares: the client flags and
// --env, and the flag key it works on.
type flagsCmd struct {
	e   *cliEnv
	sub string
	fs  *flag.FlagSet
	cf  *clientFlags
	env *string
	pos []string
}

func newFlagsCmd(e *cliEnv, sub string) *flagsCmd {
	fs, cf, env := envClientFlags(e, "flags "+sub)
	return &flagsCmd{e: e, sub: sub, fs: fs, cf: cf, env: env}
}

// parse parses args and returns the client.
func (f *flagsCmd) parse(args []string) (*client.Client, error) {
	pos, err := f.e.parseArgs(f.fs, args)
	if err != nil {
		return nil, err
	}
	f.pos = pos
	if *f.env == "" {
		return nil, usageErrorf("flags %s: --env is required (or set VALUELOOP_ENV)", f.sub)
	}
	return f.cf.client()
}

// parseNoArgs parses args that name no flag, and returns the client.
func (f *flagsCmd) parseNoArgs(args []string) (*client.Client, error) {
	c, err := f.parse(args)
	if err == nil && len(f.pos) > 0 {
		return nil, noArgsError("flags "+f.sub, f.pos)
	}
	return c, err
}

// parseKey parses args that name one flag key, and returns the client
// and the key.
func (f *flagsCmd) parseKey(args []string) (*client.Client, string, error) {
	c, err := f.parse(args)
	if err != nil {
		return nil, "", err
	}
	if len(f.pos) != 1 {
		return nil, "", usageErrorf("flags %s: want one flag key, e.g. 'valueloop flags %s new-checkout --env %s'", f.sub, f.sub, *f.env)
	}
	return c, f.pos[0], nil
}

func (f *flagsCmd) reason() *string {
	return f.fs.String("reason", "", "why: recorded in the audit trail")
}

func (f *flagsCmd) ifVersion() *int64 {
	return f.fs.Int64("if-version", 0, "only if the flag is still at this version")
}

func runFlagsList(ctx context.Context, e *cliEnv, args []string) error {
	f := newFlagsCmd(e, "list")
	c, err := f.parseNoArgs(args)
	if err != nil {
		return err
	}
	list, err := c.Flags(ctx, *f.env)
	if err != nil {
		return err
	}
	if f.cf.output == "json" {
		return writeJSONOut(e, list)
	}
	tw := termchart.NewTable(e.stdout)
	fmt.Fprintln(tw, "KEY\tSTATE\tDEFAULT\tVARIANTS\tTARGETING\tVERSION")
	for _, fl := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\n", fl.Key, fl.State, deref(fl.DefaultVariant), variantNames(fl.Variants), yesNo(len(fl.Targeting) > 0), fl.Version)
	}
	return tw.Flush()
}

func runFlagsGet(ctx context.Context, e *cliEnv, args []string) error {
	f := newFlagsCmd(e, "get")
	c, key, err := f.parseKey(args)
	if err != nil {
		return err
	}
	fl, err := c.GetFlag(ctx, *f.env, key)
	if err != nil {
		return err
	}
	return writeJSONOut(e, fl)
}

func runFlagsSet(ctx context.Context, e *cliEnv, args []string) error {
	f := newFlagsCmd(e, "set")
	file := f.fs.String("f", "", "the flag's flagd definition as JSON (- for standard input)")
	ifVersion, reason := f.ifVersion(), f.reason()
	c, key, err := f.parseKey(args)
	if err != nil {
		return err
	}
	if *file == "" {
		return usageErrorf("flags set: -f FILE is required (the flag's flagd definition as JSON; - for standard input)")
	}
	def, err := readInput(e, "-f", *file)
	if err != nil {
		return err
	}
	fl, err := c.PutFlag(ctx, *f.env, key, def, *ifVersion, *reason)
	if err != nil {
		return inFile(*file, err)
	}
	return done(e, f.cf, fl, fmt.Sprintf("Saved %s in %s (version %d).", key, *f.env, fl.Version))
}

// runFlagsState returns enable or disable (sub).
func runFlagsState(sub string) func(ctx context.Context, e *cliEnv, args []string) error {
	return func(ctx context.Context, e *cliEnv, args []string) error {
		f := newFlagsCmd(e, sub)
		reason := f.reason()
		c, key, err := f.parseKey(args)
		if err != nil {
			return err
		}
		v, err := c.SetState(ctx, *f.env, key, sub == "enable", *reason)
		if err != nil {
			return err
		}
		return done(e, f.cf, map[string]any{"flag": key, "environment": *f.env, "enabled": sub == "enable", "version": v},
			fmt.Sprintf("%s %sd in %s (version %d).", key, sub, *f.env, v))
	}
}

func runFlagsDelete(ctx context.Context, e *cliEnv, args []string) error {
	f := newFlagsCmd(e, "delete")
	ifVersion, reason := f.ifVersion(), f.reason()
	c, key, err := f.parseKey(args)
	if err != nil {
		return err
	}
	if err := c.DeleteFlag(ctx, *f.env, key, *ifVersion, *reason); err != nil {
		return err
	}
	return done(e, f.cf, map[string]any{"deleted": key, "environment": *f.env}, fmt.Sprintf("Deleted %s from %s.", key, *f.env))
}

func runFlagsApply(ctx context.Context, e *cliEnv, args []string) error {
	f := newFlagsCmd(e, "apply")
	file := f.fs.String("f", "", "a flagd file, JSON or YAML (- for standard input)")
	dryRun := f.fs.Bool("dry-run", false, "show what would change, change nothing")
	prune := f.fs.Bool("prune", false, "remove flags that the file lacks")
	reason := f.reason()
	c, err := f.parse(args)
	if err != nil {
		return err
	}
	if *file == "" {
		return usageErrorf("flags apply: -f FILE is required (a flagd file, JSON or YAML; - for standard input)")
	}
	data, err := readInput(e, "-f", *file)
	if err != nil {
		return err
	}
	yaml := strings.HasSuffix(*file, ".yaml") || strings.HasSuffix(*file, ".yml")
	plan, err := c.ApplyFlagd(ctx, *f.env, data, yaml, true, *prune, *reason)
	if err != nil {
		return inFile(*file, err)
	}
	if f.cf.output == "json" && (*dryRun || isEmpty(plan.Change)) {
		return writeJSONOut(e, plan)
	}
	if f.cf.output != "json" {
		printChange(e.stdout, plan.Change)
	}
	if *dryRun || isEmpty(plan.Change) {
		if isEmpty(plan.Change) {
			fmt.Fprintf(e.stderr, "%s is already up to date.\n", *f.env)
		}
		return nil
	}
	res, err := c.ApplyFlagd(ctx, *f.env, data, yaml, false, *prune, *reason)
	if err != nil {
		return err
	}
	return done(e, f.cf, res, fmt.Sprintf("Applied to %s (version %d).", *f.env, res.Change.Version))
}

func runFlagsExport(ctx context.Context, e *cliEnv, args []string) error {
	f := newFlagsCmd(e, "export")
	file := f.fs.String("f", "", "file to write (default: standard output)")
	c, err := f.parseNoArgs(args)
	if err != nil {
		return err
	}
	data, err := c.ExportFlagd(ctx, *f.env)
	if err != nil {
		return err
	}
	if *file == "" || *file == "-" {
		_, err = e.dataOut().Write(data)
		return err
	}
	return os.WriteFile(*file, data, 0o644)
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

// inFile names the file a definition came from when the server refuses
// it, as a whole (not valid JSON, say) or problem by problem: its answer
// cannot know the file's name, and named its own ("request body",
// "request.yaml", "api") in the problems, which the user never wrote.
func inFile(name string, err error) error {
	if name == "" || name == "-" {
		return err
	}
	if ve, ok := errors.AsType[*valueloop.ValidationError](err); ok {
		named := &valueloop.ValidationError{Problems: slices.Clone(ve.Problems)}
		for i := range named.Problems {
			named.Problems[i].Source = name
		}
		return named
	}
	var ae *valueloop.Error
	if !errors.As(err, &ae) || ae.Code != valueloop.EINVALID || ae.Field != "" {
		return err
	}
	return valueloop.Errorf(valueloop.EINVALID, "%s: %s", name, ae.Message)
}

// readInput reads the file name, or standard input for "-", given by the
// flag flagName; an error names the flag.
func readInput(e *cliEnv, flagName, name string) ([]byte, error) {
	if name == "" {
		return nil, usageErrorf("%s FILE is required (- for standard input)", flagName)
	}
	var data []byte
	var err error
	if name == "-" {
		data, err = io.ReadAll(e.stdin)
	} else if data, err = os.ReadFile(name); err != nil {
		return nil, usageErrorf("%s: cannot read %s: %v", flagName, name, err)
	}
	// Nothing read is a mistake (a pipe from a command that failed, a
	// redirect of the wrong file), better named here than as the
	// server's "unexpected end of JSON input".
	if err == nil && len(bytes.TrimSpace(data)) == 0 {
		what := "the file"
		if name == "-" {
			what = "standard input"
		}
		return nil, usageErrorf("%s %s: %s is empty", flagName, name, what)
	}
	return data, err
}
