package delivery

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/dora"
)

// Report is a dora.Report with what it was computed from.
type Report struct {
	dora.Report
	// AsOf is when the records were read; a report on large data may be
	// up to MaxStale behind the latest writes.
	AsOf time.Time `json:"asOf"`
	// Skipped counts stored records the metrics could not use.
	Skipped int `json:"skippedRecords"`
}

// Report computes the DORA metrics of q.
func (s *Service) Report(ctx context.Context, q dora.Query) (*Report, error) {
	snap, err := s.timeline(ctx)
	if err != nil {
		return nil, err
	}
	if q.Location == nil {
		q.Location = s.Zone()
	}
	r, err := snap.tl.Report(q)
	if valueloop.ErrorCode(err) == valueloop.ENOTFOUND {
		// A stale timeline may lag, not deny: a service or team recorded
		// since is looked for in a fresh one (TestNewServiceFoundWhileStale).
		if snap, err = s.freshTimeline(ctx); err == nil {
			r, err = snap.tl.Report(q)
		}
	}
	if err != nil {
		return nil, err
	}
	return &Report{Report: r, AsOf: snap.builtAt.UTC(), Skipped: snap.tl.Skipped}, nil
}

// Zone is the zone of reports that name none: TimeZone, else UTC.
func (s *Service) Zone() *time.Location {
	if s.TimeZone == nil {
		return time.UTC
	}
	return s.TimeZone
}

// ParseZone reads a time zone's IANA name (Pacific/Auckland, UTC). "Local"
// is refused: it would be whatever zone the server's machine is set to,
// not one a team can name. The zone database is embedded (tzdata.go), so
// this works on a machine without one.
func ParseZone(field, name string) (*time.Location, error) {
	if name == "" || name == "Local" {
		return nil, valueloop.FieldErrorf(field, "want an IANA time zone name such as Europe/Berlin, America/Los_Angeles or UTC, not %q", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, valueloop.FieldErrorf(field, "unknown time zone %q: want an IANA name such as Europe/Berlin, America/Los_Angeles or UTC", valueloop.Clip(name))
	}
	return loc, nil
}

// ParseRange reads a report's range: since ("30d", "12w", "36h", "90m" or
// a Go duration) back from to (days and weeks as calendar days, UTC's here,
// the zone's in ParseRangeIn), or from and to (RFC 3339 with any offset, or
// a date, midnight UTC). to defaults to now and the range to the last 30
// days.
func ParseRange(since, from, to string, now time.Time) (time.Time, time.Time, error) {
	return ParseRangeIn(since, from, to, now, time.UTC)
}

// ParseRangeIn is ParseRange with dates read as midnight in loc: a team
// in Auckland asking from 2026-03-02 means its own Monday's midnight.
func ParseRangeIn(since, from, to string, now time.Time, loc *time.Location) (time.Time, time.Time, error) {
	end := now.UTC()
	if to != "" {
		t, err := parseTimeIn("to", to, loc)
		if err != nil {
			return time.Time{}, time.Time{}, err
		}
		end = t
	}
	switch {
	case since != "" && from != "":
		return time.Time{}, time.Time{}, valueloop.FieldErrorf("since", "give since or from, not both")
	case from != "":
		t, err := parseTimeIn("from", from, loc)
		return t, end, err
	case since == "":
		since = "30d"
	}
	d, err := ParseSince(since)
	if err != nil {
		return time.Time{}, time.Time{}, err
	}
	if days, ok := sinceDays(since); ok {
		return daysBack(end, days, loc), end, nil
	}
	return end.Add(-d), end, nil
}

// sinceDays is the number of calendar days a since in days or weeks
// ("30d", "12w") names; ok false for one in hours, minutes or a Go duration,
// which stays that many hours.
func sinceDays(since string) (int, bool) {
	n, err := strconv.Atoi(since[:len(since)-1])
	switch {
	case err != nil:
		return 0, false
	case strings.HasSuffix(since, "d"):
		return n, true
	case strings.HasSuffix(since, "w"):
		return 7 * n, true
	}
	return 0, false
}

// daysBack is end's clock time days calendar days before, in loc: 30d is a
// month of loc's days, not 720 hours, which across a change of daylight
// saving time started an hour off loc's midnight and made a report's first
// daily bucket a one-hour sliver. An end at loc's start of a day goes back
// to the start of that day (dora.DayStart: a midnight a zone skips).
func daysBack(end time.Time, days int, loc *time.Location) time.Time {
	t := end.In(loc)
	y, m, d := t.Date()
	if t.Equal(dora.DayStart(y, m, d, loc)) {
		return dora.DayStart(y, m, d-days, loc).UTC()
	}
	return t.AddDate(0, 0, -days).UTC()
}

// ParseSince reads a look-back duration: "30d", "12w", "36h", "90m" or a Go
// duration ("1h30m"), positive and at most 100 years.
func ParseSince(v string) (time.Duration, error) {
	bad := valueloop.FieldErrorf("since", "want a duration such as 30d, 12w, 36h or 90m, not %q", valueloop.Clip(v))
	tooLong := valueloop.FieldErrorf("since", "must be at most %dd (100 years), not %q", maxSinceDays, valueloop.Clip(v))
	var d time.Duration
	if n, unit := strings.TrimRight(v, "dw"), strings.TrimLeft(v, "0123456789"); n != v && (unit == "d" || unit == "w") {
		k, err := strconv.Atoi(n)
		switch {
		case errors.Is(err, strconv.ErrRange) || err == nil && k > maxSinceDays:
			return 0, tooLong
		case err != nil:
			return 0, bad
		}
		d = time.Duration(k) * 24 * time.Hour
		if unit == "w" {
			d *= 7
		}
	} else {
		var err error
		if d, err = time.ParseDuration(v); err != nil {
			return 0, bad
		}
	}
	switch {
	case d <= 0:
		return 0, valueloop.FieldErrorf("since", "must be longer than nothing, not %q", valueloop.Clip(v))
	case d > maxSinceDays*24*time.Hour:
		return 0, tooLong
	}
	return d, nil
}

// maxSinceDays bounds a span: a hundred years, beyond any history kept.
const maxSinceDays = 36600

// ParseTime reads a time given by people: RFC 3339 (its offset honoured),
// or a date (midnight UTC). The result is in UTC.
func ParseTime(field, v string) (time.Time, error) {
	return parseTimeIn(field, v, time.UTC)
}

// parseTimeIn is ParseTime with a date read as midnight in loc.
func parseTimeIn(field, v string, loc *time.Location) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse("2006-01-02T15:04Z07:00", v); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return dora.DayStart(t.Year(), t.Month(), t.Day(), loc).UTC(), nil
	}
	return time.Time{}, valueloop.FieldErrorf(field, "want a time such as 2026-03-01T14:30:00+01:00 or a date such as 2026-03-01, not %q", valueloop.Clip(v))
}

