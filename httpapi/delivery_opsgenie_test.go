package httpapi_test

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/valueloop/valueloop/opsgenie"
)

// TestOpsgenieWebhooks sends the alert actions over HTTP as Opsgenie's
// Webhook integration does. Deliveries without the source's secret, or
// with a wrong one, are refused and store nothing; Create opens an
// incident on the catalog's service "shop" (tag service:shop), linked to
// its 18:00 deployment, which is then failed and not yet recovered; the
// same Create again is a duplicate; Acknowledge is acknowledged and
// ignored; Close (sent with basic authentication) resolves it at 19:15:40,
// which moves the recovery time to 1h15m40s.
func TestOpsgenieWebhooks(t *testing.T) {
	const secret = "opsgenie-secret-for-tests-0123"
	e := incidentSourceServer(t, "opsgenie", "og", secret)
	must := func(c call, status int) string { t.Helper(); return e.expect(t, c, status) }
	hook := func(body string, headers map[string]string) call {
		headers["Content-Type"] = "application/json"
		return call{method: "POST", path: "/hooks/opsgenie?source=og", body: body, headers: headers}
	}
	token := func(s string) map[string]string { return map[string]string{opsgenie.TokenHeader: s} }
	create, ack, closed := readTestdata(t, "opsgenie/testdata/create.json"), readTestdata(t, "opsgenie/testdata/acknowledge.json"), readTestdata(t, "opsgenie/testdata/close.json")
	before := deliveryCount(t, e)
	must(hook(create, map[string]string{}), 401)
	must(hook(create, token("opsgenie-secret-for-tests-0124")), 401)
	must(hook(create, map[string]string{"Authorization": "Bearer " + secret}), 401)
	if n := deliveryCount(t, e); n != before {
		t.Fatalf("forged deliveries stored: %d deliveries, want %d", n, before)
	}
	if body := must(hook(create, token(secret)), 200); !strings.Contains(body, `"incidents": 1`) {
		t.Errorf("create: %s", body)
	}
	if m := shopMetrics(t, e); m.Incidents != 1 || m.Unlinked != 0 || m.Failed != 1 || m.Recovery.Count != 0 {
		t.Errorf("open: incidents %d (unlinked %d), failed %d, recovery %+v; want D1 failed, not recovered", m.Incidents, m.Unlinked, m.Failed, m.Recovery)
	}
	if body := must(hook(create, token(secret)), 200); !strings.Contains(body, `"duplicate": true`) {
		t.Errorf("replayed: %s", body)
	}
	if body := must(hook(ack, token(secret)), 202); !strings.Contains(body, "Acknowledge does not open or close") {
		t.Errorf("acknowledge: %s", body)
	}
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("opsgenie:"+secret))
	must(hook(closed, map[string]string{"Authorization": basic}), 200)
	m := shopMetrics(t, e)
	if m.Incidents != 1 || m.Failed != 1 || m.Recovery.Count != 1 || m.Recovery.Median != time.Hour+15*time.Minute+40*time.Second {
		t.Errorf("closed: incidents %d, failed %d, recovery %+v; want D1 recovered after 1h15m40s", m.Incidents, m.Failed, m.Recovery)
	}
	if n := deliveryCount(t, e); n != before+3 {
		t.Errorf("%d deliveries stored, want 3 (create, acknowledge, close)", n-before)
	}
}
