package gitlab

import (
	"encoding/json"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/dora"
	"github.com/valueloop/valueloop/forge"
)

// Source is the dora.Event source of this package's events.
const Source = "gitlab"

// DefaultIncidentLabel marks incident issues when Config.IncidentLabel is empty.
const DefaultIncidentLabel = forge.DefaultIncidentLabel

// Config says how to read one GitLab source. Issues and work items of type
// Incident are incidents whatever their labels; for an environment
// Production does not list, GitLab's deployment tier decides.
type Config = forge.Config

// hooks are the X-Gitlab-Event values whose payloads this package reads.
// Incidents and other work items arrive as "Issue Hook" with object_kind
// work_item (GitLab 17.2 and later).
var hooks = map[string]bool{
	"Push Hook": true, "Merge Request Hook": true, "Deployment Hook": true, "Pipeline Hook": true,
	"Job Hook": true, "Issue Hook": true, "Confidential Issue Hook": true, "Release Hook": true,
	"Work Item Hook": true,
}

// Parse reads one delivery: eventHeader is the X-Gitlab-Event header
// (optional: the payload's object_kind decides), deliveryID the value of
// DeliveryID. Events and actions that say nothing about delivery come back
// Ignored with the reason; a malformed payload is an EINVALID
// *valueloop.Error naming the field. Verify the token first.
func Parse(eventHeader, deliveryID string, body []byte, cfg Config) (dora.Event, error) {
	ev := dora.Event{Source: Source, Kind: eventHeader, DeliveryID: deliveryID}
	if eventHeader != "" && !hooks[eventHeader] {
		ev.Ignored = fmt.Sprintf("%s events are not used for delivery metrics", forge.Truncate(eventHeader))
		return ev, nil
	}
	var env envelope
	if err := forge.Decode(body, &env); err != nil {
		return ev, err
	}
	if ev.Kind == "" {
		ev.Kind = env.ObjectKind
	}
	var err error
	switch env.ObjectKind {
	case "push":
		err = parsePush(&ev, body)
	case "merge_request":
		err = parseMergeRequest(&ev, body)
	case "deployment":
		err = parseDeployment(&ev, body, cfg)
	case "pipeline":
		err = parsePipeline(&ev, body, cfg)
	case "build":
		err = parseJob(&ev, body, cfg)
	case "issue", "work_item":
		err = parseIssue(&ev, body, cfg)
	case "release":
		err = parseRelease(&ev, body, cfg)
	case "":
		return ev, valueloop.FieldErrorf("object_kind", "is required")
	default:
		ev.Ignored = fmt.Sprintf("%s events are not used for delivery metrics", forge.Truncate(env.ObjectKind))
	}
	if err != nil {
		return dora.Event{Source: Source, Kind: ev.Kind, DeliveryID: deliveryID}, err
	}
	return ev, nil
}

const zeroSHA = "0000000000000000000000000000000000000000"

func parsePush(ev *dora.Event, body []byte) error {
	var p pushEvent
	if err := forge.Decode(body, &p); err != nil {
		return err
	}
	name, err := repo(p.Project, p.Repository)
	if err != nil {
		return err
	}
	branch, ignored, err := forge.PushBranch(p.Ref, p.After == zeroSHA, len(p.Commits), p.Project.DefaultBranch, "project.default_branch")
	if err != nil || ignored != "" {
		ev.Ignored = ignored
		return err
	}
	changes, newest, err := forge.PushChanges(name, branch, p.Commits)
	if err != nil {
		return err
	}
	// GitLab's push events carry no push time: the newest commit is the best
	// lower bound of when they reached the default branch. (GitLab lists at
	// most 20 commits of a push; the rest are not seen.)
	if branch == p.Project.DefaultBranch {
		for i := range changes {
			changes[i].MergedAt = newest
		}
	}
	ev.Changes = changes
	return nil
}

