package ui

import (
	"context"
	"html/template"
	"math"
	"net/http"
	"slices"
	"sort"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/experiment"
	"github.com/valueloop/valueloop/stats"
)

// analyze computes a flag's experiment results the way the API's results
// route does, with the hypothesis' settings; nil hypothesis when none.
// A dimension, when not "", splits them (Result.Dimension).
func (u *UI) analyze(ctx context.Context, env, key, dimension string) (*experiment.Result, experiment.Input, error) {
	in := experiment.Input{Environment: env, Flag: key}
	if dimension != "" {
		if _, err := experiment.FindDimension(u.Dimensions, dimension); err != nil {
			return nil, in, err
		}
		in.Dimension, in.Dimensions = dimension, u.Dimensions
	}
	if live := u.Flags.Live(env); live != nil {
		in.Definition = live.Snapshot.Set().Flags[key]
	}
	if err := experiment.ReadHypothesis(ctx, u.Experiments, &in); err != nil {
		return nil, in, err
	}
	if err := experiment.ReadInput(ctx, u.Experiments, &in); err != nil {
		return nil, in, err
	}
	res, err := u.analyzeInput(ctx, &in, dimension == "")
	if err != nil {
		return nil, in, err
	}
	if u.Verdicts != nil {
		if hist, err := u.Verdicts.History(ctx, env, key); err == nil {
			res.VerdictHistory = hist
		}
	}
	return res, in, nil
}

// analyzeInput analyses in, read, and settles its result under fixed
// inference. With keep (no dimension) the result is kept: the overview
// reads every experiment on each view, the list those of its page, and one
// whose input has not changed is not analysed again.
func (u *UI) analyzeInput(ctx context.Context, in *experiment.Input, keep bool) (*experiment.Result, error) {
	var sum [32]byte
	var kept *experiment.Result
	if keep {
		sum = inputSum(in)
		kept = u.analyses.get(in, sum)
	}
	if kept == nil {
		countAnalysis(ctx)
		var err error
		if kept, err = experiment.Analyze(*in); err != nil {
			return nil, err
		}
		if keep {
			u.analyses.put(in, sum, kept)
		}
	}
	res := *kept // kept results are shared: this page's copy gets the history
	if u.Verdicts != nil {
		// Under fixed inference, the stored plan judges the look and the
		// decision taken at the planned sample is the verdict; Settle
		// replaces res.Verdict and res.Plan, never kept's.
		if err := u.Verdicts.Settle(ctx, &res); err != nil {
			u.Logger.Warn("ui: fixed decision not read", "env", in.Environment, "flag", in.Flag, "err", err)
		}
	}
	return &res, nil
}

type experimentRow struct {
	Env, Flag string
	Result    *experiment.Result
	// Err says why the experiment was not analysed (Result nil): the
	// list shows it in its place rather than leave a page short.
	Err string
}

// experimentRefs are the experiments the request may see, by environment
// then flag, not yet read nor analysed: the flags with a hypothesis of
// the served environments its token reads. Knowing them is one read of
// the store, whatever their number; reading one experiment is five, and
// analysing it the cost, so a list pages these first.
func (u *UI) experimentRefs(r *http.Request) ([]experimentRow, error) {
	if u.Experiments == nil {
		return nil, nil
	}
	refs, err := u.Experiments.HypothesisFlags(r.Context())
	if err != nil {
		return nil, err
	}
	var out []experimentRow
	for _, ref := range refs {
		if sessionOf(r).Token.CanRead(ref.Environment) && u.Flags.Live(ref.Environment) != nil {
			out = append(out, experimentRow{Env: ref.Environment, Flag: ref.Flag})
		}
	}
	sortExperimentRows(out)
	return out, nil
}

// analyzeRows reads and analyses the experiments of rows, setting their
// Result, or their Err when one is not analysed (logged).
func (u *UI) analyzeRows(r *http.Request, rows []experimentRow) {
	for i := range rows {
		res, _, err := u.analyze(r.Context(), rows[i].Env, rows[i].Flag, "")
		if err != nil {
			u.Logger.Warn("ui: experiment not analysed", "env", rows[i].Env, "flag", rows[i].Flag, "err", err)
			rows[i].Err = valueloop.ErrorMessage(err)
			continue
		}
		rows[i].Result = res
	}
}

