package httpapi_test

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/delivery"
	"github.com/valueloop/valueloop/dora"
)

// TestDeliveryCorrections: the wrong rollback, end to end. Change
// aaaaaaa (authored 00:00, merged 01:00) reaches production at 11:00: lead
// time 660 min. A rollback to ccc, merged the next day and never deployed,
// is refused naming the field; forced, it is stored, then listed and
// deleted. Editing aaaaaaa's authored time to 01:00 makes the lead time 600
// min. Edit and deletion are in the audit trail with their reason; an
// environment-bound admin may not correct records.
func TestDeliveryCorrections(t *testing.T) {
	e, _ := mustDeliveryServer(t, nil)
	ctx := context.Background()
	bound, err := e.auth.Create(ctx, &valueloop.Token{Name: "prod-admin", Scope: valueloop.ScopeAdmin, Environment: "production"}, "", "test")
	if err != nil {
		t.Fatal(err)
	}
	must := func(c call, status int) string {
		t.Helper()
		c.token = cmp.Or(c.token, adminSecret)
		return e.expect(t, c, status)
	}
	must(call{method: "POST", path: "/api/v1/delivery/changes", body: `{"service":"shop","sha":"aaaaaaa","authoredAt":"2026-01-05T00:00:00Z","mergedAt":"2026-01-05T01:00:00Z"}`}, 201)
	must(call{method: "POST", path: "/api/v1/delivery/changes", body: `{"service":"shop","sha":"ccccccc","authoredAt":"2026-01-06T00:00:00Z","mergedAt":"2026-01-06T01:00:00Z"}`}, 201)
	must(call{method: "POST", path: "/api/v1/delivery/deployments", body: `{"id":"d1","service":"shop","environment":"production","sha":"aaaaaaa","status":"success","at":"2026-01-05T11:00:00Z"}`}, 201)
	leadTime := func() (int, float64) {
		t.Helper()
		var rep delivery.Report
		if err := json.Unmarshal([]byte(must(call{method: "GET", path: "/api/v1/dora?from=2026-01-05&to=2026-01-08&service=shop"}, 200)), &rep); err != nil {
			t.Fatal(err)
		}
		lt := rep.Services[0].Total.LeadTime
		return lt.Count, lt.Median.Seconds()
	}
	if n, med := leadTime(); n != 1 || med != 660*60 {
		t.Fatalf("lead time before: %d changes, median %vs; want 1, 39600s (660 min)", n, med)
	}

	rollback := `{"id":"r1","service":"shop","environment":"production","sha":"ccccccc","status":"success","at":"2026-01-06T12:00:00Z","rollback":true%s}`
	body := must(call{method: "POST", path: "/api/v1/delivery/deployments", body: fmt.Sprintf(rollback, "")}, 400)
	if !strings.Contains(body, `"field": "sha"`) || !strings.Contains(body, "not an earlier successful production deployment") || !strings.Contains(body, "latest is aaaaaaa") {
		t.Errorf("refused rollback: %s; want field sha, the reason and what production runs", body)
	}
	must(call{method: "POST", path: "/api/v1/delivery/deployments", body: fmt.Sprintf(rollback, `,"force":true`)}, 201)

	var list struct{ Records []delivery.Record }
	if err := json.Unmarshal([]byte(must(call{method: "GET", path: "/api/v1/delivery/records/deployments?service=shop"}, 200)), &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Records) != 2 || list.Records[0].Deployment.ID != "r1" || list.Records[0].Source != "api" {
		t.Fatalf("deployment records = %+v, want r1 then d1 from the API", list.Records)
	}
	r1 := list.Records[0].Record
	// Editing the forced rollback without force is refused like recording it.
	body = must(call{method: "PUT", path: fmt.Sprintf("/api/v1/delivery/records/deployments/%d", r1),
		body: `{"deployment":{"id":"r1","service":"shop","environment":"production","production":true,"sha":"ccccccc","status":"success","at":"2026-01-06T12:00:00Z","rollback":true}}`}, 400)
	if !strings.Contains(body, `"field": "deployment.sha"`) {
		t.Errorf("edit to a wrong rollback: %s; want field deployment.sha", body)
	}
	must(call{method: "DELETE", path: fmt.Sprintf("/api/v1/delivery/records/deployments/%d?reason=wrong+target", r1), token: bound}, 403)
	must(call{method: "DELETE", path: fmt.Sprintf("/api/v1/delivery/records/deployments/%d?reason=wrong+target", r1)}, 204)
	must(call{method: "DELETE", path: fmt.Sprintf("/api/v1/delivery/records/deployments/%d", r1)}, 404)

	if err := json.Unmarshal([]byte(must(call{method: "GET", path: "/api/v1/delivery/records/changes?id=aaaaaaa"}, 200)), &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Records) != 1 {
		t.Fatalf("change records of aaaaaaa = %+v, want one", list.Records)
	}
	rec := list.Records[0]
	rec.Change.AuthoredAt = time.Date(2026, 1, 5, 1, 0, 0, 0, time.UTC)
	edit, _ := json.Marshal(map[string]any{"record": rec.Record, "kind": rec.Kind, "source": rec.Source, "delivery": rec.Delivery, "change": rec.Change, "reason": "authored at the merge"})
	path := fmt.Sprintf("/api/v1/delivery/records/changes/%d", rec.Record)
	must(call{method: "PUT", path: path, body: string(edit)}, 200)
	if body := must(call{method: "GET", path: path}, 200); !strings.Contains(body, `"authoredAt": "2026-01-05T01:00:00Z"`) {
		t.Errorf("change after edit: %s", body)
	}
	if n, med := leadTime(); n != 1 || med != 600*60 {
		t.Errorf("lead time after the edit: %d changes, median %vs; want 1, 36000s (600 min)", n, med)
	}

	for _, c := range []struct {
		call   call
		status int
		want   string
	}{
		{call{method: "GET", path: "/api/v1/delivery/records/commits"}, 400, `"field": "kind"`},
		{call{method: "GET", path: "/api/v1/delivery/records/changes/x"}, 400, `"field": "record"`},
		{call{method: "GET", path: "/api/v1/delivery/records/changes?limit=0"}, 400, `"field": "limit"`},
		{call{method: "GET", path: "/api/v1/delivery/records/changes?sha=aaa"}, 400, `"field": "sha"`},
		{call{method: "PUT", path: path, body: `{"change":{"service":"shop","sha":"aaaaaaa"}}`}, 400, `"field": "change.authoredAt"`},
		// An edit is a change given by hand: its SHA is checked as one
		// recorded by hand is.
		{call{method: "PUT", path: path, body: `{"change":{"service":"shop","sha":"not-a-sha","authoredAt":"2026-01-05T00:00:00Z"}}`}, 400, `"field": "change.sha"`},
		// So are a deployment's and an incident's cause.
		{call{method: "PUT", path: "/api/v1/delivery/records/deployments/1", body: `{"deployment":{"id":"d1","service":"shop","environment":"production","production":true,"sha":"v1.2.3","status":"success","at":"2026-01-05T11:00:00Z"}}`}, 400, `"field": "deployment.sha"`},
		{call{method: "PUT", path: "/api/v1/delivery/records/incidents/1", body: `{"incident":{"id":"i","service":"shop","openedAt":"2026-01-05T00:00:00Z","causeSha":"HEAD~1"}}`}, 400, `"field": "incident.causeSha"`},
		{call{method: "PUT", path: path, body: `{"incident":{"id":"i","service":"shop","openedAt":"2026-01-05T00:00:00Z"}}`}, 400, `"field": "change"`},
		{call{method: "PUT", path: path, body: `{"kind":"incidents","change":{}}`}, 400, `"field": "kind"`},
		{call{method: "PUT", path: path, body: `{"record":"x"}`}, 400, `"field": "record"`},
		{call{method: "PUT", path: path, body: `{"change":{"sha":5}}`}, 400, `"field": "change.sha"`},
		{call{method: "PUT", path: path, body: `{"force":"yes"}`}, 400, `"field": "force"`},
		{call{method: "GET", path: "/api/v1/delivery/records/changes", token: bound}, 403, ""},
	} {
		c.call.token = cmp.Or(c.call.token, adminSecret)
		resp, body := e.do(t, c.call)
		if resp.StatusCode != c.status || !strings.Contains(body, c.want) {
			t.Errorf("%s %s: got %d %s, want %d with %q", c.call.method, c.call.path, resp.StatusCode, body, c.status, c.want)
		}
	}

	for _, c := range []struct{ target, action, reason string }{
		{fmt.Sprintf("deployment/%d", r1), "delivery.deployment.delete", "wrong target"},
		{fmt.Sprintf("change/%d", rec.Record), "delivery.change.edit", "authored at the merge"},
	} {
		audit, err := e.db.Audit(ctx, valueloop.AuditFilter{Target: c.target})
		if err != nil {
			t.Fatal(err)
		}
		if len(audit) != 1 || audit[0].Action != c.action || audit[0].Actor != "root" || audit[0].Reason != c.reason {
			t.Errorf("audit of %s = %+v, want one %s by root (%q)", c.target, audit, c.action, c.reason)
		}
	}
}

