package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/delivery"
	"github.com/valueloop/valueloop/dora"
	"github.com/valueloop/valueloop/github"
	"github.com/valueloop/valueloop/httpapi"
	"github.com/valueloop/valueloop/valuelooptest"
)

const (
	hookSecret  = "webhook-secret-for-tests-0123"
	gitlabToken = "gitlab-token-for-tests-0123"
)

// mustDeliveryServer is MustServer with delivery metrics served, the
// production environments prod-eu (as GitHub's fixtures name it) and
// production-us, and one
// GitHub and one GitLab source.
// now is the service's clock (nil: time.Now).
func mustDeliveryServer(t testing.TB, now func() time.Time) (*env, *delivery.Service) {
	t.Helper()
	e := MustServer(t)
	ctx := context.Background()
	for _, env := range []valueloop.Environment{{Key: "prod-eu", Name: "Production EU", Production: true}, {Key: "production-us", Production: true}} {
		if err := e.flags.EnsureEnvironment(ctx, env, "test"); err != nil {
			t.Fatal(err)
		}
	}
	svc := delivery.New(e.db)
	svc.GaugeInterval = 20 * time.Millisecond
	if now != nil {
		svc.Now = now
	}
	svc.Environments = func() []valueloop.Environment {
		var out []valueloop.Environment
		for _, l := range e.flags.Environments() {
			out = append(out, l.Environment)
		}
		return out
	}
	if err := svc.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	// A second server on the same store, with delivery metrics.
	srv := httpapi.NewServer(e.auth, e.flags, e.db, nil)
	srv.Delivery = svc
	openServer(t, srv)
	d := *e
	d.srv = srv
	for _, src := range []string{`{"kind":"github","secret":"` + hookSecret + `"}`, `{"kind":"gitlab","secret":"` + gitlabToken + `"}`} {
		name := "acme-" + map[bool]string{true: "gh", false: "gl"}[strings.Contains(src, "github")]
		if resp, body := d.do(t, call{method: "PUT", path: "/api/v1/delivery/sources/" + name, token: adminSecret, body: src}); resp.StatusCode != 200 {
			t.Fatalf("put source %s: %d %s", name, resp.StatusCode, body)
		}
	}
	return &d, svc
}

// expect sends c and fails the test unless the answer has status; it
// returns the body.
func (e *env) expect(t *testing.T, c call, status int) string {
	t.Helper()
	resp, body := e.do(t, c)
	if resp.StatusCode != status {
		t.Fatalf("%s %s: got %d %s, want %d", c.method, c.path, resp.StatusCode, body, status)
	}
	return body
}

func readTestdata(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", path))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func githubCall(body, event, id string) call {
	return call{method: "POST", path: "/hooks/github", body: body, headers: map[string]string{
		github.EventHeader: event, github.DeliveryHeader: id, github.SignatureHeader: github.Sign([]byte(hookSecret), []byte(body))}}
}

// deliveryCount returns how many deliveries the server stored.
func deliveryCount(t *testing.T, e *env) int {
	t.Helper()
	_, body := e.do(t, call{method: "GET", path: "/api/v1/delivery/deliveries?limit=1000", token: adminSecret})
	var out struct {
		Deliveries []delivery.DeliveryInfo `json:"deliveries"`
	}
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		t.Fatalf("deliveries: %v: %s", err, body)
	}
	return len(out.Deliveries)
}

