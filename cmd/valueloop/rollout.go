package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/client"
	"github.com/valueloop/valueloop/demo"
	"github.com/valueloop/valueloop/flags"
	"github.com/valueloop/valueloop/ingest"
	"github.com/valueloop/valueloop/jsondecode"
	"github.com/valueloop/valueloop/metric"
	"github.com/valueloop/valueloop/rollout"
	"github.com/valueloop/valueloop/termchart"
	"github.com/valueloop/valueloop/webhook"
)

// rolloutConfig is what serve needs for rollouts.
type rolloutConfig struct {
	Webhooks      listFlag // generic signed JSON
	SlackWebhooks listFlag
	WebhookSecret string // secret; never printed
	Interval      time.Duration
}

func (c *rolloutConfig) targets() []webhook.Target {
	var ts []webhook.Target
	for _, u := range c.Webhooks {
		ts = append(ts, webhook.Target{URL: u, Format: webhook.Generic, Secret: c.WebhookSecret})
	}
	for _, u := range c.SlackWebhooks {
		ts = append(ts, webhook.Target{URL: u, Format: webhook.Slack})
	}
	return ts
}

// rolloutStore is what the engine needs of the store.
type rolloutStore interface {
	rollout.Store
	rollout.Data
	demo.RolloutStore
}

// openRollouts starts the rollout engine (under leader, so that one node
// of several drives rollouts) and its webhooks, and for --demo puts the
// demo's rollout under way. Each transition touches the rollout's flag
// (the value loop moves the features that link it).
func openRollouts(ctx context.Context, cfg serveConfig, rs rolloutStore, svc *flags.Service, leader rollout.Leader, pipe *ingest.Pipeline, reg prometheus.Registerer, touch func(env, flag string), logger *slog.Logger) (*rollout.Engine, func(), error) {
	eng := rollout.NewEngine(rs, svc, rs, logger)
	eng.Interval = cfg.Rollouts.Interval
	eng.Leader = leader
	var hooks *webhook.Sender
	if targets := cfg.Rollouts.targets(); len(targets) > 0 {
		hooks = webhook.NewSender(targets, logger)
		hooks.Tracer = cfg.tracer
		if err := hooks.Open(); err != nil {
			return nil, nil, err
		}
		registerWebhookMetrics(reg, hooks)
	}
	eng.Notifier = rollout.NotifierFunc(func(n rollout.Notification) {
		touch(n.Rollout.Environment, n.Rollout.Plan.Flag)
		if hooks != nil {
			hooks.Send(webhook.Message{Event: "rollout." + string(n.Event.Kind), Text: n.Text, Data: n,
				Link: dashboardLink(cfg.PublicURL, "rollouts", n.Rollout.Environment, n.Rollout.Plan.Flag)})
		}
	})
	closeAll := func() {
		eng.Close()
		if hooks != nil {
			hooks.Close()
		}
	}
	if cfg.Demo {
		n, err := demo.LoadRollout(ctx, rs, eng, pipe, func() *flags.Live { return svc.Live("production") }, "production", time.Now())
		switch {
		case valueloop.ErrorCode(err) == valueloop.EINVALID:
			// Someone changed the demo flag so that the plan no longer
			// fits: their data wins, the demo rollout is skipped.
			logger.Warn("demo rollout not started", "flag", demo.RolloutFlag, "err", valueloop.ErrorMessage(err))
		case err != nil:
			closeAll()
			return nil, nil, fmt.Errorf("demo rollout: %w", err)
		}
		if n > 0 {
			logger.Info("demo rollout under way", "flag", demo.RolloutFlag, "events", n)
		}
	}
	if err := eng.Open(); err != nil {
		closeAll()
		return nil, nil, err
	}
	return eng, closeAll, nil
}

