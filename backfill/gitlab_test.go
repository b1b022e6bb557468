package backfill_test

import (
	"context"
	"testing"
	"time"

	"github.com/valueloop/valueloop/backfill"
	"github.com/valueloop/valueloop/delivery"
	"github.com/valueloop/valueloop/dora"
	"github.com/valueloop/valueloop/gitlab"
)

const glToken = "glpat-test-token-never-logged"

// gitlabAPI serves the pages of testdata/gitlab for acme/search.
func gitlabAPI(t testing.TB, clock *fakeClock) *replay {
	r := newReplay(t, "testdata/gitlab", glToken, clock)
	const p = "/projects/acme%2Fsearch"
	mrs := p + "/merge_requests?state=merged&order_by=created_at&sort=asc&per_page=100&target_branch=main"
	r.route(p, "project.json", nil)
	r.route(mrs, "merge_requests.1.json", map[string]string{"X-Page": "1", "X-Next-Page": "2", "X-Total-Pages": "2"})
	r.route(mrs+"&page=2", "merge_requests.2.json", map[string]string{"X-Page": "2", "X-Next-Page": "", "X-Total-Pages": "2"})
	r.route(p+"/merge_requests/11/approvals", "approvals.11.json", nil)
	r.route(p+"/merge_requests/12/approvals", "approvals.12.json", nil)
	r.route(p+"/merge_requests/12/notes?sort=asc&order_by=created_at&per_page=100", "notes.12.json", nil)
	r.route(p+"/environments?per_page=100", "environments.json", nil)
	r.route(p+"/deployments?order_by=id&sort=asc&per_page=100", "deployments.json", map[string]string{"RateLimit-Remaining": "1999", "RateLimit-Reset": "{reset+60}"})
	r.route(p+"/issues?state=all&order_by=created_at&sort=asc&labels=incident&per_page=100", "issues.labelled.json", nil)
	r.route(p+"/issues?state=all&order_by=created_at&sort=asc&issue_type=incident&per_page=100", "issues.incidents.json", nil)
	return r
}

func importGitLab(t testing.TB, s *delivery.Service, r *replay, f *backfill.Fetcher) (*backfill.Importer, error) {
	t.Helper()
	ctx := context.Background()
	cp, _ := backfill.OpenCheckpoint("", "gitlab")
	data, err := s.Stored(ctx)
	if err != nil {
		t.Fatal(err)
	}
	im := &backfill.Importer{Fetch: f, Store: s, Known: backfill.NewKnown(data), Checkpoint: cp,
		Source: delivery.ImportSource + "gitlab", Scope: "acme/search"}
	streams, err := backfill.GitLabStreams(ctx, f, backfill.Repo{Root: r.srv.URL, Name: "acme/search"}, gitlab.Config{Production: s.ProductionEnvironments()})
	if err != nil {
		return im, err
	}
	return im, im.Run(ctx, streams)
}

