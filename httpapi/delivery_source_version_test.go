package httpapi_test

import (
	"fmt"
	"strconv"
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
	// A source starts at the delivery data's version (the server's
	// fixture has written before): versions below are counted from it.
	code, tag, body := put("", `{"kind":"github","secret":"first-secret-of-rot"}`)
	v1, err := strconv.ParseInt(strings.Trim(tag, `"`), 10, 64)
	if code != 200 || err != nil || v1 < 1 || !strings.Contains(body, fmt.Sprintf(`"version": %d`, v1)) {
		t.Fatalf("create: %d ETag %s %s; want 200 and the version as ETag", code, tag, body)
	}
	q := func(n int64) string { return fmt.Sprintf(`"%d"`, v1+n) }
	if code, tag, body := put(q(0), `{"kind":"github","secret":"alices-rotated-secret"}`); code != 200 || tag != q(1) {
		t.Fatalf("alice's write over version %s: %d ETag %s %s; want 200, %s", q(0), code, tag, body, q(1))
	}
	if code, _, body := put(q(0), `{"kind":"github","repos":["acme/shop"]}`); code != 409 || !strings.Contains(body, fmt.Sprintf("version %d, not %d", v1+1, v1)) {
		t.Errorf("bob's write over version %s, now %s: %d %s; want 409 naming the versions", q(0), q(1), code, body)
	}
	_, list := e.do(t, call{method: "GET", path: "/api/v1/delivery/sources", token: adminSecret})
	if i := strings.Index(list, `"name": "rot"`); i < 0 || !strings.Contains(list[i:], fmt.Sprintf(`"version": %d`, v1+1)) || strings.Contains(list[i:], "acme/shop") {
		t.Errorf("after the refused write the list shows %s; want version %s without bob's repos", list, q(1))
	}
	for _, c := range []struct {
		ifMatch string
		code    int
		want    string
	}{
		{q(0) + ", " + q(1), 200, q(2)}, // a list matches when any of its versions is current
		{"W/" + q(2), 200, q(3)},
		{`*`, 200, q(4)},
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
	for _, ifMatch := range []string{q(4), `*`} {
		if code, _, body := put(ifMatch, `{"kind":"github","secret":"first-secret-of-rot"}`); code != 404 {
			t.Errorf("If-Match %s over a deleted source: %d %s; want 404", ifMatch, code, body)
		}
	}
	if _, list := e.do(t, call{method: "GET", path: "/api/v1/delivery/sources", token: adminSecret}); strings.Contains(list, `"rot"`) {
		t.Errorf("a conditional write made the deleted source again: %s", list)
	}
}
