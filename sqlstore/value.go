package sqlstore

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
	"github.com/valueloop/valueloop/features"
	"github.com/valueloop/valueloop/value"
)

// The value loop's store (migration 0009_value.sql on both databases):
// objectives and features as JSON definitions, the lifecycle package features
// derives for each feature, moves by hand, the changes recognised as a
// feature's and when linked flags were seen serving users.

var (
	_ features.Store         = (*Store)(nil)
	_ features.ChangesReader = (*Store)(nil)
)

// Objectives returns every objective, by key.
func (s *Store) Objectives(ctx context.Context) ([]value.Objective, error) {
	return s.objectives(ctx, s.read(), "")
}

// Objective returns one objective; ENOTFOUND when there is none.
func (s *Store) Objective(ctx context.Context, key string) (*value.Objective, error) {
	os, err := s.objectives(ctx, s.read(), ` WHERE key = ?`, key)
	if err != nil {
		return nil, err
	}
	if len(os) == 0 {
		return nil, valueloop.Errorf(valueloop.ENOTFOUND, "no objective %q", key)
	}
	return &os[0], nil
}

// ObjectivePage returns, by key, at most limit objectives whose keys sort
// after after.
func (s *Store) ObjectivePage(ctx context.Context, after string, limit int) ([]value.Objective, error) {
	return s.objectives(ctx, s.read(), ` WHERE key > ? ORDER BY key LIMIT ?`, after, limit)
}

// objectives reads the objectives rest selects (see definitions).
func (s *Store) objectives(ctx context.Context, q querier, rest string, args ...any) ([]value.Objective, error) {
	return definitions(ctx, s, q, "objectives", rest, args, func(o *value.Objective) (*time.Time, *time.Time) {
		return &o.CreatedAt, &o.UpdatedAt
	})
}

// definitions reads the rows of table (objectives or features) that rest
// selects (a WHERE clause and its order and limit; "": all, by key): each
// row's definition in JSON, with the times its columns keep, which times
// points to.
func definitions[T any](ctx context.Context, s *Store, q querier, table, rest string, args []any, times func(*T) (created, updated *time.Time)) ([]T, error) {
	if rest == "" {
		rest = ` ORDER BY key`
	}
	rows, err := q.Query(ctx, `SELECT definition, created_at, updated_at FROM `+table+rest, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", s.o.D.Name, table, err)
	}
	out, err := collectList(rows, func(rows *sql.Rows) (T, error) {
		var x T
		var def string
		var created, updated time.Time
		if err := rows.Scan(&def, timeDest{&created}, timeDest{&updated}); err != nil {
			return x, err
		}
		err := json.Unmarshal([]byte(def), &x)
		c, u := times(&x)
		*c, *u = created, updated
		return x, err
	})
	return out, err
}

// Features returns every feature, by key.
func (s *Store) Features(ctx context.Context) ([]value.Feature, error) {
	return s.features(ctx, s.read(), "")
}

// Feature returns one feature; ENOTFOUND when there is none.
func (s *Store) Feature(ctx context.Context, key string) (*value.Feature, error) {
	fs, err := s.features(ctx, s.read(), ` WHERE key = ?`, key)
	if err != nil {
		return nil, err
	}
	if len(fs) == 0 {
		return nil, valueloop.Errorf(valueloop.ENOTFOUND, "no feature %q (see 'valueloop feature list')", key)
	}
	return &fs[0], nil
}

// features reads the features rest selects (see definitions).
func (s *Store) features(ctx context.Context, q querier, rest string, args ...any) ([]value.Feature, error) {
	return definitions(ctx, s, q, "features", rest, args, func(f *value.Feature) (*time.Time, *time.Time) {
		return &f.CreatedAt, &f.UpdatedAt
	})
}

// definitionJSON encodes an objective or feature without the times its
// columns keep.
func definitionJSON(v any) ([]byte, error) {
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
	return nil, fmt.Errorf("cannot store %T", v)
}

// bump marks a write of what next and flow read: package features caches it until
// the version changes. It returns the new version, which the written
// feature's changed column takes. The version row's lock orders writers, so
// a version is visible only once every write numbered below it is.
func (s *Store) bump(ctx context.Context, tx Tx) (int64, error) {
	if _, err := tx.Exec(ctx, `UPDATE value_version SET version = version + 1`); err != nil {
		return 0, err
	}
	var v int64
	err := tx.QueryRow(ctx, `SELECT version FROM value_version`).Scan(&v)
	return v, err
}

