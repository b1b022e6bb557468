package github

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/forge"
)

// The payload structs hold only the fields this package reads; GitHub sends
// many more, which decoding skips.

type repository struct {
	FullName      string `json:"full_name"`
	DefaultBranch string `json:"default_branch"`
	PushedAt      stamp  `json:"pushed_at"`
}

type commit = forge.Commit[stamp]

type pushEvent struct {
	Ref        string     `json:"ref"`
	Deleted    bool       `json:"deleted"`
	Commits    []commit   `json:"commits"`
	Repository repository `json:"repository"`
}

// pullRequest is a pull request as the pull_request event and the REST
// API's pull request list both write it (the list leaves out merged).
type pullRequest struct {
	Number         json.Number `json:"number"`
	User           user        `json:"user"`
	Merged         bool        `json:"merged"`
	MergedAt       stamp       `json:"merged_at"`
	CreatedAt      stamp       `json:"created_at"`
	MergeCommitSHA string      `json:"merge_commit_sha"`
	Head           struct {
		Ref   string    `json:"ref"`
		Label string    `json:"label"` // "owner:ref"
		Repo  *repoName `json:"repo"`  // null once a fork is deleted
	} `json:"head"`
	Base struct {
		Ref   string    `json:"ref"`
		Label string    `json:"label"`
		Repo  *repoName `json:"repo"`
	} `json:"base"`
}

type repoName struct {
	FullName string `json:"full_name"`
}

// branch is the pull request's source branch as changes name it: its ref
// when it lives in the base repository (repo, the repository the event is
// about), else qualified by the fork it lives in ("owner/name:ref", or
// head.label "owner:ref" once the fork is deleted). A ref cannot contain
// ':', so a fork's branch never matches a same-named branch of the base
// repository, whose pushes are the only ones this source sees.
func (pr *pullRequest) branch(repo string) string {
	h := &pr.Head
	if h.Ref == "" {
		return ""
	}
	base := repo
	if pr.Base.Repo != nil && pr.Base.Repo.FullName != "" {
		base = pr.Base.Repo.FullName
	}
	switch {
	case h.Repo != nil && h.Repo.FullName != "":
		if strings.EqualFold(h.Repo.FullName, base) {
			return h.Ref
		}
		return h.Repo.FullName + ":" + h.Ref
	case h.Label != "" && pr.Base.Label != "":
		// The head repository is gone: the owners of the labels tell a fork.
		owner, _, _ := strings.Cut(h.Label, ":")
		baseOwner, _, _ := strings.Cut(pr.Base.Label, ":")
		if !strings.EqualFold(owner, baseOwner) {
			return h.Label
		}
	}
	return h.Ref
}

type pullRequestEvent struct {
	Action      string      `json:"action"`
	PullRequest pullRequest `json:"pull_request"`
	Repository  repository  `json:"repository"`
}

type reviewEvent struct {
	Action string `json:"action"`
	Review struct {
		SubmittedAt stamp `json:"submitted_at"`
		User        user  `json:"user"`
	} `json:"review"`
	PullRequest struct {
		Number json.Number `json:"number"`
		User   user        `json:"user"`
	} `json:"pull_request"`
	Repository repository `json:"repository"`
}

// user is who opened a pull request or submitted a review.
type user struct {
	Login string `json:"login"`
}

// byAuthor reports whether a review by reviewer of a pull request opened
// by author is the author's own (their notes for the reviewers, their
// replies): no review of it. Unknown logins are someone else's.
func byAuthor(reviewer, author user) bool {
	return reviewer.Login != "" && strings.EqualFold(reviewer.Login, author.Login)
}

type deployment struct {
	ID                    json.Number     `json:"id"`
	SHA                   string          `json:"sha"`
	Ref                   string          `json:"ref"`
	Task                  string          `json:"task"`
	Environment           string          `json:"environment"`
	Payload               json.RawMessage `json:"payload"`
	ProductionEnvironment *bool           `json:"production_environment"`
	CreatedAt             stamp           `json:"created_at"`
}

