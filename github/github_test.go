package github

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/dora"
	"github.com/valueloop/valueloop/forge/forgetest"
)

var testConfig = Config{
	Production:         map[string]bool{"prod-eu": true, "production-us": true, "staging": false, "app-store": true},
	ReleaseEnvironment: "app-store",
}

var ts, readFixture = forgetest.TS, forgetest.ReadFixture

// eventType is the X-GitHub-Event of a fixture: its name up to the first dot.
func eventType(name string) string {
	return strings.SplitN(filepath.Base(name), ".", 2)[0]
}

func TestParseFixtures(t *testing.T) {
	const repo = "acme-shop/checkout"
	resolved := ts(t, "2025-04-07T18:07:30Z")
	incident := func(updated string) dora.Incident {
		return dora.Incident{
			ID: "github:issue:2980117765", Service: "checkout-api", Repo: repo, Title: "Checkout returns 502 for EU carts",
			OpenedAt: ts(t, "2025-04-07T17:10:00Z"), UpdatedAt: ts(t, updated),
			CauseSHA: "4c1e9a0b7d2f3e6a8b9c0d1e2f3a4b5c6d7e8f90", // written in upper case in the issue
		}
	}
	closed := incident("2025-04-07T18:07:31Z")
	closed.ResolvedAt = &resolved
	unlabeled := incident("2025-04-07T17:30:00Z")
	unlabeled.Service, unlabeled.Void = "", true
	deploy := func(status, at string) dora.Deployment {
		return dora.Deployment{
			ID: "github:deployment:1873020045", Service: "checkout-api", Repo: repo, Environment: "prod-eu", Production: true,
			SHA: "4c1e9a0b7d2f3e6a8b9c0d1e2f3a4b5c6d7e8f90", Version: "v2.8.1", Status: status, At: ts(t, at),
		}
	}
	failed := deploy(dora.StatusFailure, "2025-04-07T16:47:02.25Z") // 18:47:02.250+02:00
	failed.Service, failed.Version = "", "main"                     // a string payload names nothing; the ref is the version

	tests := []struct {
		file string
		want dora.Event
	}{
		{"push.json", dora.Event{Changes: []dora.Change{
			{Repo: repo, SHA: "4c1e9a0b7d2f3e6a8b9c0d1e2f3a4b5c6d7e8f90", Branch: "main",
				Paths:      []string{"internal/cart/validate.go", "internal/cart/cart.go"},
				AuthoredAt: ts(t, "2025-04-07T07:12:44Z"), MergedAt: ts(t, "2025-04-07T16:30:00Z")}, // 09:12:44+02:00; pushed_at in Unix seconds
			{Repo: repo, SHA: "b7e3f1a2c4d5e6f708192a3b4c5d6e7f80911223", Branch: "main",
				Paths:      []string{"internal/charge/charge.go", "internal/cart/cart.go", "internal/charge/old.go"},
				AuthoredAt: ts(t, "2025-04-07T15:05:10Z"), MergedAt: ts(t, "2025-04-07T16:30:00Z")}, // 08:05:10-07:00
		}}},
		{"push.feature.json", dora.Event{Changes: []dora.Change{
			{Repo: repo, SHA: "e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3", Branch: "feature/quote-cache",
				Paths: []string{"internal/shipping/cache.go"}, AuthoredAt: ts(t, "2025-04-03T13:20:00Z")}, // not on main: not merged
		}}},
		{"push.tag.json", dora.Event{Ignored: "push to refs/tags/v2.8.0, not a branch"}},
		{"pull_request.closed.merged.json", dora.Event{Changes: []dora.Change{
			{Repo: repo, SHA: "9d8c7b6a5f4e3d2c1b0a99887766554433221100", PR: "214", Branch: "feature/quote-cache",
				AuthoredAt: ts(t, "2025-04-04T10:00:00Z"), MergedAt: ts(t, "2025-04-07T12:31:04Z"), OpenedAt: ts(t, "2025-04-04T10:00:00Z")},
		}}},
		// Written from GitHub's documented pull_request_review payload (no
		// captured delivery in the reference set).
		{"pull_request_review.submitted.json", dora.Event{Reviews: []dora.Review{{Repo: repo, PR: "214", At: ts(t, "2025-04-07T09:02:15Z")}}}}, // 11:02:15+02:00
		{"pull_request_review.dismissed.json", dora.Event{Ignored: "pull request review dismissed: only submitted reviews are read"}},
		// The author's own comments on the request (notes for the
		// reviewers) are no review of it: pickup waits for someone else.
		{"pull_request_review.self.json", dora.Event{Ignored: "pull request review by the pull request's author: not a review of it"}},
		{"pull_request.closed.unmerged.json", dora.Event{Ignored: "pull request closed without merging"}},
		{"pull_request.opened.json", dora.Event{Ignored: "pull request opened: only merges are changes"}},
		{"deployment.created.json", dora.Event{Deployments: []dora.Deployment{deploy(dora.StatusPending, "2025-04-07T16:40:00Z")}}},
		{"deployment_status.success.json", dora.Event{Deployments: []dora.Deployment{deploy(dora.StatusSuccess, "2025-04-07T16:52:30Z")}}},
		{"deployment_status.in_progress.json", dora.Event{Deployments: []dora.Deployment{deploy(dora.StatusPending, "2025-04-07T16:41:00Z")}}},
		{"deployment_status.failure.json", dora.Event{Deployments: []dora.Deployment{failed}}},
		{"deployment_status.inactive.json", dora.Event{Ignored: "deployment status inactive: superseded by a newer deployment"}},
		{"deployment_status.rollback.json", dora.Event{Deployments: []dora.Deployment{{
			ID: "github:deployment:1873020999", Repo: repo, Environment: "prod-eu", Production: true,
			SHA: "0d3c2b1a9f8e7d6c5b4a39281706f5e4d3c2b1a0", Version: "v2.7.9", Status: dora.StatusSuccess,
			At: ts(t, "2025-04-07T18:05:00Z"), Rollback: true,
		}}}},
		{"deployment_status.staging.json", dora.Event{Deployments: []dora.Deployment{{
			ID: "github:deployment:1873019000", Repo: repo, Environment: "staging",
			SHA: "4c1e9a0b7d2f3e6a8b9c0d1e2f3a4b5c6d7e8f90", Version: "main", Status: dora.StatusSuccess, At: ts(t, "2025-04-07T16:20:00Z"),
		}}}},
		{"release.published.json", dora.Event{Deployments: []dora.Deployment{{
			ID: "github:release:210044512", Repo: repo, Environment: "app-store", Production: true,
			SHA: "4c1e9a0b7d2f3e6a8b9c0d1e2f3a4b5c6d7e8f90", Version: "v2.8.1", Status: dora.StatusSuccess, At: ts(t, "2025-04-07T17:00:00Z"),
		}}}},
		{"release.prerelease.json", dora.Event{Ignored: "pre-release"}},
		{"issues.opened.json", dora.Event{Incidents: []dora.Incident{incident("2025-04-07T17:20:00Z")}}},
		{"issues.closed.json", dora.Event{Incidents: []dora.Incident{closed}}},
		// Reopened: closed_at is still set, but the incident is open again.
		{"issues.reopened.json", dora.Event{Incidents: []dora.Incident{incident("2025-04-07T19:00:00Z")}}},
		{"issues.unlabeled.json", dora.Event{Incidents: []dora.Incident{unlabeled}}},
		{"issues.opened.bug.json", dora.Event{Ignored: `issue not labelled "incident"`}},
		{"ping.json", dora.Event{Ignored: "ping: the webhook is set up"}},
		{"workflow_run.completed.json", dora.Event{Ignored: "workflow_run events are not used for delivery metrics"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			kind := eventType(tt.file)
			got, err := Parse(kind, "72d3162e-cc78-11e3-81ab-4c9367dc0958", readFixture(t, tt.file), testConfig)
			if err != nil {
				t.Fatal(err)
			}
			want := tt.want
			want.Source, want.Kind, want.DeliveryID = "github", kind, "72d3162e-cc78-11e3-81ab-4c9367dc0958"
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}
		})
	}
}