// ValueVersion grows with every write of objectives and features and
// every change of a lifecycle: what next and flow read.
func (s *Store) ValueVersion(ctx context.Context) (int64, error) {
	var v int64
	err := s.read().QueryRow(ctx, `SELECT version FROM value_version`).Scan(&v)
	return v, err
}

// PutObjective creates or replaces o (validated by the caller) and sets
// its times. Audited: objective.create or objective.update.
func (s *Store) PutObjective(ctx context.Context, o *value.Objective, actor string) error {
	return s.write(ctx, func(tx Tx) error { return s.putObjective(ctx, tx, o, "", actor) })
}

// PutObjectiveIf writes o only over the stored objective at version (see
// value.Objective.Version, value.VersionMatches): ECONFLICT, storing
// nothing, when it changed since or is gone.
func (s *Store) PutObjectiveIf(ctx context.Context, o *value.Objective, version, actor string) error {
	return s.write(ctx, func(tx Tx) error { return s.putObjective(ctx, tx, o, version, actor) })
}

// putObjective writes o; with a version, only over the stored objective at it.
func (s *Store) putObjective(ctx context.Context, tx Tx, o *value.Objective, version, actor string) error {
	before, created, action, err := s.storedForWrite(ctx, tx, "objective", o.Key, version, &value.Objective{})
	if err != nil {
		return err
	}
	after, err := definitionJSON(o)
	if err != nil || before == string(after) {
		return err
	}
	now := s.now()
	if _, err := tx.Exec(ctx, `INSERT INTO objectives (key, definition, created_at, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (key) DO UPDATE SET definition = excluded.definition, updated_at = excluded.updated_at`,
		o.Key, string(after), s.o.D.Time(created), s.o.D.Time(now)); err != nil {
		return fmt.Errorf("%s: store objective %s: %w", s.o.D.Name, o.Key, err)
	}
	o.CreatedAt, o.UpdatedAt = created, now
	if _, err := s.bump(ctx, tx); err != nil {
		return err
	}
	return s.audit(ctx, tx, actor, "", action, "objective:"+o.Key, nullBytes(before), after, "")
}

// storedForWrite reads, locked for the write, the stored definition of
// what key (a row of the table named what+"s") and its creation time, and
// names the write for the audit trail: what.update, or, when none is
// stored, what.create with before "" and created now. A write expecting a
// version it does not meet is refused (checkVersion; stored decodes the
// definition).
func (s *Store) storedForWrite(ctx context.Context, tx Tx, what, key, version string, stored interface{ Version() string }) (before string, created time.Time, action string, err error) {
	err = tx.QueryRow(ctx, `SELECT definition, created_at FROM `+what+`s WHERE key = ?`+s.o.D.ForUpdate, key).Scan(&before, timeDest{&created})
	switch {
	case errors.Is(err, sql.ErrNoRows):
		before, created, action = "", s.now(), what+".create"
	case err != nil:
		return "", time.Time{}, "", err
	default:
		action = what + ".update"
	}
	if err := s.checkVersion(what, key, before, version, stored); err != nil {
		return "", time.Time{}, "", err
	}
	return before, created, action, nil
}

// checkVersion refuses a write expecting version of what over a stored
// definition before ("" when none is stored) that does not meet it (see
// value.VersionMatches): ECONFLICT over another version, ENOTFOUND when
// none is stored, whatever the version expected, as a flag's write (a
// condition needs a stored definition, RFC 9110 13.1.1, and the write
// creates nothing). No version expects nothing. stored decodes before.
func (s *Store) checkVersion(what, key, before, version string, stored interface{ Version() string }) error {
	switch {
	case version == "":
		return nil
	case before == "":
		return valueloop.Errorf(valueloop.ENOTFOUND, "%s %q not found (never stored, or deleted since it was read), and If-Match writes only over a stored one: nothing was created", what, key)
	case version == value.AnyVersion:
		return nil
	}
	if err := json.Unmarshal([]byte(before), stored); err != nil {
		return fmt.Errorf("%s: read %s %s: %w", s.o.D.Name, what, key, err)
	}
	if now := stored.Version(); !value.VersionMatches(version, now) {
		return valueloop.Errorf(valueloop.ECONFLICT, "%s %q changed since version %s was read (it is at %s now): read it again and redo the change", what, key, version, now)
	}
	return nil
}

