package httpapi_test

import (
	"encoding/json"
	"net/url"
	"testing"
)

// TestApplyFlagdRefusesUnknownParams: the parameters of a flagd apply are
// read strictly, as the value file's are (TestValueUnknownParams). A
// misspelt or misvalued dryRun was read as absent, so the file meant to be
// planned was applied for real; a misvalued prune silently kept flags.
// Each is now a 400 naming the parameter, with nothing applied; the
// spelling before camelCase (dry_run) still reads.
func TestApplyFlagdRefusesUnknownParams(t *testing.T) {
	e := MustServer(t)
	file := `{"flags":{"kill":{"state":"DISABLED","variants":{"on":true,"off":false},"defaultVariant":"on"}}}`
	for _, tc := range []struct{ query, field string }{
		{"dryrun=true", "dryrun"},
		{"dry-run=true", "dry-run"},
		{"dryRun=1", "dryRun"},
		{"dryRun=yes", "dryRun"},
		{"dry_run=TRUE", "dry_run"},
		{"dryRun=true&prune=1", "prune"},
		{"dryRun=true&purne=true", "purne"},
	} {
		resp, body := e.do(t, call{method: "PUT", path: "/api/v1/environments/production/flagd?" + tc.query, token: adminSecret, body: file})
		var p struct {
			Errors []struct{ Field string } `json:"errors"`
		}
		json.Unmarshal([]byte(body), &p)
		if resp.StatusCode != 400 || len(p.Errors) != 1 || p.Errors[0].Field != tc.field {
			t.Errorf("?%s: %d %s; want 400 naming %s", url.PathEscape(tc.query), resp.StatusCode, body, tc.field)
		}
		if v := e.flags.Live("production").Version; v != 1 {
			t.Fatalf("?%s applied the file: version %d, want 1", tc.query, v)
		}
	}
	for _, q := range []string{"dryRun=true", "dry_run=true", "dryRun=true&prune=false"} {
		if resp, body := e.do(t, call{method: "PUT", path: "/api/v1/environments/production/flagd?" + q, token: adminSecret, body: file}); resp.StatusCode != 200 {
			t.Errorf("?%s: %d %s, want 200", q, resp.StatusCode, body)
		}
	}
	if v := e.flags.Live("production").Version; v != 1 {
		t.Errorf("a dry run applied the file: version %d, want 1", v)
	}
}

// TestListParamsStrict: the audit trail's and the rollouts' lists refuse a
// parameter they do not take and a malformed active, as the delivery and
// value lists do: ?flg=checkout or ?active=1 listed everything, which reads
// as an answer to the question asked.
func TestListParamsStrict(t *testing.T) {
	e := withRollouts(t)
	for _, tc := range []struct{ path, field string }{
		{"/api/v1/audit?flg=checkout", "flg"},
		{"/api/v1/audit?environmnet=production", "environmnet"},
		{"/api/v1/environments/production/rollouts?flg=checkout", "flg"},
		{"/api/v1/environments/production/rollouts?active=1", "active"},
		{"/api/v1/environments/production/rollouts?active=yes", "active"},
		{"/api/v1/environments/production/rollouts?before=x", "before"},
		{"/api/v1/environments/production/rollouts?before=0", "before"},
	} {
		resp, body := e.do(t, call{method: "GET", path: tc.path, token: adminSecret})
		var p struct {
			Errors []struct{ Field string } `json:"errors"`
		}
		json.Unmarshal([]byte(body), &p)
		if resp.StatusCode != 400 || len(p.Errors) != 1 || p.Errors[0].Field != tc.field {
			t.Errorf("GET %s: %d %.300s; want 400 naming %s", tc.path, resp.StatusCode, body, tc.field)
		}
	}
	for _, path := range []string{
		"/api/v1/audit?environment=production&flag=kill&actor=root&before=10&limit=5",
		"/api/v1/environments/production/rollouts?flag=kill&active=true&limit=5&before=9",
		"/api/v1/environments/production/rollouts?active=false",
	} {
		if resp, body := e.do(t, call{method: "GET", path: path, token: adminSecret}); resp.StatusCode != 200 {
			t.Errorf("GET %s: %d %.300s, want 200", path, resp.StatusCode, body)
		}
	}
}
