package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/valueloop/valueloop/experiment"
	"github.com/valueloop/valueloop/value"
	"github.com/valueloop/valueloop/valuesvc"
)

// The value loop's commands: objective, feature, next, flow and value
// (apply and export of the team's file).

const objectiveUsage = `valueloop objective list
valueloop objective show KEY
valueloop objective set KEY --title T --metric M --target +10% --horizon 2027-03-31 [--env ENV] [--description D]
valueloop objective delete KEY`

const featureUsage = `valueloop feature list [--objective O] [--stage S]
valueloop feature show KEY
valueloop feature set KEY [--title T] [--objective O] [--change C] [--for WHOM] [--outcome O] [--metric M --min-effect 5%]
    [--user-value N --time-criticality N --risk-reduction N] [--size N] [--confidence 0.7] [--reach N --impact N]
    [--flag ENV:FLAG[:VARIANT] ...] [--service S ...] [--label L ...] [--branch-prefix P ...] [--depends-on KEY ...]
valueloop feature move KEY --to ready|measuring|validated|invalidated|done|abandoned [--reason R]
valueloop feature delete KEY`

func runObjective(ctx context.Context, e *cliEnv, args []string) error {
	if len(args) == 0 {
		return usageErrorf("objective: want list, show, set or delete:\n%s", objectiveUsage)
	}
	fs := newFlagSet(e, "objective "+args[0])
	cf := addClientFlags(e, fs)
	var title, metric, target, horizon, env, description string
	if args[0] == "set" {
		fs.StringVar(&title, "title", "", "title")
		fs.StringVar(&metric, "metric", "", "the business metric it moves (a metric key of its environment)")
		fs.StringVar(&target, "target", "", "the move aimed at: +10% (relative), -5%, or +0.3 with --absolute")
		fs.StringVar(&horizon, "horizon", "", "the date to reach it by: 2027-03-31")
		fs.StringVar(&env, "env", "", "environment whose metrics it names (default: the production one)")
		fs.StringVar(&description, "description", "", "description")
	}
	absolute := fs.Bool("absolute", false, "the target is an absolute move in the metric's units")
	pos, err := parseArgs(fs, args[1:])
	if err != nil {
		return err
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	need := func(n int) error {
		if len(pos) != n {
			return usageErrorf("objective %s: want %d argument(s), got %d:\n%s", args[0], n, len(pos), objectiveUsage)
		}
		return nil
	}
	switch args[0] {
	case "list":
		if err := need(0); err != nil {
			return err
		}
		os, err := c.Objectives(ctx)
		if err != nil {
			return err
		}
		if cf.output == "json" {
			return writeJSONOut(e, os)
		}
		if len(os) == 0 {
			fmt.Fprintln(e.stdout, "No objectives. Create one with 'valueloop objective set KEY --title ... --metric ... --target +10% --horizon 2027-03-31'.")
			return nil
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "KEY\tMETRIC\tTARGET\tHORIZON\tTITLE")
		for _, o := range os {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", o.Key, o.Metric, targetText(o.Target), o.Horizon, o.Title)
		}
		return tw.Flush()
	case "show":
		if err := need(1); err != nil {
			return err
		}
		o, err := c.Objective(ctx, pos[0])
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
		return nil
	case "set":
		if err := need(1); err != nil {
			return err
		}
		o := &value.Objective{Key: pos[0]}
		if old, err := c.Objective(ctx, pos[0]); err == nil {
			o = old
		}
		set := func(dst *string, v string) {
			if v != "" {
				*dst = v
			}
		}
		set(&o.Title, title)
		set(&o.Metric, metric)
		set(&o.Environment, env)
		set(&o.Description, description)
		if target != "" {
			t, err := parseEffect("target", target, *absolute)
			if err != nil {
				return err
			}
			o.Target = value.Target{Direction: experiment.Increase, Value: math.Abs(t), Absolute: *absolute}
			if t < 0 {
				o.Target.Direction = experiment.Decrease
			}
		}
		if horizon != "" {
			d, err := value.ParseDate(horizon)
			if err != nil {
				return usageErrorf("--horizon: want a date such as 2027-03-31, got %q", horizon)
			}
			o.Horizon = d
		}
		out, err := c.PutObjective(ctx, o)
		if err != nil {
			return err
		}
		if cf.output == "json" {
			return writeJSONOut(e, out)
		}
		fmt.Fprintf(e.stdout, "Objective %s stored: %s by %s by %s.\n", out.Key, out.Metric, targetText(out.Target), out.Horizon)
		return nil
	case "delete":
		if err := need(1); err != nil {
			return err
		}
		if err := c.DeleteObjective(ctx, pos[0]); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "Objective %s deleted.\n", pos[0])
		return nil
	}
	return usageErrorf("objective: unknown subcommand %q:\n%s", args[0], objectiveUsage)
}

