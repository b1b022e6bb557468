package delivery

import (
	"cmp"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/dora"
	"github.com/valueloop/valueloop/forge"
)

// Source kinds.
const (
	KindGitHub = "github"
	KindGitLab = "gitlab"
	// KindPagerDuty sources send PagerDuty v3 webhooks: incidents only.
	KindPagerDuty = "pagerduty"
	// KindOpsgenie sources send Opsgenie's outgoing webhook (alert actions):
	// incidents only.
	KindOpsgenie = "opsgenie"
)

// APISource is the source name of records sent to the JSON API (and so by
// the CLI). No webhook source may take it.
const APISource = "api"

// Source is one webhook: where deliveries come from and the secret that
// proves it. The secret is stored as given (a GitHub signature is an HMAC,
// which needs the secret itself) and never returned.
type Source struct {
	Name string `json:"name"`
	Kind string `json:"kind"`
	// Secret is the webhook secret (GitHub) or secret token (GitLab).
	Secret []byte `json:"-"`
	// IncidentLabel marks the issues that are incidents; "incident" when
	// empty. For Opsgenie it is a tag that marks the alerts that are
	// incidents; empty: every alert that names a service.
	IncidentLabel string `json:"incidentLabel,omitempty"`
	// ReleaseEnvironment names the environment a published release deploys
	// to, for repositories whose releases are their deployments; empty:
	// releases are ignored.
	ReleaseEnvironment string `json:"releaseEnvironment,omitempty"`
	// Repos are the repositories a GitHub or GitLab source may post for
	// ("owner/name", or "owner/*" for every repository under owner, in
	// subgroups too); empty: every repository of the forge. The secret
	// of a webhook on one repository must not record deployments and
	// incidents of another, whose metrics may be another team's.
	Repos     []string  `json:"repos,omitempty"`
	CreatedAt time.Time `json:"createdAt,omitzero"`
	UpdatedAt time.Time `json:"updatedAt,omitzero"`
	// Version counts the source's writes from where it was made: the
	// delivery data's version then (1 in a new store), so a source
	// deleted and made again never has a version it had before. Given to a write,
	// it is the version the write was made from (an admin's If-Match):
	// the store refuses it (ECONFLICT) when the source changed since, or
	// (ENOTFOUND) was deleted, so two admins rotating one source's secret
	// or repositories at once cannot silently undo each other. 0 writes
	// whatever is stored; SourceExists any version of an existing source.
	Version int64 `json:"version,omitempty"`
}

// SourceExists is the Version of a write that asks only that the source
// exist (If-Match: *).
const SourceExists int64 = -1

var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// MinSecret is the shortest secret accepted: a webhook secret guards writes.
const MinSecret = 16

// Validate reports what makes s unusable, naming the field. A nil Secret
// means "keep the stored one" and is checked by the store.
func (s *Source) Validate() error {
	switch {
	case !namePattern.MatchString(s.Name):
		return valueloop.FieldErrorf("name", "must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit; not %q", s.Name)
	case s.Name == APISource:
		return valueloop.FieldErrorf("name", "%q is reserved for records sent to the API", APISource)
	case s.Kind != KindGitHub && s.Kind != KindGitLab && s.Kind != KindPagerDuty && s.Kind != KindOpsgenie:
		return valueloop.FieldErrorf("kind", "must be github, gitlab, pagerduty or opsgenie, not %q", s.Kind)
	case s.Secret != nil && len(s.Secret) < MinSecret:
		return valueloop.FieldErrorf("secret", "must be at least %d characters long", MinSecret)
	case len(s.Secret) > 1024:
		return valueloop.FieldErrorf("secret", "must be at most 1024 characters long")
	case len(s.IncidentLabel) > 200:
		return valueloop.FieldErrorf("incidentLabel", "must be at most 200 characters long")
	case len(s.ReleaseEnvironment) > 200:
		return valueloop.FieldErrorf("releaseEnvironment", "must be at most 200 characters long")
	}
	if err := s.validateRepos(); err != nil {
		return err
	}
	return texts("incidentLabel", s.IncidentLabel, "releaseEnvironment", s.ReleaseEnvironment)
}

