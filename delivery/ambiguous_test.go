package delivery_test

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/delivery"
)

// TestAmbiguousSHAWarned: a deployment or an incident's cause recorded by
// hand with an abbreviation that two recorded commits of its repository
// share (abcdef0: abcdef01… and abcdef02…) names neither, as git refuses
// it, so the timeline places it by its time alone. It is stored, but the
// receipt warns, naming both commits, so the CI job's log shows it; a
// rollback to it is refused naming sha. An abbreviation of one commit,
// and a full SHA, bring no warning.
func TestAmbiguousSHAWarned(t *testing.T) {
	ctx := t.Context()
	s, _, c := mustService(t)
	tail := strings.Repeat("0", 32)
	for i, sha := range []string{"abcdef01" + tail, "abcdef02" + tail, "1234567a" + tail} {
		merged := c.t.Add(time.Duration(i-5) * time.Hour)
		if _, _, err := s.RecordChange(ctx, delivery.ChangeInput{Repo: "acme/shop", Service: "shop", SHA: sha, MergedAt: &merged}, ""); err != nil {
			t.Fatal(err)
		}
	}
	at := c.t.Add(-time.Hour)
	for _, tc := range []struct {
		sha, repo string
		warned    bool
	}{
		{"abcdef0", "acme/shop", true},
		{"ABCDEF0", "", true}, // by its service only; case as typed
		{"abcdef01", "acme/shop", false},
		{"1234567", "", false},
		{"abcdef02" + tail, "acme/shop", false},
	} {
		in := delivery.DeploymentInput{Service: "shop", Repo: tc.repo, Environment: "prod-eu", SHA: tc.sha, Status: "success", At: &at}
		d, r, err := s.RecordDeployment(ctx, in, "")
		if err != nil {
			t.Fatalf("deployment of %s: %v", tc.sha, err)
		}
		// What to do names the ID and time to record it again under: without
		// them it would be another deployment.
		redo := fmt.Sprintf("same id (%s) and at (%s)", d.ID, at.Format(time.RFC3339))
		warned := strings.HasPrefix(r.Warning.String(), "sha ") && strings.Contains(r.Warning.String(), "abcdef01") && strings.Contains(r.Warning.String(), "abcdef02") && strings.Contains(r.Warning.String(), redo)
		if warned != tc.warned || (!tc.warned && r.Warning != nil) {
			t.Errorf("deployment of %s: warning %q, want one naming both commits: %v", tc.sha, r.Warning.String(), tc.warned)
		}
	}
	_, r, err := s.OpenIncident(ctx, delivery.IncidentInput{Service: "shop", CauseSHA: "abcdef0", OpenedAt: &at}, "")
	if err != nil || !strings.HasPrefix(r.Warning.String(), "causeSha ") || !strings.Contains(r.Warning.String(), "same id (") {
		t.Errorf("incident caused by abcdef0: warning %q, %v; want one naming causeSha", r.Warning.String(), err)
	}
	// A change recorded so names neither commit either: it counts as one of
	// its own, which the receipt says, with how to correct it.
	merged := c.t.Add(-2 * time.Hour)
	for sha, warned := range map[string]bool{"abcdef0": true, "1234567": false} {
		_, r, err = s.RecordChange(ctx, delivery.ChangeInput{Service: "shop", Repo: "acme/shop", SHA: sha, MergedAt: &merged}, "")
		if got := strings.HasPrefix(r.Warning.String(), "sha ") && strings.Contains(r.Warning.String(), "abcdef02") && strings.Contains(r.Warning.String(), "delivery record"); err != nil || got != warned || (!warned && r.Warning != nil) {
			t.Errorf("change %s: warning %q, %v; want one naming sha and how to correct it: %v", sha, r.Warning.String(), err, warned)
		}
	}
	// Earlier deployments of abcdef01… and abcdef0 do not make it a target.
	now := c.t
	rb := delivery.DeploymentInput{Service: "shop", Repo: "acme/shop", Environment: "prod-eu", SHA: "abcdef0", Status: "success", At: &now, Rollback: true}
	_, _, err = s.RecordDeployment(ctx, rb, "")
	var e *valueloop.Error
	if !asError(err, &e) || e.Field != "sha" || !strings.Contains(err.Error(), "ambiguous") {
		t.Errorf("rollback to abcdef0: %v, want refused as ambiguous, naming sha", err)
	}
}

// TestLateCommitObscuresWarned: a deployment recorded as abcdef0 when one
// recorded commit started so named it. A push delivered later records
// abcdef02…, another commit that existed when the deployment was recorded
// (authored before it): the abbreviation names neither now, as git would
// have refused it, and the deployment is placed by its time alone. The
// push's receipt says so, naming the deployment, and the service logs
// it; before, nobody was told. A commit authored after the deployment
// changes nothing of it and brings no warning (an abbreviation names what
// existed when it was recorded).
func TestLateCommitObscuresWarned(t *testing.T) {
	ctx := t.Context()
	s, _, c := mustService(t)
	var log strings.Builder
	s.Logger = slog.New(slog.NewTextHandler(&log, nil))
	tail := strings.Repeat("0", 32)
	merged := c.t.Add(-5 * time.Hour)
	if _, _, err := s.RecordChange(ctx, delivery.ChangeInput{Repo: "acme/shop", Service: "shop", SHA: "abcdef01" + tail, MergedAt: &merged}, ""); err != nil {
		t.Fatal(err)
	}
	at := c.t.Add(-4 * time.Hour)
	d, r, err := s.RecordDeployment(ctx, delivery.DeploymentInput{ID: "dep-1", Service: "shop", Repo: "acme/shop", Environment: "prod-eu", SHA: "abcdef0", Status: "success", At: &at}, "")
	if err != nil || r.Warning != nil {
		t.Fatalf("deployment of abcdef0: %v, warning %q; want none (one commit)", err, r.Warning.String())
	}
	push := func(id, sha string, authored time.Time) delivery.Receipt {
		ts := authored.Format(time.RFC3339)
		body := []byte(`{"ref": "refs/heads/main", "after": "` + sha + `", "deleted": false,
			"repository": {"full_name": "acme/shop", "default_branch": "main", "pushed_at": "` + c.t.Add(-time.Hour).Format(time.RFC3339) + `"},
			"commits": [{"id": "` + sha + `", "timestamp": "` + ts + `", "message": "m"}]}`)
		r, err := s.Receive(ctx, delivery.KindGitHub, ghHook(body, "push", id))
		if err != nil || r.Changes != 1 {
			t.Fatalf("push %s: %+v, %v", id, r, err)
		}
		return r
	}
	// Authored after the deployment: not what it named.
	if r := push("p-later", "abcdef03"+tail, c.t.Add(-2*time.Hour)); r.Warning != nil {
		t.Errorf("push of a commit authored after the deployment: warning %q, want none", r.Warning.String())
	}
	// Authored before it, pushed late: the deployment names none now.
	r = push("p-late", "abcdef02"+tail, c.t.Add(-6*time.Hour))
	if w := r.Warning.String(); r.Warning == nil || r.Warning.Field != "sha" || r.Warning.Record != "deployment" || !strings.Contains(w, d.ID) || !strings.Contains(w, `"abcdef0"`) || !strings.Contains(w, "placed by its time alone") {
		t.Errorf("push of a commit authored before the deployment of abcdef0: warning %q; want one naming %s", w, d.ID)
	}
	if !strings.Contains(log.String(), d.ID) {
		t.Errorf("log %q does not name %s", log.String(), d.ID)
	}
}
