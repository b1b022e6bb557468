package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"

	"fmt"
	"strings"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/delivery"
	"github.com/valueloop/valueloop/dora"
)

// Corrections of delivery records (package delivery, records.go): each
// kind of record is one table; a record is addressed by its row id.

// recordTable describes the table of one kind of record.
type recordTable struct {
	table, idColumn, columns string
	// scan reads columns into a new record of r's kind.
	scan func(rows *sql.Rows, r *delivery.Record, pre ...any) error
	// values are the columns' values of r, in order.
	values func(r *delivery.Record) ([]any, error)
}

var recordTables = map[string]recordTable{
	delivery.RecordChanges: {
		table: "delivery_changes", idColumn: "sha",
		columns: "repo, service, sha, pr, branch, paths, authored_at, merged_at, opened_at",
		scan: func(rows *sql.Rows, r *delivery.Record, pre ...any) error {
			var row changeRow
			if err := rows.Scan(append(pre, row.dest()...)...); err != nil {
				return err
			}
			c, err := row.change(interner{})
			r.Change = &c
			return err
		},
		values: func(r *delivery.Record) ([]any, error) {
			c := r.Change
			paths, err := ChangePaths(*c)
			return []any{c.Repo, c.Service, c.SHA, c.PR, c.Branch, paths, c.AuthoredAt.UnixNano(), OptNanos(c.MergedAt), OptNanos(c.OpenedAt)}, err
		},
	},
	delivery.RecordDeployments: {
		table: "delivery_deployments", idColumn: "deployment_id",
		columns: "deployment_id, service, repo, environment, production, sha, version, status, at, rollback",
		scan: func(rows *sql.Rows, r *delivery.Record, pre ...any) error {
			d := &dora.Deployment{}
			var at int64
			if err := rows.Scan(append(pre, &d.ID, &d.Service, &d.Repo, &d.Environment, &d.Production, &d.SHA, &d.Version, &d.Status, &at, &d.Rollback)...); err != nil {
				return err
			}
			d.At = fromNanos(at)
			r.Deployment = d
			return nil
		},
		values: func(r *delivery.Record) ([]any, error) {
			d := r.Deployment
			return []any{d.ID, d.Service, d.Repo, d.Environment, d.Production, d.SHA, d.Version, d.Status, d.At.UnixNano(), d.Rollback}, nil
		},
	},
	delivery.RecordIncidents: {
		table: "delivery_incidents", idColumn: "incident_id",
		columns: "incident_id, service, repo, title, opened_at, resolved_at, updated_at, deployment_id, cause_sha, void",
		scan: func(rows *sql.Rows, r *delivery.Record, pre ...any) error {
			var row incidentRow
			if err := rows.Scan(append(pre, row.dest()...)...); err != nil {
				return err
			}
			i := row.incident(interner{})
			r.Incident = &i
			return nil
		},
		values: func(r *delivery.Record) ([]any, error) {
			i := r.Incident
			var resolved *int64
			if i.ResolvedAt != nil {
				resolved = OptNanos(*i.ResolvedAt)
			}
			return []any{i.ID, i.Service, i.Repo, i.Title, i.OpenedAt.UnixNano(), resolved, OptNanos(i.UpdatedAt), i.DeploymentID, i.CauseSHA, i.Void}, nil
		},
	},
	delivery.RecordReviews: {
		table: "delivery_reviews", idColumn: "pr",
		columns: "repo, pr, at",
		scan: func(rows *sql.Rows, r *delivery.Record, pre ...any) error {
			v := &dora.Review{}
			var at int64
			if err := rows.Scan(append(pre, &v.Repo, &v.PR, &at)...); err != nil {
				return err
			}
			v.At = fromNanos(at)
			r.Review = v
			return nil
		},
		values: func(r *delivery.Record) ([]any, error) {
			return []any{r.Review.Repo, r.Review.PR, r.Review.At.UnixNano()}, nil
		},
	},
}

func recordTableOf(kind string) (recordTable, error) {
	t, ok := recordTables[kind]
	if !ok {
		return t, delivery.CheckRecordKind(kind)
	}
	return t, nil
}

// Records lists the records f selects, newest first.
func (s *Store) Records(ctx context.Context, f delivery.RecordFilter) ([]delivery.Record, error) {
	t, err := recordTableOf(f.Kind)
	if err != nil {
		return nil, err
	}
	out, err := s.records(ctx, s.read(), t, f)
	if err != nil {
		return nil, fmt.Errorf("%s: %s records: %w", s.o.D.Name, f.Kind, err)
	}
	return out, nil
}