// TestDeliveryRecordPages: a listing of more records than the largest page
// reads every record once, newest first, by following nextCursor; limit
// and cursor are checked, naming the parameter.
func TestDeliveryRecordPages(t *testing.T) {
	e, svc := mustDeliveryServer(t, nil)
	at := time.Date(2026, 4, 1, 12, 0, 0, 0, time.UTC)
	const n = delivery.MaxRecordPage + 3
	d := &delivery.Delivery{Source: "api", ID: "many", Kind: "change", ReceivedAt: at}
	for i := range n {
		d.Changes = append(d.Changes, dora.Change{Repo: "acme/shop", SHA: fmt.Sprintf("c%04d", i), AuthoredAt: at})
	}
	if _, err := svc.Store.RecordDelivery(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	for _, limit := range []int{delivery.MaxRecordPage, 7} {
		var got []int64
		pages := 0
		for cursor := ""; ; pages++ {
			if pages > n/limit+1 {
				t.Fatalf("limit %d: more than %d pages for %d records (a cursor answered again?)", limit, n/limit+1, n)
			}
			path := fmt.Sprintf("/api/v1/delivery/records/changes?limit=%d", limit)
			if cursor != "" {
				path += "&cursor=" + cursor
			}
			var page delivery.RecordPage
			if err := json.Unmarshal([]byte(e.expect(t, call{method: "GET", path: path, token: adminSecret}, 200)), &page); err != nil {
				t.Fatal(err)
			}
			if len(page.Records) > limit {
				t.Fatalf("limit %d: a page of %d records", limit, len(page.Records))
			}
			for _, r := range page.Records {
				got = append(got, r.Record)
			}
			if cursor = page.NextCursor; cursor == "" {
				break
			}
		}
		descending := true // strictly: no record twice
		for i := 1; i < len(got); i++ {
			descending = descending && got[i] < got[i-1]
		}
		if len(got) != n || !descending {
			t.Errorf("limit %d: %d records in %d pages, want all %d once each, newest first", limit, len(got), pages+1, n)
		}
	}
	// One message per field, stating the range, echoing the value read
	// (clipped: a limit of 10,000 characters is not sent back whole).
	long := strings.Repeat("9", 10_000)
	for _, c := range []struct{ query, field, says string }{
		{"limit=0", "limit", `from 1 to 1000, not \"0\"`}, {"limit=1001", "limit", `from 1 to 1000, not \"1001\"`},
		{"limit=ten", "limit", `from 1 to 1000, not \"ten\"`}, {"limit=" + long, "limit", `from 1 to 1000, not \"` + long[:40] + `…\"`},
		{"cursor=x", "cursor", `not \"x\"`}, {"cursor=-3", "cursor", `not \"-3\"`},
	} {
		body := e.expect(t, call{method: "GET", path: "/api/v1/delivery/records/changes?" + c.query, token: adminSecret}, 400)
		if !strings.Contains(body, `"field": "`+c.field+`"`) || !strings.Contains(body, c.says) || strings.Contains(body, long[:100]) {
			t.Errorf("?%.80s: %.300s, want an error naming %s that says %.100s", c.query, body, c.field, c.says)
		}
	}
}

// TestDeliveryRecordReasonChecked: the reason of a record's edit (the
// body's "reason") or deletion (?reason=) is one line of the audit trail,
// checked as every other reason (valueloop.CheckReason): a control
// character or more than valueloop.MaxReason bytes is refused naming
// reason, and the record is neither edited nor deleted. The edit checked
// its length alone and the deletion nothing.
func TestDeliveryRecordReasonChecked(t *testing.T) {
	e, _ := mustDeliveryServer(t, nil)
	e.expect(t, call{method: "POST", path: "/api/v1/delivery/changes", token: adminSecret,
		body: `{"service":"shop","sha":"aaaaaaa","authoredAt":"2026-01-05T00:00:00Z","mergedAt":"2026-01-05T01:00:00Z"}`}, 201)
	var list struct{ Records []delivery.Record }
	if err := json.Unmarshal([]byte(e.expect(t, call{method: "GET", path: "/api/v1/delivery/records/changes?id=aaaaaaa", token: adminSecret}, 200)), &list); err != nil || len(list.Records) != 1 {
		t.Fatalf("change records: %+v, %v", list.Records, err)
	}
	rec := list.Records[0]
	path := fmt.Sprintf("/api/v1/delivery/records/changes/%d", rec.Record)
	edited := *rec.Change
	edited.AuthoredAt = time.Date(2026, 1, 5, 0, 30, 0, 0, time.UTC)
	long := strings.Repeat("x", valueloop.MaxReason+1)
	for _, tc := range []struct{ name, reason, want string }{
		{"escape", "x\u001b[2Jy", "U+001B at byte 2"},
		{"line break", "two\nlines", "U+000A at byte 4"},
		{"too long", long, "at most 1000 bytes long, got 1001"},
	} {
		t.Run("edit, "+tc.name, func(t *testing.T) {
			body, _ := json.Marshal(map[string]any{"change": edited, "reason": tc.reason})
			resp, out := e.do(t, call{method: "PUT", path: path, token: adminSecret, body: string(body)})
			if resp.StatusCode != 400 || !strings.Contains(out, `"field": "reason"`) || !strings.Contains(out, tc.want) {
				t.Errorf("%d %.300s; want 400 naming reason: %s", resp.StatusCode, out, tc.want)
			}
		})
		t.Run("delete, "+tc.name, func(t *testing.T) {
			resp, out := e.do(t, call{method: "DELETE", path: path + "?reason=" + url.QueryEscape(tc.reason), token: adminSecret})
			if resp.StatusCode != 400 || !strings.Contains(out, `"field": "reason"`) || !strings.Contains(out, tc.want) {
				t.Errorf("%d %.300s; want 400 naming reason: %s", resp.StatusCode, out, tc.want)
			}
		})
	}
	if body := e.expect(t, call{method: "GET", path: path, token: adminSecret}, 200); !strings.Contains(body, `"authoredAt": "2026-01-05T00:00:00Z"`) {
		t.Errorf("the record after refused edits and deletions: %s; want it as recorded", body)
	}
}
