package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/sqlite"
)

const backupMore = `Copies the embedded SQLite store of --data to FILE as it is at one instant,
while the server runs (it need not be stopped): SQLite's VACUUM INTO reads
one consistent snapshot without holding up the server's writes. FILE must not
exist; it is written beside its final name and renamed once complete and
checked. 'valueloop restore FILE' puts it back.

PostgreSQL stores are backed up with PostgreSQL's tools (docs/operations.md):
    pg_dump --format=custom --file=valueloop.dump "$VALUELOOP_DATABASE"
`

const restoreMore = `Puts a store written by 'valueloop backup' in place as the store of --data.
The server must be stopped (restore takes the data directory's lock, as the
server does). A data directory that already holds a store is refused unless
--force: its store, with its write-ahead log, is replaced. FILE is checked
first (SQLite's quick_check, a Valueloop store); a backup of an older version
is migrated when the server next starts.

PostgreSQL stores are restored with pg_restore (docs/operations.md).
`

// backupCommand is `valueloop backup FILE`.
func backupCommand() *command {
	return &command{name: "backup", args: "FILE [--data DIR] [--output json]", more: backupMore, run: runBackup,
		summary: "copy the embedded store to FILE, consistent while the server runs"}
}

// restoreCommand is `valueloop restore FILE`.
func restoreCommand() *command {
	return &command{name: "restore", args: "FILE [--data DIR] [--force] [--output json]", more: restoreMore, run: runRestore,
		summary: "put a backup in place as the store of a stopped server"}
}

// storeFileFlags are the flags backup and restore share.
func storeFileFlags(e *cliEnv, fs *flag.FlagSet) (data, output *string) {
	data = fs.String("data", envOr(e, "VALUELOOP_DATA", "valueloop-data"), "data directory of the embedded store (VALUELOOP_DATA)")
	output = choice(fs, "output", "table", "output `FORMAT`: table or json", "table", "json")
	return data, output
}

// oneFile parses args to the one FILE argument, refusing PostgreSQL.
func (e *cliEnv) oneFile(fs *flag.FlagSet, args []string, name string, output *string) (string, error) {
	pos, err := e.parseArgs(fs, args)
	if err != nil {
		return "", err
	}
	if len(pos) != 1 {
		return "", usageErrorf("%s takes one FILE, got %q; run 'valueloop %s -h'", name, pos, name)
	}
	if e.getenv("VALUELOOP_DATABASE") != "" {
		return "", usageErrorf("%s: VALUELOOP_DATABASE is set: a PostgreSQL store is backed up with pg_dump and restored with pg_restore (docs/operations.md)", name)
	}
	return pos[0], nil
}

func runBackup(ctx context.Context, e *cliEnv, args []string) error {
	fs := newFlagSet(e, "backup")
	data, output := storeFileFlags(e, fs)
	file, err := e.oneFile(fs, args, "backup", output)
	if err != nil {
		return err
	}
	store := filepath.Join(*data, "valueloop.db")
	if _, err := os.Stat(store); err != nil {
		return valueloop.Errorf(valueloop.ENOTFOUND, "backup: --data %s: no Valueloop store there (no valueloop.db): give the data directory the server runs on", *data)
	}
	if _, err := os.Stat(file); err == nil {
		return usageErrorf("backup: %s already exists: give a new FILE name (a backup never overwrites a file)", file)
	}
	if fi, err := os.Stat(filepath.Dir(file)); err != nil || !fi.IsDir() {
		return valueloop.Errorf(valueloop.ENOTFOUND, "backup: no directory %s to write %s in: create it first", filepath.Dir(file), filepath.Base(file))
	}
	size, err := sqlite.Backup(ctx, store, file)
	if err != nil {
		return fmt.Errorf("backup: could not copy %s to %s (%v): check that %s is writable and has room, then run backup again", store, file, storeCause(err), filepath.Dir(file))
	}
	return e.report(*output, map[string]any{"store": store, "file": file, "bytes": size},
		fmt.Sprintf("Backed up %s to %s (%s bytes).", store, file, valueloop.GroupDigits(size)))
}

func runRestore(ctx context.Context, e *cliEnv, args []string) error {
	fs := newFlagSet(e, "restore")
	data, output := storeFileFlags(e, fs)
	force := fs.Bool("force", false, "replace the store the data directory holds")
	file, err := e.oneFile(fs, args, "restore", output)
	if err != nil {
		return err
	}
	if _, err := os.Stat(file); err != nil {
		return valueloop.Errorf(valueloop.ENOTFOUND, "restore: no file %s: give the file 'valueloop backup' wrote", file)
	}
	if err := sqlite.Check(ctx, file); err != nil {
		return valueloop.Errorf(valueloop.EINVALID, "restore: %v: give a file written by 'valueloop backup'; nothing was changed", err)
	}
	unlock, err := lockDataDir(*data, "restore")
	var busy *dataDirBusy
	if errors.As(err, &busy) {
		return valueloop.Errorf(valueloop.ECONFLICT, "restore: %v", err)
	} else if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	defer unlock()
	store := filepath.Join(*data, "valueloop.db")
	_, err = os.Stat(store)
	existed := err == nil
	if existed && !*force {
		return usageErrorf("restore: --data %s already holds a store (%s): give an empty data directory, or --force to replace it", *data, store)
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := sqlite.Restore(ctx, file, store); err != nil {
		return fmt.Errorf("restore: could not put %s in place as %s (%v): check that --data %s is writable and has room, then run restore again", file, store, storeCause(err), *data)
	}
	return e.report(*output, map[string]any{"store": store, "file": file, "replaced": existed},
		fmt.Sprintf("Restored %s from %s; start the server on --data %s.", store, file, *data))
}

// storeCause returns the cause of an error of package sqlite without its
// "sqlite: backup:" prefix, which means nothing to the user.
func storeCause(err error) error {
	if u := errors.Unwrap(err); u != nil && strings.HasPrefix(err.Error(), "sqlite: ") {
		return u
	}
	return err
}

// report writes a command's outcome: v as JSON, or the line.
func (e *cliEnv) report(output string, v any, line string) error {
	if output == "json" {
		enc := json.NewEncoder(e.dataOut())
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	_, err := fmt.Fprintln(e.stdout, line)
	return err
}
