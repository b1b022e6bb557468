package delivery

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/dora"
)

// Corrections: a wrong record (a change, a deployment, an incident
// snapshot or a pull request review) can be listed, edited and deleted, each edit and deletion in
// the audit trail. Records are addressed by their stored number (Record),
// since one deployment or incident ID has several records (its successive
// statuses or snapshots).

// Record kinds, as they appear in the API's paths.
const (
	RecordChanges     = "changes"
	RecordDeployments = "deployments"
	RecordIncidents   = "incidents"
	// RecordReviews are pull request reviews and merge request approvals,
	// read by the lead time breakdown.
	RecordReviews = "reviews"
)

// Record is one stored record with where it came from. Exactly one of
// Change, Deployment, Incident and Review is set, as Kind says.
type Record struct {
	// Record is the stored record's number, unique within its kind.
	Record int64  `json:"record"`
	Kind   string `json:"kind"`
	// Source and Delivery name the delivery that brought it (Source "api"
	// for the API and CLI).
	Source     string           `json:"source"`
	Delivery   string           `json:"delivery"`
	Change     *dora.Change     `json:"change,omitempty"`
	Deployment *dora.Deployment `json:"deployment,omitempty"`
	Incident   *dora.Incident   `json:"incident,omitempty"`
	Review     *dora.Review     `json:"review,omitempty"`
}

// RecordFilter selects records of one kind, newest first.
type RecordFilter struct {
	Kind    string
	Service string
	Repo    string
	// ID is a change's SHA, a deployment's or an incident's ID, a review's
	// pull request (number).
	ID string
	// Record selects one record by number; 0: any.
	Record int64
	// Before selects the records numbered below it (older ones): where
	// the page after a page ends. 0: from the newest.
	Before int64
	// Limit is how many records at most; the store reads 50 when it is 0.
	Limit int
}

// A listing of records answers a page at a time: Limit records (DefaultRecordPage
// unless given, at most MaxRecordPage).
const (
	DefaultRecordPage = 50
	MaxRecordPage     = 1000
)

// RecordPage is one page of a listing of records, newest first.
type RecordPage struct {
	Records []Record `json:"records"`
	// NextCursor, given back to Records, reads the page after this one;
	// empty on the last page. Its content is not for callers to read.
	NextCursor string `json:"nextCursor,omitempty"`
}

// CheckRecordKind refuses a kind other than changes, deployments,
// incidents and reviews.
func CheckRecordKind(kind string) error {
	switch kind {
	case RecordChanges, RecordDeployments, RecordIncidents, RecordReviews:
		return nil
	}
	return valueloop.FieldErrorf("kind", "must be changes, deployments, incidents or reviews; not %q", valueloop.Clip(kind))
}

// validate checks that r carries exactly the record its Kind says, and that
// record is valid.
func (r *Record) validate() error {
	if err := CheckRecordKind(r.Kind); err != nil {
		return err
	}
	set := 0
	for _, p := range []bool{r.Change != nil, r.Deployment != nil, r.Incident != nil, r.Review != nil} {
		if p {
			set++
		}
	}
	field := strings.TrimSuffix(r.Kind, "s")
	if set != 1 {
		return valueloop.FieldErrorf(field, "is required, and only it: the record is a %s", field)
	}
	var err error
	switch r.Kind {
	case RecordChanges:
		if r.Change == nil {
			break
		}
		// An edit is a change given by hand, its SHA checked as RecordChange
		// checks one.
		r.Change.SHA = strings.ToLower(strings.TrimSpace(r.Change.SHA))
		if err = checkSHA("sha", r.Change.SHA); err != nil {
			return valueloop.PrefixField(field+".", err)
		}
		if err = r.Change.Validate(); err == nil && !r.Change.MergedAt.IsZero() && r.Change.AuthoredAt.After(r.Change.MergedAt) {
			err = valueloop.FieldErrorf("authoredAt", "is after mergedAt")
		}
		return valueloop.PrefixField(field+".", err)
	case RecordDeployments:
		if r.Deployment == nil {
			break
		}
		// Like a change's, a deployment's and a cause's SHA given by hand
		// are checked as the API checks them.
		r.Deployment.SHA = strings.ToLower(strings.TrimSpace(r.Deployment.SHA))
		if err = checkSHA("sha", r.Deployment.SHA); err != nil {
			return valueloop.PrefixField(field+".", err)
		}
		return valueloop.PrefixField(field+".", r.Deployment.Validate())
	case RecordIncidents:
		if r.Incident == nil {
			break
		}
		r.Incident.CauseSHA = strings.ToLower(strings.TrimSpace(r.Incident.CauseSHA))
		if err = checkSHA("causeSha", r.Incident.CauseSHA); err != nil {
			return valueloop.PrefixField(field+".", err)
		}
		return valueloop.PrefixField(field+".", r.Incident.Validate())
	case RecordReviews:
		if r.Review == nil {
			break
		}
		r.Review.At = r.Review.At.UTC()
		return valueloop.PrefixField(field+".", r.Review.Validate())
	}
	return valueloop.FieldErrorf(field, "is required: the record is a %s", field)
}

