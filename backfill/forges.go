package backfill

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/valueloop/valueloop/dora"
	"github.com/valueloop/valueloop/github"
	"github.com/valueloop/valueloop/gitlab"
)

// Default API roots.
const (
	GitHubAPI = "https://api.github.com"
	GitLabAPI = "https://gitlab.com/api/v4"
)

// PerPage is the page size asked for: the largest both forges serve.
const PerPage = 100

// GitHubAuth authenticates requests to GitHub's REST API with token.
func GitHubAuth(token string) func(http.Header) {
	return func(h http.Header) {
		h.Set("Accept", "application/vnd.github+json")
		h.Set("X-GitHub-Api-Version", "2022-11-28")
		if token != "" {
			h.Set("Authorization", "Bearer "+token)
		}
	}
}

// GitLabAuth authenticates requests to GitLab's REST API with a personal,
// project or group access token. The Authorization header, unlike
// PRIVATE-TOKEN, is dropped by Go's client on a redirect to another host.
func GitLabAuth(token string) func(http.Header) {
	return func(h http.Header) {
		if token != "" {
			h.Set("Authorization", "Bearer "+token)
		}
	}
}

// APIRoot is the REST API root for base: the default for the forge when
// empty; for GitHub Enterprise Server and self-managed GitLab the host
// alone is enough (/api/v3, /api/v4 are added).
func APIRoot(kind, base string) (string, error) {
	if base == "" {
		if kind == "gitlab" {
			return GitLabAPI, nil
		}
		return GitHubAPI, nil
	}
	u, err := url.Parse(strings.TrimRight(base, "/"))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", fmt.Errorf("--base-url %q: want an http(s) URL such as https://github.example.com/api/v3", base)
	}
	switch {
	case kind == "gitlab" && !strings.HasSuffix(u.Path, "/api/v4"):
		u.Path += "/api/v4"
	case kind == "github" && u.Path == "" && u.Host != "api.github.com":
		u.Path = "/api/v3"
	}
	return u.String(), nil
}

// Repo names what to import: a repository at a forge's API root, and how
// far back.
type Repo struct {
	// Root is the API root (APIRoot); Name the repository ("acme/shop").
	Root, Name string
	// Since skips what happened before it: pull requests merged,
	// deployments and releases made, issues last updated. The reviews and
	// statuses of what is skipped are not requested, which is most of the
	// requests of a long history. Zero: everything.
	Since time.Time
}

// since returns the query parameter name=Since, or "" without one.
func (r Repo) since(name string) string {
	if r.Since.IsZero() {
		return ""
	}
	return "&" + name + "=" + url.QueryEscape(r.Since.UTC().Format(time.RFC3339))
}

// recent keeps the xs whose time is not before since, and their
// counterparts in ys (nil: none).
func recent[T, U any](since time.Time, xs []T, ys []U, at func(*T) time.Time) ([]T, []U) {
	if since.IsZero() {
		return xs, ys
	}
	var kx []T
	var ky []U
	for i := range xs {
		if !at(&xs[i]).Before(since) {
			kx = append(kx, xs[i])
			if ys != nil {
				ky = append(ky, ys[i])
			}
		}
	}
	return kx, ky
}

func merged(c *dora.Change) time.Time       { return c.MergedAt }
func deployed(d *dora.Deployment) time.Time { return d.At }

// repository reads the repository (GitHub) or project (GitLab) at u with
// parse: its full name and default branch.
func repository(ctx context.Context, f *Fetcher, u string, parse func([]byte) (name, branch string, err error)) (string, string, error) {
	page, err := f.Get(ctx, u)
	if err != nil {
		return "", "", err
	}
	name, branch, err := parse(page.Body)
	if err != nil {
		return "", "", fmt.Errorf("GET %s: %w", u, err)
	}
	return name, branch, nil
}

