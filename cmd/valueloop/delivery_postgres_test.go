package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/valueloop/valueloop/delivery"
	"github.com/valueloop/valueloop/dora"
	"github.com/valueloop/valueloop/github"
	"github.com/valueloop/valueloop/postgres/pgtest"
)

// TestDeliveryPostgres: two `serve --database` nodes on one PostgreSQL
// database. A GitHub source added through node A verifies webhooks received
// by node B; the deliveries of a day, spread over both nodes (and one sent
// again to the other node), give both nodes the same DORA figures as on
// SQLite (httpapi's TestWebhooksToDORA).
func TestDeliveryPostgres(t *testing.T) {
	dsn := pgtest.Schema(t)
	a := MustServe(t, "", "--database", dsn)
	b := MustServe(t, "", "--database", dsn)
	if strings.Contains(a.Stderr.String(), "not available") {
		t.Fatalf("serve --database has no delivery metrics:\n%s", a.Stderr.String())
	}
	// The rollback fixture deploys to prod-eu without saying it is
	// production: the environment, created on node A, tells node B.
	for _, env := range []string{`{"key":"prod-eu","name":"Production EU","production":true}`, `{"key":"production-us","name":"Production US","production":true}`} {
		if resp, body := post(t, a.URL+"/api/v1/environments", a.Admin, env); resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
			t.Fatalf("create environment %s: %d %s", env, resp.StatusCode, body)
		}
	}
	waitUntil(t, "node B knows prod-eu", 10*time.Second, func() bool {
		_, body := getWithToken(t, b.URL+"/api/v1/environments", b.Admin)
		return strings.Contains(body, "prod-eu")
	})
	code, out, errOut := a.cli(t, a.Admin, "delivery", "source", "add", "acme", "--kind", "github", "--output", "json")
	if code != 0 {
		t.Fatalf("source add: %d %s%s", code, out, errOut)
	}
	var added struct {
		Secret string `json:"secret"`
	}
	if err := json.Unmarshal([]byte(out), &added); err != nil || added.Secret == "" {
		t.Fatalf("source add printed no secret: %s", out)
	}
	if code, out, errOut := a.cli(t, a.Admin, "delivery", "service", "set", "checkout-api", "--team", "payments", "--repo", "acme-shop/checkout"); code != 0 {
		t.Fatalf("service set: %d %s%s", code, out, errOut)
	}
	hook := func(s *testServer, file, id, secret string) (int, string) {
		t.Helper()
		body, err := os.ReadFile(filepath.Join("..", "..", "github", "testdata", file))
		if err != nil {
			t.Fatal(err)
		}
		return postHook(t, s.URL+"/hooks/github?source=acme", string(body), map[string]string{
			github.EventHeader: strings.SplitN(file, ".", 2)[0], github.DeliveryHeader: id, github.SignatureHeader: github.Sign([]byte(secret), body)})
	}
	if code, body := hook(b, "push.json", "forged", "not-the-secret-0123"); code != http.StatusUnauthorized {
		t.Errorf("forged push to node B: %d %s, want 401", code, body)
	}
	for i, f := range []string{"push.feature.json", "pull_request.closed.merged.json", "push.json",
		"deployment_status.in_progress.json", "deployment_status.success.json", "deployment_status.staging.json",
		"issues.opened.json", "deployment_status.rollback.json", "issues.closed.json"} {
		node := []*testServer{a, b}[i%2]
		if code, body := hook(node, f, "id-"+f, added.Secret); code != http.StatusOK || strings.Contains(body, `"duplicate"`) {
			t.Fatalf("%s to node %d: %d %s", f, i%2, code, body)
		}
	}
	// GitHub redelivers a delivery through the other node: nothing stored.
	if code, body := hook(b, "deployment_status.success.json", "id-deployment_status.success.json", added.Secret); code != http.StatusOK ||
		!strings.Contains(body, `"duplicate": true`) {
		t.Errorf("redelivery to node B: %d %s, want 200 and a duplicate", code, body)
	}
	checkPaymentsReport(t, a, b)
	code, out, _ = b.cli(t, b.Admin, "delivery", "deliveries", "--source", "acme", "--output", "json")
	var log []delivery.DeliveryInfo
	if err := json.Unmarshal([]byte(out), &log); code != 0 || err != nil || len(log) != 9 {
		t.Errorf("deliveries through node B: exit %d, %d deliveries (%v); want the 9 stored through both nodes", code, len(log), err)
	}
}

// checkPaymentsReport checks that both nodes report the payments team's
// DORA figures from the deliveries stored through either of them.
func checkPaymentsReport(t *testing.T, a, b *testServer) {
	t.Helper()
	for name, s := range map[string]*testServer{"A": a, "B": b} {
		url := s.URL + "/api/v1/dora?from=2025-04-07&to=2025-04-08T02:00:00%2B02:00&team=payments"
		// A node whose last timeline build was slow (a loaded machine) answers
		// from it for up to package delivery's MaxStale (30s) while it rebuilds:
		// wait for the records written above rather than read a stale report.
		waitUntil(t, "node "+name+" reports both deployments", 40*time.Second, func() bool {
			code, body := getWithToken(t, url, s.Admin)
			var rep delivery.Report
			return code == http.StatusOK && json.Unmarshal([]byte(body), &rep) == nil &&
				len(rep.Services) == 1 && rep.Services[0].Total.Deployments == 2
		})
		code, body := getWithToken(t, url, s.Admin)
		if code != http.StatusOK {
			t.Fatalf("node %s: dora: %d %s", name, code, body)
		}
		var rep delivery.Report
		if err := json.Unmarshal([]byte(body), &rep); err != nil {
			t.Fatal(err)
		}
		if len(rep.Services) != 1 || rep.Services[0].Name != "checkout-api" || rep.Services[0].Team != "payments" {
			t.Fatalf("node %s: report: %s", name, body)
		}
		m := rep.Services[0].Total
		if m.Deployments != 2 || m.LeadTime.Count != 3 || m.LeadTime.Median != 9*time.Hour+39*time.Minute+46*time.Second ||
			m.Recovery.Median != time.Hour+12*time.Minute+30*time.Second || m.ChangeFailureRate != (dora.Rate{Num: 1, Den: 2}) {
			t.Errorf("node %s: %d deployments, lead %+v, recovery %+v, change failure rate %+v", name, m.Deployments, m.LeadTime, m.Recovery, m.ChangeFailureRate)
		}
	}
}

// getWithToken GETs url with a bearer token: the status and the body.
func getWithToken(t *testing.T, url, token string) (int, string) {
	t.Helper()
	resp, answer := request(t, http.MethodGet, url, "", map[string]string{"Authorization": "Bearer " + token})
	return resp.StatusCode, answer
}
