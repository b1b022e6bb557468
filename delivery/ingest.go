package delivery

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/dora"
	"github.com/valueloop/valueloop/forge"
	"github.com/valueloop/valueloop/github"
	"github.com/valueloop/valueloop/gitlab"
	"github.com/valueloop/valueloop/opsgenie"
	"github.com/valueloop/valueloop/pagerduty"
)

// Hook is one webhook delivery as it arrived.
type Hook struct {
	// Source names the configured source it is meant for; empty: any
	// source of the forge whose secret verifies it.
	Source string
	// Event is the event type header (X-GitHub-Event, X-Gitlab-Event).
	Event string
	// DeliveryID is X-GitHub-Delivery, or for GitLab the Idempotency-Key
	// header (gitlab.DeliveryID). Empty: the body's digest.
	DeliveryID string
	// Credential is X-Hub-Signature-256 (GitHub), X-Gitlab-Token,
	// X-PagerDuty-Signature or the secret an Opsgenie delivery offers
	// (opsgenie.Credential).
	Credential string
	Body       []byte
}

// Receipt says what became of a delivery.
type Receipt struct {
	Source   string `json:"source"`
	Delivery string `json:"delivery"`
	Kind     string `json:"kind,omitempty"`
	// Ignored says why a delivery was acknowledged without records.
	Ignored string `json:"ignored,omitempty"`
	// Duplicate: the delivery was stored before; nothing was stored now.
	Duplicate   bool `json:"duplicate,omitempty"`
	Changes     int  `json:"changes"`
	Deployments int  `json:"deployments"`
	Incidents   int  `json:"incidents"`
	Reviews     int  `json:"reviews"`
	FlagLinks   int  `json:"flagLinks"`
	// Warning says what of a record sent to the API the metrics cannot use
	// as given, though it was stored: a SHA that abbreviates several
	// recorded commits.
	Warning *Warning `json:"warning,omitempty"`
}

// Warning says what of a stored record the metrics cannot use as given,
// and what to do. It is carried in parts, so that the CLI names each
// field by its flag without taking the text apart.
type Warning struct {
	// Field is the field it is about, as the API names it ("sha").
	Field string `json:"field"`
	// Message says what is wrong and what to do; Again, when set, ends
	// it: the fields to give again with their values.
	Message string  `json:"message"`
	Again   []Given `json:"again,omitempty"`
	// Record, when set, is the kind of the earlier record the warning is
	// about (deployment or incident), not the one sent: Field and Again
	// are that record's fields, which the CLI names by the flags of the
	// command that records it, not by those of the command run.
	Record string `json:"record,omitempty"`
}

// Given is a field of a record and its value, as a warning says to give it
// again.
type Given struct {
	Field string `json:"field"`
	Value string `json:"value"`
}

// Text writes w whole, each field named by name: the field first, the
// message, then the fields to give again ("the same id (…) and at (…)").
func (w *Warning) Text(name func(field string) string) string {
	if w == nil {
		return ""
	}
	var b strings.Builder
	b.WriteString(name(w.Field) + " " + w.Message)
	for i, g := range w.Again {
		if i > 0 {
			b.WriteString(" and")
		}
		fmt.Fprintf(&b, " %s (%s)", name(g.Field), g.Value)
	}
	return b.String()
}

// String is w's text with the fields as the API names them; "" for none.
func (w *Warning) String() string { return w.Text(func(field string) string { return field }) }

func receipt(d *Delivery, stored bool) Receipt {
	return Receipt{Source: d.Source, Delivery: d.ID, Kind: d.Kind, Ignored: d.Ignored, Duplicate: !stored,
		Changes: len(d.Changes), Deployments: len(d.Deployments), Incidents: len(d.Incidents), Reviews: len(d.Reviews), FlagLinks: len(d.Links)}
}

// Receive verifies a webhook delivery from kind (KindGitHub, KindGitLab,
// KindPagerDuty or KindOpsgenie) against the configured sources, parses it and stores its
// records in one transaction. A delivery no source verifies is an
// EUNAUTHORIZED error and nothing is read or stored; a malformed one is an
// EINVALID error naming the field; an event that carries nothing for the
// metrics is acknowledged with Receipt.Ignored; a redelivery stores nothing
// and is acknowledged with Receipt.Duplicate.
func (s *Service) Receive(ctx context.Context, kind string, h Hook) (Receipt, error) {
	srcs, err := s.verify(ctx, kind, h)
	if err != nil {
		return Receipt{}, err
	}
	return s.receiveVerified(ctx, kind, srcs, h)
}

