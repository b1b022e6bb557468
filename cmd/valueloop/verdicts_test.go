package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/client"
	"github.com/valueloop/valueloop/experiment"
)

// TestVerdictTimeEndToEnd: a real server, a rollout started, events sent
// through POST /api/v1/events, a hypothesis set, and nobody looking at the
// results. The server is restarted on the same data; its periodic check
// (which runs at start) records the validated verdict, and the loop
// endpoint reports time to validated learning = verdict time − rollout
// start. Looking at the results afterwards adds no second record, and the
// CLI shows when the hypothesis was first validated.
func TestVerdictTimeEndToEnd(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	s := MustServe(t, data)
	def := filepath.Join(t.TempDir(), "flag.json")
	os.WriteFile(def, []byte(`{"state":"ENABLED","variants":{"control":"a","treatment":"b"},"defaultVariant":"control"}`), 0o600)
	s.mustRun(t,
		[]string{"flags", "set", "checkout-test", "--env", "production", "-f", def},
		[]string{"metrics", "create", "--env", "production", "--key", "purchased", "--kind", "conversion", "--event", "purchase"},
		[]string{"rollout", "start", "checkout-test", "--env", "production", "--variant", "treatment", "--baseline", "control", "--steps", "50%:1h,100%"},
	)
	token := s.mustToken(t, "--env", "production", "--scope", "evaluate")

	// 2,000 users a variant; treatment buys twice as often.
	events := traffic{flag: "checkout-test", users: 4000, buy: [2]float64{0.1, 0.2}, seed: [2]uint64{5, 6}}.events()
	s.mustSendEvents(t, token, events)
	if code, _, stderr := s.cli(t, s.Admin, "experiment", "hypothesis", "set", "checkout-test", "--env", "production",
		"--primary", "purchased", "--min-effect", "10%"); code != 0 {
		t.Fatalf("hypothesis set: exit %d: %s", code, stderr)
	}
	s.Stop(t)

	// Restarted, the server checks every flag with a hypothesis at once.
	s = MustServe(t, data)
	ctx := context.Background()
	c := client.New(s.URL, s.Admin)
	var loop *struct {
		Verdict                 string             `json:"verdict"`
		VerdictAt               time.Time          `json:"verdictAt"`
		RolloutStartedAt        time.Time          `json:"rolloutStartedAt"`
		TimeToValidatedLearning *valueloop.Seconds `json:"timeToValidatedLearning"`
		Missing                 []string           `json:"missing"`
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		l, err := c.Loop(ctx, "production", "checkout-test")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(l)
		json.Unmarshal(b, &loop)
		if loop.Verdict != "" || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if loop.Verdict != string(experiment.Validated) || loop.VerdictAt.IsZero() || loop.RolloutStartedAt.IsZero() {
		if res, err := c.Results(ctx, "production", "checkout-test", nil); err == nil {
			t.Logf("results verdict: %+v", res.Verdict)
		}
		t.Logf("server log:\n%s", s.Stderr.String())
		t.Fatalf("loop: verdict %q at %v, rollout started %v; want validated after the rollout start (missing: %q)", loop.Verdict, loop.VerdictAt, loop.RolloutStartedAt, loop.Missing)
	}
	if loop.VerdictAt.Before(loop.RolloutStartedAt) {
		t.Errorf("verdict at %v before the rollout start %v", loop.VerdictAt, loop.RolloutStartedAt)
	}
	want := loop.VerdictAt.Sub(loop.RolloutStartedAt)
	if loop.TimeToValidatedLearning == nil || time.Duration(*loop.TimeToValidatedLearning) != want {
		t.Errorf("time to validated learning = %v, want verdict time − rollout start = %v", loop.TimeToValidatedLearning, want)
	}
	for _, m := range loop.Missing {
		if strings.HasPrefix(m, "verdict") {
			t.Errorf("loop still misses the verdict: %q", m)
		}
	}

	checkVerdictRecordedOnce(t, s, c, loop.VerdictAt)
}

// checkVerdictRecordedOnce checks that the verdict reached at verdictAt
// is recorded once: looking at the results records nothing new, overridden
// settings never record, and the table, the loop and the audit trail show it.
func checkVerdictRecordedOnce(t *testing.T, s *testServer, c *client.Client, verdictAt time.Time) {
	t.Helper()
	ctx := context.Background()
	// Looking at the results records nothing new; overridden settings
	// never record.
	for _, q := range []map[string][]string{nil, {"alpha": {"0.2"}}, nil} {
		res, err := c.Results(ctx, "production", "checkout-test", q)
		if err != nil {
			t.Fatal(err)
		}
		if res.Verdict == nil || res.Verdict.Decision != experiment.Validated {
			t.Fatalf("results %v: verdict %+v, want validated", q, res.Verdict)
		}
		if len(res.VerdictHistory) != 1 || !res.VerdictHistory[0].At.Equal(verdictAt) || res.VerdictHistory[0].Figures.Users != 4000 {
			t.Errorf("results %v: history %+v, want one validated record at %v with 4000 users", q, res.VerdictHistory, verdictAt)
		}
	}
	code, table, stderr := s.cli(t, s.Admin, "experiment", "results", "checkout-test", "--env", "production")
	if wantLine := "History: first validated " + verdictAt.UTC().Format("2006-01-02 15:04:05 UTC"); code != 0 || !strings.Contains(table, wantLine) {
		t.Errorf("results table (exit %d, %s) lacks %q:\n%s", code, stderr, wantLine, table)
	}
	t.Logf("\n%s", table)
	code, loopTable, stderr := s.cli(t, s.Admin, "delivery", "loop", "checkout-test", "--env", "production")
	if code != 0 || !strings.Contains(loopTable, "time to validated learning (rollout start → verdict)") || strings.Contains(loopTable, "verdict: ") {
		t.Errorf("delivery loop (exit %d, %s): want the figure and no missing verdict:\n%s", code, stderr, loopTable)
	}
	t.Logf("\n%s", loopTable)
	entries, err := c.Audit(ctx, valueloop.AuditFilter{Environment: "production", Target: "checkout-test"})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if e.Action == "experiment.verdict" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("audit: %d experiment.verdict entries, want 1", n)
	}
}
