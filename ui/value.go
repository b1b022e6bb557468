package ui

import (
	"context"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"slices"
	"strings"

	"github.com/valueloop/valueloop/experiment"
	"github.com/valueloop/valueloop/rollout"

	"github.com/valueloop/valueloop/features"
	"github.com/valueloop/valueloop/value"
)

// ValueReader is what the value pages read (*features.Service): the ranked
// backlog, the flow of value, one feature with its release record, and its
// place in the backlog and among its dependencies.
type ValueReader interface {
	Next(ctx context.Context, o features.NextOptions) (*value.Next, error)
	NextAndFlow(ctx context.Context, no features.NextOptions, fo features.FlowOptions) (*value.Next, *value.Flow, error)
	Show(ctx context.Context, key string) (*features.Shown, error)
	Place(ctx context.Context, key string, o features.NextOptions) (*value.Place, error)
}

// FeatureLister lists the value loop's features with their stored
// lifecycles (the store), for the overview's features by stage.
type FeatureLister interface {
	Features(ctx context.Context) ([]value.Feature, error)
	Lifecycles(ctx context.Context) (map[string]value.Lifecycle, error)
}

type valueData struct {
	Next *value.Next
	// Method and Objective are the form's choices (the objective "" for
	// all); Objectives are those it offers.
	Method     value.Method
	Objective  string
	Objectives []string
	Flow       *value.Flow
	// Throughput is the weekly bar chart of verdicts, named (its <title>)
	// by the same figures in words.
	Throughput template.HTML
	FlowTimes  []flowTime
}

// flowTime is the time features spent in one stage, over the window.
type flowTime struct {
	Stage    value.Stage
	Count    int
	P50, P85 string
}

func (u *UI) handleValue(w http.ResponseWriter, r *http.Request) error {
	p := page{Title: "Value", Nav: "value"}
	if u.Value == nil {
		u.render(w, r, http.StatusOK, "value", p)
		return nil
	}
	q := r.URL.Query()
	// One read of the value version for both: a page shows one state.
	next, flow, err := u.Value.NextAndFlow(r.Context(), features.NextOptions{Method: value.Method(q.Get("method"))}, features.FlowOptions{})
	if err != nil {
		return err // names the field: method must be wsjf or rice
	}
	objectives := next.Objectives()
	if err := next.Only(q.Get("objective")); err != nil {
		return err
	}
	d := valueData{Next: next, Flow: flow, Method: next.Method, Objective: q.Get("objective"), Objectives: objectives}
	d.Throughput = throughputChart(flow.Throughput)
	for _, s := range flow.Stages {
		if s.FlowTime.Count > 0 {
			d.FlowTimes = append(d.FlowTimes, flowTime{Stage: s.Stage, Count: s.FlowTime.Count,
				P50: humanDuration(s.FlowTime.Median.D()), P85: humanDuration(s.FlowTime.P85.D())})
		}
	}
	p.Data = d
	u.render(w, r, http.StatusOK, "value", p)
	return nil
}

// throughputChart draws the verdicts reached each week as stacked bars
// (validated below, invalidated above) under a key of their colours, named
// by the same figures in words. The bars stay below the key: the tallest
// reaches keyH from the top.
func throughputChart(weeks []value.Week) template.HTML {
	var words []string
	top := 1
	for _, wk := range weeks {
		top = max(top, wk.Total())
		words = append(words, fmt.Sprintf("week of %s: %d validated, %d invalidated", wk.Start.Format(dayLayout), wk.Validated, wk.Invalidated))
	}
	text := "Verdicts per week: " + strings.Join(words, "; ")
	if len(weeks) == 0 {
		text = "Verdicts per week: no weeks in the window"
	}
	return sized(barWidths, func(b *strings.Builder, width int) { drawBars(b, weeks, top, text, float64(width)) })
}

// drawBars draws throughputChart's bars width wide, a week's date under
// every bar or, where they would touch, under every second or third.
func drawBars(b *strings.Builder, weeks []value.Week, top int, text string, w float64) {
	const h, base, keyH = 140.0, 124.0, 20.0
	chartStart(b, "bars", text, int(w), h)
	legendEntry(b, "bar badbar key", "invalidated", legendEntry(b, "bar good key", "validated", 0, 2), 2)
	fmt.Fprintf(b, `<line class="axis" x1="0" x2="%.0f" y1="%.0f" y2="%.0f"/>`, w, base, base)
	if n := len(weeks); n > 0 {
		slot := w / float64(n)
		unit := (base - keyH) / float64(top)
		every := max(1, int(math.Ceil(40/slot))) // a date ("Nov 30") takes about 40 units
		for i, wk := range weeks {
			x := float64(i)*slot + slot*0.15
			bw := slot * 0.7
			hv := float64(wk.Validated) * unit
			hi := float64(wk.Invalidated) * unit
			label := fmt.Sprintf("week of %s: %d validated, %d invalidated", wk.Start.Format(dayLayout), wk.Validated, wk.Invalidated)
			fmt.Fprintf(b, `<g><title>%s</title>`, esc(label))
			if hv > 0 {
				fmt.Fprintf(b, `<rect class="bar good" x="%.1f" y="%.1f" width="%.1f" height="%.1f"/>`, x, base-hv, bw, hv)
			}
			if hi > 0 {
				fmt.Fprintf(b, `<rect class="bar badbar" x="%.1f" y="%.1f" width="%.1f" height="%.1f"/>`, x, base-hv-hi, bw, hi)
			}
			b.WriteString(`</g>`)
			if i%every == 0 { // under its bar, inside the drawing at its ends
				cx, anchor := x+bw/2, "middle"
				switch {
				case cx < 20:
					cx, anchor = 0, "start"
				case cx > w-20:
					cx, anchor = w, "end"
				}
				fmt.Fprintf(b, `<text class="axis" x="%.1f" y="%.0f" text-anchor="%s">%s</text>`, cx, h-3, anchor, esc(wk.Start.Format(dayLayout)))
			}
		}
	}
	b.WriteString(`</svg>`)
}