// parseEffect reads "+10%", "-5%", "0.1" (relative unless absolute) or, with
// absolute, a number in the metric's units.
func parseEffect(field, s string, absolute bool) (float64, error) {
	t := strings.TrimSpace(s)
	pct := strings.HasSuffix(t, "%")
	x, err := strconv.ParseFloat(strings.TrimSuffix(t, "%"), 64)
	if err != nil {
		return 0, usageErrorf("--%s: want a move such as +10%% or -5%%, got %q", field, s)
	}
	if pct {
		if absolute {
			return 0, usageErrorf("--%s: an absolute move takes a number, not a percentage", field)
		}
		x /= 100
	}
	return x, nil
}

func targetText(t value.Target) string {
	x := t.Value
	if t.Direction == experiment.Decrease {
		x = -x
	}
	if t.Absolute {
		return fmt.Sprintf("%+g", x)
	}
	return fmt.Sprintf("%+g%%", 100*x)
}

// listVar is a repeatable string flag.
type listVar []string

func (l *listVar) String() string     { return strings.Join(*l, ",") }
func (l *listVar) Set(v string) error { *l = append(*l, v); return nil }

// optFloat is a number flag that remembers whether it was given.
type optFloat struct {
	v   float64
	set bool
}

func (o *optFloat) String() string { return strconv.FormatFloat(o.v, 'g', -1, 64) }
func (o *optFloat) Set(s string) error {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return fmt.Errorf("want a number, got %q", s)
	}
	o.v, o.set = v, true
	return nil
}

