package github

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/valueloop/valueloop/dora"
	"github.com/valueloop/valueloop/forge/forgetest"
)

// referenceDir holds real public GitHub payloads, each with its source in
// SOURCES.md beside it.
const referenceDir = "testdata/reference"

func TestReferencePayloads(t *testing.T) {
	cfg := Config{Production: map[string]bool{"production": true}, ReleaseEnvironment: "production", IncidentLabel: "bug"}
	type check = func(t *testing.T, ev dora.Event)
	ignored := func(t *testing.T, ev dora.Event) {
		if ev.Ignored == "" {
			t.Errorf("got %+v, want it ignored", ev)
		}
	}
	deployment := func(status string, production bool) check {
		return func(t *testing.T, ev dora.Event) {
			if len(ev.Deployments) != 1 || ev.Deployments[0].Status != status || ev.Deployments[0].Production != production {
				t.Errorf("got %+v, want one %s deployment, production %v", ev.Deployments, status, production)
			}
		}
	}
	checks := map[string]check{
		"push.json":                         ignored, // a deleted tag
		"pull_request.closed.unmerged.json": ignored,
		"pull_request.closed.merged.json": func(t *testing.T, ev dora.Event) {
			if len(ev.Changes) != 1 || ev.Changes[0].SHA != "18936fb4b760b985e35fae9aa953a349703a4c53" || ev.Changes[0].PR != "17" ||
				ev.Changes[0].MergedAt.Format("2006-01-02T15:04:05Z") != "2022-10-12T08:33:55Z" {
				t.Errorf("got %+v, want the merge of PR 17", ev.Changes)
			}
		},
		"pull_request.closed.merged.2.json":      func(t *testing.T, ev dora.Event) { wantChanges(t, ev, 1) },
		"deployment.created.json":                deployment(dora.StatusPending, true),
		"deployment_status.success.json":         deployment(dora.StatusSuccess, true),
		"deployment_status.failure.DERIVED.json": deployment(dora.StatusFailure, true),
		// github-pages, with production_environment: false.
		"deployment_status.in_progress.json": deployment(dora.StatusPending, false),
		"issues.opened.json":                 func(t *testing.T, ev dora.Event) { wantIncident(t, ev, false) },
		"issues.labeled.json":                func(t *testing.T, ev dora.Event) { wantIncident(t, ev, false) },
		// Reopened: closed_at is still set, yet the incident is open.
		"issues.reopened.json":                           func(t *testing.T, ev dora.Event) { wantIncident(t, ev, false) },
		"issues.closed.labeled.json":                     ignored, // labelled triage and team, not bug
		"release.published.json":                         deployment(dora.StatusSuccess, true),
		"workflow_run.completed.json":                    ignored,
		"workflow_run.completed.with-pull-requests.json": ignored,
		"workflow_job.completed.failure.json":            ignored,
		"check_suite.completed.json":                     ignored,
	}
	forgetest.Replay(t, referenceDir, func(name string, body []byte) (dora.Event, error) {
		return Parse(eventType(name), "ref", body, cfg)
	}, checks)
	// The closed issue is an incident under its own label, resolved.
	body, err := os.ReadFile(filepath.Join(referenceDir, "issues.closed.labeled.json"))
	if err == nil {
		ev, err := Parse("issues", "ref", body, Config{IncidentLabel: "triage"})
		if err != nil {
			t.Fatal(err)
		}
		wantIncident(t, ev, true)
		if r := ev.Incidents[0].ResolvedAt; r == nil || r.Format("15:04:05") != "13:54:56" {
			t.Errorf("resolved at %v, want 13:54:56", r)
		}
	}
}

func wantChanges(t *testing.T, ev dora.Event, n int) {
	t.Helper()
	if len(ev.Changes) != n {
		t.Errorf("got %d changes, want %d: %+v", len(ev.Changes), n, ev)
	}
}

func wantIncident(t *testing.T, ev dora.Event, resolved bool) {
	t.Helper()
	if len(ev.Incidents) != 1 || (ev.Incidents[0].ResolvedAt != nil) != resolved {
		t.Errorf("got %+v, want one incident, resolved %v", ev.Incidents, resolved)
	}
}
