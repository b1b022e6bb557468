package delivery_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/valueloop/valueloop/delivery"
)

// glTime writes t as GitLab's legacy webhook times are written.
func glTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") }

// TestUpcomingGitLabReleaseNotDeployed: a release webhook whose released_at
// is ahead (a GitLab "upcoming release") is acknowledged as ignored and
// stores no deployment; an ordinary release dated a little ahead of this
// server's clock (GitLab's clock runs ahead) is still one. Built from the
// release fixture, which has the shape of GitLab's documented payload.
// Failed before the fix: the upcoming release was stored as a deployment
// dated a week ahead.
func TestUpcomingGitLabReleaseNotDeployed(t *testing.T) {
	ctx := t.Context()
	s, db, c := mustService(t)
	if _, _, err := s.PutSource(ctx, delivery.Source{Name: "acme-gl", Kind: delivery.KindGitLab, Secret: []byte(glSecret), ReleaseEnvironment: "prod-eu"}, "test"); err != nil {
		t.Fatal(err)
	}
	release := func(created, released time.Time) []byte {
		b := fixture(t, "gitlab/testdata/release.create.json")
		b = bytes.Replace(b, []byte(`"created_at": "2025-05-12 16:58:00 UTC"`), []byte(`"created_at": "`+glTime(created)+`"`), 1)
		b = bytes.Replace(b, []byte(`"released_at": "2025-05-12 17:00:00 UTC"`), []byte(`"released_at": "`+glTime(released)+`"`), 1)
		if !bytes.Contains(b, []byte(glTime(released))) {
			t.Fatal("the fixture's released_at was not replaced")
		}
		return b
	}
	hook := func(body []byte, key string) delivery.Hook {
		return delivery.Hook{Event: "Release Hook", DeliveryID: key, Credential: glSecret, Body: body}
	}
	r, err := s.Receive(ctx, delivery.KindGitLab, hook(release(c.t.Add(-time.Hour), c.t.Add(7*24*time.Hour)), "k-1"))
	if err != nil || r.Deployments != 0 || !strings.Contains(r.Ignored, "upcoming release") {
		t.Errorf("upcoming release: %+v, %v; want it ignored as upcoming", r, err)
	}
	data, _, err := db.DeliveryData(ctx)
	if err != nil || len(data.Deployments) != 0 {
		t.Fatalf("stored %+v, %v; want no deployment", data.Deployments, err)
	}
	ahead := c.t.Add(2 * time.Minute) // created and released at once, by a clock ahead
	r, err = s.Receive(ctx, delivery.KindGitLab, hook(release(ahead, ahead), "k-2"))
	if err != nil || r.Deployments != 1 || r.Ignored != "" {
		t.Errorf("release by a clock ahead: %+v, %v; want one deployment", r, err)
	}
}

// TestForkPullRequestKeepsItsOwnBranch: a pull request from a fork names
// its branch as the fork has it ("2" here), and the fork's commits never
// reach the base repository's webhook; a same-named branch of the base
// repository is another branch, whose commits the pull request must not
// take for its lead time. The pull request is the captured
// pull_request.closed.merged.2.json of the reference payloads with its head
// moved to a fork (octo-fork/codinasion-bot-try). Failed before the fix:
// the pull request was dated from the base branch's commit, a month
// before it was opened.
func TestForkPullRequestKeepsItsOwnBranch(t *testing.T) {
	ctx := t.Context()
	s, _, _ := mustService(t)
	const repo, mergeSHA = "codinasion/codinasion-bot-try", "bcb954310e04baa5a7974eb201a433be35488351"
	// A push to the base repository's own branch "2", a month earlier.
	push := []byte(`{"ref": "refs/heads/2", "before": "0000000000000000000000000000000000000000",
		"after": "0a0b0c0d0e0f00010203040506070809aabbccdd", "deleted": false,
		"repository": {"full_name": "` + repo + `", "default_branch": "master"},
		"commits": [{"id": "0a0b0c0d0e0f00010203040506070809aabbccdd", "message": "base branch work",
			"timestamp": "2022-06-01T10:00:00Z", "distinct": true}]}`)
	if r, err := s.Receive(ctx, delivery.KindGitHub, ghHook(push, "push", "p-1")); err != nil || r.Changes != 1 {
		t.Fatalf("push: %+v, %v", r, err)
	}
	pr := fixture(t, "github/testdata/pull_request.closed.merged.fork.json")
	if r, err := s.Receive(ctx, delivery.KindGitHub, ghHook(pr, "pull_request", "p-2")); err != nil || r.Changes != 1 {
		t.Fatalf("pull request: %+v, %v", r, err)
	}
	at := time.Date(2022, 7, 9, 3, 0, 0, 0, time.UTC)
	if _, _, err := s.RecordDeployment(ctx, delivery.DeploymentInput{Service: repo, Repo: repo, Environment: "prod-eu", SHA: mergeSHA, Status: "success", At: &at}, ""); err != nil {
		t.Fatal(err)
	}
	wantAuthored(t, s, repo, at, mergeSHA, time.Date(2022, 7, 9, 2, 19, 53, 0, time.UTC))
}