// receiveVerified parses and stores h, which srcs vouched for (their
// secrets verify it; in the order of Sources, by name). Sources may share
// a secret and each take their own repositories (Source.Repos): the first
// one whose repositories admit the delivery takes it, and when none does
// the first one's refusal is returned.
func (s *Service) receiveVerified(ctx context.Context, kind string, srcs []*Source, h Hook) (Receipt, error) {
	// A header's ID is bounded before the body is parsed.
	if len(h.DeliveryID) > MaxDeliveryID {
		return Receipt{}, longID(deliveryHeader(kind), h.DeliveryID)
	}
	var refused error
	for _, src := range srcs {
		ev, id, err := s.parseHook(kind, src, h)
		if err != nil {
			return Receipt{}, err
		}
		err = s.admitsEvent(ctx, src, &ev)
		if valueloop.ErrorCode(err) == valueloop.EFORBIDDEN {
			if refused == nil {
				refused = err
			}
			continue
		}
		if err != nil {
			return Receipt{}, err
		}
		return s.recordHook(ctx, kind, src, h, ev, id)
	}
	return Receipt{}, refused
}

// parseHook parses h as src configures its kind, and returns the event and
// the delivery's ID (the header's, or one the event carries).
func (s *Service) parseHook(kind string, src *Source, h Hook) (dora.Event, string, error) {
	var err error
	id := h.DeliveryID
	production := s.production()
	var ev dora.Event
	switch kind {
	case KindPagerDuty:
		// The event's own ID identifies the delivery: a redelivery carries it.
		if ev, err = pagerduty.Parse(h.Body); err == nil && id == "" {
			id = ev.DeliveryID
		}
	case KindOpsgenie:
		// Opsgenie sends no delivery ID: the alert, action and time are one.
		if ev, err = opsgenie.Parse(h.Body, opsgenie.Config{IncidentTag: src.IncidentLabel}); err == nil && id == "" {
			id = ev.DeliveryID
		}
	case KindGitHub:
		ev, err = github.Parse(h.Event, id, h.Body, github.Config{IncidentLabel: src.IncidentLabel, Production: production, ReleaseEnvironment: src.ReleaseEnvironment})
	case KindGitLab:
		ev, err = gitlab.Parse(h.Event, id, h.Body, gitlab.Config{IncidentLabel: src.IncidentLabel, Production: production, ReleaseEnvironment: src.ReleaseEnvironment, Now: s.Now()})
	}
	return ev, id, err
}

// recordHook stores the event ev of h, which src admitted, under id.
func (s *Service) recordHook(ctx context.Context, kind string, src *Source, h Hook, ev dora.Event, id string) (Receipt, error) {
	if id == "" || len(id) > MaxDeliveryID {
		id = bodyID(h.Body) // for a long ID from the body, its digest is as stable
	}
	d := &Delivery{Source: src.Name, ID: id, Kind: ev.Kind, ReceivedAt: s.Now().UTC(), BodyDigest: bodyDigest(h.Body), Ignored: ev.Ignored,
		Changes: ev.Changes, Deployments: ev.Deployments, Incidents: ev.Incidents, Reviews: ev.Reviews}
	if d.Kind == "" {
		d.Kind = h.Event
	}
	d.Kind = forge.Truncate(d.Kind) // a header's: unbounded, any bytes
	if d.Ignored == "" && kind != KindPagerDuty && kind != KindOpsgenie {
		d.Links = flagLinks(kind, h.Body, ev.Changes)
	}
	r, err := s.record(ctx, d)
	if err == nil && d.Ignored == "" {
		s.linked(ctx, changeTexts(kind, h.Body, ev.Changes))
	}
	return r, err
}