func nullBytes(s string) []byte {
	if s == "" {
		return nil
	}
	return []byte(s)
}

// DeleteObjective deletes an objective no feature bets on.
func (s *Store) DeleteObjective(ctx context.Context, key, actor string) error {
	return s.write(ctx, func(tx Tx) error { return s.deleteObjective(ctx, tx, key, actor) })
}

func (s *Store) deleteObjective(ctx context.Context, tx Tx, key, actor string) error {
	return s.deleteStored(ctx, tx, "objective", key, actor, func() error {
		var n int
		var one string
		if err := tx.QueryRow(ctx, `SELECT count(*), coalesce(min(key), '') FROM features WHERE objective = ?`, key).Scan(&n, &one); err != nil {
			return err
		}
		switch {
		case n == 1:
			return valueloop.Errorf(valueloop.ECONFLICT, "objective %q has 1 feature (%s): delete or move it first", key, one)
		case n > 1:
			return valueloop.Errorf(valueloop.ECONFLICT, "objective %q has %d features (%s, …): delete or move them first", key, n, one)
		}
		return nil
	})
}

// deleteStored deletes what key (a row of the table named what+"s"),
// ENOTFOUND when none is stored, unless refuse, run once the row is
// locked, returns an error. Audited: what.delete.
func (s *Store) deleteStored(ctx context.Context, tx Tx, what, key, actor string, refuse func() error) error {
	var before string
	if err := tx.QueryRow(ctx, `SELECT definition FROM `+what+`s WHERE key = ?`+s.o.D.ForUpdate, key).Scan(&before); errors.Is(err, sql.ErrNoRows) {
		return valueloop.Errorf(valueloop.ENOTFOUND, "no %s %q", what, key)
	} else if err != nil {
		return err
	}
	if refuse != nil {
		if err := refuse(); err != nil {
			return err
		}
	}
	if _, err := tx.Exec(ctx, `DELETE FROM `+what+`s WHERE key = ?`, key); err != nil {
		return err
	}
	if _, err := s.bump(ctx, tx); err != nil {
		return err
	}
	return s.audit(ctx, tx, actor, "", what+".delete", what+":"+key, []byte(before), nil, "")
}

// PutFeature creates or replaces f (validated by the caller); a field
// error on objective when its objective does not exist. A new feature
// keeps a creation time it carries (the demo's history). Audited.
func (s *Store) PutFeature(ctx context.Context, f *value.Feature, actor string) error {
	return s.write(ctx, func(tx Tx) error { return s.putFeature(ctx, tx, f, "", actor) })
}

// PutFeatureIf writes f only over the stored feature at version (see
// value.Feature.Version, value.VersionMatches): ECONFLICT, storing
// nothing, when it changed since or is gone.
func (s *Store) PutFeatureIf(ctx context.Context, f *value.Feature, version, actor string) error {
	return s.write(ctx, func(tx Tx) error { return s.putFeature(ctx, tx, f, version, actor) })
}

// putFeature writes f; with a version, only over the stored feature at it.
func (s *Store) putFeature(ctx context.Context, tx Tx, f *value.Feature, version, actor string) error {
	before, created, action, err := s.storedForWrite(ctx, tx, "feature", f.Key, version, &value.Feature{})
	if err != nil {
		return err
	}
	if before == "" && !f.CreatedAt.IsZero() {
		created = f.CreatedAt.UTC()
	}
	var exists int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM objectives WHERE key = ?`, f.Objective).Scan(&exists); err != nil {
		return err
	} else if exists == 0 {
		return valueloop.FieldErrorf("objective", "no objective %q", f.Objective)
	}
	after, err := definitionJSON(f)
	if err != nil || before == string(after) {
		return err
	}
	now := s.now()
	v, err := s.bump(ctx, tx)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO features (key, objective, definition, created_at, updated_at, changed) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (key) DO UPDATE SET objective = excluded.objective, definition = excluded.definition, updated_at = excluded.updated_at, changed = excluded.changed`,
		f.Key, f.Objective, string(after), s.o.D.Time(created), s.o.D.Time(now), v); err != nil {
		return fmt.Errorf("%s: store feature %s: %w", s.o.D.Name, f.Key, err)
	}
	f.CreatedAt, f.UpdatedAt = created, now
	return s.audit(ctx, tx, actor, "", action, "feature:"+f.Key, nullBytes(before), after, "")
}

