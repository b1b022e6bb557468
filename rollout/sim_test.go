package rollout_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/rollout"
	"github.com/valueloop/valueloop/stats"
	"github.com/valueloop/valueloop/webhook"
)

func hours(h float64) rollout.Duration {
	return rollout.Duration(time.Duration(h * float64(time.Hour)))
}

func errorGuardrail() []rollout.Guardrail {
	return []rollout.Guardrail{{Metric: "error-rate", Tolerance: 0.02}}
}

// untoleratedPlan is 5% for an hour, then 100%, guarded by error-rate
// without a tolerance: only the guardrail's minSample holds the 5% step.
func untoleratedPlan() rollout.Plan {
	return rollout.Plan{
		Flag: "checkout", Variant: "one-page", Baseline: "classic",
		Steps:      []rollout.Step{{Percent: 5, MinDuration: hours(1)}, {Percent: 100}},
		Guardrails: []rollout.Guardrail{{Metric: "error-rate"}},
	}
}

func kinds(hist []rollout.Event) []string {
	var out []string
	for _, e := range hist {
		out = append(out, string(e.Kind))
	}
	return out
}

// TestHealthyReleaseReachesFullOnSchedule: a release with the baseline's
// error rate takes over the demo's 5% split and advances every hour to
// 100%, through a restart of the whole server half-way.
func TestHealthyReleaseReachesFullOnSchedule(t *testing.T) {
	w := newWorld(t, 1)
	ctx := context.Background()
	plan := rollout.Plan{
		Flag: "checkout", Variant: "one-page", Baseline: "classic",
		// Explicit minimums keep the hourly schedule: the default, the users
		// that detect a 2% harm, would hold the first step for days (see
		// TestDefaultStepMinimumDetectsTheTolerance).
		Steps:      []rollout.Step{{Percent: 5, MinDuration: hours(1), MinUsers: 50}, {Percent: 25, MinDuration: hours(1), MinUsers: 50}, {Percent: 50, MinDuration: hours(1), MinUsers: 500}, {Percent: 100}},
		Guardrails: errorGuardrail(),
	}
	start := w.clock.Now()
	st, err := w.api.StartRollout(ctx, env, plan, "ship the one-page checkout")
	if err != nil {
		t.Fatal(err)
	}
	if st.State != rollout.Running || st.Percent != 5 || st.LivePercent == nil || *st.LivePercent != 5 || st.StartedBy != "release-manager" {
		t.Fatalf("after start: %+v", st.Rollout)
	}
	if got := w.split(); math.Abs(got-5) > 1 {
		t.Errorf("after start %.2f%% of users get one-page, want about 5%%", got)
	}
	healthy := map[string]float64{"classic": 0.10, "one-page": 0.10}
	w.run(150*time.Minute, 2000, healthy, nil)
	w.restart() // the state, the flag and the figures survive
	st = w.run(6*time.Hour, 2000, healthy, func(st *rollout.Status) bool { return !st.State.Active() })

	if st.State != rollout.Completed {
		t.Fatalf("state %s after %s, want completed; history %v, reason %q", st.State, w.clock.Now().Sub(start), kinds(st.History), st.Reason)
	}
	wantKinds := "start advance advance advance complete"
	if got := strings.Join(kinds(st.History), " "); got != wantKinds {
		t.Fatalf("history %q, want %q", got, wantKinds)
	}
	for i, want := range []struct {
		at      time.Duration
		percent float64
	}{{0, 5}, {time.Hour, 25}, {2 * time.Hour, 50}, {3 * time.Hour, 100}, {3*time.Hour + 10*time.Minute, 100}} {
		ev := st.History[i]
		if got := ev.At.Sub(start); got != want.at || ev.Percent != want.percent {
			t.Errorf("history[%d] %s at +%s at %v%%, want +%s at %v%%", i, ev.Kind, got, ev.Percent, want.at, want.percent)
		}
		if i > 0 && (ev.Actor != rollout.EngineActor || len(ev.Guardrails) != 1) {
			t.Errorf("history[%d] by %q with %d guardrail figures, want the engine's with 1", i, ev.Actor, len(ev.Guardrails))
		}
	}
	if got := w.split(); got != 100 {
		t.Errorf("after completion %.2f%% of users get one-page, want 100%%", got)
	}
	g := st.Guardrails[0]
	// The interval does not lie beyond the tolerance; it is ok only if it
	// shows the harm within 2%, else no harm is detected.
	if g.Status != rollout.GuardrailNoHarmDetected && g.Status != rollout.GuardrailOK || g.VariantUsers < 5000 || g.BaselineUsers < 5000 || g.Interval.Lower > 0.02 || (g.Status == rollout.GuardrailOK) != (g.Interval.Upper <= 0.02) {
		t.Errorf("guardrail at the end: %+v", g)
	}
	if st.Users["one-page"] < 5000 || st.Users["classic"] < 5000 {
		t.Errorf("users per variant: %v", st.Users)
	}
	// The flagd export shows the live split.
	file, err := w.api.ExportFlagd(ctx, env)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(file), `"fractional"`) || !strings.Contains(compact(file), `[["classic",0],["one-page",10000]]`) {
		t.Errorf("exported flagd file lacks the 100%% split:\n%s", file)
	}
}