func runFeature(ctx context.Context, e *cliEnv, args []string) error {
	if len(args) == 0 {
		return usageErrorf("feature: want list, show, set, move or delete:\n%s", featureUsage)
	}
	fs := newFlagSet(e, "feature "+args[0])
	cf := addClientFlags(e, fs)
	objective := fs.String("objective", "", "objective key")
	stage := fs.String("stage", "", "stage (list)")
	to := fs.String("to", "", "stage to move to (move)")
	reason := fs.String("reason", "", "why (move)")
	var title, change, forWhom, outcome, metric, minEffect string
	var userValue, timeCrit, riskRed, size, confidence, reach, impact optFloat
	var flags, services, labels, prefixes, deps listVar
	if args[0] == "set" {
		fs.StringVar(&title, "title", "", "title")
		fs.StringVar(&change, "change", "", "hypothesis: we believe CHANGE ...")
		fs.StringVar(&forWhom, "for", "", "hypothesis: ... for WHOM ...")
		fs.StringVar(&outcome, "outcome", "", "hypothesis: ... will result in OUTCOME")
		fs.StringVar(&metric, "metric", "", "hypothesis: the metric that will move")
		fs.StringVar(&minEffect, "min-effect", "", "hypothesis: the smallest move worth shipping: 5% (negative: a decrease)")
		fs.Var(&userValue, "user-value", "cost of delay: user/business value (0-100)")
		fs.Var(&timeCrit, "time-criticality", "cost of delay: time criticality (0-100)")
		fs.Var(&riskRed, "risk-reduction", "cost of delay: risk reduction/opportunity enablement (0-100)")
		fs.Var(&size, "size", "job size (WSJF) or effort (RICE)")
		fs.Var(&confidence, "confidence", "the team's belief the bet pays off, in (0, 1]")
		fs.Var(&reach, "reach", "RICE: users reached per period")
		fs.Var(&impact, "impact", "RICE: 0.25, 0.5, 1, 2 or 3")
		fs.Var(&flags, "flag", "ENV:FLAG[:VARIANT] that ships it (repeatable)")
		fs.Var(&services, "service", "service that ships it (repeatable)")
		fs.Var(&labels, "label", "pull request label recognising its changes (repeatable)")
		fs.Var(&prefixes, "branch-prefix", "branch prefix recognising its changes (repeatable)")
		fs.Var(&deps, "depends-on", "feature that must be done first (repeatable)")
	}
	pos, err := parseArgs(fs, args[1:])
	if err != nil {
		return err
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	need := func(n int) error {
		if len(pos) != n {
			return usageErrorf("feature %s: want %d argument(s), got %d:\n%s", args[0], n, len(pos), featureUsage)
		}
		return nil
	}
	switch args[0] {
	case "list":
		if err := need(0); err != nil {
			return err
		}
		list, err := c.Features(ctx, *objective, *stage)
		if err != nil {
			return err
		}
		if cf.output == "json" {
			return writeJSONOut(e, list)
		}
		if len(list) == 0 {
			fmt.Fprintln(e.stdout, "No features. Create one with 'valueloop feature set KEY --title ... --objective ... --change ...' or 'valueloop value apply -f FILE'.")
			return nil
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "KEY\tSTAGE\tSINCE\tOBJECTIVE\tTITLE")
		for _, f := range list {
			since := "–"
			if !f.Since.IsZero() {
				since = f.Since.UTC().Format("2006-01-02")
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", f.Key, f.Stage, since, f.Objective, f.Title)
		}
		return tw.Flush()
	case "show":
		if err := need(1); err != nil {
			return err
		}
		sh, err := c.Feature(ctx, pos[0])
		if err != nil {
			return err
		}
		if cf.output == "json" {
			return writeJSONOut(e, sh)
		}
		writeFeature(e.stdout, sh, time.Now())
		return nil
	case "set":
		if err := need(1); err != nil {
			return err
		}
		f := &value.Feature{Key: pos[0]}
		if old, err := c.Feature(ctx, pos[0]); err == nil {
			f = &old.Feature
		}
		str := func(dst *string, v string) {
			if v != "" {
				*dst = v
			}
		}
		str(&f.Title, title)
		str(&f.Objective, *objective)
		str(&f.Hypothesis.Change, change)
		str(&f.Hypothesis.For, forWhom)
		str(&f.Hypothesis.Outcome, outcome)
		str(&f.Hypothesis.Metric, metric)
		if minEffect != "" {
			x, err := parseEffect("min-effect", minEffect, false)
			if err != nil {
				return err
			}
			f.Hypothesis.MinimumEffect, f.Hypothesis.Direction = math.Abs(x), experiment.Increase
			if x < 0 {
				f.Hypothesis.Direction = experiment.Decrease
			}
		}
		if userValue.set || timeCrit.set || riskRed.set || size.set || confidence.set || reach.set || impact.set {
			if f.Estimate == nil {
				f.Estimate = &value.Estimate{}
			}
			est := f.Estimate
			if userValue.set || timeCrit.set || riskRed.set {
				if est.CostOfDelay == nil {
					est.CostOfDelay = &value.CostOfDelay{}
				}
				for _, p := range []struct {
					o   optFloat
					dst *float64
				}{{userValue, &est.CostOfDelay.UserValue}, {timeCrit, &est.CostOfDelay.TimeCriticality}, {riskRed, &est.CostOfDelay.RiskReduction}} {
					if p.o.set {
						*p.dst = p.o.v
					}
				}
			}
			for _, p := range []struct {
				o   optFloat
				dst *float64
			}{{size, &est.Size}, {confidence, &est.Confidence}, {reach, &est.Reach}, {impact, &est.Impact}} {
				if p.o.set {
					*p.dst = p.o.v
				}
			}
		}
		if len(flags) > 0 {
			f.Links.Flags = nil
			for _, fl := range flags {
				parts := strings.Split(fl, ":")
				if len(parts) < 2 || len(parts) > 3 {
					return usageErrorf("--flag: want ENV:FLAG or ENV:FLAG:VARIANT, got %q", fl)
				}
				link := value.FlagLink{Environment: parts[0], Flag: parts[1]}
				if len(parts) == 3 {
					link.Variant = parts[2]
				}
				f.Links.Flags = append(f.Links.Flags, link)
			}
		}
		for _, l := range []struct {
			in  listVar
			dst *[]string
		}{{services, &f.Links.Services}, {labels, &f.Links.Changes.Labels}, {prefixes, &f.Links.Changes.BranchPrefixes}, {deps, &f.DependsOn}} {
			if len(l.in) > 0 {
				*l.dst = l.in
			}
		}
		out, err := c.PutFeature(ctx, f)
		if err != nil {
			return err
		}
		if cf.output == "json" {
			return writeJSONOut(e, out)
		}
		fmt.Fprintf(e.stdout, "Feature %s stored. See it with 'valueloop feature show %s'.\n", out.Key, out.Key)
		return nil
	case "move":
		if err := need(1); err != nil {
			return err
		}
		if *to == "" {
			return usageErrorf("feature move: want --to STAGE, e.g. 'valueloop feature move %s --to ready'", pos[0])
		}
		rec, err := c.MoveFeature(ctx, pos[0], value.Stage(*to), *reason)
		if err != nil {
			return err
		}
		if cf.output == "json" {
			return writeJSONOut(e, rec)
		}
		fmt.Fprintf(e.stdout, "Feature %s is %s since %s.\n", rec.Feature, rec.Stage, rec.Since.UTC().Format("2006-01-02 15:04 UTC"))
		return nil
	case "delete":
		if err := need(1); err != nil {
			return err
		}
		if err := c.DeleteFeature(ctx, pos[0]); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "Feature %s deleted.\n", pos[0])
		return nil
	}
	return usageErrorf("feature: unknown subcommand %q:\n%s", args[0], featureUsage)
}

// writeFeature draws a feature's release record: the hypothesis, one bar
// per stage on a common time axis, the loop's figures and the timeline.
func writeFeature(w io.Writer, sh *valuesvc.Shown, now time.Time) {
	r := sh.Record
	fmt.Fprintf(w, "%s: %s (objective %s)\n", r.Feature, r.Title, r.Objective)
	fmt.Fprintf(w, "  %s\n", r.Hypothesis)
	for _, h := range sh.FlagHypotheses {
		fmt.Fprintf(w, "  flag %s in %s tests it: %s moves %s\n", h.Flag, h.Environment, h.Hypothesis.PrimaryMetric, fmtPercent(h.Hypothesis.MinimumEffect, h.Hypothesis.Direction))
	}
	fmt.Fprintf(w, "  stage: %s since %s\n\n", strings.ToUpper(string(r.Stage)), r.Since.UTC().Format("2006-01-02 15:04 UTC"))
	if len(r.Transitions) > 0 {
		start := r.Transitions[0].At
		end := now
		last := r.Transitions[len(r.Transitions)-1]
		if last.To == value.Done || last.To == value.Abandoned {
			end = last.At
		}
		const width = 40
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for i, t := range r.Transitions {
			to, open := now, true
			if i+1 < len(r.Transitions) {
				to, open = r.Transitions[i+1].At, false
			} else if t.To == value.Done || t.To == value.Abandoned {
				to, open = t.At, false
			}
			bar := strings.Repeat(" ", width)
			if end.After(start) {
				a := int(math.Round(float64(t.At.Sub(start)) / float64(end.Sub(start)) * width))
				b := int(math.Round(float64(to.Sub(start)) / float64(end.Sub(start)) * width))
				a, b = min(max(a, 0), width-1), min(max(b, a+1), width)
				fill := "█"
				if open {
					fill = "░"
				}
				bar = strings.Repeat(" ", a) + strings.Repeat(fill, b-a) + strings.Repeat(" ", width-b)
			}
			dur := "–"
			if t.To != value.Done && t.To != value.Abandoned {
				dur = fmtDuration(to.Sub(t.At))
			}
			how := t.Cause
			if t.Manual {
				how += " (by hand)"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", t.To, t.At.UTC().Format("2006-01-02 15:04"), bar, dur, how)
		}
		tw.Flush()
		fmt.Fprintf(w, "  (bars on one axis from %s to %s; ░ still there)\n", start.UTC().Format("2006-01-02 15:04"), end.UTC().Format("2006-01-02 15:04 UTC"))
	}
	sec := func(s *value.Seconds) string {
		if s == nil {
			return "–"
		}
		return fmtDuration(s.D())
	}
	fmt.Fprintf(w, "\n  lead time to customer (first commit → released to everyone)  %s\n", sec(r.LeadTimeToCustomer))
	fmt.Fprintf(w, "  time to validated learning (first exposure → verdict)         %s\n", sec(r.TimeToValidatedLearning))
	if len(r.Missing) > 0 {
		fmt.Fprintln(w, "\nNot known yet:")
		for _, m := range r.Missing {
			fmt.Fprintf(w, "  - %s\n", m)
		}
	}
	if len(r.Timeline) > 0 {
		fmt.Fprintf(w, "\nRelease record (%d events):\n", len(r.Timeline))
		for _, ev := range r.Timeline {
			line := ev.Cause
			if ev.Detail != "" {
				line += " [" + ev.Detail + "]"
			}
			fmt.Fprintf(w, "  %s  %-19s %s\n", ev.At.UTC().Format("2006-01-02 15:04"), ev.Kind, line)
		}
	}
}

func fmtPercent(x float64, d experiment.Direction) string {
	if d == experiment.Decrease {
		x = -x
	}
	return fmt.Sprintf("%+g%%", 100*x)
}

// parseSpan reads a span such as 90d, 12w, 36h or a Go duration.
func parseSpan(flagName, s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	unit := map[byte]time.Duration{'d': 24 * time.Hour, 'w': 7 * 24 * time.Hour}
	if u, ok := unit[s[len(s)-1]]; ok {
		n, err := strconv.ParseFloat(s[:len(s)-1], 64)
		if err == nil && n > 0 {
			return time.Duration(n * float64(u)), nil
		}
	} else if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return d, nil
	}
	return 0, usageErrorf("--%s: want a span such as 90d, 12w or 36h, got %q", flagName, s)
}

func runNext(ctx context.Context, e *cliEnv, args []string) error {
	fs := newFlagSet(e, "next")
	cf := addClientFlags(e, fs)
	method := fs.String("method", "wsjf", "ranking: wsjf (cost of delay / size) or rice (reach × impact / effort)")
	cleanup := fs.String("cleanup-after", "", "how long a decided feature's flag may stay before cleanup is asked (default 14d)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErrorf("next takes no arguments, e.g. 'valueloop next --method rice'")
	}
	after, err := parseSpan("cleanup-after", *cleanup)
	if err != nil {
		return err
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	n, err := c.Next(ctx, *method, after)
	if err != nil {
		return err
	}
	if cf.output == "json" {
		return writeJSONOut(e, n)
	}
	writeNext(e.stdout, n)
	return nil
}

// writeNext prints the ranked backlog with each rank's arithmetic, the
// features not estimated, the objectives' records of bets and what to stop
// or finish.
func writeNext(w io.Writer, n *value.Next) {
	formula := "cost of delay / size"
	if n.Method == value.RICE {
		formula = "reach × impact / effort"
	}
	fmt.Fprintf(w, "What to build next (%s: %s × confidence × effect, the last two from each objective's verdicts)\n\n", strings.ToUpper(string(n.Method)), formula)
	if len(n.Ranked) == 0 {
		fmt.Fprintln(w, "  Nothing to rank: no idea or ready feature has an estimate.")
	}
	top := 0.0
	for _, r := range n.Ranked {
		top = math.Max(top, r.Score)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, r := range n.Ranked {
		bar := ""
		if top > 0 {
			bar = strings.Repeat("█", max(1, int(math.Round(r.Score/top*20))))
		}
		fmt.Fprintf(tw, "  %d.\t%s\t%s\t%s\t%.2f\t%s\n", r.Position, r.Feature, r.Objective, r.Stage, r.Score, bar)
	}
	tw.Flush()
	for _, r := range n.Ranked {
		fmt.Fprintf(w, "  %d. %s: %s\n", r.Position, r.Feature, r.Explanation)
	}
	if len(n.Unranked) > 0 {
		fmt.Fprintln(w, "\nNot ranked yet:")
		for _, u := range n.Unranked {
			fmt.Fprintf(w, "  - %s (%s): %s\n", u.Feature, u.Stage, u.Reason)
		}
	}
	if len(n.Bets) > 0 {
		fmt.Fprintln(w, "\nRecord of bets per objective:")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, b := range n.Bets {
			fmt.Fprintf(tw, "  %s\t%d validated, %d invalidated\tconfidence %.2f\teffect %.2f (%d measured)\n", b.Objective, b.Validated, b.Invalidated, b.Confidence, b.Effect, b.Measured)
		}
		tw.Flush()
	}
	fmt.Fprintln(w, "\nStop or finish:")
	if len(n.Stop) == 0 {
		fmt.Fprintln(w, "  nothing: no experiment past its horizon, no flag waiting for cleanup")
	}
	words := map[string]string{value.StopExperiment: "stop", value.TurnOffTreatment: "turn off", value.CleanUpFlag: "clean up"}
	for _, a := range n.Stop {
		fmt.Fprintf(w, "  %-8s  %s: %s\n", words[a.Kind], a.Feature, a.Reason)
	}
}

func runFlow(ctx context.Context, e *cliEnv, args []string) error {
	fs := newFlagSet(e, "flow")
	cf := addClientFlags(e, fs)
	objective := fs.String("objective", "", "only this objective's features")
	since := fs.String("since", "90d", "window of throughput, flow times and validated share: 90d, 12w")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErrorf("flow takes no arguments, e.g. 'valueloop flow --objective activation --since 90d'")
	}
	span, err := parseSpan("since", *since)
	if err != nil {
		return err
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	f, err := c.Flow(ctx, *objective, span)
	if err != nil {
		return err
	}
	if cf.output == "json" {
		return writeJSONOut(e, f)
	}
	writeFlow(e.stdout, f, *objective)
	return nil
}

// writeFlow prints the flow of value: per stage the work in progress (with
// a bar), the oldest items (stuck ones marked) and the flow time; then the
// weekly throughput as a chart and the validated share.
func writeFlow(w io.Writer, f *value.Flow, objective string) {
	scope := "all objectives"
	if objective != "" {
		scope = "objective " + objective
	}
	fmt.Fprintf(w, "Flow of value, %s, %s to %s\n\n", scope, f.Since.UTC().Format("2006-01-02"), f.Until.UTC().Format("2006-01-02"))
	top := 0
	for _, s := range f.Stages {
		top = max(top, s.WIP)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  STAGE\tWIP\t\tOLDEST\tFLOW TIME (median / p85)")
	for _, s := range f.Stages {
		bar := ""
		if top > 0 && s.WIP > 0 {
			bar = strings.Repeat("█", max(1, s.WIP*20/top))
		}
		var oldest []string
		for _, a := range s.Oldest {
			o := a.Feature + " " + fmtDuration(a.Age.D())
			if a.Stuck {
				o += " STUCK"
			}
			oldest = append(oldest, o)
		}
		flow := "–"
		if s.FlowTime.Count > 0 {
			flow = fmt.Sprintf("%s / %s (%d)", fmtDuration(s.FlowTime.Median.D()), fmtDuration(s.FlowTime.P85.D()), s.FlowTime.Count)
		}
		fmt.Fprintf(tw, "  %s\t%d\t%s\t%s\t%s\n", s.Stage, s.WIP, bar, strings.Join(oldest, ", "), flow)
	}
	tw.Flush()
	fmt.Fprintln(w, "\nThroughput: features reaching a verdict per week (V validated, I invalidated)")
	peak := 0
	for _, wk := range f.Throughput {
		peak = max(peak, wk.Total())
	}
	const bars = "▁▂▃▄▅▆▇█"
	levels := []rune(bars)
	var line strings.Builder
	total, validated := 0, 0
	for _, wk := range f.Throughput {
		total += wk.Total()
		validated += wk.Validated
		if peak == 0 || wk.Total() == 0 {
			line.WriteRune(levels[0])
			continue
		}
		k := int(math.Ceil(float64(wk.Total())/float64(peak)*float64(len(levels)-1))) - 1
		line.WriteRune(levels[min(max(k+1, 1), len(levels)-1)])
	}
	fmt.Fprintf(w, "  %s  %d in %d weeks (%d V, %d I)\n", line.String(), total, len(f.Throughput), validated, total-validated)
	share := "–"
	if f.ValidatedShare != nil {
		share = fmt.Sprintf("%.0f%%", 100**f.ValidatedShare)
	}
	fmt.Fprintf(w, "\nShipped %d (released to their users in the window): %d validated, %d invalidated, %d undecided; validated share %s\n",
		f.Shipped, f.Validated, f.Invalidated, f.Shipped-f.Validated-f.Invalidated, share)
}

func runValue(ctx context.Context, e *cliEnv, args []string) error {
	const u = "valueloop value apply -f FILE [--dry-run] [--prune]\nvalueloop value export [--format yaml|json]"
	if len(args) == 0 {
		return usageErrorf("value: want apply or export:\n%s", u)
	}
	fs := newFlagSet(e, "value "+args[0])
	cf := addClientFlags(e, fs)
	file := fs.String("f", "", "file of objectives and features (YAML or JSON)")
	dry := fs.Bool("dry-run", false, "show what would change, change nothing")
	prune := fs.Bool("prune", false, "delete objectives and features the file lacks")
	format := fs.String("format", "yaml", "export format: yaml or json")
	pos, err := parseArgs(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErrorf("value %s takes no arguments:\n%s", args[0], u)
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	switch args[0] {
	case "export":
		if *format != "yaml" && *format != "json" {
			return usageErrorf("--format: want yaml or json, got %q", *format)
		}
		out, err := c.ExportValue(ctx, *format == "json")
		if err != nil {
			return err
		}
		_, err = e.stdout.Write(out)
		return err
	case "apply":
		if *file == "" {
			return usageErrorf("value apply: want -f FILE, e.g. 'valueloop value apply -f valueloop.yaml --dry-run'")
		}
		data, err := os.ReadFile(*file)
		if err != nil {
			return err
		}
		f, err := value.DecodeFile(data)
		if err != nil {
			return err
		}
		res, err := c.ApplyValue(ctx, f, *dry, *prune)
		if err != nil {
			return err
		}
		if cf.output == "json" {
			return writeJSONOut(e, res)
		}
		verb := "Applied"
		if res.DryRun {
			verb = "Would apply (dry run)"
		}
		if len(res.Operations) == 0 {
			fmt.Fprintln(e.stdout, "Nothing to change: the server holds the file's objectives and features.")
			return nil
		}
		fmt.Fprintf(e.stdout, "%s %d change(s):\n", verb, len(res.Operations))
		for _, op := range res.Operations {
			fields := ""
			if len(op.Fields) > 0 {
				fields = " (" + strings.Join(op.Fields, ", ") + ")"
			}
			fmt.Fprintf(e.stdout, "  %s %s %s%s\n", op.Action, op.Kind, op.Key, fields)
		}
		return nil
	}
	return usageErrorf("value: unknown subcommand %q:\n%s", args[0], u)
}
