package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/valueloop/valueloop/client"
	"github.com/valueloop/valueloop/experiment"
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

	s.mustSendEvents(t, token, fixedTraffic(0, 2000, 0.24))
	at, err := c.Results(ctx, "production", "fixed-test", nil)
	if err != nil {
		t.Fatal(err)
	}
	if v := at.Verdict; at.Users != 2000 || v == nil || v.Decided == nil || v.Decided.Users != 2000 || v.Decision == experiment.KeepRunning {
		t.Fatalf("at the planned sample (%d users): verdict %+v; want one decided on 2000 users", at.Users, at.Verdict)
	}
	s.mustSendEvents(t, token, fixedTraffic(2000, 6000, 0.2))
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

	decided := fmt.Sprintf("Decided: %s on 2,000 users, at the planned sample", v.Decided.At.UTC().Format("2006-01-02 15:04:05 UTC"))
	code, table, stderr := s.cli(t, s.Admin, "experiment", "results", "fixed-test", "--env", "production")
	if code != 0 || !strings.Contains(table, "Verdict: "+strings.ToUpper(string(v.Decision))) || !strings.Contains(table, decided) ||
		!strings.Contains(table, "Now (descriptive, not a decision): "+strings.ReplaceAll(string(v.Decided.Current.Decision), "_", " ")) {
		t.Errorf("results table (exit %d, %s) lacks the decision, %q or the descriptive line:\n%s", code, stderr, decided, table)
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
}

// fixedTraffic is n users from user from on, alternately in control and
// treatment; control buys with probability 0.2, treatment with treatment.
func fixedTraffic(from, n int, treatment float64) []map[string]any {
	return traffic{flag: "fixed-test", from: from, users: n, buy: [2]float64{0.2, treatment}, seed: [2]uint64{uint64(from), 8}, idPrefix: fmt.Sprintf("e%d-", from)}.events()
}
