package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/delivery"
	"github.com/valueloop/valueloop/dora"
)

var _ delivery.Store = (*Store)(nil)

// Delivery data needs no change notification: every node's timeline cache
// (package delivery) reads DeliveryVersion, one indexed single-row read, before
// it answers, and so sees the writes of every node; sources are read from
// the store for each webhook. Record times are stored as Unix nanoseconds
// on both databases.

// bumpDeliveryVersion marks the delivery data changed, inside tx. Writers
// of delivery data do it first: on PostgreSQL it takes the row lock of
// delivery_version, so they commit one after the other in version order.
func (s *Store) bumpDeliveryVersion(ctx context.Context, tx Tx) error {
	if _, err := tx.Exec(ctx, `UPDATE delivery_version SET version = version + 1 WHERE id = 1`); err != nil {
		return fmt.Errorf("%s: delivery version: %w", s.o.D.Name, err)
	}
	return nil
}

// DeliveryVersion returns a number that grows with every change of the
// delivery records, sources or catalog.
func (s *Store) DeliveryVersion(ctx context.Context) (int64, error) {
	var v int64
	if err := s.read().QueryRow(ctx, `SELECT version FROM delivery_version WHERE id = 1`).Scan(&v); err != nil {
		return 0, fmt.Errorf("%s: delivery version: %w", s.o.D.Name, err)
	}
	return v, nil
}

// RecordDelivery stores d and its records in one transaction. It returns
// false, storing nothing, when a delivery with the same source and ID, or
// the same source and body (d.BodyDigest: a replay under another ID), is
// already stored (a redelivery), whichever node stored it: the unique
// (source, delivery_id) and (source, body_digest) decide, and a concurrent
// copy waits for the first to commit. A delivery stored as ignored is
// replaced by a redelivery that is not.
func (s *Store) RecordDelivery(ctx context.Context, d *delivery.Delivery) (bool, error) {
	var digest *string // NULL, which no other equals, for an API call
	if d.BodyDigest != "" {
		digest = &d.BodyDigest
	}
	var stored bool
	err := s.write(ctx, func(tx Tx) error {
		stored = false
		var id int64
		err := tx.QueryRow(ctx, `INSERT INTO delivery_deliveries (source, delivery_id, kind, received_at, ignored, records, body_digest)
			VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id`,
			d.Source, d.ID, d.Kind, s.o.D.Time(d.ReceivedAt), d.Ignored, d.Records(), digest).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) && d.Ignored == "" {
			// A redelivery of one that was ignored, and now is not (its
			// source was configured since: GitHub's Redeliver keeps the
			// ID), takes its place; one stored before stays. The delivery
			// it repeats is the one of its ID or of its body: one of them
			// stored (not ignored) makes it a duplicate, and of ignored
			// ones the one of its body is taken, which can then hold the
			// digest (one stored before the digests were kept has none).
			err = tx.QueryRow(ctx, `UPDATE delivery_deliveries SET kind = ?, received_at = ?, ignored = '', records = ?,
					body_digest = COALESCE(body_digest, ?)
				WHERE ignored <> '' AND id = (SELECT id FROM delivery_deliveries
					WHERE source = ? AND (delivery_id = ? OR body_digest = ?)
					ORDER BY ignored = '' DESC, COALESCE(body_digest = ?, FALSE) DESC, id LIMIT 1)
				RETURNING id`,
				d.Kind, s.o.D.Time(d.ReceivedAt), d.Records(), digest, d.Source, d.ID, digest, digest).Scan(&id)
		}
		if errors.Is(err, sql.ErrNoRows) {
			return nil // a redelivery
		} else if err != nil {
			return fmt.Errorf("%s: record delivery %s/%s: %w", s.o.D.Name, d.Source, d.ID, err)
		}
		insert := s.o.InsertRecords
		if insert == nil {
			insert = insertRecords
		}
		if err := insert(ctx, tx.Tx, id, d); err != nil {
			return fmt.Errorf("%s: record delivery %s/%s: %w", s.o.D.Name, d.Source, d.ID, err)
		}
		stored = true
		return s.bumpDeliveryVersion(ctx, tx)
	})
	return stored, err
}

