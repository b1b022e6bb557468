package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/delivery"
	"github.com/valueloop/valueloop/deliverysvc"
)

var _ deliverysvc.Store = (*DB)(nil)

// Delivery data needs no change notification: every node's timeline cache
// (deliverysvc) reads DeliveryVersion, one indexed single-row read, before
// it answers, and so sees the writes of every node; sources are read from
// the store for each webhook.

// bumpDeliveryVersion marks the delivery data changed, inside tx. It takes
// the row lock of delivery_version, so writers of delivery data commit one
// after the other in version order.
func bumpDeliveryVersion(ctx context.Context, tx pgx.Tx) error {
	if _, err := tx.Exec(ctx, `UPDATE delivery_version SET version = version + 1 WHERE id = 1`); err != nil {
		return fmt.Errorf("postgres: delivery version: %w", err)
	}
	return nil
}

// DeliveryVersion returns a number that grows with every change of the
// delivery records, sources or catalog.
func (db *DB) DeliveryVersion(ctx context.Context) (int64, error) {
	var v int64
	if err := db.pool.QueryRow(ctx, `SELECT version FROM delivery_version WHERE id = 1`).Scan(&v); err != nil {
		return 0, fmt.Errorf("postgres: delivery version: %w", err)
	}
	return v, nil
}

// RecordDelivery stores d and its records in one transaction. It returns
// false, storing nothing, when a delivery with the same source and ID is
// already stored (a redelivery), whichever node stored it: the unique
// (source, delivery_id) decides, and a concurrent copy waits for the first
// to commit.
func (db *DB) RecordDelivery(ctx context.Context, d *deliverysvc.Delivery) (bool, error) {
	var stored bool
	err := db.write(ctx, func(tx pgx.Tx) error {
		stored = false
		var id int64
		err := tx.QueryRow(ctx, `INSERT INTO delivery_deliveries (source, delivery_id, kind, received_at, ignored, records)
			VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (source, delivery_id) DO NOTHING RETURNING id`,
			d.Source, d.ID, d.Kind, d.ReceivedAt.UTC(), d.Ignored, d.Records()).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // a redelivery
		} else if err != nil {
			return fmt.Errorf("postgres: record delivery %s/%s: %w", d.Source, d.ID, err)
		}
		if err := insertRecords(ctx, tx, id, d); err != nil {
			return fmt.Errorf("postgres: record delivery %s/%s: %w", d.Source, d.ID, err)
		}
		stored = true
		return bumpDeliveryVersion(ctx, tx)
	})
	return stored, err
}

