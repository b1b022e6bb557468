package httpapi_test

import (
	"encoding/json"
	"testing"
)

// TestOFREPServerErrorsCarryErrorDetails: an OFREP request the server
// refuses before evaluating (here an unbound admin token without the
// environment header; likewise a 5xx) is answered as problem details, and
// carries the OFREP failures' errorDetails too: the member OFREP's
// generalErrorResponse defines for a 500 and every failure shape shares,
// which OFREP providers read for the error's message (the Go provider's
// was empty). The API's own routes keep plain problem details.
func TestOFREPServerErrorsCarryErrorDetails(t *testing.T) {
	e := MustServer(t)
	for _, tc := range []struct {
		name, path string
		want       bool
	}{
		{"single", "/ofrep/v1/evaluate/flags/kill", true},
		{"bulk", "/ofrep/v1/evaluate/flags", true},
		{"events API", "/api/v1/events", false},
	} {
		resp, body := e.do(t, call{method: "POST", path: tc.path, token: adminSecret, body: `{"context":{}}`, headers: map[string]string{"Content-Type": "application/json"}})
		var got map[string]any
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			t.Fatalf("%s: %d %s: %v", tc.name, resp.StatusCode, body, err)
		}
		details, has := got["errorDetails"].(string)
		switch {
		case resp.StatusCode != 400:
			t.Errorf("%s: status %d, want 400: %s", tc.name, resp.StatusCode, body)
		case has != tc.want:
			t.Errorf("%s: errorDetails present %v, want %v: %s", tc.name, has, tc.want, body)
		case has && details != got["detail"]:
			t.Errorf("%s: errorDetails %q, want the detail %q", tc.name, details, got["detail"])
		}
	}
}