// DeleteFeature deletes a feature with its moves and links.
func (s *Store) DeleteFeature(ctx context.Context, key, actor string) error {
	return s.write(ctx, func(tx Tx) error { return s.deleteFeature(ctx, tx, key, actor) })
}

func (s *Store) deleteFeature(ctx context.Context, tx Tx, key, actor string) error {
	return s.deleteStored(ctx, tx, "feature", key, actor, nil)
}

// ApplyValue writes ops, taking the definitions from file, in one
// transaction.
func (s *Store) ApplyValue(ctx context.Context, file *value.File, ops []value.Op, actor string) error {
	objs := map[string]*value.Objective{}
	for i := range file.Objectives {
		objs[file.Objectives[i].Key] = &file.Objectives[i]
	}
	fs := map[string]*value.Feature{}
	for i := range file.Features {
		fs[file.Features[i].Key] = &file.Features[i]
	}
	return s.write(ctx, func(tx Tx) error {
		for _, op := range ops {
			var err error
			switch {
			case op.Kind == "objective" && op.Action != "delete":
				err = s.putObjective(ctx, tx, objs[op.Key], "", actor)
			case op.Kind == "feature" && op.Action != "delete":
				err = s.putFeature(ctx, tx, fs[op.Key], "", actor)
			case op.Kind == "feature":
				err = s.deleteFeature(ctx, tx, op.Key, actor)
			case op.Kind == "objective":
				err = s.deleteObjective(ctx, tx, op.Key, actor)
			}
			if err != nil {
				return fmt.Errorf("%s %s %s: %w", op.Action, op.Kind, op.Key, err)
			}
		}
		return nil
	})
}

// MoveFeature records a transition by hand at at (now when zero).
// Audited: feature.move.
func (s *Store) MoveFeature(ctx context.Context, key string, stage value.Stage, reason, actor string, at time.Time) (value.Event, error) {
	var e value.Event
	err := s.write(ctx, func(tx Tx) error {
		var seq int64
		err := tx.QueryRow(ctx, `SELECT coalesce(max(m.seq), 0) + 1 FROM features f LEFT JOIN feature_moves m ON m.feature = f.key WHERE f.key = ? GROUP BY f.key`, key).Scan(&seq)
		if errors.Is(err, sql.ErrNoRows) {
			return valueloop.Errorf(valueloop.ENOTFOUND, "no feature %q", key)
		} else if err != nil {
			return err
		}
		if at.IsZero() {
			at = s.now()
		}
		at = at.UTC()
		if _, err := tx.Exec(ctx, `INSERT INTO feature_moves (feature, seq, stage, reason, actor, at) VALUES (?, ?, ?, ?, ?, ?)`,
			key, seq, string(stage), reason, actor, s.o.D.Time(at)); err != nil {
			return err
		}
		e = value.MovedEvent(key, seq, stage, at, actor, reason)
		after, _ := json.Marshal(map[string]string{"stage": string(stage)})
		return s.audit(ctx, tx, actor, "", "feature.move", "feature:"+key, nil, after, reason)
	})
	return e, err
}

// Moves returns the transitions made by hand of a feature, oldest first.
func (s *Store) Moves(ctx context.Context, key string) ([]value.Event, error) {
	rows, err := s.read().Query(ctx, `SELECT seq, stage, reason, actor, at FROM feature_moves WHERE feature = ? ORDER BY seq`, key)
	if err != nil {
		return nil, fmt.Errorf("%s: moves: %w", s.o.D.Name, err)
	}
	return collect(rows, func(rows *sql.Rows) (value.Event, error) {
		var seq int64
		var stage, reason, actor string
		var at time.Time
		err := rows.Scan(&seq, &stage, &reason, &actor, timeDest{&at})
		return value.MovedEvent(key, seq, value.Stage(stage), at, actor, reason), err
	})
}