// Records lists the stored records f selects, newest first: f.Limit of
// them (1 to MaxRecordPage) after cursor, the NextCursor of the page
// before ("" for the first page).
func (s *Service) Records(ctx context.Context, f RecordFilter, cursor string) (RecordPage, error) {
	if err := CheckRecordKind(f.Kind); err != nil {
		return RecordPage{}, err
	}
	if f.Limit < 1 || f.Limit > MaxRecordPage { // a Go caller's: the API's was read by its limitParam
		return RecordPage{}, valueloop.LimitError(strconv.Itoa(f.Limit), MaxRecordPage)
	}
	if f.Kind == RecordReviews && f.Service != "" {
		return RecordPage{}, valueloop.FieldErrorf("service", "a review names its repository and pull request, not a service: select reviews by repo and id")
	}
	if cursor != "" {
		// The cursor is the number of the last record of the page before:
		// record numbers only grow, so the next page starts below it
		// whatever was stored since.
		n, err := strconv.ParseInt(cursor, 10, 64)
		if err != nil || n < 1 {
			return RecordPage{}, valueloop.CursorError(cursor)
		}
		f.Before = n
	}
	want := f.Limit
	f.Limit++ // one more says whether there is a next page
	list, err := s.Store.Records(ctx, f)
	if err != nil {
		return RecordPage{}, err
	}
	var p RecordPage
	p.Records, p.NextCursor = valueloop.PageEnd(list, want, func(r *Record) string { return strconv.FormatInt(r.Record, 10) })
	return p, nil
}

// Record returns the record of kind numbered n; ENOTFOUND when there is
// none.
func (s *Service) Record(ctx context.Context, kind string, n int64) (Record, error) {
	page, err := s.Records(ctx, RecordFilter{Kind: kind, Record: n, Limit: 1}, "")
	if err != nil {
		return Record{}, err
	}
	if len(page.Records) == 0 {
		return Record{}, valueloop.Errorf(valueloop.ENOTFOUND, "no %s record %d", strings.TrimSuffix(kind, "s"), n)
	}
	return page.Records[0], nil
}

// Edited is a record as an edit stored it, and the warning of a SHA in it
// that names no commit (as Receipt.Warning).
type Edited struct {
	Record
	Warning *Warning `json:"warning,omitempty"`
}

// Edit is a correction of one record.
type Edit struct {
	Record Record
	// Force stores a rollback whose target is not an earlier production
	// deployment of its service.
	Force  bool
	Actor  string
	Reason string
}

// EditRecord replaces what record e.Record.Record says, keeping where it
// came from, and returns it as stored, with a warning when the metrics
// cannot use it as given (editWarning). A deployment marked as a rollback
// must restore an earlier production deployment unless forced. The reason
// is one line of the audit trail, checked as every reason is.
func (s *Service) EditRecord(ctx context.Context, e Edit) (Record, *Warning, error) {
	r := e.Record
	if err := valueloop.CheckReason("reason", e.Reason); err != nil {
		return Record{}, nil, err
	}
	if err := r.validate(); err != nil {
		return Record{}, nil, err
	}
	if err := s.editedNotAhead(ctx, r); err != nil {
		return Record{}, nil, err
	}
	if r.Deployment != nil && !e.Force {
		if err := s.checkRollback(ctx, *r.Deployment); err != nil {
			return Record{}, nil, valueloop.PrefixField("deployment.", err)
		}
	}
	if err := s.Store.EditRecord(ctx, &r, e.Actor, e.Reason); err != nil {
		return Record{}, nil, err
	}
	return r, s.editWarning(ctx, r), nil
}

