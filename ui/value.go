package ui

import (
	"context"
	"fmt"
	"html/template"
	"net/http"
	"strings"

	"github.com/valueloop/valueloop/features"
	"github.com/valueloop/valueloop/value"
)

// ValueReader is what the value pages read (*features.Service): the ranked
// backlog, the flow of value and one feature's release record.
type ValueReader interface {
	Next(ctx context.Context, o features.NextOptions) (*value.Next, error)
	NextAndFlow(ctx context.Context, no features.NextOptions, fo features.FlowOptions) (*value.Next, *value.Flow, error)
	Record(ctx context.Context, key string) (*value.Record, error)
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
	// Throughput is the weekly bar chart of verdicts, ThroughputText the
	// same figures in words.
	Throughput     template.HTML
	ThroughputText string
	FlowTimes      []flowTime
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
	d.Throughput, d.ThroughputText = throughputChart(flow.Throughput)
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
// (validated below, invalidated above) under a key of their colours, and
// says the same in words. The bars stay below the key: the tallest reaches
// keyH from the top.
func throughputChart(weeks []value.Week) (template.HTML, string) {
	var words []string
	top := 1
	for _, wk := range weeks {
		top = max(top, wk.Total())
		words = append(words, fmt.Sprintf("week of %s: %d validated, %d invalidated", wk.Start.Format("Jan 2"), wk.Validated, wk.Invalidated))
	}
	text := "Verdicts per week: " + strings.Join(words, "; ")
	if len(weeks) == 0 {
		text = "Verdicts per week: no weeks in the window"
	}
	const w, h, base, keyH = 480.0, 140.0, 124.0, 20.0
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="bars" viewBox="0 0 %.0f %.0f" role="img" aria-label="%s"><title>%s</title>`, w, h, esc(text), esc(text))
	legendEntry(&b, "bar badbar key", "invalidated", legendEntry(&b, "bar good key", "validated", 0, 2), 2)
	fmt.Fprintf(&b, `<line class="axis" x1="0" x2="%.0f" y1="%.0f" y2="%.0f"/>`, w, base, base)
	if n := len(weeks); n > 0 {
		slot := w / float64(n)
		unit := (base - keyH) / float64(top)
		for i, wk := range weeks {
			x := float64(i)*slot + slot*0.15
			bw := slot * 0.7
			hv := float64(wk.Validated) * unit
			hi := float64(wk.Invalidated) * unit
			label := fmt.Sprintf("week of %s: %d validated, %d invalidated", wk.Start.Format("Jan 2"), wk.Validated, wk.Invalidated)
			fmt.Fprintf(&b, `<g><title>%s</title>`, esc(label))
			if hv > 0 {
				fmt.Fprintf(&b, `<rect class="bar good" x="%.1f" y="%.1f" width="%.1f" height="%.1f"/>`, x, base-hv, bw, hv)
			}
			if hi > 0 {
				fmt.Fprintf(&b, `<rect class="bar badbar" x="%.1f" y="%.1f" width="%.1f" height="%.1f"/>`, x, base-hv-hi, bw, hi)
			}
			b.WriteString(`</g>`)
			if i%2 == 0 || n <= 8 {
				fmt.Fprintf(&b, `<text class="axis" x="%.1f" y="%.0f" text-anchor="middle">%s</text>`, x+bw/2, h-3, esc(wk.Start.Format("Jan 2")))
			}
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()), text
}

type recordData struct {
	R *value.Record
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

func (u *UI) handleFeature(w http.ResponseWriter, r *http.Request) error {
	if u.Value == nil {
		u.renderError(w, r, nil, http.StatusNotFound, "The value loop is not running on this server.")
		return nil
	}
	rec, err := u.Value.Record(r.Context(), r.PathValue("key"))
	if err != nil {
		return err
	}
	d := recordData{R: rec}
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