func compact(b []byte) string {
	var v any
	json.Unmarshal(b, &v)
	out, _ := json.Marshal(v)
	return string(out)
}

// TestRegressionRolledBack: a release that raises the error rate by 20%
// (20% → 24%) is rolled back automatically while still at 5%, with the
// reason and figures recorded, an audit entry, and a signed webhook.
func TestRegressionRolledBack(t *testing.T) {
	w := newWorld(t, 2)
	ctx := context.Background()
	deliveries := make(chan *http.Request, 16)
	bodies := make(chan []byte, 16)
	recv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		deliveries <- r
		bodies <- b
	}))
	defer recv.Close()
	const secret = "whsec-rollouts"
	hooks := webhook.NewSender([]webhook.Target{{URL: recv.URL, Format: webhook.Generic, Secret: secret}}, nil)
	hooks.Now = w.clock.Now
	if err := hooks.Open(); err != nil {
		t.Fatal(err)
	}
	defer hooks.Close()
	w.notifier = rollout.NotifierFunc(func(n rollout.Notification) {
		hooks.Send(webhook.Message{Event: "rollout." + string(n.Event.Kind), Text: n.Text, Data: n})
	})

	plan := rollout.Plan{
		Flag: "checkout", Variant: "one-page", Baseline: "classic",
		Steps:      []rollout.Step{{Percent: 1, MinDuration: hours(1)}, {Percent: 5, MinDuration: hours(12)}, {Percent: 25, MinDuration: hours(12)}, {Percent: 100}},
		Guardrails: errorGuardrail(),
	}
	if _, err := w.api.StartRollout(ctx, env, plan, ""); err != nil {
		t.Fatal(err)
	}
	worse := map[string]float64{"classic": 0.20, "one-page": 0.24}
	st := w.run(30*time.Hour, 3000, worse, func(st *rollout.Status) bool { return !st.State.Active() })
	if st.State != rollout.RolledBack {
		t.Fatalf("state %s at %v%%, want rolled back; history %v", st.State, st.Percent, kinds(st.History))
	}
	for _, ev := range st.History {
		if ev.Percent >= 25 {
			t.Errorf("reached %v%% before the rollback", ev.Percent)
		}
	}
	last := st.History[len(st.History)-1]
	if last.Kind != rollout.KindRollback || last.Actor != rollout.EngineActor || !strings.Contains(last.Reason, "guardrail error-rate rose") || last.Percent != 0 {
		t.Errorf("last history entry: %+v", last)
	}
	if len(last.Guardrails) != 1 || !last.Guardrails[0].Breached() || last.Guardrails[0].Interval.Lower <= 0.02 || last.Guardrails[0].Change < 0.05 {
		t.Errorf("recorded figures: %+v", last.Guardrails)
	}
	if st.Reason != last.Reason || st.LivePercent == nil || *st.LivePercent != 0 || w.split() != 0 {
		t.Errorf("after rollback: reason %q, live %v, split %v%%", st.Reason, st.LivePercent, w.split())
	}
	t.Logf("rolled back after %s at %v%%: %s", last.At.Sub(st.StartedAt), st.History[len(st.History)-2].Percent, last.Reason)

	audit, err := w.api.Audit(ctx, valueloop.AuditFilter{Environment: env, Target: "checkout", Limit: 5})
	if err != nil {
		t.Fatal(err)
	}
	var sawRollback, sawFlag bool
	for _, e := range audit {
		sawRollback = sawRollback || e.Action == "rollout.rollback" && e.Reason == last.Reason && e.Actor == rollout.EngineActor
		sawFlag = sawFlag || e.Action == "flag.update" && strings.HasPrefix(e.Reason, "rollout 1 rolled back")
	}
	if !sawRollback || !sawFlag {
		t.Errorf("audit trail lacks the rollback (%v) or the flag change (%v): %+v", sawRollback, sawFlag, audit)
	}

	// The webhook receiver gets start, (advance,) rollback: find the rollback.
	deadline := time.After(10 * time.Second)
	for {
		select {
		case r := <-deliveries:
			body := <-bodies
			if r.Header.Get(webhook.HeaderEvent) != "rollout.rollback" {
				continue
			}
			if err := webhook.Verify(secret, r.Header, body, w.clock.Now(), 5*time.Minute); err != nil {
				t.Errorf("webhook signature: %v", err)
			}
			var p struct {
				Event string
				Text  string
				Data  rollout.Notification
			}
			if err := json.Unmarshal(body, &p); err != nil {
				t.Fatal(err)
			}
			if p.Event != "rollout.rollback" || !strings.Contains(p.Text, "rolled back") || p.Data.Rollout.State != rollout.RolledBack ||
				len(p.Data.Event.Guardrails) != 1 || !p.Data.Event.Guardrails[0].Breached() {
				t.Errorf("webhook payload: %s", body)
			}
			return
		case <-deadline:
			t.Fatal("no rollback webhook within 10s")
		}
	}
}