func rolloutCommand() *command {
	action := func(name, summary string) *command {
		return &command{name: name, args: "FLAG --env ENV [--reason TEXT]", summary: summary, run: runRolloutAction(name)}
	}
	return &command{name: "rollout", summary: "progressive rollouts with guardrails (docs/rollouts.md)", subs: []*command{
		{name: "start", args: "FLAG --env ENV (-f PLAN.json|- | --variant V --baseline B --steps 5%:1h,25%:1h,50%:1h:1000,100% [--guardrail METRIC[:lower|higher][:TOLERANCE] ...] [--on-breach rollback|pause] [--alpha 0.05] [--min-sample 100]) [--reason TEXT]",
			summary: "start a rollout of a variant in steps", more: rolloutStartMore, run: runRolloutStart},
		action("status", "show a rollout's progress, guardrails and history"),
		{name: "list", args: "--env ENV [--flag KEY] [--active] [--limit N] [--before ID]", summary: "list the rollouts of an environment", run: runRolloutList},
		action("pause", "hold a rollout at its step"),
		action("resume", "let a paused rollout go on"),
		action("advance", "move a rollout to its next step now"),
		action("rollback", "serve the baseline to everyone and stop the rollout"),
	}}
}

const rolloutStartMore = `A step is PERCENT:MIN_DURATION[:MIN_USERS] (5%:1h, 25%:2d:5000, 100%). A
guardrail's tolerance is the relative change for the worse it accepts: 2%
(or 0.02) lets an error rate rise from 10% to 10.2% (a bare 2 is refused:
write 2% or 200%); its direction defaults to the metric's. See
docs/rollouts.md.
`

// rolloutKey parses args and returns the one flag key they name, and the
// client.
func rolloutKey(e *cliEnv, fs *flag.FlagSet, cf *clientFlags, sub string, env *string, args []string) (string, *client.Client, error) {
	pos, err := e.parseArgs(fs, args)
	if err != nil {
		return "", nil, err
	}
	if *env == "" {
		return "", nil, usageErrorf("rollout %s: --env is required (or set VALUELOOP_ENV)", sub)
	}
	if len(pos) != 1 {
		return "", nil, usageErrorf("rollout %s: want one flag key, e.g. 'valueloop rollout %s checkout-flow --env %s'", sub, sub, *env)
	}
	c, err := cf.client()
	return pos[0], c, err
}

func runRolloutStart(ctx context.Context, e *cliEnv, args []string) error {
	const sub = "start"
	fs, cf, env := envClientFlags(e, "rollout "+sub)
	reason := fs.String("reason", "", "why: recorded in the rollout's history and the audit trail")
	file := fs.String("f", "", "plan file (JSON; - for standard input) instead of the flags below")
	variant := fs.String("variant", "", "the variant being released")
	baseline := fs.String("baseline", "", "the variant it replaces")
	steps := fs.String("steps", "", "comma-separated PERCENT:MIN_DURATION[:MIN_USERS], e.g. 5%:1h,25%:1h,100%")
	var guardrails listFlag
	fs.Var(&guardrails, "guardrail", "METRIC[:lower|higher][:TOLERANCE], e.g. error-rate:2% (repeatable)")
	onBreach := choice(fs, "on-breach", "rollback", "`ACTION` on a guardrail's breach: rollback or pause", "rollback", "pause")
	alpha := floatFlag(fs, "alpha", 0, "chance of a false alarm over the whole rollout (default 0.05)")
	minSample := fs.Int64("min-sample", 0, "users each variant needs before a guardrail is judged, and before a step below 100% ends (default 100)")
	key, c, err := rolloutKey(e, fs, cf, sub, env, args)
	if err != nil {
		return err
	}
	plan, err := rolloutPlan(e, key, *file, *variant, *baseline, *steps, guardrails, *onBreach, *alpha, *minSample)
	if err != nil {
		return err
	}
	st, err := c.StartRollout(ctx, *env, plan, *reason)
	if err != nil && *file == "" {
		return planProblemsInFlags(problemsInFlags(err, fs), *steps, guardrails)
	}
	if err != nil {
		return err
	}
	return writeOut(e, cf, st, rolloutStatusFit(outputWidth(e)))
}

