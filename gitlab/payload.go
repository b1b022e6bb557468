package gitlab

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strings"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/forge"
)

// The payload structs hold only the fields this package reads; GitLab sends
// many more, which decoding skips.

type project struct {
	PathWithNamespace string `json:"path_with_namespace"`
	DefaultBranch     string `json:"default_branch"`
	WebURL            string `json:"web_url"`
}

// repository is the older description GitLab still sends beside project;
// job events carry only this one.
type repository struct {
	Homepage string `json:"homepage"`
}

type commit = forge.Commit[stamp]

type envelope struct {
	ObjectKind string `json:"object_kind"`
}

type pushEvent struct {
	Ref        string     `json:"ref"`
	After      string     `json:"after"`
	Project    project    `json:"project"`
	Repository repository `json:"repository"`
	Commits    []commit   `json:"commits"`
}

type mergeRequestEvent struct {
	Project    project    `json:"project"`
	Repository repository `json:"repository"`
	// User did what the event reports: for an approval, the approver.
	User             userRef `json:"user"`
	ObjectAttributes struct {
		IID             json.Number `json:"iid"`
		AuthorID        json.Number `json:"author_id"`
		Action          string      `json:"action"`
		State           string      `json:"state"`
		SourceBranch    string      `json:"source_branch"`
		TargetBranch    string      `json:"target_branch"`
		MergeCommitSHA  string      `json:"merge_commit_sha"`
		SquashCommitSHA string      `json:"squash_commit_sha"`
		CreatedAt       stamp       `json:"created_at"`
		UpdatedAt       stamp       `json:"updated_at"`
		MergedAt        stamp       `json:"merged_at"`
		LastCommit      commit      `json:"last_commit"`
		Target          project     `json:"target"`
		Source          project     `json:"source"`
		SourceProjectID json.Number `json:"source_project_id"`
		TargetProjectID json.Number `json:"target_project_id"`
	} `json:"object_attributes"`
}

// sourceBranch is a merge request's source branch as changes name it: the
// branch when it lives in the target project, else qualified by the fork
// it lives in ("group/name:branch", or "project ID:branch" when only the
// project's ID is given, as in the REST list). A branch name has no ':',
// so a fork's branch never matches a same-named branch of the target
// project, whose pushes are the only ones this source sees.
func sourceBranch(branch string, source, target json.Number, sourcePath string) string {
	if branch == "" || source == "" || target == "" || source == target {
		return branch
	}
	if sourcePath != "" {
		return sourcePath + ":" + branch
	}
	return "project " + source.String() + ":" + branch
}

type deploymentEvent struct {
	Status          string      `json:"status"`
	StatusChangedAt stamp       `json:"status_changed_at"`
	DeploymentID    json.Number `json:"deployment_id"`
	DeployableID    json.Number `json:"deployable_id"`
	Environment     string      `json:"environment"`
	EnvironmentTier string      `json:"environment_tier"`
	ShortSHA        string      `json:"short_sha"`
	CommitURL       string      `json:"commit_url"`
	Ref             string      `json:"ref"`
	Project         project     `json:"project"`
}

// environment is how pipeline builds and jobs name where they deploy.
type environment struct {
	Name           string `json:"name"`
	Action         string `json:"action"`
	DeploymentTier string `json:"deployment_tier"`
}

type pipelineEvent struct {
	ObjectAttributes struct {
		SHA        string `json:"sha"`
		Ref        string `json:"ref"`
		FinishedAt stamp  `json:"finished_at"`
	} `json:"object_attributes"`
	Builds  []build `json:"builds"`
	Project project `json:"project"`
}

type build struct {
	ID          json.Number  `json:"id"`
	Status      string       `json:"status"`
	CreatedAt   stamp        `json:"created_at"`
	StartedAt   stamp        `json:"started_at"`
	FinishedAt  stamp        `json:"finished_at"`
	Environment *environment `json:"environment"`
}

type jobEvent struct {
	BuildID         json.Number  `json:"build_id"`
	BuildStatus     string       `json:"build_status"`
	BuildCreatedAt  stamp        `json:"build_created_at"`
	BuildStartedAt  stamp        `json:"build_started_at"`
	BuildFinishedAt stamp        `json:"build_finished_at"`
	SHA             string       `json:"sha"`
	Ref             string       `json:"ref"`
	Environment     *environment `json:"environment"`
	Project         project      `json:"project"`
	Repository      repository   `json:"repository"`
}