// insertRecords stores the records of delivery id with one prepared
// statement per kind of record: SQLite runs in the process, a statement
// costs no round trip.
func insertRecords(ctx context.Context, tx *sql.Tx, id int64, d *delivery.Delivery) error {
	if len(d.Changes) > 0 {
		st, err := tx.PrepareContext(ctx, `INSERT INTO delivery_changes (delivery, repo, service, sha, pr, branch, paths, authored_at, merged_at, opened_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, c := range d.Changes {
			paths, err := ChangePaths(c)
			if err != nil {
				return err
			}
			if _, err := st.ExecContext(ctx, id, c.Repo, c.Service, c.SHA, c.PR, c.Branch, paths, c.AuthoredAt.UnixNano(), OptNanos(c.MergedAt), OptNanos(c.OpenedAt)); err != nil {
				return err
			}
		}
	}
	if len(d.Deployments) > 0 {
		st, err := tx.PrepareContext(ctx, `INSERT INTO delivery_deployments (delivery, deployment_id, service, repo, environment, production,
			sha, version, status, at, rollback) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, p := range d.Deployments {
			if _, err := st.ExecContext(ctx, id, p.ID, p.Service, p.Repo, p.Environment, p.Production, p.SHA, p.Version, p.Status, p.At.UnixNano(), p.Rollback); err != nil {
				return err
			}
		}
	}
	if len(d.Incidents) > 0 {
		st, err := tx.PrepareContext(ctx, `INSERT INTO delivery_incidents (delivery, incident_id, service, repo, title, opened_at, resolved_at,
			updated_at, deployment_id, cause_sha, void) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, i := range d.Incidents {
			var resolved *int64
			if i.ResolvedAt != nil {
				resolved = OptNanos(*i.ResolvedAt)
			}
			if _, err := st.ExecContext(ctx, id, i.ID, i.Service, i.Repo, i.Title, i.OpenedAt.UnixNano(), resolved, OptNanos(i.UpdatedAt),
				i.DeploymentID, i.CauseSHA, i.Void); err != nil {
				return err
			}
		}
	}
	for _, r := range d.Reviews {
		if _, err := tx.ExecContext(ctx, `INSERT INTO delivery_reviews (delivery, repo, pr, at) VALUES (?, ?, ?, ?)`, id, r.Repo, r.PR, r.At.UnixNano()); err != nil {
			return err
		}
	}
	for _, l := range d.Links {
		if _, err := tx.ExecContext(ctx, `INSERT INTO delivery_flag_changes (flag, repo, sha, delivery) VALUES (?, ?, ?, ?)
			ON CONFLICT DO NOTHING`, l.Flag, l.Repo, l.SHA, id); err != nil {
			return err
		}
	}
	return nil
}

// ChangePaths is the stored paths column of c: JSON, NULL when none.
func ChangePaths(c dora.Change) (*string, error) {
	if len(c.Paths) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(c.Paths)
	if err != nil {
		return nil, err
	}
	s := string(b)
	return &s, nil
}

// OptNanos is t as stored in a record column: Unix nanoseconds, NULL when
// zero.
func OptNanos(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	n := t.UnixNano()
	return &n
}

func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

// DeliveryData reads the catalog and every record, in the order stored,
// with the version they are at, from one consistent snapshot (one read
// transaction).
func (s *Store) DeliveryData(ctx context.Context) (dora.Data, int64, error) {
	var data dora.Data
	var version int64
	err := s.readTx(ctx, func(tx Tx) error {
		if err := tx.QueryRow(ctx, `SELECT version FROM delivery_version WHERE id = 1`).Scan(&version); err != nil {
			return fmt.Errorf("%s: delivery version: %w", s.o.D.Name, err)
		}
		var err error
		if data.Catalog, err = s.catalog(ctx, tx); err != nil {
			return err
		}
		in := interner{}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM delivery_changes`).Scan(&n); err != nil {
			return fmt.Errorf("%s: count changes: %w", s.o.D.Name, err)
		}
		if data.Changes, err = s.readChanges(ctx, tx, in, n, `SELECT c.repo, c.service, c.sha, c.pr, c.branch, c.paths, c.authored_at, c.merged_at, c.opened_at, `+byHand+`
			FROM delivery_changes c ORDER BY c.id`); err != nil {
			return err
		}
		if data.Deployments, err = s.readDeployments(ctx, tx, in); err != nil {
			return err
		}
		data.Incidents, err = s.readIncidents(ctx, tx, in, `SELECT incident_id, service, repo, title, opened_at, resolved_at, updated_at,
			deployment_id, cause_sha, void FROM delivery_incidents ORDER BY id`)
		if err != nil {
			return err
		}
		data.Reviews, err = s.readReviews(ctx, tx, in)
		return err
	})
	if err != nil {
		return dora.Data{}, 0, s.domainError(err)
	}
	return data, version, nil
}