// MaxSourceRepos bounds the repositories of one source: an organisation
// or group needs one "owner/*", not a list of its repositories.
const MaxSourceRepos = 100

func (s *Source) validateRepos() error {
	if len(s.Repos) > 0 && s.Kind != KindGitHub && s.Kind != KindGitLab {
		return valueloop.FieldErrorf("repos", "a %s source sends incidents of services, not events of repositories: only GitHub and GitLab sources name repositories", s.Kind)
	}
	if len(s.Repos) > MaxSourceRepos {
		return valueloop.FieldErrorf("repos", "names %d repositories: at most %d (use \"owner/*\" for every repository of an owner)", len(s.Repos), MaxSourceRepos)
	}
	for i, r := range s.Repos {
		if err := dora.CheckRepo(fmt.Sprintf("repos[%d]", i), r, true); err != nil {
			return err
		}
	}
	return nil
}

// admits reports whether the source may post records of repo: repository
// names are compared without case, as GitHub and GitLab resolve them.
func (s *Source) admits(repo string) bool {
	if len(s.Repos) == 0 {
		return true
	}
	for _, r := range s.Repos {
		if owner, all := strings.CutSuffix(r, "/*"); all {
			if len(repo) > len(owner)+1 && strings.EqualFold(repo[:len(owner)+1], owner+"/") {
				return true
			}
		} else if strings.EqualFold(repo, r) {
			return true
		}
	}
	return false
}

// Delivery is one batch of records received at once: a webhook delivery or
// one API call. It is stored whole, in one transaction, or not at all; a
// second delivery with the same Source and ID is a redelivery and stores
// nothing.
type Delivery struct {
	Source string `json:"source"` // a source's name, or APISource
	ID     string `json:"id"`
	// Kind is the event type ("push", "Merge Request Hook", "deployment").
	Kind       string    `json:"kind"`
	ReceivedAt time.Time `json:"receivedAt"`
	// BodyDigest is the SHA-256 digest of a webhook delivery's raw body
	// (hex); empty for an API call. A body a source already delivered is a
	// redelivery whatever its ID: the signature covers the body only, not
	// the delivery header, so a captured body sent again under a new ID
	// must not be recorded again.
	BodyDigest string `json:"-"`
	// Ignored says why a delivery that carries nothing for the metrics was
	// acknowledged without records.
	Ignored     string            `json:"ignored,omitempty"`
	Changes     []dora.Change     `json:"changes,omitempty"`
	Deployments []dora.Deployment `json:"deployments,omitempty"`
	Incidents   []dora.Incident   `json:"incidents,omitempty"`
	Reviews     []dora.Review     `json:"reviews,omitempty"`
	Links       []FlagLink        `json:"links,omitempty"`
}

// Records counts the records d carries.
func (d *Delivery) Records() int {
	return len(d.Changes) + len(d.Deployments) + len(d.Incidents) + len(d.Reviews) + len(d.Links)
}

// FlagLink links a change (repository and SHA; Repo is empty for a change
// named by service only) to the feature flag it ships behind.
type FlagLink struct {
	Flag string `json:"flag"`
	Repo string `json:"repo,omitempty"`
	SHA  string `json:"sha"`
}

// DeliveryInfo is a stored delivery without its records, for the log of
// what arrived.
type DeliveryInfo struct {
	Source     string    `json:"source"`
	ID         string    `json:"id"`
	Kind       string    `json:"kind"`
	ReceivedAt time.Time `json:"receivedAt"`
	Ignored    string    `json:"ignored,omitempty"`
	Records    int       `json:"records"`
}