// insertRecords stores the records of delivery id: one INSERT … SELECT
// FROM unnest(…) per kind of record, all sent in one round trip, whatever
// the number of records. WITH ORDINALITY keeps the order given, which is
// the order DeliveryData reads back.
func insertRecords(ctx context.Context, tx pgx.Tx, id int64, d *deliverysvc.Delivery) error {
	b := &pgx.Batch{}
	if n := len(d.Changes); n > 0 {
		repo, service, sha, pr, branch := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		paths, authored, merged := make([]*string, n), make([]int64, n), make([]*int64, n)
		for i, c := range d.Changes {
			repo[i], service[i], sha[i], pr[i], branch[i] = c.Repo, c.Service, c.SHA, c.PR, c.Branch
			if len(c.Paths) > 0 {
				p, err := json.Marshal(c.Paths)
				if err != nil {
					return err
				}
				s := string(p)
				paths[i] = &s
			}
			authored[i], merged[i] = c.AuthoredAt.UnixNano(), optNanos(c.MergedAt)
		}
		b.Queue(`INSERT INTO delivery_changes (delivery, repo, service, sha, pr, branch, paths, authored_at, merged_at)
			SELECT $1, r, s, h, p, b, pa, a, m FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bigint[], $9::bigint[])
			WITH ORDINALITY AS t(r, s, h, p, b, pa, a, m, o) ORDER BY o`,
			id, repo, service, sha, pr, branch, paths, authored, merged)
	}
	if n := len(d.Deployments); n > 0 {
		depID, service, repo, env, sha, version, status := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		prod, rollback, at := make([]bool, n), make([]bool, n), make([]int64, n)
		for i, p := range d.Deployments {
			depID[i], service[i], repo[i], env[i], sha[i], version[i], status[i] = p.ID, p.Service, p.Repo, p.Environment, p.SHA, p.Version, p.Status
			prod[i], rollback[i], at[i] = p.Production, p.Rollback, p.At.UnixNano()
		}
		b.Queue(`INSERT INTO delivery_deployments (delivery, deployment_id, service, repo, environment, production, sha, version, status, at, rollback)
			SELECT $1, i, s, r, e, pr, h, v, st, a, rb FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::bool[], $7::text[], $8::text[], $9::text[], $10::bigint[], $11::bool[])
			WITH ORDINALITY AS t(i, s, r, e, pr, h, v, st, a, rb, o) ORDER BY o`,
			id, depID, service, repo, env, prod, sha, version, status, at, rollback)
	}
	if n := len(d.Incidents); n > 0 {
		incID, service, repo, title, depID, cause := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		opened, resolved, updated, void := make([]int64, n), make([]*int64, n), make([]*int64, n), make([]bool, n)
		for i, x := range d.Incidents {
			incID[i], service[i], repo[i], title[i], depID[i], cause[i] = x.ID, x.Service, x.Repo, x.Title, x.DeploymentID, x.CauseSHA
			opened[i], updated[i], void[i] = x.OpenedAt.UnixNano(), optNanos(x.UpdatedAt), x.Void
			if x.ResolvedAt != nil {
				n := x.ResolvedAt.UnixNano()
				resolved[i] = &n
			}
		}
		b.Queue(`INSERT INTO delivery_incidents (delivery, incident_id, service, repo, title, opened_at, resolved_at, updated_at, deployment_id, cause_sha, void)
			SELECT $1, i, s, r, ti, op, re, up, d, c, v FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::bigint[], $8::bigint[], $9::text[], $10::text[], $11::bool[])
			WITH ORDINALITY AS t(i, s, r, ti, op, re, up, d, c, v, o) ORDER BY o`,
			id, incID, service, repo, title, opened, resolved, updated, depID, cause, void)
	}
	if n := len(d.Links); n > 0 {
		flag, repo, sha := make([]string, n), make([]string, n), make([]string, n)
		for i, l := range d.Links {
			flag[i], repo[i], sha[i] = l.Flag, l.Repo, l.SHA
		}
		b.Queue(`INSERT INTO delivery_flag_changes (flag, repo, sha, delivery)
			SELECT f, r, s, $1 FROM unnest($2::text[], $3::text[], $4::text[]) AS t(f, r, s) ON CONFLICT DO NOTHING`, id, flag, repo, sha)
	}
	if b.Len() == 0 {
		return nil
	}
	return tx.SendBatch(ctx, b).Close()
}

func optNanos(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	n := t.UnixNano()
	return &n
}

func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