func (s *Store) records(ctx context.Context, q querier, t recordTable, f delivery.RecordFilter) ([]delivery.Record, error) {
	var w where
	if f.Record != 0 {
		w.add("r.id = ?", f.Record)
	}
	if f.Service != "" {
		w.add("r.service = ?", f.Service)
	}
	if f.Repo != "" {
		w.add("lower(r.repo) = lower(?)", f.Repo)
	}
	if f.ID != "" {
		w.add("r."+t.idColumn+" = ?", f.ID)
	}
	if f.Before != 0 {
		w.add("r.id < ?", f.Before)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = delivery.DefaultRecordPage
	}
	query := `SELECT r.id, d.source, d.delivery_id, r.` + strings.ReplaceAll(t.columns, ", ", ", r.") + ` FROM ` + t.table +
		` r JOIN delivery_deliveries d ON d.id = r.delivery`
	rows, err := w.newest(ctx, q, query, "r.id", limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []delivery.Record{}
	for rows.Next() {
		r := delivery.Record{Kind: f.Kind}
		if err := t.scan(rows, &r, &r.Record, &r.Source, &r.Delivery); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// recordAudit is a record as the audit trail keeps it.
func recordAudit(r *delivery.Record) []byte {
	b, _ := json.Marshal(r)
	return b
}

// EditRecord replaces what record r.Record of r.Kind says and fills
// r.Source and r.Delivery; ENOTFOUND when there is none. The audit trail
// keeps the record before and after.
func (s *Store) EditRecord(ctx context.Context, r *delivery.Record, actor, reason string) error {
	t, err := recordTableOf(r.Kind)
	if err != nil {
		return err
	}
	values, err := t.values(r)
	if err != nil {
		return err
	}
	return s.write(ctx, func(tx Tx) error {
		if err := s.bumpDeliveryVersion(ctx, tx); err != nil {
			return err
		}
		old, err := s.oneRecord(ctx, tx, t, r.Kind, r.Record)
		if err != nil {
			return err
		}
		set := strings.ReplaceAll(t.columns, ",", " = ?,") + " = ?"
		if _, err := tx.Exec(ctx, `UPDATE `+t.table+` SET `+set+` WHERE id = ?`, append(values, r.Record)...); err != nil {
			return fmt.Errorf("%s: edit %s record %d: %w", s.o.D.Name, r.Kind, r.Record, err)
		}
		r.Source, r.Delivery = old.Source, old.Delivery
		return s.audit(ctx, tx, actor, "", "delivery."+strings.TrimSuffix(r.Kind, "s")+".edit", recordTarget(r.Kind, r.Record),
			recordAudit(&old), recordAudit(r), reason)
	})
}

// DeleteRecord deletes record n of kind; ENOTFOUND when there is none. The
// delivery that brought it stays (its count of records drops), so a
// redelivery still stores nothing.
func (s *Store) DeleteRecord(ctx context.Context, kind string, n int64, actor, reason string) error {
	t, err := recordTableOf(kind)
	if err != nil {
		return err
	}
	return s.write(ctx, func(tx Tx) error {
		if err := s.bumpDeliveryVersion(ctx, tx); err != nil {
			return err
		}
		old, err := s.oneRecord(ctx, tx, t, kind, n)
		if err != nil {
			return err
		}
		var del int64
		if err := tx.QueryRow(ctx, `DELETE FROM `+t.table+` WHERE id = ? RETURNING delivery`, n).Scan(&del); err != nil {
			return fmt.Errorf("%s: delete %s record %d: %w", s.o.D.Name, kind, n, err)
		}
		if _, err := tx.Exec(ctx, `UPDATE delivery_deliveries SET records = records - 1 WHERE id = ? AND records > 0`, del); err != nil {
			return fmt.Errorf("%s: delete %s record %d: %w", s.o.D.Name, kind, n, err)
		}
		return s.audit(ctx, tx, actor, "", "delivery."+strings.TrimSuffix(kind, "s")+".delete", recordTarget(kind, n),
			recordAudit(&old), nil, reason)
	})
}

func (s *Store) oneRecord(ctx context.Context, tx Tx, t recordTable, kind string, n int64) (delivery.Record, error) {
	list, err := s.records(ctx, tx, t, delivery.RecordFilter{Kind: kind, Record: n, Limit: 1})
	if err != nil {
		return delivery.Record{}, fmt.Errorf("%s: %s record %d: %w", s.o.D.Name, kind, n, err)
	}
	if len(list) == 0 {
		return delivery.Record{}, valueloop.Errorf(valueloop.ENOTFOUND, "no %s record %d", strings.TrimSuffix(kind, "s"), n)
	}
	return list[0], nil
}

// recordTarget names a record in the audit trail ("change/12").
func recordTarget(kind string, n int64) string {
	return fmt.Sprintf("%s/%d", strings.TrimSuffix(kind, "s"), n)
}
