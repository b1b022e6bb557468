package main

import (
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