// interner shares one copy of strings that repeat across records
// (repositories, services, environments, branches).
type interner map[string]string

func (in interner) get(b []byte) string {
	if s, ok := in[string(b)]; ok {
		return s
	}
	s := string(b)
	in[s] = s
	return s
}

// readChanges reads the changes query selects (changeRow's columns, then
// byHand); n is how many to expect.
func (s *Store) readChanges(ctx context.Context, q querier, in interner, n int, query string, args ...any) ([]dora.Change, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: read changes: %w", s.o.D.Name, err)
	}
	defer rows.Close()
	out := make([]dora.Change, 0, min(n, 1<<22))
	var row changeRow
	dest := append(row.dest(), &row.byHand)
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("%s: read changes: %w", s.o.D.Name, err)
		}
		c, err := row.change(in)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.o.D.Name, err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: read changes: %w", s.o.D.Name, err)
	}
	return out, nil
}

// byHand is the column of a change c (dora.Change.ByHand): whether its
// delivery came through the API or the CLI. Only a record naming a pull
// request needs it, so the others look up no delivery.
const byHand = `COALESCE((SELECT d.source = '` + delivery.APISource + `' FROM delivery_deliveries d WHERE d.id = c.delivery AND c.pr <> ''), false)`

// changeRow is a row of delivery_changes as scanned: repo, service, sha,
// pr, branch, paths, authored_at, merged_at, opened_at (dest), and for the
// metrics' reads byHand. Reading many rows reuses one.
type changeRow struct {
	repo, service, pr, branch []byte
	sha                       string
	paths                     sql.NullString
	authored                  int64
	merged, opened            sql.NullInt64
	byHand                    bool
}

// dest is where Scan puts the columns.
func (r *changeRow) dest() []any {
	return []any{&r.repo, &r.service, &r.sha, &r.pr, &r.branch, &r.paths, &r.authored, &r.merged, &r.opened}
}

// change is the change the row holds, its repeated strings shared
// through in.
func (r *changeRow) change(in interner) (dora.Change, error) {
	c := dora.Change{Repo: in.get(r.repo), Service: in.get(r.service), SHA: r.sha, Branch: in.get(r.branch), AuthoredAt: fromNanos(r.authored), ByHand: r.byHand}
	if len(r.pr) > 0 {
		c.PR = string(r.pr)
	}
	if r.paths.Valid {
		if err := json.Unmarshal([]byte(r.paths.String), &c.Paths); err != nil {
			return c, fmt.Errorf("paths of change %s: %w", c.SHA, err)
		}
	}
	if r.merged.Valid {
		c.MergedAt = fromNanos(r.merged.Int64)
	}
	if r.opened.Valid {
		c.OpenedAt = fromNanos(r.opened.Int64)
	}
	return c, nil
}

// incidentRow is a row of delivery_incidents as scanned: incident_id,
// service, repo, title, opened_at, resolved_at, updated_at, deployment_id,
// cause_sha, void.
type incidentRow struct {
	i                 dora.Incident
	service, repo     []byte
	opened            int64
	resolved, updated sql.NullInt64
}

// dest is where Scan puts the columns.
func (r *incidentRow) dest() []any {
	return []any{&r.i.ID, &r.service, &r.repo, &r.i.Title, &r.opened, &r.resolved, &r.updated, &r.i.DeploymentID, &r.i.CauseSHA, &r.i.Void}
}

