package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/valueloop/valueloop/client"
	"github.com/valueloop/valueloop/experiment"
	"github.com/valueloop/valueloop/value"
)

func objectiveCommand() *command {
	return &command{name: "objective", summary: "objectives: the business metric a team wants to move, by how much, by when (docs/value.md)", subs: []*command{
		{name: "list", summary: "list the objectives", run: runObjectiveList},
		{name: "show", args: "KEY", summary: "show an objective", run: runObjectiveShow},
		{name: "set", args: "KEY [--title T] [--metric M] [--target +10%] [--horizon 2027-03-31] [--env ENV] [--description D] [--absolute]",
			summary: "create or change an objective", more: "Fields left out keep their stored values.\n", run: runObjectiveSet},
		{name: "delete", args: "KEY", summary: "delete an objective no feature bets on",
			run: runDelete("objective delete", leafKey, (*client.Client).DeleteObjective, "Objective %s deleted.")},
	}}
}

// leafClient parses the flags of the leaf at path (the client's, and those
// register adds), checks it got want arguments and returns them with a
// client.
func leafClient(e *cliEnv, path string, args []string, want int, register func(*flag.FlagSet)) ([]string, *client.Client, *clientFlags, error) {
	fs := newFlagSet(e, path)
	cf := addClientFlags(e, fs)
	if register != nil {
		register(fs)
	}
	pos, err := e.parseArgs(fs, args)
	if err != nil {
		return nil, nil, nil, err
	}
	if len(pos) != want {
		return nil, nil, nil, argCountError(path, fs, pos, want)
	}
	c, err := cf.client()
	return pos, c, cf, err
}

// leafKey is leafClient for a leaf that takes one argument, a key.
func leafKey(e *cliEnv, path string, args []string) (string, *client.Client, *clientFlags, error) {
	pos, c, cf, err := leafClient(e, path, args, 1, nil)
	if err != nil {
		return "", nil, nil, err
	}
	return pos[0], c, cf, nil
}

// runDelete returns the run of the leaf at path that deletes the one
// thing its argument names (feature delete, delivery source delete):
// name parses the args into that name and a client, del deletes it, said
// says so.
func runDelete(path string, name func(e *cliEnv, path string, args []string) (string, *client.Client, *clientFlags, error),
	del func(c *client.Client, ctx context.Context, name string) error, said string) func(ctx context.Context, e *cliEnv, args []string) error {
	return func(ctx context.Context, e *cliEnv, args []string) error {
		n, c, cf, err := name(e, path, args)
		if err != nil {
			return err
		}
		if err := del(c, ctx, n); err != nil {
			return err
		}
		return done(e, cf, map[string]any{"deleted": n}, fmt.Sprintf(said, n))
	}
}

// argCountError says what a leaf wants in place of the arguments pos: the
// names its usage line gives them (KEY), or none; a file given without -f
// is shown where it goes.
func argCountError(path string, fs *flag.FlagSet, pos []string, want int) error {
	args := ""
	if c := commandTree().lookup(path); c != nil {
		args = c.args
	}
	usage := strings.TrimSpace("valueloop " + path + " " + args)
	if want == 0 {
		if len(pos) == 1 && fs.Lookup("f") != nil {
			return usageErrorf("%s: give the file with -f: 'valueloop %s -f %s'", path, path, pos[0])
		}
		return noArgsError(path, pos)
	}
	var names []string
	for _, w := range strings.Fields(args) {
		if w == strings.ToUpper(w) && strings.Trim(w, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_") == "" {
			names = append(names, w)
		}
	}
	got := "none"
	if len(pos) > 0 {
		q := make([]string, len(pos))
		for i, p := range pos {
			q[i] = strconv.Quote(p)
		}
		got = strings.Join(q, " ")
	}
	return usageErrorf("%s: want %s, got %s; usage: %s", path, strings.Join(names[:min(want, len(names))], " "), got, usage)
}

func runObjectiveList(ctx context.Context, e *cliEnv, args []string) error {
	_, c, cf, err := leafClient(e, "objective list", args, 0, nil)
	if err != nil {
		return err
	}
	os, err := c.Objectives(ctx)
	if err != nil {
		return err
	}
	return writeList(e, cf, os, "No objectives. Create one with 'valueloop objective set KEY --title ... --metric ... --target +10% --horizon 2027-03-31'.",
		"KEY\tMETRIC\tTARGET\tHORIZON\tTITLE", func(w io.Writer, o value.Objective) {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", o.Key, o.Metric, targetText(o.Target), o.Horizon, o.Title)
		})
}

