package backfill_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/backfill"
	"github.com/valueloop/valueloop/delivery"
	"github.com/valueloop/valueloop/dora"
	"github.com/valueloop/valueloop/github"
	"github.com/valueloop/valueloop/sqlite/sqlitetest"
)

const token = "ghp_test-token-never-logged"

// newService opens delivery metrics on a fresh SQLite store, with
// environment production.
func newService(t testing.TB) *delivery.Service {
	t.Helper()
	db := sqlitetest.Open(t, nil)
	s := delivery.New(db)
	s.Environments = func() []valueloop.Environment {
		return []valueloop.Environment{{Key: "production", Production: true}, {Key: "app-store"}}
	}
	return s
}

// githubAPI serves the pages of testdata/github for acme/shop.
func githubAPI(t testing.TB, clock *fakeClock) *replay {
	r := newReplay(t, "testdata/github", token, clock)
	const repo = "/repos/acme/shop"
	next := func(uri string) map[string]string {
		return map[string]string{"Link": `<{base}` + uri + `>; rel="next", <{base}` + uri + `>; rel="last"`}
	}
	pulls := repo + "/pulls?state=closed&sort=created&direction=asc&per_page=100"
	r.route(repo, "repo.json", nil)
	r.route(pulls, "pulls.1.json", next(pulls+"&page=2"))
	r.route(pulls+"&page=2", "pulls.2.json", map[string]string{"Link": `<{base}` + pulls + `&page=1>; rel="prev", <{base}` + pulls + `&page=1>; rel="first"`})
	r.route(repo+"/pulls/1/reviews?per_page=100", "reviews.1.json", nil)
	r.route(repo+"/pulls/4/reviews?per_page=100", "reviews.4.1.json", next(repo+"/pulls/4/reviews?per_page=100&page=2"))
	r.route(repo+"/pulls/4/reviews?per_page=100&page=2", "reviews.4.2.json", nil)
	r.route(repo+"/deployments?per_page=100", "deployments.json", nil)
	r.route(repo+"/deployments/101/statuses?per_page=100", "statuses.101.json", nil)
	r.route(repo+"/deployments/102/statuses?per_page=100", "statuses.102.json", nil)
	r.route(repo+"/issues?state=all&sort=created&direction=asc&labels=incident&per_page=100", "issues.json", nil)
	r.route(repo+"/releases?per_page=100", "releases.json", nil)
	return r
}

// importGitHub runs one import of acme/shop from r into s.
func importGitHub(t testing.TB, s *delivery.Service, r *replay, f *backfill.Fetcher, checkpoint string, progress io.Writer) (*backfill.Importer, error) {
	t.Helper()
	return importGitHubSince(t, s, r, f, checkpoint, progress, time.Time{})
}

func importGitHubSince(t testing.TB, s *delivery.Service, r *replay, f *backfill.Fetcher, checkpoint string, progress io.Writer, since time.Time) (*backfill.Importer, error) {
	t.Helper()
	ctx := context.Background()
	cfg := github.Config{Production: s.ProductionEnvironments(), ReleaseEnvironment: "app-store"}
	cp, err := backfill.OpenCheckpoint(checkpoint, "github "+r.srv.URL+" acme/shop")
	if err != nil {
		t.Fatal(err)
	}
	data, err := s.Stored(ctx)
	if err != nil {
		t.Fatal(err)
	}
	im := &backfill.Importer{Fetch: f, Store: s, Known: backfill.NewKnown(data), Checkpoint: cp,
		Source: delivery.ImportSource + "github", Scope: "acme/shop", Progress: progress}
	streams, err := backfill.GitHubStreams(ctx, f, backfill.Repo{Root: r.srv.URL, Name: "acme/shop", Since: since}, cfg)
	if err != nil {
		return im, err
	}
	return im, im.Run(ctx, streams)
}

func newClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 3, 10, 8, 0, 0, 0, time.UTC)}
}

// fullSummary is what importing testdata/github into an empty store holds:
// pull requests 1 and 4; their four submitted reviews; deployments 101 and
// 102 pending (the in_progress status of 101 is the same record as its
// creation) and successful, and release v2.1.0 (not the pre-release); the
// incident issue 5 (6 is a pull request).
var fullSummary = backfill.Summary{Changes: 2, Reviews: 4, Deployments: 5, Incidents: 1, Stored: 12}

