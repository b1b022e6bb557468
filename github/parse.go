package github

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/dora"
	"github.com/valueloop/valueloop/forge"
)

// Source is the dora.Event source of this package's events.
const Source = "github"

// Headers GitHub sends with every delivery.
const (
	EventHeader    = "X-GitHub-Event"
	DeliveryHeader = "X-GitHub-Delivery"
)

// DefaultIncidentLabel marks incident issues when Config.IncidentLabel is empty.
const DefaultIncidentLabel = forge.DefaultIncidentLabel

// Config says how to read one GitHub source. For an environment Production does
// not list, the deployment's production_environment flag decides.
type Config = forge.Config

// Parse reads one delivery: eventType is the X-GitHub-Event header,
// deliveryID the X-GitHub-Delivery header. Event types and actions that say
// nothing about delivery come back Ignored with the reason; a malformed
// payload is an EINVALID *valueloop.Error naming the field. Verify the
// signature first.
func Parse(eventType, deliveryID string, body []byte, cfg Config) (dora.Event, error) {
	ev := dora.Event{Source: Source, Kind: eventType, DeliveryID: deliveryID}
	var err error
	switch eventType {
	case "push":
		err = parsePush(&ev, body)
	case "pull_request":
		err = parsePullRequest(&ev, body)
	case "pull_request_review":
		err = parseReview(&ev, body)
	case "deployment":
		err = parseDeployment(&ev, body, cfg)
	case "deployment_status":
		err = parseDeploymentStatus(&ev, body, cfg)
	case "release":
		err = parseRelease(&ev, body, cfg)
	case "issues":
		err = parseIssues(&ev, body, cfg)
	case "ping":
		ev.Ignored = "ping: the webhook is set up"
	case "":
		return ev, valueloop.FieldErrorf(EventHeader, "is required")
	default:
		ev.Ignored = fmt.Sprintf("%s events are not used for delivery metrics", forge.Truncate(eventType))
	}
	if err != nil {
		return dora.Event{Source: Source, Kind: eventType, DeliveryID: deliveryID}, err
	}
	return ev, nil
}

func (r *repository) check() error {
	if r.FullName == "" {
		return valueloop.FieldErrorf("repository.full_name", "is required")
	}
	return nil
}

func parsePush(ev *dora.Event, body []byte) error {
	var p pushEvent
	if err := forge.Decode(body, &p); err != nil {
		return err
	}
	if err := p.Repository.check(); err != nil {
		return err
	}
	branch, ignored, err := forge.PushBranch(p.Ref, p.Deleted, len(p.Commits), p.Repository.DefaultBranch, "repository.default_branch")
	if err != nil || ignored != "" {
		ev.Ignored = ignored
		return err
	}
	pushed, err := p.Repository.PushedAt.time("repository.pushed_at")
	if err != nil {
		return err
	}
	changes, newest, err := forge.PushChanges(p.Repository.FullName, branch, p.Commits)
	if err != nil {
		return err
	}
	// Commits reach the default branch when pushed to it; without the push
	// time, the newest commit is the best lower bound.
	if branch == p.Repository.DefaultBranch {
		if pushed.IsZero() {
			pushed = newest
		}
		for i := range changes {
			changes[i].MergedAt = pushed
		}
	}
	ev.Changes = changes
	return nil
}

func parsePullRequest(ev *dora.Event, body []byte) error {
	var p pullRequestEvent
	if err := forge.Decode(body, &p); err != nil {
		return err
	}
	if err := p.Repository.check(); err != nil {
		return err
	}
	if p.Action != "closed" {
		ev.Ignored = "pull request " + forge.Truncate(p.Action) + ": only merges are changes"
		return nil
	}
	c, ignored, err := mergedChange(p.Repository, &p.PullRequest, "pull_request.")
	if err != nil || ignored != "" {
		ev.Ignored = ignored
		return err
	}
	ev.Changes = []dora.Change{c}
	return nil
}

// mergedChange is the change a closed pull request landed; ignored says
// why there is none. Errors name the field under prefix.
func mergedChange(repo repository, pr *pullRequest, prefix string) (c dora.Change, ignored string, err error) {
	switch {
	case !pr.Merged:
		return c, "pull request closed without merging", nil
	case pr.Number == "":
		return c, "", valueloop.FieldErrorf(prefix+"number", "is required")
	case pr.MergeCommitSHA == "":
		return c, "", valueloop.FieldErrorf(prefix+"merge_commit_sha", "is required")
	case pr.Base.Ref != "" && repo.DefaultBranch != "" && pr.Base.Ref != repo.DefaultBranch:
		return c, "pull request merged into " + forge.Truncate(pr.Base.Ref) + ", not the default branch", nil
	}
	merged, err := pr.MergedAt.Required(prefix + "merged_at")
	if err != nil {
		return c, "", err
	}
	created, err := pr.CreatedAt.Required(prefix + "created_at")
	if err != nil {
		return c, "", err
	}
	return dora.Change{
		Repo: repo.FullName, SHA: strings.ToLower(pr.MergeCommitSHA), PR: pr.Number.String(),
		Branch: pr.branch(repo.FullName), AuthoredAt: created, MergedAt: merged, OpenedAt: created,
	}, "", nil
}

