package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/delivery"
	"github.com/valueloop/valueloop/termchart"
	"github.com/valueloop/valueloop/value"
)

func nextCommand() *command {
	return &command{name: "next", args: "[--method wsjf|rice] [--objective O] [--cleanup-after 14d]",
		summary: "what to build next: the backlog ranked by evidence, each rank's arithmetic, and what to stop or finish", run: runNext}
}

func flowCommand() *command {
	return &command{name: "flow", args: "[--objective O] [--since 90d]",
		summary: "the flow of value: work in progress and stuck items per stage, throughput, flow time, validated share", run: runFlow}
}

func valueCommand() *command {
	return &command{name: "value", summary: "the objectives and features file kept in the team's repository", subs: []*command{
		{name: "apply", args: "-f FILE [--dry-run] [--prune]", summary: "apply a file of objectives and features (YAML or JSON) in one transaction", run: runValueApply},
		{name: "export", args: "[--format yaml|json]", summary: "print the objectives and features as a file that applies back unchanged", run: runValueExport},
	}}
}

// parseSpan reads a span such as 90d, 12w or 36h; empty is zero.
func parseSpan(flagName, s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := delivery.ParseSince(s)
	if err != nil {
		return 0, usageErrorf("--%s: %s", flagName, strings.TrimPrefix(valueloop.ErrorMessage(err), "since: "))
	}
	return d, nil
}

func runNext(ctx context.Context, e *cliEnv, args []string) error {
	var method, objective, cleanup string
	_, c, cf, err := leafClient(e, "next", args, 0, func(fs *flag.FlagSet) {
		choiceVar(fs, &method, "method", "wsjf", "ranking `METHOD`: wsjf (cost of delay / size) or rice (reach × impact / effort)", string(value.WSJF), string(value.RICE))
		fs.StringVar(&objective, "objective", "", "only what bets on this objective; ranks keep their place in the whole backlog")
		fs.StringVar(&cleanup, "cleanup-after", "", "how long a decided feature's flag may stay before its cleanup is asked (default 14d)")
	})
	if err != nil {
		return err
	}
	after, err := parseSpan("cleanup-after", cleanup)
	if err != nil {
		return err
	}
	n, err := c.Next(ctx, method, objective, after)
	if err != nil {
		return flagFields{fields: map[string]string{"method": "--method", "objective": "--objective", "cleanupAfter": "--cleanup-after"}}.rename(err)
	}
	cols := outputWidth(e)
	return writeOut(e, cf, n, func(w io.Writer, n *value.Next) {
		writeNextOf(w, n, objective)
		writeDecisions(w, n.Decisions, cols)
	})
}

// writeDecisions prints what needs a person's decision now in rollouts and
// experiments, as the dashboard's overview lists it (value.Decisions),
// each broken to cols (none for a pipe): the sentences run past 80.
func writeDecisions(w io.Writer, ds []value.Decision, cols int) {
	fmt.Fprintln(w, "\nDecide now:")
	if len(ds) == 0 {
		fmt.Fprintln(w, wrapWords("  ", "nothing: no rollout without a hypothesis, paused or with a guardrail breached, no validated experiment to release, no sample ratio mismatch", cols, "  "))
	}
	for _, d := range ds {
		fmt.Fprintln(w, wrapWords("  - ", d.Reason, cols, "    "))
	}
}

// writeNext prints the ranked backlog with a bar per score and each rank's
// arithmetic, the features not estimated, the objectives' records of bets
// and what to stop or finish.
func writeNext(w io.Writer, n *value.Next) { writeNextOf(w, n, "") }

