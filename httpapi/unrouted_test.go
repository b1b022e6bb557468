package httpapi_test

import (
	"encoding/json"
	"testing"
)

// TestUnroutedAnswersProblem: a path of the API that no route serves, and
// a method a path's routes do not take, are errors of the API like any
// other: problem details naming the path (and for a 405, the methods in
// Allow and in the detail), not net/http's "404 page not found" and
// "Method Not Allowed" in text/plain, which a client reading problems
// could not decode.
func TestUnroutedAnswersProblem(t *testing.T) {
	e := MustServer(t)
	for _, tc := range []struct {
		method, path, token string
		status              int
		code, allow         string
	}{
		{"PATCH", "/api/v1/environments", adminSecret, 405, "method_not_allowed", "GET, HEAD, POST"},
		{"PATCH", "/api/v1/environments", "", 405, "method_not_allowed", "GET, HEAD, POST"},
		{"POST", "/api/v1/tokens/7", adminSecret, 405, "method_not_allowed", "DELETE"},
		{"GET", "/api/v1/environments/production/flags/kill/enable", adminSecret, 405, "method_not_allowed", "POST"},
		{"DELETE", "/api/v1/openapi.json", "", 405, "method_not_allowed", "GET, HEAD"},
		{"GET", "/hooks/github", "", 405, "method_not_allowed", "POST"},
		{"GET", "/api/v1/nowhere", adminSecret, 404, "not_found", ""},
		{"POST", "/api/v2/environments", "", 404, "not_found", ""},
		{"GET", "/hooks/bitbucket", "", 404, "not_found", ""},
	} {
		resp, body := e.do(t, call{method: tc.method, path: tc.path, token: tc.token})
		var p struct {
			Status   int    `json:"status"`
			Code     string `json:"code"`
			Detail   string `json:"detail"`
			Instance string `json:"instance"`
		}
		err := json.Unmarshal([]byte(body), &p)
		if resp.StatusCode != tc.status || resp.Header.Get("Content-Type") != "application/problem+json" || err != nil ||
			p.Status != tc.status || p.Code != tc.code || p.Instance != tc.path || p.Detail == "" {
			t.Errorf("%s %s: %d %s %s; want %d, a problem with code %s", tc.method, tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), body, tc.status, tc.code)
		}
		if got := resp.Header.Get("Allow"); got != tc.allow {
			t.Errorf("%s %s: Allow %q, want %q", tc.method, tc.path, got, tc.allow)
		}
	}
}