// incident is the incident the row holds, its repeated strings shared
// through in.
func (r *incidentRow) incident(in interner) dora.Incident {
	i := r.i
	i.Service, i.Repo = in.get(r.service), in.get(r.repo)
	i.OpenedAt = fromNanos(r.opened)
	if r.resolved.Valid {
		t := fromNanos(r.resolved.Int64)
		i.ResolvedAt = &t
	}
	if r.updated.Valid {
		i.UpdatedAt = fromNanos(r.updated.Int64)
	}
	return i
}

func (s *Store) readDeployments(ctx context.Context, q querier, in interner) ([]dora.Deployment, error) {
	rows, err := q.Query(ctx, `SELECT deployment_id, service, repo, environment, production, sha, version, status, at, rollback
		FROM delivery_deployments ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("%s: read deployments: %w", s.o.D.Name, err)
	}
	defer rows.Close()
	var out []dora.Deployment
	var service, repo, env, status []byte
	var at int64
	for rows.Next() {
		var d dora.Deployment
		if err := rows.Scan(&d.ID, &service, &repo, &env, &d.Production, &d.SHA, &d.Version, &status, &at, &d.Rollback); err != nil {
			return nil, fmt.Errorf("%s: read deployments: %w", s.o.D.Name, err)
		}
		d.Service, d.Repo, d.Environment, d.Status = in.get(service), in.get(repo), in.get(env), in.get(status)
		d.At = fromNanos(at)
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: read deployments: %w", s.o.D.Name, err)
	}
	return out, nil
}

func (s *Store) readIncidents(ctx context.Context, q querier, in interner, query string, args ...any) ([]dora.Incident, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: read incidents: %w", s.o.D.Name, err)
	}
	defer rows.Close()
	var out []dora.Incident
	var row incidentRow
	dest := row.dest()
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("%s: read incidents: %w", s.o.D.Name, err)
		}
		out = append(out, row.incident(in))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: read incidents: %w", s.o.D.Name, err)
	}
	return out, nil
}

// IncidentSnapshots returns every stored snapshot of the incident id, in
// the order stored; ENOTFOUND when there is none.
func (s *Store) IncidentSnapshots(ctx context.Context, id string) ([]dora.Incident, error) {
	out, err := s.readIncidents(ctx, s.read(), interner{}, `SELECT incident_id, service, repo, title, opened_at, resolved_at, updated_at,
		deployment_id, cause_sha, void FROM delivery_incidents WHERE incident_id = ? ORDER BY id`, id)
	if err == nil && len(out) == 0 {
		return nil, valueloop.Errorf(valueloop.ENOTFOUND, "no incident %q", id)
	}
	return out, err
}

// FlagChanges returns the change records linked to flag, in the order
// stored.
func (s *Store) FlagChanges(ctx context.Context, flag string) ([]dora.Change, error) {
	return s.readChanges(ctx, s.read(), interner{}, 0, `SELECT c.repo, c.service, c.sha, c.pr, c.branch, c.paths, c.authored_at, c.merged_at, c.opened_at, `+byHand+`
		FROM delivery_flag_changes l JOIN delivery_changes c ON c.sha = l.sha AND (l.repo = '' OR lower(c.repo) = lower(l.repo))
		WHERE l.flag = ? ORDER BY c.id`, flag)
}

// Deliveries returns the latest deliveries, newest first: of one source
// when source is not empty. limit defaults to 50 and is at most 1000.
func (s *Store) Deliveries(ctx context.Context, source string, limit int) ([]delivery.DeliveryInfo, error) {
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 1000)
	var w where
	if source != "" {
		w.add("source = ?", source)
	}
	rows, err := w.newest(ctx, s.read(), `SELECT source, delivery_id, kind, received_at, ignored, records FROM delivery_deliveries`, "id", limit)
	if err != nil {
		return nil, fmt.Errorf("%s: deliveries: %w", s.o.D.Name, err)
	}
	out, err := collectList(rows, func(rows *sql.Rows) (delivery.DeliveryInfo, error) {
		var d delivery.DeliveryInfo
		err := rows.Scan(&d.Source, &d.ID, &d.Kind, timeDest{&d.ReceivedAt}, &d.Ignored, &d.Records)
		return d, err
	})
	if err != nil {
		return nil, fmt.Errorf("%s: deliveries: %w", s.o.D.Name, err)
	}
	return out, nil
}

// Sources returns the webhook sources, secrets included, by name.
func (s *Store) Sources(ctx context.Context) ([]delivery.Source, error) {
	rows, err := s.read().Query(ctx, `SELECT name, kind, secret, incident_label, release_environment, repos, created_at, updated_at, version
		FROM delivery_sources ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("%s: sources: %w", s.o.D.Name, err)
	}
	out, err := collectList(rows, func(rows *sql.Rows) (delivery.Source, error) {
		var src delivery.Source
		err := rows.Scan(&src.Name, &src.Kind, &src.Secret, &src.IncidentLabel, &src.ReleaseEnvironment, reposDest{&src.Repos},
			timeDest{&src.CreatedAt}, timeDest{&src.UpdatedAt}, &src.Version)
		return src, err
	})
	if err != nil {
		return nil, fmt.Errorf("%s: sources: %w", s.o.D.Name, err)
	}
	return out, nil
}