type deploymentEvent struct {
	Action     string     `json:"action"`
	Deployment deployment `json:"deployment"`
	Repository repository `json:"repository"`
}

type deploymentStatus struct {
	State       string `json:"state"`
	Environment string `json:"environment"`
	CreatedAt   stamp  `json:"created_at"`
	UpdatedAt   stamp  `json:"updated_at"`
}

type deploymentStatusEvent struct {
	Action           string           `json:"action"`
	DeploymentStatus deploymentStatus `json:"deployment_status"`
	Deployment       deployment       `json:"deployment"`
	Repository       repository       `json:"repository"`
}

type release struct {
	ID              json.Number `json:"id"`
	TagName         string      `json:"tag_name"`
	TargetCommitish string      `json:"target_commitish"`
	Draft           bool        `json:"draft"`
	Prerelease      bool        `json:"prerelease"`
	PublishedAt     stamp       `json:"published_at"`
}

type releaseEvent struct {
	Action     string     `json:"action"`
	Release    release    `json:"release"`
	Repository repository `json:"repository"`
}

type label struct {
	Name string `json:"name"`
}

type issue struct {
	ID        json.Number `json:"id"`
	Title     string      `json:"title"`
	State     string      `json:"state"`
	Body      string      `json:"body"`
	Labels    []label     `json:"labels"`
	CreatedAt stamp       `json:"created_at"`
	UpdatedAt stamp       `json:"updated_at"`
	ClosedAt  stamp       `json:"closed_at"`
	// PullRequest is set when the REST API lists a pull request among
	// the issues.
	PullRequest json.RawMessage `json:"pull_request"`
}

type issuesEvent struct {
	Action     string     `json:"action"`
	Issue      issue      `json:"issue"`
	Label      label      `json:"label"`
	Repository repository `json:"repository"`
}

// stamp is a timestamp as GitHub writes it: an RFC 3339 string with any
// offset, or (repository.pushed_at in push events) Unix seconds; null when
// absent. It is read with its field name so that errors can name it.
type stamp []byte

func (s *stamp) UnmarshalJSON(b []byte) error {
	*s = append((*s)[:0], b...)
	return nil
}

// time returns the time in UTC; the zero time when absent.
func (s stamp) time(field string) (time.Time, error) {
	b := bytes.TrimSpace(s)
	if len(b) == 0 || string(b) == "null" || string(b) == `""` {
		return time.Time{}, nil
	}
	var t time.Time
	if b[0] == '"' {
		var str string
		if err := json.Unmarshal(b, &str); err != nil {
			return t, valueloop.FieldErrorf(field, "is not a valid JSON string")
		}
		v, err := time.Parse(time.RFC3339, str)
		if err != nil {
			return t, valueloop.FieldErrorf(field, "is not an RFC 3339 time: %q", forge.Truncate(str))
		}
		t = v
	} else {
		n, err := strconv.ParseInt(string(b), 10, 64)
		if err != nil {
			return t, valueloop.FieldErrorf(field, "is neither an RFC 3339 time nor Unix seconds: %s", forge.Truncate(string(b)))
		}
		if n < 0 || n > 7258118400 { // 1970 to 2200
			return t, valueloop.FieldErrorf(field, "Unix time %d is out of range", n)
		}
		t = time.Unix(n, 0)
	}
	if t.Year() < 1970 || t.Year() >= 2200 {
		return time.Time{}, valueloop.FieldErrorf(field, "%s is out of range (1970 to 2199)", t.Format(time.RFC3339))
	}
	return t.UTC(), nil
}

// Required is time for fields that must be there.
func (s stamp) Required(field string) (time.Time, error) {
	t, err := s.time(field)
	if err == nil && t.IsZero() {
		err = valueloop.FieldErrorf(field, "is required")
	}
	return t, err
}
