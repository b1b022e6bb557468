package gitlab

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/dora"
	"github.com/valueloop/valueloop/forge/forgetest"
)

var testConfig = Config{
	Production:         map[string]bool{"eu-live": true, "app-store": true},
	ReleaseEnvironment: "app-store",
}

var ts, readFixture = forgetest.TS, forgetest.ReadFixture

// header is the X-Gitlab-Event GitLab sends with a fixture, named after its
// object_kind. Work items (incidents) come with "Issue Hook".
func header(name string) string {
	kind := strings.SplitN(filepath.Base(name), ".", 2)[0]
	return map[string]string{
		"push": "Push Hook", "tag_push": "Tag Push Hook", "merge_request": "Merge Request Hook",
		"deployment": "Deployment Hook", "pipeline": "Pipeline Hook", "job": "Job Hook", "build": "Job Hook",
		"issue": "Issue Hook", "work_item": "Issue Hook", "incident": "Issue Hook", "note": "Note Hook", "release": "Release Hook",
	}[kind]
}

func TestParseFixtures(t *testing.T) {
	const repo = "acme-shop/storefront"
	const sha = "a19be4c7d03f58e62b1d9a7c4e8f3b05d6c2a91f"
	incident := func(updated string) dora.Incident {
		return dora.Incident{ID: "gitlab:issue:130551", Service: "storefront-web", Repo: repo, Title: "Prices show NaN in Japan",
			OpenedAt: ts(t, "2025-05-12T14:20:00Z"), UpdatedAt: ts(t, updated)}
	}
	closed := incident("2025-05-12T16:40:00Z")
	closed.ResolvedAt = new(ts(t, "2025-05-12T16:39:58Z"))
	labeled := incident("2025-05-12T14:31:00Z") // "2025-05-12 14:31:00 UTC"
	labeled.Service, labeled.CauseSHA = "", "a19be4c7d03f"
	unlabeled := incident("2025-05-12T14:50:00Z")
	unlabeled.Service, unlabeled.Void = "", true
	production := func(status, at string) dora.Deployment {
		return dora.Deployment{ID: "gitlab:job:771203", Repo: repo, Environment: "production", Production: true,
			SHA: sha, Version: "main", Status: status, At: ts(t, at)}
	}
	tests := []struct {
		file string
		want dora.Event
	}{
		{"push.json", dora.Event{Changes: []dora.Change{
			// No push time in GitLab's payload: both landed by their newest
			// commit, 09:20:30-04:00.
			{Repo: repo, SHA: "7f3a9c1e5b2d4f6a8c0e1b3d5f7a9c2e4b6d8f01", Branch: "main",
				Paths:      []string{"app/stock/badge.tsx", "app/product/page.tsx"},
				AuthoredAt: ts(t, "2025-05-12T08:15:00Z"), MergedAt: ts(t, "2025-05-12T13:20:30Z")}, // 10:15+02:00
			{Repo: repo, SHA: sha, Branch: "main",
				Paths:      []string{"app/price/format.ts", "app/product/page.tsx", "app/price/legacy.ts"},
				AuthoredAt: ts(t, "2025-05-12T13:20:30Z"), MergedAt: ts(t, "2025-05-12T13:20:30Z")},
		}}},
		{"push.branch.json", dora.Event{Changes: []dora.Change{
			{Repo: repo, SHA: "c0ffee00d15ea5e5deadbeef0123456789abcdef", Branch: "feat/search-facets",
				Paths: []string{"app/search/facets.tsx"}, AuthoredAt: ts(t, "2025-05-08T12:00:00Z")},
		}}},
		{"push.deleted.json", dora.Event{Ignored: "push deleted refs/heads/feat/search-facets"}},
		{"tag_push.json", dora.Event{Ignored: "Tag Push Hook events are not used for delivery metrics"}},
		// A squash merge: no merge commit, the squash commit lands. Legacy
		// "UTC" times; the branch's last commit predates the merge request.
		{"merge_request.merge.json", dora.Event{Changes: []dora.Change{
			{Repo: repo, SHA: "e4d3c2b1a0f9e8d7c6b5a4938271605f4e3d2c1b", PR: "318", Branch: "feat/search-facets",
				AuthoredAt: ts(t, "2025-05-08T12:00:00Z"), MergedAt: ts(t, "2025-05-12T13:40:05Z"), OpenedAt: ts(t, "2025-05-10T08:00:00Z")},
		}}},
		{"merge_request.open.json", dora.Event{Ignored: "merge request open: only merges and approvals are read"}},
		// Written from GitLab's documented Merge Request Hook with the
		// approval actions (no captured delivery in the reference set); the
		// approver is the reviewer, Kenji Ito, not Ana Lima, the author.
		{"merge_request.approved.json", dora.Event{Reviews: []dora.Review{{Repo: repo, PR: "318", At: ts(t, "2025-05-11T07:15:00Z")}}}}, // +0200
		{"merge_request.approval.json", dora.Event{Reviews: []dora.Review{{Repo: repo, PR: "318", At: ts(t, "2025-05-10T17:30:00Z")}}}},
		// The author approving their own request (a project may allow it)
		// is no review of it, as a GitHub author's reviews are none.
		{"merge_request.approval.self.json", dora.Event{Ignored: "merge request approval by the merge request's author: not a review of it"}},
		// "2025-05-12 16:05:00 +0200"; tier production.
		{"deployment.success.json", dora.Event{Deployments: []dora.Deployment{production(dora.StatusSuccess, "2025-05-12T14:05:00Z")}}},
		{"deployment.running.json", dora.Event{Deployments: []dora.Deployment{production(dora.StatusPending, "2025-05-12T14:01:30Z")}}},
		// No tier in the payload: configuration says eu-live is production.
		{"deployment.failed.json", dora.Event{Deployments: []dora.Deployment{{ID: "gitlab:job:771388", Repo: repo,
			Environment: "eu-live", Production: true, SHA: sha, Version: "main", Status: dora.StatusFailure, At: ts(t, "2025-05-13T09:31:12Z")}}}},
		// Two deploying jobs; the stop job, the manual canary and the tests are not deployments.
		{"pipeline.success.json", dora.Event{Deployments: []dora.Deployment{
			{ID: "gitlab:job:771201", Repo: repo, Environment: "staging", SHA: sha, Version: "main",
				Status: dora.StatusSuccess, At: ts(t, "2025-05-12T14:00:05Z")},
			production(dora.StatusSuccess, "2025-05-12T14:02:00Z"),
		}}},
		{"pipeline.tests.json", dora.Event{Ignored: "pipeline has no job that deployed to an environment"}},
		// No project object in job events: the repository's homepage names it.
		{"job.deploy.json", dora.Event{Deployments: []dora.Deployment{production(dora.StatusSuccess, "2025-05-12T14:02:00Z")}}},
		{"work_item.incident.open.json", dora.Event{Incidents: []dora.Incident{incident("2025-05-12T14:25:00Z")}}},
		{"work_item.incident.close.json", dora.Event{Incidents: []dora.Incident{closed}}},
		{"issue.labeled.json", dora.Event{Incidents: []dora.Incident{labeled}}},
		{"issue.unlabeled.json", dora.Event{Incidents: []dora.Incident{unlabeled}}},
		{"issue.plain.json", dora.Event{Ignored: `issue is neither of type Incident nor labelled "incident"`}},
		{"note.json", dora.Event{Ignored: "Note Hook events are not used for delivery metrics"}},
		{"release.create.json", dora.Event{Deployments: []dora.Deployment{{ID: "gitlab:release:30021", Repo: repo,
			Environment: "app-store", Production: true, SHA: sha, Version: "v5.2.0", Status: dora.StatusSuccess, At: ts(t, "2025-05-12T17:00:00Z")}}}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			h := header(tt.file)
			got, err := Parse(h, "5f2c0e2a-2d5b-4d43-9a0e-7e9d3a1c6b11", readFixture(t, tt.file), testConfig)
			if err != nil {
				t.Fatal(err)
			}
			want := tt.want
			want.Source, want.Kind, want.DeliveryID = "gitlab", h, "5f2c0e2a-2d5b-4d43-9a0e-7e9d3a1c6b11"
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}
		})
	}
}