// An environment is production because configuration or GitHub says so,
// never because of its name.
func TestProductionIsAnAttribute(t *testing.T) {
	body := readFixture(t, "deployment_status.rollback.json") // "prod-eu", no production_environment flag
	ev, err := Parse("deployment_status", "d", body, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if ev.Deployments[0].Production {
		t.Error(`"prod-eu" is production by name alone`)
	}
	// GitHub's own flag counts when the environment is not configured...
	ev, err = Parse("deployment_status", "d", readFixture(t, "deployment_status.success.json"), Config{})
	if err != nil || !ev.Deployments[0].Production {
		t.Errorf("production_environment: true was not honoured: %+v, %v", ev.Deployments, err)
	}
	// ...and configuration overrides it.
	ev, err = Parse("deployment_status", "d", readFixture(t, "deployment_status.success.json"), Config{Production: map[string]bool{"prod-eu": false}})
	if err != nil || ev.Deployments[0].Production {
		t.Errorf("configuration did not override the flag: %+v, %v", ev.Deployments, err)
	}
	ev, err = Parse("release", "d", readFixture(t, "release.published.json"), Config{})
	if err != nil || ev.Ignored != "releases are not configured as deployments for this source" {
		t.Errorf("release without a release environment: got %+v, %v", ev, err)
	}
}

func TestIncidentLabel(t *testing.T) {
	ev, err := Parse("issues", "d", readFixture(t, "issues.opened.bug.json"), Config{IncidentLabel: "BUG"})
	if err != nil || len(ev.Incidents) != 1 || ev.Incidents[0].ID != "github:issue:2980117765" {
		t.Errorf("with the label set to BUG: got %+v, %v; want the issue as an incident", ev, err)
	}
}

func TestVerify(t *testing.T) {
	// The example in GitHub's documentation on validating deliveries.
	secret, body := []byte("It's a Secret to Everybody"), []byte("Hello, World!")
	const sig = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
	if got := Sign(secret, body); got != sig {
		t.Fatalf("Sign: got %s, want %s", got, sig)
	}
	fixture := readFixture(t, "push.json")
	tampered := append([]byte(nil), fixture...)
	tampered[len(tampered)/2] ^= 1
	tests := []struct {
		name      string
		secret    []byte
		body      []byte
		signature string
		ok        bool
	}{
		{"documented example", secret, body, sig, true},
		{"upper-case hex", secret, body, "sha256=" + strings.ToUpper(sig[7:]), true},
		{"fixture signed with the secret", []byte("s3cr3t"), fixture, Sign([]byte("s3cr3t"), fixture), true},
		{"wrong secret", []byte("guess"), fixture, Sign([]byte("s3cr3t"), fixture), false},
		{"body altered", []byte("s3cr3t"), tampered, Sign([]byte("s3cr3t"), fixture), false},
		{"missing", secret, body, "", false},
		{"sha1 header", secret, body, "sha1=" + sig[7:47], false},
		{"no prefix", secret, body, sig[7:], false},
		{"not hex", secret, body, "sha256=" + strings.Repeat("zz", 32), false},
		{"truncated", secret, body, sig[:len(sig)-2], false},
		{"empty secret", nil, body, Sign(nil, body), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Verify(tt.secret, tt.body, tt.signature)
			switch {
			case tt.ok && err != nil:
				t.Errorf("got %v, want accepted", err)
			case !tt.ok && valueloop.ErrorCode(err) != valueloop.EUNAUTHORIZED:
				t.Errorf("got %v, want an unauthorized error", err)
			}
		})
	}
}