// DeliveryData reads the catalog and every record, in the order stored,
// with the version they are at, from one consistent snapshot (a read-only
// repeatable-read transaction).
func (db *DB) DeliveryData(ctx context.Context) (delivery.Data, int64, error) {
	var data delivery.Data
	var version int64
	err := pgx.BeginTxFunc(ctx, db.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT version FROM delivery_version WHERE id = 1`).Scan(&version); err != nil {
			return fmt.Errorf("postgres: delivery version: %w", err)
		}
		var err error
		if data.Catalog, err = catalog(ctx, tx); err != nil {
			return err
		}
		in := interner{}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM delivery_changes`).Scan(&n); err != nil {
			return fmt.Errorf("postgres: count changes: %w", err)
		}
		if data.Changes, err = readChanges(ctx, tx, in, n, `SELECT repo, service, sha, pr, branch, paths, authored_at, merged_at
			FROM delivery_changes ORDER BY id`); err != nil {
			return err
		}
		if data.Deployments, err = readDeployments(ctx, tx, in); err != nil {
			return err
		}
		data.Incidents, err = readIncidents(ctx, tx, in, `SELECT incident_id, service, repo, title, opened_at, resolved_at, updated_at,
			deployment_id, cause_sha, void FROM delivery_incidents ORDER BY id`)
		return err
	})
	if err != nil {
		return delivery.Data{}, 0, domainError(err)
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
func readChanges(ctx context.Context, q querier, in interner, n int, query string, args ...any) ([]delivery.Change, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: read changes: %w", err)
	}
	defer rows.Close()
	out := make([]delivery.Change, 0, min(n, 1<<22))
	var repo, service, branch, pr []byte
	var paths *string
	var authored int64
	var merged *int64
	for rows.Next() {
		var c delivery.Change
		if err := rows.Scan(&repo, &service, &c.SHA, &pr, &branch, &paths, &authored, &merged); err != nil {
			return nil, fmt.Errorf("postgres: read changes: %w", err)
		}
		c.Repo, c.Service, c.Branch = in.get(repo), in.get(service), in.get(branch)
		if len(pr) > 0 {
			c.PR = string(pr)
		}
		if paths != nil {
			if err := json.Unmarshal([]byte(*paths), &c.Paths); err != nil {
				return nil, fmt.Errorf("postgres: paths of change %s: %w", c.SHA, err)
			}
		}
		c.AuthoredAt = fromNanos(authored)
		if merged != nil {
			c.MergedAt = fromNanos(*merged)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: read changes: %w", err)
	}
	return out, nil
}

func readDeployments(ctx context.Context, q querier, in interner) ([]delivery.Deployment, error) {
	rows, err := q.Query(ctx, `SELECT deployment_id, service, repo, environment, production, sha, version, status, at, rollback
		FROM delivery_deployments ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("postgres: read deployments: %w", err)
	}
	defer rows.Close()
	var out []delivery.Deployment
	var service, repo, env, status []byte
	var at int64
	for rows.Next() {
		var d delivery.Deployment
		if err := rows.Scan(&d.ID, &service, &repo, &env, &d.Production, &d.SHA, &d.Version, &status, &at, &d.Rollback); err != nil {
			return nil, fmt.Errorf("postgres: read deployments: %w", err)
		}
		d.Service, d.Repo, d.Environment, d.Status = in.get(service), in.get(repo), in.get(env), in.get(status)
		d.At = fromNanos(at)
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: read deployments: %w", err)
	}
	return out, nil
}

func readIncidents(ctx context.Context, q querier, in interner, query string, args ...any) ([]delivery.Incident, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: read incidents: %w", err)
	}
	defer rows.Close()
	var out []delivery.Incident
	var service, repo []byte
	var opened int64
	var resolved, updated *int64
	for rows.Next() {
		var i delivery.Incident
		if err := rows.Scan(&i.ID, &service, &repo, &i.Title, &opened, &resolved, &updated, &i.DeploymentID, &i.CauseSHA, &i.Void); err != nil {
			return nil, fmt.Errorf("postgres: read incidents: %w", err)
		}
		i.Service, i.Repo = in.get(service), in.get(repo)
		i.OpenedAt = fromNanos(opened)
		if resolved != nil {
			t := fromNanos(*resolved)
			i.ResolvedAt = &t
		}
		if updated != nil {
			i.UpdatedAt = fromNanos(*updated)
		}
		out = append(out, i)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: read incidents: %w", err)
	}
	return out, nil
}

// IncidentSnapshots returns every stored snapshot of the incident id, in
// the order stored; ENOTFOUND when there is none.
func (db *DB) IncidentSnapshots(ctx context.Context, id string) ([]delivery.Incident, error) {
	out, err := readIncidents(ctx, db.pool, interner{}, `SELECT incident_id, service, repo, title, opened_at, resolved_at, updated_at,
		deployment_id, cause_sha, void FROM delivery_incidents WHERE incident_id = $1 ORDER BY id`, id)
	if err == nil && len(out) == 0 {
		return nil, valueloop.Errorf(valueloop.ENOTFOUND, "no incident %q", id)
	}
	return out, err
}

// FlagChanges returns the change records linked to flag, in the order
// stored.
func (db *DB) FlagChanges(ctx context.Context, flag string) ([]delivery.Change, error) {
	return readChanges(ctx, db.pool, interner{}, 0, `SELECT c.repo, c.service, c.sha, c.pr, c.branch, c.paths, c.authored_at, c.merged_at
		FROM delivery_flag_changes l JOIN delivery_changes c ON c.sha = l.sha AND (l.repo = '' OR lower(c.repo) = lower(l.repo))
		WHERE l.flag = $1 ORDER BY c.id`, flag)
}

// Deliveries returns the latest deliveries, newest first: of one source
// when source is not empty. limit defaults to 50 and is at most 1000.
func (db *DB) Deliveries(ctx context.Context, source string, limit int) ([]deliverysvc.DeliveryInfo, error) {
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 1000)
	rows, err := db.pool.Query(ctx, `SELECT source, delivery_id, kind, received_at, ignored, records FROM delivery_deliveries
		WHERE $1 = '' OR source = $1 ORDER BY id DESC LIMIT $2`, source, limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: deliveries: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (deliverysvc.DeliveryInfo, error) {
		var d deliverysvc.DeliveryInfo
		err := row.Scan(&d.Source, &d.ID, &d.Kind, &d.ReceivedAt, &d.Ignored, &d.Records)
		d.ReceivedAt = d.ReceivedAt.UTC()
		return d, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: deliveries: %w", err)
	}
	return out, nil
}

// Sources returns the webhook sources, secrets included, by name.
func (db *DB) Sources(ctx context.Context) ([]deliverysvc.Source, error) {
	rows, err := db.pool.Query(ctx, `SELECT name, kind, secret, incident_label, release_environment, created_at, updated_at
		FROM delivery_sources ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("postgres: sources: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (deliverysvc.Source, error) {
		var s deliverysvc.Source
		err := row.Scan(&s.Name, &s.Kind, &s.Secret, &s.IncidentLabel, &s.ReleaseEnvironment, &s.CreatedAt, &s.UpdatedAt)
		s.CreatedAt, s.UpdatedAt = s.CreatedAt.UTC(), s.UpdatedAt.UTC()
		return s, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: sources: %w", err)
	}
	return out, nil
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
// Writers of sources and the catalog take the version's row lock first, so
// they run one at a time.
func (db *DB) PutSource(ctx context.Context, s *deliverysvc.Source, actor string) error {
	if err := s.Validate(); err != nil {
		return err
	}
	return db.write(ctx, func(tx pgx.Tx) error {
		if err := bumpDeliveryVersion(ctx, tx); err != nil {
			return err
		}
		var old deliverysvc.Source
		err := tx.QueryRow(ctx, `SELECT name, kind, secret, incident_label, release_environment, created_at FROM delivery_sources WHERE name = $1`, s.Name).
			Scan(&old.Name, &old.Kind, &old.Secret, &old.IncidentLabel, &old.ReleaseEnvironment, &old.CreatedAt)
		exists := err == nil
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			if s.Secret == nil {
				return valueloop.FieldErrorf("secret", "is required for a new source")
			}
		case err != nil:
			return fmt.Errorf("postgres: source %s: %w", s.Name, err)
		case old.Kind != s.Kind:
			return valueloop.FieldErrorf("kind", "source %q is a %s source; delete it and add it again to change its kind", s.Name, old.Kind)
		}
		now := db.now()
		c := *s
		c.CreatedAt, c.UpdatedAt = now, now
		if exists {
			if c.Secret == nil {
				c.Secret = old.Secret
			}
			c.CreatedAt = old.CreatedAt.UTC()
		}
		_, err = tx.Exec(ctx, `INSERT INTO delivery_sources (name, kind, secret, incident_label, release_environment, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (name) DO UPDATE SET secret = excluded.secret, incident_label = excluded.incident_label,
			release_environment = excluded.release_environment, updated_at = excluded.updated_at`,
			c.Name, c.Kind, c.Secret, c.IncidentLabel, c.ReleaseEnvironment, c.CreatedAt, c.UpdatedAt)
		if err != nil {
			return fmt.Errorf("postgres: put source %s: %w", s.Name, err)
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
		return nil
	})
}

// DeleteSource deletes a webhook source; ENOTFOUND when there is none. The
// records it delivered stay.
func (db *DB) DeleteSource(ctx context.Context, name, actor string) error {
	return db.write(ctx, func(tx pgx.Tx) error {
		if err := bumpDeliveryVersion(ctx, tx); err != nil {
			return err
		}
		var s deliverysvc.Source
		err := tx.QueryRow(ctx, `DELETE FROM delivery_sources WHERE name = $1 RETURNING name, kind, incident_label, release_environment, created_at, updated_at`, name).
			Scan(&s.Name, &s.Kind, &s.IncidentLabel, &s.ReleaseEnvironment, &s.CreatedAt, &s.UpdatedAt)
		if errors.Is(err, pgx.ErrNoRows) {
			return valueloop.Errorf(valueloop.ENOTFOUND, "no webhook source named %q", name)
		} else if err != nil {
			return fmt.Errorf("postgres: delete source %s: %w", name, err)
		}
		s.CreatedAt, s.UpdatedAt = s.CreatedAt.UTC(), s.UpdatedAt.UTC()
		return db.audit(ctx, tx, actor, "", "delivery.source.delete", name, sourceAudit(&s), nil, "")
	})
}

// Catalog returns the service catalog, services by name.
func (db *DB) Catalog(ctx context.Context) (delivery.Catalog, error) {
	return catalog(ctx, db.pool)
}

func catalog(ctx context.Context, q querier) (delivery.Catalog, error) {
	rows, err := q.Query(ctx, `SELECT name, team, sources FROM delivery_services ORDER BY name`)
	if err != nil {
		return delivery.Catalog{}, fmt.Errorf("postgres: catalog: %w", err)
	}
	defer rows.Close()
	c := delivery.Catalog{Services: []delivery.Service{}}
	for rows.Next() {
		var s delivery.Service
		var sources string
		if err := rows.Scan(&s.Name, &s.Team, &sources); err != nil {
			return c, fmt.Errorf("postgres: catalog: %w", err)
		}
		if err := json.Unmarshal([]byte(sources), &s.Sources); err != nil {
			return c, fmt.Errorf("postgres: sources of service %s: %w", s.Name, err)
		}
		c.Services = append(c.Services, s)
	}
	if err := rows.Err(); err != nil {
		return c, fmt.Errorf("postgres: catalog: %w", err)
	}
	return c, nil
}

// PutService creates or replaces a service of the catalog. The whole
// catalog must stay valid (a repository path belongs to one service):
// otherwise nothing changes and the error lists the problems. The catalog
// is read and checked under the version's row lock, so two nodes cannot
// each add half of a conflict.
func (db *DB) PutService(ctx context.Context, s delivery.Service, actor string) error {
	return db.write(ctx, func(tx pgx.Tx) error {
		if err := bumpDeliveryVersion(ctx, tx); err != nil {
			return err
		}
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
		sources := s.Sources
		if sources == nil {
			sources = []delivery.Source{}
		}
		src, err := json.Marshal(sources)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO delivery_services (name, team, sources, updated_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (name) DO UPDATE SET team = excluded.team, sources = excluded.sources, updated_at = excluded.updated_at`,
			s.Name, s.Team, string(src), db.now())
		if err != nil {
			return fmt.Errorf("postgres: put service %s: %w", s.Name, err)
		}
		after, _ := json.Marshal(s)
		return db.audit(ctx, tx, actor, "", "delivery.service.put", s.Name, before, after, "")
	})
}

// DeleteService removes a service from the catalog; ENOTFOUND when it is
// not there. Its records stay: a repository no service claims becomes a
// service of its own.
func (db *DB) DeleteService(ctx context.Context, name, actor string) error {
	return db.write(ctx, func(tx pgx.Tx) error {
		if err := bumpDeliveryVersion(ctx, tx); err != nil {
			return err
		}
		var s delivery.Service
		var sources string
		err := tx.QueryRow(ctx, `DELETE FROM delivery_services WHERE name = $1 RETURNING team, sources`, name).Scan(&s.Team, &sources)
		if errors.Is(err, pgx.ErrNoRows) {
			return valueloop.Errorf(valueloop.ENOTFOUND, "no service named %q in the catalog", name)
		} else if err != nil {
			return fmt.Errorf("postgres: delete service %s: %w", name, err)
		}
		s.Name = name
		if err := json.Unmarshal([]byte(sources), &s.Sources); err != nil {
			return fmt.Errorf("postgres: sources of service %s: %w", name, err)
		}
		before, _ := json.Marshal(s)
		return db.audit(ctx, tx, actor, "", "delivery.service.delete", name, before, nil, "")
	})
}