func parseMergeRequest(ev *dora.Event, body []byte) error {
	var p mergeRequestEvent
	if err := forge.Decode(body, &p); err != nil {
		return err
	}
	name, err := repo(p.Project, p.Repository)
	if err != nil {
		return err
	}
	mr := &p.ObjectAttributes
	defaultBranch := p.Project.DefaultBranch
	if defaultBranch == "" {
		defaultBranch = mr.Target.DefaultBranch
	}
	if mr.Action == "approved" || mr.Action == "approval" {
		if byAuthor(p.User.ID, mr.AuthorID) {
			ev.Ignored = "merge request approval by the merge request's author: not a review of it"
			return nil
		}
		return parseApproval(ev, name, mr.IID, mr.UpdatedAt)
	}
	switch {
	case mr.Action != "merge":
		ev.Ignored = "merge request " + forge.Truncate(mr.Action) + ": only merges and approvals are read"
		return nil
	case mr.IID == "":
		return valueloop.FieldErrorf("object_attributes.iid", "is required")
	case mr.TargetBranch != "" && defaultBranch != "" && mr.TargetBranch != defaultBranch:
		ev.Ignored = "merge request merged into " + forge.Truncate(mr.TargetBranch) + ", not the default branch"
		return nil
	}
	// The landed commit: the merge commit, else the squash commit, else (a
	// fast-forward merge) the last commit.
	sha := mr.MergeCommitSHA
	for _, s := range []string{mr.SquashCommitSHA, mr.LastCommit.ID} {
		if sha == "" {
			sha = s
		}
	}
	if sha == "" {
		return valueloop.FieldErrorf("object_attributes.merge_commit_sha", "is required")
	}
	// Merge events carry no merge time but are sent at the merge: the update
	// time is the merge time.
	merged, err := mr.MergedAt.time("object_attributes.merged_at")
	if err != nil {
		return err
	}
	if merged.IsZero() {
		if merged, err = mr.UpdatedAt.Required("object_attributes.updated_at"); err != nil {
			return err
		}
	}
	created, err := mr.CreatedAt.Required("object_attributes.created_at")
	if err != nil {
		return err
	}
	last, err := mr.LastCommit.Timestamp.time("object_attributes.last_commit.timestamp")
	if err != nil {
		return err
	}
	authored := created
	if !last.IsZero() && last.Before(created) {
		authored = last // its commits may predate the merge request
	}
	ev.Changes = []dora.Change{{
		Repo: name, SHA: strings.ToLower(sha), PR: mr.IID.String(), Branch: sourceBranch(mr.SourceBranch, mr.SourceProjectID, mr.TargetProjectID, mr.Source.PathWithNamespace),
		AuthoredAt: authored, MergedAt: merged, OpenedAt: created,
	}}
	return nil
}

// parseApproval reads an approval of a merge request ("approval": one
// approver; "approved": all required approvals given). The event is sent
// as it happens, so the update time is the approval time; the first
// approval by someone other than the author ends the request's pickup
// (dora.Breakdown).
func parseApproval(ev *dora.Event, repo string, iid json.Number, updated stamp) error {
	if iid == "" {
		return valueloop.FieldErrorf("object_attributes.iid", "is required")
	}
	at, err := updated.Required("object_attributes.updated_at")
	if err != nil {
		return err
	}
	ev.Reviews = []dora.Review{{Repo: repo, PR: iid.String(), At: at}}
	return nil
}

// statuses maps GitLab's deployment and job statuses to delivery statuses;
// statuses missing here (created, manual, skipped, scheduled) mean nothing
// was deployed yet.
var statuses = map[string]string{
	"success":              dora.StatusSuccess,
	"failed":               dora.StatusFailure,
	"canceled":             dora.StatusCanceled,
	"canceling":            dora.StatusCanceled,
	"running":              dora.StatusPending,
	"pending":              dora.StatusPending,
	"waiting_for_resource": dora.StatusPending,
	"preparing":            dora.StatusPending,
	"blocked":              dora.StatusPending,
}

var fullSHA = regexp.MustCompile(`^[0-9a-fA-F]{40}$`)

// jobID keys a deployment by the job that ran it, so that the deployment,
// pipeline and job events about one deployment are one deployment.
func jobID(id string) string { return "gitlab:job:" + id }

