package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"path"
	"sort"
)

// Migrations follow one scheme on both databases. A file is named
// NNNN_what.sql, numbered on one sequence shared by packages sqlite and
// postgres: a number is the same change of the schema on both, and a
// number one database has no use for is a gap in the other's files (0006,
// SQLite's event state, has no PostgreSQL counterpart: its ingestion keeps
// that state its own way). The next change of both takes the next free
// number in both directories. Applied migrations are recorded by file name
// in the table schema_migrations, which each package creates.
//
// A file renamed after it was applied somewhere is listed in the package's
// renamed map (former name → current name), so that a store migrated
// under the former name records it under the current one and neither runs
// it again nor skips it.

// Migrate applies in tx, in the order of their names, the migrations of
// fsys (its *.sql files, at its root) not recorded in schema_migrations,
// after renaming the records of renamed files. It returns the names it
// applied. A recorded name that is not a file of fsys is an error: the
// store was migrated by a newer version.
func Migrate(ctx context.Context, tx *sql.Tx, d Dialect, fsys fs.FS, renamed map[string]string) ([]string, error) {
	for from, to := range renamed {
		if _, err := tx.ExecContext(ctx, d.Rebind(`UPDATE schema_migrations SET name = ? WHERE name = ?`), to, from); err != nil {
			return nil, fmt.Errorf("rename migration %s to %s: %w", from, to, err)
		}
	}
	rows, err := tx.QueryContext(ctx, `SELECT name FROM schema_migrations`)
	if err != nil {
		return nil, err
	}
	done, err := collect(rows, func(rows *sql.Rows) (string, error) {
		var name string
		err := rows.Scan(&name)
		return name, err
	})
	if err != nil {
		return nil, err
	}
	applied := map[string]bool{}
	for _, name := range done {
		applied[name] = true
	}
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	// A recorded migration this version does not have was applied by a
	// newer version: its schema is one this code was not written for
	// (tables it does not know keep rows it would not maintain), so the
	// store is refused rather than served.
	known := map[string]bool{}
	for _, name := range names {
		known[path.Base(name)] = true
	}
	for _, name := range done {
		if !known[name] {
			return nil, fmt.Errorf("%s: recorded in schema_migrations but not a migration of this version: the store was migrated by a newer Valueloop; run that version, or restore a backup taken before the upgrade (docs/operations.md)", name)
		}
	}
	var ran []string
	for _, name := range names {
		base := path.Base(name)
		if applied[base] {
			continue
		}
		buf, err := fs.ReadFile(fsys, name)
		if err != nil {
			return ran, err
		}
		if _, err := tx.ExecContext(ctx, string(buf)); err != nil {
			return ran, fmt.Errorf("%s: %w", base, err)
		}
		if _, err := tx.ExecContext(ctx, d.Rebind(`INSERT INTO schema_migrations (name) VALUES (?)`), base); err != nil {
			return ran, err
		}
		ran = append(ran, base)
	}
	return ran, nil
}