// editWarning warns of an edited record's SHA that abbreviates several
// recorded commits, as the receipt of a record sent to the API does
// (ambiguousSHA): an edit is a SHA given by hand too. The field is named
// as in the edit ("deployment.sha"); the remedy is another edit.
func (s *Service) editWarning(ctx context.Context, r Record) *Warning {
	const placed = "it is placed by its time alone: edit it again with more of its digits"
	switch {
	case r.Deployment != nil:
		d := r.Deployment
		return s.ambiguousSHA(ctx, "deployment.sha", d.Service, d.Repo, d.SHA, d.At, remedy{text: placed})
	case r.Incident != nil:
		i := r.Incident
		return s.ambiguousSHA(ctx, "incident.causeSha", i.Service, i.Repo, i.CauseSHA, i.OpenedAt, remedy{text: placed})
	case r.Change != nil:
		c := r.Change
		return s.ambiguousSHA(ctx, "change.sha", c.Service, c.Repo, c.SHA, latestTime(c.AuthoredAt, c.MergedAt),
			remedy{text: "it counts as a change of its own: edit it again with more of its digits, or delete it"})
	}
	return nil
}

// editedNotAhead refuses an edit that sets a time ahead of the server's
// clock, as RecordDeployment, RecordChange and OpenIncident refuse one
// (notAhead): an edit is a time given by hand, and an incident moved to
// 2062 would be blamed on today's latest deployment. Only the times the
// edit changes are checked, so that correcting another field of a
// webhook's record whose forge clock ran ahead is not refused.
func (s *Service) editedNotAhead(ctx context.Context, r Record) error {
	stored, err := s.Record(ctx, r.Kind, r.Record)
	if err != nil {
		return err
	}
	was := map[string]time.Time{}
	for _, t := range stored.times() {
		was[t.field] = t.at
	}
	for _, t := range r.times() {
		if t.at.Equal(was[t.field]) {
			continue
		}
		if err := s.notAhead(t.field, t.at); err != nil {
			return err
		}
	}
	return nil
}

// recordTime is a time of a record and its field, as the API names it.
type recordTime struct {
	field string
	at    time.Time
}

// times returns the times r's record carries that are set.
func (r *Record) times() []recordTime {
	var ts []recordTime
	add := func(field string, at time.Time) {
		if !at.IsZero() {
			ts = append(ts, recordTime{strings.TrimSuffix(r.Kind, "s") + "." + field, at})
		}
	}
	switch {
	case r.Change != nil:
		add("authoredAt", r.Change.AuthoredAt)
		add("mergedAt", r.Change.MergedAt)
		add("openedAt", r.Change.OpenedAt)
	case r.Deployment != nil:
		add("at", r.Deployment.At)
	case r.Incident != nil:
		add("openedAt", r.Incident.OpenedAt)
		if r.Incident.ResolvedAt != nil {
			add("resolvedAt", *r.Incident.ResolvedAt)
		}
		add("updatedAt", r.Incident.UpdatedAt)
	case r.Review != nil:
		add("at", r.Review.At)
	}
	return ts
}

// DeleteRecord deletes the record of kind numbered n; ENOTFOUND when there
// is none. The delivery that brought it stays, so a redelivery still
// stores nothing.
func (s *Service) DeleteRecord(ctx context.Context, kind string, n int64, actor, reason string) error {
	if err := CheckRecordKind(kind); err != nil {
		return err
	}
	if err := valueloop.CheckReason("reason", reason); err != nil {
		return err // one line of the audit trail, as an edit's
	}
	return s.Store.DeleteRecord(ctx, kind, n, actor, reason)
}

// checkRollback refuses a production rollback that does not restore an
// earlier successful production deployment of its service (see
// dora.Timeline.CheckRollback). It reads a fresh timeline, however slow
// to build: a stale one lacks a target recorded just before
// (TestRollbackReadsFreshTimeline).
func (s *Service) checkRollback(ctx context.Context, d dora.Deployment) error {
	if !d.Rollback || !d.Production || d.Status == dora.StatusCanceled {
		return nil
	}
	snap, err := s.freshTimeline(ctx)
	if err != nil {
		return fmt.Errorf("check rollback: %w", err)
	}
	return snap.tl.CheckRollback(d)
}
