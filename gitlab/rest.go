package gitlab

import (
	"cmp"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/dora"
	"github.com/valueloop/valueloop/forge"
)

// Pages of the REST API (v4), for importing history (package backfill
// fetches them). Each function reads one page of a list endpoint, a JSON
// array, into the records the webhook about the same object gives, with
// the same keys ("gitlab:job:77" for a deployment run by job 77,
// "gitlab:issue:<id>", project path and SHA): history imported after the
// webhook was set up finds what the webhook already stored. Errors name the
// item and field ("[3].merged_at").

// Project reads GET /projects/:id: the path and default branch that the
// pages of the project are read with.
func Project(body []byte) (path, defaultBranch string, err error) {
	var p project
	if err := forge.Decode(body, &p); err != nil {
		return "", "", err
	}
	if p.PathWithNamespace == "" {
		return "", "", valueloop.FieldErrorf("path_with_namespace", "is required")
	}
	return p.PathWithNamespace, p.DefaultBranch, nil
}

// EnvironmentsPage reads a page of GET /projects/:id/environments: the
// names of the environments of tier production. The deployments API names
// a deployment's environment without its tier, so an import learns the
// tiers here, the hint the Deployment Hook's environment_tier gives the
// webhook.
func EnvironmentsPage(body []byte) ([]string, error) {
	var page []struct {
		Name string `json:"name"`
		Tier string `json:"tier"`
	}
	if err := forge.Decode(body, &page); err != nil {
		return nil, err
	}
	var out []string
	for _, e := range page {
		if e.Tier == "production" && e.Name != "" {
			out = append(out, e.Name)
		}
	}
	return out, nil
}

type restMergeRequest struct {
	IID             json.Number `json:"iid"`
	State           string      `json:"state"`
	SourceBranch    string      `json:"source_branch"`
	TargetBranch    string      `json:"target_branch"`
	SourceProjectID json.Number `json:"source_project_id"`
	TargetProjectID json.Number `json:"target_project_id"`
	SHA             string      `json:"sha"`
	MergeCommitSHA  string      `json:"merge_commit_sha"`
	SquashCommitSHA string      `json:"squash_commit_sha"`
	CreatedAt       stamp       `json:"created_at"`
	MergedAt        stamp       `json:"merged_at"`
	UpdatedAt       stamp       `json:"updated_at"`
	Author          userRef     `json:"author"`
}

// MergeRequestsPage reads a page of GET
// /projects/:id/merge_requests?state=merged: each merge request merged
// into the default branch is a change, as the merge event gives it (the
// landed commit is the merge commit, else the squash commit, else the head
// of a fast-forward merge); its PR is the IID that its approvals are read
// with. Beside each change, the ID of its merge request's author, for
// ApprovalsPage and NotesPage.
func MergeRequestsPage(body []byte, path, defaultBranch string) ([]dora.Change, []string, error) {
	var page []restMergeRequest
	if err := forge.Decode(body, &page); err != nil {
		return nil, nil, err
	}
	var out []dora.Change
	var authors []string
	for i := range page {
		mr := &page[i]
		f := fmt.Sprintf("[%d].", i)
		if mr.State != "merged" || (mr.TargetBranch != "" && defaultBranch != "" && mr.TargetBranch != defaultBranch) {
			continue
		}
		if mr.IID == "" {
			return nil, nil, valueloop.FieldErrorf(f+"iid", "is required")
		}
		sha := cmp.Or(mr.MergeCommitSHA, mr.SquashCommitSHA, mr.SHA)
		if sha == "" {
			return nil, nil, valueloop.FieldErrorf(f+"merge_commit_sha", "is required")
		}
		merged, err := firstTime(f, []stamp{mr.MergedAt, mr.UpdatedAt}, "merged_at", "updated_at")
		if err != nil {
			return nil, nil, err
		}
		created, err := mr.CreatedAt.Required(f + "created_at")
		if err != nil {
			return nil, nil, err
		}
		out = append(out, dora.Change{
			Repo: path, SHA: strings.ToLower(sha), PR: mr.IID.String(), Branch: sourceBranch(mr.SourceBranch, mr.SourceProjectID, mr.TargetProjectID, ""),
			AuthoredAt: created, MergedAt: merged, OpenedAt: created,
		})
		authors = append(authors, mr.Author.ID.String())
	}
	return out, authors, nil
}

