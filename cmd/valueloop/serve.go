package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/auth"
	"github.com/valueloop/valueloop/demo"
	"github.com/valueloop/valueloop/flagd"
	"github.com/valueloop/valueloop/flags"
	"github.com/valueloop/valueloop/httpapi"
	"github.com/valueloop/valueloop/valuesvc"
)

// serveConfig is the configuration of `valueloop serve`: flags over
// environment variables over defaults.
type serveConfig struct {
	Addr       string
	DataDir    string
	Database   string // PostgreSQL DSN; may hold a password: never printed
	Demo       bool
	FlagFiles  []flagFile
	AdminToken string // secret; never printed
	LogLevel   slog.Level
	Rollouts   rolloutConfig // webhooks and engine interval (rollout.go)
	// Ready, if set, receives the server's base URL once it serves (tests).
	Ready func(url string)
}

type flagFile struct{ Env, Path string }

// flagFiles collects repeated --flags-file ENV=PATH values.
type flagFiles []flagFile

func (f *flagFiles) String() string { return fmt.Sprint(*f) }

func (f *flagFiles) Set(v string) error {
	env, path, ok := strings.Cut(v, "=")
	if !ok || env == "" || path == "" {
		return fmt.Errorf("want ENV=PATH, e.g. production=flags.json")
	}
	*f = append(*f, flagFile{Env: env, Path: path})
	return nil
}

func serveCommand() *command {
	return &command{name: "serve", args: "[--addr 127.0.0.1:8080] [--data DIR | --database postgres://...] [--demo] [--flags-file ENV=PATH ...]",
		summary: "run the server: OFREP, the API, the rollout engine and event ingestion", more: serveMore, run: runServe}
}

const serveMore = `Environment: VALUELOOP_ADMIN_TOKEN sets the first admin token of a new store;
VALUELOOP_WEBHOOK_SECRET signs the --webhook deliveries.
`

func runServe(ctx context.Context, e *cliEnv, args []string) error {
	cfg := serveConfig{}
	fs := newFlagSet(e, "serve")
	fs.StringVar(&cfg.Addr, "addr", envOr(e, "VALUELOOP_ADDR", "127.0.0.1:8080"), "address to listen on (VALUELOOP_ADDR)")
	fs.StringVar(&cfg.DataDir, "data", envOr(e, "VALUELOOP_DATA", "valueloop-data"), "directory of the embedded database (VALUELOOP_DATA)")
	fs.StringVar(&cfg.Database, "database", e.getenv("VALUELOOP_DATABASE"),
		"postgres://USER[:PASSWORD]@HOST:PORT/DATABASE of a PostgreSQL database shared by several nodes (VALUELOOP_DATABASE); default: the embedded store in --data")
	fs.BoolVar(&cfg.Demo, "demo", false, "load the demo data set into empty environments")
	var files flagFiles
	fs.Var(&files, "flags-file", "ENV=PATH of a flagd file to serve for ENV and watch for changes (repeatable)")
	cfg.Rollouts.register(e, fs)
	logLevel := fs.String("log-level", envOr(e, "VALUELOOP_LOG_LEVEL", "info"), "debug, info, warn or error")
	if err := e.parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf("serve takes no arguments, got %q", fs.Args())
	}
	if cfg.Database != "" && !isPostgresDSN(cfg.Database) {
		return usageErrorf("--database: want a PostgreSQL URL such as postgres://valueloop@db.example:5432/valueloop; leave it out to use the embedded store in --data")
	}
	cfg.FlagFiles = files
	if err := cfg.Rollouts.check(); err != nil {
		return err
	}
	cfg.AdminToken = e.getenv("VALUELOOP_ADMIN_TOKEN")
	if err := cfg.LogLevel.UnmarshalText([]byte(*logLevel)); err != nil {
		return usageErrorf("--log-level: %v", err)
	}
	return serve(ctx, e, cfg)
}

func envOr(e *cliEnv, name, def string) string {
	if v := e.getenv(name); v != "" {
		return v
	}
	return def
}

// serve runs the server until ctx ends.
func serve(ctx context.Context, e *cliEnv, cfg serveConfig) error {
	logger := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))

	st, err := openStorage(cfg, logger)
	if err != nil {
		return err
	}
	defer st.Close()
	db := st.store

	tokens := auth.NewService(db)
	if err := tokens.Reload(ctx); err != nil {
		return err
	}
	svc := flags.NewService(db, logger)
	if err := svc.Load(ctx); err != nil {
		return err
	}
	if err := seed(ctx, e, cfg, svc, logger); err != nil {
		return err
	}
	if err := bootstrapAdmin(ctx, e, cfg, tokens, logger); err != nil {
		return err
	}

	if err := st.follow(svc, tokens, logger); err != nil {
		return err
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for _, f := range cfg.FlagFiles {
		go svc.WatchFile(ctx, f.Env, f.Path, time.Second)
	}

	srv := httpapi.NewServer(tokens, svc, db, logger)
	srv.Addr = cfg.Addr
	srv.Storage = st.ready
	st.register(srv.Registry)
	closeAll, err := openServices(ctx, cfg, st, svc, srv, logger)
	defer closeAll()
	if err != nil {
		return err
	}
	if err := srv.Open(); err != nil {
		return err
	}
	logger.Info("valueloop serving", "url", srv.URL(), "store", st.describe, "environments", len(svc.Environments()))
	if cfg.Ready != nil {
		cfg.Ready(srv.URL())
	}
	<-ctx.Done()
	logger.Info("shutting down")
	shutdown, done := context.WithTimeout(context.Background(), 10*time.Second)
	defer done()
	return srv.Close(shutdown)
}

