package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"text/tabwriter"

	"github.com/valueloop/valueloop/ingest"
)

func runMetrics(ctx context.Context, e *cliEnv, args []string) error {
	if len(args) == 0 {
		return usageErrorf("metrics: want a subcommand: create, list, get or delete")
	}
	fs := newFlagSet(e, "metrics "+args[0])
	cf := addClientFlags(e, fs)
	env := fs.String("env", "", "environment (required)")
	switch args[0] {
	case "create":
		var m ingest.Metric
		file := fs.String("file", "", "read the definition from a JSON file ('-' for stdin) instead of flags")
		fs.StringVar(&m.Key, "key", "", "metric key")
		fs.StringVar(&m.Name, "name", "", "display name")
		kind := fs.String("kind", "", "conversion, count, sum, mean or ratio")
		fs.StringVar(&m.Event, "event", "", "tracking event measured (a ratio's numerator)")
		fs.StringVar(&m.Aggregate, "aggregate", "", "ratio numerator: sum (default) or count")
		denEvent := fs.String("denominator-event", "", "ratio: tracking event of the denominator")
		denAgg := fs.String("denominator-aggregate", "", "ratio denominator: count (default) or sum")
		direction := fs.String("direction", "higher", "higher or lower: which way is better")
		window := fs.String("window", "", "count only events within this time after first exposure, e.g. 7d or 36h")
		capv := fs.String("cap", "", "cap every per-user value at this number")
		if err := parseFlags(fs, args[1:]); err != nil {
			return err
		}
		if *env == "" {
			return usageErrorf("metrics create: --env is required")
		}
		if *file != "" {
			data, err := readInput(e, *file)
			if err != nil {
				return err
			}
			if err := json.Unmarshal(data, &m); err != nil {
				return usageErrorf("metrics create: %s is not a metric definition: %v", *file, err)
			}
		} else {
			m.Kind, m.Direction = ingest.MetricKind(*kind), ingest.Direction(*direction)
			if *denEvent != "" || *denAgg != "" {
				m.Denominator = &ingest.Part{Event: *denEvent, Aggregate: *denAgg}
			}
			if *window != "" {
				w, err := ingest.ParseWindow(*window)
				if err != nil {
					return usageErrorf("metrics create: --window: %v", err)
				}
				m.Window = w
			}
			if *capv != "" {
				v, err := strconv.ParseFloat(*capv, 64)
				if err != nil {
					return usageErrorf("metrics create: --cap must be a number, got %q", *capv)
				}
				m.Cap = &v
			}
		}
		c, err := cf.client()
		if err != nil {
			return err
		}
		out, err := c.CreateMetric(ctx, *env, m)
		if err != nil {
			return err
		}
		if cf.output == "json" {
			return writeJSONOut(e, out)
		}
		fmt.Fprintf(e.stderr, "Created metric %q in %s; its figures were computed from the events stored so far.\n", out.Key, *env)
		return nil
	case "list":
		if err := parseFlags(fs, args[1:]); err != nil {
			return err
		}
		if *env == "" {
			return usageErrorf("metrics list: --env is required")
		}
		c, err := cf.client()
		if err != nil {
			return err
		}
		ms, err := c.Metrics(ctx, *env)
		if err != nil {
			return err
		}
		if cf.output == "json" {
			return writeJSONOut(e, ms)
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "KEY\tKIND\tEVENT\tDIRECTION\tWINDOW\tCAP")
		for _, m := range ms {
			ev := m.Event
			if m.Denominator != nil {
				ev = fmt.Sprintf("%s(%s) / %s(%s)", m.Aggregate, m.Event, m.Denominator.Aggregate, m.Denominator.Event)
			}
			w, cp := "-", "-"
			if m.Window != 0 {
				w = m.Window.String()
			}
			if m.Cap != nil {
				cp = strconv.FormatFloat(*m.Cap, 'g', -1, 64)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", m.Key, m.Kind, ev, m.Direction, w, cp)
		}
		return tw.Flush()
	case "get", "delete":
		if err := parseFlags(fs, args[1:]); err != nil {
			return err
		}
		if *env == "" || fs.NArg() != 1 {
			return usageErrorf("metrics %s: want --env ENV and one metric key (see 'valueloop metrics list --env ENV')", args[0])
		}
		c, err := cf.client()
		if err != nil {
			return err
		}
		if args[0] == "delete" {
			if err := c.DeleteMetric(ctx, *env, fs.Arg(0)); err != nil {
				return err
			}
			fmt.Fprintf(e.stderr, "Deleted metric %q from %s.\n", fs.Arg(0), *env)
			return nil
		}
		m, err := c.Metric(ctx, *env, fs.Arg(0))
		if err != nil {
			return err
		}
		return writeJSONOut(e, m)
	}
	return usageErrorf("metrics: unknown subcommand %q: want create, list, get or delete", args[0])
}
