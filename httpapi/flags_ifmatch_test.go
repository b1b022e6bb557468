package httpapi_test

import (
	"strings"
	"testing"
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
		wantVersion                   int64 // after; 0: the flag is absent
		wantBody                      string
	}{
		{"put any existing", "PUT", "", `*`, true, 200, 2, ""},
		{"put any missing", "PUT", "", `*`, false, 404, 0, "not found"},
		{"delete any existing", "DELETE", "", `*`, true, 204, 0, ""},
		{"delete any missing", "DELETE", "", `*`, false, 404, 0, "not found"},
		{"disable any existing", "POST", "/disable", `*`, true, 200, 2, ""},
		{"disable any missing", "POST", "/disable", `*`, false, 404, 0, "not found"},
		{"put list with current", "PUT", "", `"7", W/"1"`, true, 200, 2, ""},
		{"delete list with current", "DELETE", "", `"1","9"`, true, 204, 0, ""},
		{"put list without current", "PUT", "", `"7", "8"`, true, 409, 1, "someone changed it first"},
		{"delete list without current", "DELETE", "", `"7", "8"`, true, 409, 1, "someone changed it first"},
		{"put list on missing", "PUT", "", `"1", "2"`, false, 404, 0, "not found"},
		{"put list with bad tag", "PUT", "", `"1", "x"`, true, 400, 1, "If-Match"},
		{"put any in a list", "PUT", "", `"1", *`, true, 400, 1, "If-Match"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := strings.ReplaceAll(tc.name, " ", "-")
			path := "/api/v1/environments/production/flags/" + key
			if tc.exists {
				if resp, body := e.do(t, call{method: "PUT", path: path, token: adminSecret, body: def}); resp.StatusCode != 201 {
					t.Fatalf("create: %d %s", resp.StatusCode, body)
				}
			}
			body := ""
			if tc.method == "PUT" {
				body = strings.Replace(def, `"off"}`, `"on"}`, 1) // a real change
			}
			resp, got := e.do(t, call{method: tc.method, path: path + tc.suffix, token: adminSecret, body: body,
				headers: map[string]string{"If-Match": tc.ifMatch}})
			if resp.StatusCode != tc.want || !strings.Contains(got, tc.wantBody) {
				t.Errorf("If-Match %s: %d %s, want %d with %q", tc.ifMatch, resp.StatusCode, got, tc.want, tc.wantBody)
			}
			var version int64
			if f, ok := e.flags.Live("production").Snapshot.Set().Flags[key]; ok {
				version = f.Version
			}
			if version != tc.wantVersion {
				t.Errorf("after: version %d, want %d (0: absent)", version, tc.wantVersion)
			}
		})
	}
}