// Without the header, the payload's object_kind decides.
func TestParseWithoutHeader(t *testing.T) {
	ev, err := Parse("", "d", readFixture(t, "push.json"), testConfig)
	if err != nil || ev.Kind != "push" || len(ev.Changes) != 2 {
		t.Errorf("got %+v, %v; want the push read by its object_kind", ev, err)
	}
	ev, err = Parse("", "d", readFixture(t, "tag_push.json"), testConfig)
	if err != nil || ev.Ignored != "tag_push events are not used for delivery metrics" {
		t.Errorf("got %+v, %v; want the tag push ignored", ev, err)
	}
}

func TestProductionIsAnAttribute(t *testing.T) {
	ev, err := Parse("Deployment Hook", "d", readFixture(t, "deployment.failed.json"), Config{}) // eu-live, no tier
	if err != nil || ev.Deployments[0].Production {
		t.Errorf("eu-live without configuration: %+v, %v; want not production", ev.Deployments, err)
	}
	ev, err = Parse("Deployment Hook", "d", readFixture(t, "deployment.success.json"), Config{Production: map[string]bool{"production": false}})
	if err != nil || ev.Deployments[0].Production {
		t.Errorf("configuration did not override the tier: %+v, %v", ev.Deployments, err)
	}
	ev, err = Parse("Release Hook", "d", readFixture(t, "release.create.json"), Config{})
	if err != nil || ev.Ignored != "releases are not configured as deployments for this source" {
		t.Errorf("release without a release environment: got %+v, %v", ev, err)
	}
}