func checkTotals(t *testing.T, what string, got backfill.Summary, want backfill.Summary) {
	t.Helper()
	if got.Changes != want.Changes || got.Reviews != want.Reviews || got.Deployments != want.Deployments ||
		got.Incidents != want.Incidents || got.Stored != want.Stored {
		t.Errorf("%s stored changes %d, reviews %d, deployments %d, incidents %d (%d in all); want %d, %d, %d, %d (%d)", what,
			got.Changes, got.Reviews, got.Deployments, got.Incidents, got.Stored,
			want.Changes, want.Reviews, want.Deployments, want.Incidents, want.Stored)
	}
}

// TestGitHubImport: every page is read, following Link headers (pulls and
// the reviews of pull request 4 have two pages each), what the pages say
// is stored with the webhook's keys, the lead time breaks down as
// hand-computed, progress goes to the writer without the token, and a
// second import stores nothing.
func TestGitHubImport(t *testing.T) {
	clock := newClock()
	r := githubAPI(t, clock)
	s := newService(t)
	var progress bytes.Buffer
	im, err := importGitHub(t, s, r, fetcher(clock, backfill.GitHubAuth(token)), "", &progress)
	if err != nil {
		t.Fatal(err)
	}
	checkTotals(t, "the import", im.Summary, fullSummary)
	for _, uri := range []string{"/repos/acme/shop/pulls?state=closed&sort=created&direction=asc&per_page=100&page=2", "/repos/acme/shop/pulls/4/reviews?per_page=100&page=2"} {
		if n := r.hitsOf(uri); n != 1 {
			t.Errorf("%s read %d times, want 1 (the next page of its list)", uri, n)
		}
	}
	if !strings.Contains(progress.String(), "acme/shop: pulls page 2") || strings.Contains(progress.String(), token) {
		t.Errorf("progress:\n%s\nwant a line per stream's last page, and never the token", progress.String())
	}
	checkRecords(t, s)
	checkBreakdown(t, s)

	again, err := importGitHub(t, s, r, fetcher(clock, backfill.GitHubAuth(token)), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if again.Summary.Stored != 0 || again.Summary.Read != im.Summary.Read {
		t.Errorf("second import read %d records and stored %d, want %d read and none stored", again.Summary.Read, again.Summary.Stored, im.Summary.Read)
	}
	dels, err := s.Deliveries(context.Background(), delivery.ImportSource+"github", 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(dels) != 5 { // one per page that held new records: pulls 1 and 2, deployments, issues, releases
		t.Errorf("%d deliveries stored, want 5: %+v", len(dels), dels)
	}
}

// checkRecords: the records carry the keys the webhooks give.
func checkRecords(t *testing.T, s *delivery.Service) {
	t.Helper()
	data, err := s.Stored(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]int{}
	for _, d := range data.Deployments {
		ids[d.ID+" "+d.Status]++
		if d.ID == "github:deployment:101" && d.Status == dora.StatusSuccess && (!d.Production || d.SHA != "e5bd3914e2e596debea16f433f57875b5b90bcd6" || !d.At.Equal(time.Date(2026, 3, 2, 16, 0, 0, 0, time.UTC))) {
			t.Errorf("deployment 101 succeeded as %+v", d)
		}
	}
	for _, want := range []string{"github:deployment:101 success", "github:deployment:101 pending", "github:deployment:102 success", "github:release:7001 success"} {
		if ids[want] != 1 {
			t.Errorf("deployment records %v, want one %s", ids, want)
		}
	}
	if len(data.Incidents) != 1 || data.Incidents[0].ID != "github:issue:500005" || data.Incidents[0].ResolvedAt == nil ||
		data.Incidents[0].CauseSHA != "e5bd3914e2e596debea16f433f57875b5b90bcd6" {
		t.Errorf("incidents %+v, want issue 500005 resolved, caused by the merge of pull request 1", data.Incidents)
	}
	for _, c := range data.Changes {
		if c.PR == "1" && (c.SHA != "e5bd3914e2e596debea16f433f57875b5b90bcd6" || c.Branch != "new-checkout" || !c.OpenedAt.Equal(time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC))) {
			t.Errorf("pull request 1 became %+v", c)
		}
	}
}

// checkBreakdown: from the imported pull requests, reviews and
// deployments, each change took coding 0, pickup 1h, review 2h and deploy
// 3h (testdata/github/README.md), lead time 6h.
func checkBreakdown(t *testing.T, s *delivery.Service) {
	t.Helper()
	rep, err := s.Report(context.Background(), dora.Query{From: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 3, 8, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	m := rep.Overall.Total
	b := m.LeadTimeBreakdown
	want := []struct {
		name  string
		got   dora.Stage
		value time.Duration
	}{{"coding", b.Coding, 0}, {"pickup", b.Pickup, time.Hour}, {"review", b.Review, 2 * time.Hour}, {"deploy", b.Deploy, 3 * time.Hour}}
	for _, w := range want {
		if w.got.Count != 2 || w.got.Median != w.value || w.got.P85 != w.value {
			t.Errorf("%s stage %+v, want 2 changes, median and p85 %s", w.name, w.got, w.value)
		}
	}
	if m.LeadTime.Count != 2 || m.LeadTime.Median != 6*time.Hour {
		t.Errorf("lead time %+v, want 2 changes, median 6h", m.LeadTime)
	}
}

// TestGitHubResume: an import that fails half-way (the second page of
// pull requests answers 502) keeps its place; the next import starts at
// that page, never reads the first again, and ends with what one
// uninterrupted import stores.
func TestGitHubResume(t *testing.T) {
	clock := newClock()
	r := githubAPI(t, clock)
	s := newService(t)
	checkpoint := filepath.Join(t.TempDir(), "import.json")
	page2 := "/repos/acme/shop/pulls?state=closed&sort=created&direction=asc&per_page=100&page=2"
	r.queue(page2, answer{status: 502, body: "<html>Bad gateway</html>"})
	first, err := importGitHub(t, s, r, fetcher(clock, backfill.GitHubAuth(token)), checkpoint, nil)
	if err == nil || !strings.Contains(err.Error(), "502") {
		t.Fatalf("first import: %v, want the 502", err)
	}
	checkTotals(t, "the failed import", first.Summary, backfill.Summary{Changes: 1, Reviews: 2, Stored: 3})
	if _, err := os.Stat(checkpoint); err != nil {
		t.Fatalf("no checkpoint kept: %v", err)
	}

	second, err := importGitHub(t, s, r, fetcher(clock, backfill.GitHubAuth(token)), checkpoint, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !second.Summary.Resumed {
		t.Error("the second import did not say it resumed")
	}
	if n := r.hitsOf("/repos/acme/shop/pulls?state=closed&sort=created&direction=asc&per_page=100"); n != 1 {
		t.Errorf("the first page of pull requests was read %d times, want 1", n)
	}
	both := first.Summary
	both.Changes += second.Summary.Changes
	both.Reviews += second.Summary.Reviews
	both.Deployments += second.Summary.Deployments
	both.Incidents += second.Summary.Incidents
	both.Stored += second.Summary.Stored
	checkTotals(t, "the two imports", both, fullSummary)
	checkBreakdown(t, s)
	if _, err := os.Stat(checkpoint); !os.IsNotExist(err) {
		t.Errorf("checkpoint left after a complete import: %v", err)
	}
}

// TestGitHubSince: an import since a time skips the pull requests merged
// and deployments made before it, and requests neither their reviews nor
// their statuses; issues are asked for by their update time.
func TestGitHubSince(t *testing.T) {
	clock := newClock()
	r := githubAPI(t, clock)
	since := time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC)
	issues := "/repos/acme/shop/issues?state=all&sort=created&direction=asc&labels=incident&per_page=100"
	r.route(issues+"&since=2026-03-03T00:00:00Z", "issues.json", nil)
	im, err := importGitHubSince(t, newService(t), r, fetcher(clock, backfill.GitHubAuth(token)), "", nil, since)
	if err != nil {
		t.Fatal(err)
	}
	// Pull request 4 and its reviews, deployment 102 pending and succeeded,
	// release v2.1.0; the incident as the page gives it.
	checkTotals(t, "the import", im.Summary, backfill.Summary{Changes: 1, Reviews: 2, Deployments: 3, Incidents: 1, Stored: 7})
	for _, uri := range []string{"/repos/acme/shop/pulls/1/reviews?per_page=100", "/repos/acme/shop/deployments/101/statuses?per_page=100", issues} {
		if n := r.hitsOf(uri); n != 0 {
			t.Errorf("%s read %d times, want none", uri, n)
		}
	}
}
