package rollout_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/valueloop/valueloop/ingest"
	"github.com/valueloop/valueloop/metric"
	"github.com/valueloop/valueloop/rollout"
	"github.com/valueloop/valueloop/storetest"
)

// TestGuardrailFromAZeroBaseline: a baseline of 0 has no relative change,
// but a harm from 0 is beyond any tolerance. An error rate that rises from
// none in 1,000 users of the baseline to 31 in 1,000 of the variant is
// breached (it was "not enough data", so the rollout advanced on time
// alone); a rise too small to tell from chance, no errors in either, or a
// conversion rising from 0 (better) still have no figures to judge. Every
// variant user erring (0% against 100%) is the worst harm there is: it was
// "not enough data" (the Wald variance is 0 in both arms, and Newcombe's
// interval had no sequential form), now breached.
func TestGuardrailFromAZeroBaseline(t *testing.T) {
	for _, c := range []struct {
		name       string
		dir        string
		variantHit int // users of the variant with the event, of 1000
		want       string
		reason     string
		baseHit    int // users of the baseline with the event, of 1000
	}{
		{"errors rise from none", "lower", 31, rollout.GuardrailBreached, "rose from 0", 0},
		{"one error is chance", "lower", 1, rollout.GuardrailNotEnoughData, "baseline is 0", 0},
		{"no errors in either", "lower", 0, rollout.GuardrailNotEnoughData, "", 0},
		{"conversions rise from none", "higher", 31, rollout.GuardrailNotEnoughData, "baseline is 0", 0},
		{"every user errs in the variant", "lower", 1000, rollout.GuardrailBreached, "rose from 0", 0},
		// Every variant user converts: better, so nothing to judge.
		{"every user converts in the variant", "higher", 1000, rollout.GuardrailNotEnoughData, "Newcombe", 0},
		// Every baseline user converts and no variant user does: a fall
		// of 100%, beyond any tolerance, from 1 (not "from 0").
		{"conversions fall from all to none", "higher", 0, rollout.GuardrailBreached, "fell from 1: one-page is 0 vs 1 for classic", 1000},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := metric.Metric{Key: "error-rate", Kind: metric.Conversion, Event: "error", Direction: metric.Direction(c.dir)}
			if err := m.Normalize(); err != nil {
				t.Fatal(err)
			}
			p := goodPlan()
			p.Guardrails = []rollout.Guardrail{{Metric: m.Key, Tolerance: 0.05}}
			if err := p.Check(checkoutFlag(), []metric.Metric{m}); err != nil {
				t.Fatal(err)
			}
			var events []ingest.Event
			for i := range 1000 {
				for _, v := range []string{"classic", "one-page"} {
					key := v + strconv.Itoa(i)
					events = append(events, ingest.Event{Type: ingest.Exposure, Flag: "checkout", Variant: v, TargetingKey: key, Time: 1_767_225_600_000, TimeSet: true})
					if (v == "one-page" && i < c.variantHit) || (v == "classic" && i < c.baseHit) {
						events = append(events, ingest.Event{Type: ingest.Tracking, Name: "error", TargetingKey: key, Time: 1_767_225_600_001, TimeSet: true})
					}
				}
			}
			g := rollout.Guardrails(&p, 50, []metric.Metric{m}, storetest.RecomputeEvents(t, []metric.Metric{m}, events))[0]
			if g.Status != c.want || !strings.Contains(g.Reason, c.reason) {
				t.Errorf("%s, %q; want %s naming %q", g.Status, g.Reason, c.want, c.reason)
			}
			if g.HasRelative() || g.FromZero != (c.want == rollout.GuardrailBreached) {
				t.Errorf("HasRelative %v, FromZero %v: a zero baseline has no relative change", g.HasRelative(), g.FromZero)
			}
		})
	}
}