func TestMalformed(t *testing.T) {
	tests := []struct {
		name, event, body, field string
	}{
		{"no event type", "", `{}`, EventHeader},
		{"not JSON", "push", `ref=main`, "payload"},
		{"truncated", "push", `{"ref": "refs/heads/main"`, "payload"},
		{"an array", "push", `[]`, "payload"},
		{"ref a number", "push", `{"ref": 5}`, "ref"},
		{"no repository", "push", `{"ref": "refs/heads/main", "commits": [{"id": "a"}]}`, "repository.full_name"},
		{"no default branch", "push", `{"ref": "refs/heads/main", "repository": {"full_name": "o/r"}, "commits": [{"id": "a", "timestamp": "2025-01-01T00:00:00Z"}]}`, "repository.default_branch"},
		{"commit id a number", "push", `{"ref": "refs/heads/main", "commits": [{"id": 7}]}`, "commits[0].id"},
		{"bad timestamp", "push", `{"ref": "refs/heads/main", "repository": {"full_name": "o/r", "default_branch": "main"}, "commits": [{"id": "a", "timestamp": "yesterday"}]}`, "commits[0].timestamp"},
		{"year 9999", "push", `{"ref": "refs/heads/main", "repository": {"full_name": "o/r", "default_branch": "main"}, "commits": [{"id": "a", "timestamp": "9999-01-01T00:00:00Z"}]}`, "commits[0].timestamp"},
		{"pushed_at a word", "push", `{"ref": "refs/heads/main", "repository": {"full_name": "o/r", "default_branch": "main", "pushed_at": true}, "commits": [{"id": "a", "timestamp": "2025-01-01T00:00:00Z"}]}`, "repository.pushed_at"},
		{"merged a string", "pull_request", `{"action": "closed", "pull_request": {"merged": "yes"}}`, "pull_request.merged"},
		{"merged without time", "pull_request", `{"action": "closed", "repository": {"full_name": "o/r"}, "pull_request": {"number": 1, "merged": true, "merge_commit_sha": "abc"}}`, "pull_request.merged_at"},
		{"unknown state", "deployment_status", `{"deployment_status": {"state": "exploded"}}`, "deployment_status.state"},
		{"no deployment id", "deployment_status", `{"deployment_status": {"state": "success", "environment": "prod", "created_at": "2025-01-01T00:00:00Z"}, "repository": {"full_name": "o/r"}}`, "deployment.id"},
		{"no status time", "deployment_status", `{"deployment_status": {"state": "success", "environment": "prod"}, "deployment": {"id": 1}, "repository": {"full_name": "o/r"}}`, "deployment_status.created_at"},
		{"release id a string", "release", `{"action": "published", "release": {"id": "x"}}`, "payload"},
		{"issue without creation", "issues", `{"action": "opened", "repository": {"full_name": "o/r"}, "issue": {"id": 1, "labels": [{"name": "incident"}]}}`, "issue.created_at"},
		{"labels an object", "issues", `{"action": "opened", "issue": {"labels": {"name": "incident"}}}`, "issue.labels"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := Parse(tt.event, "d", []byte(tt.body), testConfig)
			forgetest.CheckMalformed(t, ev, err, tt.field)
		})
	}
}

