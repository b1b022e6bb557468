package gitlab

import (
	"testing"

	"github.com/valueloop/valueloop/dora"
	"github.com/valueloop/valueloop/forge/forgetest"
)

// referenceDir holds real public GitLab payloads, each with its source in
// SOURCES.md beside it.
const referenceDir = "testdata/reference"

func TestReferencePayloads(t *testing.T) {
	cfg := Config{Production: map[string]bool{"staging": true}, ReleaseEnvironment: "production", IncidentLabel: "critical"}
	checks := map[string]func(t *testing.T, ev dora.Event){
		"push.json": func(t *testing.T, ev dora.Event) {
			// The documentation's example: two of four commits listed, ISO times with offsets.
			if len(ev.Changes) != 2 || ev.Changes[1].SHA != "da1560886d4f094c3e6c9ef40349f7d38b5d27d7" ||
				!ev.Changes[1].MergedAt.Equal(ev.Changes[1].AuthoredAt) || ev.Changes[0].AuthoredAt.Format("2006-01-02T15:04:05Z") != "2011-12-12T12:27:31Z" {
				t.Errorf("got %+v", ev.Changes)
			}
		},
		"push.captured.json": func(t *testing.T, ev dora.Event) { wantN(t, len(ev.Changes), 1) },
		"merge_request.open.json": func(t *testing.T, ev dora.Event) {
			if ev.Ignored == "" {
				t.Errorf("an opened merge request is not a change: %+v", ev)
			}
		},
		"merge_request.merge.json": func(t *testing.T, ev dora.Event) {
			// Captured from gitlab.com, legacy "UTC" times.
			if len(ev.Changes) != 1 || ev.Changes[0].SHA != "78a76ee6b4992a6baf64c59fc4c44c7323d60438" ||
				ev.Changes[0].MergedAt.Format("2006-01-02 15:04:05") != "2017-12-10 17:08:07" {
				t.Errorf("got %+v", ev.Changes)
			}
		},
		"deployment.success.json": func(t *testing.T, ev dora.Event) {
			// status_changed_at "2021-04-28 21:50:00 +0200".
			if len(ev.Deployments) != 1 || ev.Deployments[0].Status != dora.StatusSuccess || !ev.Deployments[0].Production ||
				ev.Deployments[0].At.Format("2006-01-02T15:04:05Z") != "2021-04-28T19:50:00Z" ||
				ev.Deployments[0].SHA != "279484c09fbe69ededfced8c1bb6e6d24616b468" || ev.Deployments[0].ID != "gitlab:job:796" {
				t.Errorf("got %+v", ev.Deployments)
			}
		},
		"deployment.failed.DERIVED.json": func(t *testing.T, ev dora.Event) {
			if len(ev.Deployments) != 1 || ev.Deployments[0].Status != dora.StatusFailure {
				t.Errorf("got %+v", ev.Deployments)
			}
		},
		// The production build of both pipelines was skipped: nothing deployed.
		"pipeline.success.json":  ignoredCheck,
		"pipeline.captured.json": ignoredCheck,
		"job.production.json": func(t *testing.T, ev dora.Event) {
			if len(ev.Deployments) != 1 || !ev.Deployments[0].Production || ev.Deployments[0].Repo != "jsmithy2/release-tools-fake" {
				t.Errorf("got %+v", ev.Deployments)
			}
		},
		"issue.open.json": ignoredCheck, // labelled API only
		"issue.close.json": func(t *testing.T, ev dora.Event) {
			if len(ev.Incidents) != 1 || ev.Incidents[0].ResolvedAt == nil ||
				ev.Incidents[0].ResolvedAt.Format("2006-01-02 15:04:05") != "2017-12-10 16:41:28" {
				t.Errorf("got %+v", ev.Incidents)
			}
		},
		"incident.close.DERIVED.json": func(t *testing.T, ev dora.Event) {
			// A work item of type Incident, with a root cause in its description.
			if len(ev.Incidents) != 1 || ev.Incidents[0].ResolvedAt == nil || ev.Incidents[0].CauseSHA != "da1560886d4f094c3e6c9ef40349f7d38b5d27d7" {
				t.Errorf("got %+v", ev.Incidents)
			}
		},
		"note.issue.json": ignoredCheck,
		"release.json": func(t *testing.T, ev dora.Event) {
			if len(ev.Deployments) != 1 || ev.Deployments[0].Version != "1.0.0" || ev.Deployments[0].SHA != "2626dbdb936782b5c54816b1c6d45b1279303c6d" {
				t.Errorf("got %+v", ev.Deployments)
			}
		},
	}
	forgetest.Replay(t, referenceDir, func(name string, body []byte) (dora.Event, error) {
		return Parse("", "ref", body, cfg) // by object_kind: the header is not part of the files
	}, checks)
}

func ignoredCheck(t *testing.T, ev dora.Event) {
	t.Helper()
	if ev.Ignored == "" {
		t.Errorf("got %+v, want it ignored", ev)
	}
}

func wantN(t *testing.T, got, want int) {
	t.Helper()
	if got != want {
		t.Errorf("got %d records, want %d", got, want)
	}
}