// experimentRows are every experiment the request may see, analysed, and
// those not analysed left out: the overview summarises them all. They are
// read a few reads per environment (experiment.ReadInputs), where reading
// them one by one read the store five times per experiment (1,506 reads
// for 301), and without their verdict history, which the overview does not
// show.
func (u *UI) experimentRows(r *http.Request) ([]experimentRow, error) {
	rows, err := u.experimentRefs(r)
	if err != nil {
		return nil, err
	}
	ctx := r.Context()
	for lo := 0; lo < len(rows); {
		env := rows[lo].Env
		hi := lo + 1
		for hi < len(rows) && rows[hi].Env == env {
			hi++ // rows are sorted by environment
		}
		set := u.Flags.Live(env).Snapshot.Set()
		ins := make([]*experiment.Input, hi-lo)
		for i := range ins {
			ins[i] = &experiment.Input{Flag: rows[lo+i].Flag, Definition: set.Flags[rows[lo+i].Flag]}
		}
		errs, err := experiment.ReadInputs(ctx, u.Experiments, env, ins)
		if err != nil {
			return nil, err
		}
		for i, in := range ins {
			row, err := &rows[lo+i], errs[i]
			if err == nil {
				row.Result, err = u.analyzeInput(ctx, in, true)
			}
			if err != nil {
				u.Logger.Warn("ui: experiment not analysed", "env", env, "flag", row.Flag, "err", err)
			}
		}
		lo = hi
	}
	return slices.DeleteFunc(rows, func(e experimentRow) bool { return e.Result == nil }), nil
}

// sortExperimentRows orders rows by environment, then flag. Comparing the
// two concatenated would interleave environments one of whose names begins
// another's ("us"+"beta" sorts after "usa"+"x").
func sortExperimentRows(rows []experimentRow) {
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].Env != rows[j].Env {
			return rows[i].Env < rows[j].Env
		}
		return rows[i].Flag < rows[j].Flag
	})
}

// experimentsPage is how many experiments a page of the list shows.
const experimentsPage = 50

// experimentList is a page of the experiments.
type experimentList struct {
	Rows  []experimentRow
	Pager pager
}

func (u *UI) handleExperiments(w http.ResponseWriter, r *http.Request) error {
	// Paged before anything is read of the experiments: the order (by
	// environment, then flag) is known without them, and a page reads
	// and analyses its own 50, not the hundreds it does not show.
	rows, err := u.experimentRefs(r)
	if err != nil {
		return err
	}
	pg, lo, hi, err := paginate(r, len(rows), experimentsPage, "experiment")
	if err != nil {
		return err
	}
	u.analyzeRows(r, rows[lo:hi])
	u.render(w, r, http.StatusOK, "experiments", page{Title: "Experiments", Nav: "experiments", Refresh: 60,
		Data: experimentList{Rows: rows[lo:hi], Pager: pg}})
	return nil
}

// metricView is one metric's forest plot and its figures.
type metricView struct {
	experiment.MetricResult
	Relative bool
	Chart    template.HTML
}

type experimentData struct {
	Env, Flag string
	Result    *experiment.Result
	// Inference says which intervals decide (Inference.Deciding), which
	// the metrics' tables and forest plots then show; Level is their
	// coverage ("95%") and Interval names them ("95% always-valid
	// interval"), as the CLI's "LIFT (95% sequential)" does.
	Inference experiment.Inference
	Level     string
	Interval  string
	// Correction names the multiple-testing correction of the adjusted
	// p-values ("holm"), the CLI's ADJ P; empty under none, where they
	// are the raw p and the page leaves their column out.
	Correction   string
	Dimensions   []string   // the names the page links to
	Split        *splitView // nil unless ?dimension=
	Metrics      []metricView
	OverTime     template.HTML
	OverTimeRows []overTimeRow
	OverTimeNote string
}

type overTimeRow struct {
	replayPoint
	Variant  string
	Users    int64
	Est      float64
	Interval stats.Interval
	Relative bool // Est and Interval are a relative lift, else a difference
}

// shownEffect is the effect of a lift in the units shown: relative when
// there is one, else absolute (as effectOf, for the templates).
func shownEffect(l *experiment.Lift) stats.Effect {
	if l.Relative != nil {
		return *l.Relative
	}
	return l.Absolute
}

// effectOf returns the lift of a variant result in the units shown:
// relative when there is one, else absolute.
func effectOf(v experiment.VariantResult) (stats.Effect, bool, bool) {
	if v.Lift == nil {
		return stats.Effect{}, false, false
	}
	return shownEffect(v.Lift), v.Lift.Relative != nil, true
}

