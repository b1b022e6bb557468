package backfill_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/valueloop/valueloop/backfill"
	"github.com/valueloop/valueloop/delivery"
)

// TestRateLimits: the fetcher waits out each kind of limit GitHub
// documents, by the fake clock, and the import still stores everything:
// a 403 with the primary limit spent (until X-RateLimit-Reset, plus a
// second), a 429 with Retry-After, a secondary limit's 403 without
// headers (a minute), and a page that spent the last request of the quota
// (the next request waits for the reset).
func TestRateLimits(t *testing.T) {
	clock := newClock()
	r := githubAPI(t, clock)
	const repo = "/repos/acme/shop"
	r.queue(repo+"/deployments?per_page=100", answer{status: 403, body: `{"message":"API rate limit exceeded for user ID 1."}`,
		header: map[string]string{"X-RateLimit-Limit": "5000", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "{reset+60}"}})
	r.queue(repo+"/deployments/101/statuses?per_page=100", answer{status: 429, header: map[string]string{"Retry-After": "7"}})
	issues := repo + "/issues?state=all&sort=created&direction=asc&labels=incident&per_page=100"
	r.queue(issues, answer{status: 403, body: `{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again."}`})
	rt := r.routes[key(issues)]
	rt.header = map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "{reset+30}"}
	r.routes[key(issues)] = rt

	s := newService(t)
	f := fetcher(clock, backfill.GitHubAuth(token))
	f.Retries = 2
	var told []string
	f.Waited = func(d time.Duration, why string) { told = append(told, why) }
	im, err := importGitHub(t, s, r, f, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	checkTotals(t, "the import", im.Summary, fullSummary)
	want := []time.Duration{61 * time.Second, 7 * time.Second, time.Minute, 31 * time.Second}
	if got := clock.Waits(); !slices.Equal(got, want) {
		t.Errorf("waited %v, want %v (%q)", got, want, told)
	}
	for _, why := range told {
		if strings.Contains(why, token) {
			t.Errorf("a wait's reason holds the token: %q", why)
		}
	}
}

// TestRateLimitTooLong: a limit that resets after more than MaxWait stops
// the import with when to resume, instead of waiting for hours.
func TestRateLimitTooLong(t *testing.T) {
	clock := newClock()
	r := githubAPI(t, clock)
	r.queue("/repos/acme/shop/pulls/1/reviews?per_page=100", answer{status: 403, body: `{"message":"API rate limit exceeded"}`,
		header: map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "{reset+7200}"}})
	f := fetcher(clock, backfill.GitHubAuth(token))
	f.Retries, f.MaxWait = 3, time.Hour
	_, err := importGitHub(t, newService(t), r, f, "", nil)
	if err == nil || !strings.Contains(err.Error(), "rate limited until 2026-03-10T10:00:01Z") || !strings.Contains(err.Error(), "resumes") {
		t.Errorf("import: %v, want it stopped, saying until when and that it resumes", err)
	}
	if len(clock.Waits()) != 0 {
		t.Errorf("waited %v, want no wait", clock.Waits())
	}
}

// TestForbiddenIsNotALimit: a 403 that says nothing of a limit (a token
// without access) fails at once, naming what to check.
func TestForbiddenIsNotALimit(t *testing.T) {
	clock := newClock()
	r := githubAPI(t, clock)
	r.queue("/repos/acme/shop", answer{status: 403, body: `{"message":"Resource not accessible by personal access token"}`})
	_, err := importGitHub(t, newService(t), r, fetcher(clock, backfill.GitHubAuth(token)), "", nil)
	if err == nil || !strings.Contains(err.Error(), "403") || !strings.Contains(err.Error(), "scopes") || len(clock.Waits()) != 0 {
		t.Errorf("import: %v after waits %v; want a 403 naming the token's scopes, without waiting", err, clock.Waits())
	}
}

const whSecret = "github-webhook-secret-0123"