// Deployments returns the production deployments of a service made in
// [from, to), each with the changes it delivered first, as the timeline
// concluded; ENOTFOUND for a service neither the records nor the catalog
// know. A stale timeline (SlowBuild) may lag, not deny: a service it does
// not know is looked for in a fresh one before it is said to be none.
func (s *Service) Deployments(ctx context.Context, service string, from, to time.Time) ([]dora.DeploymentFacts, error) {
	known := func(snap *snapshot) bool {
		return slices.Contains(snap.tl.Services(), service) || catalogued(snap.data.Catalog, service)
	}
	snap, err := s.timeline(ctx)
	if err == nil && !known(snap) {
		snap, err = s.freshTimeline(ctx)
	}
	if err != nil {
		return nil, err
	}
	if !known(snap) {
		return nil, &valueloop.Error{Code: valueloop.ENOTFOUND, Field: "service", Message: "no service named " + service}
	}
	out := []dora.DeploymentFacts{}
	for _, d := range snap.tl.Deployments(service) {
		if !d.At.Before(from) && d.At.Before(to) {
			out = append(out, d)
		}
	}
	return out, nil
}

func catalogued(c dora.Catalog, service string) bool {
	return slices.ContainsFunc(c.Services, func(s dora.Service) bool { return s.Name == service })
}

// Services returns the catalog together with the services that have
// records but no entry in it (a repository no service claims).
func (s *Service) Services(ctx context.Context) (dora.Catalog, []string, error) {
	snap, err := s.timeline(ctx)
	if err != nil {
		return dora.Catalog{}, nil, err
	}
	var uncatalogued []string
	for _, name := range snap.tl.Services() {
		if !catalogued(snap.data.Catalog, name) {
			uncatalogued = append(uncatalogued, name)
		}
	}
	c := snap.data.Catalog
	if c.Services == nil {
		c.Services = []dora.Service{}
	}
	return c, uncatalogued, nil
}

// PutService creates or replaces a service of the catalog.
func (s *Service) PutService(ctx context.Context, svc dora.Service, actor string) error {
	if !namePattern.MatchString(svc.Name) {
		return valueloop.FieldErrorf("name", "must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit; not %q", valueloop.Clip(svc.Name))
	}
	if len(svc.Team) > 200 {
		return valueloop.FieldErrorf("team", "must be at most 200 characters long")
	}
	// Each repository is checked here, before the store, so that the
	// refusal names the source at fault as the request holds it.
	for i, src := range svc.Sources {
		if err := dora.CheckRepo(fmt.Sprintf("sources[%d].repo", i), src.Repo, false); err != nil {
			return err
		}
	}
	return s.Store.PutService(ctx, svc, actor)
}

// DeleteService removes a service from the catalog.
func (s *Service) DeleteService(ctx context.Context, name, actor string) error {
	return s.Store.DeleteService(ctx, name, actor)
}

// Sources lists the webhook sources; their secrets are never returned.
func (s *Service) Sources(ctx context.Context) ([]Source, error) {
	list, err := s.Store.Sources(ctx)
	for i := range list {
		list[i].Secret = nil
	}
	return list, err
}

// PutSource creates or replaces a webhook source. A new source without a
// secret gets a generated one, returned this once; an existing source
// without one keeps its secret. src.Version, when set, is the version the
// write was made from (Source.Version). The returned source has no secret
// and its new version.
func (s *Service) PutSource(ctx context.Context, src Source, actor string) (Source, string, error) {
	generated := ""
	if src.Secret == nil {
		list, err := s.Store.Sources(ctx)
		if err != nil {
			return Source{}, "", err
		}
		if !slices.ContainsFunc(list, func(o Source) bool { return o.Name == src.Name }) {
			var b [24]byte
			rand.Read(b[:])
			generated = hex.EncodeToString(b[:])
			src.Secret = []byte(generated)
		}
	}
	if err := s.Store.PutSource(ctx, &src, actor); err != nil {
		return Source{}, "", err
	}
	src.Secret = nil
	return src, generated, nil
}

// DeleteSource deletes a webhook source; what it delivered stays.
func (s *Service) DeleteSource(ctx context.Context, name, actor string) error {
	return s.Store.DeleteSource(ctx, name, actor)
}
