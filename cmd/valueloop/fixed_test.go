package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/client"
	"github.com/valueloop/valueloop/experiment"
	"github.com/valueloop/valueloop/value"
)

// TestFixedDecisionEndToEnd: a real server, a hypothesis under fixed
// inference, events sent through POST /api/v1/events. The look that
// reaches the planned sample stores the decision; after four times the
// users, the later ones without any effect, the API, the CLI and the
// dashboard still give that decision, say when and on how many users it
// was decided, and show the look's own re-test as descriptive only.
func TestFixedDecisionEndToEnd(t *testing.T) {
	s := MustServe(t, "")
	def := filepath.Join(t.TempDir(), "flag.json")
	os.WriteFile(def, []byte(`{"state":"ENABLED","variants":{"control":"a","treatment":"b"},"defaultVariant":"control"}`), 0o600)
	s.mustRun(t,
		[]string{"flags", "set", "fixed-test", "--env", "production", "-f", def},
		[]string{"metrics", "create", "--env", "production", "--key", "purchased", "--kind", "conversion", "--event", "purchase"},
		[]string{"experiment", "hypothesis", "set", "fixed-test", "--env", "production", "--primary", "purchased", "--min-effect", "30%", "--inference", "fixed"},
	)
	token := s.mustToken(t, "--env", "production", "--scope", "evaluate")
	c := client.New(s.URL, s.Admin)
	ctx := context.Background()

	s.mustSendEvents(t, token, fixedEvents("fixed-test", 0, 2000, 0.2, 0.24))
	at, err := c.Results(ctx, "production", "fixed-test", nil)
	if err != nil {
		t.Fatal(err)
	}
	if v := at.Verdict; at.Users != 2000 || v == nil || v.Decided == nil || v.Decided.Users != 2000 || v.Decision == experiment.KeepRunning {
		t.Fatalf("at the planned sample (%d users): verdict %+v; want one decided on 2000 users", at.Users, at.Verdict)
	}
	s.mustSendEvents(t, token, fixedEvents("fixed-test", 2000, 6000, 0.2, 0.2))
	later, err := c.Results(ctx, "production", "fixed-test", nil)
	if err != nil {
		t.Fatal(err)
	}
	v := later.Verdict
	if later.Users != 8000 || v.Decision != at.Verdict.Decision || v.Reason != at.Verdict.Reason || v.Decided == nil ||
		v.Decided.Users != 2000 || !v.Decided.At.Equal(at.Verdict.Decided.At) || v.Decided.Current == nil {
		t.Fatalf("later look on %d users: verdict %+v; want the decision on 2000 users, %s", later.Users, v, at.Verdict.Decision)
	}
	t.Logf("decided %s on 2000 users; the re-test on 8000 would say %s", v.Decision, v.Decided.Current.Decision)
	// The plan was fixed at the first look, the one that decided.
	if p := later.Plan; p == nil || p.FixedOn != 2000 || p.Planned() > 2000 || p.At.After(at.Verdict.Decided.At) {
		t.Errorf("plan %+v; want fixed on 2,000 users by %v, at most 2,000 planned", p, at.Verdict.Decided.At)
	}

	decided := fmt.Sprintf("Decided: %s on 2,000 users, at the planned sample", v.Decided.At.UTC().Format("2006-01-02 15:04:05 UTC"))
	code, table, stderr := s.cli(t, s.Admin, "experiment", "results", "fixed-test", "--env", "production")
	if code != 0 || !strings.Contains(table, "Verdict: "+strings.ToUpper(string(v.Decision))) || !strings.Contains(table, decided) ||
		!strings.Contains(table, "Now (descriptive, not a decision): "+strings.ReplaceAll(string(v.Decided.Current.Decision), "_", " ")) {
		t.Errorf("results table (exit %d, %s) lacks the decision, %q or the descriptive line:\n%s", code, stderr, decided, table)
	}
	if later.Plan != nil {
		plan := fmt.Sprintf("Plan: %s, fixed %s on 2,000 users", valueloop.Count(later.Plan.Planned(), "user"), later.Plan.At.UTC().Format("2006-01-02 15:04:05 UTC"))
		if !strings.Contains(table, plan) {
			t.Errorf("results table lacks %q", plan)
		}
	}
	t.Logf("\n%s", table)

	b := mustSignIn(t, s.URL, s.Admin)
	resp, page := b.get("/experiments/production/fixed-test")
	if resp.StatusCode != 200 {
		t.Fatalf("experiment page: %d", resp.StatusCode)
	}
	if got := elementByID(t, page, "ve-decided"); !strings.Contains(got, "on 2,000 users, at the planned sample") {
		t.Errorf("dashboard: decided line %q, want when and on 2,000 users", got)
	}
	if got := elementByID(t, page, "ve-current"); !strings.HasPrefix(got, "Descriptive only, not a decision") {
		t.Errorf("dashboard: current line %q, want it marked descriptive", got)
	}
	if got := elementByID(t, page, "ve-plan"); !strings.Contains(got, "on 2,000 users, the first look with a pilot large enough to compute it") {
		t.Errorf("dashboard: plan line %q, want the planned sample and when it was fixed", got)
	}
}

// fixedEvents are n users of flag from user from on, alternately in
// control and treatment, who buy with probability control and treatment.
func fixedEvents(flag string, from, n int, control, treatment float64) []map[string]any {
	return traffic{flag: flag, from: from, users: n, buy: [2]float64{control, treatment}, seed: [2]uint64{uint64(from), 8}, idPrefix: fmt.Sprintf("e%d-", from)}.events()
}