// sourceRepos encodes a source's repositories as the column holds them: a
// JSON array, or the empty string for none (every repository).
func sourceRepos(repos []string) string {
	if len(repos) == 0 {
		return ""
	}
	b, _ := json.Marshal(repos)
	return string(b)
}

// reposDest scans the column sourceRepos writes.
type reposDest struct{ repos *[]string }

func (d reposDest) Scan(src any) error {
	var b []byte
	switch v := src.(type) {
	case string:
		b = []byte(v)
	case []byte:
		b = v
	case nil:
	default:
		return fmt.Errorf("repos: cannot scan %T", src)
	}
	*d.repos = nil
	if len(b) == 0 {
		return nil
	}
	return json.Unmarshal(b, d.repos)
}

// sourceAudit is what the audit trail records of a source: never the
// secret.
func sourceAudit(s *delivery.Source) []byte {
	b, _ := json.Marshal(s)
	return b
}

// PutSource creates or replaces the source src.Name and sets its times and
// version. src.Version is the version the write expects (see
// delivery.Source.Version; 0: any, or none). A source made starts at the
// delivery version, which every write moves: never at a version one of
// its name had before it was deleted. A
// nil Secret keeps the stored secret (EINVALID for a new source). Changing
// the kind of a source is refused: its secret was made for the other
// forge. Writers of sources and the catalog take the version's row lock
// first, so they run one at a time.
func (s *Store) PutSource(ctx context.Context, src *delivery.Source, actor string) error {
	if err := src.Validate(); err != nil {
		return err
	}
	return s.write(ctx, func(tx Tx) error {
		if err := s.bumpDeliveryVersion(ctx, tx); err != nil {
			return err
		}
		var old delivery.Source
		err := tx.QueryRow(ctx, `SELECT name, kind, secret, incident_label, release_environment, repos, created_at, updated_at, version FROM delivery_sources WHERE name = ?`, src.Name).
			Scan(&old.Name, &old.Kind, &old.Secret, &old.IncidentLabel, &old.ReleaseEnvironment, reposDest{&old.Repos}, timeDest{&old.CreatedAt}, timeDest{&old.UpdatedAt}, &old.Version)
		exists := err == nil
		switch {
		case errors.Is(err, sql.ErrNoRows) && src.Version != 0:
			return valueloop.Errorf(valueloop.ENOTFOUND, "no webhook source named %q: deleted since it was read?", src.Name)
		case errors.Is(err, sql.ErrNoRows):
			if src.Secret == nil {
				return valueloop.FieldErrorf("secret", "is required for a new source")
			}
		case err != nil:
			return fmt.Errorf("%s: source %s: %w", s.o.D.Name, src.Name, err)
		case src.Version > 0 && old.Version != src.Version:
			return valueloop.Errorf(valueloop.ECONFLICT, "source %q is at version %d, not %d: someone changed it first (changed %s); read it again", src.Name, old.Version, src.Version, old.UpdatedAt.Format(time.RFC3339))
		case old.Kind != src.Kind:
			return valueloop.FieldErrorf("kind", "source %q is a %s source; delete it and add it again to change its kind", src.Name, old.Kind)
		}
		now := s.now()
		c := *src
		c.CreatedAt, c.UpdatedAt = now, now
		// A source made, or made again after a delete, starts at the
		// delivery data's version, just moved: above every version a
		// source of its name had before, so that a write from one read
		// before the delete is refused, not taken as this source's.
		if err := tx.QueryRow(ctx, `SELECT version FROM delivery_version WHERE id = 1`).Scan(&c.Version); err != nil {
			return fmt.Errorf("%s: delivery version: %w", s.o.D.Name, err)
		}
		if exists {
			if c.Secret == nil {
				c.Secret = old.Secret
			}
			c.CreatedAt, c.Version = old.CreatedAt, old.Version+1
		}
		_, err = tx.Exec(ctx, `INSERT INTO delivery_sources (name, kind, secret, incident_label, release_environment, repos, created_at, updated_at, version)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET secret = excluded.secret, incident_label = excluded.incident_label,
			release_environment = excluded.release_environment, repos = excluded.repos, updated_at = excluded.updated_at, version = excluded.version`,
			c.Name, c.Kind, c.Secret, c.IncidentLabel, c.ReleaseEnvironment, sourceRepos(c.Repos), s.o.D.Time(c.CreatedAt), s.o.D.Time(c.UpdatedAt), c.Version)
		if err != nil {
			return fmt.Errorf("%s: put source %s: %w", s.o.D.Name, src.Name, err)
		}
		var before []byte
		if exists {
			before = sourceAudit(&old)
		}
		reason := ""
		if src.Secret != nil && exists {
			reason = "secret replaced"
		}
		if err := s.audit(ctx, tx, actor, "", "delivery.source.put", src.Name, before, sourceAudit(&c), reason); err != nil {
			return err
		}
		*src = c
		return nil
	})
}

