package ui

import (
	"strings"
	"testing"
	"time"

	"github.com/valueloop/valueloop/rollout"
	"github.com/valueloop/valueloop/stats"
)

// TestGuardrailOverTimeFocus: a guardrail's first decisions, on a few
// users, have wide intervals (-80% to +200%) that set the y-axis, so the
// latest, a few percent wide beside its tolerance, was drawn as a flat
// line. As the experiment's interval over time, the axis is fitted to the
// later decisions, and the first ones, beyond it, are cut and marked with
// their bounds.
func TestGuardrailOverTimeFocus(t *testing.T) {
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	result := func(est, lo, hi float64) rollout.GuardrailResult {
		return rollout.GuardrailResult{Metric: "checkout-errors", Direction: "lower", Tolerance: 0.05, Status: rollout.GuardrailOK, Level: 0.95,
			Change: est, Interval: stats.Interval{Lower: lo, Upper: hi}}
	}
	var history []rollout.Event
	for k, iv := range [][3]float64{{0.6, -0.8, 2}, {0.2, -0.4, 0.8}, {0.05, -0.15, 0.3}, {0.02, -0.06, 0.1}, {0.01, -0.04, 0.07}} {
		history = append(history, rollout.Event{At: start.Add(time.Duration(k) * 6 * time.Hour), Kind: rollout.KindHold,
			Guardrails: []rollout.GuardrailResult{result(iv[0], iv[1], iv[2])}})
	}
	gv := guardrailOverTime(result(0.01, -0.03, 0.05), history, start.Add(32*time.Hour))
	for _, d := range focusedDrawings(t, gv.Chart, len(history)+1) {
		if d.span < d.plot/8 {
			t.Errorf("w%d: the latest interval (-3%% to +5%%) spans %.1f of the plot's %.0f pixels, want at least an eighth", d.width, d.span, d.plot)
		}
		if !strings.Contains(d.svg, `<path class="clip s0"`) || !strings.Contains(d.svg, "-80.0% to +200.0%") {
			t.Errorf("w%d: the first decision's interval, beyond the axis, is not marked with its bounds (-80.0%% to +200.0%%):\n%s", d.width, d.svg)
		}
	}
}

// TestRolloutPageUsersLine: a rollout nobody has reached yet read "Users so
// far: started by alice 1m ago.", a label with nothing after it; it says
// who started it only, and one with users lists them before that. The
// plan's line wrote a step's minimum ungrouped ("at least 1000").
func TestRolloutPageUsersLine(t *testing.T) {
	u := &UI{Now: time.Now}
	if err := u.parseTemplates(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		users map[string]int64
		want  string
	}{
		{"nobody yet", nil, `<p class="hint">Started by alice `},
		{"users", map[string]int64{"off": 1200, "on": 30}, `<p class="hint">Users so far: off 1,200 · on 30 · started by alice `},
		// A step's minimum is grouped as every count on the page.
		{"step minimum", nil, `5% for 1h and at least 1,000 new users → 100%`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := &rollout.Status{Rollout: rollout.Rollout{State: rollout.Running, StartedBy: "alice", StartedAt: time.Now().Add(-time.Minute),
				Plan: rollout.Plan{Flag: "greet", Variant: "on", Baseline: "off", Steps: []rollout.Step{{Percent: 5, MinDuration: rollout.Duration(time.Hour), MinUsers: 1000}, {Percent: 100}}}}, Users: tc.users}
			var b strings.Builder
			if err := u.pages["rollout"].ExecuteTemplate(&b, "content", page{Data: rolloutData{Status: st}}); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(b.String(), tc.want) {
				t.Errorf("the rollout page lacks %q:\n%s", tc.want, b.String())
			}
		})
	}
}

// TestRolloutPageServedLine: the rollout page says what the step's split
// served the users new since it took effect, against the step's
// percentage, and those served outside it; a status without the figures
// (the split changed by hand) has no such line.
func TestRolloutPageServedLine(t *testing.T) {
	u := &UI{Now: time.Now}
	if err := u.parseTemplates(); err != nil {
		t.Fatal(err)
	}
	pct := 4.8
	since := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name, want string
		served     *rollout.StepServed
	}{
		{"served", `Served in this step: <strong>4.8%</strong> on of 1,000 new users drawn by the split since <time datetime="2026-11-23T10:00:00Z">`,
			&rollout.StepServed{Since: since, SplitUsers: 1000, VariantUsers: 48, Percent: &pct, OutsideUsers: 3}},
		{"outside", `, against the step's 5%; 3 users served outside it.`, &rollout.StepServed{Since: since, SplitUsers: 1000, VariantUsers: 48, Percent: &pct, OutsideUsers: 3}},
		{"nobody yet", `Served in this step: no new user drawn by the split since`, &rollout.StepServed{Since: since}},
		{"no figures", "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := &rollout.Status{Rollout: rollout.Rollout{State: rollout.Running, Percent: 5, StartedBy: "alice", StartedAt: time.Now().Add(-time.Minute),
				Plan: rollout.Plan{Flag: "greet", Variant: "on", Baseline: "off", Steps: []rollout.Step{{Percent: 5}, {Percent: 100}}}}, Served: tc.served}
			var b strings.Builder
			if err := u.pages["rollout"].ExecuteTemplate(&b, "content", page{Data: rolloutData{Status: st}}); err != nil {
				t.Fatal(err)
			}
			if got := b.String(); tc.want == "" && strings.Contains(got, `id="served"`) || !strings.Contains(got, tc.want) {
				t.Errorf("the rollout page, want %q:\n%s", tc.want, got)
			}
		})
	}
}