// TestPauseOnBreachWaits: with onBreach pause the same regression holds the
// rollout at its percentage until a human decides.
func TestPauseOnBreachWaits(t *testing.T) {
	w := newWorld(t, 3)
	ctx := context.Background()
	plan := rollout.Plan{
		Flag: "checkout", Variant: "one-page", Baseline: "classic", OnBreach: rollout.PauseOnBreach,
		Steps:      []rollout.Step{{Percent: 5, MinDuration: hours(12)}, {Percent: 50, MinDuration: hours(1)}, {Percent: 100}},
		Guardrails: errorGuardrail(),
	}
	if _, err := w.api.StartRollout(ctx, env, plan, ""); err != nil {
		t.Fatal(err)
	}
	worse := map[string]float64{"classic": 0.20, "one-page": 0.24}
	st := w.run(12*time.Hour, 3000, worse, func(st *rollout.Status) bool { return st.State != rollout.Running })
	if st.State != rollout.Paused || st.Percent != 5 || !strings.Contains(st.Reason, "guardrail error-rate rose") {
		t.Fatalf("after the breach: state %s at %v%%, reason %q; want paused at 5%%", st.State, st.Percent, st.Reason)
	}
	pausedAt := len(st.History)
	st = w.run(24*time.Hour, 500, worse, nil) // well past every step's time
	if st.State != rollout.Paused || st.Percent != 5 || len(st.History) != pausedAt || !strings.Contains(st.Waiting, "paused") {
		t.Errorf("a day later: state %s at %v%%, history %v, waiting %q; want still paused at 5%%", st.State, st.Percent, kinds(st.History), st.Waiting)
	}
	if got := w.split(); math.Abs(got-5) > 1 {
		t.Errorf("while paused %.2f%% get one-page, want about 5%%", got)
	}
	st, err := w.api.RolloutAction(ctx, env, "checkout", rollout.KindRollback, "errors confirmed in the logs")
	if err != nil {
		t.Fatal(err)
	}
	last := st.History[len(st.History)-1]
	if st.State != rollout.RolledBack || last.Actor != "release-manager" || last.Reason != "errors confirmed in the logs" || w.split() != 0 {
		t.Errorf("after a manual rollback: %s, %+v, split %v%%", st.State, last, w.split())
	}
}

