package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/delivery"
	"github.com/valueloop/valueloop/dora"
)

// TestReviewCorrections: the reviews read by the lead time breakdown are
// corrected like other records. Pull request 7 of acme/shop, opened 01:00
// and reviewed 03:00, merged 04:00: pickup 2h, review 1h. Its review is
// listed by repository and pull request, edited to 02:00 (pickup 1h, review
// 2h) and deleted (no pickup or review stage left); both are audited with
// their reason. Reviews name no service, so filtering them by one is
// refused naming the field.
func TestReviewCorrections(t *testing.T) {
	e, _ := mustDeliveryServer(t, nil)
	must := func(c call, status int) string {
		t.Helper()
		c.token = adminSecret
		return e.expect(t, c, status)
	}
	must(call{method: "POST", path: "/api/v1/delivery/changes", body: `{"service":"shop","repo":"acme/shop","sha":"aaaaaaa","pr":"7",
		"authoredAt":"2026-01-05T00:00:00Z","openedAt":"2026-01-05T01:00:00Z","reviewedAt":"2026-01-05T03:00:00Z","mergedAt":"2026-01-05T04:00:00Z"}`}, 201)
	must(call{method: "POST", path: "/api/v1/delivery/deployments", body: `{"service":"shop","repo":"acme/shop","environment":"production","sha":"aaaaaaa","status":"success","at":"2026-01-05T06:00:00Z"}`}, 201)
	stages := func() dora.Breakdown {
		t.Helper()
		var rep delivery.Report
		if err := json.Unmarshal([]byte(must(call{method: "GET", path: "/api/v1/dora?from=2026-01-05&to=2026-01-06&service=shop"}, 200)), &rep); err != nil {
			t.Fatal(err)
		}
		return rep.Services[0].Total.LeadTimeBreakdown
	}
	if b := stages(); b.Pickup.Count != 1 || b.Pickup.Median != 2*time.Hour || b.Review.Median != time.Hour {
		t.Fatalf("before: %+v; want pickup 2h, review 1h", b)
	}
	var list struct{ Records []delivery.Record }
	if err := json.Unmarshal([]byte(must(call{method: "GET", path: "/api/v1/delivery/records/reviews?repo=ACME/shop&id=7"}, 200)), &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Records) != 1 || list.Records[0].Review == nil || !list.Records[0].Review.At.Equal(time.Date(2026, 1, 5, 3, 0, 0, 0, time.UTC)) {
		t.Fatalf("review records = %+v, want the review of 03:00", list.Records)
	}
	n := list.Records[0].Record
	path := fmt.Sprintf("/api/v1/delivery/records/reviews/%d", n)
	must(call{method: "PUT", path: path, body: `{"review":{"repo":"acme/shop","pr":"7","at":"2026-01-05T02:00:00+00:00"},"reason":"first review was at 02:00"}`}, 200)
	if b := stages(); b.Pickup.Median != time.Hour || b.Review.Median != 2*time.Hour {
		t.Errorf("after the edit: %+v; want pickup 1h, review 2h", b)
	}
	for _, c := range []struct {
		call call
		want string
	}{
		{call{method: "GET", path: "/api/v1/delivery/records/reviews?service=shop"}, `"field": "service"`},
		{call{method: "PUT", path: path, body: `{"review":{"repo":"acme/shop","at":"2026-01-05T02:00:00Z"}}`}, `"field": "review.pr"`},
		{call{method: "PUT", path: path, body: `{"change":{"sha":"aaaaaaa"}}`}, `"field": "review"`},
	} {
		if body := must(c.call, 400); !strings.Contains(body, c.want) {
			t.Errorf("%s %s: %s, want %s", c.call.method, c.call.path, body, c.want)
		}
	}
	must(call{method: "DELETE", path: path + "?reason=bot+approval"}, 204)
	if b := stages(); b.Pickup.Count != 0 || b.Review.Count != 0 || b.Deploy.Count != 1 {
		t.Errorf("after the deletion: %+v; want no pickup or review, deploy still", b)
	}
	audit, err := e.db.Audit(context.Background(), valueloop.AuditFilter{Target: fmt.Sprintf("review/%d", n)})
	if err != nil || len(audit) != 2 || audit[0].Action != "delivery.review.delete" || audit[0].Reason != "bot approval" ||
		audit[1].Action != "delivery.review.edit" || audit[1].Reason != "first review was at 02:00" || audit[1].Actor != "root" {
		t.Errorf("audit of review/%d: %+v %v; want the edit and the deletion by root with their reasons", n, audit, err)
	}
}