func parseDeployment(ev *dora.Event, body []byte, cfg Config) error {
	var p deploymentEvent
	if err := forge.Decode(body, &p); err != nil {
		return err
	}
	name, err := repo(p.Project, repository{})
	if err != nil {
		return err
	}
	if p.Environment == "" {
		return valueloop.FieldErrorf("environment", "is required")
	}
	status, ok := statuses[p.Status]
	if !ok {
		return valueloop.FieldErrorf("status", "unknown status %q", forge.Truncate(p.Status))
	}
	var id string
	switch {
	case p.DeployableID != "" && p.DeployableID != "0":
		id = jobID(p.DeployableID.String())
	case p.DeploymentID != "":
		id = "gitlab:deployment:" + p.DeploymentID.String()
	default:
		return valueloop.FieldErrorf("deployment_id", "is required")
	}
	at, err := p.StatusChangedAt.Required("status_changed_at")
	if err != nil {
		return err
	}
	// The full SHA is the last segment of the commit's URL.
	sha := p.ShortSHA
	if last := path.Base(p.CommitURL); fullSHA.MatchString(last) {
		sha = last
	}
	ev.Deployments = []dora.Deployment{{
		ID: id, Repo: name, Environment: p.Environment, Production: cfg.IsProduction(p.Environment, p.EnvironmentTier == "production"),
		SHA: strings.ToLower(sha), Version: p.Ref, Status: status, At: at,
	}}
	return nil
}

// deploying reports whether a job's environment means it deploys: a job
// that stops, prepares or verifies an environment does not.
func deploying(e *environment) bool {
	return e != nil && e.Name != "" && (e.Action == "" || e.Action == "start")
}

// jobDeployment is the deployment a deploying job stands for, or false when
// the job has not deployed yet.
func jobDeployment(id, status string, times []stamp, fields []string, e *environment, cfg Config) (dora.Deployment, bool, error) {
	st, ok := statuses[status]
	if !ok {
		return dora.Deployment{}, false, nil
	}
	var at time.Time
	for i, s := range times {
		t, err := s.time(fields[i])
		if err != nil {
			return dora.Deployment{}, false, err
		}
		if at.IsZero() {
			at = t
		}
	}
	if at.IsZero() {
		return dora.Deployment{}, false, valueloop.FieldErrorf(fields[len(fields)-1], "is required")
	}
	return dora.Deployment{
		ID: jobID(id), Environment: e.Name, Production: cfg.IsProduction(e.Name, e.DeploymentTier == "production"), Status: st, At: at,
	}, true, nil
}

func parsePipeline(ev *dora.Event, body []byte, cfg Config) error {
	var p pipelineEvent
	if err := forge.Decode(body, &p); err != nil {
		return err
	}
	name, err := repo(p.Project, repository{})
	if err != nil {
		return err
	}
	for i := range p.Builds {
		b := &p.Builds[i]
		if !deploying(b.Environment) {
			continue
		}
		f := fmt.Sprintf("builds[%d]", i)
		if b.ID == "" {
			return valueloop.FieldErrorf(f+".id", "is required")
		}
		d, ok, err := jobDeployment(b.ID.String(), b.Status,
			[]stamp{b.FinishedAt, b.StartedAt, p.ObjectAttributes.FinishedAt, b.CreatedAt},
			[]string{f + ".finished_at", f + ".started_at", "object_attributes.finished_at", f + ".created_at"}, b.Environment, cfg)
		if err != nil {
			return err
		}
		if ok {
			d.Repo, d.SHA, d.Version = name, strings.ToLower(p.ObjectAttributes.SHA), p.ObjectAttributes.Ref
			ev.Deployments = append(ev.Deployments, d)
		}
	}
	if len(ev.Deployments) == 0 {
		ev.Ignored = "pipeline has no job that deployed to an environment"
	}
	return nil
}

func parseJob(ev *dora.Event, body []byte, cfg Config) error {
	var p jobEvent
	if err := forge.Decode(body, &p); err != nil {
		return err
	}
	if !deploying(p.Environment) {
		ev.Ignored = "job does not deploy to an environment"
		return nil
	}
	name, err := repo(p.Project, p.Repository)
	if err != nil {
		return err
	}
	if p.BuildID == "" {
		return valueloop.FieldErrorf("build_id", "is required")
	}
	d, ok, err := jobDeployment(p.BuildID.String(), p.BuildStatus,
		[]stamp{p.BuildFinishedAt, p.BuildStartedAt, p.BuildCreatedAt},
		[]string{"build_finished_at", "build_started_at", "build_created_at"}, p.Environment, cfg)
	if err != nil {
		return err
	}
	if !ok {
		ev.Ignored = "job " + forge.Truncate(p.BuildStatus) + ": nothing deployed yet"
		return nil
	}
	d.Repo, d.SHA, d.Version = name, strings.ToLower(p.SHA), p.Ref
	ev.Deployments = []dora.Deployment{d}
	return nil
}