// TestGitLabImport: merge requests over two pages (X-Next-Page), approvals
// dated by the approvals API or else by the system note (their author's
// own approvals are no reviews, as the webhook ignores them), deployments keyed
// by their job as the Deployment Hook keys them (one stored by the webhook
// before is not stored again), an incident listed by both issue queries
// stored once; a second import stores nothing.
func TestGitLabImport(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	const secret = "gitlab-webhook-token-0123"
	if _, _, err := s.PutSource(ctx, delivery.Source{Name: "acme-gl", Kind: delivery.KindGitLab, Secret: []byte(secret)}, "test"); err != nil {
		t.Fatal(err)
	}
	hook := `{"object_kind":"deployment","status":"success","status_changed_at":"2026-03-02 12:00:00 +0000","deployment_id":301,"deployable_id":9001,` +
		`"environment":"production","project":{"path_with_namespace":"acme/search"},"short_sha":"aaaaaaaa",` +
		`"commit_url":"https://gitlab.example.com/acme/search/-/commit/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","ref":"main"}`
	if rc, err := s.Receive(ctx, delivery.KindGitLab, delivery.Hook{Event: "Deployment Hook", DeliveryID: "u1", Credential: secret, Body: []byte(hook)}); err != nil || rc.Deployments != 1 {
		t.Fatalf("webhook: %+v, %v", rc, err)
	}
	clock := newClock()
	r := gitlabAPI(t, clock)
	im, err := importGitLab(t, s, r, fetcher(clock, backfill.GitLabAuth(glToken)))
	if err != nil {
		t.Fatal(err)
	}
	// Deployments: job 9002 failed and 9003 succeeded; 9001 came by webhook.
	checkTotals(t, "the import", im.Summary, backfill.Summary{Changes: 2, Reviews: 2, Deployments: 2, Incidents: 2, Stored: 8})
	if n := r.hitsOf("/projects/acme%2Fsearch/merge_requests/11/notes?sort=asc&order_by=created_at&per_page=100"); n != 0 {
		t.Errorf("the notes of a merge request whose approvals are dated were read %d times", n)
	}
	data, err := s.Stored(ctx)
	if err != nil {
		t.Fatal(err)
	}
	reviews := map[string]time.Time{}
	for _, rv := range data.Reviews {
		if first, ok := reviews[rv.PR]; !ok || rv.At.Before(first) {
			reviews[rv.PR] = rv.At
		}
	}
	// Their author's approvals (11 at 08:30, 12 at 08:45) are no reviews.
	if !reviews["11"].Equal(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)) || !reviews["12"].Equal(time.Date(2026, 3, 3, 9, 30, 0, 0, time.UTC)) {
		t.Errorf("first reviews %v, want 11 approved at 09:00 (approved_at) and 12 at 09:30 (its note)", reviews)
	}
	for _, c := range data.Changes {
		if c.PR == "12" && c.SHA != "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb" {
			t.Errorf("squash-merged merge request 12 landed as %s, want its squash commit", c.SHA)
		}
	}
	rep, err := s.Report(ctx, dora.Query{From: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 3, 8, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	b := rep.Overall.Total.LeadTimeBreakdown
	// pickup 1h and 1h30, review 2h and 30m, deploy 1h and 2h.
	if b.Pickup.Count != 2 || b.Review.Count != 2 || b.Deploy.Count != 2 || b.Deploy.P85 < time.Hour+45*time.Minute || b.Deploy.P85 > 2*time.Hour {
		t.Errorf("breakdown %+v, want two changes in each stage, deploy p85 between 1h45 and 2h", b)
	}
	again, err := importGitLab(t, s, r, fetcher(clock, backfill.GitLabAuth(glToken)))
	if err != nil || again.Summary.Stored != 0 {
		t.Errorf("second import stored %d records (%v), want none", again.Summary.Stored, err)
	}
}

// TestGitLabImportTier: the deployments API names each deployment's
// environment without its tier (GitLab's EnvironmentBasic), so the import
// reads the tiers from the project's environments: an environment
// Valueloop does not know is production when its tier is, as the
// Deployment Hook's environment_tier says for the webhook. Before, the
// imported deployments to "production" of tier production were not
// production, and the history counted none.
func TestGitLabImportTier(t *testing.T) {
	ctx := context.Background()
	clock := newClock()
	r := gitlabAPI(t, clock)
	f := fetcher(clock, backfill.GitLabAuth(glToken))
	streams, err := backfill.GitLabStreams(ctx, f, backfill.Repo{Root: r.srv.URL, Name: "acme/search"}, gitlab.Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range streams {
		if st.Name != "deployments" {
			continue
		}
		page, err := f.Get(ctx, st.URL)
		if err != nil {
			t.Fatal(err)
		}
		ev, _, err := st.Page(page.Body)
		if err != nil {
			t.Fatal(err)
		}
		if len(ev.Deployments) != 3 {
			t.Fatalf("deployments %+v, want 3", ev.Deployments)
		}
		for _, d := range ev.Deployments {
			if !d.Production {
				t.Errorf("%s to %s: not production, want production (its tier)", d.ID, d.Environment)
			}
		}
		return
	}
	t.Fatal("no deployments stream")
}

// TestGitLabRateLimit: GitLab's 429 names its reset in RateLimit-Reset
// (no X- prefix); the import waits for it and goes on.
func TestGitLabRateLimit(t *testing.T) {
	clock := newClock()
	r := gitlabAPI(t, clock)
	r.queue("/projects/acme%2Fsearch/merge_requests/12/approvals", answer{status: 429, body: "Retry later",
		header: map[string]string{"RateLimit-Limit": "2000", "RateLimit-Remaining": "0", "RateLimit-Reset": "{reset+20}"}})
	f := fetcher(clock, backfill.GitLabAuth(glToken))
	f.Retries = 1
	im, err := importGitLab(t, newService(t), r, f)
	if err != nil {
		t.Fatal(err)
	}
	if w := clock.Waits(); len(w) != 1 || w[0] != 21*time.Second {
		t.Errorf("waited %v, want 21s (the reset and a second)", w)
	}
	if im.Summary.Reviews != 2 {
		t.Errorf("stored %d approvals, want 2", im.Summary.Reviews)
	}
}