// TestGitHubWebhooks sends the fixtures, exactly as GitHub sends them,
// through the real endpoint.
func TestGitHubWebhooks(t *testing.T) {
	e, _ := mustDeliveryServer(t, nil)
	push := readTestdata(t, "github/testdata/push.json")
	forged := githubCall(push, "push", "forged-1")
	forged.headers[github.SignatureHeader] = github.Sign([]byte("not-the-secret-0123456"), []byte(push))
	unsigned := githubCall(push, "push", "unsigned-1")
	delete(unsigned.headers, github.SignatureHeader)
	altered := githubCall(push, "push", "altered-1")
	altered.body = strings.Replace(push, "Validate cart totals", "Skip cart totals", 1)
	named := githubCall(push, "push", "named-1")
	named.path += "?source=acme-gl" // a GitLab source cannot vouch for GitHub
	form := githubCall("payload="+push, "push", "form-1")
	form.headers["Content-Type"] = "application/x-www-form-urlencoded"
	cases := []struct {
		name   string
		call   call
		status int
		want   string // in the body
		stored int    // deliveries stored after the call
	}{
		{"push", githubCall(push, "push", "d-1"), 200, `"changes": 2`, 1},
		{"redelivery", githubCall(push, "push", "d-1"), 200, `"duplicate": true`, 1},
		{"forged signature", forged, 401, "does not match the body", 1},
		{"no signature", unsigned, 401, "X-Hub-Signature-256", 1},
		{"altered body", altered, 401, "does not match the body", 1},
		{"source of another forge", named, 401, `no github webhook source named \"acme-gl\"`, 1},
		{"form-encoded", form, 415, "application/json", 1},
		{"malformed", githubCall(`{"ref": "refs/heads/main", "commits": [{"id": 7}]}`, "push", "bad-1"), 400, `"field": "commits`, 1},
		{"not JSON", githubCall(`{"ref": `, "push", "bad-2"), 400, `"code": "invalid"`, 1},
		{"missing event header", githubCall(push, "", "bad-3"), 400, "X-GitHub-Event", 1},
		{"unknown event type", githubCall(`{"action":"completed"}`, "check_suite", "u-1"), 202, "check_suite events are not used", 2},
		{"ping", githubCall(readTestdata(t, "github/testdata/ping.json"), "ping", "p-1"), 202, "the webhook is set up", 3},
		{"merged pull request", githubCall(readTestdata(t, "github/testdata/pull_request.closed.merged.json"), "pull_request", "d-2"), 200, `"changes": 1`, 4},
		{"deployment success", githubCall(readTestdata(t, "github/testdata/deployment_status.success.json"), "deployment_status", "d-3"), 200, `"deployments": 1`, 5},
		{"incident opened", githubCall(readTestdata(t, "github/testdata/issues.opened.json"), "issues", "d-4"), 200, `"incidents": 1`, 6},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, body := e.do(t, c.call)
			if resp.StatusCode != c.status || !strings.Contains(body, c.want) {
				t.Errorf("got %d %s\nwant %d with %s", resp.StatusCode, body, c.status, c.want)
			}
			if n := deliveryCount(t, e); n != c.stored {
				t.Errorf("%d deliveries stored, want %d", n, c.stored)
			}
		})
	}
}