// LinkChanges stores links of changes to features; links to features that
// do not exist are skipped. It returns how many links were new.
func (s *Store) LinkChanges(ctx context.Context, links []features.ChangeLink) (int, error) {
	n := 0
	err := s.write(ctx, func(tx Tx) error {
		n = 0
		for _, l := range links {
			c, err := json.Marshal(l.Change)
			if err != nil {
				return err
			}
			res, err := tx.Exec(ctx, `INSERT INTO feature_changes (feature, repo, sha, change, recognised_by)
				SELECT key, ?, ?, ?, ? FROM features WHERE key = ? ON CONFLICT DO NOTHING`,
				strings.ToLower(l.Change.Repo), strings.ToLower(l.Change.SHA), string(c), l.By, l.Feature)
			if err != nil {
				return fmt.Errorf("%s: link change: %w", s.o.D.Name, err)
			}
			k, _ := res.RowsAffected()
			n += int(k)
		}
		return nil
	})
	return n, err
}

// FeatureChanges returns the changes linked to a feature.
func (s *Store) FeatureChanges(ctx context.Context, key string) ([]features.ChangeLink, error) {
	rows, err := s.read().Query(ctx, `SELECT change, recognised_by FROM feature_changes WHERE feature = ? ORDER BY repo, sha`, key)
	if err != nil {
		return nil, fmt.Errorf("%s: feature changes: %w", s.o.D.Name, err)
	}
	return collect(rows, func(rows *sql.Rows) (features.ChangeLink, error) {
		l := features.ChangeLink{Feature: key}
		var c string
		if err := rows.Scan(&c, &l.By); err != nil {
			return l, err
		}
		return l, json.Unmarshal([]byte(c), &l.Change)
	})
}

// SeeFlags records sightings: the first time seen stays, the last and the
// users rise.
func (s *Store) SeeFlags(ctx context.Context, seen []features.Sighting) error {
	return s.write(ctx, func(tx Tx) error {
		for _, x := range seen {
			_, err := tx.Exec(ctx, `INSERT INTO flag_sightings (environment, flag, first_seen, last_seen, users) VALUES (?, ?, ?, ?, ?)
				ON CONFLICT (environment, flag) DO UPDATE SET
				first_seen = CASE WHEN excluded.first_seen < flag_sightings.first_seen THEN excluded.first_seen ELSE flag_sightings.first_seen END,
				last_seen = CASE WHEN excluded.last_seen > flag_sightings.last_seen THEN excluded.last_seen ELSE flag_sightings.last_seen END,
				users = CASE WHEN excluded.users > flag_sightings.users THEN excluded.users ELSE flag_sightings.users END`,
				x.Environment, x.Flag, s.o.D.Time(x.FirstSeen), s.o.D.Time(x.LastSeen), x.Users)
			if err != nil {
				return fmt.Errorf("%s: flag sighting: %w", s.o.D.Name, err)
			}
		}
		return nil
	})
}

// Sightings returns every flag sighting.
func (s *Store) Sightings(ctx context.Context) ([]features.Sighting, error) {
	rows, err := s.read().Query(ctx, `SELECT environment, flag, first_seen, last_seen, users FROM flag_sightings ORDER BY environment, flag`)
	if err != nil {
		return nil, fmt.Errorf("%s: sightings: %w", s.o.D.Name, err)
	}
	return collect(rows, func(rows *sql.Rows) (features.Sighting, error) {
		var x features.Sighting
		err := rows.Scan(&x.Environment, &x.Flag, timeDest{&x.FirstSeen}, timeDest{&x.LastSeen}, &x.Users)
		return x, err
	})
}