// admitsEvent refuses an event naming a repository the source may not post
// for (Source.Repos), naming the first record at fault: nothing of it is
// stored. A record naming no repository is refused by a source that names
// some, as it cannot show it is one of them. A record that names its
// service (a service:NAME label, a deployment's payload.service) must name
// a service the catalog gives one of the source's repositories, or one of
// those repositories as a service of its own: else the secret of one
// repository could still record deployments and incidents of another's
// service.
func (s *Service) admitsEvent(ctx context.Context, src *Source, ev *dora.Event) error {
	if len(src.Repos) == 0 {
		return nil
	}
	forbidden := func(field, format string, args ...any) error {
		return &valueloop.Error{Code: valueloop.EFORBIDDEN, Field: field, Message: fmt.Sprintf(format, args...)}
	}
	var services map[string][]dora.Source // read once, when a record names a service
	check := func(kind string, i int, repo, service string) error {
		if !src.admits(repo) {
			return forbidden(fmt.Sprintf("%s[%d].repo", kind, i),
				"webhook source %q may post for %s only, not for %q: add the repository to the source (valueloop delivery source set %s --repo …) or send its events to a source of its own",
				src.Name, strings.Join(src.Repos, ", "), valueloop.Clip(repo), src.Name)
		}
		if service == "" {
			return nil
		}
		if services == nil {
			cat, err := s.Store.Catalog(ctx)
			if err != nil {
				return err
			}
			services = map[string][]dora.Source{}
			for _, c := range cat.Services {
				services[c.Name] = c.Sources
			}
		}
		repos, known := services[service]
		if !known && src.admits(service) || slices.ContainsFunc(repos, func(r dora.Source) bool { return src.admits(r.Repo) }) {
			return nil
		}
		return forbidden(fmt.Sprintf("%s[%d].service", kind, i),
			"names service %q, which is not a service of %s (the repositories webhook source %q may post for): give it one of them in the catalog (valueloop delivery service set), or send its events to a source of its own",
			valueloop.Clip(service), strings.Join(src.Repos, ", "), src.Name)
	}
	var err error
	for i := 0; err == nil && i < len(ev.Changes); i++ {
		err = check("changes", i, ev.Changes[i].Repo, ev.Changes[i].Service)
	}
	for i := 0; err == nil && i < len(ev.Deployments); i++ {
		err = check("deployments", i, ev.Deployments[i].Repo, ev.Deployments[i].Service)
	}
	for i := 0; err == nil && i < len(ev.Incidents); i++ {
		err = check("incidents", i, ev.Incidents[i].Repo, ev.Incidents[i].Service)
	}
	for i := 0; err == nil && i < len(ev.Reviews); i++ {
		err = check("reviews", i, ev.Reviews[i].Repo, "")
	}
	return err
}

// MaxDeliveryID bounds a delivery's ID: a forge's delivery header or an
// API call's Idempotency-Key. Forges send IDs of 36 bytes; an index of the
// store (PostgreSQL's) cannot hold one of a few kilobytes.
const MaxDeliveryID = 200

func longID(field, id string) error {
	return valueloop.FieldErrorf(field, "is %d bytes long: at most %d", len(id), MaxDeliveryID)
}

// deliveryHeader names the header a forge's delivery ID comes from.
func deliveryHeader(kind string) string {
	if kind == KindGitHub {
		return github.DeliveryHeader
	}
	return gitlab.IdempotencyHeader
}

// verify finds the sources that vouch for h: the one named, or every
// source of kind whose secret verifies it.
func (s *Service) verify(ctx context.Context, kind string, h Hook) ([]*Source, error) {
	sources, err := s.Store.Sources(ctx)
	if err != nil {
		return nil, err
	}
	check := bodyFreeCheck(kind, h.Credential)
	if check == nil {
		check = func(src *Source) error {
			if kind == KindPagerDuty {
				return pagerduty.Verify(src.Secret, h.Body, h.Credential)
			}
			return github.Verify(src.Secret, h.Body, h.Credential)
		}
	}
	return pickSources(sources, kind, h.Source, check)
}

// CheckHeaders refuses a delivery whose headers no source could accept,
// before any store work or the body: a GitHub or PagerDuty signature that
// is missing or not an HMAC-SHA256 digest, a missing GitLab token or
// Opsgenie secret. ReceiveStream checks the rest (is there a source, does
// its secret match) after reading the sources once, still before the body.
func CheckHeaders(kind string, h Hook) error {
	switch kind {
	case KindGitHub:
		return github.CheckSignatureForm(h.Credential)
	case KindPagerDuty:
		return pagerduty.CheckSignatureForm(h.Credential)
	case KindGitLab:
		return gitlab.CheckTokenForm(h.Credential)
	case KindOpsgenie:
		return opsgenie.CheckCredentialForm(h.Credential)
	}
	return nil
}

