package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/client"
	"github.com/valueloop/valueloop/experiment"
	"github.com/valueloop/valueloop/features"
	"github.com/valueloop/valueloop/termchart"
	"github.com/valueloop/valueloop/value"
)

func featureCommand() *command {
	return &command{name: "feature", summary: "features: bets on objectives, their lifecycle and release record (docs/value.md)", subs: []*command{
		{name: "list", args: "[--objective O] [--stage S]", summary: "list the features with their stage", run: runFeatureList},
		{name: "show", args: "KEY", summary: "show a feature's release record: its stages on one time axis, the loop's figures, the timeline", run: runFeatureShow},
		{name: "set", args: featureSetArgs, summary: "create or change a feature", more: featureSetMore, run: runFeatureSet},
		{name: "move", args: "KEY --to ready|measuring|validated|invalidated|done|abandoned [--reason TEXT]",
			summary: "move a feature by hand where no event proves the stage", run: runFeatureMove},
		{name: "delete", args: "KEY", summary: "delete a feature with its links and moves",
			run: runDelete("feature delete", leafKey, (*client.Client).DeleteFeature, "Feature %s deleted.")},
	}}
}

const featureSetArgs = `KEY [--title T] [--objective O] [--change C] [--for WHOM] [--outcome O] [--metric M --min-effect 5%]
    [--user-value N --time-criticality N --risk-reduction N] [--size N] [--confidence 0.7] [--reach N --impact N]
    [--flag ENV:FLAG[:VARIANT] ...] [--service S ...] [--label L ...] [--branch-prefix P ...] [--depends-on KEY ...]`

const featureSetMore = `Fields left out keep their stored values; a list given replaces the stored one.
A change belongs to the feature when its commit message has a line 'Feature: KEY',
its pull request one of the labels, or its branch one of the prefixes.
`

