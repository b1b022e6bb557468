package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/delivery"
	"github.com/valueloop/valueloop/deliverysvc"
)

var _ deliverysvc.Store = (*DB)(nil)

// bumpDeliveryVersion marks the delivery data changed, inside tx.
func bumpDeliveryVersion(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, `UPDATE delivery_version SET version = version + 1 WHERE id = 1`)
	return err
}

// DeliveryVersion returns a number that grows with every change of the
// delivery records, sources or catalog.
func (db *DB) DeliveryVersion(ctx context.Context) (int64, error) {
	var v int64
	err := db.db.QueryRowContext(ctx, `SELECT version FROM delivery_version WHERE id = 1`).Scan(&v)
	return v, err
}

// RecordDelivery stores d and its records in one transaction. It returns
// false, storing nothing, when a delivery with the same source and ID is
// already stored (a redelivery).
func (db *DB) RecordDelivery(ctx context.Context, d *deliverysvc.Delivery) (bool, error) {
	stored := false
	err := db.write(ctx, func(tx *sql.Tx) error {
		var id int64
		err := tx.QueryRowContext(ctx, `INSERT INTO delivery_deliveries (source, delivery_id, kind, received_at, ignored, records)
			VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (source, delivery_id) DO NOTHING RETURNING id`,
			d.Source, d.ID, d.Kind, formatTime(d.ReceivedAt), d.Ignored, d.Records()).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return nil // a redelivery
		} else if err != nil {
			return fmt.Errorf("sqlite: record delivery: %w", err)
		}
		if err := insertRecords(ctx, tx, id, d); err != nil {
			return fmt.Errorf("sqlite: record delivery %s/%s: %w", d.Source, d.ID, err)
		}
		stored = true
		return bumpDeliveryVersion(ctx, tx)
	})
	return stored, err
}