type recordData struct {
	R *value.Record
	// F is the feature's definition: its estimate, dependencies and links.
	F value.Feature
	// Place is its rank in next (by Method) and its dependencies and
	// dependants with their stages.
	Place  *value.Place
	Method value.Method
	Flags  []linkedFlag
	// Lead and Learning are the loop's two figures in words ("" when not
	// yet given: Missing says why).
	Lead, Learning string
	Stages         []stageTime
}

type stageTime struct {
	Stage    value.Stage
	Duration string
	Open     bool
}

// linkedFlag is one of the feature's flags as its page shows it.
type linkedFlag struct {
	value.FlagLink
	// Readable: the session's token may read the flag's environment; the
	// rest is left empty when it may not.
	Readable bool
	// State is the flag's state now, "" when it is no longer defined.
	State string
	// Rollout is the flag's latest rollout, nil when it never had one.
	Rollout *rollout.Rollout
	// Experiment: the flag has a hypothesis; Verdict is the last verdict
	// recorded on it, nil while none is.
	Experiment bool
	Verdict    *experiment.VerdictRecord
}

func (u *UI) handleFeature(w http.ResponseWriter, r *http.Request) error {
	if u.Value == nil {
		u.renderError(w, r, nil, http.StatusNotFound, "The value loop is not running on this server.")
		return nil
	}
	ctx := r.Context()
	sh, err := u.Value.Show(ctx, r.PathValue("key"))
	if err != nil {
		return err
	}
	// After Show: its sync may have moved the feature, and the rank is of
	// the stage it shows.
	place, err := u.Value.Place(ctx, sh.Feature.Key, features.NextOptions{Method: value.Method(r.URL.Query().Get("method"))})
	if err != nil {
		return err // names the field: method must be wsjf or rice
	}
	rec := sh.Record
	d := recordData{R: rec, F: sh.Feature, Place: place, Method: place.Method}
	if d.Flags, err = u.linkedFlags(r, sh); err != nil {
		return err
	}
	if rec.LeadTimeToCustomer != nil {
		d.Lead = humanDuration(rec.LeadTimeToCustomer.D())
	}
	if rec.TimeToValidatedLearning != nil {
		d.Learning = humanDuration(rec.TimeToValidatedLearning.D())
	}
	for _, s := range rec.StageTimes {
		d.Stages = append(d.Stages, stageTime{Stage: s.Stage, Duration: humanDuration(s.Duration), Open: s.Open})
	}
	u.render(w, r, http.StatusOK, "feature", page{Title: rec.Feature, Nav: "value", Data: d})
	return nil
}

// linkedFlags reads what the feature page shows of each linked flag: its
// state from the live flags (memory), its latest rollout and, when it has
// a hypothesis (Show read them), its last recorded verdict. Two reads per
// linked flag at most, whatever the number of features.
func (u *UI) linkedFlags(r *http.Request, sh *features.Shown) ([]linkedFlag, error) {
	ctx := r.Context()
	var out []linkedFlag
	for _, fl := range sh.Feature.Links.Flags {
		lf := linkedFlag{FlagLink: fl, Readable: sessionOf(r).Token.CanRead(fl.Environment)}
		if !lf.Readable {
			out = append(out, lf)
			continue
		}
		if live := u.Flags.Live(fl.Environment); live != nil {
			if def := live.Snapshot.Set().Flags[fl.Flag]; def != nil {
				lf.State = def.State
			}
		}
		if u.Rollouts != nil {
			list, err := u.Rollouts.List(ctx, rollout.Filter{Environment: fl.Environment, Flag: fl.Flag, Limit: 1})
			if err != nil {
				return nil, fmt.Errorf("rollouts of flag %s in %s: %w", fl.Flag, fl.Environment, err)
			}
			if len(list) > 0 {
				lf.Rollout = &list[0]
			}
		}
		lf.Experiment = slices.ContainsFunc(sh.FlagHypotheses, func(h features.FlagHypothesis) bool {
			return h.Environment == fl.Environment && h.Flag == fl.Flag
		})
		if lf.Experiment && u.Verdicts != nil {
			hist, err := u.Verdicts.History(ctx, fl.Environment, fl.Flag)
			if err != nil {
				return nil, fmt.Errorf("verdicts of flag %s in %s: %w", fl.Flag, fl.Environment, err)
			}
			if len(hist) > 0 {
				lf.Verdict = &hist[len(hist)-1]
			}
		}
		out = append(out, lf)
	}
	return out, nil
}