// TestValueNextFixedPlan: the value backlog's stop list reads an
// experiment under fixed inference as its results do, on its stored plan.
// The plan was fixed at the first look (400 users, half buying: about
// 3,000 users for +10%); the 1,000 users since buy at 1%, so the spread
// now would plan over ten times as many. On the plan, the remaining users
// take under two days at the pace so far, within the horizon
// five days away: nothing to stop. Read from an analysis without the plan,
// as next did, the experiment needed over 14,000 more users, ten days,
// and was listed to stop. Past the plan the decision is stored, and the
// spread (over 40,000 more users) lists nothing for its pace either; the
// decision, inconclusive, is listed to be made by hand.
func TestValueNextFixedPlan(t *testing.T) {
	s := MustServe(t, "")
	loopSetUp(t, s)
	horizon := time.Now().UTC().AddDate(0, 0, 5).Format("2006-01-02")
	objective := `{"key":"conversion","title":"More visitors buy","metric":"purchased","target":{"direction":"increase","value":0.1},"horizon":"` + horizon + `"}`
	if code, body := s.call(t, "PUT", "/api/v1/objectives/conversion", objective, nil); code != 200 {
		t.Fatalf("objective: %d %s", code, body)
	}
	if code, body := s.call(t, "POST", "/api/v1/features", loopFeature, nil); code != 201 {
		t.Fatalf("feature: %d %s", code, body)
	}
	s.mustRun(t,
		[]string{"rollout", "start", "guided-checkout", "--env", "production", "--variant", "treatment", "--baseline", "control", "--steps", "50%:1h,100%"},
		[]string{"experiment", "hypothesis", "set", "guided-checkout", "--env", "production", "--primary", "purchased", "--min-effect", "10%", "--inference", "fixed"},
	)
	token := s.mustToken(t, "--env", "production", "--scope", "evaluate")
	c := client.New(s.URL, s.Admin)
	ctx := context.Background()
	s.mustSendEvents(t, token, fixedEvents("guided-checkout", 0, 400, 0.5, 0.5))
	first, err := c.Results(ctx, "production", "guided-checkout", nil)
	if err != nil {
		t.Fatal(err)
	}
	if first.Plan == nil || first.Plan.FixedOn != 400 {
		t.Fatalf("first look: plan %+v, want one fixed on 400 users (verdict %+v)", first.Plan, first.Verdict)
	}
	planned := first.Plan.Planned()
	s.mustSendEvents(t, token, fixedEvents("guided-checkout", 400, 1000, 0.01, 0.01))
	res, err := c.Results(ctx, "production", "guided-checkout", nil)
	if err != nil {
		t.Fatal(err)
	}
	if v := res.Verdict; res.Users != 1400 || v.Decision != experiment.KeepRunning || v.RemainingUsers == nil || *v.RemainingUsers != planned-1400 {
		t.Fatalf("second look on %d users: %s, remaining %v; want keep_running with the plan's %d - 1,400", res.Users, v.Decision, v.RemainingUsers, planned)
	}
	s.show(t, "measuring")
	var next struct {
		Stop []struct{ Kind, Flag, Reason string }
	}
	if code, body := s.call(t, "GET", "/api/v1/value/next", "", &next); code != 200 || len(next.Stop) != 0 {
		t.Errorf("next: %d, stop list %+v; want nothing to stop: on its plan (%d users) the experiment ends within the horizon\n%.1500s", code, next.Stop, planned, body)
	}

	// Past the plan the decision is stored; the spread now would want
	// ten times the users again, and next still has nothing to stop.
	s.mustSendEvents(t, token, fixedEvents("guided-checkout", 1400, int(planned), 0.01, 0.01))
	if res, err = c.Results(ctx, "production", "guided-checkout", nil); err != nil || res.Verdict.Decided == nil {
		t.Fatalf("past the plan: %v, verdict %+v; want it decided", err, res.Verdict)
	}
	// Nothing for lack of pace; but decided inconclusive at its plan, the
	// experiment will not move its feature out of measuring: a decision
	// by hand is asked for (TestStopListInconclusive).
	if v := res.Verdict; v.Decision != experiment.Inconclusive {
		t.Fatalf("past the plan: %s, want inconclusive (no effect sent)", v.Decision)
	}
	code, body := s.call(t, "GET", "/api/v1/value/next", "", &next)
	if code != 200 || len(next.Stop) != 1 || next.Stop[0].Kind != value.StopExperiment || next.Stop[0].Flag != "guided-checkout" ||
		!strings.Contains(next.Stop[0].Reason, "is inconclusive after its planned sample") || strings.Contains(next.Stop[0].Reason, "more users") {
		t.Errorf("next after the decision: %d, stop list %+v; want the inconclusive experiment to decide by hand, nothing for its pace\n%.1500s", code, next.Stop, body)
	}
}

// TestWritePlan: the Plan: line gives the planned sample at the split now
// and, when it differs (a rollout's step since), the one when fixed; a
// decided test's plan (no current sizing) is the one fixed.
func TestWritePlan(t *testing.T) {
	at := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name    string
		current map[string]int64
		want    string
	}{
		{"the split then", map[string]int64{"t": 5219}, "Plan: 5,219 users, fixed 2026-12-07 10:00:00 UTC on 1,000 users ("},
		{"a ramp since", map[string]int64{"t": 2675}, "Plan: 2,675 users (5,219 when fixed), fixed 2026-12-07 10:00:00 UTC on 1,000 users ("},
		{"decided", nil, "Plan: 5,219 users, fixed 2026-12-07 10:00:00 UTC on 1,000 users ("},
	} {
		var b strings.Builder
		writePlan(&b, &experiment.FixedPlan{Users: map[string]int64{"t": 5219}, Current: c.current, FixedOn: 1000, At: at})
		if !strings.HasPrefix(b.String(), c.want) {
			t.Errorf("%s: %q, want it to start %q", c.name, b.String(), c.want)
		}
	}
}