// deploymentsPage is the Page of a forge's list of deployments (or of
// releases) that parse reads, of a repository name and a forge's config C;
// the deployments before since are dropped.
func deploymentsPage[C any](parse func([]byte, string, C) ([]dora.Deployment, error), name string, cfg C, since time.Time) PageFunc {
	return func(b []byte) (dora.Event, []Sub, error) {
		ds, err := parse(b, name, cfg)
		ds, _ = recent[dora.Deployment, any](since, ds, nil, deployed)
		return dora.Event{Deployments: ds}, nil, err
	}
}

// incidentsPage is the Page of a forge's list of incident issues that parse
// reads.
func incidentsPage[C any](parse func([]byte, string, C) ([]dora.Incident, error), name string, cfg C) PageFunc {
	return func(b []byte) (dora.Event, []Sub, error) {
		is, err := parse(b, name, cfg)
		return dora.Event{Incidents: is}, nil, err
	}
}

// GitHubStreams reads the repository (owner/name) at the API root and
// returns the streams of its history: merged pull requests with their
// reviews, deployments with their statuses, releases (when
// cfg.ReleaseEnvironment is set) and incident issues.
func GitHubStreams(ctx context.Context, f *Fetcher, repo Repo, cfg github.Config) ([]Stream, error) {
	root := repo.Root
	name, branch, err := repository(ctx, f, root+"/repos/"+repo.Name, github.Repository)
	if err != nil {
		return nil, err
	}
	base := root + "/repos/" + name
	list := fmt.Sprintf("per_page=%d", PerPage)
	label := cfg.IncidentLabel
	if label == "" {
		label = github.DefaultIncidentLabel
	}
	streams := []Stream{
		{Name: "pulls", URL: base + "/pulls?state=closed&sort=created&direction=asc&" + list, Page: func(b []byte) (dora.Event, []Sub, error) {
			changes, authors, err := github.PullsPage(b, name, branch)
			changes, authors = recent(repo.Since, changes, authors, merged)
			subs := make([]Sub, len(changes))
			for i, c := range changes {
				pr, author := c.PR, authors[i]
				subs[i] = Sub{URL: base + "/pulls/" + pr + "/reviews?" + list, Page: func(b []byte) (dora.Event, []Sub, error) {
					rs, err := github.ReviewsPage(b, name, pr, author)
					return dora.Event{Reviews: rs}, nil, err
				}}
			}
			return dora.Event{Changes: changes}, subs, err
		}},
		{Name: "deployments", URL: base + "/deployments?" + list, Page: func(b []byte) (dora.Event, []Sub, error) {
			records, deps, err := github.DeploymentsPage(b, name, cfg)
			records, deps = recent(repo.Since, records, deps, deployed)
			subs := make([]Sub, len(deps))
			for i, d := range deps {
				subs[i] = Sub{URL: base + "/deployments/" + url.PathEscape(d.ID) + "/statuses?" + list, Page: func(b []byte) (dora.Event, []Sub, error) {
					ds, err := github.StatusesPage(b, d, cfg)
					return dora.Event{Deployments: ds}, nil, err
				}}
			}
			return dora.Event{Deployments: records}, subs, err
		}},
		{Name: "issues", URL: base + "/issues?state=all&sort=created&direction=asc&labels=" + url.QueryEscape(label) + "&" + list + repo.since("since"),
			Page: incidentsPage(github.IssuesPage, name, cfg)},
	}
	if cfg.ReleaseEnvironment != "" {
		streams = append(streams, Stream{Name: "releases", URL: base + "/releases?" + list, Page: deploymentsPage(github.ReleasesPage, name, cfg, repo.Since)})
	}
	return streams, nil
}