func runRolloutList(ctx context.Context, e *cliEnv, args []string) error {
	fs, cf, env := envClientFlags(e, "rollout list")
	var f rollout.Filter
	fs.StringVar(&f.Flag, "flag", "", "only rollouts of this flag")
	fs.BoolVar(&f.Active, "active", false, "only running and paused rollouts")
	fs.IntVar(&f.Limit, "limit", 100, "at most this many rollouts, newest first (1-1000)")
	fs.Int64Var(&f.BeforeID, "before", 0, "only rollouts older than this `ID` (the next page: the last ID shown)")
	pos, err := e.parseArgs(fs, args)
	if err != nil {
		return err
	}
	if *env == "" {
		return usageErrorf("rollout list: --env is required (or set VALUELOOP_ENV)")
	}
	if len(pos) > 0 {
		return usageErrorf("rollout list takes no arguments; filter with --flag KEY")
	}
	if err := checkLimit(f.Limit); err != nil {
		return err
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	f.Environment = *env
	list, err := c.Rollouts(ctx, f)
	if err != nil {
		return err
	}
	if cf.output == "json" {
		return writeJSONOut(e, list)
	}
	if len(list) == 0 {
		fmt.Fprintf(e.stdout, "No rollouts in %s%s. Start one with 'valueloop rollout start FLAG --env %s --variant V --baseline B --steps 5%%:1h,100%%'.\n",
			*env, expIf(f.Active, " under way", ""), *env)
		return nil
	}
	if err := writeRolloutList(e.stdout, list); err != nil {
		return err
	}
	nextPageHint(e, "rollouts", len(list), f.Limit, func() int64 { return list[len(list)-1].ID })
	return nil
}

// runRolloutAction returns status, or the action sub on a rollout.
func runRolloutAction(sub string) func(ctx context.Context, e *cliEnv, args []string) error {
	return func(ctx context.Context, e *cliEnv, args []string) error {
		fs, cf, env := envClientFlags(e, "rollout "+sub)
		reason := fs.String("reason", "", "why: recorded in the rollout's history and the audit trail")
		key, c, err := rolloutKey(e, fs, cf, sub, env, args)
		if err != nil {
			return err
		}
		var st *rollout.Status
		if sub == "status" {
			st, err = c.RolloutStatus(ctx, *env, key)
		} else {
			st, err = c.RolloutAction(ctx, *env, key, rollout.Kind(sub), *reason)
		}
		if err != nil {
			return err
		}
		return writeOut(e, cf, st, rolloutStatusFit(outputWidth(e)))
	}
}

// planProblemsInFlags names, in the problems of a plan made from flags,
// the item of --steps or --guardrail that made the step or guardrail a
// problem is in: "/guardrails/1/metric" is "--guardrail nope:2%", a
// pointer into JSON the command line never showed.
func planProblemsInFlags(err error, steps string, guardrails []string) error {
	ve, ok := errors.AsType[*valueloop.ValidationError](err)
	if !ok {
		return err
	}
	items := map[string][]string{"steps": typed("--steps", splitTrim(steps, ",")), "guardrails": typed("--guardrail", guardrails)}
	for i, p := range ve.Problems {
		list, rest, _ := strings.Cut(strings.TrimPrefix(p.Path, "/"), "/")
		index, _, _ := strings.Cut(rest, "/")
		if n, err := strconv.Atoi(index); err == nil && n >= 0 && n < len(items[list]) {
			ve.Problems[i].Path = items[list][n]
		}
	}
	return ve
}

// rolloutPlan builds the plan from a file or from the command line.
func rolloutPlan(e *cliEnv, key, file, variant, baseline, steps string, guardrails []string, onBreach string, alpha float64, minSample int64) (rollout.Plan, error) {
	var p rollout.Plan
	if file != "" {
		data, err := readInput(e, "-f", file)
		if err != nil {
			return p, err
		}
		// As the server reads a plan it is sent: a key given twice, or
		// naming a field only ignoring case, is refused, not read.
		if err := jsondecode.Decode(data, &p, jsondecode.Options{DisallowUnknownFields: true}); err != nil {
			return p, usageErrorf("rollout start: %s is not a rollout plan: %s", file, valueloop.ErrorMessage(err))
		}
		if p.Flag == "" {
			p.Flag = key
		} else if p.Flag != key {
			return p, usageErrorf("rollout start: the plan in %s is for flag %q, not %q", file, p.Flag, key)
		}
		return p, nil
	}
	if variant == "" || baseline == "" || steps == "" {
		return p, usageErrorf("rollout start: want -f PLAN.json, or --variant, --baseline and --steps (e.g. --steps 5%%:1h,25%%:1h,100%%)")
	}
	p = rollout.Plan{Flag: key, Variant: variant, Baseline: baseline, OnBreach: rollout.OnBreach(onBreach), Alpha: alpha, MinSample: minSample}
	for _, s := range strings.Split(steps, ",") {
		step, err := parseStep(strings.TrimSpace(s))
		if err != nil {
			return p, usageErrorf("rollout start: --steps: %v", err)
		}
		p.Steps = append(p.Steps, step)
	}
	for _, g := range guardrails {
		gr, err := parseGuardrail(g)
		if err != nil {
			return p, usageErrorf("rollout start: --guardrail %s: %v", g, err)
		}
		p.Guardrails = append(p.Guardrails, gr)
	}
	return p, nil
}

// parseStep reads PERCENT[:MIN_DURATION[:MIN_USERS]].
func parseStep(s string) (rollout.Step, error) {
	parts := splitTrim(s, ":")
	if len(parts) > 3 || parts[0] == "" {
		return rollout.Step{}, fmt.Errorf("%q: want PERCENT:MIN_DURATION[:MIN_USERS], e.g. 5%%:1h", s)
	}
	pct, err := parseFinite(strings.TrimSuffix(parts[0], "%"))
	if err != nil {
		return rollout.Step{}, fmt.Errorf("%q: %q is not a finite percentage", s, parts[0])
	}
	step := rollout.Step{Percent: pct}
	if len(parts) > 1 {
		if step.MinDuration, err = rollout.ParseDuration(parts[1]); err != nil {
			return step, fmt.Errorf("%q: %v", s, err)
		}
	}
	if len(parts) > 2 {
		if step.MinUsers, err = strconv.ParseInt(parts[2], 10, 64); err != nil {
			return step, fmt.Errorf("%q: minimum users %q is not a whole number", s, parts[2])
		}
	}
	return step, nil
}

// parseGuardrail reads METRIC[:lower|higher][:TOLERANCE].
func parseGuardrail(s string) (rollout.Guardrail, error) {
	parts := splitTrim(s, ":")
	g := rollout.Guardrail{Metric: parts[0]}
	if g.Metric == "" || len(parts) > 3 {
		return g, fmt.Errorf("want METRIC[:lower|higher][:TOLERANCE], e.g. error-rate:2%%")
	}
	var given string // the tolerance as written
	for _, p := range parts[1:] {
		switch p {
		case "lower", "higher":
			if g.Direction != "" {
				return g, fmt.Errorf("direction given twice (%s, then %s)", g.Direction, p)
			}
			g.Direction = metric.Direction(p)
			continue
		}
		if _, err := strconv.ParseFloat(strings.TrimSuffix(p, "%"), 64); err != nil {
			return g, fmt.Errorf("%q is neither a direction (lower, higher) nor a tolerance such as 2%% or 0.02", p)
		}
		if given != "" {
			return g, fmt.Errorf("tolerance given twice (%s, then %s)", given, p)
		}
		v, err := parseShare(p, false)
		if err != nil {
			return g, fmt.Errorf("tolerance %v", err)
		}
		g.Tolerance, given = v, p
	}
	return g, nil
}

func writeRolloutList(w io.Writer, list []rollout.Rollout) error {
	tw := termchart.NewTable(w)
	fmt.Fprintln(tw, "ID\tFLAG\tSTATE\tSTEP\tPERCENT\tVARIANT\tSTARTED (UTC)\tBY")
	for _, r := range list {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d/%d\t%s%%\t%s → %s\t%s\t%s\n", r.ID, r.Plan.Flag, r.State, r.Step+1, len(r.Plan.Steps),
			roPct(r.Percent), r.Plan.Baseline, r.Plan.Variant, r.StartedAt.UTC().Format("2006-01-02 15:04"), r.StartedBy)
	}
	return tw.Flush()
}

