package dora

import (
	"time"

	"github.com/valueloop/valueloop"
)

// Deployment statuses, normalised from what each source sends.
const (
	StatusSuccess  = "success"
	StatusFailure  = "failure"  // GitHub failure and error, GitLab failed
	StatusPending  = "pending"  // queued, in progress, running: not yet an outcome
	StatusCanceled = "canceled" // never reached production; ignored by the metrics
)

// ShortSHA is the commit sha as people read it: its first 7 characters, as
// git abbreviates; a shorter one (an abbreviation already) as it is.
func ShortSHA(sha string) string {
	if len(sha) > minAbbrev {
		return sha[:minAbbrev]
	}
	return sha
}

// Change is one commit, or one merged pull/merge request, of a repository.
type Change struct {
	Repo string `json:"repo"`
	// Service is set when the source names the service explicitly; otherwise
	// the Catalog maps Repo and Paths to services.
	Service string `json:"service,omitempty"`
	SHA     string `json:"sha"`
	// PR is the number of the pull or merge request this change merged ("17").
	PR string `json:"pr,omitempty"`
	// Branch is the branch the commit was pushed to or, for a pull request, its
	// source branch; a fork's branch is qualified by the fork,
	// "owner/name:branch" (a branch name has no ':'), so that it matches no
	// branch of the repository itself.
	Branch string   `json:"branch,omitempty"`
	Paths  []string `json:"paths,omitempty"`
	// AuthoredAt is when the work was committed: the commit timestamp, or for a
	// pull request the time it was opened.
	AuthoredAt time.Time `json:"authoredAt"`
	// MergedAt is when the change reached the default branch; zero for a
	// commit pushed elsewhere.
	MergedAt time.Time `json:"mergedAt,omitzero"`
	// OpenedAt is when the pull or merge request was opened; zero for a
	// commit, or when unknown (the lead time breakdown then has no coding
	// or pickup stage for it).
	OpenedAt time.Time `json:"openedAt,omitzero"`
	// ByHand marks a record sent through the API or the CLI, not by a
	// forge: where records of one commit name different pull requests,
	// the forge's wins (a number typed by hand may be a typo; the forge
	// merged the request). Stores set it from the record's delivery.
	ByHand bool `json:"-"`
}

// Deployment is one deployment of a service to an environment.
type Deployment struct {
	// ID identifies the deployment at its source ("github:deployment:42").
	// Several records with one ID are successive statuses of one deployment.
	ID          string `json:"id"`
	Service     string `json:"service,omitempty"`
	Repo        string `json:"repo,omitempty"`
	Environment string `json:"environment"`
	Production  bool   `json:"production"`
	SHA         string `json:"sha,omitempty"`
	Version     string `json:"version,omitempty"`
	Status      string `json:"status"`
	// At is when the deployment reached Status.
	At time.Time `json:"at"`
	// Rollback marks a deployment that the source declares a rollback. A
	// deployment of an older commit than the one its environment runs is
	// recognised as one without the mark (one region catching up on a
	// commit another region has passed is not).
	Rollback bool `json:"rollback,omitempty"`
}

// Incident is a failure in production. Each record is a snapshot of the
// incident at UpdatedAt; the latest snapshot of an ID wins.
type Incident struct {
	ID         string     `json:"id"`
	Service    string     `json:"service,omitempty"`
	Repo       string     `json:"repo,omitempty"`
	Title      string     `json:"title,omitempty"`
	OpenedAt   time.Time  `json:"openedAt"`
	ResolvedAt *time.Time `json:"resolvedAt,omitempty"`
	UpdatedAt  time.Time  `json:"updatedAt,omitzero"`
	// DeploymentID links the incident to the deployment that caused it.
	DeploymentID string `json:"deploymentId,omitempty"`
	// CauseSHA names the commit that caused the incident; the deployment that
	// delivered it is the cause.
	CauseSHA string `json:"causeSha,omitempty"`
	// Void withdraws the incident: the issue lost its incident label or was
	// deleted.
	Void bool `json:"void,omitempty"`
}

