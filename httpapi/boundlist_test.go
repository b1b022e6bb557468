package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/valueloop/valueloop"
)

// TestBoundTokenListsItsEnvironment: a token bound to one environment
// (admin or viewer) lists that environment only; every other route of
// another environment answers it 403, so the list must not name them, nor
// their versions and flag counts. An unbound token lists them all. Failed
// before the fix: the staging tokens listed production too.
func TestBoundTokenListsItsEnvironment(t *testing.T) {
	e := MustServer(t)
	stagingAdmin := mustStagingAdmin(t, e)
	stagingViewer, err := e.auth.Create(context.Background(), &valueloop.Token{Name: "staging-viewer", Scope: valueloop.ScopeViewer, Environment: "staging"}, "", "test")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, token string
		want        []string
	}{
		{"staging admin", stagingAdmin, []string{"staging"}},
		{"staging viewer", stagingViewer, []string{"staging"}},
		{"unbound admin", adminSecret, []string{"production", "staging"}},
	} {
		status, body := send(t, e.srv.URL(), "GET", "/api/v1/environments", c.token, "")
		var got struct {
			Environments []struct {
				Key string `json:"key"`
			} `json:"environments"`
		}
		if status != 200 || json.Unmarshal([]byte(body), &got) != nil {
			t.Fatalf("%s: %d %s", c.name, status, body)
		}
		var keys []string
		for _, env := range got.Environments {
			keys = append(keys, env.Key)
		}
		if !slices.Equal(keys, c.want) {
			t.Errorf("%s lists %v, want %v", c.name, keys, c.want)
		}
	}
}

// TestBoundTokenCannotProbeTokens: a token bound to one environment
// revoking a token of another is refused alike whether that token exists or
// not. Failed before the fix: a missing token answered 404, an existing one
// 403.
func TestBoundTokenCannotProbeTokens(t *testing.T) {
	e := MustServer(t)
	stagingAdmin := mustStagingAdmin(t, e)
	tokens, err := e.auth.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var prod int64
	for _, tk := range tokens {
		if tk.Environment == "production" {
			prod = tk.ID
		}
	}
	if prod == 0 {
		t.Fatal("no production token")
	}
	for _, id := range []int64{prod, 999999} {
		status, body := send(t, e.srv.URL(), "DELETE", fmt.Sprintf("/api/v1/tokens/%d", id), stagingAdmin, "")
		if status != 403 {
			t.Errorf("revoking token %d: %d %s, want 403", id, status, body)
		}
	}
}

// TestBoundTokenCannotProbeEnvironments: a token bound to one environment
// asking for a token of another is refused alike whether that environment
// exists or not. Failed before the fix: a missing environment answered
// 400 "no environment", an existing one 403.
func TestBoundTokenCannotProbeEnvironments(t *testing.T) {
	e := MustServer(t)
	stagingAdmin := mustStagingAdmin(t, e)
	for _, env := range []string{"production", "no-such-env"} {
		status, body := send(t, e.srv.URL(), "POST", "/api/v1/tokens", stagingAdmin, `{"name":"x","scope":"evaluate","environment":"`+env+`"}`)
		if status != 403 {
			t.Errorf("token for %s: %d %s, want 403", env, status, body)
		}
	}
}

// TestViewerReadsDeliveryRecords: a viewer token for every environment
// reads the delivery records and sources, as an admin token does
// (docs/security.md: a viewer reads what an admin token of the same
// binding reads); one bound to an environment is refused them, as a bound
// admin is. Failed before the fix: the unbound viewer got 403 "needs an
// admin token for all environments".
func TestViewerReadsDeliveryRecords(t *testing.T) {
	e := mustFullServer(t)
	ctx := context.Background()
	viewer, err := e.auth.Create(ctx, &valueloop.Token{Name: "pm", Scope: valueloop.ScopeViewer}, "", "test")
	if err != nil {
		t.Fatal(err)
	}
	bound, err := e.auth.Create(ctx, &valueloop.Token{Name: "prod-pm", Scope: valueloop.ScopeViewer, Environment: "production"}, "", "test")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/api/v1/delivery/records/deployments", "/api/v1/delivery/sources"} {
		if status, body := send(t, e.srv.URL(), "GET", p, viewer, ""); status != 200 {
			t.Errorf("viewer: GET %s = %d %.200s, want 200", p, status, body)
		}
		if status, body := send(t, e.srv.URL(), "GET", p, bound, ""); status != 403 {
			t.Errorf("bound viewer: GET %s = %d %.200s, want 403", p, status, body)
		}
	}
	if status, body := send(t, e.srv.URL(), "PUT", "/api/v1/delivery/sources/x", viewer, `{"kind":"github"}`); status != 403 {
		t.Errorf("viewer: PUT a source = %d %.200s, want 403", status, body)
	}
}