// pickSources returns the sources of kind (named name, if not empty) that
// check accepts, in their order, or the first refusal when none does.
func pickSources(sources []Source, kind, name string, check func(*Source) error) ([]*Source, error) {
	var first error
	var picked []*Source
	for i := range sources {
		src := &sources[i]
		if src.Kind != kind || (name != "" && src.Name != name) {
			continue
		}
		err := check(src)
		if err == nil {
			picked = append(picked, src)
		} else if first == nil {
			first = err
		}
	}
	if len(picked) > 0 {
		return picked, nil
	}
	if first != nil {
		return nil, first
	}
	if name != "" {
		return nil, valueloop.Errorf(valueloop.EUNAUTHORIZED, "no %s webhook source named %q is configured", kind, name)
	}
	return nil, valueloop.Errorf(valueloop.EUNAUTHORIZED, "no %s webhook source is configured on this server", kind)
}

// production maps the environments Valueloop knows, by key and by name,
// to whether they are production.
func (s *Service) production() map[string]bool {
	out := map[string]bool{}
	for _, e := range s.Environments() {
		out[e.Key] = e.Production
		if e.Name != "" {
			if _, ok := out[e.Name]; !ok {
				out[e.Name] = e.Production
			}
		}
	}
	return out
}

// record validates and stores d whole.
func (s *Service) record(ctx context.Context, d *Delivery) (Receipt, error) {
	if err := d.validate(); err != nil {
		return Receipt{}, err
	}
	obscured := s.obscured(d.Changes)
	stored, err := s.Store.RecordDelivery(ctx, d)
	if err != nil {
		return Receipt{}, err
	}
	r := receipt(d, stored)
	if stored && obscured != nil {
		r.Warning = obscured
		s.Logger.Warn("a delivery makes an earlier record's abbreviated SHA ambiguous", "source", d.Source, "delivery", d.ID, "warning", obscured.String())
	}
	return r, nil
}

// obscured warns of the earlier deployments and incidents whose
// abbreviated SHA names one commit, and names none once changes are
// recorded too (dora.Timeline.Obscures): the abbreviation was ambiguous
// when it was recorded, and nobody knew. It reads the timeline built last,
// however old, and builds none: a build per webhook would cost every push
// a read of all records, and make the reads after it stale once builds
// are slow (Service.SlowBuild). So it is best effort: a record newer than
// that timeline is not warned of. The receipt carries it
// (a forge shows it in its log of deliveries) and so does the service's
// log, since nobody may read a webhook's answer.
func (s *Service) obscured(changes []dora.Change) *Warning {
	if len(changes) == 0 {
		return nil
	}
	snap := s.builtTimeline()
	if snap == nil {
		return nil
	}
	obs := snap.tl.Obscures(changes)
	if len(obs) == 0 {
		return nil
	}
	field := func(o dora.Obscured) string {
		if o.Kind == "incident" {
			return "causeSha"
		}
		return "sha"
	}
	const ambiguousNow = "is ambiguous now: this delivery records a commit that starts with it and existed when it was recorded, so it names none of its commits, as in git; "
	if len(obs) == 1 {
		o := obs[0]
		fix := recordAgain("record", o.ID, "at", o.At)
		if o.Kind == "incident" {
			fix = recordAgain("open", o.ID, "openedAt", o.At)
		}
		return &Warning{Field: field(o), Message: fmt.Sprintf("%q of %s %s of %s %s", o.SHA, o.Kind, o.ID, o.Service, ambiguousNow) + fix.text, Again: fix.again, Record: o.Kind}
	}
	names := make([]string, len(obs))
	for i, o := range obs {
		names[i] = fmt.Sprintf("%q of %s %s of %s", o.SHA, o.Kind, o.ID, o.Service)
	}
	return &Warning{Field: field(obs[0]), Message: fmt.Sprintf("of %d earlier records (%s) %s", len(obs), valueloop.ListFirst(names, 3), ambiguousNow) +
		"each is placed by its time alone: to name its commit, record it again with more of its digits and the same id and time (delivery record list finds it)",
		Record: obs[0].Kind}
}

