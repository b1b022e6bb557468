package httpapi_test

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"

	valueloop "github.com/valueloop/valueloop"
)

// TestFlagIfMatchAnyAndList: the flag routes read If-Match as RFC 9110 and
// the value routes do: "*" matches the flag whatever its version (and a
// missing flag is refused rather than created), a list matches when any of
// its versions is the current one.
func TestFlagIfMatchAnyAndList(t *testing.T) {
	e := MustServer(t)
	def := `{"state":"ENABLED","variants":{"on":true,"off":false},"defaultVariant":"off"}`
	for _, tc := range []struct {
		name, method, suffix, ifMatch string
		exists                        bool
		want                          int
		wantVersion                   int64 // after, above the created flag's; -1: the flag is absent
		wantBody                      string
	}{
		{"put any existing", "PUT", "", `*`, true, 200, 1, ""},
		{"put any missing", "PUT", "", `*`, false, 404, -1, "not found"},
		{"delete any existing", "DELETE", "", `*`, true, 204, -1, ""},
		{"delete any missing", "DELETE", "", `*`, false, 404, -1, "not found"},
		{"disable any existing", "POST", "/disable", `*`, true, 200, 1, ""},
		{"disable any missing", "POST", "/disable", `*`, false, 404, -1, "not found"},
		{"put list with current", "PUT", "", `"{v+6}", W/"{v}"`, true, 200, 1, ""},
		{"delete list with current", "DELETE", "", `"{v}","{v+8}"`, true, 204, -1, ""},
		{"put list without current", "PUT", "", `"{v+6}", "{v+7}"`, true, 409, 0, "someone changed it first"},
		{"delete list without current", "DELETE", "", `"{v+6}", "{v+7}"`, true, 409, 0, "someone changed it first"},
		{"put list on missing", "PUT", "", `"1", "2"`, false, 404, -1, "not found"},
		{"put list with bad tag", "PUT", "", `"{v}", "x"`, true, 400, 0, "If-Match"},
		{"put any in a list", "PUT", "", `"{v}", *`, true, 400, 0, "If-Match"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := strings.ReplaceAll(tc.name, " ", "-")
			path := "/api/v1/environments/production/flags/" + key
			// A flag starts at its environment's version: the tags are
			// counted from the created flag's, v.
			var v int64
			if tc.exists {
				resp, body := e.do(t, call{method: "PUT", path: path, token: adminSecret, body: def})
				if resp.StatusCode != 201 {
					t.Fatalf("create: %d %s", resp.StatusCode, body)
				}
				v = e.flags.Live("production").Snapshot.Set().Flags[key].Version
			}
			ifMatch := regexp.MustCompile(`\{v(\+\d+)?\}`).ReplaceAllStringFunc(tc.ifMatch, func(m string) string {
				n, _ := strconv.ParseInt(strings.Trim(m, "{v+}"), 10, 64)
				return strconv.FormatInt(v+n, 10)
			})
			body := ""
			if tc.method == "PUT" {
				body = strings.Replace(def, `"off"}`, `"on"}`, 1) // a real change
			}
			resp, got := e.do(t, call{method: tc.method, path: path + tc.suffix, token: adminSecret, body: body,
				headers: map[string]string{"If-Match": ifMatch}})
			if resp.StatusCode != tc.want || !strings.Contains(got, tc.wantBody) {
				t.Errorf("If-Match %s: %d %s, want %d with %q", ifMatch, resp.StatusCode, got, tc.want, tc.wantBody)
			}
			version := int64(-1)
			if f, ok := e.flags.Live("production").Snapshot.Set().Flags[key]; ok {
				version = f.Version - v
			}
			if version != tc.wantVersion {
				t.Errorf("after: version %d above the created %d, want %d (-1: absent)", version, v, tc.wantVersion)
			}
		})
	}
}

// TestFlagRecreatedIfMatch: Alice reads flag checkout; Bob deletes it and
// makes it anew. Alice's PUT with If-Match of the version she read is
// refused (409) and Bob's flag stands: made again at version 1, the new
// flag had her version and her write silently replaced it.
func TestFlagRecreatedIfMatch(t *testing.T) {
	e := MustServer(t)
	path := "/api/v1/environments/production/flags/checkout-recreated"
	def := `{"state":"ENABLED","variants":{"on":true,"off":false},"defaultVariant":"off"}`
	resp, body := e.do(t, call{method: "PUT", path: path, token: adminSecret, body: def})
	read := resp.Header.Get("ETag")
	if resp.StatusCode != 201 || read == "" {
		t.Fatalf("create: %d ETag %q %s", resp.StatusCode, read, body)
	}
	if resp, body := e.do(t, call{method: "DELETE", path: path, token: adminSecret}); resp.StatusCode != 204 {
		t.Fatalf("bob's delete: %d %s", resp.StatusCode, body)
	}
	bobs := strings.Replace(def, `"off"}`, `"on"}`, 1)
	if resp, body := e.do(t, call{method: "PUT", path: path, token: adminSecret, body: bobs}); resp.StatusCode != 201 || resp.Header.Get("ETag") == read {
		t.Fatalf("bob's create again: %d ETag %s %s; want 201 and an ETag other than %s", resp.StatusCode, resp.Header.Get("ETag"), body, read)
	}
	resp, body = e.do(t, call{method: "PUT", path: path, token: adminSecret, body: def, headers: map[string]string{"If-Match": read}})
	if resp.StatusCode != 409 {
		t.Errorf("alice's PUT with If-Match %s over the flag made again: %d %s; want 409", read, resp.StatusCode, body)
	}
	if f := e.flags.Live("production").Snapshot.Set().Flags["checkout-recreated"]; f == nil || *f.DefaultVariant != "on" {
		t.Errorf("after alice's stale PUT: %+v; want bob's flag, on", f)
	}
}

// TestFlagPutOverPeersCreate: a PUT without If-Match of a flag a peer made
// a moment ago, which this node's live set does not show yet, replaces the
// peer's flag (the write is retried over the stored set) and says 200, not
// 201: it said 201 whenever the live set read before the write lacked the
// flag.
func TestFlagPutOverPeersCreate(t *testing.T) {
	e := MustServer(t)
	peers := &valueloop.Flag{Key: "made-by-peer", State: valueloop.StateEnabled,
		Variants: map[string]any{"on": true, "off": false}, DefaultVariant: new("off")}
	if _, _, err := e.db.PutFlag(context.Background(), "production", peers, 0, "peer", ""); err != nil {
		t.Fatal(err)
	}
	if e.flags.Live("production").Snapshot.Set().Flags[peers.Key] != nil {
		t.Fatal("this node's live set shows the peer's flag already: nothing to test")
	}
	def := `{"state":"ENABLED","variants":{"on":true,"off":false},"defaultVariant":"on"}`
	resp, body := e.do(t, call{method: "PUT", path: "/api/v1/environments/production/flags/" + peers.Key, token: adminSecret, body: def})
	if resp.StatusCode != 200 {
		t.Errorf("PUT over the peer's flag: %d %s; want 200 (replaced, not created)", resp.StatusCode, body)
	}
	if f := e.flags.Live("production").Snapshot.Set().Flags[peers.Key]; f == nil || *f.DefaultVariant != "on" {
		t.Errorf("after the PUT: %+v; want the flag replaced, on", f)
	}
}
