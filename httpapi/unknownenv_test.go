package httpapi_test

import (
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