func TestVerifyToken(t *testing.T) {
	secret := []byte("gl-webhook-7d1f")
	tests := []struct {
		name   string
		secret []byte
		token  string
		ok     bool
	}{
		{"the token", secret, "gl-webhook-7d1f", true},
		{"another token", secret, "gl-webhook-7d1e", false},
		{"a prefix", secret, "gl-webhook", false},
		{"longer", secret, "gl-webhook-7d1f ", false},
		{"missing", secret, "", false},
		{"no secret configured", nil, "", false},
		{"no secret configured, any token", nil, "x", false},
	}
	for _, tt := range tests {
		err := VerifyToken(tt.secret, tt.token)
		switch {
		case tt.ok && err != nil:
			t.Errorf("%s: got %v, want accepted", tt.name, err)
		case !tt.ok && valueloop.ErrorCode(err) != valueloop.EUNAUTHORIZED:
			t.Errorf("%s: got %v, want unauthorized", tt.name, err)
		}
	}
	if got := DeliveryID("key-1"); got != "key-1" {
		t.Errorf("DeliveryID is the idempotency key: got %q", got)
	}
}

func TestMalformed(t *testing.T) {
	tests := []struct {
		name, header, body, field string
	}{
		{"not JSON", "Push Hook", `object_kind=push`, "payload"},
		{"an array", "Push Hook", `[1]`, "payload"},
		{"no object_kind", "Push Hook", `{}`, "object_kind"},
		{"object_kind a number", "Push Hook", `{"object_kind": 1}`, "object_kind"},
		{"no project", "Push Hook", `{"object_kind": "push", "ref": "refs/heads/main", "commits": [{"id": "a"}]}`, "project.path_with_namespace"},
		{"commits an object", "Push Hook", `{"object_kind": "push", "commits": {"id": "a"}}`, "commits"},
		{"legacy time garbled", "Push Hook", `{"object_kind": "push", "ref": "refs/heads/main", "project": {"path_with_namespace": "o/r", "default_branch": "main"}, "commits": [{"id": "a", "timestamp": "2025-05-12 25:00:00 UTC"}]}`, "commits[0].timestamp"},
		{"time a number", "Push Hook", `{"object_kind": "push", "ref": "refs/heads/main", "project": {"path_with_namespace": "o/r", "default_branch": "main"}, "commits": [{"id": "a", "timestamp": 1747000000}]}`, "commits[0].timestamp"},
		{"merge without sha", "Merge Request Hook", `{"object_kind": "merge_request", "project": {"path_with_namespace": "o/r"}, "object_attributes": {"action": "merge", "iid": 4}}`, "object_attributes.merge_commit_sha"},
		{"merge without time", "Merge Request Hook", `{"object_kind": "merge_request", "project": {"path_with_namespace": "o/r"}, "object_attributes": {"action": "merge", "iid": 4, "merge_commit_sha": "abc"}}`, "object_attributes.updated_at"},
		{"deployment status", "Deployment Hook", `{"object_kind": "deployment", "project": {"path_with_namespace": "o/r"}, "environment": "prod", "status": "exploded"}`, "status"},
		{"deployment time", "Deployment Hook", `{"object_kind": "deployment", "project": {"path_with_namespace": "o/r"}, "environment": "prod", "status": "success", "deployment_id": 3}`, "status_changed_at"},
		{"deployment id", "Deployment Hook", `{"object_kind": "deployment", "project": {"path_with_namespace": "o/r"}, "environment": "prod", "status": "success"}`, "deployment_id"},
		{"build without id", "Pipeline Hook", `{"object_kind": "pipeline", "project": {"path_with_namespace": "o/r"}, "builds": [{"status": "success", "environment": {"name": "prod"}}]}`, "builds[0].id"},
		{"build without time", "Pipeline Hook", `{"object_kind": "pipeline", "project": {"path_with_namespace": "o/r"}, "builds": [{"id": 9, "status": "success", "environment": {"name": "prod"}}]}`, "builds[0].created_at"},
		{"environment a string", "Job Hook", `{"object_kind": "build", "environment": "prod"}`, "environment"},
		{"issue without id", "Issue Hook", `{"object_kind": "issue", "project": {"path_with_namespace": "o/r"}, "object_attributes": {}}`, "object_attributes.id"},
		{"incident without creation", "Issue Hook", `{"object_kind": "work_item", "project": {"path_with_namespace": "o/r"}, "object_attributes": {"id": 5, "type": "Incident"}}`, "object_attributes.created_at"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := Parse(tt.header, "d", []byte(tt.body), testConfig)
			forgetest.CheckMalformed(t, ev, err, tt.field)
		})
	}
}