// DeleteSource deletes a webhook source; ENOTFOUND when there is none. The
// records it delivered stay.
func (s *Store) DeleteSource(ctx context.Context, name, actor string) error {
	return s.write(ctx, func(tx Tx) error {
		if err := s.bumpDeliveryVersion(ctx, tx); err != nil {
			return err
		}
		var src delivery.Source
		err := tx.QueryRow(ctx, `DELETE FROM delivery_sources WHERE name = ? RETURNING name, kind, incident_label, release_environment, repos, created_at, updated_at`, name).
			Scan(&src.Name, &src.Kind, &src.IncidentLabel, &src.ReleaseEnvironment, reposDest{&src.Repos}, timeDest{&src.CreatedAt}, timeDest{&src.UpdatedAt})
		if errors.Is(err, sql.ErrNoRows) {
			return valueloop.Errorf(valueloop.ENOTFOUND, "no webhook source named %q", name)
		} else if err != nil {
			return fmt.Errorf("%s: delete source %s: %w", s.o.D.Name, name, err)
		}
		return s.audit(ctx, tx, actor, "", "delivery.source.delete", name, sourceAudit(&src), nil, "")
	})
}

// Catalog returns the service catalog, services by name.
func (s *Store) Catalog(ctx context.Context) (dora.Catalog, error) {
	return s.catalog(ctx, s.read())
}

func (s *Store) catalog(ctx context.Context, q querier) (dora.Catalog, error) {
	rows, err := q.Query(ctx, `SELECT name, team, sources FROM delivery_services ORDER BY name`)
	if err != nil {
		return dora.Catalog{}, fmt.Errorf("%s: catalog: %w", s.o.D.Name, err)
	}
	defer rows.Close()
	c := dora.Catalog{Services: []dora.Service{}}
	for rows.Next() {
		var svc dora.Service
		var sources string
		if err := rows.Scan(&svc.Name, &svc.Team, &sources); err != nil {
			return c, fmt.Errorf("%s: catalog: %w", s.o.D.Name, err)
		}
		if err := json.Unmarshal([]byte(sources), &svc.Sources); err != nil {
			return c, fmt.Errorf("%s: sources of service %s: %w", s.o.D.Name, svc.Name, err)
		}
		c.Services = append(c.Services, svc)
	}
	if err := rows.Err(); err != nil {
		return c, fmt.Errorf("%s: catalog: %w", s.o.D.Name, err)
	}
	return c, nil
}

