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
