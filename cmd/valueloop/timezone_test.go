package main

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/client"
	"github.com/valueloop/valueloop/rollout"
)

// TestTimesSayTheirZone: rollout status, rollout list and audit wrote times
// in the machine's zone without naming it, beside dora, deploy list, feature
// show and next, which write UTC and say so, and the API's JSON in UTC.
// On a machine in New York a rollout started at 12:00 UTC read "started
// 2026-03-01 07:00". They now write UTC, labelled.
func TestTimesSayTheirZone(t *testing.T) {
	local := time.Local
	time.Local = time.FixedZone("EST", -5*3600)
	t.Cleanup(func() { time.Local = local })

	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	r := rollout.Rollout{ID: 1, Environment: "production", State: rollout.Running, Percent: 5, StartedAt: at, StartedBy: "ann",
		Plan: rollout.Plan{Flag: "f", Variant: "on", Baseline: "off", Steps: []rollout.Step{{Percent: 5}, {Percent: 100}}}}
	var b strings.Builder
	writeRolloutStatus(&b, &rollout.Status{Rollout: r, History: []rollout.Event{{At: at, Kind: "start", Actor: "ann", Percent: 5}}})
	for _, want := range []string{"started 2026-03-01 12:00 UTC by ann", "HISTORY (UTC)\n  2026-03-01 12:00  start"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("rollout status lacks %q:\n%s", want, b.String())
		}
	}
	b.Reset()
	if err := writeRolloutList(&b, []rollout.Rollout{r}); err != nil {
		t.Fatal(err)
	}
	if out := b.String(); !strings.Contains(out, "STARTED (UTC)") || !strings.Contains(out, "2026-03-01 12:00") {
		t.Errorf("rollout list, want STARTED (UTC) and 12:00:\n%s", out)
	}
	b.Reset()
	writeAudit(&b, []client.AuditEntry{{AuditEntry: valueloop.AuditEntry{ID: 7, At: at, Actor: "ann", Action: "flag.update", Environment: "production", Target: "f"}}})
	if want := "#7 2026-03-01 12:00:00 UTC ann flag.update production/f"; !strings.Contains(b.String(), want) {
		t.Errorf("audit: got %q, want %q", b.String(), want)
	}
}

// TestListTimesOneFormat: token list and delivery source list printed RFC
// 3339 times (2026-03-01T12:00:00Z) beside every other list's labelled UTC
// "2026-03-01 12:00:00"; they now write the same, labelled.
func TestListTimesOneFormat(t *testing.T) {
	s := MustServe(t, "")
	if code, _, errOut := s.cli(t, s.Admin, "delivery", "source", "add", "acme", "--kind", "github"); code != 0 {
		t.Fatalf("source add: %d %s", code, errOut)
	}
	code, out, errOut := s.cli(t, s.Admin, "token", "create", "--scope", "viewer", "--name", "gone", "--output", "json")
	var created struct{ Token struct{ ID int64 } }
	if code != 0 || json.Unmarshal([]byte(out), &created) != nil || created.Token.ID == 0 {
		t.Fatalf("token create: %d %s %s", code, out, errOut)
	}
	if code, _, errOut := s.cli(t, s.Admin, "token", "revoke", strconv.FormatInt(created.Token.ID, 10)); code != 0 {
		t.Fatalf("token revoke: %d %s", code, errOut)
	}
	rfc3339 := regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d`)
	utc := regexp.MustCompile(`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d`)
	for _, tc := range []struct {
		args   []string
		header string
	}{
		{[]string{"token", "list"}, "CREATED (UTC)"},
		{[]string{"delivery", "source", "list"}, "UPDATED (UTC)"},
	} {
		code, out, errOut := s.cli(t, s.Admin, tc.args...)
		if code != 0 || !strings.Contains(out, tc.header) || rfc3339.MatchString(out) || !utc.MatchString(out) {
			t.Errorf("%v: exit %d %s, want %s and times as 2026-03-01 12:00:00:\n%s", tc.args, code, errOut, tc.header, out)
		}
	}
	if _, out, _ := s.cli(t, s.Admin, "token", "list"); !regexp.MustCompile(`revoked \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC`).MatchString(out) {
		t.Errorf("token list, want the revoked token's time in UTC, labelled:\n%s", out)
	}
}
