package httpapi_test

import (
	"strings"
	"testing"
)

// TestValueUnknownParams: a misspelt query parameter on the value routes is
// refused with its name, not ignored (a typo in ?stage= would list every
// feature; in ?dryRun= it would apply for real).
func TestValueUnknownParams(t *testing.T) {
	e := mustFullServer(t)
	for _, tc := range []struct{ method, path, body, field string }{
		{"GET", "/api/v1/features?stge=idea", "", "stge"},
		{"GET", "/api/v1/value/next?methd=rice", "", "methd"},
		{"GET", "/api/v1/value/flow?sinc=60", "", "sinc"},
		{"GET", "/api/v1/value/file?fromat=yaml", "", "fromat"},
		{"PUT", "/api/v1/value/file?dryrun=true", `{"objectives":[],"features":[]}`, "dryrun"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			status, body := send(t, e.srv.URL(), tc.method, tc.path, adminSecret, tc.body)
			if status != 400 || !strings.Contains(body, tc.field) || !strings.Contains(body, "unknown parameter") {
				t.Errorf("got %d %.300s, want 400 naming %q as an unknown parameter", status, body, tc.field)
			}
		})
	}
	// The parameters the client sends are still taken.
	for _, path := range []string{"/api/v1/features?stage=idea&objective=x", "/api/v1/value/next?method=rice&cleanupAfter=60", "/api/v1/value/flow?since=60", "/api/v1/value/file?format=yaml"} {
		if status, body := send(t, e.srv.URL(), "GET", path, adminSecret, ""); status != 200 {
			t.Errorf("GET %s: got %d %.300s, want 200", path, status, body)
		}
	}
}