// DeploymentInput is a deployment sent to the API.
type DeploymentInput struct {
	// ID identifies the deployment; several records with one ID are its
	// successive statuses. Generated when empty.
	ID          string `json:"id,omitempty"`
	Service     string `json:"service"`
	Repo        string `json:"repo,omitempty"`
	Environment string `json:"environment"`
	SHA         string `json:"sha,omitempty"`
	Version     string `json:"version,omitempty"`
	Status      string `json:"status"`
	// At is when the deployment reached Status; now when absent.
	At       *time.Time `json:"at,omitempty"`
	Rollback bool       `json:"rollback,omitempty"`
	// Production says whether Environment is production when Valueloop
	// does not know the environment; for a known one its attribute decides.
	Production *bool `json:"production,omitempty"`
	// Force stores a rollback whose target is not an earlier successful
	// production deployment of the service; without it such a rollback is
	// refused.
	Force bool `json:"force,omitempty"`
}

// RecordKey is the idempotency key of an API call (the Idempotency-Key
// header): a second call with the same key stores nothing. Empty: every
// call is new.
type RecordKey = string

func (s *Service) apiDelivery(key RecordKey, kind string) *Delivery {
	if key == "" {
		key = newID("")
	}
	return &Delivery{Source: APISource, ID: key, Kind: kind, ReceivedAt: s.Now().UTC()}
}

func (s *Service) at(t *time.Time) time.Time {
	if t == nil || t.IsZero() {
		return s.Now().UTC()
	}
	return t.UTC()
}

// notAhead refuses a time given by hand (the API, the CLI) that is ahead
// of the server's clock by more than ClockSkew: what it dates has not
// happened yet, and a mistyped year is not harmless (an incident opened in
// 2062 is caused by today's latest deployment, failed and unrecovered).
// Webhooks and imports are not checked: their times come from the forge.
func (s *Service) notAhead(field string, t time.Time) error {
	now := s.Now().UTC()
	if t.After(now.Add(s.ClockSkew)) {
		return valueloop.FieldErrorf(field, "%s is ahead of the server's clock (%s): it has not happened yet",
			t.UTC().Format(time.RFC3339), now.Format(time.RFC3339))
	}
	return nil
}

// RecordDeployment stores a deployment sent to the API and returns it as
// stored.
func (s *Service) RecordDeployment(ctx context.Context, in DeploymentInput, key RecordKey) (dora.Deployment, Receipt, error) {
	if strings.TrimSpace(in.Service) == "" {
		return dora.Deployment{}, Receipt{}, valueloop.FieldErrorf("service", "is required")
	}
	if strings.TrimSpace(in.Environment) == "" {
		return dora.Deployment{}, Receipt{}, valueloop.FieldErrorf("environment", "is required")
	}
	d := dora.Deployment{ID: in.ID, Service: in.Service, Repo: in.Repo, Environment: in.Environment,
		SHA: strings.ToLower(strings.TrimSpace(in.SHA)), Version: in.Version, Status: in.Status, At: s.at(in.At), Rollback: in.Rollback}
	if err := checkSHA("sha", d.SHA); err != nil {
		return dora.Deployment{}, Receipt{}, err
	}
	if err := s.notAhead("at", d.At); err != nil {
		return dora.Deployment{}, Receipt{}, err
	}
	if d.ID == "" {
		d.ID = newID("api:deployment:")
	}
	prod, known := s.production()[in.Environment]
	switch {
	case known:
		d.Production = prod
	case in.Production != nil:
		d.Production = *in.Production
	default:
		return dora.Deployment{}, Receipt{}, valueloop.FieldErrorf("production",
			"environment %q is not known to Valueloop: say whether it is production (production: true or false), or create the environment", in.Environment)
	}
	if in.ID != "" {
		if err := s.checkDeploymentID(ctx, d); err != nil {
			return dora.Deployment{}, Receipt{}, err
		}
	}
	if !in.Force {
		if err := s.checkRollback(ctx, d); err != nil {
			return dora.Deployment{}, Receipt{}, err
		}
	}
	del := s.apiDelivery(key, "deployment")
	del.Deployments = []dora.Deployment{d}
	r, err := s.record(ctx, del)
	if err == nil {
		r.Warning = s.ambiguousSHA(ctx, "sha", d.Service, d.Repo, d.SHA, d.At, recordAgain("record", d.ID, "at", d.At))
	}
	return d, r, err
}

