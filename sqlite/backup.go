package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
)

// Backup copies the store at path to dst as it is at one instant, while a
// server may be using it: VACUUM INTO reads one consistent snapshot (a
// read transaction, which in WAL mode does not hold the writer up) and
// writes a compact copy. The copy is written beside dst and renamed into
// place once complete and checked, so dst is never a half-written store.
// dst must not exist. The store is not migrated: a backup is of the
// schema the server has.
func Backup(ctx context.Context, path, dst string) (size int64, err error) {
	if _, err := os.Stat(path); err != nil {
		return 0, fmt.Errorf("sqlite: backup: no store at %s: %w", path, err)
	}
	if _, err := os.Stat(dst); err == nil {
		return 0, fmt.Errorf("sqlite: backup: %s exists: give a new file name", dst)
	}
	tmp := dst + ".partial"
	os.Remove(tmp)
	defer os.Remove(tmp)
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return 0, fmt.Errorf("sqlite: backup: open %s: %w", path, err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, tmp); err != nil {
		return 0, fmt.Errorf("sqlite: backup %s: %w", path, err)
	}
	if err := Check(ctx, tmp); err != nil {
		return 0, fmt.Errorf("sqlite: backup: the copy does not check: %w", err)
	}
	if err := syncFile(tmp); err != nil {
		return 0, err
	}
	if err := os.Rename(tmp, dst); err != nil {
		return 0, fmt.Errorf("sqlite: backup: %w", err)
	}
	fi, err := os.Stat(dst)
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// Check opens the file at path read-only and checks that it is a sound
// SQLite database holding a Valueloop store (its migrations are
// recorded); it changes nothing.
func Check(ctx context.Context, path string) error {
	if _, err := os.Stat(path); err != nil {
		return err
	}
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma="+url.QueryEscape("busy_timeout(10000)"))
	if err != nil {
		return err
	}
	defer db.Close()
	var verdict string
	if err := db.QueryRowContext(ctx, `PRAGMA quick_check`).Scan(&verdict); err != nil {
		return fmt.Errorf("%s is not a SQLite database: %w", path, err)
	}
	if verdict != "ok" {
		return fmt.Errorf("%s fails SQLite's check: %s", path, verdict)
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&n); err != nil || n == 0 {
		return fmt.Errorf("%s is a SQLite database but not a Valueloop store (no recorded migrations)", path)
	}
	return nil
}

// Restore puts the store at src in place as the store at path: src is
// checked, copied beside path, synced and renamed over it; the write-ahead
// log and shared memory files of a store formerly at path are removed
// (they belong to it and would corrupt the new one). The caller makes
// sure no server uses path (the data directory's lock).
func Restore(ctx context.Context, src, path string) error {
	if err := Check(ctx, src); err != nil {
		return fmt.Errorf("sqlite: restore: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("sqlite: restore: %w", err)
	}
	tmp := path + ".restoring"
	defer os.Remove(tmp)
	if err := copyFile(src, tmp); err != nil {
		return fmt.Errorf("sqlite: restore: %w", err)
	}
	for _, suffix := range []string{"-wal", "-shm", "-journal"} {
		if err := os.Remove(path + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("sqlite: restore: %w", err)
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("sqlite: restore: %w", err)
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