// TestGuardrailWithoutDataHolds: a guardrail without a tolerance (the
// CLI's bare --guardrail error-rate) sets no minimum of users, so before, a
// rollout that no user reached went 5% → 100% → completed on time alone
// with its guardrail never judged. Now the 5% step waits, saying for what,
// until the guardrail has minSample users in each variant; then it goes on.
func TestGuardrailWithoutDataHolds(t *testing.T) {
	w := newWorld(t, 6)
	ctx := context.Background()
	plan := untoleratedPlan()
	if _, err := w.api.StartRollout(ctx, env, plan, ""); err != nil {
		t.Fatal(err)
	}
	for range 12 { // two days without a user
		w.clock.Add(4 * time.Hour)
		w.tick()
	}
	st := w.status()
	if st.State != rollout.Running || st.Percent != 5 || !strings.Contains(st.Waiting, "guardrail error-rate to have 100 users in each variant (it has 0 in classic and 0 in one-page)") {
		t.Fatalf("two days without users: %s at %v%%, waiting %q, history %v; want held at 5%% waiting for the guardrail's users", st.State, st.Percent, st.Waiting, kinds(st.History))
	}
	healthy := map[string]float64{"classic": 0.10, "one-page": 0.10}
	st = w.run(24*time.Hour, 1000, healthy, func(st *rollout.Status) bool { return st.Percent == 100 })
	if st.Percent != 100 || st.Guardrails[0].VariantUsers < 100 {
		t.Errorf("with traffic: %s at %v%%, guardrail %+v, waiting %q; want 100%% after 100 users of each", st.State, st.Percent, st.Guardrails[0], st.Waiting)
	}
}

// TestHeldStepIsShownAndAnnouncedOnce: a step past its time that a
// guardrail without enough users holds was visible only as one more
// "waiting" clause, and nothing was recorded or announced however long it
// held. Now the status (over the API) says it is held, since when, and each
// guardrail's users against the minSample; the history, the audit trail
// and the notifier get one "hold" entry for the step, however many ticks
// it holds; and it does not advance by itself.
func TestHeldStepIsShownAndAnnouncedOnce(t *testing.T) {
	w := newWorld(t, 7)
	ctx := context.Background()
	plan := untoleratedPlan()
	started, err := w.api.StartRollout(ctx, env, plan, "")
	if err != nil {
		t.Fatal(err)
	}
	w.clock.Add(30 * time.Minute)
	w.tick()
	if st := w.status(); st.Held != nil {
		t.Fatalf("within the step's time: held %+v, want none", st.Held)
	}
	for range 12 {
		w.clock.Add(4 * time.Hour)
		w.tick()
	}
	st := w.status()
	want := []rollout.HeldGuardrail{{Metric: "error-rate", BaselineUsers: 0, VariantUsers: 0, Needs: 100}}
	if st.State != rollout.Running || st.Percent != 5 || st.Held == nil || !reflect.DeepEqual(st.Held.Guardrails, want) ||
		!st.Held.Since.Equal(started.StepStartedAt.Add(time.Hour)) || !strings.Contains(st.Held.Reason, "error-rate has 0 in classic and 0 in one-page") {
		t.Fatalf("two days without users: %s at %v%%, held %+v; want held at 5%% since the step's hour ran out, naming error-rate's 0 and 0 of 100", st.State, st.Percent, st.Held)
	}
	var holds []rollout.Event
	for _, ev := range st.History {
		if ev.Kind == rollout.KindHold {
			holds = append(holds, ev)
		}
	}
	if len(holds) != 1 || holds[0].Reason != st.Held.Reason || holds[0].Actor != rollout.EngineActor {
		t.Errorf("history %v: want one hold entry by the engine with the hold's reason", st.History)
	}
	var notes []string
	for _, n := range w.notifications() {
		if n.Event.Kind == rollout.KindHold {
			notes = append(notes, n.Text)
		}
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "held") || !strings.Contains(notes[0], "error-rate") {
		t.Errorf("hold notifications %q: want one naming the guardrail", notes)
	}
	audit, err := w.api.Audit(ctx, valueloop.AuditFilter{Environment: env})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, a := range audit {
		if a.Action == "rollout.hold" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d rollout.hold audit entries, want 1", n)
	}
	healthy := map[string]float64{"classic": 0.10, "one-page": 0.10}
	st = w.run(24*time.Hour, 1000, healthy, func(st *rollout.Status) bool { return st.Percent == 100 })
	if st.Percent != 100 || st.Held != nil {
		t.Errorf("with traffic: %s at %v%%, held %+v; want 100%% and no hold", st.State, st.Percent, st.Held)
	}
}

