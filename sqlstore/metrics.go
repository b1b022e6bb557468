package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/metric"
)

// KindMetrics is the kind of change of a metric definition (the value of
// cluster.KindMetrics).
const KindMetrics = "metrics"

// Metrics returns the metric definitions of env, ordered by key.
func (s *Store) Metrics(ctx context.Context, env string) ([]metric.Metric, error) {
	rows, err := s.read().Query(ctx, `SELECT definition, created_at, updated_at FROM metrics WHERE environment = ? ORDER BY key`, env)
	if err != nil {
		return nil, fmt.Errorf("%s: list metrics of %s: %w", s.o.D.Name, env, err)
	}
	out, err := collect(rows, func(rows *sql.Rows) (metric.Metric, error) {
		m, err := s.scanMetric(rows)
		if err != nil {
			return metric.Metric{}, err
		}
		return *m, nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: list metrics of %s: %w", s.o.D.Name, env, err)
	}
	return out, nil
}

// Metric returns one metric definition; ENOTFOUND when there is none.
func (s *Store) Metric(ctx context.Context, env, key string) (*metric.Metric, error) {
	row := s.read().QueryRow(ctx, `SELECT definition, created_at, updated_at FROM metrics WHERE environment = ? AND key = ?`, env, key)
	m, err := s.scanMetric(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, valueloop.Errorf(valueloop.ENOTFOUND, "metric %q not found in environment %q", key, env)
	}
	return m, err
}

func (s *Store) scanMetric(row interface{ Scan(...any) error }) (*metric.Metric, error) {
	var def string
	var m metric.Metric
	var created, updated time.Time
	if err := row.Scan(&def, timeDest{&created}, timeDest{&updated}); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(def), &m); err != nil {
		return nil, fmt.Errorf("%s: metric definition: %w", s.o.D.Name, err)
	}
	m.CreatedAt, m.UpdatedAt = created, updated
	return &m, nil
}

// CreateMetric stores a new metric definition (already normalised) and sets
// its times; ECONFLICT when the key exists, ENOTFOUND without the
// environment.
func (s *Store) CreateMetric(ctx context.Context, env string, m *metric.Metric, actor string) error {
	return s.write(ctx, func(tx Tx) error {
		now := s.now()
		m.CreatedAt, m.UpdatedAt = now, now
		def, err := json.Marshal(m)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO metrics (environment, key, definition, created_at, updated_at) VALUES (?, ?, ?, ?, ?)`,
			env, m.Key, string(def), s.o.D.Time(now), s.o.D.Time(now))
		if err != nil {
			err = s.domainError(err)
			switch valueloop.ErrorCode(err) {
			case valueloop.ECONFLICT:
				return valueloop.Errorf(valueloop.ECONFLICT, "metric %q already exists in environment %q", m.Key, env)
			case valueloop.ENOTFOUND:
				return valueloop.Errorf(valueloop.ENOTFOUND, "environment %q not found", env)
			}
			return err
		}
		if err := s.audit(ctx, tx, actor, env, "metric.create", m.Key, nil, def, ""); err != nil {
			return err
		}
		return s.changed(ctx, tx, KindMetrics, env)
	})
}

// DeleteMetric removes a metric definition; ENOTFOUND when there is none.
// Its aggregates go when the pipeline rebuilds the environment.
func (s *Store) DeleteMetric(ctx context.Context, env, key, actor string) error {
	return s.write(ctx, func(tx Tx) error {
		var def string
		err := tx.QueryRow(ctx, `DELETE FROM metrics WHERE environment = ? AND key = ? RETURNING definition`, env, key).Scan(&def)
		if errors.Is(err, sql.ErrNoRows) {
			return valueloop.Errorf(valueloop.ENOTFOUND, "metric %q not found in environment %q", key, env)
		} else if err != nil {
			return err
		}
		if err := s.audit(ctx, tx, actor, env, "metric.delete", key, []byte(def), nil, ""); err != nil {
			return err
		}
		return s.changed(ctx, tx, KindMetrics, env)
	})
}
