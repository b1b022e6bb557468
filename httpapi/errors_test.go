package httpapi_test

import (
	"encoding/json"
	"strings"
	"testing"
)

// Every API error is RFC 9457 problem details: type, title, status,
// detail, instance, the error kind in code and the fields at fault in
// errors; JSON mistakes are named by field in JSON terms, never Go's.
func TestProblemDetails(t *testing.T) {
	e := MustServer(t)
	type fieldErr struct{ Field, Message string }
	for _, c := range []struct {
		name   string
		call   call
		status int
		code   string
		field  string // "" when the problem has no field errors
		detail string
	}{
		{"no token", call{method: "GET", path: "/api/v1/tokens"}, 401, "unauthorized", "", ""},
		{"not found", call{method: "GET", path: "/api/v1/environments/nowhere/flags/x", token: adminSecret}, 404, "not_found", "", "nowhere"},
		{"object for a string", call{method: "POST", path: "/api/v1/tokens", token: adminSecret, body: `{"name":{"a":1}}`}, 400, "invalid", "name", "must be a string, not an object"},
		{"array for an object", call{method: "PUT", path: "/api/v1/environments/production/flags/new-ui", token: adminSecret, body: `[1]`}, 400, "invalid", "", "must be an object, not an array"},
		{"duplicate key", call{method: "POST", path: "/api/v1/tokens", token: adminSecret, body: `{"name":"a","scope":"admin","name":"b"}`}, 400, "invalid", "name", "more than once"},
		{"unknown field", call{method: "POST", path: "/api/v1/tokens", token: adminSecret, body: `{"name":"a","scopes":["admin"]}`}, 400, "invalid", "scopes", "not a known field"},
		{"syntax", call{method: "POST", path: "/api/v1/tokens", token: adminSecret, body: "{\"name\":\n\"a\",}"}, 400, "invalid", "", "line 2, column 5"},
		{"definition problems", call{method: "PUT", path: "/api/v1/environments/production/flags/new-ui", token: adminSecret,
			body: `{"state":"ENABLED","variants":{"on":true},"defaultVariant":"nope"}`}, 400, "invalid", "/defaultVariant", "nope"},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, body := e.do(t, c.call)
			if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type %q, want application/problem+json", ct)
			}
			var p struct {
				Type, Title, Detail, Instance, Code string
				Status                              int
				Errors                              []fieldErr
			}
			if err := json.Unmarshal([]byte(body), &p); err != nil {
				t.Fatalf("%v: %s", err, body)
			}
			if resp.StatusCode != c.status || p.Status != c.status || p.Code != c.code || p.Type != "urn:valueloop:problem:"+c.code ||
				p.Title == "" || p.Instance != c.call.path || !strings.Contains(p.Detail, c.detail) {
				t.Errorf("got %d %s\nwant status %d, code %q, instance %q, detail with %q", resp.StatusCode, body, c.status, c.code, c.call.path, c.detail)
			}
			if c.field != "" && (len(p.Errors) == 0 || p.Errors[0].Field != c.field || p.Errors[0].Message == "") {
				t.Errorf("errors %+v, want the field %q first", p.Errors, c.field)
			}
			for _, goName := range []string{"map[", "json.", "float64", "string into Go", "struct"} {
				if strings.Contains(body, goName) {
					t.Errorf("body shows Go's %q: %s", goName, body)
				}
			}
		})
	}
}
