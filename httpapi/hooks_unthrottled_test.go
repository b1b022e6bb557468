package httpapi_test

import (
	"testing"
	"time"

	"github.com/valueloop/valueloop/github"
	"github.com/valueloop/valueloop/gitlab"
	"github.com/valueloop/valueloop/httpapi"
	"github.com/valueloop/valueloop/opsgenie"
	"github.com/valueloop/valueloop/pagerduty"
)

// TestHooksNotThrottled: webhook deliveries are not held to the per-client
// failure limit, either way. Forges deliver from a few shared addresses:
// counting one misconfigured hook's 401s against its address would refuse
// every other hook's good deliveries from there (GitHub does not redeliver
// on its own; GitLab disables a hook after repeated failures), and a
// throttle buys nothing against secrets of at least 16 characters. So bad
// webhook credentials neither throttle their client nor are refused for
// its failed tokens; the webhook metric counts them.
func TestHooksNotThrottled(t *testing.T) {
	const body = `{"zen":"Keep it logically awesome.","hook_id":1}`
	bad := []byte("not-the-secret-0123456")
	for _, tc := range []struct {
		kind    string
		headers map[string]string
	}{
		{"github", map[string]string{github.EventHeader: "ping", github.DeliveryHeader: "d-1", github.SignatureHeader: github.Sign(bad, []byte(body))}},
		{"gitlab", map[string]string{gitlab.EventHeader: "Push Hook", gitlab.TokenHeader: "not-the-token-0123456"}},
		{"pagerduty", map[string]string{pagerduty.SignatureHeader: pagerduty.Sign(bad, []byte(body))}},
		{"opsgenie", map[string]string{opsgenie.TokenHeader: "not-the-token-0123456"}},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			e, svc := mustDeliveryServer(t, nil)
			srv := limitedServer(t, e, httpapi.Limits{AuthFailures: 3, AuthWindow: time.Hour, ThrottleLoopback: true}, svc)
			hook := call{method: "POST", path: "/hooks/" + tc.kind, body: body, headers: map[string]string{"Content-Type": "application/json"}}
			for k, v := range tc.headers {
				hook.headers[k] = v
			}
			for i := range 5 {
				if resp, got := doCall(t, srv.URL(), hook); resp.StatusCode != 401 {
					t.Errorf("bad delivery %d: %d %s, want 401", i, resp.StatusCode, got)
				}
			}
			good := githubCall(body, "ping", "d-2")
			good.headers["Content-Type"] = "application/json"
			if resp, got := doCall(t, srv.URL(), good); resp.StatusCode != 202 {
				t.Errorf("a well-signed delivery after bad ones: %d %s, want 202", resp.StatusCode, got)
			}
			if resp, _ := doCall(t, srv.URL(), call{method: "GET", path: "/api/v1/environments", token: adminSecret}); resp.StatusCode != 200 {
				t.Errorf("a good token after bad deliveries: %d, want 200", resp.StatusCode)
			}
			// Past the limit with bad tokens, the client's API calls are
			// refused; its well-signed deliveries are still taken.
			for range 4 {
				doCall(t, srv.URL(), call{method: "GET", path: "/api/v1/environments", token: "vl_not-a-token-0123456789"})
			}
			if resp, _ := doCall(t, srv.URL(), call{method: "GET", path: "/api/v1/environments", token: adminSecret}); resp.StatusCode != 429 {
				t.Errorf("a good token past the limit: %d, want 429", resp.StatusCode)
			}
			good = githubCall(body, "ping", "d-3")
			good.headers["Content-Type"] = "application/json"
			if resp, got := doCall(t, srv.URL(), good); resp.StatusCode != 202 {
				t.Errorf("a well-signed delivery from a client throttled for tokens: %d %s, want 202", resp.StatusCode, got)
			}
		})
	}
}
