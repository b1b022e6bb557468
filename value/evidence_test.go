package value

import (
	"testing"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/dora"
	"github.com/valueloop/valueloop/experiment"
	"github.com/valueloop/valueloop/rollout"
)

// TestEvidenceFromRecords turns the records the other capabilities keep
// into events and follows one feature round the loop with them.
func TestEvidenceFromRecords(t *testing.T) {
	f := &Feature{Key: "new-onboarding", CreatedAt: day(0)}
	var events []Event
	events = append(events, CreatedEvent(f, "ana"))
	events = append(events, MovedEvent(f.Key, 1, Ready, day(1), "ana", "estimated"))
	c := dora.Change{Repo: "shop/web", SHA: "4c1e9a0ffee", PR: "17", AuthoredAt: day(2), MergedAt: day(3)}
	events = append(events, ChangeEvents(c, "Feature: new-onboarding")...)
	if _, ok := DeploymentEvent(dora.Deployment{ID: "d0", Environment: "staging", Status: dora.StatusSuccess, At: day(3)}, 1); ok {
		t.Error("a staging deployment released the feature")
	}
	if _, ok := DeploymentEvent(dora.Deployment{ID: "d1", Environment: "production", Production: true, Status: dora.StatusFailure, At: day(3)}, 1); ok {
		t.Error("a failed deployment released the feature")
	}
	d, ok := DeploymentEvent(dora.Deployment{ID: "d2", Service: "web", Environment: "production", Production: true, Status: dora.StatusSuccess, At: day(4)}, 2)
	if !ok || d.Cause != "deployment d2 of web to production shipped 2 linked changes" {
		t.Fatalf("deployment: %+v %v", d, ok)
	}
	events = append(events, d)
	r := rollout.Rollout{ID: 7, Environment: "production", Plan: rollout.Plan{Flag: "new-onboarding"}}
	history := []rollout.Event{
		{ID: 1, At: day(5), Kind: rollout.KindStart, Actor: "ana", Percent: 5},
		{ID: 2, At: day(6), Kind: rollout.KindAdvance, Actor: "valueloop", Percent: 25,
			Guardrails: []rollout.GuardrailResult{{Metric: "support-tickets", Status: "ok", Change: 0.012, BaselineUsers: 900, VariantUsers: 48}}},
		{ID: 3, At: day(8), Kind: rollout.KindComplete, Actor: "valueloop", Percent: 100},
	}
	re := RolloutEvents(r, history)
	if re[1].Kind != RolloutStep || re[1].Detail != "support-tickets ok (+1.2%, 900/48 users)" || re[1].Cause != "rollout of new-onboarding in production: advance, now at 25% by valueloop" {
		t.Errorf("step: %+v", re[1])
	}
	events = append(events, re...)
	events = append(events, ExposureEvent("production", "new-onboarding", day(5.5), true))
	if _, ok := VerdictEvent(experiment.VerdictRecord{Decision: experiment.KeepRunning}); ok {
		t.Error("keep running is not a verdict")
	}
	v, _ := VerdictEvent(experiment.VerdictRecord{Environment: "production", Flag: "new-onboarding", Decision: experiment.Validated, At: day(15),
		Figures: experiment.VerdictFigures{PrimaryMetric: "onboarding-completed", Absolute: true, Effect: &experiment.Bounds{Estimate: 0.09}}})
	events = append(events, v)
	if _, ok := AuditEvent(valueloop.AuditEntry{ID: 40, Action: "token.create"}); ok {
		t.Error("a token is no evidence")
	}
	if h, ok := AuditEvent(valueloop.AuditEntry{ID: 39, At: day(1), Actor: "ana", Environment: "production", Action: "hypothesis.put", Target: "new-onboarding"}); !ok ||
		h.Kind != HypothesisSet || h.Cause != "hypothesis of flag new-onboarding in production stated by ana" {
		t.Errorf("hypothesis: %+v", h)
	}
	a, _ := AuditEvent(valueloop.AuditEntry{ID: 41, At: day(20), Actor: "ana", Environment: "production", Action: "flag.delete", Target: "new-onboarding"})
	events = append(events, a)
	// The same records read again: the same facts.
	events = append(events, ChangeEvents(c, "Feature: new-onboarding")...)
	events = append(events, RolloutEvents(r, history)...)

	prod := []FlagLink{{Environment: "production", Flag: "new-onboarding"}}
	l := Derive(events, prod)
	if got, want := path(l), "idea@0 ready@1 building@2 releasing@4 measuring@5.5 validated@15 done@20"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	if l.Verdict == nil || *l.Verdict.Effect != 0.09 || l.Verdict.EffectMetric != "onboarding-completed" || !l.Verdict.EffectAbsolute {
		t.Errorf("verdict: %+v", l.Verdict)
	}
	rec := NewRecord(f, events, prod, day(30))
	// Lead time: commit day 2 → rollout complete day 8 = 6 days; learning:
	// first exposure (rollout start, day 5) → verdict day 15 = 10 days.
	if rec.LeadTimeToCustomer == nil || rec.LeadTimeToCustomer.D() != days2(6).D() || rec.TimeToValidatedLearning == nil || rec.TimeToValidatedLearning.D() != days2(10).D() {
		t.Errorf("figures: lead %v, learning %v", rec.LeadTimeToCustomer, rec.TimeToValidatedLearning)
	}
	if len(rec.Timeline) != 11 {
		t.Errorf("timeline: %d events, want 11", len(rec.Timeline))
	}
}
