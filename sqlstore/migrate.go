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
	todo, err := pending(ctx, tx, fsys, nil)
	if err != nil {
		return nil, err
	}
	var ran []string
	for _, name := range todo {
		base := path.Base(name)
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

// Pending returns the names of the migrations of fsys that Migrate would
// apply, reading only: a process that must not change the schema of a
// store another process serves asks it first. Records of renamed files
// count under their current names; a record of a newer version is the
// error Migrate returns.
func Pending(ctx context.Context, q Querier, fsys fs.FS, renamed map[string]string) ([]string, error) {
	names, err := pending(ctx, q, fsys, renamed)
	for i, name := range names {
		names[i] = path.Base(name)
	}
	return names, err
}

// Querier is what Pending reads with: a *sql.DB or a *sql.Tx.
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// pending returns the paths in fsys of the migrations not recorded in
// schema_migrations, in order, reading records of renamed files under
// their current names.
func pending(ctx context.Context, q Querier, fsys fs.FS, renamed map[string]string) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT name FROM schema_migrations`)
	if err != nil {
		return nil, err
	}
	done, err := collect(rows, func(rows *sql.Rows) (string, error) {
		var name string
		err := rows.Scan(&name)
		if to, ok := renamed[name]; ok {
			name = to
		}
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
	var todo []string
	for _, name := range names {
		if !applied[path.Base(name)] {
			todo = append(todo, name)
		}
	}
	return todo, nil
}
