package httpapi_test

import (
	"strings"
	"testing"
)

// TestSourceIfMatch: two admins read a source at one version; the first
// write wins, the second (If-Match of the version read) is refused with
// 409 and changes nothing, as a stale flag version is; a source deleted
// since is a 404, not made again. Each PUT answers the new version as its
// ETag, and the list shows every source's version.
func TestSourceIfMatch(t *testing.T) {
	e, _ := mustDeliveryServer(t, nil)
	put := func(ifMatch, body string) (int, string, string) {
		t.Helper()
		c := call{method: "PUT", path: "/api/v1/delivery/sources/rot", token: adminSecret, body: body}
		if ifMatch != "" {
			c.headers = map[string]string{"If-Match": ifMatch}
		}
		resp, b := e.do(t, c)
		return resp.StatusCode, resp.Header.Get("ETag"), b
	}
	if code, tag, body := put("", `{"kind":"github","secret":"first-secret-of-rot"}`); code != 200 || tag != `"1"` || !strings.Contains(body, `"version": 1`) {
		t.Fatalf("create: %d ETag %s %s; want 200, \"1\"", code, tag, body)
	}
	if code, tag, body := put(`"1"`, `{"kind":"github","secret":"alices-rotated-secret"}`); code != 200 || tag != `"2"` {
		t.Fatalf("alice's write over version 1: %d ETag %s %s; want 200, \"2\"", code, tag, body)
	}
	if code, _, body := put(`"1"`, `{"kind":"github","repos":["acme/shop"]}`); code != 409 || !strings.Contains(body, "version 2, not 1") {
		t.Errorf("bob's write over version 1, now 2: %d %s; want 409 naming the versions", code, body)
	}
	_, list := e.do(t, call{method: "GET", path: "/api/v1/delivery/sources", token: adminSecret})
	if i := strings.Index(list, `"name": "rot"`); i < 0 || !strings.Contains(list[i:], `"version": 2`) || strings.Contains(list[i:], "acme/shop") {
		t.Errorf("after the refused write the list shows %s; want version 2 without bob's repos", list)
	}
	for _, c := range []struct {
		ifMatch string
		code    int
		want    string
	}{
		{`"1", "2"`, 200, `"3"`}, // a list matches when any of its versions is current
		{`W/"3"`, 200, `"4"`},
		{`*`, 200, `"5"`},
		{`three`, 400, `"field": "If-Match"`},
		{`"0"`, 400, `"field": "If-Match"`},
	} {
		code, tag, body := put(c.ifMatch, `{"kind":"github","incidentLabel":"sev"}`)
		if code != c.code || (code == 200 && tag != c.want) || (code != 200 && !strings.Contains(body, c.want)) {
			t.Errorf("If-Match %s: %d ETag %s %s; want %d %s", c.ifMatch, code, tag, body, c.code, c.want)
		}
	}
	if resp, body := e.do(t, call{method: "DELETE", path: "/api/v1/delivery/sources/rot", token: adminSecret}); resp.StatusCode != 204 {
		t.Fatalf("delete: %d %s", resp.StatusCode, body)
	}
	for _, ifMatch := range []string{`"5"`, `*`} {
		if code, _, body := put(ifMatch, `{"kind":"github","secret":"first-secret-of-rot"}`); code != 404 {
			t.Errorf("If-Match %s over a deleted source: %d %s; want 404", ifMatch, code, body)
		}
	}
	if _, list := e.do(t, call{method: "GET", path: "/api/v1/delivery/sources", token: adminSecret}); strings.Contains(list, `"rot"`) {
		t.Errorf("a conditional write made the deleted source again: %s", list)
	}
}
