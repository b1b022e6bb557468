package rollout_test

import (
	"strings"
	"testing"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/metric"
	"github.com/valueloop/valueloop/rollout"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func running(step int) rollout.Rollout {
	p := goodPlan()
	if err := p.Check(checkoutFlag(), []metric.Metric{errorMetric()}); err != nil {
		panic(err)
	}
	r := rollout.Start("production", p, "alice", t0, 0)
	r.ID = 1
	for range step {
		r, _, _ = r.Apply(rollout.KindAdvance, t0, 0, "alice", "", nil)
	}
	return r
}

func breached(metric string) []rollout.GuardrailResult {
	return []rollout.GuardrailResult{{Metric: metric, Status: rollout.GuardrailBreached, Reason: metric + " rose"}}
}

func TestDecide(t *testing.T) {
	paused := running(0)
	paused, _, _ = paused.Apply(rollout.KindPause, t0, 0, "bob", "look", nil)
	pauser := running(0)
	pauser.Plan.OnBreach = rollout.PauseOnBreach
	pausedPauser := pauser
	pausedPauser.State = rollout.Paused
	acked := running(0)
	acked.Acknowledged = []string{"error-rate"}
	done := running(2)
	done, _, _ = done.Apply(rollout.KindAdvance, t0, 0, "", "", nil)
	ok := []rollout.GuardrailResult{{Metric: "error-rate", Status: rollout.GuardrailOK}}
	noData := []rollout.GuardrailResult{{Metric: "error-rate", Status: rollout.GuardrailNotEnoughData}}
	fewUsers := []rollout.GuardrailResult{{Metric: "error-rate", Status: rollout.GuardrailNotEnoughData, BaselineUsers: 100, VariantUsers: 99}}
	zeroBaseline := []rollout.GuardrailResult{{Metric: "error-rate", Status: rollout.GuardrailNotEnoughData, BaselineUsers: 100, VariantUsers: 100}}
	ackedNoData := running(0)
	ackedNoData.Acknowledged = []string{"error-rate"}
	sized := []rollout.GuardrailResult{{Metric: "error-rate", Status: rollout.GuardrailNoHarmDetected, Tolerance: 0.1, NeededUsers: 500}}
	sizedOK := []rollout.GuardrailResult{{Metric: "error-rate", Status: rollout.GuardrailOK, Tolerance: 0.1, NeededUsers: 500}}
	unsized := []rollout.GuardrailResult{{Metric: "error-rate", Status: rollout.GuardrailNotEnoughData, Tolerance: 0.1}}
	ackedSized := []rollout.GuardrailResult{{Metric: "error-rate", Status: rollout.GuardrailBreached, Tolerance: 0.05, NeededUsers: 249104}}
	large := []rollout.GuardrailResult{{Metric: "error-rate", Status: rollout.GuardrailNoHarmDetected, Tolerance: 0.01, NeededUsers: 200000}}
	strict := running(1)
	strict.Plan.RequireNonInferiority = true
	strict.Plan.Steps[1].MinUsers = 0
	cases := []struct {
		name    string
		r       rollout.Rollout
		users   int64
		figures []rollout.GuardrailResult
		at      time.Time
		want    rollout.Kind
		reason  string // in Reason, or in Waiting when want is ""
	}{
		{"waits for its time", running(0), 0, ok, t0.Add(30 * time.Minute), "", "30m more at 1%"},
		{"advances after its time", running(0), 0, ok, t0.Add(time.Hour), rollout.KindAdvance, "on to 5%"},
		// A guardrail that has seen no user guards nothing: the step waits
		// for minSample (100) users in each variant, whatever the
		// tolerance; with them, not enough data (a zero baseline) does not
		// block.
		{"guardrails without data block", running(0), 0, noData, t0.Add(time.Hour), "", "guardrail error-rate to have 100 users in each variant (it has 0 in classic and 0 in one-page)"},
		{"guardrails with too few users block", running(0), 0, fewUsers, t0.Add(time.Hour), "", "guardrail error-rate to have 100 users in each variant (it has 100 in classic and 99 in one-page)"},
		{"guardrails with their users do not block", running(0), 0, zeroBaseline, t0.Add(time.Hour), rollout.KindAdvance, "on to 5%"},
		{"an acknowledged guardrail without data does not block", ackedNoData, 0, noData, t0.Add(time.Hour), rollout.KindAdvance, "on to 5%"},
		// Completing says what the guardrails showed, as an advance does:
		// "with every guardrail holding" was said of a guardrail without
		// data, and of a plan without guardrails.
		{"at 100% there is no baseline to wait for", running(2), 0, noData, t0, rollout.KindComplete, "held 100% for 0s; no harm detected"},
		{"completes without guardrails", running(2), 0, nil, t0, rollout.KindComplete, "held 100% for 0s; no guardrails"},
		{"waits for its users", running(1), 99, ok, t0.Add(2 * time.Hour), "", "1 more user of one-page"},
		{"advances with its users", running(1), 100, ok, t0.Add(2 * time.Hour), rollout.KindAdvance, "on to 100%"},
		{"completes after the last step", running(2), 0, ok, t0, rollout.KindComplete, "held 100% for 0s; every guardrail shown within tolerance"},
		{"breach rolls back at once", running(0), 0, breached("error-rate"), t0, rollout.KindRollback, "error-rate rose"},
		{"breach rolls back a paused rollout", paused, 0, breached("error-rate"), t0, rollout.KindRollback, "error-rate rose"},
		{"breach pauses", pauser, 0, breached("error-rate"), t0.Add(5 * time.Hour), rollout.KindPause, "error-rate rose"},
		{"paused waits", pausedPauser, 0, breached("error-rate"), t0.Add(5 * time.Hour), "", "paused"},
		{"acknowledged breach ignored", acked, 0, breached("error-rate"), t0.Add(time.Hour), rollout.KindAdvance, ""},
		// Nor does it size the step: a resume after a breach of +231% on
		// error-rate waited for the 249,104 users that detect a 5% harm
		// on it, a guardrail that no longer stops the rollout.
		{"acknowledged guardrail sets no minimum of users", acked, 0, ackedSized, t0.Add(time.Hour), rollout.KindAdvance, ""},
		{"finished does nothing", done, 0, breached("error-rate"), t0, "", ""},
		{"default minimum: the users that detect the tolerated harm", running(0), 499, sized, t0.Add(time.Hour), "", "1 more user of one-page (to detect a 10% harm on error-rate with 80% power)"},
		{"large counts are digit-grouped", running(0), 24866, large, t0.Add(time.Hour), "", "175,134 more users of one-page"},
		{"default minimum reached: advances, saying no harm detected", running(0), 500, sized, t0.Add(time.Hour), rollout.KindAdvance, "no harm detected: on to 5%"},
		{"default minimum reached with every guardrail ok", running(0), 500, sizedOK, t0.Add(time.Hour), rollout.KindAdvance, "every guardrail shown within tolerance"},
		{"default minimum before figures: the plan's minSample", running(0), 99, unsized, t0.Add(time.Hour), "", "1 more user of one-page (the plan's minSample"},
		{"non-inferiority required before the last step", strict, 1000, sized, t0.Add(3 * time.Hour), "", "guardrail error-rate to show non-inferiority before the last step (it is no harm detected)"},
		{"non-inferiority shown: on to the last step", strict, 1000, sizedOK, t0.Add(3 * time.Hour), rollout.KindAdvance, "on to 100%"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := rollout.Decide(c.r, c.users, c.figures, c.at)
			if d.Kind != c.want {
				t.Fatalf("Decide = %+v, want %q", d, c.want)
			}
			text := d.Reason
			if c.want == "" {
				text = d.Waiting
			}
			if !strings.Contains(text, c.reason) {
				t.Errorf("Decide = %+v, want %q in it", d, c.reason)
			}
		})
	}
}

