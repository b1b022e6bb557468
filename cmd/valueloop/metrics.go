package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/jsondecode"
	"github.com/valueloop/valueloop/metric"
)

func metricsCommand() *command {
	return &command{name: "metrics", summary: "define the metrics computed from tracking events", subs: []*command{
		{name: "create", args: "--env ENV --key KEY --kind KIND --event EVENT [flags] | --env ENV -f FILE|-", summary: "define a metric; its figures are computed from the events stored so far", run: runMetricsCreate},
		{name: "list", args: "--env ENV", summary: "list the metrics of an environment", run: runMetricsList},
		{name: "get", args: "KEY --env ENV", summary: "print a metric's definition as JSON", run: runMetricsGetDelete("get")},
		{name: "delete", args: "KEY --env ENV", summary: "delete a metric", run: runMetricsGetDelete("delete")},
	}}
}

// metricFlags are the flags of metrics create that build a definition.
type metricFlags struct {
	m                                         metric.Metric
	kind, denEvent, denAgg, direction, window *string
	capv                                      optFloat
}

func addMetricFlags(fs *flag.FlagSet) *metricFlags {
	f := &metricFlags{}
	fs.StringVar(&f.m.Key, "key", "", "metric key")
	fs.StringVar(&f.m.Name, "name", "", "display name")
	f.kind = choice(fs, "kind", "", "`KIND`: conversion, count, sum, mean, ratio or quantile", string(metric.Conversion), string(metric.Count),
		string(metric.Sum), string(metric.Mean), string(metric.Ratio), string(metric.Quantile))
	floatVar(fs, &f.m.Quantile, "quantile", 0, "quantile: which one, in (0, 1), e.g. 0.99 for p99")
	choiceVar(fs, &f.m.Over, "over", "", "quantile: over `WHAT`: user (the users' mean values, the default) or event (all events' values)", metric.OverUser, metric.OverEvent)
	fs.StringVar(&f.m.Event, "event", "", "tracking event measured (a ratio's numerator)")
	choiceVar(fs, &f.m.Aggregate, "aggregate", "", "ratio numerator's `AGGREGATE`: sum (default) or count", "sum", "count")
	f.denEvent = fs.String("denominator-event", "", "ratio: tracking event of the denominator")
	f.denAgg = choice(fs, "denominator-aggregate", "", "ratio denominator's `AGGREGATE`: count (default) or sum", "count", "sum")
	f.direction = choice(fs, "direction", "higher", "`DIRECTION` that is better: higher or lower", string(metric.HigherIsBetter), string(metric.LowerIsBetter))
	f.window = fs.String("window", "", "count only events within this time after first exposure, e.g. 7d or 36h")
	fs.Var(&f.capv, "cap", "cap every per-user value at this number")
	return f
}

// metric returns the definition the flags give.
func (f *metricFlags) metric() (metric.Metric, error) {
	m := f.m
	m.Kind, m.Direction = metric.MetricKind(*f.kind), metric.Direction(*f.direction)
	if *f.denEvent != "" || *f.denAgg != "" {
		m.Denominator = &metric.Part{Event: *f.denEvent, Aggregate: *f.denAgg}
	}
	if *f.window != "" {
		w, err := metric.ParseWindow(*f.window)
		if err != nil {
			return m, usageErrorf("metrics create: --window: %v", err)
		}
		m.Window = w
	}
	if f.capv.set {
		v := f.capv.v
		m.Cap = &v
	}
	return m, nil
}