func sign(body string) string {
	m := hmac.New(sha256.New, []byte(whSecret))
	m.Write([]byte(body))
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// TestWebhookThenImport: what the webhook stored before the import (the
// merge of pull request 1, the success of deployment 101 and a review) is
// not stored again by it.
func TestWebhookThenImport(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	if _, _, err := s.PutSource(ctx, delivery.Source{Name: "acme-gh", Kind: delivery.KindGitHub, Secret: []byte(whSecret)}, "test"); err != nil {
		t.Fatal(err)
	}
	const repo = `"repository":{"full_name":"acme/shop","default_branch":"main"}`
	hooks := []struct{ event, body string }{
		{"pull_request", `{"action":"closed","number":1,"pull_request":{"number":1,"merged":true,"merged_at":"2026-03-02T13:00:00Z","created_at":"2026-03-02T10:00:00Z",` +
			`"merge_commit_sha":"e5bd3914e2e596debea16f433f57875b5b90bcd6","head":{"ref":"new-checkout"},"base":{"ref":"main"}},` + repo + `}`},
		{"deployment_status", `{"action":"created","deployment_status":{"state":"success","environment":"production","created_at":"2026-03-02T16:00:00Z"},` +
			`"deployment":{"id":101,"sha":"e5bd3914e2e596debea16f433f57875b5b90bcd6","ref":"main","task":"deploy","environment":"production","production_environment":true,"created_at":"2026-03-02T15:50:00Z"},` + repo + `}`},
		{"pull_request_review", `{"action":"submitted","review":{"state":"commented","submitted_at":"2026-03-02T11:00:00Z"},"pull_request":{"number":1},` + repo + `}`},
	}
	for i, h := range hooks {
		rc, err := s.Receive(ctx, delivery.KindGitHub, delivery.Hook{Event: h.event, DeliveryID: "d" + string(rune('0'+i)), Credential: sign(h.body), Body: []byte(h.body)})
		if err != nil || rc.Ignored != "" {
			t.Fatalf("webhook %s: %+v, %v", h.event, rc, err)
		}
	}
	clock := newClock()
	im, err := importGitHub(t, s, githubAPI(t, clock), fetcher(clock, backfill.GitHubAuth(token)), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := fullSummary
	want.Changes, want.Deployments, want.Reviews, want.Stored = 1, 4, 3, 9
	checkTotals(t, "the import after webhooks", im.Summary, want)
	checkBreakdown(t, s)
}

// TestNextPageOnAnotherHost: a Link to another host is refused before any
// request goes there with the token.
func TestNextPageOnAnotherHost(t *testing.T) {
	clock := newClock()
	r := githubAPI(t, clock)
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		t.Errorf("request to the other host with Authorization %q", req.Header.Get("Authorization"))
	}))
	defer evil.Close()
	pulls := "/repos/acme/shop/pulls?state=closed&sort=created&direction=asc&per_page=100"
	rt := r.routes[key(pulls)]
	rt.header = map[string]string{"Link": `<` + evil.URL + pulls + `&page=2>; rel="next"`}
	r.routes[key(pulls)] = rt
	_, err := importGitHub(t, newService(t), r, fetcher(clock, backfill.GitHubAuth(token)), "", nil)
	if err == nil || !strings.Contains(err.Error(), "another host") {
		t.Errorf("import: %v, want the next page on another host refused", err)
	}
}

// TestRetriesOnlyTransient: a host whose name does not resolve fails at
// once, naming the host and what to check (it waited out five retries, 62
// s, before); a 5xx answer and a dropped connection are still retried.
func TestRetriesOnlyTransient(t *testing.T) {
	failOnce := func(fail func(w http.ResponseWriter)) string {
		n := 0
		api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if n++; n == 1 {
				fail(w)
				return
			}
			w.Write([]byte(`[]`))
		}))
		t.Cleanup(api.Close)
		return api.URL + "/repos/acme/shop/pulls"
	}
	for _, c := range []struct {
		name, url string
		waits     int
		err       string
	}{
		// RFC 2606: .invalid never resolves, with or without a network.
		{"unresolvable host", "https://api.github.invalid/repos/acme/shop/pulls", 0, `host "api.github.invalid" does not resolve`},
		{"server error", failOnce(func(w http.ResponseWriter) { w.WriteHeader(http.StatusBadGateway) }), 1, ""},
		{"connection dropped", failOnce(func(w http.ResponseWriter) {
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
		}), 1, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			clock := newClock()
			f := fetcher(clock, nil)
			f.Retries = 5
			_, err := f.Get(context.Background(), c.url)
			if got := len(clock.Waits()); got != c.waits {
				t.Errorf("waited %v, want %d waits", clock.Waits(), c.waits)
			}
			if c.err == "" && err != nil || c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)) {
				t.Errorf("Get: %v, want %q", err, c.err)
			}
		})
	}
}