// openServices starts what runs beside the HTTP server — ingestion,
// experiments, rollouts, delivery metrics, verdict times and the value
// loop — and sets them
// on srv. The returned function closes those started, in reverse order,
// also when an error stopped the start half-way.
func openServices(ctx context.Context, cfg serveConfig, st *storage, svc *flags.Service, srv *httpapi.Server, logger *slog.Logger) (func(), error) {
	db := st.store
	var closers []func()
	closeAll := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	events, closeEvents, err := openEvents(st.ingest, db, logger)
	if err != nil {
		return closeAll, err
	}
	closers = append(closers, closeEvents)
	srv.Events = events
	// Experiments (hypotheses and results); the demo experiment's events go
	// through the pipeline.
	srv.Experiments = db
	if cfg.Demo {
		if err := loadDemoExperiment(ctx, db, events.Pipeline, logger); err != nil {
			return closeAll, err
		}
	}
	// The value loop, started last, is made first: rollouts and verdicts
	// touch the flags whose features they move.
	loop := valuesvc.New(db, db)
	rollouts, closeRollouts, err := openRollouts(ctx, cfg, db, svc, st.leader, events.Pipeline, loop.Touch, logger)
	if err != nil {
		return closeAll, err
	}
	closers = append(closers, closeRollouts)
	srv.Rollouts = rollouts
	deliveries, closeDelivery, err := openDelivery(ctx, cfg, db, svc, logger)
	if err != nil {
		return closeAll, err
	}
	closers = append(closers, closeDelivery)
	srv.Delivery = deliveries
	// Verdict times: recorded by the results route and a periodic check
	// (verdicts.go); the loop figures read them.
	recorder, closeVerdicts, err := openVerdicts(db, svc, st.leader, loop.Touch, logger)
	if err != nil {
		return closeAll, err
	}
	closers = append(closers, closeVerdicts)
	srv.Verdicts = recorder
	deliveries.Verdicts = recorder.Latest
	// The value loop: objectives, features and their lifecycles (value.go).
	closeValue, err := openValue(loop, svc, deliveries, st.leader, logger)
	if err != nil {
		return closeAll, err
	}
	closers = append(closers, closeValue)
	srv.Value = loop
	if cfg.Demo {
		if err := loadDemoValue(ctx, loop, recorder, deliveries, logger); err != nil {
			return closeAll, err
		}
	}
	return closeAll, nil
}

// seed creates the default environments, loads the demo into empty ones when
// asked, and applies the flag files given on the command line.
func seed(ctx context.Context, e *cliEnv, cfg serveConfig, svc *flags.Service, logger *slog.Logger) error {
	fresh := len(svc.Environments()) == 0
	if fresh || cfg.Demo {
		for _, d := range demo.Environments() {
			if err := svc.EnsureEnvironment(ctx, d.Environment, "valueloop"); err != nil {
				return err
			}
		}
	}
	if cfg.Demo {
		for _, d := range demo.Environments() {
			if len(svc.Live(d.Key).Snapshot.Keys()) > 0 {
				continue // never overwrite flags someone has changed
			}
			set, err := flagd.Parse(d.File, d.Data)
			if err != nil {
				return fmt.Errorf("demo data: %w", err)
			}
			if _, err := svc.Apply(ctx, d.Key, set, "demo", "demo data set"); err != nil {
				return fmt.Errorf("demo data: %w", err)
			}
		}
		logger.Info("demo data loaded", "environments", "development, production")
	}
	for _, f := range cfg.FlagFiles {
		env := valueloop.Environment{Key: f.Env, Name: f.Env}
		if err := svc.EnsureEnvironment(ctx, env, "valueloop"); err != nil {
			return fmt.Errorf("--flags-file %s=%s: %w", f.Env, f.Path, err)
		}
		if err := svc.ApplyFile(ctx, f.Env, f.Path); err != nil {
			return fmt.Errorf("--flags-file %s=%s: %w", f.Env, f.Path, err)
		}
	}
	return nil
}

// bootstrapAdmin makes sure an admin token exists: the one given in
// VALUELOOP_ADMIN_TOKEN, or a new one printed this once.
func bootstrapAdmin(ctx context.Context, e *cliEnv, cfg serveConfig, tokens *auth.Service, logger *slog.Logger) error {
	if tokens.HasAdmin() {
		return nil
	}
	t := &valueloop.Token{Name: "bootstrap-admin", Scope: valueloop.ScopeAdmin}
	secret, err := tokens.Create(ctx, t, cfg.AdminToken, "valueloop")
	if err != nil && cfg.AdminToken != "" && tokens.Reload(ctx) == nil {
		if _, aerr := tokens.Authenticate(cfg.AdminToken); aerr == nil {
			return nil // another node sharing the database created it just now
		}
	}
	if err != nil {
		return fmt.Errorf("VALUELOOP_ADMIN_TOKEN: %w", err)
	}
	if cfg.AdminToken == "" {
		fmt.Fprintf(e.stderr, "\nCreated the first admin token. It is shown this once; keep it safe:\n\n    %s\n\n"+
			"Use it with: export VALUELOOP_TOKEN=%s\n\n", secret, secret)
	} else {
		logger.Info("admin token created from VALUELOOP_ADMIN_TOKEN")
	}
	return nil
}