// TestHandEditedPausedRollsBack: a rollout paused because someone changed
// its split by hand is still guarded, as docs/rollouts.md says of any
// paused rollout: the variant at the hand-set 50% raises errors from 20% to
// 24%, and the breach rolls it back (onBreach rollback) to 0%. Before, the
// engine returned early for a paused rollout whose split differed, so it
// never looked at the guardrails and stayed paused at 50%.
func TestHandEditedPausedRollsBack(t *testing.T) {
	w := newWorld(t, 5)
	ctx := context.Background()
	plan := rollout.Plan{
		Flag: "checkout", Variant: "one-page", Baseline: "classic",
		Steps:      []rollout.Step{{Percent: 5, MinDuration: hours(24)}, {Percent: 100}},
		Guardrails: errorGuardrail(),
	}
	if _, err := w.api.StartRollout(ctx, env, plan, ""); err != nil {
		t.Fatal(err)
	}
	w.halfByHand()
	w.tick()
	if st := w.status(); st.State != rollout.Paused || !strings.Contains(st.Reason, "changed outside the rollout") {
		t.Fatalf("after a manual edit: %s, %q; want paused naming the edit", st.State, st.Reason)
	}
	worse := map[string]float64{"classic": 0.20, "one-page": 0.24}
	st := w.run(12*time.Hour, 3000, worse, func(st *rollout.Status) bool { return !st.State.Active() })
	if st.State != rollout.RolledBack || !strings.Contains(st.Reason, "guardrail error-rate rose") || w.split() != 0 {
		t.Fatalf("12 hours of a 20%% rise at the hand-set 50%%: %s, %q, split %v%%; want rolled back to 0%%", st.State, st.Reason, w.split())
	}
}

