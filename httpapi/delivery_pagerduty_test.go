package httpapi_test

import (
	"strings"
	"testing"
	"time"

	"github.com/valueloop/valueloop/pagerduty"
)

// TestPagerDutyWebhooks: a signed incident.triggered is stored and linked
// through the catalog's service name to the service's deployment; the same
// delivery again is a duplicate; a forged one (wrong secret, or the body
// altered after signing) is refused and stores nothing; incident.resolved
// resolves it, which gives the recovery time (18:30:10 → 19:15:40 =
// 45m30s after the 18:00 deployment failed: 1h15m40s).
func TestPagerDutyWebhooks(t *testing.T) {
	const secret = "pagerduty-secret-for-tests-0123"
	e := incidentSourceServer(t, "pagerduty", "pd", secret)
	must := func(c call, status int) string { t.Helper(); return e.expect(t, c, status) }
	hook := func(body, sig string) call {
		return call{method: "POST", path: "/hooks/pagerduty", body: body, headers: map[string]string{"Content-Type": "application/json", pagerduty.SignatureHeader: sig}}
	}
	triggered, resolved := readTestdata(t, "pagerduty/testdata/incident.triggered.json"), readTestdata(t, "pagerduty/testdata/incident.resolved.json")
	before := deliveryCount(t, e)
	must(hook(triggered, pagerduty.Sign([]byte("not-the-secret-0123456"), []byte(triggered))), 401)
	altered := strings.Replace(triggered, "checkout 502s", "all fine", 1)
	must(hook(altered, pagerduty.Sign([]byte(secret), []byte(triggered))), 401)
	must(hook(triggered, ""), 401)
	if n := deliveryCount(t, e); n != before {
		t.Fatalf("forged deliveries stored: %d deliveries, want %d", n, before)
	}
	if body := must(hook(triggered, pagerduty.Sign([]byte(secret), []byte(triggered))), 200); !strings.Contains(body, `"incidents": 1`) {
		t.Errorf("triggered: %s", body)
	}
	if body := must(hook(triggered, pagerduty.Sign([]byte(secret), []byte(triggered))), 200); !strings.Contains(body, `"duplicate": true`) {
		t.Errorf("replayed: %s", body)
	}
	must(hook(resolved, pagerduty.Sign([]byte(secret), []byte(resolved))), 200)
	m := shopMetrics(t, e)
	if m.Incidents != 1 || m.Unlinked != 0 || m.Failed != 1 || m.Recovery.Count != 1 || m.Recovery.Median != time.Hour+15*time.Minute+40*time.Second {
		t.Errorf("incidents %d (unlinked %d), failed %d, recovery %+v; want the PagerDuty incident linked to D1, recovered after 1h15m40s",
			m.Incidents, m.Unlinked, m.Failed, m.Recovery)
	}
}
