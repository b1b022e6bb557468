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

// TestOFREPServerFailuresHaveOFREPShape: a 400 or 404 the server answers
// on OFREP's evaluation routes before evaluating (no environment header
// for an unbound token, two different tokens, an environment that does not
// exist) has the shape OFREP gives those statuses: errorCode, and on the
// single-flag route the key (evaluationFailure, flagNotFound,
// bulkEvaluationFailure). OFREP providers (ofrep-core's
// isEvaluationFailureResponse, isBulkEvaluationFailureResponse) take a 400
// or 404 without them as "The OFREP response does not match the expected
// format" and drop the server's errorDetails. The API's routes keep plain
// problem details.
func TestOFREPServerFailuresHaveOFREPShape(t *testing.T) {
	e := MustServer(t)
	noEnv := map[string]string{}
	missingEnv := map[string]string{"Valueloop-Environment": "no-such-env"}
	twoTokens := map[string]string{"X-API-Key": e.eval}
	for _, tc := range []struct {
		name, path string
		headers    map[string]string
		status     int
		code, key  string // "": absent
	}{
		{"single, no environment header", "/ofrep/v1/evaluate/flags/kill", noEnv, 400, "GENERAL", "kill"},
		{"bulk, no environment header", "/ofrep/v1/evaluate/flags", noEnv, 400, "GENERAL", ""},
		{"single, two tokens", "/ofrep/v1/evaluate/flags/kill", twoTokens, 400, "GENERAL", "kill"},
		{"bulk, two tokens", "/ofrep/v1/evaluate/flags", twoTokens, 400, "GENERAL", ""},
		{"single, unknown environment", "/ofrep/v1/evaluate/flags/kill", missingEnv, 404, "FLAG_NOT_FOUND", "kill"},
		{"bulk, unknown environment", "/ofrep/v1/evaluate/flags", missingEnv, 404, "GENERAL", ""},
		{"events API", "/api/v1/events", noEnv, 400, "", ""},
	} {
		resp, body := e.do(t, call{method: "POST", path: tc.path, token: adminSecret, body: `{"context":{}}`, headers: tc.headers})
		var got map[string]any
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			t.Fatalf("%s: %d %s: %v", tc.name, resp.StatusCode, body, err)
		}
		code, _ := got["errorCode"].(string)
		key, _ := got["key"].(string)
		if resp.StatusCode != tc.status || code != tc.code || key != tc.key {
			t.Errorf("%s: %d errorCode %q key %q, want %d %q %q: %s", tc.name, resp.StatusCode, code, key, tc.status, tc.code, tc.key, body)
		}
	}
}