func runFeatureList(ctx context.Context, e *cliEnv, args []string) error {
	var objective, stage string
	_, c, cf, err := leafClient(e, "feature list", args, 0, func(fs *flag.FlagSet) {
		fs.StringVar(&objective, "objective", "", "only this objective's features")
		fs.StringVar(&stage, "stage", "", "only the features in this stage")
	})
	if err != nil {
		return err
	}
	list, err := c.Features(ctx, objective, stage)
	if err != nil {
		return flagFields{fields: map[string]string{"objective": "--objective", "stage": "--stage"}}.rename(err)
	}
	return writeList(e, cf, list, "No features. Create one with 'valueloop feature set KEY --title ... --objective ... --change ...' or 'valueloop value apply -f FILE'.",
		"KEY\tSTAGE\tSINCE\tOBJECTIVE\tTITLE", func(w io.Writer, f client.FeatureSummary) {
			since := "–"
			if !f.Since.IsZero() {
				since = f.Since.UTC().Format("2006-01-02")
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", f.Key, f.Stage, since, f.Objective, f.Title)
		})
}

func runFeatureShow(ctx context.Context, e *cliEnv, args []string) error {
	pos, c, cf, err := leafClient(e, "feature show", args, 1, nil)
	if err != nil {
		return err
	}
	sh, err := c.Feature(ctx, pos[0])
	if err != nil {
		return err
	}
	cols := outputWidth(e)
	return writeOut(e, cf, sh, func(w io.Writer, sh *features.Shown) { writeFeature(w, sh, time.Now(), cols) })
}

// featureFlags are the fields feature set may change.
type featureFlags struct {
	title, objective, change, forWhom, outcome, metric, minEffect string
	userValue, timeCrit, riskRed, size, confidence, reach, impact optFloat
	flags, services, labels, prefixes, deps                       listFlag
}

func (f *featureFlags) register(fs *flag.FlagSet) {
	for _, s := range []struct {
		dst         *string
		name, usage string
	}{{&f.title, "title", "title"}, {&f.objective, "objective", "the objective it is a bet on"},
		{&f.change, "change", "hypothesis: we believe CHANGE ..."}, {&f.forWhom, "for", "hypothesis: ... for WHOM ..."},
		{&f.outcome, "outcome", "hypothesis: ... will result in OUTCOME"}, {&f.metric, "metric", "hypothesis: the metric that will move"},
		{&f.minEffect, "min-effect", "hypothesis: the smallest move worth shipping, 5% (negative: a decrease)"}} {
		fs.StringVar(s.dst, s.name, "", s.usage)
	}
	for _, n := range []struct {
		dst         *optFloat
		name, usage string
	}{{&f.userValue, "user-value", "cost of delay: user/business value (0-100)"}, {&f.timeCrit, "time-criticality", "cost of delay: time criticality (0-100)"},
		{&f.riskRed, "risk-reduction", "cost of delay: risk reduction/opportunity enablement (0-100)"}, {&f.size, "size", "job size (WSJF) or effort (RICE); 0: not estimated"},
		{&f.confidence, "confidence", "the team's belief the bet pays off, in (0, 1]"}, {&f.reach, "reach", "RICE: users reached per period; 0: not estimated"},
		{&f.impact, "impact", "RICE: 0.25, 0.5, 1, 2 or 3"}} {
		fs.Var(n.dst, n.name, n.usage)
	}
	fs.Var(&f.flags, "flag", "ENV:FLAG[:VARIANT] that ships it (repeatable)")
	fs.Var(&f.services, "service", "service that ships it (repeatable)")
	fs.Var(&f.labels, "label", "pull request label recognising its changes (repeatable)")
	fs.Var(&f.prefixes, "branch-prefix", "branch prefix recognising its changes (repeatable)")
	fs.Var(&f.deps, "depends-on", "feature that must be done first (repeatable)")
}

// apply sets the fields given on ft.
func (f *featureFlags) apply(ft *value.Feature) error {
	h := &ft.Hypothesis
	setIf(&ft.Title, f.title)
	setIf(&ft.Objective, f.objective)
	setIf(&h.Change, f.change)
	setIf(&h.For, f.forWhom)
	setIf(&h.Outcome, f.outcome)
	setIf(&h.Metric, f.metric)
	if f.minEffect != "" {
		x, err := parseShare(f.minEffect, false)
		if err != nil {
			return usageErrorf("--min-effect: %v", err)
		}
		h.MinimumEffect, h.Direction = experiment.SplitSigned(x)
	}
	f.applyEstimate(ft)
	if len(f.flags) > 0 {
		ft.Links.Flags = nil
		for _, fl := range f.flags {
			parts := splitTrim(fl, ":")
			if len(parts) < 2 || len(parts) > 3 {
				return usageErrorf("--flag: want ENV:FLAG or ENV:FLAG:VARIANT, got %q", fl)
			}
			link := value.FlagLink{Environment: parts[0], Flag: parts[1]}
			if len(parts) == 3 {
				link.Variant = parts[2]
			}
			ft.Links.Flags = append(ft.Links.Flags, link)
		}
	}
	for _, l := range []struct {
		in  listFlag
		dst *[]string
	}{{f.services, &ft.Links.Services}, {f.labels, &ft.Links.Changes.Labels}, {f.prefixes, &ft.Links.Changes.BranchPrefixes}, {f.deps, &ft.DependsOn}} {
		if len(l.in) > 0 {
			*l.dst = l.in
		}
	}
	return nil
}

// fields names the flag that sets each field of the feature, for errors.
func (f *featureFlags) fields() flagFields {
	return flagFields{fields: map[string]string{
		"title": "--title", "objective": "--objective",
		"hypothesis.change": "--change", "hypothesis.for": "--for", "hypothesis.outcome": "--outcome",
		"hypothesis.metric": "--metric", "hypothesis.minimumEffect": "--min-effect", "hypothesis.direction": "--min-effect",
		"estimate.costOfDelay.userValue": "--user-value", "estimate.costOfDelay.timeCriticality": "--time-criticality",
		"estimate.costOfDelay.riskReduction": "--risk-reduction", "estimate.costOfDelay": "--user-value, --time-criticality or --risk-reduction",
		"estimate.size": "--size", "estimate.confidence": "--confidence", "estimate.reach": "--reach", "estimate.impact": "--impact",
		"links.flags": "--flag", "links.services": "--service", "links.changes.labels": "--label",
		"links.changes.branchPrefixes": "--branch-prefix", "dependsOn": "--depends-on",
	}, lists: map[string][]string{
		"links.flags": typed("--flag", f.flags), "links.services": typed("--service", f.services),
		"links.changes.labels": typed("--label", f.labels), "links.changes.branchPrefixes": typed("--branch-prefix", f.prefixes),
		"dependsOn": typed("--depends-on", f.deps),
	}}
}

// applyEstimate sets the parts of the estimate given.
func (f *featureFlags) applyEstimate(ft *value.Feature) {
	type part struct {
		o   optFloat
		dst func(*value.Estimate) *float64
	}
	cod := func(pick func(*value.CostOfDelay) *float64) func(*value.Estimate) *float64 {
		return func(e *value.Estimate) *float64 {
			if e.CostOfDelay == nil {
				e.CostOfDelay = &value.CostOfDelay{}
			}
			return pick(e.CostOfDelay)
		}
	}
	for _, p := range []part{
		{f.userValue, cod(func(c *value.CostOfDelay) *float64 { return &c.UserValue })},
		{f.timeCrit, cod(func(c *value.CostOfDelay) *float64 { return &c.TimeCriticality })},
		{f.riskRed, cod(func(c *value.CostOfDelay) *float64 { return &c.RiskReduction })},
		{f.size, func(e *value.Estimate) *float64 { return &e.Size }},
		{f.confidence, func(e *value.Estimate) *float64 {
			if e.Confidence == nil { // stated: 0 too, which validation refuses
				e.Confidence = new(float64)
			}
			return e.Confidence
		}},
		{f.reach, func(e *value.Estimate) *float64 { return &e.Reach }},
		{f.impact, func(e *value.Estimate) *float64 { return &e.Impact }},
	} {
		if !p.o.set {
			continue
		}
		if ft.Estimate == nil {
			ft.Estimate = &value.Estimate{}
		}
		*p.dst(ft.Estimate) = p.o.v
	}
}

func runFeatureSet(ctx context.Context, e *cliEnv, args []string) error {
	var f featureFlags
	pos, c, cf, err := leafClient(e, "feature set", args, 1, f.register)
	if err != nil {
		return err
	}
	records := recordSet[features.Shown, value.Feature]{what: "feature", fields: f.fields(),
		read: c.Feature, stored: func(sh *features.Shown) (*value.Feature, string) { return &sh.Feature, sh.Version },
		create: c.CreateFeature, putIf: c.PutFeatureIf}
	out, err := records.set(ctx, pos[0], &value.Feature{Key: pos[0]}, f.apply)
	if err != nil {
		return err
	}
	if cf.output == "json" {
		return writeJSONOut(e, out)
	}
	fmt.Fprintf(e.stdout, "Feature %s stored. See it with 'valueloop feature show %s'.\n", out.Key, out.Key)
	return nil
}

func runFeatureMove(ctx context.Context, e *cliEnv, args []string) error {
	var to, reason string
	pos, c, cf, err := leafClient(e, "feature move", args, 1, func(fs *flag.FlagSet) {
		choiceVar(fs, &to, "to", "", "the `STAGE`: ready, measuring, validated, invalidated, done or abandoned", string(value.Ready), string(value.Measuring),
			string(value.Validated), string(value.Invalidated), string(value.Done), string(value.Abandoned))
		fs.StringVar(&reason, "reason", "", "why: what shows it")
	})
	if err != nil {
		return err
	}
	if to == "" {
		return usageErrorf("feature move: want --to STAGE, e.g. 'valueloop feature move %s --to ready'", pos[0])
	}
	rec, err := c.MoveFeature(ctx, pos[0], value.Stage(to), reason)
	if err != nil {
		return flagFields{fields: map[string]string{"stage": "--to", "reason": "--reason"}}.rename(err)
	}
	if cf.output == "json" {
		return writeJSONOut(e, rec)
	}
	fmt.Fprintf(e.stdout, "Feature %s is %s since %s.\n", rec.Feature, rec.Stage, rec.Since.UTC().Format("2006-01-02 15:04 UTC"))
	return nil
}

// writeFeature draws a feature's release record: the hypothesis, one bar
// per stage on a common time axis, the loop's figures and the timeline.
func writeFeature(w io.Writer, sh *features.Shown, now time.Time, cols int) {
	r := sh.Record
	fmt.Fprintf(w, "%s: %s (objective %s)\n", r.Feature, r.Title, r.Objective)
	fmt.Fprintf(w, "  %s\n", r.Hypothesis)
	for _, h := range sh.FlagHypotheses {
		x := h.Hypothesis.Direction.Sign() * h.Hypothesis.MinimumEffect
		fmt.Fprintf(w, "  flag %s in %s tests it: %s moves %+g%%\n", h.Flag, h.Environment, h.Hypothesis.PrimaryMetric, 100*x)
	}
	fmt.Fprintf(w, "  stage: %s since %s\n\n", strings.ToUpper(string(r.Stage)), r.Since.UTC().Format("2006-01-02 15:04 UTC"))
	writeStages(w, r.Transitions, now, cols)
	sec := func(s *value.Seconds) string {
		if s == nil {
			return "–"
		}
		return termchart.Duration(s.D())
	}
	// "its audience", not "everyone": an experiment's split is released at
	// its first exposure, to its share of the users (docs/value.md).
	fmt.Fprintf(w, "\n  lead time to customer (first commit → released to its audience)  %s\n", sec(r.LeadTimeToCustomer))
	fmt.Fprintf(w, "  time to validated learning (first exposure → verdict)            %s\n", sec(r.TimeToValidatedLearning))
	writeMissing(w, r.Missing)
	if len(r.Timeline) > 0 {
		fmt.Fprintf(w, "\nRelease record (%s):\n", valueloop.Count(int64(len(r.Timeline)), "event"))
		for _, ev := range r.Timeline {
			line := ev.Cause
			if ev.Detail != "" {
				line += " [" + ev.Detail + "]"
			}
			fmt.Fprintf(w, "  %s  %-19s %s\n", ev.At.UTC().Format("2006-01-02 15:04"), ev.Kind, oneLine(line))
		}
	}
}

// writeStages draws one bar per stage entered, on one time axis from the
// first transition to now (or to the end of the loop); ░ marks the stage
// the feature is still in. In cols (0: no limit) each line's cause is cut
// to what fits, marked …, so that the bars do not wrap: the release record
// below gives every cause whole.
func writeStages(w io.Writer, ts []value.Transition, now time.Time, cols int) {
	if len(ts) == 0 {
		return
	}
	ended := func(t value.Transition) bool { return t.To == value.Done || t.To == value.Abandoned }
	start, end := ts[0].At, now
	if last := ts[len(ts)-1]; ended(last) {
		end = last.At
	}
	// 40 cells, narrowed to 20 in a terminal too narrow for the bars and
	// 30 cells of cause (the columns around a bar take 43).
	width := 40
	if cols > 0 {
		width = min(40, max(20, cols-43-30))
	}
	var buf strings.Builder
	tw := termchart.NewTable(&buf)
	for i, t := range ts {
		to, open := now, !ended(t)
		if i+1 < len(ts) {
			to, open = ts[i+1].At, false
		} else if ended(t) {
			to = t.At
		}
		bar := strings.Repeat(" ", width)
		if end.After(start) {
			a := int(math.Round(float64(t.At.Sub(start)) / float64(end.Sub(start)) * float64(width)))
			b := int(math.Round(float64(to.Sub(start)) / float64(end.Sub(start)) * float64(width)))
			a, b = min(max(a, 0), width-1), min(max(b, a+1), width)
			fill := "█"
			if open {
				fill = "░"
			}
			bar = strings.Repeat(" ", a) + strings.Repeat(fill, b-a) + strings.Repeat(" ", width-b)
		}
		dur := "–"
		if !ended(t) {
			dur = termchart.Duration(to.Sub(t.At))
		}
		how := t.Cause
		if t.Manual {
			how += " (by hand)"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", t.To, t.At.UTC().Format("2006-01-02 15:04"), bar, dur, oneLine(how))
	}
	tw.Flush()
	w.Write([]byte(cutLines(buf.String(), cols)))
	fmt.Fprintf(w, "  (bars on one axis from %s to %s; ░ still there)\n", start.UTC().Format("2006-01-02 15:04"), end.UTC().Format("2006-01-02 15:04 UTC"))
}

// cutLines cuts each line of s longer than cols cells (0: no limit) to
// cols, its last cell …, for free text at the end of a chart's lines.
func cutLines(s string, cols int) string {
	if cols <= 0 {
		return s
	}
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = termchart.Cut(l, cols)
	}
	return strings.Join(lines, "\n")
}

// recordSet is how a set command (feature set, objective set) reaches
// one kind of record T: read shows the stored one as S, from which stored
// takes it and its version; create writes a new one, putIf one over a
// version read. fields names the flags of its fields.
type recordSet[S, T any] struct {
	what   string
	fields flagFields
	read   func(context.Context, string) (*S, error)
	stored func(*S) (*T, string)
	create func(context.Context, *T) (*T, error)
	putIf  func(context.Context, *T, string) (*T, error)
}

// set changes the record key by apply, which sets the fields given; the
// others keep their stored values. A record that cannot be read (other
// than not found: a new one, fresh) stops here, for writing one built from
// the flags alone would wipe the rest. The write is only over the version
// read: a change someone made since is not overwritten with the value
// read. A new one is created, refused when someone created its key since
// the read (a PUT would replace theirs with one built from the flags
// alone). A conflict says what to do; a field error names the flag.
func (s recordSet[S, T]) set(ctx context.Context, key string, fresh *T, apply func(*T) error) (*T, error) {
	v, version := fresh, ""
	if sh, err := s.read(ctx, key); err == nil {
		v, version = s.stored(sh)
	} else if valueloop.ErrorCode(err) != valueloop.ENOTFOUND {
		return nil, fmt.Errorf("%s set: reading the stored %s %s, whose fields not given are kept: %w", s.what, s.what, key, err)
	}
	if err := apply(v); err != nil {
		return nil, err
	}
	var out *T
	var err error
	if version == "" {
		out, err = s.create(ctx, v)
	} else {
		out, err = s.putIf(ctx, v, version)
	}
	if code := valueloop.ErrorCode(err); code == valueloop.ECONFLICT || code == valueloop.ENOTFOUND {
		err = fmt.Errorf("%s set: %w; nothing was written: run the command again to apply your change to the current %s", s.what, err, s.what)
	}
	if err != nil {
		return nil, s.fields.rename(err)
	}
	return out, nil
}
