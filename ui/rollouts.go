package ui

import (
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/rollout"
	"github.com/valueloop/valueloop/stats"
)

func rolloutFilter(env string) rollout.Filter {
	return rollout.Filter{Environment: env, Active: true, Limit: 100}
}

// rolloutRow is a rollout in a list, with its live guardrails.
type rolloutRow struct {
	rollout.Rollout
	Meter      template.HTML
	Guardrails []rollout.GuardrailResult
	Waiting    string
	Held       *rollout.Hold
}

type rolloutsData struct {
	Active, Finished []rolloutRow
	Pager            pager // of the finished
}

// rolloutRows lists the rollouts under way of every environment the
// session may read, with their status.
func (u *UI) rolloutRows(r *http.Request) ([]rolloutRow, error) {
	var out []rolloutRow
	if u.Rollouts == nil {
		return nil, nil
	}
	for _, t := range u.envTabs(r, "") {
		list, err := u.Rollouts.List(r.Context(), rollout.Filter{Environment: t.Key, Active: true, Limit: 50})
		if err != nil {
			return nil, err
		}
		for _, ro := range list {
			row := rolloutRow{Rollout: ro, Meter: meter(ro.Plan.Flag+" serves "+ro.Plan.Variant+" to "+pct(ro.Percent/100)+" of users", ro.Percent)}
			if st, err := u.Rollouts.Status(r.Context(), ro.Environment, ro.Plan.Flag); err == nil {
				row.Guardrails, row.Waiting, row.Held = st.Guardrails, st.Waiting, st.Held
			}
			out = append(out, row)
		}
	}
	return out, nil
}

// finishedPage is how many finished rollouts a page lists, the newest
// first.
const finishedPage = 50

// finishedRollouts is the request's page of the finished rollouts of every
// environment the session may read, newest first: one count and one read
// of its rows.
func (u *UI) finishedRollouts(r *http.Request) ([]rolloutRow, pager, error) {
	f := rollout.Filter{Finished: true}
	for _, t := range u.envTabs(r, "") {
		f.Environments = append(f.Environments, t.Key)
	}
	count := func(upTo int) (int, error) {
		if u.Rollouts == nil || len(f.Environments) == 0 { // no Environments would be every one
			return 0, nil
		}
		return u.Rollouts.Count(r.Context(), f, upTo)
	}
	pg, lo, hi, err := storePage(r, count, finishedPage, "finished rollout")
	if err != nil || hi == lo {
		return nil, pg, err
	}
	f.Offset, f.Limit = lo, hi-lo
	list, err := u.Rollouts.List(r.Context(), f)
	var out []rolloutRow
	for _, ro := range list {
		out = append(out, rolloutRow{Rollout: ro})
	}
	return out, pg, err
}

func (u *UI) handleRollouts(w http.ResponseWriter, r *http.Request) error {
	active, err := u.rolloutRows(r)
	if err != nil {
		return err
	}
	finished, pg, err := u.finishedRollouts(r)
	if err != nil {
		return err
	}
	u.render(w, r, http.StatusOK, "rollouts", page{Title: "Rollouts", Nav: "rollouts", Refresh: 30, Data: rolloutsData{Active: active, Finished: finished, Pager: pg}})
	return nil
}

// guardrailView is one guardrail: its interval now and over the history,
// against its tolerance.
type guardrailView struct {
	rollout.GuardrailResult
	Chart template.HTML
	Rows  []guardrailPoint
}

// guardrailOverTime is guardrail g now, with the interval of its relative
// change at each decision the engine recorded in history, and now. The
// first decisions' intervals are wide: the axis is fitted to the later
// ones (chartSpec.Focus).
func guardrailOverTime(g rollout.GuardrailResult, history []rollout.Event, now time.Time) guardrailView {
	gv := guardrailView{GuardrailResult: g}
	s := series{Name: g.Metric + " change", HasBand: true}
	add := func(at time.Time, x rollout.GuardrailResult) {
		if !x.HasRelative() {
			return
		}
		if !x.Interval.LowerUnbounded && !x.Interval.UpperUnbounded { // an unbounded side is held as 0
			s.Points = append(s.Points, point{T: at, Y: x.Change, Lo: x.Interval.Lower, Hi: x.Interval.Upper})
		}
		gv.Rows = append(gv.Rows, guardrailPoint{At: at, Change: x.Change, Interval: x.Interval, Status: x.Status})
	}
	for _, ev := range history {
		for _, x := range ev.Guardrails {
			if x.Metric == g.Metric {
				add(ev.At, x)
			}
		}
	}
	add(now, g)
	limit := g.Tolerance
	if g.Direction == "higher" {
		limit = -g.Tolerance
	}
	gv.Chart = lineChart(chartSpec{Title: "Relative change of " + g.Metric + " (" + pct(g.Level) + " always-valid interval) against its tolerance of " + pct(g.Tolerance),
		YTitle: "change vs control (%)", Series: []series{s}, Refs: []refLine{{Y: 0, Label: "no change"}, {Y: limit, Label: "tolerance " + signedPct(limit)}}, YFmt: signedPct, Fmt: lift, Focus: true})
	return gv
}