// The same deployment told by its deployment, pipeline and job events is
// one deployment; with the pushes and the merge request, the timeline
// delivers the changes and dates the squash merge from its branch.
func TestFixturesToMetrics(t *testing.T) {
	files := []string{
		"push.branch.json", "merge_request.merge.json", "push.json", "pipeline.success.json", "deployment.running.json",
		"deployment.success.json", "job.deploy.json", "work_item.incident.open.json", "work_item.incident.close.json",
	}
	tl := forgetest.Timeline(t, dora.Catalog{Services: []dora.Service{{Name: "storefront-web", Team: "web", Sources: []dora.Source{{Repo: "acme-shop/storefront"}}}}}, files, func(f string, body []byte) (dora.Event, error) {
		return Parse(header(f), f, body, testConfig)
	})
	deps := tl.Deployments("storefront-web")
	if len(deps) != 1 {
		t.Fatalf("got %d production deployments, want one (job 771203 told three times)", len(deps))
	}
	d := deps[0]
	// The latest record wins: the deployment event's success at 14:05.
	if d.ID != "gitlab:job:771203" || !d.At.Equal(ts(t, "2025-05-12T14:05:00Z")) {
		t.Errorf("deployment %s at %v, want gitlab:job:771203 at 14:05", d.ID, d.At)
	}
	var got []string
	for _, c := range d.Changes {
		got = append(got, c.SHA[:7])
	}
	// The squash commit of MR 318 (landed 13:40:05 after the pushed commits
	// at 13:20:30) is not in production: the deployed commit a19be4c landed
	// first.
	if want := "7f3a9c1 a19be4c"; strings.Join(got, " ") != want {
		t.Errorf("delivered %v, want %s", got, want)
	}
	if !d.Failed || len(d.Incidents) != 1 || !d.RecoveredAt.Equal(ts(t, "2025-05-12T16:39:58Z")) {
		t.Errorf("failed %v, incidents %v, recovered %v; want the incident's close", d.Failed, d.Incidents, d.RecoveredAt)
	}
	r, err := tl.Report(dora.Query{From: ts(t, "2025-05-12T00:00:00Z"), To: ts(t, "2025-05-13T00:00:00Z")})
	if err != nil {
		t.Fatal(err)
	}
	m := r.Overall.Total
	if m.Undeployed != 1 || m.Deployments != 1 || m.LeadTime.Count != 2 {
		t.Errorf("undeployed %d, deployments %d, lead times %d; want 1 (the merge request), 1, 2", m.Undeployed, m.Deployments, m.LeadTime.Count)
	}
}
