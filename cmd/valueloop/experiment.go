package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/client"
	"github.com/valueloop/valueloop/demo"
	"github.com/valueloop/valueloop/experiment"
	"github.com/valueloop/valueloop/stats"
	"github.com/valueloop/valueloop/termchart"
)

func experimentCommand() *command {
	return &command{name: "experiment", summary: "results and hypotheses of a flag's experiment", more: "Settings given to results override the hypothesis' for that look only.\n", subs: []*command{
		{name: "results", args: "FLAG --env ENV [--metric KEY ...] [--dimension NAME] [--alpha A] [--alternative two-sided|greater|less] [--tuning USERS] [--cuped on|off] [--correction none|holm|bh|bonferroni] [--inference sequential|fixed] [--control VARIANT] [--weights V:W,V:W] [--cuped-theta within|pooled] [--srm-threshold P] [--prior MEAN:SD] [--exclude-open-windows on|off]",
			summary: "show the experiment's results and verdict", more: "Settings given to results override the hypothesis' for that look only.\n", run: runExperimentResults},
		{name: "hypothesis", summary: "the hypothesis an experiment tests", subs: []*command{
			{name: "get", args: "FLAG --env ENV", summary: "show a flag's hypothesis", run: runHypothesisGet},
			{name: "set", args: "FLAG --env ENV (-f FILE|- | --primary METRIC --min-effect 2% [--absolute] [--direction increase|decrease] [--power 0.8] [--statement TEXT] [--guardrail METRIC:TOLERANCE ...] [--guardrail-abs METRIC:TOLERANCE ...] [settings as for results])",
				summary: "set a flag's hypothesis", run: runHypothesisSet},
			{name: "delete", args: "FLAG --env ENV", summary: "delete a flag's hypothesis", run: runHypothesisDelete},
		}},
	}}
}

// expSettingFlags are the analysis settings as command line flags, by
// their name in experiment.Settings.Set.
type expSettingFlags map[string]*string

// expSettings are the experiment settings the commands take as flags.
var expSettings = []struct{ flag, name, help string }{
	{"alpha", "alpha", "significance level, in (0, 0.5]"},
	{"alternative", "alternative", "two-sided, greater or less"},
	{"tuning", "sequentialTuning", "users at which the confidence sequence is narrowest"},
	{"cuped", "cuped", "CUPED variance reduction: on or off"},
	{"correction", "correction", "multiple-testing correction: none, holm, bh or bonferroni"},
	{"cuped-theta", "cupedTheta", "CUPED θ: within (arms' common slope, default) or pooled (all users)"},
	{"srm-threshold", "srmThreshold", "p-value below which the SRM check flags a mismatch (default 0.001)"},
	{"prior", "prior", "normal prior MEAN:SD on the relative effect for the Bayesian view, e.g. 0:0.3 (default none: flat)"},
	{"inference", "inference", "which intervals decide: sequential (safe to peek) or fixed"},
	{"control", "control", "control variant"},
	{"weights", "weights", "variant weights for the SRM check, e.g. control:50,treatment:50 (spaces around names and numbers are ignored)"},
	{"exclude-open-windows", "excludeOpenWindows", "leave out of each metric with a window the users whose window may still be open: on or off (default off)"},
}

func addExpSettingFlags(fs *flag.FlagSet) expSettingFlags {
	f := expSettingFlags{}
	for _, s := range expSettings {
		f[s.name] = fs.String(s.flag, "", s.help)
	}
	return f
}

// addSettingFields adds the flags of the settings to ff: --alpha for settings.alpha.
func addSettingFields(ff flagFields) {
	for _, s := range expSettings {
		ff.fields["settings."+s.name] = "--" + s.flag
	}
}

// given returns the settings set on the command line.
func (f expSettingFlags) given() url.Values {
	q := url.Values{}
	for name, v := range f {
		if *v != "" {
			q.Set(name, *v)
		}
	}
	return q
}