func titles(ls []label) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.Title
	}
	return out
}

func hasLabel(labels []string, want string) bool {
	return slices.ContainsFunc(labels, func(l string) bool { return strings.EqualFold(l, want) })
}

func parseIssue(ev *dora.Event, body []byte, cfg Config) error {
	var p issueEvent
	if err := forge.Decode(body, &p); err != nil {
		return err
	}
	name, err := repo(p.Project, p.Repository)
	if err != nil {
		return err
	}
	a := &p.ObjectAttributes
	if a.ID == "" {
		return valueloop.FieldErrorf("object_attributes.id", "is required")
	}
	want := cfg.Label()
	labels := titles(p.Labels)
	typed := strings.EqualFold(a.Type, "incident") || strings.EqualFold(a.IssueType, "incident")
	incident := typed || hasLabel(labels, want)
	opened, err := a.CreatedAt.Required("object_attributes.created_at")
	if err != nil {
		return err
	}
	updated, err := a.UpdatedAt.time("object_attributes.updated_at")
	if err != nil {
		return err
	}
	inc := dora.Incident{
		ID: "gitlab:issue:" + a.ID.String(), Service: dora.LabelService(labels), Repo: name, Title: a.Title,
		OpenedAt: opened, UpdatedAt: updated, CauseSHA: dora.CauseSHA(a.Description),
	}
	removed := hasLabel(titles(p.Changes.Labels.Previous), want) && !hasLabel(titles(p.Changes.Labels.Current), want)
	switch {
	case !incident && removed:
		inc.Void = true // the label that made it an incident was removed
		ev.Incidents = []dora.Incident{inc}
		return nil
	case !incident:
		ev.Ignored = fmt.Sprintf("%s is neither of type Incident nor labelled %q", p.ObjectKind, forge.Truncate(want))
		return nil
	}
	if a.State == "closed" {
		closed, err := a.ClosedAt.time("object_attributes.closed_at")
		if err != nil {
			return err
		}
		if err := forge.Resolve(&inc, closed, "object_attributes.closed_at"); err != nil {
			return err
		}
	}
	ev.Incidents = []dora.Incident{inc}
	return nil
}

func parseRelease(ev *dora.Event, body []byte, cfg Config) error {
	var p releaseEvent
	if err := forge.Decode(body, &p); err != nil {
		return err
	}
	name, err := repo(p.Project, repository{})
	if err != nil {
		return err
	}
	switch {
	case p.Action != "create":
		ev.Ignored = "release " + forge.Truncate(p.Action) + ": only new releases are deployments"
		return nil
	case cfg.ReleaseEnvironment == "":
		ev.Ignored = "releases are not configured as deployments for this source"
		return nil
	case p.ID == "":
		return valueloop.FieldErrorf("id", "is required")
	}
	at, err := p.ReleasedAt.time("released_at")
	if err != nil {
		return err
	}
	created, err := p.CreatedAt.time("created_at")
	if err != nil {
		return err
	}
	if at.IsZero() {
		if at, err = p.CreatedAt.Required("released_at"); err != nil {
			return err
		}
	}
	// An upcoming release (released_at set ahead of its creation, and still
	// ahead) has deployed nothing yet, and GitLab sends no event when its
	// time comes: `delivery import gitlab` records it once it is released.
	// Comparing with created_at too keeps an ordinary release, whose
	// released_at is its creation, from being taken for one when GitLab's
	// clock runs ahead of this server's.
	if now := cfg.Clock(); at.After(created) && at.After(now) {
		ev.Ignored = fmt.Sprintf("release %s is an upcoming release (released_at %s is ahead): not a deployment yet; `delivery import gitlab` records it once released",
			forge.Truncate(p.Tag), at.Format(time.RFC3339))
		return nil
	}
	ev.Deployments = []dora.Deployment{{
		ID: "gitlab:release:" + p.ID.String(), Repo: name, Environment: cfg.ReleaseEnvironment,
		Production: cfg.IsProduction(cfg.ReleaseEnvironment, false), SHA: strings.ToLower(p.Commit.ID), Version: p.Tag,
		Status: dora.StatusSuccess, At: at,
	}}
	return nil
}