// firstTime is the first of times that is set; an error naming the last
// field when none is.
func firstTime(prefix string, times []stamp, fields ...string) (time.Time, error) {
	for i, s := range times {
		t, err := s.time(prefix + fields[i])
		if err != nil || !t.IsZero() {
			return t, err
		}
	}
	return time.Time{}, valueloop.FieldErrorf(prefix+fields[len(fields)-1], "is required")
}

// ApprovalsPage reads GET /projects/:id/merge_requests/:iid/approvals:
// each approval with its approved_at (GitLab 18.4 and later) is a review.
// undated counts the approvals without it, whose times only the merge
// request's notes tell (NotesPage). The approvals of author, the merge
// request's (an ID), are not reviews of it.
func ApprovalsPage(body []byte, path, iid, author string) (reviews []dora.Review, undated int, err error) {
	var a struct {
		ApprovedBy []struct {
			User       userRef `json:"user"`
			ApprovedAt stamp   `json:"approved_at"`
		} `json:"approved_by"`
	}
	if err := forge.Decode(body, &a); err != nil {
		return nil, 0, err
	}
	for i, by := range a.ApprovedBy {
		at, err := by.ApprovedAt.time(fmt.Sprintf("approved_by[%d].approved_at", i))
		if err != nil {
			return nil, 0, err
		}
		if byAuthor(by.User.ID, json.Number(author)) {
			continue
		}
		if at.IsZero() {
			undated++
			continue
		}
		reviews = append(reviews, dora.Review{Repo: path, PR: iid, At: at})
	}
	return reviews, undated, nil
}

// NotesPage reads a page of GET /projects/:id/merge_requests/:iid/notes:
// the system notes "approved this merge request" date the approvals of
// GitLab versions whose approvals API does not; those of author, the
// merge request's (an ID), are not reviews of it.
func NotesPage(body []byte, path, iid, author string) ([]dora.Review, error) {
	var page []struct {
		Body      string  `json:"body"`
		System    bool    `json:"system"`
		Author    userRef `json:"author"`
		CreatedAt stamp   `json:"created_at"`
	}
	if err := forge.Decode(body, &page); err != nil {
		return nil, err
	}
	var out []dora.Review
	for i, n := range page {
		if !n.System || !strings.HasPrefix(strings.TrimSpace(n.Body), "approved this merge request") || byAuthor(n.Author.ID, json.Number(author)) {
			continue
		}
		at, err := n.CreatedAt.Required(fmt.Sprintf("[%d].created_at", i))
		if err != nil {
			return nil, err
		}
		out = append(out, dora.Review{Repo: path, PR: iid, At: at})
	}
	return out, nil
}

type restDeployment struct {
	ID         json.Number `json:"id"`
	Ref        string      `json:"ref"`
	SHA        string      `json:"sha"`
	Status     string      `json:"status"`
	CreatedAt  stamp       `json:"created_at"`
	UpdatedAt  stamp       `json:"updated_at"`
	FinishedAt stamp       `json:"finished_at"`
	Deployable *struct {
		ID         json.Number `json:"id"`
		FinishedAt stamp       `json:"finished_at"`
	} `json:"deployable"`
	// Environment is GitLab's EnvironmentBasic: id, name, slug,
	// external_url, created_at, updated_at; no tier (GitLabStreams learns
	// the tiers from the environments list, EnvironmentsPage).
	Environment struct {
		Name string `json:"name"`
	} `json:"environment"`
}

// DeploymentsPage reads a page of GET /projects/:id/deployments: each
// deployment in its current status, keyed by the job that ran it as the
// deployment, pipeline and job events key it. Deployments not started
// (created, blocked on a manual job, skipped) are skipped.
func DeploymentsPage(body []byte, path string, cfg Config) ([]dora.Deployment, error) {
	var page []restDeployment
	if err := forge.Decode(body, &page); err != nil {
		return nil, err
	}
	var out []dora.Deployment
	for i := range page {
		d := &page[i]
		f := fmt.Sprintf("[%d].", i)
		status, ok := statuses[d.Status]
		if !ok {
			continue
		}
		if d.Environment.Name == "" {
			return nil, valueloop.FieldErrorf(f+"environment.name", "is required")
		}
		id := "gitlab:deployment:" + d.ID.String()
		times := []stamp{d.FinishedAt, d.UpdatedAt, d.CreatedAt}
		if d.Deployable != nil && d.Deployable.ID != "" && d.Deployable.ID != "0" {
			id = jobID(d.Deployable.ID.String())
			times = []stamp{d.FinishedAt, d.Deployable.FinishedAt, d.UpdatedAt, d.CreatedAt}
		} else if d.ID == "" {
			return nil, valueloop.FieldErrorf(f+"id", "is required")
		}
		if status == dora.StatusPending {
			times = times[len(times)-1:] // started: when it was created
		}
		fields := []string{"finished_at", "deployable.finished_at", "updated_at", "created_at"}
		at, err := firstTime(f, times, fields[len(fields)-len(times):]...)
		if err != nil {
			return nil, err
		}
		out = append(out, dora.Deployment{
			ID: id, Repo: path, Environment: d.Environment.Name, Production: cfg.IsProduction(d.Environment.Name, false),
			SHA: strings.ToLower(d.SHA), Version: d.Ref, Status: status, At: at,
		})
	}
	return out, nil
}

