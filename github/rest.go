package github

import (
	"fmt"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/dora"
	"github.com/valueloop/valueloop/forge"
)

// Pages of the REST API, for importing history (package backfill fetches
// them). Each function reads one page of a list endpoint, a JSON array,
// into the records the webhook about the same object gives, with the same
// keys ("github:deployment:42", repository and SHA, ...): history imported
// after the webhook was set up finds what the webhook already stored.
// Errors name the item and field ("[3].merged_at").

// Repository reads GET /repos/{owner}/{repo}: the full name and default
// branch that the pages of the repository are read with.
func Repository(body []byte) (fullName, defaultBranch string, err error) {
	var r repository
	if err := forge.Decode(body, &r); err != nil {
		return "", "", err
	}
	if err := r.check(); err != nil {
		return "", "", err
	}
	return r.FullName, r.DefaultBranch, nil
}

// PullsPage reads a page of GET /repos/{owner}/{repo}/pulls?state=closed:
// the pull requests merged into the default branch become changes, as the
// pull_request event "closed" with merged true would; the others are
// skipped. Beside each change, the login of its pull request's author, for
// ReviewsPage.
func PullsPage(body []byte, fullName, defaultBranch string) ([]dora.Change, []string, error) {
	var page []pullRequest
	if err := forge.Decode(body, &page); err != nil {
		return nil, nil, err
	}
	repo := repository{FullName: fullName, DefaultBranch: defaultBranch}
	var out []dora.Change
	var authors []string
	for i := range page {
		pr := &page[i]
		// The list leaves out "merged": a merge time says it.
		pr.Merged = pr.Merged || !isNull(pr.MergedAt)
		c, ignored, err := mergedChange(repo, pr, fmt.Sprintf("[%d].", i))
		if err != nil {
			return nil, nil, err
		}
		if ignored == "" {
			out = append(out, c)
			authors = append(authors, pr.User.Login)
		}
	}
	return out, authors, nil
}

func isNull(s stamp) bool {
	t, err := s.time("")
	return err == nil && t.IsZero()
}

// ReviewsPage reads a page of GET /repos/{owner}/{repo}/pulls/{pr}/reviews:
// each submitted review (a pending one has no submitted_at) as the
// pull_request_review event "submitted" gives it; the reviews of author,
// the pull request's, are not reviews of it.
func ReviewsPage(body []byte, fullName, pr, author string) ([]dora.Review, error) {
	var page []struct {
		State       string `json:"state"`
		SubmittedAt stamp  `json:"submitted_at"`
		User        user   `json:"user"`
	}
	if err := forge.Decode(body, &page); err != nil {
		return nil, err
	}
	var out []dora.Review
	for i, r := range page {
		at, err := r.SubmittedAt.time(fmt.Sprintf("[%d].submitted_at", i))
		if err != nil {
			return nil, err
		}
		if r.State == "PENDING" || at.IsZero() || byAuthor(r.User, user{author}) {
			continue
		}
		out = append(out, dora.Review{Repo: fullName, PR: pr, At: at})
	}
	return out, nil
}

// Deployment is one deployment of a page of deployments, whose statuses
// StatusesPage reads.
type Deployment struct {
	// ID is GitHub's deployment ID, for the statuses' URL.
	ID   string
	d    deployment
	repo repository
}

// DeploymentsPage reads a page of GET /repos/{owner}/{repo}/deployments:
// each deployment is pending from its creation, as the deployment event
// records it; its outcome is in its statuses.
func DeploymentsPage(body []byte, fullName string, cfg Config) ([]dora.Deployment, []Deployment, error) {
	var page []deployment
	if err := forge.Decode(body, &page); err != nil {
		return nil, nil, err
	}
	repo := repository{FullName: fullName}
	records := make([]dora.Deployment, len(page))
	deps := make([]Deployment, len(page))
	for i := range page {
		d, err := newDeployment(&page[i], repo, page[i].Environment, cfg)
		if err != nil {
			return nil, nil, itemError(i, err)
		}
		if d.At, err = page[i].CreatedAt.Required(fmt.Sprintf("[%d].created_at", i)); err != nil {
			return nil, nil, err
		}
		d.Status = dora.StatusPending
		records[i] = d
		deps[i] = Deployment{ID: page[i].ID.String(), d: page[i], repo: repo}
	}
	return records, deps, nil
}

// StatusesPage reads a page of GET
// /repos/{owner}/{repo}/deployments/{id}/statuses of dep, as the
// deployment_status event gives each status ("inactive" says nothing and
// is skipped).
func StatusesPage(body []byte, dep Deployment, cfg Config) ([]dora.Deployment, error) {
	var page []deploymentStatus
	if err := forge.Decode(body, &page); err != nil {
		return nil, err
	}
	var out []dora.Deployment
	for i := range page {
		d, ignored, err := statusDeployment(&page[i], &dep.d, dep.repo, cfg, fmt.Sprintf("[%d].", i))
		if err != nil {
			return nil, err
		}
		if ignored == "" {
			out = append(out, d)
		}
	}
	return out, nil
}

// ReleasesPage reads a page of GET /repos/{owner}/{repo}/releases: when
// cfg.ReleaseEnvironment is set, each published release (not a draft or a
// pre-release) is a successful deployment, as the release event gives it.
func ReleasesPage(body []byte, fullName string, cfg Config) ([]dora.Deployment, error) {
	var page []release
	if err := forge.Decode(body, &page); err != nil {
		return nil, err
	}
	var out []dora.Deployment
	for i := range page {
		d, ignored, err := releaseDeployment(&page[i], fullName, cfg, fmt.Sprintf("[%d].", i))
		if err != nil {
			return nil, err
		}
		if ignored == "" {
			out = append(out, d)
		}
	}
	return out, nil
}

// IssuesPage reads a page of GET
// /repos/{owner}/{repo}/issues?labels=LABEL&state=all: each issue with
// the incident label is an incident as it stands now, resolved when
// closed. Pull requests, which the endpoint lists too, are skipped.
func IssuesPage(body []byte, fullName string, cfg Config) ([]dora.Incident, error) {
	var page []issue
	if err := forge.Decode(body, &page); err != nil {
		return nil, err
	}
	var out []dora.Incident
	for i := range page {
		is := &page[i]
		if len(is.PullRequest) > 0 && string(is.PullRequest) != "null" {
			continue
		}
		prefix := fmt.Sprintf("[%d].", i)
		inc, incident, err := issueIncident(is, fullName, cfg, prefix)
		if err != nil {
			return nil, err
		}
		if !incident {
			continue
		}
		if err := resolve(&inc, is, prefix); err != nil {
			return nil, err
		}
		out = append(out, inc)
	}
	return out, nil
}

// itemError names item i in a field error.
func itemError(i int, err error) error {
	if e, ok := err.(*valueloop.Error); ok && e.Field != "" {
		c := *e
		c.Field = fmt.Sprintf("[%d].%s", i, e.Field)
		return &c
	}
	return err
}