// writeRolloutStatus draws a rollout for people: its progress along the
// steps, the users per variant, each guardrail's interval against its
// tolerance, and the history.
func writeRolloutStatus(w io.Writer, st *rollout.Status) { writeRolloutStatusFit(w, st, 0) }

// rolloutStatusFit is writeRolloutStatus fitting its guardrail table in
// cols cells (see fitChart).
func rolloutStatusFit(cols int) func(io.Writer, *rollout.Status) {
	return func(w io.Writer, st *rollout.Status) { writeRolloutStatusFit(w, st, cols) }
}

func writeRolloutStatusFit(w io.Writer, st *rollout.Status, cols int) {
	r := st.Rollout
	// The title and the plan break, where they must, between their parts.
	fmt.Fprintln(w, wrapUnits("", []string{fmt.Sprintf("Rollout %d of %s in %s:", r.ID, r.Plan.Flag, r.Environment), fmt.Sprintf("%s, step %d of %d", strings.ReplaceAll(string(r.State), "_", " "), r.Step+1, len(r.Plan.Steps))}, cols, "  "))
	fmt.Fprintln(w, wrapUnits("", []string{fmt.Sprintf("%s replaces %s; on breach: %s;", r.Plan.Variant, r.Plan.Baseline, r.Plan.OnBreach), fmt.Sprintf("started %s UTC by %s", r.StartedAt.UTC().Format("2006-01-02 15:04"), r.StartedBy)}, cols, "  "))
	if r.Reason != "" {
		fmt.Fprintln(w, wrapWords("reason: ", oneLine(r.Reason), cols, "  "))
	}
	fmt.Fprintln(w)
	live := ""
	if st.LivePercent != nil && *st.LivePercent != r.Percent {
		live = fmt.Sprintf("  (the flag serves %s%%!)", roPct(*st.LivePercent))
	}
	after := fmt.Sprintf(" %s%% %s%s", roPct(r.Percent), r.Plan.Variant, live)
	fmt.Fprintf(w, "  progress  %s%s\n", termchart.Bar(r.Percent, progressWidth(cols, after)), after)
	fmt.Fprintf(w, "  steps     %s\n", wrapSteps(stepLine(r), cols, "  steps     "))
	const under = "            " // the text of a labelled line, continued
	if st.Held != nil {
		fmt.Fprintln(w, wrapWords("  HELD      ", "since "+st.Held.Since.UTC().Format("2006-01-02 15:04 UTC")+": "+oneLine(st.Held.Reason), cols, under))
	}
	for _, note := range st.Notes {
		fmt.Fprintln(w, wrapWords("  note      ", oneLine(note), cols, under))
	}
	if st.Waiting != "" {
		fmt.Fprintln(w, wrapWords("  waiting   ", st.Waiting, cols, under))
	}
	if r.State.Active() {
		fmt.Fprintf(w, "  step min  %s new users of %s (%s)\n", valueloop.GroupDigits(int64(st.StepMinUsers)), r.Plan.Variant, st.StepMinUsersReason)
	}
	if st.Served != nil {
		fmt.Fprintf(w, "  served    %s\n", servedLine(r, st.Served))
	}
	variants := make([]string, 0, len(st.Users))
	for v := range st.Users {
		variants = append(variants, v)
	}
	sort.Strings(variants)
	var users []string
	for _, v := range variants {
		users = append(users, fmt.Sprintf("%s %s", v, valueloop.GroupDigits(st.Users[v])))
	}
	if len(users) == 0 {
		users = []string{"none exposed yet"}
	}
	fmt.Fprintf(w, "  users     %s\n", strings.Join(users, " · "))

	if len(st.Guardrails) > 0 {
		writeGuardrails(w, st, cols)
	}
	if len(st.History) > 0 {
		fmt.Fprintln(w, "\nHISTORY (UTC)")
		tw := termchart.NewTable(w)
		for _, ev := range st.History {
			fmt.Fprintf(tw, "  %s\t%s\t%s%%\t%s\t%s\n", ev.At.UTC().Format("2006-01-02 15:04"), ev.Kind, roPct(ev.Percent), ev.Actor, oneLine(ev.Reason))
		}
		tw.Flush()
	}
}