// parseReview reads a submitted pull request review: the first one of a
// pull request ends its pickup (dora.Breakdown). Edits and dismissals say
// nothing new, and the author's own reviews (comments for the reviewers,
// replies to them) are no review: LinearB's pickup too waits for someone
// other than the author.
func parseReview(ev *dora.Event, body []byte) error {
	var p reviewEvent
	if err := forge.Decode(body, &p); err != nil {
		return err
	}
	if err := p.Repository.check(); err != nil {
		return err
	}
	if p.Action != "submitted" {
		ev.Ignored = "pull request review " + forge.Truncate(p.Action) + ": only submitted reviews are read"
		return nil
	}
	if p.PullRequest.Number == "" {
		return valueloop.FieldErrorf("pull_request.number", "is required")
	}
	if byAuthor(p.Review.User, p.PullRequest.User) {
		ev.Ignored = "pull request review by the pull request's author: not a review of it"
		return nil
	}
	at, err := p.Review.SubmittedAt.Required("review.submitted_at")
	if err != nil {
		return err
	}
	ev.Reviews = []dora.Review{{Repo: p.Repository.FullName, PR: p.PullRequest.Number.String(), At: at}}
	return nil
}

// deploymentHints are the keys of a deployment's payload this package reads,
// when the payload is a JSON object: the service deployed (for a repository
// that holds several), the version, and a rollback mark.
type deploymentHints struct {
	Service  string
	Version  string
	Rollback bool
}

func hints(payload json.RawMessage) deploymentHints {
	var m map[string]any
	if json.Unmarshal(payload, &m) != nil {
		return deploymentHints{} // a string payload, or none
	}
	var h deploymentHints
	h.Service, _ = m["service"].(string)
	h.Version, _ = m["version"].(string)
	h.Rollback, _ = m["rollback"].(bool)
	return h
}

// newDeployment reads what a deployment and deployment_status event share.
func newDeployment(d *deployment, repo repository, env string, cfg Config) (dora.Deployment, error) {
	if err := repo.check(); err != nil {
		return dora.Deployment{}, err
	}
	if d.ID == "" {
		return dora.Deployment{}, valueloop.FieldErrorf("deployment.id", "is required")
	}
	if env == "" {
		return dora.Deployment{}, valueloop.FieldErrorf("deployment.environment", "is required")
	}
	h := hints(d.Payload)
	prod := cfg.IsProduction(env, d.ProductionEnvironment != nil && *d.ProductionEnvironment)
	version := h.Version
	if version == "" {
		version = d.Ref
	}
	task := strings.ToLower(d.Task)
	return dora.Deployment{
		ID: "github:deployment:" + d.ID.String(), Service: h.Service, Repo: repo.FullName,
		Environment: env, Production: prod, SHA: strings.ToLower(d.SHA), Version: version,
		Rollback: h.Rollback || task == "rollback" || strings.HasPrefix(task, "rollback:"),
	}, nil
}

func parseDeployment(ev *dora.Event, body []byte, cfg Config) error {
	var p deploymentEvent
	if err := forge.Decode(body, &p); err != nil {
		return err
	}
	d, err := newDeployment(&p.Deployment, p.Repository, p.Deployment.Environment, cfg)
	if err != nil {
		return err
	}
	if d.At, err = p.Deployment.CreatedAt.Required("deployment.created_at"); err != nil {
		return err
	}
	d.Status = dora.StatusPending
	ev.Deployments = []dora.Deployment{d}
	return nil
}

// statuses maps GitHub's deployment states to delivery statuses.
var statuses = map[string]string{
	"success":     dora.StatusSuccess,
	"failure":     dora.StatusFailure,
	"error":       dora.StatusFailure,
	"pending":     dora.StatusPending,
	"queued":      dora.StatusPending,
	"in_progress": dora.StatusPending,
}

func parseDeploymentStatus(ev *dora.Event, body []byte, cfg Config) error {
	var p deploymentStatusEvent
	if err := forge.Decode(body, &p); err != nil {
		return err
	}
	d, ignored, err := statusDeployment(&p.DeploymentStatus, &p.Deployment, p.Repository, cfg, "deployment_status.")
	if err != nil || ignored != "" {
		ev.Ignored = ignored
		return err
	}
	ev.Deployments = []dora.Deployment{d}
	return nil
}

// statusDeployment is the deployment record of one status of dep; ignored
// says why there is none. Errors name the status's field under prefix.
func statusDeployment(st *deploymentStatus, dep *deployment, repo repository, cfg Config, prefix string) (dora.Deployment, string, error) {
	if st.State == "inactive" {
		// GitHub marks a deployment inactive when a newer one replaces it:
		// that says nothing about its outcome.
		return dora.Deployment{}, "deployment status inactive: superseded by a newer deployment", nil
	}
	status, ok := statuses[st.State]
	if !ok {
		return dora.Deployment{}, "", valueloop.FieldErrorf(prefix+"state", "unknown state %q", forge.Truncate(st.State))
	}
	env := st.Environment
	if env == "" {
		env = dep.Environment
	}
	d, err := newDeployment(dep, repo, env, cfg)
	if err != nil {
		return d, "", err
	}
	d.Status = status
	if d.At, err = st.CreatedAt.time(prefix + "created_at"); err != nil {
		return d, "", err
	}
	if d.At.IsZero() {
		if d.At, err = st.UpdatedAt.Required(prefix + "created_at"); err != nil {
			return d, "", err
		}
	}
	return d, "", nil
}