func runObjectiveShow(ctx context.Context, e *cliEnv, args []string) error {
	pos, c, cf, err := leafClient(e, "objective show", args, 1, nil)
	if err != nil {
		return err
	}
	o, err := c.ShowObjective(ctx, pos[0])
	if err != nil {
		return err
	}
	if cf.output == "json" {
		return writeJSONOut(e, o)
	}
	fmt.Fprintf(e.stdout, "%s: %s\n  moves %s by %s by %s\n", o.Key, o.Title, o.Metric, targetText(o.Target), o.Horizon)
	if o.Description != "" {
		fmt.Fprintf(e.stdout, "  %s\n", o.Description)
	}
	writeProgress(e.stdout, o.Progress)
	return nil
}

// objectiveFlags are the fields objective set may change.
type objectiveFlags struct {
	title, metric, target, horizon, env, description string
	absolute                                         bool
}

func (f *objectiveFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.title, "title", "", "title")
	fs.StringVar(&f.metric, "metric", "", "the business metric it moves: a metric key of its environment")
	fs.StringVar(&f.target, "target", "", "the move aimed at: +10% (relative), -5%, or +0.3 with --absolute")
	fs.StringVar(&f.horizon, "horizon", "", "the date to reach it by: 2027-03-31")
	fs.StringVar(&f.env, "env", "", "environment whose metrics it names (default: the production one)")
	fs.StringVar(&f.description, "description", "", "description")
	fs.BoolVar(&f.absolute, "absolute", false, "the target is an absolute move in the metric's units")
}

// objectiveFields names the flag that sets each field of an objective, for errors.
var objectiveFields = flagFields{fields: map[string]string{
	"title": "--title", "metric": "--metric", "target": "--target", "horizon": "--horizon",
	"environment": "--env", "description": "--description",
}}

// apply sets the fields given on o.
func (f *objectiveFlags) apply(o *value.Objective) error {
	setIf(&o.Title, f.title)
	setIf(&o.Metric, f.metric)
	setIf(&o.Environment, f.env)
	setIf(&o.Description, f.description)
	if f.target != "" {
		t, err := parseShare(f.target, f.absolute)
		if err != nil {
			return usageErrorf("--target: %v", err)
		}
		o.Target = value.Target{Absolute: f.absolute}
		o.Target.Value, o.Target.Direction = experiment.SplitSigned(t)
	}
	if f.horizon != "" {
		d, err := value.ParseDate(f.horizon)
		if err != nil {
			return usageErrorf("--horizon: want a date such as 2027-03-31, got %q", f.horizon)
		}
		o.Horizon = d
	}
	return nil
}

func setIf(dst *string, v string) {
	if v != "" {
		*dst = v
	}
}

func runObjectiveSet(ctx context.Context, e *cliEnv, args []string) error {
	var f objectiveFlags
	pos, c, cf, err := leafClient(e, "objective set", args, 1, f.register)
	if err != nil {
		return err
	}
	records := recordSet[value.ShownObjective, value.Objective]{what: "objective", fields: objectiveFields,
		read: c.ShowObjective, stored: func(sh *value.ShownObjective) (*value.Objective, string) { return &sh.Objective, sh.Version },
		create: c.CreateObjective, putIf: c.PutObjectiveIf}
	out, err := records.set(ctx, pos[0], &value.Objective{Key: pos[0]}, f.apply)
	if err != nil {
		return err
	}
	if cf.output == "json" {
		return writeJSONOut(e, out)
	}
	fmt.Fprintf(e.stdout, "Objective %s stored: %s by %s by %s.\n", out.Key, out.Metric, targetText(out.Target), out.Horizon)
	return nil
}

func targetText(t value.Target) string {
	x := t.Direction.Sign() * t.Value
	if t.Absolute {
		return fmt.Sprintf("%+g", x)
	}
	return fmt.Sprintf("%+g%%", 100*x)
}

// writeProgress prints an objective's progress toward its target and the
// validated features whose effect could not count.
func writeProgress(w io.Writer, p *value.Progress) {
	if p == nil {
		return
	}
	fmt.Fprintf(w, "  progress: %s\n", p.Summary)
	for _, u := range p.Uncounted {
		fmt.Fprintf(w, "    not counted: %s\n", u)
	}
}