func runMetricsCreate(ctx context.Context, e *cliEnv, args []string) error {
	fs := newFlagSet(e, "metrics create")
	cf := addClientFlags(e, fs)
	env := fs.String("env", "", "environment (required)")
	file := fs.String("file", "", "read the definition from a JSON file ('-' for stdin) instead of flags")
	fs.StringVar(file, "f", "", "the same as --file, as for the other commands that read a file")
	mf := addMetricFlags(fs)
	if err := e.parseNoArgs(fs, args); err != nil {
		return err
	}
	if *env == "" {
		return usageErrorf("metrics create: --env is required")
	}
	var m metric.Metric
	if *file != "" {
		data, err := readInput(e, "-f", *file)
		if err != nil {
			return err
		}
		m = mf.m
		// As the server reads a definition it is sent: a field it does not
		// have ("windw") or a key given twice is refused, not dropped on
		// the way and the metric created without it.
		if err := jsondecode.Decode(data, &m, jsondecode.Options{DisallowUnknownFields: true}); err != nil {
			return usageErrorf("metrics create: %s is not a metric definition: %s", *file, valueloop.ErrorMessage(err))
		}
	} else {
		var err error
		if m, err = mf.metric(); err != nil {
			return err
		}
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	out, err := c.CreateMetric(ctx, *env, m)
	if err != nil && *file == "" {
		return problemsInFlags(err, fs)
	}
	if err != nil {
		return err
	}
	if cf.output == "json" {
		return writeJSONOut(e, out)
	}
	fmt.Fprintf(e.stderr, "Created metric %q in %s; its figures were computed from the events stored so far.\n", out.Key, *env)
	return nil
}

func runMetricsList(ctx context.Context, e *cliEnv, args []string) error {
	fs := newFlagSet(e, "metrics list")
	cf := addClientFlags(e, fs)
	env := fs.String("env", "", "environment (required)")
	if err := e.parseNoArgs(fs, args); err != nil {
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
	empty := fmt.Sprintf("No metrics in %s. Define one with 'valueloop metrics create --env %s --key KEY --kind KIND --event EVENT'.", *env, *env)
	return writeList(e, cf, ms, empty, "KEY\tKIND\tEVENT\tDIRECTION\tWINDOW\tCAP", metricRow)
}

// metricRow is a metric's line in metrics list.
func metricRow(tw io.Writer, m metric.Metric) {
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
	kind := string(m.Kind)
	if m.Kind == metric.Quantile {
		over := "users"
		if m.PerEvent() {
			over = "events"
		}
		kind = fmt.Sprintf("quantile %g over %s", m.Quantile, over)
	}
	fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", m.Key, kind, ev, m.Direction, w, cp)
}

// runMetricsGetDelete returns get or delete (sub).
func runMetricsGetDelete(sub string) func(ctx context.Context, e *cliEnv, args []string) error {
	return func(ctx context.Context, e *cliEnv, args []string) error {
		fs := newFlagSet(e, "metrics "+sub)
		cf := addClientFlags(e, fs)
		env := fs.String("env", "", "environment (required)")
		pos, err := e.parseArgs(fs, args)
		if err != nil {
			return err
		}
		if *env == "" || len(pos) != 1 {
			return usageErrorf("metrics %s: want --env ENV and one metric key (see 'valueloop metrics list --env ENV')", sub)
		}
		c, err := cf.client()
		if err != nil {
			return err
		}
		if sub == "delete" {
			if err := c.DeleteMetric(ctx, *env, pos[0]); err != nil {
				return err
			}
			return done(e, cf, map[string]any{"deleted": pos[0], "environment": *env}, fmt.Sprintf("Deleted metric %q from %s.", pos[0], *env))
		}
		m, err := c.Metric(ctx, *env, pos[0])
		if err != nil {
			return err
		}
		return writeJSONOut(e, m)
	}
}

// problemsInFlags names, in the problems of a definition given by flags, the
// flag of each JSON path that has one: /key is --key, /denominator/event
// --denominator-event, /onBreach --on-breach. Other errors are returned as
// they are.
func problemsInFlags(err error, fs *flag.FlagSet) error {
	ve, ok := errors.AsType[*valueloop.ValidationError](err)
	if !ok {
		return err
	}
	probs := slices.Clone(ve.Problems)
	for i, p := range probs {
		probs[i].Source = strings.TrimSpace(p.Source) // "metric " + an empty key
		if name := kebab(strings.ReplaceAll(strings.TrimPrefix(p.Path, "/"), "/", "-")); fs.Lookup(name) != nil {
			probs[i].Path = "--" + name
		}
	}
	return &valueloop.ValidationError{Problems: probs}
}

// kebab writes a JSON name as a flag's: minSample is min-sample.
func kebab(s string) string {
	var b strings.Builder
	for _, r := range s {
		if unicode.IsUpper(r) {
			b.WriteByte('-')
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}
