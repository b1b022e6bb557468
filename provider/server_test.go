package provider_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/auth"
	"github.com/valueloop/valueloop/client"
	"github.com/valueloop/valueloop/flagd"
	"github.com/valueloop/valueloop/flags"
	"github.com/valueloop/valueloop/httpapi"
	"github.com/valueloop/valueloop/ingest"
	"github.com/valueloop/valueloop/provider"
	"github.com/valueloop/valueloop/sqlite"
	"github.com/valueloop/valueloop/sqlite/sqlitetest"
)

// testServer is the real Valueloop HTTP API (SQLite store, token service,
// live flag service), wired as `valueloop serve` wires it, on a free port.
// It can be stopped and started again on the same address.
type testServer struct {
	URL   string
	Admin string // admin token secret
	Eval  string // evaluate token secret for env "production"

	db     *sqlite.DB
	pipe   *ingest.Pipeline
	tokens *auth.Service
	flags  *flags.Service
	http   *httpapi.Server
	addr   string
	// Heartbeat of streams (short in tests, so idle streams stay visible).
	heartbeat time.Duration
	// NoEvents serves without the event endpoint, as a server from before
	// it existed (POST /api/v1/events answers 404). Takes effect at Start.
	NoEvents bool
}

const testEnv = "production"

// MustServe starts a server whose "production" environment holds
// testdata/flags.json.
func MustServe(tb testing.TB) *testServer {
	tb.Helper()
	ctx := context.Background()
	db := sqlitetest.Open(tb, nil)
	pipe := ingest.NewPipeline(db, nil)
	if err := pipe.Open(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { pipe.Close() })
	s := &testServer{db: db, pipe: pipe, tokens: auth.NewService(db), flags: flags.NewService(db, nil), addr: "127.0.0.1:0", heartbeat: time.Second}
	if err := s.tokens.Reload(ctx); err != nil {
		tb.Fatal(err)
	}
	if err := s.flags.Load(ctx); err != nil {
		tb.Fatal(err)
	}
	if err := s.flags.EnsureEnvironment(ctx, valueloop.Environment{Key: testEnv, Name: "Production", Production: true}, "test"); err != nil {
		tb.Fatal(err)
	}
	if _, err := s.flags.Apply(ctx, testEnv, MustParse(tb, "testdata/flags.json"), "test", "fixture"); err != nil {
		tb.Fatal(err)
	}
	var err error
	if s.Admin, err = s.tokens.Create(ctx, &valueloop.Token{Name: "admin", Scope: valueloop.ScopeAdmin}, "", "test"); err != nil {
		tb.Fatal(err)
	}
	if s.Eval, err = s.tokens.Create(ctx, &valueloop.Token{Name: "sdk", Scope: valueloop.ScopeEvaluate, Environment: testEnv}, "", "test"); err != nil {
		tb.Fatal(err)
	}
	s.Start(tb)
	tb.Cleanup(func() { s.Stop(tb) })
	return s
}

// Start serves (again) on the server's address.
func (s *testServer) Start(tb testing.TB) {
	tb.Helper()
	h := httpapi.NewServer(s.tokens, s.flags, s.db, nil)
	h.Addr = s.addr
	h.Heartbeat = s.heartbeat
	if !s.NoEvents {
		h.Events = &httpapi.Events{Pipeline: s.pipe, Store: s.db}
	}
	var err error
	for range 50 { // the port of a stopped server may take a moment to free
		if err = h.Open(); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		tb.Fatal(err)
	}
	s.http = h
	s.URL = h.URL()
	s.addr = s.URL[len("http://"):]
}

// Stop shuts the server down; open streams end.
func (s *testServer) Stop(tb testing.TB) {
	tb.Helper()
	if s.http == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.http.Close(ctx); err != nil {
		tb.Errorf("stop server: %v", err)
	}
	s.http = nil
}

// Client returns an admin API client.
func (s *testServer) Client() *client.Client { return client.New(s.URL, s.Admin) }

// NewProvider returns a provider for the server's "production" environment
// with short backoffs and no exposures (tests that want them turn them on).
func (s *testServer) NewProvider() *provider.Provider {
	p := provider.New(s.URL, testEnv, s.Eval)
	p.MinBackoff = 20 * time.Millisecond
	p.MaxBackoff = 200 * time.Millisecond
	p.InitTimeout = 10 * time.Second
	p.NoExposures = true
	return p
}

// MustParse reads and parses a flagd file.
func MustParse(tb testing.TB, path string) *valueloop.FlagSet {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	set, err := flagd.Parse(path, data)
	if err != nil {
		tb.Fatal(err)
	}
	return set
}

func envNamed(key string) valueloop.Environment { return valueloop.Environment{Key: key, Name: key} }

// StoredEvents returns the events the server stored for the environment.
func (s *testServer) StoredEvents(tb testing.TB) []ingest.Event {
	tb.Helper()
	var out []ingest.Event
	err := s.db.Events(context.Background(), testEnv, func(ev *ingest.Event) error {
		e := *ev
		e.Attributes = append([]byte(nil), ev.Attributes...)
		out = append(out, e)
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return out
}