func insertRecords(ctx context.Context, tx *sql.Tx, id int64, d *deliverysvc.Delivery) error {
	if len(d.Changes) > 0 {
		st, err := tx.PrepareContext(ctx, `INSERT INTO delivery_changes (delivery, repo, service, sha, pr, branch, paths, authored_at, merged_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, c := range d.Changes {
			var paths any
			if len(c.Paths) > 0 {
				b, err := json.Marshal(c.Paths)
				if err != nil {
					return err
				}
				paths = string(b)
			}
			if _, err := st.ExecContext(ctx, id, c.Repo, c.Service, c.SHA, c.PR, c.Branch, paths, nanos(c.AuthoredAt), optNanos(c.MergedAt)); err != nil {
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
			if _, err := st.ExecContext(ctx, id, p.ID, p.Service, p.Repo, p.Environment, p.Production, p.SHA, p.Version, p.Status, nanos(p.At), p.Rollback); err != nil {
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
			var resolved any
			if i.ResolvedAt != nil {
				resolved = nanos(*i.ResolvedAt)
			}
			if _, err := st.ExecContext(ctx, id, i.ID, i.Service, i.Repo, i.Title, nanos(i.OpenedAt), resolved, optNanos(i.UpdatedAt),
				i.DeploymentID, i.CauseSHA, i.Void); err != nil {
				return err
			}
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

func nanos(t time.Time) int64 { return t.UnixNano() }

func optNanos(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

// DeliveryData reads the catalog and every record, in the order stored,
// with the version they are at, from one consistent snapshot.
func (db *DB) DeliveryData(ctx context.Context) (delivery.Data, int64, error) {
	var data delivery.Data
	var version int64
	tx, err := db.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return data, 0, fmt.Errorf("sqlite: begin: %w", err)
	}
	defer tx.Rollback()
	if err := tx.QueryRowContext(ctx, `SELECT version FROM delivery_version WHERE id = 1`).Scan(&version); err != nil {
		return data, 0, fmt.Errorf("sqlite: delivery version: %w", err)
	}
	if data.Catalog, err = catalog(ctx, tx); err != nil {
		return data, 0, err
	}
	in := interner{}
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM delivery_changes`).Scan(&n); err != nil {
		return data, 0, fmt.Errorf("sqlite: count changes: %w", err)
	}
	if data.Changes, err = readChanges(ctx, tx, in, n, `SELECT repo, service, sha, pr, branch, paths, authored_at, merged_at
		FROM delivery_changes ORDER BY id`); err != nil {
		return data, 0, err
	}
	if data.Deployments, err = readDeployments(ctx, tx, in); err != nil {
		return data, 0, err
	}
	if data.Incidents, err = readIncidents(ctx, tx, in, `SELECT incident_id, service, repo, title, opened_at, resolved_at, updated_at,
		deployment_id, cause_sha, void FROM delivery_incidents ORDER BY id`); err != nil {
		return data, 0, err
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

// readChanges reads the changes query selects; n is how many to expect.
func readChanges(ctx context.Context, tx queryer, in interner, n int, query string, args ...any) ([]delivery.Change, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: read changes: %w", err)
	}
	defer rows.Close()
	out := make([]delivery.Change, 0, min(n, 1<<22))
	var repo, service, branch, pr []byte
	var paths sql.NullString
	var authored int64
	var merged sql.NullInt64
	for rows.Next() {
		var c delivery.Change
		if err := rows.Scan(&repo, &service, &c.SHA, &pr, &branch, &paths, &authored, &merged); err != nil {
			return nil, fmt.Errorf("sqlite: read changes: %w", err)
		}
		c.Repo, c.Service, c.Branch = in.get(repo), in.get(service), in.get(branch)
		if len(pr) > 0 {
			c.PR = string(pr)
		}
		if paths.Valid {
			if err := json.Unmarshal([]byte(paths.String), &c.Paths); err != nil {
				return nil, fmt.Errorf("sqlite: paths of change %s: %w", c.SHA, err)
			}
		}
		c.AuthoredAt = fromNanos(authored)
		if merged.Valid {
			c.MergedAt = fromNanos(merged.Int64)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func readDeployments(ctx context.Context, tx queryer, in interner) ([]delivery.Deployment, error) {
	rows, err := tx.QueryContext(ctx, `SELECT deployment_id, service, repo, environment, production, sha, version, status, at, rollback
		FROM delivery_deployments ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: read deployments: %w", err)
	}
	defer rows.Close()
	var out []delivery.Deployment
	var service, repo, env, status []byte
	var at int64
	for rows.Next() {
		var d delivery.Deployment
		if err := rows.Scan(&d.ID, &service, &repo, &env, &d.Production, &d.SHA, &d.Version, &status, &at, &d.Rollback); err != nil {
			return nil, fmt.Errorf("sqlite: read deployments: %w", err)
		}
		d.Service, d.Repo, d.Environment, d.Status = in.get(service), in.get(repo), in.get(env), in.get(status)
		d.At = fromNanos(at)
		out = append(out, d)
	}
	return out, rows.Err()
}

func readIncidents(ctx context.Context, tx queryer, in interner, query string, args ...any) ([]delivery.Incident, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: read incidents: %w", err)
	}
	defer rows.Close()
	var out []delivery.Incident
	var service, repo []byte
	var opened int64
	var resolved, updated sql.NullInt64
	for rows.Next() {
		var i delivery.Incident
		if err := rows.Scan(&i.ID, &service, &repo, &i.Title, &opened, &resolved, &updated, &i.DeploymentID, &i.CauseSHA, &i.Void); err != nil {
			return nil, fmt.Errorf("sqlite: read incidents: %w", err)
		}
		i.Service, i.Repo = in.get(service), in.get(repo)
		i.OpenedAt = fromNanos(opened)
		if resolved.Valid {
			t := fromNanos(resolved.Int64)
			i.ResolvedAt = &t
		}
		if updated.Valid {
			i.UpdatedAt = fromNanos(updated.Int64)
		}
		out = append(out, i)
	}
	return out, rows.Err()
}

// IncidentSnapshots returns every stored snapshot of the incident id, in
// the order stored; ENOTFOUND when there is none.
func (db *DB) IncidentSnapshots(ctx context.Context, id string) ([]delivery.Incident, error) {
	out, err := readIncidents(ctx, db.db, interner{}, `SELECT incident_id, service, repo, title, opened_at, resolved_at, updated_at,
		deployment_id, cause_sha, void FROM delivery_incidents WHERE incident_id = ? ORDER BY id`, id)
	if err == nil && len(out) == 0 {
		return nil, valueloop.Errorf(valueloop.ENOTFOUND, "no incident %q", id)
	}
	return out, err
}

// FlagChanges returns the change records linked to flag, in the order
// stored.
func (db *DB) FlagChanges(ctx context.Context, flag string) ([]delivery.Change, error) {
	return readChanges(ctx, db.db, interner{}, 0, `SELECT c.repo, c.service, c.sha, c.pr, c.branch, c.paths, c.authored_at, c.merged_at
		FROM delivery_flag_changes l JOIN delivery_changes c ON c.sha = l.sha AND (l.repo = '' OR lower(c.repo) = lower(l.repo))
		WHERE l.flag = ? ORDER BY c.id`, flag)
}

// Deliveries returns the latest deliveries, newest first: of one source
// when source is not empty. limit defaults to 50 and is at most 1000.
func (db *DB) Deliveries(ctx context.Context, source string, limit int) ([]deliverysvc.DeliveryInfo, error) {
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 1000)
	q := `SELECT source, delivery_id, kind, received_at, ignored, records FROM delivery_deliveries`
	args := []any{}
	if source != "" {
		q += ` WHERE source = ?`
		args = append(args, source)
	}
	q += ` ORDER BY id DESC LIMIT ?`
	rows, err := db.db.QueryContext(ctx, q, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: deliveries: %w", err)
	}
	defer rows.Close()
	out := []deliverysvc.DeliveryInfo{}
	for rows.Next() {
		var d deliverysvc.DeliveryInfo
		var at string
		if err := rows.Scan(&d.Source, &d.ID, &d.Kind, &at, &d.Ignored, &d.Records); err != nil {
			return nil, err
		}
		if d.ReceivedAt, err = parseTime(at); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// Sources returns the webhook sources, secrets included, by name.
func (db *DB) Sources(ctx context.Context) ([]deliverysvc.Source, error) {
	rows, err := db.db.QueryContext(ctx, `SELECT name, kind, secret, incident_label, release_environment, created_at, updated_at
		FROM delivery_sources ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: sources: %w", err)
	}
	defer rows.Close()
	out := []deliverysvc.Source{}
	for rows.Next() {
		var s deliverysvc.Source
		var created, updated string
		if err := rows.Scan(&s.Name, &s.Kind, &s.Secret, &s.IncidentLabel, &s.ReleaseEnvironment, &created, &updated); err != nil {
			return nil, err
		}
		if s.CreatedAt, err = parseTime(created); err != nil {
			return nil, err
		}
		if s.UpdatedAt, err = parseTime(updated); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// sourceAudit is what the audit trail records of a source: never the
// secret.
func sourceAudit(s *deliverysvc.Source) []byte {
	b, _ := json.Marshal(s)
	return b
}

// PutSource creates or replaces the source s.Name and sets its times. A nil
// Secret keeps the stored secret (EINVALID for a new source). Changing the
// kind of a source is refused: its secret was made for the other forge.
func (db *DB) PutSource(ctx context.Context, s *deliverysvc.Source, actor string) error {
	if err := s.Validate(); err != nil {
		return err
	}
	return db.write(ctx, func(tx *sql.Tx) error {
		var old deliverysvc.Source
		var created string
		err := tx.QueryRowContext(ctx, `SELECT name, kind, secret, incident_label, release_environment, created_at FROM delivery_sources WHERE name = ?`, s.Name).
			Scan(&old.Name, &old.Kind, &old.Secret, &old.IncidentLabel, &old.ReleaseEnvironment, &created)
		exists := err == nil
		switch {
		case errors.Is(err, sql.ErrNoRows):
			if s.Secret == nil {
				return valueloop.FieldErrorf("secret", "is required for a new source")
			}
		case err != nil:
			return err
		case old.Kind != s.Kind:
			return valueloop.FieldErrorf("kind", "source %q is a %s source; delete it and add it again to change its kind", s.Name, old.Kind)
		}
		now := db.Now().UTC()
		c := *s
		c.CreatedAt, c.UpdatedAt = now, now
		if exists {
			if c.Secret == nil {
				c.Secret = old.Secret
			}
			if c.CreatedAt, err = parseTime(created); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO delivery_sources (name, kind, secret, incident_label, release_environment, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET secret = excluded.secret, incident_label = excluded.incident_label,
			release_environment = excluded.release_environment, updated_at = excluded.updated_at`,
			c.Name, c.Kind, c.Secret, c.IncidentLabel, c.ReleaseEnvironment, formatTime(c.CreatedAt), formatTime(c.UpdatedAt))
		if err != nil {
			return fmt.Errorf("sqlite: put source %s: %w", s.Name, err)
		}
		var before []byte
		if exists {
			before = sourceAudit(&old)
		}
		reason := ""
		if s.Secret != nil && exists {
			reason = "secret replaced"
		}
		if err := db.audit(ctx, tx, actor, "", "delivery.source.put", s.Name, before, sourceAudit(&c), reason); err != nil {
			return err
		}
		*s = c
		return bumpDeliveryVersion(ctx, tx)
	})
}

// DeleteSource deletes a webhook source; ENOTFOUND when there is none. The
// records it delivered stay.
func (db *DB) DeleteSource(ctx context.Context, name, actor string) error {
	return db.write(ctx, func(tx *sql.Tx) error {
		var s deliverysvc.Source
		err := tx.QueryRowContext(ctx, `DELETE FROM delivery_sources WHERE name = ? RETURNING name, kind, incident_label, release_environment`, name).
			Scan(&s.Name, &s.Kind, &s.IncidentLabel, &s.ReleaseEnvironment)
		if errors.Is(err, sql.ErrNoRows) {
			return valueloop.Errorf(valueloop.ENOTFOUND, "no webhook source named %q", name)
		} else if err != nil {
			return err
		}
		if err := db.audit(ctx, tx, actor, "", "delivery.source.delete", name, sourceAudit(&s), nil, ""); err != nil {
			return err
		}
		return bumpDeliveryVersion(ctx, tx)
	})
}

// Catalog returns the service catalog, services by name.
func (db *DB) Catalog(ctx context.Context) (delivery.Catalog, error) {
	return catalog(ctx, db.db)
}

func catalog(ctx context.Context, q queryer) (delivery.Catalog, error) {
	rows, err := q.QueryContext(ctx, `SELECT name, team, sources FROM delivery_services ORDER BY name`)
	if err != nil {
		return delivery.Catalog{}, fmt.Errorf("sqlite: catalog: %w", err)
	}
	defer rows.Close()
	c := delivery.Catalog{Services: []delivery.Service{}}
	for rows.Next() {
		var s delivery.Service
		var sources string
		if err := rows.Scan(&s.Name, &s.Team, &sources); err != nil {
			return c, err
		}
		if err := json.Unmarshal([]byte(sources), &s.Sources); err != nil {
			return c, fmt.Errorf("sqlite: sources of service %s: %w", s.Name, err)
		}
		c.Services = append(c.Services, s)
	}
	return c, rows.Err()
}

// PutService creates or replaces a service of the catalog. The whole
// catalog must stay valid (a repository path belongs to one service):
// otherwise nothing changes and the error lists the problems.
func (db *DB) PutService(ctx context.Context, s delivery.Service, actor string) error {
	return db.write(ctx, func(tx *sql.Tx) error {
		c, err := catalog(ctx, tx)
		if err != nil {
			return err
		}
		var before []byte
		replaced := false
		for i := range c.Services {
			if c.Services[i].Name == s.Name {
				before, _ = json.Marshal(c.Services[i])
				c.Services[i], replaced = s, true
			}
		}
		if !replaced {
			c.Services = append(c.Services, s)
		}
		if err := c.Validate(); err != nil {
			return err
		}
		sources, err := json.Marshal(nonNilSources(s.Sources))
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO delivery_services (name, team, sources, updated_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET team = excluded.team, sources = excluded.sources, updated_at = excluded.updated_at`,
			s.Name, s.Team, string(sources), db.now())
		if err != nil {
			return fmt.Errorf("sqlite: put service %s: %w", s.Name, err)
		}
		after, _ := json.Marshal(s)
		if err := db.audit(ctx, tx, actor, "", "delivery.service.put", s.Name, before, after, ""); err != nil {
			return err
		}
		return bumpDeliveryVersion(ctx, tx)
	})
}

func nonNilSources(s []delivery.Source) []delivery.Source {
	if s == nil {
		return []delivery.Source{}
	}
	return s
}

// DeleteService removes a service from the catalog; ENOTFOUND when it is
// not there. Its records stay: a repository no service claims becomes a
// service of its own.
func (db *DB) DeleteService(ctx context.Context, name, actor string) error {
	return db.write(ctx, func(tx *sql.Tx) error {
		var team, sources string
		err := tx.QueryRowContext(ctx, `DELETE FROM delivery_services WHERE name = ? RETURNING team, sources`, name).Scan(&team, &sources)
		if errors.Is(err, sql.ErrNoRows) {
			return valueloop.Errorf(valueloop.ENOTFOUND, "no service named %q in the catalog", name)
		} else if err != nil {
			return err
		}
		before := fmt.Sprintf(`{"name":%q,"team":%q,"sources":%s}`, name, team, strings.TrimSpace(sources))
		if err := db.audit(ctx, tx, actor, "", "delivery.service.delete", name, []byte(before), nil, ""); err != nil {
			return err
		}
		return bumpDeliveryVersion(ctx, tx)
	})
}