// ambiguousSHA warns of a SHA given by hand that abbreviates several
// recorded commits of the record's repository (or its service's): it names
// none of them, as git refuses such an abbreviation, so the metrics place
// the record by its time alone. The record is stored all the same (a CI
// job's deployment is a fact, and refusing it would lose it); the warning
// is in the receipt, which the CLI prints. The check reads the current
// timeline and is best effort: a failure to read it warns of nothing.
func (s *Service) ambiguousSHA(ctx context.Context, field, service, repo, sha string, at time.Time, fix remedy) *Warning {
	if len(sha) >= 40 || sha == "" {
		return nil // a full SHA abbreviates nothing; the common case reads nothing
	}
	snap, err := s.timeline(ctx)
	if err != nil {
		return nil
	}
	if problem := snap.tl.AmbiguousAbbreviation(service, repo, sha, at); problem != "" {
		return &Warning{Field: field, Message: problem + "; stored all the same, " + fix.text, Again: fix.again}
	}
	return nil
}

// recordAgain says how to correct a stored record's ambiguous SHA: record
// it again under the same ID and time (the latest record of an ID wins),
// since recorded again without them it would be a second deployment or
// incident, counted twice. The CLI names the fields by their flags.
func recordAgain(verb, id, atField string, at time.Time) remedy {
	return remedy{"it is placed by its time alone: to name the commit, " + verb + " it again with more of its digits and the same",
		[]Given{{"id", id}, {atField, at.UTC().Format(time.RFC3339)}}}
}

// remedy is what a warning says to do, and the fields to give again.
type remedy struct {
	text  string
	again []Given
}

// checkDeploymentID refuses a deployment record whose given ID names a
// deployment to another environment. The records of one ID are the
// statuses of one deployment, the latest winning: such a record would move
// that deployment to its environment, and so let a token bound to staging
// take a production deployment out of production.
func (s *Service) checkDeploymentID(ctx context.Context, d dora.Deployment) error {
	recs, err := s.Store.Records(ctx, RecordFilter{Kind: RecordDeployments, ID: d.ID, Limit: MaxRecordPage})
	if err != nil {
		return err
	}
	for _, r := range recs {
		if r.Deployment != nil && r.Deployment.Environment != d.Environment {
			return &valueloop.Error{Code: valueloop.ECONFLICT, Field: "id", Message: fmt.Sprintf(
				"%q names a deployment to %q: the records of one id are the statuses of one deployment, so a deployment to %q needs an id of its own",
				valueloop.Clip(d.ID), r.Deployment.Environment, valueloop.Clip(d.Environment))}
		}
	}
	return nil
}

// ChangeInput is a change sent to the API.
type ChangeInput struct {
	Repo    string   `json:"repo,omitempty"`
	Service string   `json:"service,omitempty"`
	SHA     string   `json:"sha"`
	PR      string   `json:"pr,omitempty"`
	Branch  string   `json:"branch,omitempty"`
	Paths   []string `json:"paths,omitempty"`
	// AuthoredAt is when the work was committed (defaults to MergedAt);
	// MergedAt when it reached the default branch (defaults to now).
	AuthoredAt *time.Time `json:"authoredAt,omitempty"`
	MergedAt   *time.Time `json:"mergedAt,omitempty"`
	// OpenedAt is when its pull request was opened and ReviewedAt when it
	// was first reviewed, for the lead time breakdown; ReviewedAt needs PR
	// and Repo.
	OpenedAt   *time.Time `json:"openedAt,omitempty"`
	ReviewedAt *time.Time `json:"reviewedAt,omitempty"`
	// Flags lists the feature flags the change ships behind.
	Flags []string `json:"flags,omitempty"`
	// Message is the commit message; Labels the pull request's labels. A
	// "Feature: KEY" trailer, a label or the branch link the change to a
	// feature of the value loop.
	Message string   `json:"message,omitempty"`
	Labels  []string `json:"labels,omitempty"`
}

// checkSHA refuses what cannot be a commit: a SHA given by hand (a
// change's, a deployment's or an incident's cause, through the API, the
// CLI or a correction of a record) is 7 to 64 hexadecimal digits, an
// abbreviated or full SHA-1 or SHA-256. An empty one is left to Validate,
// which says whether it is required. Records from webhooks and imports are
// not checked here: their SHAs come from the forge or git itself (the
// webhook's signature verified), and refusing one would refuse the whole
// delivery with it.
func checkSHA(field, sha string) error {
	if sha == "" {
		return nil
	}
	if len(sha) < 7 || len(sha) > 64 || strings.Trim(sha, "0123456789abcdef") != "" {
		return valueloop.FieldErrorf(field, "want a commit SHA of 7 to 64 hexadecimal digits, not %q", valueloop.Clip(sha))
	}
	return nil
}