// TestForkMergeRequestKeepsItsOwnBranch is TestForkPullRequestKeepsItsOwnBranch
// for GitLab: the captured merge_request.merge.json of the reference
// payloads with its source project moved to a fork (octo-fork/hello-world,
// source_project_id 9990001), after a push to the target project's own
// branch "feature". Failed before the fix: the merge request was dated
// from the target project's branch commit, a month early.
func TestForkMergeRequestKeepsItsOwnBranch(t *testing.T) {
	ctx := t.Context()
	s, _, _ := mustService(t)
	const repo, mergeSHA = "gitlab-org/hello-world", "78a76ee6b4992a6baf64c59fc4c44c7323d60438"
	push := []byte(`{"object_kind": "push", "ref": "refs/heads/feature", "before": "0000000000000000000000000000000000000000",
		"after": "0a0b0c0d0e0f00010203040506070809aabbccdd",
		"project": {"path_with_namespace": "` + repo + `", "default_branch": "master"},
		"commits": [{"id": "0a0b0c0d0e0f00010203040506070809aabbccdd", "message": "target project work",
			"timestamp": "2017-11-01T10:00:00Z"}]}`)
	hook := func(event, key string, body []byte) delivery.Hook {
		return delivery.Hook{Event: event, DeliveryID: key, Credential: glSecret, Body: body}
	}
	if r, err := s.Receive(ctx, delivery.KindGitLab, hook("Push Hook", "k-1", push)); err != nil || r.Changes != 1 {
		t.Fatalf("push: %+v, %v", r, err)
	}
	mr := fixture(t, "gitlab/testdata/merge_request.merge.fork.json")
	if r, err := s.Receive(ctx, delivery.KindGitLab, hook("Merge Request Hook", "k-2", mr)); err != nil || r.Changes != 1 {
		t.Fatalf("merge request: %+v, %v", r, err)
	}
	at := time.Date(2017, 12, 10, 18, 0, 0, 0, time.UTC)
	if _, _, err := s.RecordDeployment(ctx, delivery.DeploymentInput{Service: repo, Repo: repo, Environment: "prod-eu", SHA: mergeSHA, Status: "success", At: &at}, ""); err != nil {
		t.Fatal(err)
	}
	// The merge request's last commit (08:28:36-08:00) predates its opening.
	wantAuthored(t, s, repo, at, mergeSHA, time.Date(2017, 12, 10, 16, 28, 36, 0, time.UTC))
}

// wantAuthored checks the change sha of the deployment of service at:
// that its lead time starts at want.
func wantAuthored(t *testing.T, s *delivery.Service, service string, at time.Time, sha string, want time.Time) {
	t.Helper()
	facts, err := s.Deployments(t.Context(), service, at.Add(-time.Hour), at.Add(time.Hour))
	if err != nil || len(facts) != 1 {
		t.Fatalf("deployments: %+v, %v", facts, err)
	}
	for _, c := range facts[0].Changes {
		if c.SHA == sha {
			if !c.AuthoredAt.Equal(want) {
				t.Errorf("the fork's change dated from %s, want %s: it took the other branch's commits", c.AuthoredAt, want)
			}
			return
		}
	}
	t.Errorf("the deployment has no change %s: %+v", sha, facts[0].Changes)
}