// SaveLifecycle stores l as the lifecycle of feature key and audits each
// transition it has that the stored one had not (the same stage through the
// same event): action feature.transition, the cause as reason.
func (s *Store) SaveLifecycle(ctx context.Context, key string, l *value.Lifecycle) ([]value.Transition, error) {
	var added []value.Transition
	err := s.write(ctx, func(tx Tx) error {
		added = nil
		var old string
		err := tx.QueryRow(ctx, `SELECT lifecycle FROM features WHERE key = ?`+s.o.D.ForUpdate, key).Scan(&old)
		if errors.Is(err, sql.ErrNoRows) {
			return valueloop.Errorf(valueloop.ENOTFOUND, "no feature %q", key)
		} else if err != nil {
			return err
		}
		after, err := json.Marshal(l)
		if err != nil || old == string(after) {
			return err
		}
		var prev value.Lifecycle
		_ = json.Unmarshal([]byte(old), &prev)
		for _, t := range l.Transitions {
			if !slices.ContainsFunc(prev.Transitions, func(p value.Transition) bool { return p.To == t.To && p.Event == t.Event }) {
				added = append(added, t)
			}
		}
		v, err := s.bump(ctx, tx)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE features SET stage = ?, lifecycle = ?, changed = ? WHERE key = ?`, string(l.Stage), string(after), v, key); err != nil {
			return err
		}
		for _, t := range added {
			b, _ := json.Marshal(t)
			if err := s.audit(ctx, tx, "valueloop", "", "feature.transition", "feature:"+key, nil, b, t.Cause); err != nil {
				return err
			}
		}
		return nil
	})
	return added, err
}

// Lifecycles returns the stored lifecycle of every feature synced.
func (s *Store) Lifecycles(ctx context.Context) (map[string]value.Lifecycle, error) {
	rows, err := s.read().Query(ctx, `SELECT key, lifecycle FROM features WHERE lifecycle <> '{}'`)
	if err != nil {
		return nil, fmt.Errorf("%s: lifecycles: %w", s.o.D.Name, err)
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
			return nil, fmt.Errorf("%s: lifecycle of %s: %w", s.o.D.Name, key, err)
		}
		out[key] = lc
	}
	return out, rows.Err()
}

// ValueChanges reads, in one transaction, the version, every objective, the
// features written or with a lifecycle changed at a version above since
// (all of them when since < 0), with their lifecycles, and how many
// features there are.
func (s *Store) ValueChanges(ctx context.Context, since int64) (*features.Changes, error) {
	out := &features.Changes{}
	err := s.readTx(ctx, func(tx Tx) error {
		if err := tx.QueryRow(ctx, `SELECT version FROM value_version`).Scan(&out.Version); err != nil {
			return err
		}
		var err error
		if out.Objectives, err = s.objectives(ctx, tx, ""); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM features`).Scan(&out.Count); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT definition, created_at, updated_at, lifecycle FROM features WHERE changed > ? ORDER BY key`, since)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			f, l, _, err := scanFeatureLifecycle(rows)
			if err != nil {
				return err
			}
			out.Features = append(out.Features, f)
			out.Lifecycles = append(out.Lifecycles, l)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("%s: value changes: %w", s.o.D.Name, err)
	}
	return out, nil
}

// FeaturePage returns, by key, the page of features q selects with their
// stored lifecycles. The stage column (the lifecycle's, idea until one is
// stored) selects by stage, so the features of other stages are not read.
func (s *Store) FeaturePage(ctx context.Context, q features.FeatureQuery) ([]features.ListedFeature, error) {
	where, args := []string{"key > ?"}, []any{q.After}
	if q.Objective != "" {
		where, args = append(where, "objective = ?"), append(args, q.Objective)
	}
	if q.Stage != "" {
		where, args = append(where, "stage = ?"), append(args, string(q.Stage))
	}
	rows, err := s.read().Query(ctx, `SELECT definition, created_at, updated_at, lifecycle FROM features WHERE `+
		strings.Join(where, " AND ")+` ORDER BY key LIMIT ?`, append(args, q.Limit)...)
	if err != nil {
		return nil, fmt.Errorf("%s: features: %w", s.o.D.Name, err)
	}
	out, err := collectList(rows, func(rows *sql.Rows) (features.ListedFeature, error) {
		f, l, stored, err := scanFeatureLifecycle(rows)
		if !stored {
			l.Stage = value.Idea
		}
		return features.ListedFeature{Feature: f, Lifecycle: l}, err
	})
	if err != nil {
		return nil, fmt.Errorf("%s: features: %w", s.o.D.Name, err)
	}
	return out, nil
}

// scanFeatureLifecycle reads a row of definition, created_at, updated_at
// and lifecycle: the feature and its lifecycle, which is the zero
// Lifecycle (and stored false) when none is stored.
func scanFeatureLifecycle(rows *sql.Rows) (f value.Feature, l value.Lifecycle, stored bool, err error) {
	var def, lc string
	var created, updated time.Time
	if err := rows.Scan(&def, timeDest{&created}, timeDest{&updated}, &lc); err != nil {
		return f, l, false, err
	}
	if err := json.Unmarshal([]byte(def), &f); err != nil {
		return f, l, false, err
	}
	f.CreatedAt, f.UpdatedAt = created, updated
	if lc == "{}" {
		return f, l, false, nil
	}
	if err := json.Unmarshal([]byte(lc), &l); err != nil {
		return f, l, false, fmt.Errorf("lifecycle of %s: %w", f.Key, err)
	}
	return f, l, true, nil
}
