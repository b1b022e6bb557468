package httpapi_test

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/valueloop/valueloop/delivery"
	"github.com/valueloop/valueloop/dora"
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
	e, _ := mustDeliveryServer(t, nil)
	const secret = "opsgenie-secret-for-tests-0123"
	must := func(c call, status int) string { t.Helper(); return e.expect(t, c, status) }
	must(call{method: "PUT", path: "/api/v1/delivery/sources/og", token: adminSecret, body: `{"kind":"opsgenie","secret":"` + secret + `"}`}, 200)
	must(call{method: "POST", path: "/api/v1/delivery/deployments", token: adminSecret,
		body: `{"id":"D1","service":"shop","environment":"production","sha":"aaa","status":"success","at":"2026-03-04T18:00:00Z"}`}, 201)
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
	if m := opsgenieShop(t, e); m.Incidents != 1 || m.Unlinked != 0 || m.Failed != 1 || m.Recovery.Count != 0 {
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
	m := opsgenieShop(t, e)
	if m.Incidents != 1 || m.Failed != 1 || m.Recovery.Count != 1 || m.Recovery.Median != time.Hour+15*time.Minute+40*time.Second {
		t.Errorf("closed: incidents %d, failed %d, recovery %+v; want D1 recovered after 1h15m40s", m.Incidents, m.Failed, m.Recovery)
	}
	if n := deliveryCount(t, e); n != before+3 {
		t.Errorf("%d deliveries stored, want 3 (create, acknowledge, close)", n-before)
	}
}

func opsgenieShop(t *testing.T, e *env) dora.Metrics {
	t.Helper()
	_, body := e.do(t, call{method: "GET", path: "/api/v1/dora?from=2026-03-04&to=2026-03-05&service=shop", token: adminSecret})
	var rep delivery.Report
	if err := json.Unmarshal([]byte(body), &rep); err != nil || len(rep.Services) != 1 {
		t.Fatalf("dora: %v: %s", err, body)
	}
	return rep.Services[0].Total
}
