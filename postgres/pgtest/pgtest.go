// Package pgtest gives tests a fresh, empty PostgreSQL schema or database
// on the server named by VALUELOOP_TEST_POSTGRES, and drops it afterwards.
// Without that variable a test is skipped, except in CI (CI set), where a
// missing DSN fails the test instead of silently skipping it.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvVar names the variable holding the DSN of the test server.
const EnvVar = "VALUELOOP_TEST_POSTGRES"

// ServerDSN returns the DSN of the test server, or skips (fails in CI).
func ServerDSN(tb testing.TB) string {
	tb.Helper()
	dsn := os.Getenv(EnvVar)
	if dsn == "" {
		if os.Getenv("CI") != "" {
			tb.Fatalf("%s is not set: CI must run the PostgreSQL tests (.ci/run sets it)", EnvVar)
		}
		tb.Skipf("%s is not set; see README.md to run the PostgreSQL tests", EnvVar)
	}
	return dsn
}

// Schema creates a schema with a random name and returns a DSN whose
// search_path is that schema; the schema is dropped when the test ends. It
// is the fast way to isolate a test (milliseconds).
func Schema(tb testing.TB) string {
	tb.Helper()
	dsn := ServerDSN(tb)
	name := "vltest_" + random()
	exec(tb, dsn, "CREATE SCHEMA "+pgx.Identifier{name}.Sanitize())
	tb.Cleanup(func() { exec(tb, dsn, "DROP SCHEMA "+pgx.Identifier{name}.Sanitize()+" CASCADE") })
	return WithParam(tb, dsn, "search_path", name)
}

// Database creates a database with a random name and returns its DSN; it is
// dropped (its connections closed) when the test ends. Use it when the test
// acts on whole databases or connections (faults), or needs other settings
// than the server's default: options are added to CREATE DATABASE (say
// "TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en'").
func Database(tb testing.TB, options ...string) string {
	tb.Helper()
	dsn := ServerDSN(tb)
	name := "vltest_" + random()
	exec(tb, dsn, strings.Join(append([]string{"CREATE DATABASE " + pgx.Identifier{name}.Sanitize()}, options...), " "))
	tb.Cleanup(func() { exec(tb, dsn, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)") })
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme == "" {
		tb.Fatalf("%s must be a postgres:// URL for this test", EnvVar)
	}
	u.Path = "/" + name
	return u.String()
}

// Exec runs statements on the test server's maintenance connection (the
// database of VALUELOOP_TEST_POSTGRES).
func Exec(tb testing.TB, sql string, args ...any) {
	tb.Helper()
	exec(tb, ServerDSN(tb), sql, args...)
}

// WithParam returns dsn with a run-time parameter set.
func WithParam(tb testing.TB, dsn, key, value string) string {
	tb.Helper()
	if u, err := url.Parse(dsn); err == nil && u.Scheme != "" {
		q := u.Query()
		q.Set(key, value)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return strings.TrimSpace(dsn) + " " + key + "=" + value
}

func exec(tb testing.TB, dsn, sql string, args ...any) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		tb.Fatalf("pgtest: connect to the test server: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		tb.Fatalf("pgtest: %s: %v", sql, err)
	}
}

func random() string {
	var b [6]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