func (u *UI) handleExperiment(w http.ResponseWriter, r *http.Request) error {
	live, err := u.liveEnv(r)
	if err != nil {
		return err
	}
	if u.Experiments == nil {
		return valueloop.Errorf(valueloop.ENOTFOUND, "this server serves no experiments")
	}
	env, key := live.Environment.Key, r.PathValue("key")
	res, in, err := u.analyze(r.Context(), env, key, r.URL.Query().Get("dimension"))
	if err != nil {
		return err
	}
	in.Dimension, in.DimensionAggregates = "", nil // the replay is of all users
	d := experimentData{Env: env, Flag: key, Result: res, Inference: res.Settings.Inference, Level: res.Settings.Level()}
	d.Interval = d.Level + " always-valid interval"
	if d.Inference == experiment.Fixed {
		d.Interval = d.Level + " fixed-horizon interval"
	}
	if c := res.Settings.Correction; c != stats.NoCorrection {
		d.Correction = string(c)
	}
	d.Split = splitOf(res, d.Interval)
	for _, dim := range u.Dimensions {
		d.Dimensions = append(d.Dimensions, dim.Name)
	}
	verdictVariant := ""
	if res.Verdict != nil {
		verdictVariant = res.Verdict.Variant
	}
	primary := ""
	// The minimum effect is marked on the primary metric's charts of the
	// same kind: relative lifts, or differences in the metric's units.
	var minEffect effectRefs
	if h := res.Hypothesis; h != nil {
		primary = h.PrimaryMetric
		if h.MinimumEffect > 0 {
			me := h.MinimumEffect
			if h.Direction == "decrease" {
				me = -me
			}
			line := []refLine{{Y: me, Label: "minimum effect"}}
			if h.Absolute {
				minEffect.Absolute = line
			} else {
				minEffect.Relative = line
			}
		}
	}
	for _, m := range res.Metrics {
		mv := metricView{MetricResult: m}
		var rows []forestRow
		for _, v := range m.Variants {
			e, rel, ok := effectOf(v)
			if !ok {
				continue
			}
			mv.Relative = rel
			row := forestRowOf(v.Variant+" vs control", e.Estimate, d.Inference.Deciding(e).Interval)
			row.Emphasis = v.Variant == verdictVariant
			rows = append(rows, row)
		}
		f, fig := figures(mv.Relative)
		var refs []refLine
		if m.Metric == primary {
			refs = minEffect.of(mv.Relative)
		}
		if g, ok := guardrailOf(res.Hypothesis, m.Metric); ok && mv.Relative == !g.Absolute {
			harm := g.Tolerance // worse is the way the metric's definition calls worse
			if m.Direction == "higher" {
				harm = -harm
			}
			refs = append(refs, refLine{Y: harm, Label: "tolerance"})
		}
		what := "absolute difference"
		if mv.Relative {
			what = "relative lift"
		}
		if len(rows) > 0 {
			mv.Chart = forestPlot("Forest plot of "+m.Metric+": "+what+" of each variant against control, with its "+d.Interval, rows, refs, f, fig)
		}
		d.Metrics = append(d.Metrics, mv)
	}
	// The primary metric's sequential interval, replayed at the end of each
	// day of events.
	if primary == "" && len(res.Metrics) > 0 {
		primary = res.Metrics[0].Metric
	}
	points, complete, err := u.replay(r.Context(), in, res)
	if err != nil {
		return err
	}
	if !complete && u.Events != nil {
		d.OverTimeNote = "The earlier days are being replayed from the event log; they show on the next refresh."
	}
	d.OverTime, d.OverTimeRows = intervalOverTime(points, primary, minEffect, d.Level)
	u.render(w, r, http.StatusOK, "experiment", page{Title: "Experiment · " + key, Nav: "experiments", Refresh: 60, Data: d})
	return nil
}

// effectRefs are the reference lines of a metric's charts by the kind of
// effect charted.
type effectRefs struct{ Relative, Absolute []refLine }

func (e effectRefs) of(relative bool) []refLine {
	if relative {
		return e.Relative
	}
	return e.Absolute
}

