package dora

import (
	"regexp"
	"strings"

	"github.com/valueloop/valueloop"
)

// MaxRepo bounds a repository name: far above any forge's, and within what
// PostgreSQL can index.
const MaxRepo = 1000

// repoPart is one part of a repository name: GitHub's owners and
// repositories and GitLab's groups and projects are letters, digits, '.',
// '_' and '-'.
var repoPart = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// CheckRepo reports what keeps repo from being a repository as GitHub
// (full_name, "owner/name") and GitLab (path_with_namespace, also
// "group/subgroup/name") name it, naming field. With patterns, as a
// webhook source's repositories, "owner/*" stands for every repository
// under owner, in subgroups too. A record or a catalogued service names one
// repository: a name no webhook can send ("shop", "acme/shop ", a URL)
// would match no delivery and silently lose its share of the metrics, so
// every place that takes a repository checks it here.
func CheckRepo(field, repo string, patterns bool) error {
	want := `want "owner/name" ("group/subgroup/name" on GitLab)`
	if patterns {
		want += `, or "owner/*" for every repository of an owner`
	}
	if len(repo) > MaxRepo {
		return valueloop.FieldErrorf(field, "is %d bytes long: at most %d", len(repo), MaxRepo)
	}
	name, all := strings.CutSuffix(repo, "/*")
	switch {
	case repo == "":
		return valueloop.FieldErrorf(field, "is empty: %s", want)
	case all && !patterns:
		return valueloop.FieldErrorf(field, "%q is a pattern: name one repository, %s", valueloop.Clip(repo), want)
	case strings.Contains(name, "*"):
		return valueloop.FieldErrorf(field, "%q: only a final \"/*\" may stand for every repository of an owner", valueloop.Clip(repo))
	case !all && !strings.Contains(repo, "/"):
		if patterns {
			return valueloop.FieldErrorf(field, "%q names no repository: want \"owner/name\", or \"%s/*\" for all of the owner's", valueloop.Clip(repo), valueloop.Clip(repo))
		}
		return valueloop.FieldErrorf(field, "%q names no owner: %s", valueloop.Clip(repo), want)
	}
	for part := range strings.SplitSeq(name, "/") {
		if part == "" || part == "." || part == ".." || !repoPart.MatchString(part) {
			return valueloop.FieldErrorf(field, "%q is not a repository name: %s, each part letters, digits, '.', '_' or '-'", valueloop.Clip(repo), want)
		}
	}
	return nil
}