// TestManualActionsAndDrift drives pause, resume, advance and rollback by
// hand, and checks that the engine pauses rather than fight someone who
// edits the split, and finishes its own flag write after a crash.
func TestManualActionsAndDrift(t *testing.T) {
	w := newWorld(t, 4)
	ctx := context.Background()
	plan := rollout.Plan{
		Flag: "checkout", Variant: "one-page", Baseline: "classic",
		Steps: []rollout.Step{{Percent: 10, MinDuration: hours(24)}, {Percent: 20, MinDuration: hours(24)}, {Percent: 40, MinDuration: hours(24)}, {Percent: 100}},
	}
	if _, err := w.api.StartRollout(ctx, env, plan, ""); err != nil {
		t.Fatal(err)
	}
	act := func(k rollout.Kind, wantState rollout.State, wantPercent float64) {
		t.Helper()
		st, err := w.api.RolloutAction(ctx, env, "checkout", k, "")
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		if st.State != wantState || st.Percent != wantPercent || st.LivePercent == nil || *st.LivePercent != wantPercent {
			t.Fatalf("after %s: %s at %v%% (flag %v), want %s at %v%%", k, st.State, st.Percent, st.LivePercent, wantState, wantPercent)
		}
	}
	act(rollout.KindPause, rollout.Paused, 10)
	if _, err := w.api.RolloutAction(ctx, env, "checkout", rollout.KindPause, ""); valueloop.ErrorCode(err) != valueloop.ECONFLICT {
		t.Errorf("pausing twice: %v, want a conflict", err)
	}
	act(rollout.KindAdvance, rollout.Paused, 20)
	act(rollout.KindResume, rollout.Running, 20)

	// Someone edits the split by hand: the engine pauses and says why.
	w.halfByHand()
	w.tick()
	st := w.status()
	if st.State != rollout.Paused || !strings.Contains(st.Reason, "changed outside the rollout") || !strings.Contains(st.Reason, "50% one-page") {
		t.Fatalf("after a manual edit: %s, %q; want paused naming the edit", st.State, st.Reason)
	}
	w.tick() // and leaves it alone while paused
	if got := w.split(); math.Abs(got-50) > 2 {
		t.Errorf("the engine changed the edited split: %.1f%%", got)
	}
	act(rollout.KindResume, rollout.Running, 20) // takes the split back

	// A crash after the state moved on but before the flag was written:
	// the next tick writes the flag.
	rs, _ := w.engine.List(ctx, rollout.Filter{Environment: env, Flag: "checkout", Limit: 1})
	r := rs[0]
	next, ev, err := r.Apply(rollout.KindAdvance, w.clock.Now(), 0, rollout.EngineActor, "crash test", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.db.UpdateRollout(ctx, &next, &ev); err != nil {
		t.Fatal(err)
	}
	w.tick()
	if st := w.status(); st.State != rollout.Running || st.Percent != 40 || st.LivePercent == nil || *st.LivePercent != 40 {
		t.Errorf("after recovering the write: %s at %v%%, flag at %v", st.State, st.Percent, st.LivePercent)
	}
	act(rollout.KindRollback, rollout.RolledBack, 0)
	if _, err := w.api.RolloutAction(ctx, env, "checkout", rollout.KindResume, ""); valueloop.ErrorCode(err) != valueloop.ECONFLICT || !strings.Contains(err.Error(), "rolled back") {
		t.Errorf("resuming a rolled-back rollout: %v, want a conflict", err)
	}
	// Every transition was announced.
	var got []string
	for _, n := range w.notifications() {
		got = append(got, string(n.Event.Kind))
	}
	// (The advance written behind the engine's back is not among them.)
	if want := "start pause advance resume pause resume rollback"; strings.Join(got, " ") != want {
		t.Errorf("notifications %q, want %q", strings.Join(got, " "), want)
	}
}

// TestBadPlansChangeNothing: each bad plan is refused with an error naming
// the field, and neither the flag, the rollouts nor the audit trail change;
// a second rollout of the same flag is a conflict.
func TestBadPlansChangeNothing(t *testing.T) {
	w := newWorld(t, 5)
	ctx := context.Background()
	good := func() rollout.Plan {
		return rollout.Plan{Flag: "checkout", Variant: "one-page", Baseline: "classic",
			Steps: []rollout.Step{{Percent: 5, MinDuration: hours(1)}, {Percent: 100}}, Guardrails: errorGuardrail()}
	}
	flagBefore, _ := w.api.ExportFlagd(ctx, env)
	auditBefore, _ := w.api.Audit(ctx, valueloop.AuditFilter{Environment: env})
	cases := []struct {
		name  string
		edit  func(p *rollout.Plan)
		code  string
		field string
	}{
		{"non-increasing steps", func(p *rollout.Plan) { p.Steps[1].Percent = 5 }, valueloop.EINVALID, "/steps/1/percent"},
		{"percent over 100", func(p *rollout.Plan) { p.Steps[1].Percent = 150 }, valueloop.EINVALID, "/steps/1/percent"},
		{"negative percent", func(p *rollout.Plan) { p.Steps[0].Percent = -1 }, valueloop.EINVALID, "/steps/0/percent"},
		{"unknown metric", func(p *rollout.Plan) { p.Guardrails[0].Metric = "latency-p99" }, valueloop.EINVALID, "/guardrails/0/metric"},
		{"unknown variant", func(p *rollout.Plan) { p.Variant = "two-page" }, valueloop.EINVALID, "/variant"},
		{"flag without the baseline", func(p *rollout.Plan) { p.Baseline = "legacy" }, valueloop.EINVALID, "/baseline"},
		{"unknown flag", func(p *rollout.Plan) { p.Flag = "nope" }, valueloop.EINVALID, "/flag"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := good()
			c.edit(&p)
			_, err := w.api.StartRollout(ctx, env, p, "")
			var ve *valueloop.ValidationError
			if valueloop.ErrorCode(err) != c.code || !errors.As(err, &ve) || ve.Problems[0].Path != c.field {
				t.Fatalf("StartRollout = %v, want %s naming %s", err, c.code, c.field)
			}
		})
	}
	if rs, err := w.api.Rollouts(ctx, rollout.Filter{Environment: env}); err != nil || len(rs) != 0 {
		t.Errorf("rollouts after bad plans: %+v, %v; want none", rs, err)
	}
	flagAfter, _ := w.api.ExportFlagd(ctx, env)
	auditAfter, _ := w.api.Audit(ctx, valueloop.AuditFilter{Environment: env})
	if string(flagAfter) != string(flagBefore) || len(auditAfter) != len(auditBefore) {
		t.Errorf("bad plans changed something: flag changed %v, audit %d → %d entries", string(flagAfter) != string(flagBefore), len(auditBefore), len(auditAfter))
	}

	if _, err := w.api.StartRollout(ctx, env, good(), ""); err != nil {
		t.Fatal(err)
	}
	_, err := w.api.StartRollout(ctx, env, good(), "")
	if valueloop.ErrorCode(err) != valueloop.ECONFLICT || !strings.Contains(err.Error(), "already has an active rollout") {
		t.Errorf("second start: %v, want a conflict", err)
	}
	if rs, _ := w.api.Rollouts(ctx, rollout.Filter{Environment: env, Flag: "checkout", Active: true}); len(rs) != 1 {
		t.Errorf("active rollouts of checkout: %d, want 1", len(rs))
	}
	// A paused rollout is still active: the conflict must not send the
	// user to pause it, which they may just have done.
	if _, err := w.api.RolloutAction(ctx, env, "checkout", rollout.KindPause, ""); err != nil {
		t.Fatal(err)
	}
	_, err = w.api.StartRollout(ctx, env, good(), "")
	if valueloop.ErrorCode(err) != valueloop.ECONFLICT || strings.Contains(err.Error(), "pause,") || !strings.Contains(err.Error(), "roll it back") {
		t.Errorf("start beside a paused rollout: %v, want a conflict that says to roll it back or let it finish", err)
	}
}