// Event is what one webhook delivery says. A delivery that says nothing about
// delivery metrics (an unsupported event type, an unmerged pull request, ...)
// is Ignored with the reason; it is acknowledged, not an error.
type Event struct {
	Source string `json:"source"` // "github", "gitlab"
	// Kind is the event type as the source names it ("push", "Push Hook").
	Kind string `json:"kind"`
	// DeliveryID identifies the delivery; a redelivery carries the same ID, so
	// storing events keyed by it makes ingestion idempotent.
	DeliveryID  string       `json:"deliveryId"`
	Ignored     string       `json:"ignored,omitempty"`
	Changes     []Change     `json:"changes,omitempty"`
	Deployments []Deployment `json:"deployments,omitempty"`
	Incidents   []Incident   `json:"incidents,omitempty"`
	Reviews     []Review     `json:"reviews,omitempty"`
}

// Data is everything the metrics are computed from.
type Data struct {
	Catalog     Catalog      `json:"catalog"`
	Changes     []Change     `json:"changes"`
	Deployments []Deployment `json:"deployments"`
	Incidents   []Incident   `json:"incidents"`
	// Reviews date the first review of each pull request, for the lead
	// time breakdown.
	Reviews []Review `json:"reviews,omitempty"`
	// ClockSkew is how far clocks of different sources may disagree. An
	// incident opened up to ClockSkew before a deployment is still linked to
	// it, and a commit up to ClockSkew after its pull request merged is still
	// that pull request's work. Durations that skew makes negative count as 0.
	// In JSON it is seconds (json.go).
	ClockSkew time.Duration `json:"clockSkew,omitempty"`
}

// Validate reports what makes c unusable, naming the field.
func (c *Change) Validate() error {
	switch {
	case c.Repo == "" && c.Service == "":
		return valueloop.FieldErrorf("repo", "a change needs a repository or a service")
	case c.SHA == "":
		return valueloop.FieldErrorf("sha", "is required")
	case c.AuthoredAt.IsZero():
		return valueloop.FieldErrorf("authoredAt", "is required")
	}
	if err := optionalRepo(c.Repo); err != nil {
		return err
	}
	if err := checkTime("authoredAt", c.AuthoredAt); err != nil {
		return err
	}
	if err := checkTime("openedAt", c.OpenedAt); err != nil {
		return err
	}
	return checkTime("mergedAt", c.MergedAt)
}

// Validate reports what makes d unusable, naming the field.
func (d *Deployment) Validate() error {
	switch {
	case d.ID == "":
		return valueloop.FieldErrorf("id", "is required")
	case d.Repo == "" && d.Service == "":
		return valueloop.FieldErrorf("service", "a deployment needs a service or a repository")
	case d.At.IsZero():
		return valueloop.FieldErrorf("at", "is required")
	}
	if err := optionalRepo(d.Repo); err != nil {
		return err
	}
	if err := checkTime("at", d.At); err != nil {
		return err
	}
	switch d.Status {
	case StatusSuccess, StatusFailure, StatusPending, StatusCanceled:
		return nil
	}
	return valueloop.FieldErrorf("status", "must be one of success, failure, pending, canceled; not %q", d.Status)
}

// Validate reports what makes i unusable, naming the field.
func (i *Incident) Validate() error {
	switch {
	case i.ID == "":
		return valueloop.FieldErrorf("id", "is required")
	case i.Repo == "" && i.Service == "":
		return valueloop.FieldErrorf("service", "an incident needs a service or a repository")
	case i.OpenedAt.IsZero():
		return valueloop.FieldErrorf("openedAt", "is required")
	case i.ResolvedAt != nil && i.ResolvedAt.Before(i.OpenedAt):
		return valueloop.FieldErrorf("resolvedAt", "is before openedAt")
	}
	if err := optionalRepo(i.Repo); err != nil {
		return err
	}
	if err := checkTime("openedAt", i.OpenedAt); err != nil {
		return err
	}
	if i.ResolvedAt != nil {
		return checkTime("resolvedAt", *i.ResolvedAt)
	}
	return nil
}

// optionalRepo checks the repository of a record that may name a service
// instead: empty, or one repository.
func optionalRepo(repo string) error {
	if repo == "" {
		return nil
	}
	return CheckRepo("repo", repo, false)
}

// Times must lie where nanosecond arithmetic is exact; anything outside is a
// typo or an attack, not a delivery.
var (
	minTime = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

// checkTime accepts the zero time (absent) and times from 1970 to 2199.
func checkTime(field string, t time.Time) error {
	if !t.IsZero() && (t.Before(minTime) || !t.Before(maxTime)) {
		return valueloop.FieldErrorf(field, "%s is out of range (1970 to 2199)", t.Format(time.RFC3339))
	}
	return nil
}