type guardrailPoint struct {
	At       time.Time
	Change   float64
	Interval stats.Interval
	Status   string
}

type rolloutData struct {
	*rollout.Status
	Progress   template.HTML
	Guardrails []guardrailView
	CanWrite   bool
	Actions    []string
}

func (u *UI) handleRollout(w http.ResponseWriter, r *http.Request) error {
	live, err := u.liveEnv(r)
	if err != nil {
		return err
	}
	if u.Rollouts == nil {
		return valueloop.Errorf(valueloop.ENOTFOUND, "this server runs no rollouts")
	}
	env, key := live.Environment.Key, r.PathValue("key")
	st, err := u.Rollouts.Status(r.Context(), env, key)
	if err != nil {
		return err
	}
	now := u.Now()
	d := rolloutData{Status: st, CanWrite: sessionOf(r).CanChange(env) && u.FlagFiles[env] == ""}
	// Progress: the percentage after each transition, held until now.
	prog := series{Name: "percent of users"}
	for _, ev := range st.History {
		prog.Points = append(prog.Points, point{T: ev.At, Y: ev.Percent})
	}
	prog.Points = append(prog.Points, point{T: now, Y: st.Percent})
	var steps []refLine
	for _, s := range st.Plan.Steps {
		steps = append(steps, refLine{Y: s.Percent, Label: pct(s.Percent/100) + " step"})
	}
	d.Progress = lineChart(chartSpec{Title: "Share of users served " + st.Plan.Variant + " over time, in percent",
		YTitle: "users served " + st.Plan.Variant + " (%)", Series: []series{prog}, Refs: steps, Step: true, YMax: 100, YFmt: func(y float64) string { return pct(y / 100) }})
	for _, g := range st.Guardrails {
		d.Guardrails = append(d.Guardrails, guardrailOverTime(g, st.History, now))
	}
	switch st.State {
	case rollout.Running:
		d.Actions = []string{"pause", "advance", "rollback"}
	case rollout.Paused:
		d.Actions = []string{"resume", "advance", "rollback"}
	}
	u.render(w, r, http.StatusOK, "rollout", page{Title: "Rollout · " + key, Nav: "rollouts", Refresh: 30, Data: d})
	return nil
}

type rolloutActionData struct {
	Env, Key, Action string
	Status           *rollout.Status
	// Reason and ReasonError: the reason as typed and what is wrong with
	// it, when the action was refused for it.
	Reason, ReasonError string
}

// title names the action the confirm step asks for, as its heading does.
func (d rolloutActionData) title() string {
	return strings.ToUpper(d.Action[:1]) + d.Action[1:] + " the rollout of " + d.Key + " in " + d.Env + "?"
}

// handleRolloutActionPage is the confirm step of a rollout action (used
// without script; with it, the button asks in a dialog and posts).
func (u *UI) handleRolloutActionPage(w http.ResponseWriter, r *http.Request) error {
	live, err := u.liveEnv(r)
	if err != nil {
		return err
	}
	action := r.PathValue("action")
	if _, ok := rolloutActions[action]; !ok || u.Rollouts == nil {
		u.renderError(w, r, nil, http.StatusNotFound, "There is no rollout action "+action+".")
		return nil
	}
	st, err := u.Rollouts.Status(r.Context(), live.Environment.Key, r.PathValue("key"))
	if err != nil {
		return err
	}
	d := rolloutActionData{Env: live.Environment.Key, Key: r.PathValue("key"), Action: action, Status: st}
	u.render(w, r, http.StatusOK, "rollout_action", page{Title: d.title(), Nav: "rollouts", Data: d})
	return nil
}

func (u *UI) handleRolloutAction(w http.ResponseWriter, r *http.Request) error {
	live, err := u.liveEnv(r)
	if err != nil {
		return err
	}
	action := r.PathValue("action")
	kind, ok := rolloutActions[action]
	if !ok || u.Rollouts == nil {
		u.renderError(w, r, nil, http.StatusNotFound, "There is no rollout action "+action+".")
		return nil
	}
	env, key := live.Environment.Key, r.PathValue("key")
	reason := r.PostFormValue("reason")
	if _, err := u.Rollouts.Act(r.Context(), env, key, kind, sessionOf(r).Token.Name, reason); err != nil {
		// Refused for its reason: the confirm step again, the problem next
		// to the field and the reason as typed (a rollback must not end on
		// an error page for a tab pasted in it).
		var e *valueloop.Error
		if errors.As(err, &e) && e.Field == "reason" {
			if st, serr := u.Rollouts.Status(r.Context(), env, key); serr == nil {
				d := rolloutActionData{Env: env, Key: key, Action: action, Status: st, Reason: reason, ReasonError: valueloop.ErrorMessage(err)}
				u.render(w, r, http.StatusUnprocessableEntity, "rollout_action", page{Title: d.title(), Nav: "rollouts", Data: d})
				return nil
			}
		}
		return err
	}
	done := map[string]string{"pause": "Paused", "resume": "Resumed", "advance": "Advanced", "rollback": "Rolled back"}[action]
	u.redirectDone(w, r, "/rollouts/"+url.PathEscape(env)+"/"+url.PathEscape(key), done+" the rollout of "+key+".")
	return nil
}