// PutService creates or replaces a service of the catalog. The whole
// catalog must stay valid (a repository path belongs to one service):
// otherwise nothing changes and the error lists the problems. The catalog
// is read and checked under the version's row lock, so two nodes cannot
// each add half of a conflict.
func (s *Store) PutService(ctx context.Context, svc dora.Service, actor string) error {
	return s.write(ctx, func(tx Tx) error {
		if err := s.bumpDeliveryVersion(ctx, tx); err != nil {
			return err
		}
		c, err := s.catalog(ctx, tx)
		if err != nil {
			return err
		}
		var before []byte
		replaced := false
		for i := range c.Services {
			if c.Services[i].Name == svc.Name {
				before, _ = json.Marshal(c.Services[i])
				c.Services[i], replaced = svc, true
			}
		}
		if !replaced {
			c.Services = append(c.Services, svc)
		}
		if err := c.Validate(); err != nil {
			return err
		}
		sources := svc.Sources
		if sources == nil {
			sources = []dora.Source{}
		}
		src, err := json.Marshal(sources)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO delivery_services (name, team, sources, updated_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET team = excluded.team, sources = excluded.sources, updated_at = excluded.updated_at`,
			svc.Name, svc.Team, string(src), s.o.D.Time(s.now()))
		if err != nil {
			return fmt.Errorf("%s: put service %s: %w", s.o.D.Name, svc.Name, err)
		}
		after, _ := json.Marshal(svc)
		return s.audit(ctx, tx, actor, "", "delivery.service.put", svc.Name, before, after, "")
	})
}

// DeleteService removes a service from the catalog; ENOTFOUND when it is
// not there. Its records stay: a repository no service claims becomes a
// service of its own.
func (s *Store) DeleteService(ctx context.Context, name, actor string) error {
	return s.write(ctx, func(tx Tx) error {
		if err := s.bumpDeliveryVersion(ctx, tx); err != nil {
			return err
		}
		svc := dora.Service{Name: name}
		var sources string
		err := tx.QueryRow(ctx, `DELETE FROM delivery_services WHERE name = ? RETURNING team, sources`, name).Scan(&svc.Team, &sources)
		if errors.Is(err, sql.ErrNoRows) {
			return valueloop.Errorf(valueloop.ENOTFOUND, "no service named %q in the catalog", name)
		} else if err != nil {
			return fmt.Errorf("%s: delete service %s: %w", s.o.D.Name, name, err)
		}
		if err := json.Unmarshal([]byte(sources), &svc.Sources); err != nil {
			return fmt.Errorf("%s: sources of service %s: %w", s.o.D.Name, name, err)
		}
		before, _ := json.Marshal(svc)
		return s.audit(ctx, tx, actor, "", "delivery.service.delete", name, before, nil, "")
	})
}

// readReviews reads every pull request review and merge request approval.
func (s *Store) readReviews(ctx context.Context, q querier, in interner) ([]dora.Review, error) {
	rows, err := q.Query(ctx, `SELECT repo, pr, at FROM delivery_reviews ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("%s: read reviews: %w", s.o.D.Name, err)
	}
	defer rows.Close()
	var out []dora.Review
	var repo []byte
	var at int64
	for rows.Next() {
		var r dora.Review
		if err := rows.Scan(&repo, &r.PR, &at); err != nil {
			return nil, fmt.Errorf("%s: read reviews: %w", s.o.D.Name, err)
		}
		r.Repo, r.At = in.get(repo), fromNanos(at)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: read reviews: %w", s.o.D.Name, err)
	}
	return out, nil
}