// validate checks every record of d, naming the record and field at fault,
// so that a delivery is stored whole or not at all.
func (d *Delivery) validate() error {
	if d.Source == APISource && len(d.ID) > MaxDeliveryID {
		return longID("Idempotency-Key", d.ID)
	}
	at := func(kind string, i int, err error) error {
		if e, ok := err.(*valueloop.Error); ok {
			c := *e
			c.Field = fmt.Sprintf("%s[%d].%s", kind, i, e.Field)
			return &c
		}
		return fmt.Errorf("%s[%d]: %w", kind, i, err)
	}
	for i := range d.Changes {
		c := &d.Changes[i]
		err := cmp.Or(c.Validate(), bounded("sha", c.SHA, maxSHA),
			texts("repo", c.Repo, "service", c.Service, "sha", c.SHA, "pr", c.PR, "branch", c.Branch))
		for j := 0; err == nil && j < len(c.Paths); j++ {
			err = texts(fmt.Sprintf("paths[%d]", j), c.Paths[j])
		}
		if err != nil {
			return at("changes", i, err)
		}
	}
	for i := range d.Deployments {
		dep := &d.Deployments[i]
		if err := cmp.Or(dep.Validate(), bounded("id", dep.ID, maxRecordID),
			texts("id", dep.ID, "service", dep.Service, "repo", dep.Repo, "environment", dep.Environment, "sha", dep.SHA, "version", dep.Version)); err != nil {
			return at("deployments", i, err)
		}
	}
	for i := range d.Incidents {
		inc := &d.Incidents[i]
		// A title is free text someone typed into an incident tool: a NUL
		// or a bad byte in it is replaced, not a reason to lose the
		// incident (a webhook refused with 400 is not sent again).
		inc.Title = forge.RepairText(inc.Title)
		if err := cmp.Or(inc.Validate(), bounded("id", inc.ID, maxRecordID),
			texts("id", inc.ID, "service", inc.Service, "repo", inc.Repo, "deploymentId", inc.DeploymentID, "causeSha", inc.CauseSHA)); err != nil {
			return at("incidents", i, err)
		}
	}
	for i := range d.Reviews {
		r := &d.Reviews[i]
		if err := cmp.Or(r.Validate(), texts("repo", r.Repo, "pr", r.PR)); err != nil {
			return at("reviews", i, err)
		}
	}
	for i, l := range d.Links {
		err := cmp.Or(checkFlagKey(l.Flag), texts("repo", l.Repo, "sha", l.SHA))
		if err == nil && l.Repo != "" {
			err = dora.CheckRepo("repo", l.Repo, false)
		}
		if err != nil {
			return at("links", i, err)
		}
	}
	return nil
}

// Bounds of the fields the store indexes (and a forge never comes near):
// a webhook body's are not otherwise checked, and PostgreSQL cannot index
// a value of a few kilobytes.
const (
	maxSHA      = 64 // SHA-256 in hex
	maxRecordID = 200
)

func bounded(field, v string, max int) error {
	if len(v) > max {
		return valueloop.FieldErrorf(field, "is %d bytes long: at most %d", len(v), max)
	}
	return nil
}

// texts checks pairs of field name and value: each value must be text a
// store can hold, valid UTF-8 without NUL (PostgreSQL refuses both). A
// webhook body's strings are valid UTF-8 once decoded, but may hold
// "\u0000".
func texts(pairs ...string) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		v := pairs[i+1]
		switch {
		case strings.IndexByte(v, 0) >= 0:
			return valueloop.FieldErrorf(pairs[i], "holds a NUL character")
		case !utf8.ValidString(v):
			return valueloop.FieldErrorf(pairs[i], "is not valid UTF-8")
		}
	}
	return nil
}

func checkFlagKey(key string) error {
	if !valueloop.ValidFlagKey(key) {
		return valueloop.FieldErrorf("flag", "%q is not a flag key: it %s", valueloop.Clip(key), valueloop.FlagKeyRule)
	}
	return nil
}