// RecordChange stores a change sent to the API and returns it as stored.
func (s *Service) RecordChange(ctx context.Context, in ChangeInput, key RecordKey) (dora.Change, Receipt, error) {
	c := dora.Change{Repo: in.Repo, Service: in.Service, SHA: strings.ToLower(strings.TrimSpace(in.SHA)), PR: in.PR, Branch: in.Branch, Paths: in.Paths}
	if err := checkSHA("sha", c.SHA); err != nil {
		return c, Receipt{}, err
	}
	c.MergedAt = s.at(in.MergedAt)
	c.AuthoredAt = c.MergedAt
	if in.AuthoredAt != nil && !in.AuthoredAt.IsZero() {
		c.AuthoredAt = in.AuthoredAt.UTC()
	}
	if c.AuthoredAt.After(c.MergedAt) {
		return c, Receipt{}, valueloop.FieldErrorf("authoredAt", "is after mergedAt")
	}
	if in.OpenedAt != nil && !in.OpenedAt.IsZero() {
		c.OpenedAt = in.OpenedAt.UTC()
	}
	// AuthoredAt is not after MergedAt.
	for _, t := range []struct {
		field string
		at    time.Time
	}{{"mergedAt", c.MergedAt}, {"openedAt", c.OpenedAt}} {
		if err := s.notAhead(t.field, t.at); err != nil {
			return c, Receipt{}, err
		}
	}
	d := s.apiDelivery(key, "change")
	if in.ReviewedAt != nil && !in.ReviewedAt.IsZero() {
		if c.PR == "" || c.Repo == "" {
			return c, Receipt{}, valueloop.FieldErrorf("reviewedAt", "needs the pull request (pr) and its repository (repo)")
		}
		if err := s.notAhead("reviewedAt", *in.ReviewedAt); err != nil {
			return c, Receipt{}, err
		}
		d.Reviews = []dora.Review{{Repo: c.Repo, PR: c.PR, At: in.ReviewedAt.UTC()}}
	}
	d.Changes = []dora.Change{c}
	for _, f := range in.Flags {
		d.Links = append(d.Links, FlagLink{Flag: f, Repo: c.Repo, SHA: c.SHA})
	}
	if len(in.Message) > 64<<10 {
		return c, Receipt{}, valueloop.FieldErrorf("message", "must be at most 64 KiB")
	}
	r, err := s.record(ctx, d)
	if err == nil {
		s.linked(ctx, []ChangeText{{Change: c, Message: in.Message, Labels: in.Labels}})
		// A change under an ambiguous abbreviation is merged into none of
		// the commits it abbreviates: it counts as one of its own. It names
		// the commits made by its latest time, as the timeline folds it.
		// Its own SHA's warning first, then what it makes of earlier
		// records' (record), then its pull request's.
		if w := s.ambiguousSHA(ctx, "sha", c.Service, c.Repo, c.SHA, latestTime(c.AuthoredAt, c.MergedAt),
			remedy{text: "it counts as a change of its own: edit its record with more of its digits, or delete it (delivery record list changes finds it)"}); w != nil {
			r.Warning = w
		} else if r.Warning == nil {
			r.Warning = s.forgePR(ctx, c)
		}
	}
	return c, r, err
}

// forgePR warns of a pull request given by hand for a commit a forge
// recorded as another one: the forge's wins (dora.Change.ByHand), in
// whichever order the records arrive, so this record's number is not
// used. Best effort, as ambiguousSHA.
func (s *Service) forgePR(ctx context.Context, c dora.Change) *Warning {
	if c.PR == "" {
		return nil
	}
	snap, err := s.timeline(ctx)
	if err != nil {
		return nil
	}
	pr, byHand := snap.tl.PullRequest(c.Service, c.Repo, strings.ToLower(c.SHA))
	if pr == "" || pr == c.PR || byHand {
		return nil
	}
	return &Warning{Field: "pr", Message: fmt.Sprintf("%q is not used: a forge recorded commit %s as pull request %s, and a forge's pull request wins over one given by hand; if the forge's is wrong, edit its record (delivery record list changes finds it)",
		c.PR, dora.ShortSHA(c.SHA), pr)}
}

