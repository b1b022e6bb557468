package httpapi_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/valueloop/valueloop/delivery"
)

// TestDeliveryRepoChecked: every repository the API takes, of a record,
// a catalogued service or a webhook source, is a repository as GitHub and
// GitLab name it ("owner/name", GitLab's "group/sub/name"); one no webhook
// can send ("nope", a URL, "acme/shop " with a space) would match no
// delivery and silently drop out of the metrics. It is refused with 400
// naming the field, and nothing is stored. Services and records took any
// repository while sources refused the same value.
func TestDeliveryRepoChecked(t *testing.T) {
	e, _ := mustDeliveryServer(t, nil)
	const at = `"2026-01-05T00:00:00Z"`
	for _, tc := range []struct {
		name, method, path, body, field string
	}{
		{"service", "PUT", "/api/v1/delivery/services/shop", `{"sources":[{"repo":"acme/shop"},{"repo":"nope"}]}`, "sources[1].repo"},
		{"service URL", "PUT", "/api/v1/delivery/services/shop", `{"sources":[{"repo":"https://github.com/acme/shop"}]}`, "sources[0].repo"},
		{"change", "POST", "/api/v1/delivery/changes", `{"repo":"bad","sha":"aaaaaaa","authoredAt":` + at + `}`, "changes[0].repo"},
		{"change pattern", "POST", "/api/v1/delivery/changes", `{"repo":"acme/*","sha":"aaaaaaa","authoredAt":` + at + `}`, "changes[0].repo"},
		{"review", "POST", "/api/v1/delivery/changes", `{"repo":"acme//shop","sha":"aaaaaaa","pr":"7","authoredAt":` + at + `,"reviewedAt":` + at + `}`, "changes[0].repo"},
		{"deployment", "POST", "/api/v1/delivery/deployments", `{"service":"shop","repo":"acme/shop ","environment":"prod-eu","status":"success","at":` + at + `}`, "deployments[0].repo"},
		{"incident", "POST", "/api/v1/delivery/incidents", `{"service":"shop","repo":"/shop","title":"down","openedAt":` + at + `}`, "incidents[0].repo"},
		{"source", "PUT", "/api/v1/delivery/sources/acme", `{"kind":"github","repos":["acme/sh op"]}`, "repos[0]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, out := e.do(t, call{method: tc.method, path: tc.path, token: adminSecret, body: tc.body})
			if resp.StatusCode != 400 || !strings.Contains(out, fmt.Sprintf(`"field": %q`, tc.field)) || !strings.Contains(out, "want \\\"owner/name\\\"") {
				t.Errorf("%d %.400s; want 400 naming %s and the repository it wants", resp.StatusCode, out, tc.field)
			}
		})
	}
	var services struct{ Services []json.RawMessage }
	if err := json.Unmarshal([]byte(e.expect(t, call{method: "GET", path: "/api/v1/delivery/services", token: adminSecret}, 200)), &services); err != nil || len(services.Services) != 0 {
		t.Errorf("services after refusals: %s, %v; want none", services.Services, err)
	}
	for _, kind := range []string{"changes", "deployments", "incidents", "reviews"} {
		var list struct{ Records []delivery.Record }
		if err := json.Unmarshal([]byte(e.expect(t, call{method: "GET", path: "/api/v1/delivery/records/" + kind, token: adminSecret}, 200)), &list); err != nil || len(list.Records) != 0 {
			t.Errorf("%s after refusals: %+v, %v; want none", kind, list.Records, err)
		}
	}
	if body := e.expect(t, call{method: "GET", path: "/api/v1/delivery/sources", token: adminSecret}, 200); strings.Contains(body, `"acme"`) {
		t.Errorf("sources after refusal: %s; want none", body)
	}

	// What GitHub and GitLab send is taken: nested groups, dots, dashes,
	// underscores, and an edit is checked as a new record.
	for i, repo := range []string{"gitlab-org/security/gitlab", "acme.io/shop.web", "awesome_space/awesome-project_2", "acme/.github"} {
		e.expect(t, call{method: "POST", path: "/api/v1/delivery/changes", token: adminSecret,
			body: fmt.Sprintf(`{"repo":%q,"sha":"%07x","authoredAt":%s}`, repo, 0xabc0000+i, at)}, 201)
	}
	e.expect(t, call{method: "PUT", path: "/api/v1/delivery/services/shop", token: adminSecret, body: `{"sources":[{"repo":"gitlab-org/security/gitlab","path":"app"}]}`}, 200)
	var list struct{ Records []delivery.Record }
	if err := json.Unmarshal([]byte(e.expect(t, call{method: "GET", path: "/api/v1/delivery/records/changes", token: adminSecret}, 200)), &list); err != nil || len(list.Records) != 4 {
		t.Fatalf("changes: %+v, %v; want the 4 recorded", list.Records, err)
	}
	rec := list.Records[0]
	edited := *rec.Change
	edited.Repo = "nope"
	body, _ := json.Marshal(map[string]any{"change": edited, "reason": "typo"})
	path := fmt.Sprintf("/api/v1/delivery/records/changes/%d", rec.Record)
	if resp, out := e.do(t, call{method: "PUT", path: path, token: adminSecret, body: string(body)}); resp.StatusCode != 400 || !strings.Contains(out, `"field": "change.repo"`) {
		t.Errorf("edit to repo nope: %d %.300s; want 400 naming change.repo", resp.StatusCode, out)
	}
	if out := e.expect(t, call{method: "GET", path: path, token: adminSecret}, 200); !strings.Contains(out, fmt.Sprintf(`"repo": %q`, rec.Change.Repo)) {
		t.Errorf("the change after a refused edit: %s; want repo %s still", out, rec.Change.Repo)
	}
}