// servedLine says what the step's split served the users first exposed
// since it took effect, against the step's percentage: users, not
// evaluations (rollout.StepServed).
func servedLine(r rollout.Rollout, s *rollout.StepServed) string {
	since := "since the flag began"
	if !s.Since.IsZero() {
		since = "since " + s.Since.UTC().Format("2006-01-02 15:04 UTC")
	}
	line := fmt.Sprintf("no new user drawn by the split %s (step: %s%%)", since, roPct(r.Percent))
	if s.Percent != nil {
		line = fmt.Sprintf("%s%% %s of %s new users drawn by the split %s (step: %s%%)",
			roPct(*s.Percent), r.Plan.Variant, valueloop.GroupDigits(s.SplitUsers), since, roPct(r.Percent))
	}
	if s.OutsideUsers > 0 {
		line += "; " + valueloop.Count(s.OutsideUsers, "user") + " served outside it"
	}
	if s.Ruled {
		line += "; a targeting rule may serve these variants too"
	}
	return line
}

// writeGuardrails draws the guardrail table of a rollout's status, its
// chart fit to cols cells (see fitChart), and the chart's legend.
func writeGuardrails(w io.Writer, st *rollout.Status, cols int) {
	r := st.Rollout
	fmt.Fprintln(w)
	lo, hi := guardrailAxis(st.Guardrails)
	table, width := fitChart(cols, guardWidth, func(width int) string {
		var b strings.Builder
		tw := termchart.NewTable(&b)
		fmt.Fprintf(tw, "  GUARDRAIL\tBETTER\tTOLERATED\tCHANGE\tINTERVAL%s\tSTATUS\n", chartCell(width, axisLabel(lo, hi, width)))
		for _, g := range st.Guardrails {
			limit := "+" + roPct(100*g.Tolerance) + "%"
			if g.Direction == metric.HigherIsBetter {
				limit = "-" + roPct(100*g.Tolerance) + "%"
			}
			change, iv, chart := "-", "-", strings.Repeat(" ", width)
			relative := g.HasRelative()
			if relative {
				change, iv, chart = termchart.Lift(g.Change), rollout.IntervalString(g.Interval), guardrailBar(g, lo, hi, width)
			}
			status := strings.ReplaceAll(g.Status, "_", " ")
			if !relative && g.Reason != "" {
				status += ": " + g.Reason
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s%s\t%s\n", g.Metric, g.Direction, limit, change, iv, chartCell(width, chart), status)
		}
		tw.Flush()
		return b.String()
	}, guardrailBlock(st.Guardrails, lo, hi))
	fmt.Fprint(w, table)
	legend := []string{fmt.Sprintf("relative change of %s vs %s", r.Plan.Variant, r.Plan.Baseline)}
	if width > 0 {
		legend = append(legend, "● estimate ├─┤ always-valid interval", "│ no change", "┃ tolerated limit")
	}
	fmt.Fprint(w, legendLines(legend, cols))
}

const guardWidth = 31

// progressWidth is the width of the progress bar: 40 cells, narrower to
// fit cols (0: no limit) with the text after it, down to 10.
func progressWidth(cols int, after string) int {
	if cols <= 0 {
		return 40
	}
	return max(10, min(40, cols-termchart.Cells("  progress  []"+after)))
}

// legendLines writes the parts of a legend as "  (a, b, c)", on as many
// lines as it takes to fit cols cells (0: no limit), the next indented
// under the first's text; a part is not split.
func legendLines(parts []string, cols int) string {
	var b strings.Builder
	line := "  (" + parts[0]
	for _, p := range parts[1:] {
		if cols > 0 && termchart.Cells(line+", "+p+")") > cols {
			b.WriteString(line + ",\n")
			line = "   " + p
			continue
		}
		line += ", " + p
	}
	b.WriteString(line + ")\n")
	return b.String()
}

// stepLine lists the steps with the ones done ticked and the current one
// marked.
func stepLine(r rollout.Rollout) string {
	parts := make([]string, len(r.Plan.Steps))
	for i, s := range r.Plan.Steps {
		mark := ""
		switch {
		case r.State == rollout.RolledBack && i == r.Step:
			mark = "✗"
		case i < r.Step || i == r.Step && r.State == rollout.Completed:
			mark = "✓"
		case i == r.Step:
			mark = "●"
		}
		p := mark + roPct(s.Percent) + "%"
		if s.MinDuration > 0 {
			p += " " + s.MinDuration.String()
		}
		if s.MinUsers > 0 {
			p += " ≥" + valueloop.GroupDigits(s.MinUsers) + " users"
		}
		parts[i] = p
	}
	return strings.Join(parts, " → ")
}

// wrapSteps breaks a step line after its arrows so that, behind the
// label, no line is wider than cols cells (none for a pipe, cols 0); the
// lines that follow are indented under the first step. The plan's
// minimums make a step line longer than a terminal (a demo plan of four
// steps with user minimums is 82 cells).
func wrapSteps(line string, cols int, label string) string {
	indent := utf8.RuneCountInString(label)
	if cols <= 0 || indent+utf8.RuneCountInString(line) <= cols {
		return line
	}
	parts := strings.Split(line, " → ")
	var b strings.Builder
	b.WriteString(parts[0])
	width := indent + utf8.RuneCountInString(parts[0])
	for _, part := range parts[1:] {
		n := utf8.RuneCountInString(part)
		if width+3+n > cols { // " → " is 3 cells
			b.WriteString(" →\n" + strings.Repeat(" ", indent) + part)
			width = indent + n
			continue
		}
		b.WriteString(" → " + part)
		width += 3 + n
	}
	return b.String()
}

// wrapWords writes text behind label, broken at its spaces so that no
// line is wider than cols cells (none for a pipe, cols 0), the lines after
// the first behind indent. A note on the users a rule serves outside the
// split is a paragraph: on one line it ran 325 cells past an 80-column
// terminal.
func wrapWords(label, text string, cols int, indent string) string {
	if cols <= 0 {
		return label + text
	}
	return wrapUnits(label, strings.Fields(text), cols, indent)
}

// wrapUnits is wrapWords over units that are not broken: they are joined
// by spaces, and a unit wider than the room stays whole on a line of its
// own.
func wrapUnits(label string, units []string, cols int, indent string) string {
	var b strings.Builder
	b.WriteString(label)
	width := termchart.Cells(label)
	for i, u := range units {
		n := termchart.Cells(u)
		switch {
		case i == 0:
		case cols > 0 && width+1+n > cols:
			b.WriteString("\n" + indent)
			width = termchart.Cells(indent)
		default:
			b.WriteString(" ")
			width++
		}
		b.WriteString(u)
		width += n
	}
	return b.String()
}

// guardrailAxis is the range of relative change the guardrail charts
// share: every interval, zero and every tolerance, within ±100%.
func guardrailAxis(gs []rollout.GuardrailResult) (lo, hi float64) {
	for _, g := range gs {
		lo, hi = math.Min(lo, -g.Tolerance), math.Max(hi, g.Tolerance)
		if !g.HasRelative() {
			continue
		}
		if !g.Interval.LowerUnbounded {
			lo = math.Min(lo, g.Interval.Lower)
		}
		if !g.Interval.UpperUnbounded {
			hi = math.Max(hi, g.Interval.Upper)
		}
	}
	span := math.Max(hi-lo, 0.02)
	lo, hi = math.Max(-1, lo-span*0.05), math.Min(1, hi+span*0.05)
	return lo, hi
}

// guardrailBlock is the guardrails' chart drawn apart from their table
// (fitChart): one row per guardrail with a relative change.
func guardrailBlock(gs []rollout.GuardrailResult, lo, hi float64) chartBlock {
	b := chartBlock{title: "CHANGE", axis: func(width int) string { return axisLabel(lo, hi, width) }}
	for _, g := range gs {
		if g.HasRelative() {
			b.rows = append(b.rows, chartRow{label: g.Metric, chart: func(width int) string { return guardrailBar(g, lo, hi, width) }})
		}
	}
	return b
}

func axisLabel(lo, hi float64, width int) string {
	l, r := termchart.Lift(lo), termchart.Lift(hi)
	if len(l)+len(r)+1 > width {
		return strings.Repeat(" ", width)
	}
	return l + strings.Repeat(" ", width-len(l)-len(r)) + r
}

// guardrailBar draws a guardrail's interval ├──●──┤ on the axis [lo, hi]
// with │ at no change (┼ inside the interval) and ┃ at the tolerated
// limit (when on the axis); ◄ or ► where the interval runs off the axis,
// and no ● when the estimate does too (drawn at the end, it read as that
// end's change).
func guardrailBar(g rollout.GuardrailResult, lo, hi float64, width int) string {
	if width == 0 {
		return ""
	}
	pos := func(x float64) int {
		p := int(math.Round((x - lo) / (hi - lo) * float64(width-1)))
		return max(0, min(width-1, p))
	}
	limit := g.Tolerance
	if g.Direction == metric.HigherIsBetter {
		limit = -limit
	}
	a, b := 0, width-1
	if !g.Interval.LowerUnbounded {
		a = pos(g.Interval.Lower)
	}
	if !g.Interval.UpperUnbounded {
		b = pos(g.Interval.Upper)
	}
	iv := termchart.Interval{Width: width, From: a, To: b, Zero: pos(0), Est: pos(g.Change),
		OffLeft:  g.Interval.LowerUnbounded || g.Interval.Lower < lo,
		OffRight: g.Interval.UpperUnbounded || g.Interval.Upper > hi,
		EstOff:   g.Change < lo || g.Change > hi}
	// A limit past the axis (the axis stops at ±100%) is not drawn at its
	// end, where it would read as a limit there; the TOLERATED column says it.
	if lo <= limit && limit <= hi {
		iv.Mark, iv.MarkAt = '┃', pos(limit)
	}
	return iv.String()
}

// roPct writes a percentage with up to two decimals.
func roPct(p float64) string {
	return strconv.FormatFloat(math.Round(p*100)/100, 'f', -1, 64)
}

// registerWebhookMetrics exports the sender's counts of outgoing rollout
// webhook deliveries, one series per outcome.
func registerWebhookMetrics(reg prometheus.Registerer, hooks *webhook.Sender) {
	for outcome, n := range map[string]*atomic.Uint64{"delivered": &hooks.Delivered, "failed": &hooks.Failed, "dropped": &hooks.Dropped} {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name:        "valueloop_rollout_webhook_deliveries_total",
			Help:        "Outgoing rollout webhook deliveries (one per message and target) by outcome: delivered, failed after retries, or dropped with the queue full or at shutdown.",
			ConstLabels: prometheus.Labels{"outcome": outcome},
		}, func() float64 { return float64(n.Load()) }))
	}
}

// dashboardLink is the absolute URL of the dashboard's page at the path of
// segments under the server's public URL, for messages read outside the
// dashboard (a Slack channel); "" unless public-url names a host, since
// nothing else says where people reach the server.
func dashboardLink(public *url.URL, segments ...string) string {
	if public == nil || public.Host == "" {
		return ""
	}
	return public.JoinPath(segments...).String()
}