// IncidentInput opens an incident through the API.
type IncidentInput struct {
	// ID identifies the incident; generated when empty.
	ID       string     `json:"id,omitempty"`
	Service  string     `json:"service"`
	Repo     string     `json:"repo,omitempty"`
	Title    string     `json:"title,omitempty"`
	OpenedAt *time.Time `json:"openedAt,omitempty"`
	// DeploymentID or CauseSHA name the deployment that caused it;
	// otherwise it is linked to the service's latest production deployment
	// before it opened.
	DeploymentID string `json:"deploymentId,omitempty"`
	CauseSHA     string `json:"causeSha,omitempty"`
}

// OpenIncident stores a new incident and returns it. Opening an incident
// again with the same ID replaces what it says.
func (s *Service) OpenIncident(ctx context.Context, in IncidentInput, key RecordKey) (dora.Incident, Receipt, error) {
	if strings.TrimSpace(in.Service) == "" && strings.TrimSpace(in.Repo) == "" {
		return dora.Incident{}, Receipt{}, valueloop.FieldErrorf("service", "is required")
	}
	i := dora.Incident{ID: in.ID, Service: in.Service, Repo: in.Repo, Title: in.Title, OpenedAt: s.at(in.OpenedAt),
		DeploymentID: in.DeploymentID, CauseSHA: strings.ToLower(strings.TrimSpace(in.CauseSHA))}
	if err := checkSHA("causeSha", i.CauseSHA); err != nil {
		return dora.Incident{}, Receipt{}, err
	}
	if err := s.notAhead("openedAt", i.OpenedAt); err != nil {
		return dora.Incident{}, Receipt{}, err
	}
	if i.ID == "" {
		i.ID = newID("inc-")
	}
	i.UpdatedAt = i.OpenedAt
	d := s.apiDelivery(key, "incident")
	d.Incidents = []dora.Incident{i}
	r, err := s.record(ctx, d)
	if err == nil {
		r.Warning = s.ambiguousSHA(ctx, "causeSha", i.Service, i.Repo, i.CauseSHA, i.OpenedAt, recordAgain("open", i.ID, "openedAt", i.OpenedAt))
	}
	return i, r, err
}

// ResolveIncident records that incident id was resolved at (now when nil)
// and returns it; ENOTFOUND for an unknown incident.
func (s *Service) ResolveIncident(ctx context.Context, id string, at *time.Time, key RecordKey) (dora.Incident, Receipt, error) {
	snaps, err := s.Store.IncidentSnapshots(ctx, id)
	if err != nil {
		return dora.Incident{}, Receipt{}, err
	}
	i := latestSnapshot(snaps)
	if i.Void {
		return dora.Incident{}, Receipt{}, valueloop.Errorf(valueloop.ENOTFOUND, "incident %q was withdrawn", id)
	}
	when := s.at(at)
	if err := s.notAhead("at", when); err != nil {
		return dora.Incident{}, Receipt{}, err
	}
	if when.Before(i.OpenedAt) {
		return dora.Incident{}, Receipt{}, valueloop.FieldErrorf("at", "%s is before the incident opened (%s)",
			when.Format(time.RFC3339), i.OpenedAt.Format(time.RFC3339))
	}
	i.ResolvedAt = &when
	// The resolution must be the incident's latest snapshot.
	i.UpdatedAt = latestTime(when, snapshotVersion(&i))
	d := s.apiDelivery(key, "incident")
	d.Incidents = []dora.Incident{i}
	r, err := s.record(ctx, d)
	if err == nil {
		r.Warning = s.ambiguousSHA(ctx, "causeSha", i.Service, i.Repo, i.CauseSHA, i.OpenedAt, recordAgain("open", i.ID, "openedAt", i.OpenedAt))
	}
	return i, r, err
}

// latestSnapshot picks the snapshot dora.Timeline would: the latest
// version, and of equal ones the last stored.
func latestSnapshot(snaps []dora.Incident) dora.Incident {
	best := snaps[0]
	for _, s := range snaps[1:] {
		if !snapshotVersion(&s).Before(snapshotVersion(&best)) {
			best = s
		}
	}
	return best
}

func snapshotVersion(i *dora.Incident) time.Time {
	v := latestTime(i.UpdatedAt, i.OpenedAt)
	if i.ResolvedAt != nil {
		v = latestTime(v, *i.ResolvedAt)
	}
	return v
}

func latestTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// Deliveries lists the latest deliveries (of one source when source is not
// empty), newest first.
func (s *Service) Deliveries(ctx context.Context, source string, limit int) ([]DeliveryInfo, error) {
	return s.Store.Deliveries(ctx, source, limit)
}
