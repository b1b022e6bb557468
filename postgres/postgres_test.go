package postgres_test

import (
	"strings"
	"sync"
	"testing"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/postgres"
	"github.com/valueloop/valueloop/postgres/pgtest"
	"github.com/valueloop/valueloop/storetest"
)

// The store-generic cases (delivery's included) are in the contract, run
// by TestContract; the tests of this package need PostgreSQL itself or
// several nodes.
var (
	_ storetest.Store                 = (*postgres.DB)(nil)
	_ storetest.DeliveryStore         = (*postgres.DB)(nil)
	_ storetest.EventStore            = (*postgres.DB)(nil)
	_ storetest.HypothesisStore       = (*postgres.DB)(nil)
	_ storetest.FixedDecisionStore    = (*postgres.DB)(nil)
	_ storetest.UserAggregatesReader  = (*postgres.DB)(nil)
	_ storetest.FlagsAggregatesReader = (*postgres.DB)(nil)
)

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T, clock *storetest.Clock) storetest.Store {
		return MustOpen(t, pgtest.Schema(t), clock)
	})
}

// MustOpen opens the store at dsn; it closes when the test ends.
func MustOpen(tb testing.TB, dsn string, clock *storetest.Clock) *postgres.DB {
	tb.Helper()
	db := postgres.NewDB(dsn)
	return storetest.Opened(tb, db, &db.Now, clock)
}

// TestMigrationsConcurrentStart opens several stores on one empty schema at
// once: each must come up, the migrations applied exactly once.
func TestMigrationsConcurrentStart(t *testing.T) {
	dsn := pgtest.Schema(t)
	const nodes = 4
	var wg sync.WaitGroup
	errs := make([]error, nodes)
	dbs := make([]*postgres.DB, nodes)
	for i := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dbs[i] = postgres.NewDB(dsn)
			errs[i] = dbs[i].Open()
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
		defer dbs[i].Close()
	}
	ctx := t.Context()
	if err := dbs[0].CreateEnvironment(ctx, valueloop.Environment{Key: "prod", Name: "prod"}, "t"); err != nil {
		t.Fatal(err)
	}
	envs, err := dbs[3].Environments(ctx)
	if err != nil || len(envs) != 1 {
		t.Errorf("another node sees %v, %v; want prod", envs, err)
	}
	// Reopening applies nothing and keeps the data.
	again := MustOpen(t, dsn, nil)
	if envs, err := again.Environments(ctx); err != nil || len(envs) != 1 {
		t.Errorf("after reopen: %v, %v", envs, err)
	}
}

// TestOpenErrors: a wrong DSN fails at Open with a message that names the
// problem and never the password.
func TestOpenErrors(t *testing.T) {
	server := pgtest.ServerDSN(t)
	const secret = "s3cr3t-Pa55"
	tests := []struct {
		name, dsn string
		want      string
	}{
		{"unreachable host", "postgres://valueloop:" + secret + "@127.0.0.1:1/valueloop?connect_timeout=2", "127.0.0.1:1"},
		{"not a DSN", "postgres://valueloop:" + secret + "@127.0.0.1:notaport/db", "not a valid connection string"},
		{"empty", "", "empty connection string"},
		{"unknown database", pgtest.WithParam(t, strings.Replace(server, "/postgres?", "/vl_no_such_db?", 1), "password", secret), "does not exist"},
		{"missing schema", pgtest.WithParam(t, server, "search_path", "vl_no_such_schema"), "no schema of the search_path"},
		{"pool too small", pgtest.WithParam(t, server, "pool_max_conns", "2"), "pool_max_conns is 2: at least 4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := postgres.NewDB(tt.dsn)
			err := db.Open()
			if err == nil {
				db.Close()
				t.Fatal("Open succeeded, want an error")
			}
			t.Logf("Open: %v", err)
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error %q prints the password", err)
			}
		})
	}
}

// TestDomainErrors checks that driver error codes, not messages, become
// domain errors: a duplicate key is a conflict, a missing parent not found.
func TestDomainErrors(t *testing.T) {
	s := MustOpen(t, pgtest.Schema(t), nil)
	ctx := t.Context()
	env := valueloop.Environment{Key: "prod", Name: "prod"}
	if err := s.CreateEnvironment(ctx, env, "t"); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateEnvironment(ctx, env, "t"); valueloop.ErrorCode(err) != valueloop.ECONFLICT {
		t.Errorf("duplicate environment: %v, want conflict", err)
	}
	if _, _, err := s.PutFlag(ctx, "ghost", &valueloop.Flag{Key: "x"}, -1, "t", ""); valueloop.ErrorCode(err) != valueloop.ENOTFOUND {
		t.Errorf("flag of a missing environment: %v, want not found", err)
	}
	bad := &valueloop.Token{Name: "x", Scope: "superuser"}
	if err := s.CreateToken(ctx, bad, []byte("0123456789abcdef0123456789abcdef"), "t"); valueloop.ErrorCode(err) != valueloop.EINVALID {
		t.Errorf("token with a scope the schema refuses: %v, want invalid", err)
	}
}

// TestDimensionOrderUnderLocaleCollation runs the contract's dimension case
// on a database whose default collation is a language's (ICU "en", where
// "de" sorts before "GB"), not the test server's C.UTF-8: the cells must
// come back in the bytewise order SQLite and a recomputation give, and a
// rebuild must find them unchanged.
func TestDimensionOrderUnderLocaleCollation(t *testing.T) {
	dsn := pgtest.Database(t, "TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en' LOCALE 'C.UTF-8'")
	storetest.DimensionAggregates(t, MustOpen(t, dsn, &storetest.Clock{}))
}
