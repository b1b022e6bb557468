package postgres

import (
	"context"
	"database/sql"

	"github.com/valueloop/valueloop/delivery"
	"github.com/valueloop/valueloop/sqlstore"
)

// Delivery's store methods are package sqlstore's; only the storing of a
// delivery's records differs.

// insertRecords stores the records of delivery id (the shared store's
// InsertRecords): one INSERT … SELECT FROM unnest(…) per kind of record,
// whatever the number of records. WITH ORDINALITY keeps the order given,
// which is the order DeliveryData reads back.
func insertRecords(ctx context.Context, tx *sql.Tx, id int64, d *delivery.Delivery) error {
	q := func(query string, args ...any) error { _, err := tx.ExecContext(ctx, query, args...); return err }
	if n := len(d.Changes); n > 0 {
		repo, service, sha, pr, branch := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		paths, authored, merged, opened := make([]*string, n), make([]int64, n), make([]*int64, n), make([]*int64, n)
		for i, c := range d.Changes {
			repo[i], service[i], sha[i], pr[i], branch[i] = c.Repo, c.Service, c.SHA, c.PR, c.Branch
			p, err := sqlstore.ChangePaths(c)
			if err != nil {
				return err
			}
			paths[i], authored[i], merged[i], opened[i] = p, c.AuthoredAt.UnixNano(), sqlstore.OptNanos(c.MergedAt), sqlstore.OptNanos(c.OpenedAt)
		}
		if err := q(`INSERT INTO delivery_changes (delivery, repo, service, sha, pr, branch, paths, authored_at, merged_at, opened_at)
			SELECT $1, r, s, h, p, b, pa, a, m, op FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bigint[], $9::bigint[], $10::bigint[])
			WITH ORDINALITY AS t(r, s, h, p, b, pa, a, m, op, o) ORDER BY o`,
			id, repo, service, sha, pr, branch, paths, authored, merged, opened); err != nil {
			return err
		}
	}
	if n := len(d.Deployments); n > 0 {
		depID, service, repo, env, sha, version, status := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		prod, rollback, at := make([]bool, n), make([]bool, n), make([]int64, n)
		for i, p := range d.Deployments {
			depID[i], service[i], repo[i], env[i], sha[i], version[i], status[i] = p.ID, p.Service, p.Repo, p.Environment, p.SHA, p.Version, p.Status
			prod[i], rollback[i], at[i] = p.Production, p.Rollback, p.At.UnixNano()
		}
		if err := q(`INSERT INTO delivery_deployments (delivery, deployment_id, service, repo, environment, production, sha, version, status, at, rollback)
			SELECT $1, i, s, r, e, pr, h, v, st, a, rb FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::bool[], $7::text[], $8::text[], $9::text[], $10::bigint[], $11::bool[])
			WITH ORDINALITY AS t(i, s, r, e, pr, h, v, st, a, rb, o) ORDER BY o`,
			id, depID, service, repo, env, prod, sha, version, status, at, rollback); err != nil {
			return err
		}
	}
	if n := len(d.Incidents); n > 0 {
		incID, service, repo, title, depID, cause := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		opened, resolved, updated, void := make([]int64, n), make([]*int64, n), make([]*int64, n), make([]bool, n)
		for i, x := range d.Incidents {
			incID[i], service[i], repo[i], title[i], depID[i], cause[i] = x.ID, x.Service, x.Repo, x.Title, x.DeploymentID, x.CauseSHA
			opened[i], updated[i], void[i] = x.OpenedAt.UnixNano(), sqlstore.OptNanos(x.UpdatedAt), x.Void
			if x.ResolvedAt != nil {
				resolved[i] = sqlstore.OptNanos(*x.ResolvedAt)
			}
		}
		if err := q(`INSERT INTO delivery_incidents (delivery, incident_id, service, repo, title, opened_at, resolved_at, updated_at, deployment_id, cause_sha, void)
			SELECT $1, i, s, r, ti, op, re, up, d, c, v FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::bigint[], $8::bigint[], $9::text[], $10::text[], $11::bool[])
			WITH ORDINALITY AS t(i, s, r, ti, op, re, up, d, c, v, o) ORDER BY o`,
			id, incID, service, repo, title, opened, resolved, updated, depID, cause, void); err != nil {
			return err
		}
	}
	if n := len(d.Reviews); n > 0 {
		repo, pr, at := make([]string, n), make([]string, n), make([]int64, n)
		for i, r := range d.Reviews {
			repo[i], pr[i], at[i] = r.Repo, r.PR, r.At.UnixNano()
		}
		if err := q(`INSERT INTO delivery_reviews (delivery, repo, pr, at)
			SELECT $1, r, p, a FROM unnest($2::text[], $3::text[], $4::bigint[]) WITH ORDINALITY AS t(r, p, a, o) ORDER BY o`,
			id, repo, pr, at); err != nil {
			return err
		}
	}
	if n := len(d.Links); n > 0 {
		flag, repo, sha := make([]string, n), make([]string, n), make([]string, n)
		for i, l := range d.Links {
			flag[i], repo[i], sha[i] = l.Flag, l.Repo, l.SHA
		}
		if err := q(`INSERT INTO delivery_flag_changes (flag, repo, sha, delivery)
			SELECT f, r, s, $1 FROM unnest($2::text[], $3::text[], $4::text[]) AS t(f, r, s) ON CONFLICT DO NOTHING`, id, flag, repo, sha); err != nil {
			return err
		}
	}
	return nil
}