// IssuesPage reads a page of GET /projects/:id/issues (state=all, with
// labels=LABEL or issue_type=incident): each issue of type incident or
// with the incident label is an incident as it stands now, resolved when
// closed.
func IssuesPage(body []byte, path string, cfg Config) ([]dora.Incident, error) {
	var page []struct {
		ID          json.Number `json:"id"`
		Title       string      `json:"title"`
		Description string      `json:"description"`
		State       string      `json:"state"`
		IssueType   string      `json:"issue_type"`
		Type        string      `json:"type"`
		Labels      []string    `json:"labels"`
		CreatedAt   stamp       `json:"created_at"`
		UpdatedAt   stamp       `json:"updated_at"`
		ClosedAt    stamp       `json:"closed_at"`
	}
	if err := forge.Decode(body, &page); err != nil {
		return nil, err
	}
	var out []dora.Incident
	for i, is := range page {
		f := fmt.Sprintf("[%d].", i)
		typed := strings.EqualFold(is.IssueType, "incident") || strings.EqualFold(is.Type, "incident")
		if !typed && !hasLabel(is.Labels, cfg.Label()) {
			continue
		}
		if is.ID == "" {
			return nil, valueloop.FieldErrorf(f+"id", "is required")
		}
		opened, err := is.CreatedAt.Required(f + "created_at")
		if err != nil {
			return nil, err
		}
		updated, err := is.UpdatedAt.time(f + "updated_at")
		if err != nil {
			return nil, err
		}
		inc := dora.Incident{ID: "gitlab:issue:" + is.ID.String(), Service: dora.LabelService(is.Labels), Repo: path,
			Title: is.Title, OpenedAt: opened, UpdatedAt: updated, CauseSHA: dora.CauseSHA(is.Description)}
		if is.State == "closed" {
			closed, err := firstTime(f, []stamp{is.ClosedAt, is.UpdatedAt}, "closed_at", "closed_at")
			if err != nil {
				return nil, err
			}
			closed = maxTime(closed, opened)
			inc.ResolvedAt = &closed
		}
		out = append(out, inc)
	}
	return out, nil
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// ReleasesPage reads a page of GET /projects/:id/releases: when
// cfg.ReleaseEnvironment is set, each release is a successful deployment
// of its commit at its release time. The API gives releases no ID: the
// deployment is keyed by tag, and one the release webhook stored is known
// by its environment, commit and time.
func ReleasesPage(body []byte, path string, cfg Config) ([]dora.Deployment, error) {
	if cfg.ReleaseEnvironment == "" {
		return nil, nil
	}
	var page []struct {
		TagName     string `json:"tag_name"`
		ReleasedAt  stamp  `json:"released_at"`
		CreatedAt   stamp  `json:"created_at"`
		UpcomingRel bool   `json:"upcoming_release"`
		Commit      commit `json:"commit"`
	}
	if err := forge.Decode(body, &page); err != nil {
		return nil, err
	}
	var out []dora.Deployment
	for i, r := range page {
		f := fmt.Sprintf("[%d].", i)
		if r.UpcomingRel {
			continue // released_at is in the future
		}
		if r.TagName == "" {
			return nil, valueloop.FieldErrorf(f+"tag_name", "is required")
		}
		at, err := firstTime(f, []stamp{r.ReleasedAt, r.CreatedAt}, "released_at", "released_at")
		if err != nil {
			return nil, err
		}
		out = append(out, dora.Deployment{
			ID: "gitlab:release:" + path + "@" + r.TagName, Repo: path, Environment: cfg.ReleaseEnvironment,
			Production: cfg.IsProduction(cfg.ReleaseEnvironment, false), SHA: strings.ToLower(r.Commit.ID), Version: r.TagName,
			Status: dora.StatusSuccess, At: at,
		})
	}
	return out, nil
}
