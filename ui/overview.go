package ui

import (
	"net/http"
	"strings"

	"github.com/valueloop/valueloop/experiment"
	"github.com/valueloop/valueloop/features"
	"github.com/valueloop/valueloop/termchart"
	"github.com/valueloop/valueloop/value"
)

// stage is where a feature (until the value loop lands: a flag with a
// hypothesis) stands in the loop.
type stage struct {
	Name, Hint string
	Items      []stageItem
}

type stageItem struct {
	Env, Flag, Note string
	Statement       string
	Rollout         bool // links to the rollout rather than the experiment
	// Feature is a value-loop feature's key: the item links to its record.
	Feature string
}

type overviewData struct {
	// FromValue: Stages are the value loop's features, not flags.
	FromValue   bool
	Stages      []stage
	Rollouts    []rolloutRow
	Experiments []experimentRow
	Delivery    []doraKey
	// Build are the top of the value loop's ranked backlog; Next what
	// needs a person's decision now.
	Build []value.Rank
	Next  []string
}

// overviewRanks is how much of the ranked backlog the overview shows.
const overviewRanks = 3

// The stages a flag with a hypothesis passes through, in order.
var stageNames = []struct{ name, hint string }{
	{"Hypothesis", "a hypothesis, not released yet"},
	{"Rolling out", "a progressive rollout under way"},
	{"Measuring", "released; the experiment keeps running"},
	{"Validated", "the hypothesis held"},
	{"Invalidated", "the hypothesis did not hold"},
}

// valueHints say what each stage of the value loop means; done and
// abandoned features have left the loop and are not shown.
var valueHints = map[value.Stage]string{
	value.Idea: "proposed, not yet estimated or planned", value.Ready: "estimated and ready to build",
	value.Building: "changes are being committed", value.Releasing: "deployed or rolling out",
	value.Measuring: "released; the evidence is coming in", value.Validated: "the hypothesis held",
	value.Invalidated: "the hypothesis did not hold",
}

// valueStages groups the value loop's features by the stage their
// lifecycle (derived from the evidence) is in.
func (u *UI) valueStages(r *http.Request) ([]stage, error) {
	fs, err := u.Features.Features(r.Context())
	if err != nil {
		return nil, err
	}
	ls, err := u.Features.Lifecycles(r.Context())
	if err != nil {
		return nil, err
	}
	var out []stage
	idx := map[value.Stage]int{}
	for _, s := range value.Stages {
		if h, ok := valueHints[s]; ok {
			idx[s] = len(out)
			out = append(out, stage{Name: strings.ToUpper(string(s[:1])) + string(s[1:]), Hint: h})
		}
	}
	for _, f := range fs {
		st := value.Idea
		if l, ok := ls[f.Key]; ok && l.Stage != "" {
			st = l.Stage
		}
		i, ok := idx[st]
		if !ok {
			continue
		}
		out[i].Items = append(out[i].Items, stageItem{Feature: f.Key, Statement: f.Title})
	}
	return out, nil
}

func (u *UI) handleOverview(w http.ResponseWriter, r *http.Request) error {
	d := overviewData{}
	active, err := u.rolloutRows(r)
	if err != nil {
		return err
	}
	d.Rollouts = active
	rollingOut := map[string]bool{}
	for _, ro := range active {
		rollingOut[ro.Environment+"/"+ro.Plan.Flag] = true
	}
	exps, err := u.experimentRows(r)
	if err != nil {
		return err
	}
	d.Experiments = exps
	for _, s := range stageNames {
		d.Stages = append(d.Stages, stage{Name: s.name, Hint: s.hint})
	}
	for _, e := range exps {
		item := stageItem{Env: e.Env, Flag: e.Flag}
		if h := e.Result.Hypothesis; h != nil {
			item.Statement = h.Statement
		}
		i := 0
		v := e.Result.Verdict
		switch {
		case v != nil && v.Decision == experiment.Validated:
			i = 3
		case v != nil && v.Decision == experiment.Invalidated:
			i = 4
		case rollingOut[e.Env+"/"+e.Flag]:
			i = 1
		case e.Result.Users > 0:
			i = 2
		}
		if v != nil {
			item.Note = label(string(v.Decision))
		}
		d.Stages[i].Items = append(d.Stages[i].Items, item)
	}
	// Flags rolling out without a hypothesis are in the loop too: released
	// without a way to learn from it, which the overview says.
	withHypothesis := map[string]bool{}
	for _, e := range exps {
		withHypothesis[e.Env+"/"+e.Flag] = true
	}
	for _, ro := range active {
		if !withHypothesis[ro.Environment+"/"+ro.Plan.Flag] {
			d.Stages[1].Items = append(d.Stages[1].Items, stageItem{Env: ro.Environment, Flag: ro.Plan.Flag, Rollout: true,
				Note: "no hypothesis: nothing will be learnt from this release"})
		}
	}
	// What needs a person's decision now: value.Decisions, as 'valueloop
	// next' lists them, then the value loop's stop list.
	for _, x := range value.Decisions(decisionRollouts(active), decisionExperiments(exps)) {
		d.Next = append(d.Next, x.Reason)
	}
	if u.Features != nil {
		stages, err := u.valueStages(r)
		if err != nil {
			return err
		}
		d.Stages, d.FromValue = stages, true
	}
	if u.Delivery != nil {
		rep, err := u.deliveryReport(r)
		if err != nil {
			return err
		}
		if len(rep.Teams)+len(rep.Services) > 0 { // else no figures to judge: the page says so
			d.Delivery = doraKeys(rep.Overall, false, termchart.RateUnitFor(rep.DeploymentsPerDay()...))
		}
	}
	// What is next: the value loop's ranking, and what to stop or finish.
	if u.Value != nil {
		next, err := u.Value.Next(r.Context(), features.NextOptions{})
		if err != nil {
			return err
		}
		d.Build = next.Ranked[:min(overviewRanks, len(next.Ranked))]
		for _, a := range next.Stop {
			// "for feature": the kind ends in what it acts on ("clean up
			// flag"), and the feature's key after it read as that flag's.
			d.Next = append(d.Next, label(a.Kind)+" for feature "+a.Feature+": "+a.Reason)
		}
	}
	u.render(w, r, http.StatusOK, "overview", page{Title: "Loop overview", Nav: "overview", Refresh: 60, Data: d})
	return nil
}

// decisionRollouts is what value.Decisions reads of the active rollouts.
func decisionRollouts(rows []rolloutRow) []value.ActiveRollout {
	out := make([]value.ActiveRollout, len(rows))
	for i, ro := range rows {
		out[i] = value.ActiveRollout{Environment: ro.Environment, Flag: ro.Plan.Flag, State: ro.State, Reason: ro.Reason, Guardrails: ro.Guardrails}
	}
	return out
}

// decisionExperiments is what value.Decisions reads of the analysed
// experiments.
func decisionExperiments(rows []experimentRow) []value.ExperimentVerdict {
	out := make([]value.ExperimentVerdict, len(rows))
	for i, e := range rows {
		out[i] = value.ExperimentVerdict{Environment: e.Env, Flag: e.Flag}
		if v := e.Result.Verdict; v != nil {
			out[i].Decision = v.Decision
		}
	}
	return out
}
