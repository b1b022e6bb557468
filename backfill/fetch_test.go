package backfill

import (
	"net/http"
	"testing"
)

// TestNextPage: the next page from RFC 8288 Link headers as GitHub and
// GitLab write them, else from X-Next-Page.
func TestNextPage(t *testing.T) {
	const u = "https://api.example.com/repos/a/b/pulls?per_page=100&state=closed"
	tests := []struct {
		name   string
		header http.Header
		want   string
	}{
		{"github, next first", http.Header{"Link": {`<https://api.example.com/repos/a/b/pulls?page=2>; rel="next", <https://api.example.com/repos/a/b/pulls?page=9>; rel="last"`}},
			"https://api.example.com/repos/a/b/pulls?page=2"},
		{"next after prev and first", http.Header{"Link": {`<https://api.example.com/x?page=1>; rel="prev", <https://api.example.com/x?page=1>; rel="first",<https://api.example.com/x?page=3>;rel=next`}},
			"https://api.example.com/x?page=3"},
		{"two header lines", http.Header{"Link": {`<https://api.example.com/x?page=1>; rel="first"`, `<https://api.example.com/x?page=4>; rel="next last"`}},
			"https://api.example.com/x?page=4"},
		{"relative", http.Header{"Link": {`</repos/a/b/pulls?page=5>; rel="next"`}}, "https://api.example.com/repos/a/b/pulls?page=5"},
		{"last page", http.Header{"Link": {`<https://api.example.com/x?page=1>; rel="first"`}}, ""},
		{"gitlab X-Next-Page", http.Header{"X-Next-Page": {"3"}}, "https://api.example.com/repos/a/b/pulls?page=3&per_page=100&state=closed"},
		{"gitlab last page", http.Header{"X-Next-Page": {""}}, ""},
		{"nothing", http.Header{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := nextPage(u, tt.header)
			if err != nil || got != tt.want {
				t.Errorf("nextPage: %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// TestAPIRoot: the default roots, and the API path added to a host alone.
func TestAPIRoot(t *testing.T) {
	tests := []struct{ kind, base, want string }{
		{"github", "", "https://api.github.com"},
		{"gitlab", "", "https://gitlab.com/api/v4"},
		{"github", "https://github.example.com", "https://github.example.com/api/v3"},
		{"github", "https://github.example.com/api/v3/", "https://github.example.com/api/v3"},
		{"github", "https://api.github.com", "https://api.github.com"},
		{"gitlab", "https://gitlab.example.com", "https://gitlab.example.com/api/v4"},
		{"gitlab", "https://gitlab.example.com/api/v4", "https://gitlab.example.com/api/v4"},
	}
	for _, tt := range tests {
		if got, err := APIRoot(tt.kind, tt.base); err != nil || got != tt.want {
			t.Errorf("APIRoot(%s, %q) = %q, %v; want %q", tt.kind, tt.base, got, err, tt.want)
		}
	}
	if _, err := APIRoot("github", "github.example.com"); err == nil {
		t.Error("a base URL without a scheme was accepted")
	}
}
