package httpapi_test

import (
	"strings"
	"testing"
	"time"

	"github.com/valueloop/valueloop/github"
	"github.com/valueloop/valueloop/gitlab"
	"github.com/valueloop/valueloop/httpapi"
	"github.com/valueloop/valueloop/opsgenie"
	"github.com/valueloop/valueloop/pagerduty"
)

// TestHookAuthThrottle: webhook deliveries no source verifies count as
// failed authentications of their client, as bad bearer tokens do: past
// Limits.AuthFailures in the window the client is answered 429 with
// Retry-After, on the hooks (a good signature included) and on the API,
// and /metrics counts them in the valueloop_auth_* family. They were once
// not counted at all: a client could guess webhook secrets without end.
func TestHookAuthThrottle(t *testing.T) {
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
			for i, want := range []int{401, 401, 401, 429} {
				resp, got := doCall(t, srv.URL(), hook)
				if resp.StatusCode != want {
					t.Errorf("bad delivery %d: %d %s, want %d", i, resp.StatusCode, got, want)
				}
			}
			good := githubCall(body, "ping", "d-2")
			good.headers["Content-Type"] = "application/json"
			if resp, got := doCall(t, srv.URL(), good); resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
				t.Errorf("a well-signed delivery from the throttled client: %d %s, want 429 with Retry-After", resp.StatusCode, got)
			}
			if resp, _ := doCall(t, srv.URL(), call{method: "GET", path: "/api/v1/environments", token: adminSecret}); resp.StatusCode != 429 {
				t.Errorf("a good token from the throttled client: %d, want 429", resp.StatusCode)
			}
			_, metrics := doCall(t, srv.URL(), call{method: "GET", path: "/metrics"})
			for _, want := range []string{"valueloop_auth_failures_total 3", "valueloop_auth_throttled_total 3"} {
				if !strings.Contains(metrics, want) {
					t.Errorf("metrics lack %q:\n%s", want, grepLines(metrics, "valueloop_auth"))
				}
			}
		})
	}
}