type label struct {
	Title string `json:"title"`
}

type issueEvent struct {
	ObjectKind       string `json:"object_kind"`
	ObjectAttributes struct {
		ID          json.Number `json:"id"`
		Title       string      `json:"title"`
		Description string      `json:"description"`
		State       string      `json:"state"`
		Action      string      `json:"action"`
		Type        string      `json:"type"`       // work items: "Incident", "Issue", ...
		IssueType   string      `json:"issue_type"` // older issue payloads: "incident"
		CreatedAt   stamp       `json:"created_at"`
		UpdatedAt   stamp       `json:"updated_at"`
		ClosedAt    stamp       `json:"closed_at"`
	} `json:"object_attributes"`
	Labels  []label `json:"labels"`
	Changes struct {
		Labels struct {
			Previous []label `json:"previous"`
			Current  []label `json:"current"`
		} `json:"labels"`
	} `json:"changes"`
	Project    project    `json:"project"`
	Repository repository `json:"repository"`
}

type releaseEvent struct {
	ID         json.Number `json:"id"`
	Action     string      `json:"action"`
	Tag        string      `json:"tag"`
	CreatedAt  stamp       `json:"created_at"`
	ReleasedAt stamp       `json:"released_at"`
	Commit     commit      `json:"commit"`
	Project    project     `json:"project"`
}

// repo names the project of an event: path_with_namespace, or for events
// without it the path of the repository's homepage.
func repo(p project, r repository) (string, error) {
	if p.PathWithNamespace != "" {
		return p.PathWithNamespace, nil
	}
	for _, home := range []string{p.WebURL, r.Homepage} {
		if u, err := url.Parse(home); err == nil && u.Host != "" {
			if path := strings.Trim(u.Path, "/"); path != "" {
				return path, nil
			}
		}
	}
	return "", valueloop.FieldErrorf("project.path_with_namespace", "is required")
}

// stamp is a timestamp as GitLab writes it: ISO 8601 with any offset, or in
// older payloads "2006-01-02 15:04:05 UTC" or "2006-01-02 15:04:05 -0700";
// null when absent. It is read with its field name so that errors can name
// it.
type stamp []byte

func (s *stamp) UnmarshalJSON(b []byte) error {
	*s = append((*s)[:0], b...)
	return nil
}

var layouts = []string{
	time.RFC3339,
	"2006-01-02 15:04:05 UTC", // fractional seconds are accepted after the seconds of every layout
	"2006-01-02 15:04:05 -0700",
	"2006-01-02 15:04:05 -07:00",
	"2006-01-02T15:04:05-0700",
}

// time returns the time in UTC; the zero time when absent.
func (s stamp) time(field string) (time.Time, error) {
	b := bytes.TrimSpace(s)
	if len(b) == 0 || string(b) == "null" || string(b) == `""` {
		return time.Time{}, nil
	}
	var str string
	if err := json.Unmarshal(b, &str); err != nil {
		return time.Time{}, valueloop.FieldErrorf(field, "must be a time in a JSON string")
	}
	for _, layout := range layouts {
		if t, err := time.Parse(layout, str); err == nil {
			if t.Year() < 1970 || t.Year() >= 2200 {
				return time.Time{}, valueloop.FieldErrorf(field, "%s is out of range (1970 to 2199)", t.Format(time.RFC3339))
			}
			return t.UTC(), nil
		}
	}
	return time.Time{}, valueloop.FieldErrorf(field, "is not a time GitLab writes: %q", forge.Truncate(str))
}

// Required is time for fields that must be there.
func (s stamp) Required(field string) (time.Time, error) {
	t, err := s.time(field)
	if err == nil && t.IsZero() {
		err = valueloop.FieldErrorf(field, "is required")
	}
	return t, err
}

// userRef is a GitLab user as events and the REST API name one: by ID.
type userRef struct {
	ID json.Number `json:"id"`
}

// byAuthor reports whether an approval (or an approval's system note) by
// the user of ID by of a merge request opened by the user of ID author is
// the author's own: GitLab lets authors approve their merge requests when
// the project allows it, and that is no review, as GitHub's author reviews
// are none. Unknown IDs are someone else's.
func byAuthor(by, author json.Number) bool {
	return by != "" && by == author
}
