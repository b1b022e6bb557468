package httpapi_test

import (
	"context"
	"strings"
	"testing"

	"github.com/valueloop/valueloop"
)

// TestUnknownEnvironmentListed: the event, stream and OFREP routes answer
// an environment that does not exist by naming it and, to a token bound to
// no environment (which may know every name), the environments there are,
// as the environment's admin routes do; they answered a bare
// "environment \"staging\" not found", leaving the fix to guess. A token
// bound to an environment is told no other's name.
func TestUnknownEnvironmentListed(t *testing.T) {
	e := MustServer(t)
	addEnvironment(t, e.flags, valueloop.Environment{Key: "development", Name: "Development"}, "")
	header := map[string]string{"Valueloop-Environment": "staging"}
	cases := []struct {
		name string
		c    call
	}{
		{"events", call{method: "POST", path: "/api/v1/events", token: adminSecret, headers: header,
			body: `{"events":[{"name":"signup","targetingKey":"u1"}]}`}},
		{"flag stream", call{method: "GET", path: "/api/v1/environments/staging/stream", token: adminSecret}},
		{"ofrep", call{method: "POST", path: "/ofrep/v1/evaluate/flags", token: adminSecret, headers: header, body: `{"context":{"targetingKey":"u1"}}`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, body := e.do(t, c.c)
			if resp.StatusCode != 404 || !strings.Contains(body, `environment \"staging\" not found; the environments are development, production`) {
				t.Errorf("%s %s: %d %s; want 404 naming staging and the environments", c.c.method, c.c.path, resp.StatusCode, body)
			}
		})
	}
}

// TestUnknownEnvironmentBoundToken: a token bound to an environment that is
// not live on this node (created a moment ago on a peer, whose live sets
// this node has not yet loaded) is told that its environment is not found
// and no other environment's name, on every route that answers an
// unknown environment. The admin routes (liveEnv, adminEnv, the flagd
// export) listed every environment, taking any token let through for
// granted as unbound.
func TestUnknownEnvironmentBoundToken(t *testing.T) {
	e := MustServer(t)
	const secret = "vl_bound_staging_admin_token_for_test_0001"
	if _, err := e.auth.Create(context.Background(), &valueloop.Token{Name: "staging-admin", Scope: valueloop.ScopeAdmin, Environment: "staging"}, secret, "test"); err != nil {
		t.Fatal(err)
	}
	header := map[string]string{"Valueloop-Environment": "staging"}
	cases := []call{
		{method: "POST", path: "/api/v1/events", token: secret, headers: header, body: `{"events":[{"name":"signup","targetingKey":"u1"}]}`},
		{method: "GET", path: "/api/v1/environments/staging/stream", token: secret},
		{method: "POST", path: "/ofrep/v1/evaluate/flags", token: secret, body: `{"context":{"targetingKey":"u1"}}`},
		{method: "GET", path: "/api/v1/environments/staging/flags", token: secret},
		{method: "GET", path: "/api/v1/environments/staging/flagd", token: secret},
		{method: "GET", path: "/api/v1/environments/staging/metrics", token: secret},
		{method: "GET", path: "/api/v1/environments/staging/rollouts", token: secret},
	}
	for _, c := range cases {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			resp, body := e.do(t, c)
			if resp.StatusCode != 404 || !strings.Contains(body, `environment \"staging\" not found`) || strings.Contains(body, "production") {
				t.Errorf("%d %s; want 404 naming staging and no other environment", resp.StatusCode, body)
			}
		})
	}
}