var fullSHA = regexp.MustCompile(`^[0-9a-fA-F]{40}$`)

func parseRelease(ev *dora.Event, body []byte, cfg Config) error {
	var p releaseEvent
	if err := forge.Decode(body, &p); err != nil {
		return err
	}
	if err := p.Repository.check(); err != nil {
		return err
	}
	if p.Action != "published" && p.Action != "released" {
		ev.Ignored = "release " + forge.Truncate(p.Action) + ": only publications are deployments"
		return nil
	}
	d, ignored, err := releaseDeployment(&p.Release, p.Repository.FullName, cfg, "release.")
	if err != nil || ignored != "" {
		ev.Ignored = ignored
		return err
	}
	ev.Deployments = []dora.Deployment{d}
	return nil
}

// releaseDeployment is the deployment a published release made; ignored
// says why there is none. Errors name the field under prefix.
func releaseDeployment(r *release, repo string, cfg Config, prefix string) (dora.Deployment, string, error) {
	switch {
	case r.Draft:
		return dora.Deployment{}, "draft release", nil
	case r.Prerelease:
		return dora.Deployment{}, "pre-release", nil
	case cfg.ReleaseEnvironment == "":
		return dora.Deployment{}, "releases are not configured as deployments for this source", nil
	case r.ID == "":
		return dora.Deployment{}, "", valueloop.FieldErrorf(prefix+"id", "is required")
	}
	at, err := r.PublishedAt.Required(prefix + "published_at")
	if err != nil {
		return dora.Deployment{}, "", err
	}
	d := dora.Deployment{
		ID: "github:release:" + r.ID.String(), Repo: repo, Environment: cfg.ReleaseEnvironment,
		Production: cfg.IsProduction(cfg.ReleaseEnvironment, false), Version: r.TagName, Status: dora.StatusSuccess, At: at,
	}
	if fullSHA.MatchString(r.TargetCommitish) { // otherwise a branch name
		d.SHA = strings.ToLower(r.TargetCommitish)
	}
	return d, "", nil
}

func parseIssues(ev *dora.Event, body []byte, cfg Config) error {
	var p issuesEvent
	if err := forge.Decode(body, &p); err != nil {
		return err
	}
	if err := p.Repository.check(); err != nil {
		return err
	}
	inc, incident, err := issueIncident(&p.Issue, p.Repository.FullName, cfg, "issue.")
	if err != nil {
		return err
	}
	want := cfg.Label()
	switch {
	case p.Action == "unlabeled" && strings.EqualFold(p.Label.Name, want) && !incident,
		(p.Action == "deleted" || p.Action == "transferred") && incident:
		inc.Void = true // no longer an incident here
		ev.Incidents = []dora.Incident{inc}
		return nil
	case !incident:
		ev.Ignored = fmt.Sprintf("issue not labelled %q", forge.Truncate(want))
		return nil
	}
	if err := resolve(&inc, &p.Issue, "issue."); err != nil {
		return err
	}
	ev.Incidents = []dora.Incident{inc}
	return nil
}

// issueIncident reads what an issue says as an incident, unresolved, and
// whether it carries the incident label. Errors name the field under
// prefix.
func issueIncident(is *issue, repo string, cfg Config, prefix string) (dora.Incident, bool, error) {
	if is.ID == "" {
		return dora.Incident{}, false, valueloop.FieldErrorf(prefix+"id", "is required")
	}
	want := cfg.Label()
	incident := false
	names := make([]string, len(is.Labels))
	for i, l := range is.Labels {
		incident = incident || strings.EqualFold(l.Name, want)
		names[i] = l.Name
	}
	opened, err := is.CreatedAt.Required(prefix + "created_at")
	if err != nil {
		return dora.Incident{}, false, err
	}
	updated, err := is.UpdatedAt.time(prefix + "updated_at")
	if err != nil {
		return dora.Incident{}, false, err
	}
	return dora.Incident{
		ID: "github:issue:" + is.ID.String(), Service: dora.LabelService(names), Repo: repo,
		Title: is.Title, OpenedAt: opened, UpdatedAt: updated, CauseSHA: dora.CauseSHA(is.Body),
	}, incident, nil
}

// resolve marks inc resolved when its issue is closed.
func resolve(inc *dora.Incident, is *issue, prefix string) error {
	if is.State != "closed" {
		return nil
	}
	closed, err := is.ClosedAt.time(prefix + "closed_at")
	if err != nil {
		return err
	}
	return forge.Resolve(inc, closed, prefix+"closed_at")
}