// GitLabStreams reads the project (group/name) at the API root and returns
// the streams of its history: merged merge requests with their approvals,
// deployments, incident issues (labelled, and of type incident) and
// releases (when cfg.ReleaseEnvironment is set).
func GitLabStreams(ctx context.Context, f *Fetcher, repo Repo, cfg gitlab.Config) ([]Stream, error) {
	root := repo.Root
	name, branch, err := repository(ctx, f, root+"/projects/"+url.PathEscape(repo.Name), gitlab.Project)
	if err != nil {
		return nil, err
	}
	base := root + "/projects/" + url.PathEscape(name)
	list := fmt.Sprintf("per_page=%d", PerPage)
	if cfg.Production, err = productionTiers(ctx, f, base+"/environments?"+list, cfg.Production); err != nil {
		return nil, err
	}
	label := cfg.IncidentLabel
	if label == "" {
		label = gitlab.DefaultIncidentLabel
	}
	issues := incidentsPage(gitlab.IssuesPage, name, cfg)
	// Updated after Since: a merge request merged since was updated since.
	after := repo.since("updated_after")
	mrs := "/merge_requests?state=merged&order_by=created_at&sort=asc&" + list + after
	if branch != "" {
		mrs += "&target_branch=" + url.QueryEscape(branch)
	}
	streams := []Stream{
		{Name: "merge_requests", URL: base + mrs, Page: func(b []byte) (dora.Event, []Sub, error) {
			changes, authors, err := gitlab.MergeRequestsPage(b, name, branch)
			changes, authors = recent(repo.Since, changes, authors, merged)
			subs := make([]Sub, len(changes))
			for i, c := range changes {
				subs[i] = approvals(base, name, c.PR, authors[i])
			}
			return dora.Event{Changes: changes}, subs, err
		}},
		{Name: "deployments", URL: base + "/deployments?order_by=id&sort=asc&" + list + after, Page: deploymentsPage(gitlab.DeploymentsPage, name, cfg, repo.Since)},
		{Name: "issues", URL: base + "/issues?state=all&order_by=created_at&sort=asc&labels=" + url.QueryEscape(label) + "&" + list + after, Page: issues},
		{Name: "incidents", URL: base + "/issues?state=all&order_by=created_at&sort=asc&issue_type=incident&" + list + after, Page: issues},
	}
	if cfg.ReleaseEnvironment != "" {
		streams = append(streams, Stream{Name: "releases", URL: base + "/releases?" + list, Page: deploymentsPage(gitlab.ReleasesPage, name, cfg, repo.Since)})
	}
	return streams, nil
}

// productionTiers returns known, Valueloop's environments, with the
// project's environments of tier production that it does not name added
// as production: what the forge's hint says for the webhook. The list read
// from u, every page; a project whose environments cannot be read (403,
// 404: the feature turned off) has no tiers to add.
func productionTiers(ctx context.Context, f *Fetcher, u string, known map[string]bool) (map[string]bool, error) {
	out := maps.Clone(known)
	for u != "" {
		page, err := f.Get(ctx, u)
		var se *StatusError
		if errors.As(err, &se) && (se.Status == http.StatusForbidden || se.Status == http.StatusNotFound) {
			return known, nil
		}
		if err != nil {
			return nil, err
		}
		names, err := gitlab.EnvironmentsPage(page.Body)
		if err != nil {
			return nil, fmt.Errorf("GET %s: %w", u, err)
		}
		for _, n := range names {
			if _, ok := out[n]; !ok {
				if out == nil {
					out = map[string]bool{}
				}
				out[n] = true
			}
		}
		u = page.Next
	}
	return out, nil
}

// approvals reads the approvals of merge request iid, and its notes when
// the approvals API does not date them; those of author (the merge
// request's) are no reviews of it.
func approvals(base, name, iid, author string) Sub {
	mr := base + "/merge_requests/" + iid
	return Sub{URL: mr + "/approvals", Page: func(b []byte) (dora.Event, []Sub, error) {
		rs, undated, err := gitlab.ApprovalsPage(b, name, iid, author)
		if err != nil || undated == 0 {
			return dora.Event{Reviews: rs}, nil, err
		}
		notes := Sub{URL: fmt.Sprintf("%s/notes?sort=asc&order_by=created_at&per_page=%d", mr, PerPage), Page: func(b []byte) (dora.Event, []Sub, error) {
			rs, err := gitlab.NotesPage(b, name, iid, author)
			return dora.Event{Reviews: rs}, nil, err
		}}
		return dora.Event{Reviews: rs}, []Sub{notes}, nil
	}}
}
