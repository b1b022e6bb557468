package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/auth"
	"github.com/valueloop/valueloop/postgres"
	"github.com/valueloop/valueloop/sqlite"
)

const tokenRecoverMore = `Works on the store itself, not through a server: with the server stopped,
or running (a server on the same --data picks the new token up within
seconds; PostgreSQL nodes at once). Beside a running server it changes no
schema: a valueloop newer than the server refuses; use the server's version.
The new token is recorded in the audit trail (action token.create, actor
recovery:USER@HOST).

The old admin tokens stay valid: a lost token is not a leaked one. If one
may have leaked, add --revoke-others to revoke every other admin token in the
same step (each revocation is audited too).

VALUELOOP_ADMIN_TOKEN only creates the first admin token of a new store. To
make its value an admin token of an existing store, run this command with
--from-env.
`

// tokenRecoverCommand is `valueloop token recover`: a new admin token made
// directly in the store, for when every admin token is lost.
func tokenRecoverCommand() *command {
	return &command{name: "recover", args: "[--data DIR | --database postgres://...] [--name NAME] [--from-env] [--revoke-others]",
		summary: "make a new admin token directly in the store, when the admin token is lost", more: tokenRecoverMore, run: runTokenRecover}
}

func runTokenRecover(ctx context.Context, e *cliEnv, args []string) error {
	fs := newFlagSet(e, "token recover")
	data := fs.String("data", envOr(e, "VALUELOOP_DATA", "valueloop-data"), "data directory of the embedded store (VALUELOOP_DATA)")
	// Not the flag's default: help would print the URL's password.
	database := fs.String("database", "", "PostgreSQL URL of a shared store (VALUELOOP_DATABASE); wins over --data")
	name := fs.String("name", "", "name of the new token (default: recovered-admin-TIME)")
	fromEnv := fs.Bool("from-env", false, "use the value of VALUELOOP_ADMIN_TOKEN as the new token's secret instead of a new one")
	revoke := fs.Bool("revoke-others", false, "revoke every other admin token (when one may have leaked)")
	if err := e.parseNoArgs(fs, args); err != nil {
		return err
	}
	secret := ""
	if *fromEnv {
		if secret = e.getenv("VALUELOOP_ADMIN_TOKEN"); secret == "" {
			return usageErrorf("token recover: --from-env: VALUELOOP_ADMIN_TOKEN is not set")
		}
		if err := checkChosenAdminToken(secret, "VALUELOOP_ADMIN_TOKEN"); err != nil {
			return err
		}
	}
	if *name == "" {
		*name = "recovered-admin-" + time.Now().UTC().Format("20060102T150405")
	}
	if *database == "" {
		*database = e.getenv("VALUELOOP_DATABASE")
	}
	st, where, err := openRecoveryStore(*data, *database)
	if err != nil {
		return err
	}
	defer st.Close()
	tokens := auth.NewService(st)
	if err := tokens.Reload(ctx); err != nil {
		return err
	}
	actor := recoveryActor()
	t := &valueloop.Token{Name: *name, Scope: valueloop.ScopeAdmin}
	secret, err = tokens.Create(ctx, t, secret, actor)
	if err != nil {
		return fmt.Errorf("token recover: %w", err)
	}
	revoked := 0
	if *revoke {
		all, err := tokens.List(ctx)
		if err != nil {
			return err
		}
		for _, o := range all {
			if o.ID != t.ID && o.Scope == valueloop.ScopeAdmin && o.RevokedAt == nil {
				if err := tokens.Revoke(ctx, o.ID, actor); err != nil {
					return fmt.Errorf("token recover: the new token %q (id %d) exists, but revoking token %d failed: %w", t.Name, t.ID, o.ID, err)
				}
				revoked++
			}
		}
	}
	// The secret alone on stdout, so that scripts can capture it.
	if !*fromEnv {
		fmt.Fprintln(e.stdout, secret)
	}
	fmt.Fprintf(e.stderr, "Created admin token %q (id %d) in %s, recorded in the audit trail as %s.", t.Name, t.ID, where, actor)
	if !*fromEnv {
		fmt.Fprint(e.stderr, " The secret above is shown this once.")
	}
	if *revoke {
		fmt.Fprintf(e.stderr, "\nRevoked %d other admin token(s).", revoked)
	}
	fmt.Fprintln(e.stderr)
	return nil
}

// recoveryStore is what recovery needs of a store.
type recoveryStore interface {
	auth.Store
	Close() error
}

// openRecoveryStore opens the store of a server without serving it. It
// refuses a data directory without a store: a mistyped --data must not
// create an empty store holding the only admin token.
func openRecoveryStore(data, database string) (recoveryStore, string, error) {
	if database != "" {
		if !isPostgresDSN(database) {
			return nil, "", usageErrorf("--database: want a PostgreSQL URL such as postgres://valueloop@db.example:5432/valueloop")
		}
		db := postgres.NewDB(database)
		if err := db.Open(); err != nil {
			return nil, "", fmt.Errorf("--database: %w", err)
		}
		return db, db.Describe(), nil
	}
	path := filepath.Join(data, "valueloop.db")
	if _, err := os.Stat(path); err != nil {
		return nil, "", usageErrorf("--data %s: no Valueloop store there (%s: %v); give the --data directory the server uses, or --database", data, path, err)
	}
	// With no server on the directory, recovery holds its lock, so that
	// none starts (nor a restore replaces the file) meanwhile. Beside a
	// running server it works on the live store, SQLite serialising the
	// writes, but changes no schema: a newer valueloop would migrate the
	// store under the older server.
	db := sqlite.NewDB(path)
	unlock, err := lockDataDir(data, "token recover")
	var busy *dataDirBusy
	switch {
	case errors.As(err, &busy) && busy.holder == "serve":
		db.KeepSchema = true
		unlock = func() {}
	case errors.As(err, &busy):
		return nil, "", fmt.Errorf("--data %s: a valueloop %s (process %s) is using this data directory; run token recover when it has finished", data, busy.holder, busy.pid)
	case err != nil:
		return nil, "", err
	}
	if err := db.Open(); err != nil {
		unlock()
		if errors.Is(err, sqlite.ErrMigrationsPending) {
			return nil, "", fmt.Errorf("--data %s: a valueloop server (process %s) is running on this store, and this valueloop would migrate it under that server: %w; run the token recover of the server's version, or stop the server first", data, busy.pid, err)
		}
		return nil, "", err
	}
	return lockedStore{db, unlock}, "sqlite:" + path, nil
}

// lockedStore releases the data directory's lock when it is closed.
type lockedStore struct {
	recoveryStore
	unlock func()
}

func (s lockedStore) Close() error {
	defer s.unlock()
	return s.recoveryStore.Close()
}

// recoveryActor names who recovered, for the audit trail.
func recoveryActor() string {
	who := "unknown"
	if u, err := user.Current(); err == nil {
		who = u.Username
	}
	if host, err := os.Hostname(); err == nil {
		who += "@" + host
	}
	return "recovery:" + who
}