// From webhooks to metrics: the fixtures, parsed, give the facts a
// hand-written timeline would.
func TestFixturesToMetrics(t *testing.T) {
	files := []string{
		"push.feature.json", "pull_request.closed.merged.json", "push.json",
		"deployment_status.in_progress.json", "deployment_status.success.json", "deployment_status.staging.json",
		"issues.opened.json", "deployment_status.rollback.json", "issues.closed.json",
		"push.json", // a redelivery
	}
	tl := forgetest.Timeline(t, dora.Catalog{Services: []dora.Service{{Name: "checkout-api", Team: "payments", Sources: []dora.Source{{Repo: "acme-shop/checkout"}}}}}, files, func(f string, body []byte) (dora.Event, error) {
		return Parse(eventType(f), f, body, testConfig)
	})
	deps := tl.Deployments("checkout-api")
	if len(deps) != 2 {
		t.Fatalf("got %d production deployments, want the deployment and its rollback", len(deps))
	}
	d, r := deps[0], deps[1]
	var shas []string
	for _, c := range d.Changes {
		shas = append(shas, c.SHA[:7])
	}
	// The squash-merged pull request (landed 12:31) and both commits pushed
	// at 16:30; the deployed commit is 4c1e9a0.
	if got, want := strings.Join(shas, " "), "9d8c7b6 4c1e9a0 b7e3f1a"; got != want {
		t.Errorf("delivered %s, want %s", got, want)
	}
	// The pull request's work started with the branch commit of 04-03 13:20.
	if got := d.Changes[0].AuthoredAt; !got.Equal(ts(t, "2025-04-03T13:20:00Z")) {
		t.Errorf("pull request dated %v, want its first branch commit", got)
	}
	// The incident names 4c1e9a0 as its cause; the rollback took the
	// deployment out at 18:05, before the incident closed at 18:07:30.
	if !d.Failed || !d.RolledBack || len(d.Incidents) != 1 || !d.RecoveredAt.Equal(ts(t, "2025-04-07T18:05:00Z")) {
		t.Errorf("deployment: failed %v rolled back %v incidents %v recovered %v", d.Failed, d.RolledBack, d.Incidents, d.RecoveredAt)
	}
	if !r.Rollback || !r.Rework {
		t.Errorf("rollback: rollback %v rework %v, want both", r.Rollback, r.Rework)
	}
	rep, err := tl.Report(dora.Query{From: ts(t, "2025-04-07T00:00:00Z"), To: ts(t, "2025-04-08T00:00:00Z")})
	if err != nil {
		t.Fatal(err)
	}
	m := rep.Services[0].Total
	// Lead times: 9d8c7b6 16:52:30 - 04-03 13:20 = 4d 3h32m30s; 4c1e9a0
	// 16:52:30 - 07:12:44 = 9h39m46s; b7e3f1a 16:52:30 - 15:05:10 = 1h47m20s.
	// Median: 9h39m46s. Recovery: 18:05 - 16:52:30 = 1h12m30s.
	if m.LeadTime.Count != 3 || m.LeadTime.Median != 9*time.Hour+39*time.Minute+46*time.Second ||
		m.Recovery.Median != time.Hour+12*time.Minute+30*time.Second || m.ChangeFailureRate != (dora.Rate{Num: 1, Den: 2}) {
		t.Errorf("got lead %+v, recovery %+v, change failure rate %+v", m.LeadTime, m.Recovery, m.ChangeFailureRate)
	}
}