// TestDefaultStepMinimumDetectsTheTolerance: without MinUsers, a step lasts
// until the released variant has the users that detect a harm of the
// tolerated size with the plan's power; the status shows the number, and
// says "no harm detected" rather than "ok" while the interval contains the
// tolerance.
func TestDefaultStepMinimumDetectsTheTolerance(t *testing.T) {
	w := newWorld(t, 2)
	ctx := context.Background()
	plan := rollout.Plan{
		Flag: "checkout", Variant: "one-page", Baseline: "classic",
		Steps:      []rollout.Step{{Percent: 20, MinDuration: hours(1)}, {Percent: 100}},
		Guardrails: []rollout.Guardrail{{Metric: "error-rate", Tolerance: 0.3}},
	}
	if _, err := w.api.StartRollout(ctx, env, plan, "sized by the guardrail"); err != nil {
		t.Fatal(err)
	}
	healthy := map[string]float64{"classic": 0.10, "one-page": 0.10}
	st := w.run(20*time.Minute, 1000, healthy, nil)
	if g := st.Guardrails[0]; g.Status != rollout.GuardrailNoHarmDetected || g.VariantUsers < 100 {
		t.Errorf("after 20 minutes: %s with %d users of one-page, interval %v; want no harm detected", g.Status, g.VariantUsers, rollout.IntervalString(g.Interval))
	}
	st = w.run(50*time.Minute, 1000, healthy, nil)
	if st.Step != 0 {
		t.Fatalf("advanced to step %d after an hour with %d users of one-page: %v", st.Step+1, st.Users["one-page"], kinds(st.History))
	}
	g := st.Guardrails[0]
	// σ of the relative change of a 10% rate is about √(0.9/0.1) = 3 per
	// user; at 20% the variant needs roughly ((m + 0.84)·3/0.3)²/0.8 users
	// with m the sequence's multiplier (about 3 here): 1,000–3,500.
	// Worked out independently: a user's error rate p (a user makes several
	// requests, so p is above the 10% per request) gives the relative
	// change a per-user σ = √((1 − p)/p); then n_t = ((m + z₀.₈)·σ/0.3)²/(1 − q)
	// at q = 0.2, m the sequence's multiplier at n_t/q users, by fixed point.
	// With p from the two arms' rates, within 10% (their difference is noise).
	p := (g.Baseline + g.Value) / 2
	sigma := math.Sqrt((1 - p) / p)
	want := 1000.0
	for range 50 {
		m := stats.SequentialMultiplier(st.Plan.Alpha, st.Plan.SequentialTuning, want/0.2)
		want = math.Pow((m+0.8416212335729143)*sigma/0.3, 2) / 0.8
	}
	if d := math.Abs(float64(g.NeededUsers)/want - 1); d > 0.10 || st.StepMinUsers != g.NeededUsers || !strings.Contains(st.StepMinUsersReason, "30% harm on error-rate with 80% power") {
		t.Errorf("needed %d, step minimum %d (%s); want the guardrail's %.0f within 10%%", g.NeededUsers, st.StepMinUsers, st.StepMinUsersReason, want)
	}
	t.Logf("needed users %d, worked out %.0f", g.NeededUsers, want)
	if !strings.Contains(st.Waiting, "more users of one-page") {
		t.Errorf("waiting %q; want waiting for users", st.Waiting)
	}
	st = w.run(12*time.Hour, 1000, healthy, func(st *rollout.Status) bool { return st.Step > 0 || !st.State.Active() })
	if st.Step != 1 {
		t.Fatalf("still at step %d after 12h: %s", st.Step+1, st.Waiting)
	}
	if adv := st.History[len(st.History)-1]; adv.Kind != rollout.KindAdvance || len(adv.Guardrails) != 1 || adv.Guardrails[0].VariantUsers < g.NeededUsers*9/10 {
		t.Errorf("advance %+v, want it after about %d users of one-page", adv, g.NeededUsers)
	}
}