// TestGitHubReplayUnderNewID: X-GitHub-Delivery is not covered by the
// signature (X-Hub-Signature-256 signs the body only), so anyone who saw
// a signed delivery (a log, a proxy) can send its body again under a new
// ID. Real payloads (github/testdata/reference) replayed so are answered
// as duplicates and change nothing. Failed before the fix: each replay
// was stored again, another deployment or change counted.
func TestGitHubReplayUnderNewID(t *testing.T) {
	e, svc := mustDeliveryServer(t, nil)
	for _, f := range []string{"deployment_status.success.json", "pull_request.closed.merged.json", "pull_request.closed.merged.2.json"} {
		body := readTestdata(t, "github/testdata/reference/"+f)
		event := strings.SplitN(f, ".", 2)[0]
		if out := e.expect(t, githubCall(body, event, "guid-"+f), 200); strings.Contains(out, `"duplicate"`) {
			t.Fatalf("%s: %s, want it stored", f, out)
		}
		n := deliveryCount(t, e)
		data, _, err := svc.Store.DeliveryData(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if out := e.expect(t, githubCall(body, event, "replayed-"+f), 200); !strings.Contains(out, `"duplicate": true`) {
			t.Errorf("%s under a new %s: %s, want a duplicate", f, github.DeliveryHeader, out)
		}
		after, _, err := svc.Store.DeliveryData(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if m := deliveryCount(t, e); m != n || len(after.Changes) != len(data.Changes) || len(after.Deployments) != len(data.Deployments) {
			t.Errorf("%s replayed: %d deliveries, %d changes, %d deployments; want %d, %d, %d as before", f,
				m, len(after.Changes), len(after.Deployments), n, len(data.Changes), len(data.Deployments))
		}
	}
}

func TestGitLabWebhooks(t *testing.T) {
	e, _ := mustDeliveryServer(t, nil)
	push := readTestdata(t, "gitlab/testdata/push.json")
	hook := func(token, uuid string) call {
		return call{method: "POST", path: "/hooks/gitlab", body: push, headers: map[string]string{
			"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": token, "X-Gitlab-Event-UUID": uuid}}
	}
	for _, c := range []struct {
		name   string
		call   call
		status int
		want   string
	}{
		{"push", hook(gitlabToken, "u-1"), 200, `"changes": 2`},
		{"retry", hook(gitlabToken, "u-1"), 200, `"duplicate": true`},
		{"wrong token", hook("wrong-token-0123456789", "u-2"), 401, "does not match"},
		{"GitHub secret", hook(hookSecret, "u-3"), 401, "does not match"},
		{"no token", hook("", "u-4"), 401, "X-Gitlab-Token"},
		{"ignored", call{method: "POST", path: "/hooks/gitlab", body: readTestdata(t, "gitlab/testdata/note.json"),
			headers: map[string]string{"X-Gitlab-Event": "Note Hook", "X-Gitlab-Token": gitlabToken}}, 202, "Note Hook events are not used"},
		// GitLab gives every event one request causes for a hook the same
		// X-Gitlab-Event-UUID (and recycles it when a webhook's receiver
		// calls back): another event under the push's UUID is no redelivery.
		{"other event, same event UUID", call{method: "POST", path: "/hooks/gitlab", body: readTestdata(t, "gitlab/testdata/merge_request.merge.json"),
			headers: map[string]string{"X-Gitlab-Event": "Merge Request Hook", "X-Gitlab-Token": gitlabToken, "X-Gitlab-Event-UUID": "u-1"}}, 200, `"changes": 1`},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, body := e.do(t, c.call)
			if resp.StatusCode != c.status || !strings.Contains(body, c.want) {
				t.Errorf("got %d %s\nwant %d with %s", resp.StatusCode, body, c.status, c.want)
			}
		})
	}
	if n := deliveryCount(t, e); n != 3 {
		t.Errorf("%d deliveries stored, want the push, the ignored note and the merge", n)
	}
}

