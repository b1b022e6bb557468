package forge_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/dora"
	"github.com/valueloop/valueloop/forge"
	"github.com/valueloop/valueloop/valuelooptest"
)

func TestDecode(t *testing.T) {
	var v struct {
		Ref string `json:"ref"`
	}
	tests := []struct{ name, body, field string }{
		{"not JSON", `ref=main`, "payload"},
		{"an array", `[]`, "payload"},
		{"a field of the wrong type", `{"ref": 5}`, "ref"},
		{"a repeated key", `{"ref": "a", "ref": "b"}`, "ref"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := forge.Decode([]byte(tt.body), &v)
			var e *valueloop.Error
			if !errors.As(err, &e) || e.Code != valueloop.EINVALID || e.Field != tt.field {
				t.Errorf("Decode(%s) = %v, want an invalid error naming %q", tt.body, err, tt.field)
			}
		})
	}
	if err := forge.Decode([]byte(`{"ref": "main", "unknown": 1}`), &v); err != nil || v.Ref != "main" {
		t.Errorf("Decode with an unknown field = %v, %q; want it read", err, v.Ref)
	}
}

func TestTruncate(t *testing.T) {
	long := strings.Repeat("x", 41)
	if got := forge.Truncate(long); got != long[:40]+"…" {
		t.Errorf("Truncate(41 bytes) = %q", got)
	}
	if got := forge.Truncate(long[:40]); got != long[:40] {
		t.Errorf("Truncate(40 bytes) = %q, want it unchanged", got)
	}
}

func TestPaths(t *testing.T) {
	got := forge.Paths([]string{"a", "b"}, []string{"b", "c"}, nil, []string{"a"})
	if want := []string{"a", "b", "c"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Paths = %v, want %v", got, want)
	}
}

func TestConfig(t *testing.T) {
	c := forge.Config{Production: map[string]bool{"prod": true, "staging": false}}
	if got := c.Label(); got != forge.DefaultIncidentLabel {
		t.Errorf("Label() = %q, want the default", got)
	}
	c.IncidentLabel = "sev1"
	if got := c.Label(); got != "sev1" {
		t.Errorf("Label() = %q, want sev1", got)
	}
	tests := []struct {
		env          string
		marked, want bool
	}{
		{"prod", false, true},     // listed: the list decides
		{"staging", true, false},  // listed: the list decides
		{"eu-live", true, true},   // not listed: the forge's mark decides
		{"eu-live", false, false}, // the name alone decides nothing
	}
	for _, tt := range tests {
		if got := c.IsProduction(tt.env, tt.marked); got != tt.want {
			t.Errorf("IsProduction(%q, %v) = %v, want %v", tt.env, tt.marked, got, tt.want)
		}
	}
}

// TestPushBranch: what GitHub's and GitLab's readers make of a push's ref.
func TestPushBranch(t *testing.T) {
	tests := []struct {
		name, ref     string
		deleted       bool
		commits       int
		defaultBranch string
		branch        string
		ignored       string
		field         string // of the error, if any
	}{
		{"branch", "refs/heads/feat/x", false, 2, "main", "feat/x", "", ""},
		{"no ref", "", false, 2, "main", "", "", "ref"},
		{"deleted", "refs/heads/old", true, 0, "", "", "push deleted refs/heads/old", ""},
		{"a tag", "refs/tags/v1", false, 1, "main", "", "push to refs/tags/v1, not a branch", ""},
		{"no commits", "refs/heads/main", false, 0, "main", "", "push without new commits", ""},
		{"no default branch", "refs/heads/main", false, 1, "", "", "", "project.default_branch"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			branch, ignored, err := forge.PushBranch(tc.ref, tc.deleted, tc.commits, tc.defaultBranch, "project.default_branch")
			if branch != tc.branch || ignored != tc.ignored {
				t.Errorf("branch %q ignored %q, want %q and %q", branch, ignored, tc.branch, tc.ignored)
			}
			if tc.field == "" {
				if err != nil {
					t.Errorf("error %v, want none", err)
				}
				return
			}
			valuelooptest.WantFieldError(t, err, tc.field)
		})
	}
}

// TestResolve: a closed issue is resolved at its close time, else at its
// last update, never before it opened; with neither time it is refused.
func TestResolve(t *testing.T) {
	opened := time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)
	updated := opened.Add(3 * time.Hour)
	closed := opened.Add(2 * time.Hour)
	tests := []struct {
		name            string
		updated, closed time.Time
		want            time.Time
	}{
		{"closed", updated, closed, closed},
		{"no close time", updated, time.Time{}, updated},
		{"closed before it opened", updated, opened.Add(-time.Hour), opened},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			inc := dora.Incident{OpenedAt: opened, UpdatedAt: tc.updated}
			if err := forge.Resolve(&inc, tc.closed, "closed_at"); err != nil {
				t.Fatal(err)
			}
			if inc.ResolvedAt == nil || !inc.ResolvedAt.Equal(tc.want) {
				t.Errorf("resolved at %v, want %v", inc.ResolvedAt, tc.want)
			}
		})
	}
	inc := dora.Incident{OpenedAt: opened}
	valuelooptest.WantFieldError(t, forge.Resolve(&inc, time.Time{}, "issue.closed_at"), "issue.closed_at")
	if inc.ResolvedAt != nil {
		t.Errorf("a refused close resolved the incident at %v", inc.ResolvedAt)
	}
}