// writeNextOf is writeNext of the backlog n cut to objective (all of it
// when ""): with nothing to rank it says so of that objective, not of the
// whole backlog.
func writeNextOf(w io.Writer, n *value.Next, objective string) {
	formula := "cost of delay / size"
	if n.Method == value.RICE {
		formula = "reach × impact / effort"
	}
	fmt.Fprintf(w, "What to build next (%s: %s × confidence × effect, the last two from each objective's verdicts)\n\n", strings.ToUpper(string(n.Method)), formula)
	if len(n.Ranked) == 0 {
		of := ""
		if objective != "" {
			of = " betting on objective " + objective
		}
		if len(n.Unranked) > 0 {
			fmt.Fprintf(w, "  Nothing to rank: no idea or ready feature%s has the estimates %s needs (see below).\n", of, strings.ToUpper(string(n.Method)))
		} else {
			fmt.Fprintf(w, "  Nothing to rank: no feature%s is an idea or ready.\n", of)
		}
	}
	top, wide := 0.0, 0
	for _, r := range n.Ranked {
		top, wide = math.Max(top, r.Score), max(wide, len(value.Figure(r.Score)))
	}
	tw := termchart.NewTable(w)
	for _, r := range n.Ranked {
		// Scores to the right, as numbers line up; what blocks a rank after
		// its bar, only where something does (no trailing blanks).
		fmt.Fprintf(tw, "  %d.\t%s\t%s\t%s\t%*s\t%s", r.Position, r.Feature, r.Objective, r.Stage, wide, value.Figure(r.Score), termchart.Bar(100*r.Score/top, 20))
		if b := blocked(r); b != "" {
			fmt.Fprint(tw, "\t"+b)
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	for _, r := range n.Ranked {
		fmt.Fprintf(w, "  %d. %s: %s\n", r.Position, r.Feature, r.Explanation)
	}
	if len(n.Unranked) > 0 {
		fmt.Fprintln(w, "\nNot ranked yet:")
		for _, u := range n.Unranked {
			fmt.Fprintf(w, "  - %s (%s): %s%s\n", u.Feature, u.Stage, u.Reason, estimateCommand(u))
		}
	}
	if len(n.Bets) > 0 {
		fmt.Fprintln(w, "\nRecord of bets per objective:")
		tw = termchart.NewTable(w)
		for _, b := range n.Bets {
			progress := ""
			if b.Progress != nil {
				progress = b.Progress.Summary
			}
			fmt.Fprintf(tw, "  %s\t%s\tconfidence %s\teffect %s (%d measured)\t%s\n", b.Objective, b.Verdicts(), value.Figure(b.Confidence), value.Figure(b.Effect), b.Measured, progress)
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

// blocked says on a rank's table row what keeps it from being started, as
// its line does: a high rank that waits for another feature is not the next
// thing to build yet.
func blocked(r value.Rank) string {
	var out []string
	if len(r.WaitsFor) > 0 {
		out = append(out, "waits for "+strings.Join(r.WaitsFor, ", "))
	}
	if len(r.Abandoned) > 0 {
		out = append(out, "depends on abandoned "+strings.Join(r.Abandoned, ", ")+": rethink it")
	}
	return strings.Join(out, "; ")
}

func runFlow(ctx context.Context, e *cliEnv, args []string) error {
	var objective, since string
	_, c, cf, err := leafClient(e, "flow", args, 0, func(fs *flag.FlagSet) {
		fs.StringVar(&objective, "objective", "", "only this objective's features")
		fs.StringVar(&since, "since", "90d", "the window of throughput, flow times and validated share: 90d, 12w")
	})
	if err != nil {
		return err
	}
	span, err := parseSpan("since", since)
	if err != nil {
		return err
	}
	f, err := c.Flow(ctx, objective, span)
	if err != nil {
		return flagFields{fields: map[string]string{"objective": "--objective", "since": "--since"}}.rename(err)
	}
	cols := outputWidth(e)
	return writeOut(e, cf, f, func(w io.Writer, f *value.Flow) { writeFlow(w, f, objective, cols) })
}

// writeFlow prints the flow of value: per stage the work in progress (with
// a bar), the oldest items (stuck ones marked) and the flow time; then the
// weekly throughput as a sparkline and the validated share.
func writeFlow(w io.Writer, f *value.Flow, objective string, cols int) {
	scope := "all objectives"
	if objective != "" {
		scope = "objective " + objective
	}
	fmt.Fprintf(w, "Flow of value, %s, %s to %s\n\n", scope, f.Since.UTC().Format("2006-01-02"), f.Until.UTC().Format("2006-01-02"))
	writeFlowStages(w, f.Stages, cols)
	vals, ok := make([]float64, len(f.Throughput)), make([]bool, len(f.Throughput))
	total, validated := 0, 0
	for i, wk := range f.Throughput {
		vals[i], ok[i] = float64(wk.Total()), true
		total += wk.Total()
		validated += wk.Validated
	}
	fmt.Fprintln(w, "\nThroughput: features reaching a verdict per week")
	left := ""
	if m := f.Mismatches(); m != "" {
		left = "; " + m
	}
	fmt.Fprintf(w, "  %s  %d in %s (%d validated, %d invalidated)%s\n", termchart.Sparkline(vals, ok, 60), total, valueloop.Count(int64(len(f.Throughput)), "week"), validated, total-validated, left)
	share := "–"
	if f.ValidatedShare != nil {
		share = fmt.Sprintf("%.0f%%", 100**f.ValidatedShare)
	}
	// Shipped is measuring or beyond, which a move by hand reaches too (an
	// idea invalidated in planning): not "released to their users".
	fmt.Fprintf(w, "\nShipped %d (entered measuring or a later stage in the window, by evidence or by hand): %d validated, %d invalidated, %d undecided%s; validated share %s\n",
		f.Shipped, f.Validated, f.Invalidated, f.Undecided(), f.UndecidedMismatched(), share)
	if f.Progress != nil {
		fmt.Fprintln(w, "\nTarget of objective "+f.Progress.Objective+":")
		writeProgress(w, f.Progress)
	}
}

// writeFlowStages prints a line per stage: its work in progress drawn, its
// flow time, and its oldest features last, as many as fit in cols (0: no
// limit) with the number left out, so that the table does not wrap on a
// terminal of 80 columns.
func writeFlowStages(w io.Writer, stages []value.StageFlow, cols int) {
	top := 0
	for _, s := range stages {
		top = max(top, s.WIP)
	}
	rows := [][]string{{"STAGE", "WIP", "", "FLOW TIME p50 / p85", "OLDEST"}}
	for _, s := range stages {
		flow := "–"
		if s.FlowTime.Count > 0 {
			flow = fmt.Sprintf("%s / %s (%d)", termchart.Duration(s.FlowTime.Median.D()), termchart.Duration(s.FlowTime.P85.D()), s.FlowTime.Count)
		}
		rows = append(rows, []string{string(s.Stage), strconv.Itoa(s.WIP), termchart.Bar(100*float64(s.WIP)/float64(max(top, 1)), 12), flow, ""})
	}
	widths := make([]int, 4)
	for _, r := range rows {
		for i := range widths {
			widths[i] = max(widths[i], termchart.Cells(r[i]))
		}
	}
	indent := 2
	for _, wd := range widths {
		indent += wd + 2
	}
	// In a terminal narrower than the columns before OLDEST, the shortest
	// form (their count), not all of them as without a limit.
	room := 0
	if cols > 0 {
		room = max(cols-indent, 1)
	}
	for i, s := range stages {
		rows[i+1][4] = oldestFitting(s, room)
	}
	for _, r := range rows {
		line := "  "
		for i, wd := range widths {
			line += r[i] + strings.Repeat(" ", wd-termchart.Cells(r[i])+2)
		}
		fmt.Fprintln(w, strings.TrimRight(line+r[4], " "))
	}
}

// oldestFitting lists the stage's oldest features as "KEY AGE[ STUCK]",
// oldest first, in at most room cells (room <= 0: all), ending with
// "+N more" for those left out; when not even one fits, their count and
// how many are stuck.
func oldestFitting(s value.StageFlow, room int) string {
	var items []string
	for _, a := range s.Oldest {
		o := a.Feature + " " + termchart.Duration(a.Age.D())
		if a.Stuck {
			o += " STUCK"
		}
		items = append(items, o)
	}
	all := strings.Join(items, ", ")
	if room <= 0 || termchart.Cells(all) <= room {
		return all
	}
	for n := len(items) - 1; n > 0; n-- {
		line := strings.Join(items[:n], ", ") + fmt.Sprintf(", +%d more", len(items)-n)
		if termchart.Cells(line) <= room {
			return line
		}
	}
	if s.Stuck > 0 {
		return fmt.Sprintf("%s, %d STUCK", plural(len(items), "feature"), s.Stuck)
	}
	return plural(len(items), "feature")
}

func runValueExport(ctx context.Context, e *cliEnv, args []string) error {
	var format string
	_, c, cf, err := leafClient(e, "value export", args, 0, func(fs *flag.FlagSet) {
		choiceVar(fs, &format, "format", "", "`FORMAT`: yaml or json (default: json with --output json, else yaml)", "yaml", "json")
	})
	if err != nil {
		return err
	}
	switch {
	case format == "":
		format = expIf(cf.output == "json", "json", "yaml")
	case format == "yaml" && cf.output == "json":
		return usageErrorf("--format yaml and --output json disagree: give one")
	}
	out, err := c.ExportValue(ctx, format == "json")
	if err != nil {
		return err
	}
	_, err = e.dataOut().Write(out)
	return err
}

func runValueApply(ctx context.Context, e *cliEnv, args []string) error {
	var file string
	var dry, prune bool
	_, c, cf, err := leafClient(e, "value apply", args, 0, func(fs *flag.FlagSet) {
		fs.StringVar(&file, "f", "", "the file of objectives and features, YAML or JSON")
		fs.BoolVar(&dry, "dry-run", false, "show what would change, change nothing")
		fs.BoolVar(&prune, "prune", false, "delete the objectives and features the file lacks")
	})
	if err != nil {
		return err
	}
	if file == "" {
		return usageErrorf("value apply: want -f FILE, e.g. 'valueloop value apply -f valueloop.yaml --dry-run'")
	}
	data, err := readBounded(file, value.MaxFileTextBytes)
	if err != nil {
		return err
	}
	f, err := value.DecodeFile(data)
	if err != nil {
		return err
	}
	res, err := c.ApplyValue(ctx, f, dry, prune)
	if err != nil {
		return err
	}
	if cf.output == "json" {
		return writeJSONOut(e, res)
	}
	if len(res.Operations) == 0 {
		fmt.Fprintln(e.stdout, "Nothing to change: the server holds the file's objectives and features.")
		return nil
	}
	verb := "Applied"
	if res.DryRun {
		verb = "Would apply (dry run)"
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

// readBounded reads the file name, refusing it past limit bytes before
// reading more than that.
func readBounded(name string, limit int64) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if int64(len(data)) > limit {
		return nil, valueloop.FieldErrorf("file", "%s is larger than %d bytes, the most a file of objectives and features may be", name, limit)
	}
	return data, nil
}

// estimateCommand is the command that sets what u lacks, after its reason,
// which names the fields as the value file does; empty when none is known.
func estimateCommand(u value.Unranked) string {
	if c := u.Command(); c != "" {
		return " (" + c + ")"
	}
	return ""
}
