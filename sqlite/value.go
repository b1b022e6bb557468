package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/value"
	"github.com/valueloop/valueloop/valuesvc"
)

var _ valuesvc.Store = (*DB)(nil)

// Objectives returns every objective, by key.
func (db *DB) Objectives(ctx context.Context) ([]value.Objective, error) {
	rows, err := db.db.QueryContext(ctx, `SELECT definition, created_at, updated_at FROM objectives ORDER BY key`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: objectives: %w", err)
	}
	defer rows.Close()
	out := []value.Objective{}
	for rows.Next() {
		var def, created, updated string
		if err := rows.Scan(&def, &created, &updated); err != nil {
			return nil, err
		}
		var o value.Objective
		if err := json.Unmarshal([]byte(def), &o); err != nil {
			return nil, fmt.Errorf("sqlite: objective: %w", err)
		}
		if o.CreatedAt, err = parseTime(created); err != nil {
			return nil, err
		}
		if o.UpdatedAt, err = parseTime(updated); err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// Features returns every feature, by key.
func (db *DB) Features(ctx context.Context) ([]value.Feature, error) {
	return db.features(ctx, db.db, "")
}

// Feature returns one feature; ENOTFOUND when there is none.
func (db *DB) Feature(ctx context.Context, key string) (*value.Feature, error) {
	fs, err := db.features(ctx, db.db, key)
	if err != nil {
		return nil, err
	}
	if len(fs) == 0 {
		return nil, valueloop.Errorf(valueloop.ENOTFOUND, "no feature %q (see 'valueloop feature list')", key)
	}
	return &fs[0], nil
}

func (db *DB) features(ctx context.Context, q queryer, key string) ([]value.Feature, error) {
	query, args := `SELECT definition, created_at, updated_at FROM features ORDER BY key`, []any{}
	if key != "" {
		query, args = `SELECT definition, created_at, updated_at FROM features WHERE key = ?`, []any{key}
	}
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: features: %w", err)
	}
	defer rows.Close()
	out := []value.Feature{}
	for rows.Next() {
		var def, created, updated string
		if err := rows.Scan(&def, &created, &updated); err != nil {
			return nil, err
		}
		var f value.Feature
		if err := json.Unmarshal([]byte(def), &f); err != nil {
			return nil, fmt.Errorf("sqlite: feature: %w", err)
		}
		if f.CreatedAt, err = parseTime(created); err != nil {
			return nil, err
		}
		if f.UpdatedAt, err = parseTime(updated); err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

// stored encodes an objective or feature without the times the columns
// keep.
func storedJSON(v any) ([]byte, error) {
	switch t := v.(type) {
	case *value.Objective:
		c := *t
		c.CreatedAt, c.UpdatedAt = time.Time{}, time.Time{}
		return json.Marshal(c)
	case *value.Feature:
		c := *t
		c.CreatedAt, c.UpdatedAt = time.Time{}, time.Time{}
		return json.Marshal(c)
	}
	return nil, fmt.Errorf("sqlite: cannot store %T", v)
}

// PutObjective creates or replaces o (validated by the caller) and sets
// its times. Audited: objective.create or objective.update.
func (db *DB) PutObjective(ctx context.Context, o *value.Objective, actor string) error {
	return db.write(ctx, func(tx *sql.Tx) error { return db.putObjective(ctx, tx, o, actor) })
}

func (db *DB) putObjective(ctx context.Context, tx *sql.Tx, o *value.Objective, actor string) error {
	var before, created string
	err := tx.QueryRowContext(ctx, `SELECT definition, created_at FROM objectives WHERE key = ?`, o.Key).Scan(&before, &created)
	action := "objective.update"
	if errors.Is(err, sql.ErrNoRows) {
		action, created = "objective.create", db.now()
	} else if err != nil {
		return err
	}
	after, err := storedJSON(o)
	if err != nil {
		return err
	}
	if before == string(after) {
		return nil
	}
	now := db.now()
	if _, err := tx.ExecContext(ctx, `INSERT INTO objectives (key, definition, created_at, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (key) DO UPDATE SET definition = excluded.definition, updated_at = excluded.updated_at`, o.Key, string(after), created, now); err != nil {
		return fmt.Errorf("sqlite: store objective %s: %w", o.Key, err)
	}
	o.CreatedAt, _ = parseTime(created)
	o.UpdatedAt, _ = parseTime(now)
	if err := bump(ctx, tx); err != nil {
		return err
	}
	return db.audit(ctx, tx, actor, "", action, "objective:"+o.Key, nullBytes(before), after, "")
}

// bump marks a write of the value tables (valuesvc caches their reads
// until the version changes).
func bump(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, `UPDATE value_version SET version = version + 1`)
	return err
}

// ValueVersion grows with every write of objectives and features and
// every change of a lifecycle: what next and flow read.
func (db *DB) ValueVersion(ctx context.Context) (int64, error) {
	var v int64
	err := db.db.QueryRowContext(ctx, `SELECT version FROM value_version`).Scan(&v)
	return v, err
}

func nullBytes(s string) []byte {
	if s == "" {
		return nil
	}
	return []byte(s)
}

// DeleteObjective deletes an objective no feature bets on.
func (db *DB) DeleteObjective(ctx context.Context, key, actor string) error {
	return db.write(ctx, func(tx *sql.Tx) error { return db.deleteObjective(ctx, tx, key, actor) })
}

func (db *DB) deleteObjective(ctx context.Context, tx *sql.Tx, key, actor string) error {
	var before string
	if err := tx.QueryRowContext(ctx, `SELECT definition FROM objectives WHERE key = ?`, key).Scan(&before); errors.Is(err, sql.ErrNoRows) {
		return valueloop.Errorf(valueloop.ENOTFOUND, "no objective %q", key)
	} else if err != nil {
		return err
	}
	var n int
	var one string
	if err := tx.QueryRowContext(ctx, `SELECT count(*), coalesce(min(key), '') FROM features WHERE objective = ?`, key).Scan(&n, &one); err != nil {
		return err
	}
	if n > 0 {
		return valueloop.Errorf(valueloop.ECONFLICT, "objective %q has %d features (%s…): delete or move them first", key, n, one)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM objectives WHERE key = ?`, key); err != nil {
		return err
	}
	if err := bump(ctx, tx); err != nil {
		return err
	}
	return db.audit(ctx, tx, actor, "", "objective.delete", "objective:"+key, []byte(before), nil, "")
}

// PutFeature creates or replaces f (validated by the caller); ENOTFOUND
// when its objective does not exist. Audited.
func (db *DB) PutFeature(ctx context.Context, f *value.Feature, actor string) error {
	return db.write(ctx, func(tx *sql.Tx) error { return db.putFeature(ctx, tx, f, actor) })
}

func (db *DB) putFeature(ctx context.Context, tx *sql.Tx, f *value.Feature, actor string) error {
	var before, created string
	err := tx.QueryRowContext(ctx, `SELECT definition, created_at FROM features WHERE key = ?`, f.Key).Scan(&before, &created)
	action := "feature.update"
	if errors.Is(err, sql.ErrNoRows) {
		action, created = "feature.create", db.now()
		if !f.CreatedAt.IsZero() { // a demo or an import keeps its history
			created = formatTime(f.CreatedAt)
		}
	} else if err != nil {
		return err
	}
	after, err := storedJSON(f)
	if err != nil {
		return err
	}
	if before == string(after) {
		return nil
	}
	now := db.now()
	_, err = tx.ExecContext(ctx, `INSERT INTO features (key, objective, definition, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (key) DO UPDATE SET objective = excluded.objective, definition = excluded.definition, updated_at = excluded.updated_at`,
		f.Key, f.Objective, string(after), created, now)
	if err != nil {
		if valueloop.ErrorCode(domainError(err)) == valueloop.ENOTFOUND {
			return valueloop.FieldErrorf("objective", "no objective %q", f.Objective)
		}
		return fmt.Errorf("sqlite: store feature %s: %w", f.Key, err)
	}
	f.CreatedAt, _ = parseTime(created)
	f.UpdatedAt, _ = parseTime(now)
	if err := bump(ctx, tx); err != nil {
		return err
	}
	return db.audit(ctx, tx, actor, "", action, "feature:"+f.Key, nullBytes(before), after, "")
}

// DeleteFeature deletes a feature with its moves and links.
func (db *DB) DeleteFeature(ctx context.Context, key, actor string) error {
	return db.write(ctx, func(tx *sql.Tx) error { return db.deleteFeature(ctx, tx, key, actor) })
}

func (db *DB) deleteFeature(ctx context.Context, tx *sql.Tx, key, actor string) error {
	var before string
	if err := tx.QueryRowContext(ctx, `SELECT definition FROM features WHERE key = ?`, key).Scan(&before); errors.Is(err, sql.ErrNoRows) {
		return valueloop.Errorf(valueloop.ENOTFOUND, "no feature %q", key)
	} else if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM features WHERE key = ?`, key); err != nil {
		return err
	}
	if err := bump(ctx, tx); err != nil {
		return err
	}
	return db.audit(ctx, tx, actor, "", "feature.delete", "feature:"+key, []byte(before), nil, "")
}

// ApplyValue writes ops, taking the definitions from file, in one
// transaction: objectives created and updated, features, then deletions.
func (db *DB) ApplyValue(ctx context.Context, file *value.File, ops []value.Op, actor string) error {
	objs := map[string]*value.Objective{}
	for i := range file.Objectives {
		objs[file.Objectives[i].Key] = &file.Objectives[i]
	}
	fs := map[string]*value.Feature{}
	for i := range file.Features {
		fs[file.Features[i].Key] = &file.Features[i]
	}
	return db.write(ctx, func(tx *sql.Tx) error {
		for _, op := range ops {
			var err error
			switch {
			case op.Kind == "objective" && op.Action != "delete":
				err = db.putObjective(ctx, tx, objs[op.Key], actor)
			case op.Kind == "feature" && op.Action != "delete":
				err = db.putFeature(ctx, tx, fs[op.Key], actor)
			case op.Kind == "feature":
				err = db.deleteFeature(ctx, tx, op.Key, actor)
			case op.Kind == "objective":
				err = db.deleteObjective(ctx, tx, op.Key, actor)
			}
			if err != nil {
				return fmt.Errorf("%s %s %s: %w", op.Action, op.Kind, op.Key, err)
			}
		}
		return nil
	})
}

// MoveFeature records a transition by hand. Audited: feature.move.
func (db *DB) MoveFeature(ctx context.Context, key string, stage value.Stage, reason, actor string, at time.Time) (value.Event, error) {
	var e value.Event
	err := db.write(ctx, func(tx *sql.Tx) error {
		var seq int64
		if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(m.seq), 0) + 1 FROM features f LEFT JOIN feature_moves m ON m.feature = f.key WHERE f.key = ? GROUP BY f.key`, key).Scan(&seq); errors.Is(err, sql.ErrNoRows) {
			return valueloop.Errorf(valueloop.ENOTFOUND, "no feature %q", key)
		} else if err != nil {
			return err
		}
		now := db.now()
		if !at.IsZero() {
			now = formatTime(at)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO feature_moves (feature, seq, stage, reason, actor, at) VALUES (?, ?, ?, ?, ?, ?)`, key, seq, string(stage), reason, actor, now); err != nil {
			return err
		}
		t, _ := parseTime(now)
		e = value.MovedEvent(key, seq, stage, t, actor, reason)
		after, _ := json.Marshal(map[string]string{"stage": string(stage)})
		return db.audit(ctx, tx, actor, "", "feature.move", "feature:"+key, nil, after, reason)
	})
	return e, err
}

// Moves returns the transitions made by hand of a feature, oldest first.
func (db *DB) Moves(ctx context.Context, key string) ([]value.Event, error) {
	rows, err := db.db.QueryContext(ctx, `SELECT seq, stage, reason, actor, at FROM feature_moves WHERE feature = ? ORDER BY seq`, key)
	if err != nil {
		return nil, fmt.Errorf("sqlite: moves: %w", err)
	}
	defer rows.Close()
	var out []value.Event
	for rows.Next() {
		var seq int64
		var stage, reason, actor, at string
		if err := rows.Scan(&seq, &stage, &reason, &actor, &at); err != nil {
			return nil, err
		}
		t, err := parseTime(at)
		if err != nil {
			return nil, err
		}
		out = append(out, value.MovedEvent(key, seq, value.Stage(stage), t, actor, reason))
	}
	return out, rows.Err()
}

// LinkChanges stores links of changes to features; links to features that
// do not exist are skipped. It returns how many links were new.
func (db *DB) LinkChanges(ctx context.Context, links []valuesvc.ChangeLink) (int, error) {
	n := 0
	err := db.write(ctx, func(tx *sql.Tx) error {
		n = 0
		for _, l := range links {
			c, err := json.Marshal(l.Change)
			if err != nil {
				return err
			}
			res, err := tx.ExecContext(ctx, `INSERT INTO feature_changes (feature, repo, sha, change, by)
				SELECT key, ?, ?, ?, ? FROM features WHERE key = ? ON CONFLICT DO NOTHING`,
				strings.ToLower(l.Change.Repo), strings.ToLower(l.Change.SHA), string(c), l.By, l.Feature)
			if err != nil {
				return fmt.Errorf("sqlite: link change: %w", err)
			}
			k, _ := res.RowsAffected()
			n += int(k)
		}
		return nil
	})
	return n, err
}

// FeatureChanges returns the changes linked to a feature.
func (db *DB) FeatureChanges(ctx context.Context, key string) ([]valuesvc.ChangeLink, error) {
	rows, err := db.db.QueryContext(ctx, `SELECT change, by FROM feature_changes WHERE feature = ? ORDER BY repo, sha`, key)
	if err != nil {
		return nil, fmt.Errorf("sqlite: feature changes: %w", err)
	}
	defer rows.Close()
	var out []valuesvc.ChangeLink
	for rows.Next() {
		var c, by string
		if err := rows.Scan(&c, &by); err != nil {
			return nil, err
		}
		l := valuesvc.ChangeLink{Feature: key, By: by}
		if err := json.Unmarshal([]byte(c), &l.Change); err != nil {
			return nil, fmt.Errorf("sqlite: feature change: %w", err)
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// SeeFlags records sightings: the first time seen stays, the last and the
// users are raised.
func (db *DB) SeeFlags(ctx context.Context, seen []valuesvc.Sighting) error {
	return db.write(ctx, func(tx *sql.Tx) error {
		for _, x := range seen {
			_, err := tx.ExecContext(ctx, `INSERT INTO flag_sightings (environment, flag, first_seen, last_seen, users) VALUES (?, ?, ?, ?, ?)
				ON CONFLICT (environment, flag) DO UPDATE SET first_seen = min(first_seen, excluded.first_seen),
				last_seen = max(last_seen, excluded.last_seen), users = max(users, excluded.users)`,
				x.Environment, x.Flag, formatTime(x.FirstSeen), formatTime(x.LastSeen), x.Users)
			if err != nil {
				return fmt.Errorf("sqlite: flag sighting: %w", err)
			}
		}
		return nil
	})
}

// Sightings returns every flag sighting.
func (db *DB) Sightings(ctx context.Context) ([]valuesvc.Sighting, error) {
	rows, err := db.db.QueryContext(ctx, `SELECT environment, flag, first_seen, last_seen, users FROM flag_sightings ORDER BY environment, flag`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: sightings: %w", err)
	}
	defer rows.Close()
	var out []valuesvc.Sighting
	for rows.Next() {
		var x valuesvc.Sighting
		var first, last string
		if err := rows.Scan(&x.Environment, &x.Flag, &first, &last, &x.Users); err != nil {
			return nil, err
		}
		if x.FirstSeen, err = parseTime(first); err != nil {
			return nil, err
		}
		if x.LastSeen, err = parseTime(last); err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	return out, rows.Err()
}

// SaveLifecycle stores l as the lifecycle of feature key and audits each
// transition it has that the stored one had not (the same stage through the
// same event): action feature.transition, the cause as reason.
func (db *DB) SaveLifecycle(ctx context.Context, key string, l *value.Lifecycle) ([]value.Transition, error) {
	var added []value.Transition
	err := db.write(ctx, func(tx *sql.Tx) error {
		added = nil
		var old string
		if err := tx.QueryRowContext(ctx, `SELECT lifecycle FROM features WHERE key = ?`, key).Scan(&old); errors.Is(err, sql.ErrNoRows) {
			return valueloop.Errorf(valueloop.ENOTFOUND, "no feature %q", key)
		} else if err != nil {
			return err
		}
		after, err := json.Marshal(l)
		if err != nil {
			return err
		}
		if old == string(after) {
			return nil
		}
		var prev value.Lifecycle
		_ = json.Unmarshal([]byte(old), &prev)
		for _, t := range l.Transitions {
			if !slices.ContainsFunc(prev.Transitions, func(p value.Transition) bool { return p.To == t.To && p.Event == t.Event }) {
				added = append(added, t)
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE features SET stage = ?, lifecycle = ? WHERE key = ?`, string(l.Stage), string(after), key); err != nil {
			return err
		}
		if err := bump(ctx, tx); err != nil {
			return err
		}
		for _, t := range added {
			b, _ := json.Marshal(t)
			if err := db.audit(ctx, tx, "valueloop", "", "feature.transition", "feature:"+key, nil, b, t.Cause); err != nil {
				return err
			}
		}
		return nil
	})
	return added, err
}

// Lifecycles returns the stored lifecycle of every feature synced.
func (db *DB) Lifecycles(ctx context.Context) (map[string]value.Lifecycle, error) {
	rows, err := db.db.QueryContext(ctx, `SELECT key, lifecycle FROM features WHERE lifecycle <> '{}'`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: lifecycles: %w", err)
	}
	defer rows.Close()
	out := map[string]value.Lifecycle{}
	for rows.Next() {
		var key, l string
		if err := rows.Scan(&key, &l); err != nil {
			return nil, err
		}
		var lc value.Lifecycle
		if err := json.Unmarshal([]byte(l), &lc); err != nil {
			return nil, fmt.Errorf("sqlite: lifecycle of %s: %w", key, err)
		}
		out[key] = lc
	}
	return out, rows.Err()
}

var _ valuesvc.Evidence = (*DB)(nil)