func runExperimentResults(ctx context.Context, e *cliEnv, args []string) error {
	fs, cf, env := envClientFlags(e, "experiment results")
	var metrics listFlag
	fs.Var(&metrics, "metric", "show only this metric (repeatable); the hypothesis' metrics are always shown")
	dimension := fs.String("dimension", "", "also show the results split by this `DIMENSION` (one the server keeps, see serve --dimension)")
	settings := addExpSettingFlags(fs)
	pos, err := e.parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || *env == "" {
		return usageErrorf("experiment results: want one flag key and --env, e.g. 'valueloop experiment results new-onboarding --env production'")
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	q := settings.given()
	for _, m := range metrics {
		q.Add("metric", m)
	}
	if *dimension != "" {
		q.Set("dimension", *dimension)
	}
	res, err := c.Results(ctx, *env, pos[0], q)
	if err != nil {
		ff := flagFields{fields: map[string]string{"metric": "--metric", "dimension": "--dimension"}}
		addSettingFields(ff)
		return ff.rename(err)
	}
	cols := outputWidth(e)
	return writeOut(e, cf, res, func(w io.Writer, r *experiment.Result) { writeResultsFit(w, r, cols) })
}

// hypothesisKey parses args and returns the one flag key they name, and
// the client.
func hypothesisKey(e *cliEnv, fs *flag.FlagSet, cf *clientFlags, sub string, env *string, args []string) (string, *client.Client, error) {
	pos, err := e.parseArgs(fs, args)
	if err != nil {
		return "", nil, err
	}
	if len(pos) != 1 || *env == "" {
		return "", nil, usageErrorf("experiment hypothesis %s: want one flag key and --env, e.g. 'valueloop experiment hypothesis %s new-onboarding --env production'", sub, sub)
	}
	c, err := cf.client()
	return pos[0], c, err
}

func runHypothesisGet(ctx context.Context, e *cliEnv, args []string) error {
	fs, cf, env := envClientFlags(e, "experiment hypothesis get")
	key, c, err := hypothesisKey(e, fs, cf, "get", env, args)
	if err != nil {
		return err
	}
	h, err := c.Hypothesis(ctx, *env, key)
	if err != nil {
		return err
	}
	return writeOut(e, cf, h, writeHypothesis)
}

func runHypothesisDelete(ctx context.Context, e *cliEnv, args []string) error {
	fs, cf, env := envClientFlags(e, "experiment hypothesis delete")
	key, c, err := hypothesisKey(e, fs, cf, "delete", env, args)
	if err != nil {
		return err
	}
	if err := c.DeleteHypothesis(ctx, *env, key); err != nil {
		return err
	}
	return done(e, cf, map[string]any{"deleted": "hypothesis", "flag": key, "environment": *env}, fmt.Sprintf("Deleted the hypothesis of %s in %s.", key, *env))
}

// hypothesisInput is a hypothesis given by flags.
type hypothesisInput struct {
	primary, minEffect, direction, statement *string
	absolute                                 *bool
	power                                    *float64
	guardrails, guardrailsAbs                listFlag
	settings                                 expSettingFlags
}

func addHypothesisFlags(fs *flag.FlagSet) *hypothesisInput {
	in := &hypothesisInput{}
	in.primary = fs.String("primary", "", "primary metric: the one that decides")
	in.minEffect = fs.String("min-effect", "", "smallest effect worth shipping: relative (2% or 0.02) unless --absolute")
	in.absolute = fs.Bool("absolute", false, "--min-effect is in the metric's units")
	in.direction = choice(fs, "direction", "", "`DIRECTION`: increase or decrease (default: the way the metric calls better)", string(experiment.Increase), string(experiment.Decrease))
	in.power = floatFlag(fs, "power", 0, "planned power (default 0.8)")
	in.statement = fs.String("statement", "", "the hypothesis in words: we believe that ...")
	fs.Var(&in.guardrails, "guardrail", "METRIC:TOLERANCE, the largest relative harm accepted (5% or 0.05; a bare 5 is refused); repeatable")
	fs.Var(&in.guardrailsAbs, "guardrail-abs", "METRIC:TOLERANCE in the metric's units; repeatable")
	in.settings = addExpSettingFlags(fs)
	return in
}

func runHypothesisSet(ctx context.Context, e *cliEnv, args []string) error {
	fs, cf, env := envClientFlags(e, "experiment hypothesis set")
	file := fs.String("f", "", "the hypothesis as JSON (- for standard input) instead of flags")
	in := addHypothesisFlags(fs)
	key, c, err := hypothesisKey(e, fs, cf, "set", env, args)
	if err != nil {
		return err
	}
	var body []byte
	if *file != "" {
		body, err = readInput(e, "-f", *file)
	} else {
		body, err = in.body()
		err = in.fields().rename(err)
	}
	if err != nil {
		return err
	}
	h, err := c.PutHypothesis(ctx, *env, key, body)
	if err != nil && *file == "" {
		return in.fields().rename(err)
	}
	if err != nil {
		return inFile(*file, err)
	}
	if cf.output == "json" {
		return writeJSONOut(e, h)
	}
	fmt.Fprintf(e.stderr, "Saved the hypothesis of %s in %s (version %d).\n", key, *env, h.Version)
	writeHypothesis(e.stdout, h)
	return nil
}

// body returns the hypothesis as the JSON the API takes.
func (in *hypothesisInput) body() ([]byte, error) {
	if *in.primary == "" || *in.minEffect == "" {
		return nil, usageErrorf("experiment hypothesis set: want --primary METRIC and --min-effect (e.g. --min-effect 2%%), or -f FILE")
	}
	h := map[string]any{"primaryMetric": *in.primary}
	var err error
	if h["minimumEffect"], err = parseShare(*in.minEffect, *in.absolute); err != nil {
		return nil, usageErrorf("experiment hypothesis set: --min-effect: %v", err)
	}
	for k, v := range map[string]any{"absolute": *in.absolute, "direction": *in.direction, "power": *in.power, "statement": *in.statement} {
		if v != false && v != "" && v != 0.0 {
			h[k] = v
		}
	}
	gs, err := in.guardrailList()
	if err != nil {
		return nil, err
	}
	if gs != nil {
		h["guardrails"] = gs
	}
	settings, err := in.settings.json()
	if err != nil {
		return nil, err
	}
	if len(settings) > 0 {
		h["settings"] = settings
	}
	return json.Marshal(h)
}

// fields names the flag that sets each field of the hypothesis, for errors.
func (in *hypothesisInput) fields() flagFields {
	ff := flagFields{fields: map[string]string{
		"primaryMetric": "--primary", "minimumEffect": "--min-effect", "absolute": "--absolute",
		"direction": "--direction", "power": "--power", "statement": "--statement",
		"guardrails": "--guardrail",
	}, lists: map[string][]string{
		"guardrails": append(typed("--guardrail", in.guardrails), typed("--guardrail-abs", in.guardrailsAbs)...),
	}}
	addSettingFields(ff)
	return ff
}

func (in *hypothesisInput) guardrailList() ([]map[string]any, error) {
	var gs []map[string]any
	for _, list := range []struct {
		values listFlag
		abs    bool
	}{{in.guardrails, false}, {in.guardrailsAbs, true}} {
		for _, g := range list.values {
			metric, tol, ok := strings.Cut(g, ":")
			if !ok || metric == "" {
				return nil, usageErrorf("experiment hypothesis set: --guardrail wants METRIC:TOLERANCE, e.g. support-tickets:5%%; got %q", g)
			}
			t, err := parseShare(tol, list.abs)
			if err != nil {
				return nil, usageErrorf("experiment hypothesis set: --guardrail %s: %v", g, err)
			}
			gs = append(gs, map[string]any{"metric": metric, "tolerance": t, "absolute": list.abs})
		}
	}
	return gs, nil
}

// json returns the settings given, as the API spells them; they go through
// the same parsing as the server's.
func (f expSettingFlags) json() (map[string]any, error) {
	s := experiment.Settings{}
	given := f.given()
	for name := range given {
		if err := s.Set(name, given.Get(name)); err != nil {
			return nil, err
		}
	}
	sj, _ := json.Marshal(s)
	var all map[string]any
	json.Unmarshal(sj, &all)
	out := map[string]any{}
	for name := range given {
		out[name] = all[name]
	}
	return out, nil
}

// parseShare parses a relative share, "5%" or "0.05", or with abs a plain
// number. It is the one reader of relative values on the command line
// (tolerances, minimum effects, targets): --steps and the other flags read
// a bare 5 as 5%, so a bare number of 1 or more, which as a fraction is
// 100% or more ("errors:2" meant as 2% would tolerate a rise of 200%), is
// refused; a whole fraction is written with a percent sign.
func parseShare(s string, abs bool) (float64, error) {
	num, pct := strings.CutSuffix(s, "%")
	if pct && abs {
		return 0, fmt.Errorf("an absolute value cannot be a percentage, got %q", s)
	}
	v, err := parseFiniteIn(num, s)
	if err != nil {
		return 0, fmt.Errorf("%w; write a share as 2%% or 0.02", err)
	}
	if !pct && !abs && math.Abs(v) >= 1 {
		as := strconv.FormatFloat(v*100, 'f', -1, 64)
		return 0, fmt.Errorf("%s is a fraction, %s%%: write %s%% for %s percent, or %s%% if that is meant", s, as, s, s, as)
	}
	if pct {
		v /= 100
	}
	return v, nil
}

func writeHypothesis(w io.Writer, h *experiment.Hypothesis) {
	if h.Statement != "" {
		fmt.Fprintf(w, "We believe that %s.\n", strings.TrimSuffix(h.Statement, "."))
	}
	fmt.Fprintf(w, "Primary metric: %s should %s by at least %s (power %.0f%%).\n", h.PrimaryMetric, h.Direction, expSize(h.MinimumEffect, !h.Absolute), 100*h.Power)
	for _, g := range h.Guardrails {
		fmt.Fprintf(w, "Guardrail: %s may get at most %s worse.\n", g.Metric, expSize(g.Tolerance, !g.Absolute))
	}
	fmt.Fprintf(w, "Settings: %s\n", settingsLine(h.Settings))
}

// expSize writes a magnitude: a percentage when relative.
func expSize(x float64, relative bool) string {
	if relative {
		return strconv.FormatFloat(100*x, 'g', 4, 64) + "%"
	}
	return strconv.FormatFloat(x, 'g', 4, 64)
}

func settingsLine(s experiment.Settings) string {
	var b strings.Builder
	fmt.Fprintf(&b, "α = %g %s, ", s.Alpha, s.Alternative)
	if s.Inference == experiment.Fixed {
		b.WriteString("fixed-horizon intervals (read once, at the planned sample)")
	} else {
		fmt.Fprintf(&b, "sequential intervals (safe to peek; tuned for %s)", valueloop.Count(int64(s.SequentialTuning), "user"))
	}
	fmt.Fprintf(&b, ", CUPED %s", onOff(s.CUPED))
	if s.CUPED && s.CUPEDTheta == stats.PooledTheta {
		b.WriteString(" (θ pooled over all users)")
	}
	fmt.Fprintf(&b, ", correction %s", s.Correction)
	if s.Control != "" {
		fmt.Fprintf(&b, ", control %s", s.Control)
	}
	if s.ExcludeOpenWindows {
		b.WriteString(", open windows excluded")
	}
	// The chance to win is no test: say so beside the tests' settings.
	prior := "flat prior"
	if pr := s.Prior; pr != nil {
		prior = fmt.Sprintf("prior N(%g, %g²) on the relative effect", pr.Mean, pr.SD)
	}
	fmt.Fprintf(&b, ", WIN Bayesian (%s; neither corrected nor safe to peek at)", prior)
	if len(s.Weights) > 0 {
		var ws []string
		for _, k := range slices.Sorted(maps.Keys(s.Weights)) {
			ws = append(ws, fmt.Sprintf("%s:%g", k, s.Weights[k]))
		}
		fmt.Fprintf(&b, ", weights %s", strings.Join(ws, " "))
	}
	return b.String()
}

// writeResults draws the result as a table: per metric and variant the
// users, the mean, the lift with its interval as a bar against zero, the
// p-values and the chance to win; then the SRM line, the settings and the
// verdict with its reason.
func writeResults(w io.Writer, r *experiment.Result) { writeResultsFit(w, r, 0) }

// writeResultsFit is writeResults with each table narrowed to cols cells
// (0: no limit) by narrowing its bars, or leaving them out.
func writeResultsFit(w io.Writer, r *experiment.Result, cols int) {
	fmt.Fprintf(w, "%s in %s: %s, %s", r.Flag, r.Environment, valueloop.Count(int64(len(r.Variants)), "variant"), valueloop.Count(r.Users, "user"))
	if r.Excluded > 0 || r.OtherUsers > 0 {
		fmt.Fprintf(w, " (%s excluded for seeing several variants, %s in variants outside the weights)", valueloop.GroupDigits(r.Excluded), valueloop.GroupDigits(r.OtherUsers))
	}
	if r.OutsideSplit > 0 {
		fmt.Fprintf(w, "; %s served outside the split, not counted", valueloop.GroupDigits(r.OutsideSplit))
	}
	fmt.Fprintln(w)
	if r.Hypothesis != nil {
		h := r.Hypothesis
		if h.Statement != "" {
			fmt.Fprintf(w, "Hypothesis: %s\n", h.Statement)
		}
		fmt.Fprintf(w, "Expecting %s to %s by at least %s", h.PrimaryMetric, h.Direction, expSize(h.MinimumEffect, !h.Absolute))
		for i, g := range h.Guardrails {
			fmt.Fprintf(w, "%s%s at most %s worse", expIf(i == 0, "; guardrails: ", ", "), g.Metric, expSize(g.Tolerance, !g.Absolute))
		}
		fmt.Fprintln(w)
	}
	inf := r.Settings.Inference
	level := r.Settings.Level()
	kindOfInterval := expIf(inf == experiment.Fixed, "fixed", "sequential")
	for _, m := range r.Metrics {
		fmt.Fprintln(w)
		desc := []string{string(m.Kind), string(m.Direction) + " is better"}
		if m.Role != "" {
			desc = append(desc, string(m.Role))
		}
		desc = append(desc, cupedLabel(r.Settings.CUPED, m))
		fmt.Fprintf(w, "%s (%s)\n", expIf(m.Name != "" && m.Name != m.Metric, m.Name+" ["+m.Metric+"]", m.Metric), strings.Join(desc, ", "))
		scale, rel := barScale(m, inf)
		var notes []string
		table, _ := fitChart(cols, barWidth, func(width int) string {
			notes = nil
			var b strings.Builder
			tw := termchart.NewTable(&b)
			fmt.Fprintf(tw, "  VARIANT\tUSERS\t%s\tLIFT (%s %s)%s\tP\tADJ P\tWIN\n", strings.ToUpper(m.Estimate()), level, kindOfInterval, chartCell(width, barAxis(scale, rel, width)))
			for _, v := range m.Variants {
				mean := "-"
				if v.Mean != nil {
					mean = fmtNum(*v.Mean)
				}
				fmt.Fprintf(tw, "  %s\t%s\t%s\t", v.Variant, valueloop.GroupDigits(v.Users), mean)
				switch {
				case v.Control && v.Status == stats.OK:
					fmt.Fprint(tw, "baseline\t\t\t\t\n")
				case v.Lift == nil:
					cell, note := reasonCell(v.Reason)
					fmt.Fprintf(tw, "%s\t\t\t\t\n", cell)
					if note != "" {
						notes = append(notes, v.Variant+": "+note)
					}
				default:
					if note := liftCells(tw, v.Lift, inf, scale, width); note != "" {
						notes = append(notes, v.Variant+": "+note)
					}
					fmt.Fprintln(tw)
				}
			}
			tw.Flush()
			return b.String()
		}, liftBlock(scale, rel, liftRows(m.Variants, inf, scale, func(v experiment.VariantResult) string { return v.Variant })))
		fmt.Fprint(w, table)
		writeNotes(w, notes)
		if ow := m.OpenWindows; ow != nil && ow.Users > 0 {
			fmt.Fprintf(w, "  Open windows: %s\n", ow.Note)
		}
	}
	fmt.Fprintln(w)
	writeSRM(w, r)
	fmt.Fprintf(w, "Settings: %s\n", settingsLine(r.Settings))
	writeVerdict(w, r)
	if r.Dimension != nil {
		writeDimension(w, r, level, kindOfInterval, cols)
	}
}

// reasonCell is what a row without a lift shows in the LIFT column: its
// reason when short, else the reason's head ("not enough data") and the
// whole reason as a note under the table. A long reason in the cell
// widened the column, and the table past the terminal (96 cells for the
// demo's checkout-errors at 80 columns).
func reasonCell(reason string) (cell, note string) {
	const most = len("LIFT (95% fixed)") // not wider than the column's head
	if termchart.Cells(reason) <= most {
		return reason, ""
	}
	head, _, _ := strings.Cut(reason, ": ")
	if termchart.Cells(head) > most {
		head = "no lift: see note"
	}
	return head, reason
}

// reasonNotes collects the reasons reasonCell moves under a table: one
// note a reason, naming its rows (every slice of a metric that does not
// vary gives the same one).
type reasonNotes struct {
	reasons []string
	rows    map[string][]string
}

// cell is the LIFT cell of row, whose reason is reason.
func (n *reasonNotes) cell(row, reason string) string {
	cell, note := reasonCell(reason)
	if note != "" {
		if n.rows == nil {
			n.rows = map[string][]string{}
		}
		if n.rows[note] == nil {
			n.reasons = append(n.reasons, note)
		}
		n.rows[note] = append(n.rows[note], row)
	}
	return cell
}

func (n *reasonNotes) list() []string {
	var out []string
	for _, r := range n.reasons {
		out = append(out, strings.Join(n.rows[r], ", ")+": "+r)
	}
	return out
}

// writeNotes writes the notes of a table under it.
func writeNotes(w io.Writer, notes []string) {
	for _, n := range notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
}

// chartCell is the cell of a chart, with the tab before it; none when the
// chart is left out (width 0).
func chartCell(width int, chart string) string {
	if width == 0 {
		return ""
	}
	return "\t" + chart
}

// liftCells writes a treatment's lift as the cells LIFT (with its
// interval), the bar, P, ADJ P and WIN, and returns the effect's note.
func liftCells(tw io.Writer, l *experiment.Lift, inf experiment.Inference, scale float64, width int) string {
	e, rel := liftEffect(l)
	test := inf.Deciding(e)
	iv, p, adj := test.Interval, test.PValue, test.AdjustedPValue
	fmt.Fprintf(tw, "%s [%s, %s]%s\t%s\t%s\t%s", fmtLift(e.Estimate, rel),
		expIf(iv.LowerUnbounded, "-∞", fmtLift(iv.Lower, rel)), expIf(iv.UpperUnbounded, "+∞", fmtLift(iv.Upper, rel)),
		chartCell(width, bar(e.Estimate, iv, scale, width)), valueloop.FormatP(p), valueloop.FormatP(adj), valueloop.FormatChance(l.ChanceToWin))
	return e.Note
}

// writeDimension draws the result split by a dimension: the warning, then
// per metric one row per slice and treatment, with the slice's users and
// its sample-ratio check; the bars of a metric share one scale.
func writeDimension(w io.Writer, r *experiment.Result, level, kindOfInterval string, cols int) {
	d := r.Dimension
	fmt.Fprintf(w, "\nBy %s: %s; p-values adjusted (%s) across all %s of the slices.\n", d.Dimension, valueloop.Count(int64(len(d.Slices)), "slice"), d.Correction, valueloop.Count(int64(d.Comparisons), "comparison"))
	fmt.Fprintf(w, "Warning: %s\n", d.Warning)
	inf := r.Settings.Inference
	for _, m := range r.Metrics {
		// One scale for every slice's bars: the metric with the variants
		// of all slices.
		all := experiment.MetricResult{}
		for _, s := range d.Slices {
			for _, sm := range s.Metrics {
				if sm.Metric == m.Metric {
					all.Variants = append(all.Variants, sm.Variants...)
				}
			}
		}
		scale, rel := barScale(all, inf)
		// A small slice's wide interval would squeeze every other bar to a
		// dot: the scale is at most twice the largest of the all-users
		// bars and the slices' estimates, and wider intervals run to the
		// edge.
		most, _ := barScale(m, inf)
		for _, v := range all.Variants {
			if v.Lift != nil {
				e, _ := liftEffect(v.Lift)
				most = math.Max(most, math.Abs(e.Estimate))
			}
		}
		scale = math.Min(scale, 2*most)
		fmt.Fprintf(w, "\n%s by %s\n", m.Metric, d.Dimension)
		var notes []string
		table, _ := fitChart(cols, barWidth, func(width int) string {
			var b strings.Builder
			notes = writeSlices(&b, d, m.Metric, inf, scale, width, fmt.Sprintf("  %s\tUSERS\tVARIANT\tLIFT (%s %s)%s\tP\tADJ P\tWIN\tSRM\n", strings.ToUpper(d.Dimension), level, kindOfInterval, chartCell(width, barAxis(scale, rel, width))))
			return b.String()
		}, liftBlock(scale, rel, sliceRows(d, m.Metric, inf, scale)))
		fmt.Fprint(w, table)
		writeNotes(w, notes)
	}
}

// liftBlock is the chart of a results table's lifts drawn apart from it
// (fitChart), on the axis of the table's bar column.
func liftBlock(scale float64, relative bool, rows []chartRow) chartBlock {
	return chartBlock{title: "LIFT", axis: func(width int) string { return barAxis(scale, relative, width) }, rows: rows}
}

// liftRows are the chart rows of the variants with a lift, each labelled
// label(v).
func liftRows(vs []experiment.VariantResult, inf experiment.Inference, scale float64, label func(experiment.VariantResult) string) []chartRow {
	var rows []chartRow
	for _, v := range vs {
		if v.Lift == nil || v.Control {
			continue
		}
		e, _ := liftEffect(v.Lift)
		rows = append(rows, chartRow{label: label(v), chart: func(width int) string {
			return bar(e.Estimate, inf.Deciding(e).Interval, scale, width)
		}})
	}
	return rows
}

// sliceRows are the chart rows of a metric's slices, labelled with the
// slice and the variant, in the order of writeSlices.
func sliceRows(d *experiment.DimensionSplit, metric string, inf experiment.Inference, scale float64) []chartRow {
	var rows []chartRow
	for _, s := range d.Slices {
		if i := slices.IndexFunc(s.Metrics, func(sm experiment.MetricResult) bool { return sm.Metric == metric }); i >= 0 {
			rows = append(rows, liftRows(s.Metrics[i].Variants, inf, scale, func(v experiment.VariantResult) string { return s.Value + " " + v.Variant })...)
		}
	}
	return rows
}

// writeSlices writes the table of one metric's slices under header, the
// bars width cells wide, and returns the notes to write under it.
func writeSlices(w io.Writer, d *experiment.DimensionSplit, metric string, inf experiment.Inference, scale float64, width int, header string) []string {
	var notes reasonNotes
	reason := notes.cell
	tw := termchart.NewTable(w)
	fmt.Fprint(tw, header)
	for _, s := range d.Slices {
		srm := "-"
		if s.SRM != nil && s.SRM.Status == stats.OK {
			srm = expIf(s.SRM.Mismatch, "MISMATCH p="+valueloop.FormatP(s.SRM.PValue), "ok")
		}
		i := slices.IndexFunc(s.Metrics, func(sm experiment.MetricResult) bool { return sm.Metric == metric })
		if i < 0 {
			fmt.Fprintf(tw, "  %s\t%s\t\t%s\t\t\t\t\t\n", s.Value, valueloop.GroupDigits(s.Users), reason(s.Value, s.Reason))
			continue
		}
		// USERS are the slice's, every arm's: beside the slice, since after
		// the variant they read as that variant's alone.
		for _, v := range s.Metrics[i].Variants {
			if v.Control {
				continue
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t", s.Value, valueloop.GroupDigits(s.Users), v.Variant)
			if v.Lift == nil {
				fmt.Fprintf(tw, "%s%s\t\t\t\t%s\n", reason(s.Value+" "+v.Variant, v.Reason), chartCell(width, ""), srm)
				continue
			}
			liftCells(tw, v.Lift, inf, scale, width)
			fmt.Fprintf(tw, "\t%s\n", srm)
		}
	}
	tw.Flush()
	return notes.list()
}

func writeSRM(w io.Writer, r *experiment.Result) {
	var parts []string
	for _, v := range r.Variants {
		share := 0.0
		if r.Users > 0 {
			share = float64(v.Users) / float64(r.Users)
		}
		parts = append(parts, fmt.Sprintf("%s %s (%.1f%%, expected %.1f%%)", v.Name, valueloop.GroupDigits(v.Users), 100*share, 100*v.Share))
	}
	switch {
	case r.SRM.Status == stats.NotApplicable:
		fmt.Fprintf(w, "SRM: does not apply (%s)\n", r.SRM.Reason)
	case r.SRM.Status != stats.OK:
		fmt.Fprintf(w, "SRM: not checked yet (%s)\n", r.SRM.Reason)
	case r.SRM.Mismatch:
		fmt.Fprintf(w, "SRM: MISMATCH, p = %s < %g: %s — the split is broken; no verdict until it is fixed\n", valueloop.FormatP(r.SRM.PValue), r.SRM.Limit(), strings.Join(parts, ", "))
		if r.SRM.Reason != "" {
			fmt.Fprintf(w, "  Likely cause: %s\n", r.SRM.Reason)
		}
	default:
		fmt.Fprintf(w, "SRM: ok, p = %s (a mismatch is p < %g): %s\n", valueloop.FormatP(r.SRM.PValue), r.SRM.Limit(), strings.Join(parts, ", "))
	}
	writePeriods(w, r)
}

// writePeriods lists the split periods of a result analysed by period (a
// rollout): each period's users, split, weight and SRM check.
func writePeriods(w io.Writer, r *experiment.Result) {
	if len(r.Periods) == 0 {
		return
	}
	if len(r.Periods) == 1 {
		fmt.Fprintln(w, "By split period (every user so far came under this split, which has changed since: the SRM above checks them against it):")
	} else {
		fmt.Fprintf(w, "By split period (users first exposed in %d periods of the split, each counted in that one; the SRM above is the worst period's):\n", len(r.Periods))
	}
	for _, p := range r.Periods {
		since := "since the start"
		if p.Start != nil {
			since = "from " + p.Start.Format(time.RFC3339)
		}
		var total float64
		for _, x := range p.Weights {
			total += x
		}
		var users []string
		for _, v := range r.Variants {
			u := v.Name + " " + valueloop.GroupDigits(p.Users[v.Name])
			if total > 0 { // else the flag was disabled: no split, no shares
				u += fmt.Sprintf(" (split %.1f%%)", 100*p.Weights[v.Name]/total)
			}
			users = append(users, u)
		}
		if total == 0 && len(users) > 0 {
			users[len(users)-1] += " (no split)"
		}
		srm := "SRM not checked: " + p.SRM.Reason
		switch {
		case p.SRM.Status == stats.NotApplicable:
			srm = "SRM does not apply: " + p.SRM.Reason
		case p.SRM.Status == stats.OK && p.SRM.Mismatch:
			srm = "SRM MISMATCH, p = " + valueloop.FormatP(p.SRM.PValue) + expIf(p.SRM.Reason != "", " (see the likely cause above)", "")
		case p.SRM.Status == stats.OK:
			srm = "SRM ok, p = " + valueloop.FormatP(p.SRM.PValue)
		}
		fmt.Fprintf(w, "  %s: %s; weight %.1f%%; %s\n", since, strings.Join(users, ", "), 100*p.Weight, srm)
	}
}

func writeVerdict(w io.Writer, r *experiment.Result) {
	v := r.Verdict
	if v == nil {
		fmt.Fprintf(w, "Verdict: none, the flag has no hypothesis: set one with 'valueloop experiment hypothesis set %s --env %s --primary METRIC --min-effect 2%%'\n", r.Flag, r.Environment)
		return
	}
	fmt.Fprintf(w, "Verdict: %s — %s\n", strings.ToUpper(strings.ReplaceAll(string(v.Decision), "_", " ")), oneLine(v.Reason))
	defer writeVerdictHistory(w, r.VerdictHistory) // after the lines that explain the verdict
	writeDecided(w, v.Decided)
	writePlan(w, r.Plan)
	for _, vv := range v.Variants {
		if len(v.Variants) > 1 {
			fmt.Fprintf(w, "  %s: %s — %s\n", vv.Variant, strings.ReplaceAll(string(vv.Decision), "_", " "), oneLine(vv.Reason))
		}
		for _, g := range vv.Guardrails {
			fmt.Fprintf(w, "  guardrail %s on %s: %s", g.Metric, vv.Variant, strings.ReplaceAll(g.Status, "_", " "))
			if g.Harm != nil {
				// Corrected over the treatments, the interval is wider than
				// the table's: say its level.
				level := ""
				if l := g.Harm.Level; l > 0 && math.Abs(l-(1-r.Settings.Alpha)) > 1e-12 {
					level = fmt.Sprintf("%.4g%% interval; ", 100*l)
				}
				fmt.Fprintf(w, ", harm %s [%s, %s] (%stolerance %s)", fmtLift(g.Harm.Estimate, !g.Absolute), fmtLift(g.Harm.Lower, !g.Absolute), fmtLift(g.Harm.Upper, !g.Absolute), level, expSize(g.Tolerance, !g.Absolute))
			} else if g.Reason != "" {
				fmt.Fprintf(w, ": %s", g.Reason)
			}
			fmt.Fprintln(w)
		}
	}
}

// writeDecided says when a verdict under fixed inference was decided, and
// what the figures now would say, marked as no decision.
func writeDecided(w io.Writer, d *experiment.Decided) {
	if d == nil {
		return
	}
	fmt.Fprintf(w, "Decided: %s on %s, at the planned sample (fixed-horizon: tested once; later data do not change it)\n",
		d.At.UTC().Format("2006-01-02 15:04:05 UTC"), valueloop.Count(d.Users, "user"))
	if c := d.Current; c != nil {
		fmt.Fprintf(w, "Now (descriptive, not a decision): %s — %s\n", strings.ReplaceAll(string(c.Decision), "_", " "), oneLine(c.Reason))
	}
}

// writePlan says the planned sample under fixed inference at the split
// now and when it was fixed: with several treatments, each one's.
func writePlan(w io.Writer, p *experiment.FixedPlan) {
	if p == nil {
		return
	}
	users, then := p.Current, ""
	if len(users) == 0 { // a decided test: the plan as it was fixed
		users = p.Users
	} else if p.Initial() != p.Planned() {
		then = fmt.Sprintf(" (%s when fixed)", valueloop.GroupDigits(p.Initial()))
	}
	each := ""
	if len(users) > 1 {
		var parts []string
		for _, v := range slices.Sorted(maps.Keys(users)) {
			parts = append(parts, v+": "+valueloop.GroupDigits(users[v]))
		}
		each = " (" + strings.Join(parts, ", ") + ")"
	}
	fmt.Fprintf(w, "Plan: %s%s%s, fixed %s on %s (fixed-horizon: the pilot's precision, sized at the split now; read once, at the first look whose arms' users give it)\n",
		valueloop.Count(p.Planned(), "user"), each, then, p.At.UTC().Format("2006-01-02 15:04:05 UTC"), valueloop.Count(p.FixedOn, "user"))
}

// cupedLabel agrees with the settings line and with what the engine did:
// CUPED is on or off for the analysis; on, a quantile is never adjusted (it
// has no pre-exposure covariate), and another metric without pre-exposure
// variation is left unadjusted.
func cupedLabel(on bool, m experiment.MetricResult) string {
	switch {
	case !on:
		return "CUPED off"
	case m.Analysis == stats.Quantile:
		return "CUPED on, not applicable to a quantile"
	case m.CUPED:
		return "CUPED on"
	}
	return "CUPED on, unadjusted: no pre-exposure data varies"
}

// liftEffect returns the relative effect when there is one, else the
// absolute one.
func liftEffect(l *experiment.Lift) (stats.Effect, bool) {
	if l.Relative != nil {
		return *l.Relative, true
	}
	return l.Absolute, false
}

const barWidth = 25 // odd: zero sits in the middle; narrower to fit (fitChart)

// barScale is the largest magnitude the metric's bars must show, and
// whether they show relative effects.
func barScale(m experiment.MetricResult, inf experiment.Inference) (scale float64, relative bool) {
	for _, v := range m.Variants {
		if v.Lift == nil {
			continue
		}
		e, rel := liftEffect(v.Lift)
		relative = rel
		iv := inf.Deciding(e).Interval
		for _, x := range []float64{e.Estimate, expIf(iv.LowerUnbounded, 0, iv.Lower), expIf(iv.UpperUnbounded, 0, iv.Upper)} {
			scale = math.Max(scale, math.Abs(x))
		}
	}
	return scale, relative
}

// barAxis is the header of the bar column: −scale, 0 and +scale where the
// bars put them.
func barAxis(scale float64, relative bool, barWidth int) string {
	if !(scale > 0) || barWidth == 0 {
		return ""
	}
	cells := []rune(strings.Repeat(" ", barWidth))
	cells[barWidth/2] = '0'
	lo, hi := []rune(fmtLift(-scale, relative)), []rune(fmtLift(scale, relative))
	if len(lo)+len(hi)+2 < barWidth {
		copy(cells, lo)
		copy(cells[barWidth-len(hi):], hi)
	}
	return string(cells)
}

// bar draws an interval against zero: ├───●───┤ on a track whose middle
// is zero (│, or ┼ inside the interval); an unbounded side runs to the
// track's end as an arrow.
func bar(est float64, iv stats.Interval, scale float64, barWidth int) string {
	if !(scale > 0) || barWidth == 0 {
		return ""
	}
	half := barWidth / 2
	pos := func(x float64) int {
		p := half + int(math.Round(x/scale*float64(half)))
		return max(0, min(barWidth-1, p))
	}
	lo, hi := 0, barWidth-1
	if !iv.LowerUnbounded {
		lo = pos(iv.Lower)
	}
	if !iv.UpperUnbounded {
		hi = pos(iv.Upper)
	}
	return termchart.Interval{Width: barWidth, From: lo, To: hi, Zero: half, Est: pos(est),
		OffLeft: iv.LowerUnbounded, OffRight: iv.UpperUnbounded}.String()
}

func fmtLift(x float64, relative bool) string {
	if relative {
		return termchart.Lift(x)
	}
	// Trailing zeros trimmed, as the verdict writes effects (+0.01).
	return expIf(x < 0, "", "+") + figure(x, 3, false)
}

func fmtNum(x float64) string { return figure(x, 4, true) }

// figure writes x with digits significant digits, in digits rather than
// exponent notation from 1,000 up: whole, grouped (12,346). Only a figure
// below 0.0001 takes an exponent. zeros keeps trailing zeros, so that the
// figures of a column read alike (12.04 beside 11.80).
func figure(x float64, digits int, zeros bool) string {
	switch a := math.Abs(x); {
	case x == 0 || math.IsNaN(x) || math.IsInf(x, 0):
		return strconv.FormatFloat(x, 'g', -1, 64)
	case math.Round(a) >= 1000:
		return valueloop.GroupDigits(int64(math.Round(x)))
	case a < 1e-4:
		return strconv.FormatFloat(x, 'g', digits-1, 64)
	case !zeros:
		return strconv.FormatFloat(x, 'g', digits, 64)
	}
	return strings.TrimSuffix(fmt.Sprintf("%#.*g", digits, x), ".")
}

func onOff(b bool) string { return expIf(b, "on", "off") }

// expIf is c ? a : b.
func expIf[T any](c bool, a, b T) T {
	if c {
		return a
	}
	return b
}

// loadDemoExperiment loads the demo experiment's metrics, hypothesis and
// events through the ingestion pipeline, for serve --demo.
func loadDemoExperiment(ctx context.Context, store demo.ExperimentStore, p demo.Ingester, logger *slog.Logger) error {
	n, err := demo.LoadExperiment(ctx, store, p, "production", time.Now())
	if err != nil {
		return fmt.Errorf("demo experiment: %w", err)
	}
	if n > 0 {
		logger.Info("demo experiment loaded", "flag", demo.ExperimentFlag, "events", n)
	}
	return nil
}
