package httpapi_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/valueloop/valueloop"
)

// TestViewerReadsAndChangesNothing walks every admin operation of the API
// with a viewer token: reads answer as for an admin, every change is
// refused with 403 and leaves the audit trail as it was.
func TestViewerReadsAndChangesNothing(t *testing.T) {
	e := MustServer(t)
	_, doc := openAPIRoutes(t, e)
	ctx := context.Background()
	viewer, err := e.auth.Create(ctx, &valueloop.Token{Name: "pm", Scope: valueloop.ScopeViewer}, "", "test")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(viewer, "vl_view_") {
		t.Errorf("viewer secret %q, want the prefix vl_view_", viewer)
	}
	reads, writes := 0, 0
	for path, ops := range doc["paths"].(map[string]any) {
		for method, op := range ops.(map[string]any) {
			if op.(map[string]any)["x-valueloop-scope"] != "admin" {
				continue
			}
			m := strings.ToUpper(method)
			p := strings.NewReplacer("{env}", "production", "{key}", "kill", "{id}", "1", "{name}", "x").Replace(path)
			before, _ := e.db.Audit(ctx, valueloop.AuditFilter{})
			resp, body := e.do(t, call{method: m, path: p, token: viewer, body: `{"name":"x","scope":"admin"}`})
			if m == http.MethodGet {
				reads++
				if resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusUnauthorized {
					t.Errorf("viewer: %s %s = %d %s, want it readable", m, p, resp.StatusCode, body)
				}
				continue
			}
			writes++
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("viewer: %s %s = %d %s, want 403", m, p, resp.StatusCode, body)
			}
			after, _ := e.db.Audit(ctx, valueloop.AuditFilter{})
			if len(after) != len(before) {
				t.Errorf("%s %s with a viewer token changed something", m, p)
			}
		}
	}
	if reads < 8 || writes < 10 {
		t.Errorf("walked %d reads and %d writes, want at least 8 and 10", reads, writes)
	}
	// Events are a write too.
	resp, body := e.do(t, call{method: "POST", path: "/api/v1/events", token: viewer,
		headers: map[string]string{environmentHeader: "production"},
		body:    `{"events":[{"type":"tracking","name":"x","targetingKey":"u1"}]}`})
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("viewer: POST /api/v1/events = %d %s, want 403", resp.StatusCode, body)
	}
}

const environmentHeader = "Valueloop-Environment"