// TestStepMinUsersSaysAcknowledged: a step that an acknowledged guardrail
// no longer sizes says so, rather than that the plan has no guardrail with
// a tolerance (it has one: error-rate, at 5%).
func TestStepMinUsersSaysAcknowledged(t *testing.T) {
	r := running(0)
	r.Acknowledged = []string{"error-rate"}
	figures := []rollout.GuardrailResult{{Metric: "error-rate", Status: rollout.GuardrailBreached, Tolerance: 0.05, NeededUsers: 249104}}
	if n, why := rollout.StepMinUsers(r, figures); n != 0 || !strings.Contains(why, "acknowledged (error-rate)") {
		t.Errorf("StepMinUsers = %d, %q; want 0 naming the acknowledged error-rate", n, why)
	}
}

func TestApply(t *testing.T) {
	r := running(0)
	next, ev, err := r.Apply(rollout.KindAdvance, t0.Add(time.Hour), 40, "valueloop", "held", nil)
	if err != nil || next.Step != 1 || next.Percent != 5 || !next.StepStartedAt.Equal(t0.Add(time.Hour)) || next.StepStartUsers != 40 {
		t.Fatalf("advance: %+v, %v", next, err)
	}
	if ev.Kind != rollout.KindAdvance || ev.Step != 1 || ev.Percent != 5 || ev.State != rollout.Running || ev.Reason != "held" {
		t.Errorf("advance event: %+v", ev)
	}
	if r.Step != 0 {
		t.Errorf("Apply changed its receiver: step %d", r.Step)
	}
	last, ev, _ := running(2).Apply(rollout.KindAdvance, t0, 0, "bob", "", nil)
	if last.State != rollout.Completed || ev.Kind != rollout.KindComplete || last.FinishedAt.IsZero() {
		t.Errorf("advancing past the last step: %+v, %+v; want completed", last, ev)
	}
	back, ev, _ := r.Apply(rollout.KindRollback, t0, 0, "bob", "bad", breached("error-rate"))
	if back.State != rollout.RolledBack || back.Percent != 0 || ev.Percent != 0 || len(ev.Guardrails) != 1 || back.Reason != "bad" {
		t.Errorf("rollback: %+v, %+v", back, ev)
	}
	paused, _, _ := r.Apply(rollout.KindPause, t0, 0, "bob", "", nil)
	resumed, _, err := paused.Apply(rollout.KindResume, t0, 0, "bob", "", breached("error-rate"))
	if err != nil || resumed.State != rollout.Running || len(resumed.Acknowledged) != 1 || resumed.Acknowledged[0] != "error-rate" {
		t.Errorf("resume after a breach: %+v, %v; want it acknowledged", resumed, err)
	}
	if len(paused.Acknowledged) != 0 {
		t.Errorf("resume changed the paused rollout's acknowledgements: %v", paused.Acknowledged)
	}

	// Transitions that make no sense are conflicts that say why.
	conflicts := []struct {
		r    rollout.Rollout
		k    rollout.Kind
		want string
	}{
		{r, rollout.KindResume, "only a paused rollout can be resumed"},
		{paused, rollout.KindPause, "only a running rollout can be paused"},
		{back, rollout.KindAdvance, "rolled back: start a new rollout"},
		{back, rollout.KindRollback, "nothing to roll back"},
		{last, rollout.KindPause, "is completed"},
	}
	for _, c := range conflicts {
		_, _, err := c.r.Apply(c.k, t0, 0, "bob", "", nil)
		if valueloop.ErrorCode(err) != valueloop.ECONFLICT || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s of a %s rollout: %v, want a conflict with %q", c.k, c.r.State, err, c.want)
		}
	}
}

// A hold names the step's minimum time only when it has one: a step of no
// minimum time said "has lasted its 0s".
func TestHoldReasonNamesTheStepTime(t *testing.T) {
	noData := []rollout.GuardrailResult{{Metric: "error-rate", Status: rollout.GuardrailNotEnoughData}}
	timed := running(0)
	untimed := running(0)
	untimed.Plan.Steps[0].MinDuration = 0
	for _, c := range []struct {
		name string
		r    rollout.Rollout
		want string
	}{
		{"an hour", timed, "step 1 of 3 (1%) has lasted its 1h but holds"},
		{"no time", untimed, "step 1 of 3 (1%) has no minimum time but holds"},
	} {
		d := rollout.Decide(c.r, 0, noData, t0.Add(time.Hour))
		if d.Held == nil || !strings.HasPrefix(d.Held.Reason, c.want) {
			t.Errorf("%s: held %+v, want a reason starting %q", c.name, d.Held, c.want)
		}
	}
}