// intervalOverTime draws the primary metric's lift with its sequential
// interval at each replayed point, per treatment, and lists the same: as
// the results table writes it, a relative lift as a percentage, else the
// difference in the metric's units. A relative lift at some points and
// none at others (a control mean of zero early on) are not drawn on one
// axis: all are differences then. The first days' intervals are wide: the
// axis is fitted to the later ones (chartSpec.Focus).
func intervalOverTime(points []replayPoint, primary string, minEffect effectRefs, level string) (template.HTML, []overTimeRow) {
	relative := true
	each := func(fn func(p replayPoint, v experiment.VariantResult)) {
		for _, p := range points {
			for _, m := range p.Result.Metrics {
				if m.Metric != primary {
					continue
				}
				for _, v := range m.Variants {
					if v.Lift != nil {
						fn(p, v)
					}
				}
			}
		}
	}
	each(func(_ replayPoint, v experiment.VariantResult) { relative = relative && v.Lift.Relative != nil })
	var rows []overTimeRow
	bySeries := map[string]*series{}
	var order []string
	each(func(p replayPoint, v experiment.VariantResult) {
		e := v.Lift.Absolute
		if relative {
			e = *v.Lift.Relative
		}
		s := bySeries[v.Variant]
		if s == nil {
			s = &series{Name: v.Variant + " vs control", HasBand: true}
			bySeries[v.Variant] = s
			order = append(order, v.Variant)
		}
		// A one-sided interval's open side (held as 0) is drawn to the
		// estimate: the band shows the bounded side only.
		iv := e.Sequential
		lo, hi := iv.Lower, iv.Upper
		if iv.LowerUnbounded {
			lo = e.Estimate
		}
		if iv.UpperUnbounded {
			hi = e.Estimate
		}
		s.Points = append(s.Points, point{T: p.At, Y: e.Estimate, Lo: lo, Hi: hi, Bounds: intervalText(iv, relative)})
		rows = append(rows, overTimeRow{replayPoint: p, Variant: v.Variant, Users: p.Result.Users, Est: e.Estimate, Interval: iv, Relative: relative})
	})
	var ss []series
	for _, v := range order {
		ss = append(ss, *bySeries[v])
	}
	yfmt, fig := figures(relative)
	what, ytitle := "Lift", "lift vs control (%)"
	if !relative {
		what, ytitle = "Difference", "difference from control, in "+primary+"'s units"
	}
	return lineChart(chartSpec{Title: what + " of " + primary + " over time with its " + level + " always-valid (sequential) interval, at the end of each past day (from the events received by then) and now",
		YTitle: ytitle, Series: ss, Refs: append([]refLine{{Y: 0, Label: "no effect"}}, minEffect.of(relative)...), YFmt: yfmt, Fmt: fig, Focus: true}), rows
}

// guardrailOf returns the hypothesis' guardrail on metric, if any.
func guardrailOf(h *experiment.Hypothesis, metric string) (experiment.Guardrail, bool) {
	if h == nil {
		return experiment.Guardrail{}, false
	}
	for _, g := range h.Guardrails {
		if g.Metric == metric {
			return g, true
		}
	}
	return experiment.Guardrail{}, false
}

// splitView is a result split by a dimension: per metric, a forest plot of
// every slice's lift of each treatment.
type splitView struct {
	*experiment.DimensionSplit
	Charts []sliceChart
}

type sliceChart struct {
	Metric string
	Chart  template.HTML
}

// splitOf draws res's split, nil without one. A small slice's wide
// interval would squeeze the others to dots: the axis reaches at most twice
// the largest estimate (or the all-users interval), and wider intervals are
// drawn to its edge (forestRow.Clip). Each interval is the one that
// decides (Inference.Deciding), named interval.
func splitOf(res *experiment.Result, interval string) *splitView {
	d := res.Dimension
	if d == nil {
		return nil
	}
	v := &splitView{DimensionSplit: d}
	inf := res.Settings.Inference
	for _, m := range res.Metrics {
		var rows []forestRow
		relative, most := false, 0.0
		for _, all := range m.Variants {
			if e, _, ok := effectOf(all); ok {
				iv := inf.Deciding(e).Interval
				most = math.Max(most, math.Max(math.Abs(iv.Lower), math.Abs(iv.Upper)))
			}
		}
		for _, s := range d.Slices {
			for _, sm := range s.Metrics {
				if sm.Metric != m.Metric {
					continue
				}
				for _, sv := range sm.Variants {
					if e, rel, ok := effectOf(sv); ok {
						relative = rel
						most = math.Max(most, math.Abs(e.Estimate))
						rows = append(rows, forestRowOf(s.Value+": "+sv.Variant, e.Estimate, inf.Deciding(e).Interval))
					}
				}
			}
		}
		if len(rows) == 0 {
			continue
		}
		for i := range rows {
			rows[i].Clip = 2 * most
		}
		f, fig := figures(relative)
		v.Charts = append(v.Charts, sliceChart{Metric: m.Metric,
			Chart: forestPlot("Forest plot of "+m.Metric+" by "+d.Dimension+": each slice's lift against control, with its "+interval, rows, nil, f, fig)})
	}
	return v
}
