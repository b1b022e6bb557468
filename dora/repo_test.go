package dora_test

import (
	"strings"
	"testing"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/dora"
)

// TestCheckRepo: what GitHub's full_name and GitLab's path_with_namespace
// hold is a repository (nested groups, dots, dashes, underscores); what no
// webhook sends is refused naming the field, and "owner/*" is a pattern
// only where patterns are asked for.
func TestCheckRepo(t *testing.T) {
	for _, repo := range []string{"Codertocat/Hello-World", "gitlab-org/security/gitlab", "awesome_space/awesome_project", "acme.io/shop.web", "acme/.github"} {
		for _, patterns := range []bool{false, true} {
			if err := dora.CheckRepo("repo", repo, patterns); err != nil {
				t.Errorf("CheckRepo(%q, %v): %v; want nil", repo, patterns, err)
			}
		}
	}
	if err := dora.CheckRepo("repos[0]", "gitlab-org/*", true); err != nil {
		t.Errorf("pattern gitlab-org/*: %v", err)
	}
	for _, tc := range []struct {
		repo     string
		patterns bool
		want     string
	}{
		{"", false, "is empty"},
		{"nope", false, `"nope" names no owner`},
		{"nope", true, `"nope" names no repository`},
		{"acme/*", false, `"acme/*" is a pattern`},
		{"acme/sh*p", true, `only a final "/*"`},
		{"*", true, `only a final "/*"`},
		{"acme/shop ", false, "is not a repository name"},
		{"acme//shop", false, "is not a repository name"},
		{"/shop", false, "is not a repository name"},
		{"acme/shop/", true, "is not a repository name"},
		{"acme/../shop", false, "is not a repository name"},
		{"https://github.com/acme/shop", false, "is not a repository name"},
		{"acme/sh\x00op", false, "is not a repository name"},
		{"acme/" + strings.Repeat("x", dora.MaxRepo), false, "bytes long"},
	} {
		err := dora.CheckRepo("f", tc.repo, tc.patterns)
		var ve *valueloop.Error
		if e, ok := err.(*valueloop.Error); ok {
			ve = e
		}
		if ve == nil || ve.Field != "f" || valueloop.ErrorCode(err) != valueloop.EINVALID || !strings.Contains(ve.Message, tc.want) {
			t.Errorf("CheckRepo(%.40q, %v): %v; want invalid f: %s", tc.repo, tc.patterns, err, tc.want)
		}
	}
}