// TestWebhooksToDORA: the GitHub fixtures of one day, received through
// the endpoint, give the figures the timeline gives them.
func TestWebhooksToDORA(t *testing.T) {
	// Gauges cover the 30 days up to the service's clock.
	e, _ := mustDeliveryServer(t, func() time.Time { return time.Date(2025, 4, 20, 0, 0, 0, 0, time.UTC) })
	resp, body := e.do(t, call{method: "PUT", path: "/api/v1/delivery/services/checkout-api", token: adminSecret,
		body: `{"team":"payments","sources":[{"repo":"acme-shop/checkout"}]}`})
	if resp.StatusCode != 200 {
		t.Fatalf("put service: %d %s", resp.StatusCode, body)
	}
	for i, f := range []string{"push.feature.json", "pull_request.closed.merged.json", "pull_request_review.submitted.json", "push.json",
		"deployment_status.in_progress.json", "deployment_status.success.json", "deployment_status.staging.json",
		"issues.opened.json", "deployment_status.rollback.json", "issues.closed.json"} {
		event := strings.SplitN(f, ".", 2)[0]
		if resp, body := e.do(t, githubCall(readTestdata(t, "github/testdata/"+f), event, "id-"+f)); resp.StatusCode >= 300 {
			t.Fatalf("%d %s: %d %s", i, f, resp.StatusCode, body)
		}
	}
	resp, body = e.do(t, call{method: "GET", path: "/api/v1/dora?from=2025-04-07&to=2025-04-08T02:00:00%2B02:00&team=payments", token: adminSecret})
	if resp.StatusCode != 200 {
		t.Fatalf("dora: %d %s", resp.StatusCode, body)
	}
	// Durations are seconds: a lead time of 9h39m46s is 34786.
	if !strings.Contains(body, `"median": 34786,`) || !strings.Contains(body, `"leadTime": {`) {
		t.Errorf("dora: want camelCase names and durations in seconds, got %s", body)
	}
	var rep delivery.Report
	if err := json.Unmarshal([]byte(body), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Services) != 1 || rep.Services[0].Team != "payments" || !rep.To.Equal(time.Date(2025, 4, 8, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("report: %s", body)
	}
	m := rep.Services[0].Total
	if m.LeadTime.Count != 3 || m.LeadTime.Median != 9*time.Hour+39*time.Minute+46*time.Second ||
		m.Recovery.Median != time.Hour+12*time.Minute+30*time.Second || m.ChangeFailureRate != (dora.Rate{Num: 1, Den: 2}) {
		t.Errorf("lead %+v, recovery %+v, change failure rate %+v", m.LeadTime, m.Recovery, m.ChangeFailureRate)
	}
	// Pull request 214: first commit 04-03 13:20 (push.feature.json),
	// opened 04-04 10:00, reviewed 04-07 09:02:15, merged 12:31:04,
	// in production 16:52:30. The two pushed commits have a deploy stage
	// only.
	b := m.LeadTimeBreakdown
	sec := func(s int) time.Duration { return time.Duration(s) * time.Second }
	if b.Coding != (dora.Stage{Count: 1, Median: sec(74400), P85: sec(74400)}) || // 20h40m
		b.Pickup != (dora.Stage{Count: 1, Median: sec(255735), P85: sec(255735)}) || // 71h02m15s
		b.Review != (dora.Stage{Count: 1, Median: sec(12529), P85: sec(12529)}) || // 3h28m49s
		b.Deploy.Count != 3 {
		t.Errorf("lead time breakdown %+v", b)
	}
	_, body = e.do(t, call{method: "GET", path: "/api/v1/delivery/deployments?service=checkout-api&from=2025-04-01&to=2025-05-01", token: adminSecret})
	if !strings.Contains(body, `"sha": "9d8c7b6a5f4e3d2c1b0a99887766554433221100"`) || !strings.Contains(body, `"rolledBack": true`) {
		t.Errorf("deployments with their changes: %s", body)
	}
	// Gauges: the two deployments of 04-07 in the 30 days to 04-20.
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, metrics := e.do(t, call{method: "GET", path: "/metrics"})
		if strings.Contains(metrics, `valueloop_delivery_deployments_per_day{service="checkout-api",team="payments"} 0.0666`) &&
			strings.Contains(metrics, `valueloop_delivery_change_failure_ratio{service="checkout-api",team="payments"} 0.5`) &&
			strings.Contains(metrics, `valueloop_delivery_webhooks_total{forge="github",outcome="stored"} 10`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("gauges not in /metrics:\n%s", valuelooptest.GrepLines(metrics, "valueloop_delivery"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestDeliveryAPI(t *testing.T) {
	e, _ := mustDeliveryServer(t, nil)
	ctx := context.Background()
	bound, err := e.auth.Create(ctx, &valueloop.Token{Name: "prod-admin", Scope: valueloop.ScopeAdmin, Environment: "production"}, "", "test")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name          string
		call          call
		status        int
		want, notWant string
	}{
		{"record deployment", call{method: "POST", path: "/api/v1/delivery/deployments", token: adminSecret,
			body: `{"service":"shop","environment":"production","sha":"abcdef0","status":"success","at":"2026-01-05T10:00:00+01:00"}`}, 201, `"at": "2026-01-05T09:00:00Z"`, ""},
		{"idempotent", call{method: "POST", path: "/api/v1/delivery/deployments", token: adminSecret, headers: map[string]string{"Idempotency-Key": "k1"},
			body: `{"service":"shop","environment":"production","status":"success"}`}, 201, `"production": true`, ""},
		{"idempotent again", call{method: "POST", path: "/api/v1/delivery/deployments", token: adminSecret, headers: map[string]string{"Idempotency-Key": "k1"},
			body: `{"service":"shop","environment":"production","status":"success"}`}, 200, `"duplicate": true`, ""},
		{"unknown environment", call{method: "POST", path: "/api/v1/delivery/deployments", token: adminSecret,
			body: `{"service":"shop","environment":"eu-west","status":"success"}`}, 400, `"field": "production"`, ""},
		{"bad status", call{method: "POST", path: "/api/v1/delivery/deployments", token: adminSecret,
			body: `{"service":"shop","environment":"production","status":"ok"}`}, 400, `"field": "deployments[0].status"`, ""},
		{"deployment SHA not a commit", call{method: "POST", path: "/api/v1/delivery/deployments", token: adminSecret,
			body: `{"service":"shop","environment":"production","sha":"ABC","status":"success"}`}, 400, `"field": "sha"`, ""},
		{"incident cause not a commit", call{method: "POST", path: "/api/v1/delivery/incidents", token: adminSecret,
			body: `{"id":"INC-X","service":"shop","causeSha":"main"}`}, 400, `"field": "causeSha"`, ""},
		{"unknown field", call{method: "POST", path: "/api/v1/delivery/deployments", token: adminSecret,
			body: `{"service":"shop","environment":"production","status":"success","colour":"red"}`}, 400, "colour", ""},
		{"environment-bound admin, its environment", call{method: "POST", path: "/api/v1/delivery/deployments", token: bound,
			body: `{"service":"shop","environment":"production","status":"success"}`}, 201, "", ""},
		{"environment-bound admin, another", call{method: "POST", path: "/api/v1/delivery/deployments", token: bound,
			body: `{"service":"shop","environment":"prod-eu","status":"success"}`}, 403, "", ""},
		{"environment-bound admin, sources", call{method: "GET", path: "/api/v1/delivery/sources", token: bound}, 403, "", ""},
		// Changes and incidents move every environment's figures: a token
		// bound to one environment once opened, overwrote and resolved
		// incidents and moved production's change failure rate.
		{"environment-bound admin, change", call{method: "POST", path: "/api/v1/delivery/changes", token: bound,
			body: `{"service":"shop","sha":"DEF0000","authoredAt":"2026-01-05T08:00:00Z"}`}, 403, "all environments", ""},
		{"environment-bound admin, incident", call{method: "POST", path: "/api/v1/delivery/incidents", token: bound,
			body: `{"id":"INC-1","service":"shop","title":"x","openedAt":"2026-01-05T11:00:00Z"}`}, 403, "all environments", ""},
		{"environment-bound admin, resolve", call{method: "POST", path: "/api/v1/delivery/incidents/INC-1/resolve", token: bound}, 403, "all environments", ""},
		{"record change", call{method: "POST", path: "/api/v1/delivery/changes", token: adminSecret,
			body: `{"service":"shop","sha":"ABCDEF0","authoredAt":"2026-01-05T08:00:00Z","mergedAt":"2026-01-05T08:30:00Z","flags":["new-checkout"]}`}, 201, `"flagLinks": 1`, ""},
		{"open incident", call{method: "POST", path: "/api/v1/delivery/incidents", token: adminSecret,
			body: `{"id":"INC-1","service":"shop","title":"slow","openedAt":"2026-01-05T11:00:00Z"}`}, 201, `"id": "INC-1"`, ""},
		{"resolve incident", call{method: "POST", path: "/api/v1/delivery/incidents/INC-1/resolve", token: adminSecret,
			body: `{"at":"2026-01-05T11:45:00Z"}`}, 201, `"resolvedAt": "2026-01-05T11:45:00Z"`, ""},
		{"resolve without body", call{method: "POST", path: "/api/v1/delivery/incidents/INC-1/resolve", token: adminSecret}, 201, `"resolvedAt"`, ""},
		{"resolve unknown", call{method: "POST", path: "/api/v1/delivery/incidents/INC-9/resolve", token: adminSecret}, 404, "INC-9", ""},
		{"sources hide secrets", call{method: "GET", path: "/api/v1/delivery/sources", token: adminSecret}, 200, `"name": "acme-gh"`, hookSecret},
		{"new source gets a secret", call{method: "PUT", path: "/api/v1/delivery/sources/new", token: adminSecret, body: `{"kind":"github"}`}, 200, `"secret": "`, ""},
		{"short secret", call{method: "PUT", path: "/api/v1/delivery/sources/x", token: adminSecret, body: `{"kind":"github","secret":"short"}`}, 400, `"field": "secret"`, ""},
		{"clashing service", call{method: "PUT", path: "/api/v1/delivery/services/b", token: adminSecret, body: `{"sources":[{"repo":"acme/a"},{"repo":"ACME/a"}]}`}, 400, "already the source", ""},
		{"type error names the element", call{method: "PUT", path: "/api/v1/delivery/services/b", token: adminSecret, body: `{"sources":[{"repo":"acme/b"},{"repo":7}]}`}, 400, `"detail": "sources[1].repo: must be a string, not a number"`, "float64"},
		{"service name mismatch", call{method: "PUT", path: "/api/v1/delivery/services/b", token: adminSecret, body: `{"name":"c","sources":[{"repo":"acme/b"}]}`}, 400, `"field": "name"`, ""},
		{"list services", call{method: "GET", path: "/api/v1/delivery/services", token: adminSecret}, 200, `"uncatalogued": [`, ""},
		{"dora", call{method: "GET", path: "/api/v1/dora?from=2026-01-05&to=2026-01-06&bucket=day&service=shop", token: adminSecret}, 200, `"deployments": 1`, ""},
		{"dora bad bucket", call{method: "GET", path: "/api/v1/dora?bucket=year", token: adminSecret}, 400, `"field": "bucket"`, ""},
		{"dora bad since", call{method: "GET", path: "/api/v1/dora?since=soon", token: adminSecret}, 400, `"field": "since"`, ""},
		{"dora unknown parameter", call{method: "GET", path: "/api/v1/dora?services=shop", token: adminSecret}, 400, `"field": "services"`, ""},
		// The deployment at 2026-01-05T09:00Z is on Monday evening in
		// Auckland (22:00 NZDT) and on Monday 01:00 in Los Angeles: not on
		// its Sunday 01-04, whose midnights are 08:00Z.
		{"dora in a zone", call{method: "GET", path: "/api/v1/dora?from=2026-01-05&to=2026-01-06&bucket=day&service=shop&tz=Pacific/Auckland", token: adminSecret}, 200,
			`"start": "2026-01-05T00:00:00+13:00"`, ""},
		{"dora in a zone, its Sunday", call{method: "GET", path: "/api/v1/dora?from=2026-01-04&to=2026-01-05&bucket=day&service=shop&tz=America/Los_Angeles", token: adminSecret}, 200,
			`"timeZone": "America/Los_Angeles"`, `"deployments": 1`},
		{"dora bad tz", call{method: "GET", path: "/api/v1/dora?tz=Mars/Olympus", token: adminSecret}, 400, `"field": "tz"`, ""},
		{"dora empty tz", call{method: "GET", path: "/api/v1/dora?tz=", token: adminSecret}, 400, `"field": "tz"`, ""},
		{"dora unknown service", call{method: "GET", path: "/api/v1/dora?service=nope", token: adminSecret}, 404, "nope", ""},
		// Each name is looked up, and repeats were found comparing each
		// name with all before it (a second of CPU for a 60 KiB query).
		{"dora too many services", call{method: "GET", path: "/api/v1/dora?service=" + names("s", 1001), token: adminSecret}, 400, `"field": "service"`, ""},
		{"dora too many teams", call{method: "GET", path: "/api/v1/dora?team=" + names("t", 1001), token: adminSecret}, 400, `"field": "team"`, ""},
		{"dora repeated names count once", call{method: "GET", path: "/api/v1/dora?service=" + strings.Repeat("shop,", 2000), token: adminSecret}, 200, `"deployments"`, ""},
		{"loop", call{method: "GET", path: "/api/v1/environments/production/flags/new-checkout/loop", token: adminSecret}, 200, `"sha": "abcdef0"`, ""},
		{"loop unknown environment", call{method: "GET", path: "/api/v1/environments/nope/flags/new-checkout/loop", token: adminSecret}, 404, "nope", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, body := e.do(t, c.call)
			if resp.StatusCode != c.status || !strings.Contains(body, c.want) || (c.notWant != "" && strings.Contains(body, c.notWant)) {
				t.Errorf("got %d %s\nwant %d with %q", resp.StatusCode, body, c.status, c.want)
			}
		})
	}
	audit, _ := e.db.Audit(ctx, valueloop.AuditFilter{Target: "new"})
	if len(audit) != 1 || audit[0].Action != "delivery.source.put" || audit[0].Actor != "root" {
		t.Errorf("audit of the new source: %+v", audit)
	}
}

// TestDeliveryNotServed: without a delivery service the routes answer 404
// with a reason.
func TestDeliveryNotServed(t *testing.T) {
	e := MustServer(t)
	for _, c := range []call{
		{method: "POST", path: "/hooks/github", body: `{}`},
		{method: "GET", path: "/api/v1/dora", token: adminSecret},
	} {
		resp, body := e.do(t, c)
		if resp.StatusCode != 404 || !strings.Contains(body, "does not serve delivery metrics") {
			t.Errorf("%s %s: %d %s", c.method, c.path, resp.StatusCode, body)
		}
	}
}

// incidentSourceServer is a delivery server with the incident source name
// of kind under secret, and the production deployment D1 of service shop
// at 2026-03-04 18:00 for its incidents to link to.
func incidentSourceServer(t *testing.T, kind, name, secret string) *env {
	t.Helper()
	e, _ := mustDeliveryServer(t, nil)
	e.expect(t, call{method: "PUT", path: "/api/v1/delivery/sources/" + name, token: adminSecret, body: `{"kind":"` + kind + `","secret":"` + secret + `"}`}, 200)
	e.expect(t, call{method: "POST", path: "/api/v1/delivery/deployments", token: adminSecret,
		body: `{"id":"D1","service":"shop","environment":"production","sha":"aaaaaaa","status":"success","at":"2026-03-04T18:00:00Z"}`}, 201)
	return e
}

// shopMetrics is what the DORA report of 2026-03-04 says of service shop.
func shopMetrics(t *testing.T, e *env) dora.Metrics {
	t.Helper()
	_, body := e.do(t, call{method: "GET", path: "/api/v1/dora?from=2026-03-04&to=2026-03-05&service=shop", token: adminSecret})
	var rep delivery.Report
	if err := json.Unmarshal([]byte(body), &rep); err != nil || len(rep.Services) != 1 {
		t.Fatalf("dora: %v: %s", err, body)
	}
	return rep.Services[0].Total
}

// names is n distinct names with prefix, comma-separated.
func names(prefix string, n int) string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d", prefix, i)
	}
	return strings.Join(out, ",")
}
