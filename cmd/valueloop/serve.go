package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/auth"
	"github.com/valueloop/valueloop/delivery"
	"github.com/valueloop/valueloop/demo"
	"github.com/valueloop/valueloop/features"
	"github.com/valueloop/valueloop/flagdapi"
	"github.com/valueloop/valueloop/flags"
	"github.com/valueloop/valueloop/httpapi"
	"github.com/valueloop/valueloop/metric"
	"github.com/valueloop/valueloop/rollout"
	"github.com/valueloop/valueloop/tracing"
	"github.com/valueloop/valueloop/ui"
	"github.com/valueloop/valueloop/verdicts"
)

// serveConfig is the configuration of `valueloop serve`: flags over
// environment variables over the --config file over defaults (config.go).
type serveConfig struct {
	Addr     string
	DataDir  string
	Database string // PostgreSQL DSN; may hold a password: never printed
	// SyncFull makes the embedded store sync every commit to disk
	// (sqlite.DB.SyncFull).
	SyncFull   bool
	Demo       bool
	FlagFiles  []flagFile
	AdminToken string // secret; never printed
	// AdminTokenFrom names where AdminToken was given, for errors
	// (adminTokenField).
	AdminTokenFrom string
	LogLevel       slog.Level
	LogFormat      string        // text or json
	Rollouts       rolloutConfig // webhooks and engine interval (rollout.go)
	// Tracing is read from the standard OTEL_* variables (config.go).
	Tracing tracing.Config
	// Limits and FlagdAnonymousStreams bound what clients can make the
	// server hold (config_limits.go).
	Limits                httpapi.Limits
	FlagdAnonymousStreams int
	// Dimensions are the context attributes by which exposures are kept,
	// so that results can be split by them (metric.Dimension).
	Dimensions []metric.Dimension
	// MaxFlagsPerUser bounds the flags analysed per user
	// (ingest.Pipeline.MaxFlagsPerUser).
	MaxFlagsPerUser int
	// SecureCookies says when the dashboard's cookies are Secure.
	SecureCookies ui.CookieSecurity
	// DeliveryZone cuts the DORA buckets of requests that name no zone
	// (delivery.Service.TimeZone).
	DeliveryZone *time.Location
	// PublicURL is where clients reach the server behind a proxy
	// (httpapi.Server.PublicURL); nil: the root of the origin.
	PublicURL *url.URL
	// Ready, if set, receives the server's base URL once it serves (tests).
	Ready func(url string)

	// tracer is the open tracer of Tracing (nil: off), set by serve for
	// what it opens.
	tracer *tracing.Tracer
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

// listen binds the server's address before anything slow or lasting is
// done (the store made, the demo loaded): a busy port fails at once, and
// says what to try next.
func listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if errors.Is(err, syscall.EADDRINUSE) {
		return nil, fmt.Errorf("--addr %s: %w; another program listens there: give this server another --addr (or VALUELOOP_ADDR, or addr: in the --config file), e.g. --addr 127.0.0.1:8081", addr, err)
	}
	if err != nil {
		return nil, fmt.Errorf("--addr %s: %w", addr, err)
	}
	return ln, nil
}

func serveCommand() *command {
	return &command{name: "serve", args: "[--addr 127.0.0.1:8080] [--data DIR | --database postgres://...] [--demo] [--flags-file ENV=PATH ...] [flags]",
		summary: "run the server: OFREP, the API, the rollout engine and event ingestion", more: serveMore, run: runServe}
}

const serveMore = `Every flag is also an environment variable (named after it) and a key of the
--config YAML file; a flag wins over the variable, the variable over the file,
the file over the default. Repeatable settings take a comma-separated variable
and a YAML list. For example, valueloop.yaml:

    addr: 0.0.0.0:8080
    data: /var/lib/valueloop
    log-format: json
    webhook: [https://ci.example.com/hooks/valueloop]

'valueloop serve --print-config' shows the effective settings, secrets masked.
`

func runServe(ctx context.Context, e *cliEnv, args []string) error {
	fs := newFlagSet(e, "serve")
	load := configFlags(e, fs)
	printOnly := fs.Bool("print-config", false, "print the effective settings (as YAML for --config, secrets masked) and where each came from, then exit")
	if err := e.parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf("serve takes no arguments, got %q", fs.Args())
	}
	cfg, sources, err := load()
	if err != nil {
		return err
	}
	if *printOnly {
		printConfig(e.stdout, cfg, sources)
		return nil
	}
	cfg.AdminTokenFrom = adminTokenField(sources)
	// A chosen admin token is checked before a new SQLite store is made;
	// on an existing store it only matters when the store has no admin
	// token yet (bootstrapAdmin checks it then).
	if _, err := os.Stat(filepath.Join(cfg.DataDir, "valueloop.db")); cfg.Database == "" && os.IsNotExist(err) {
		if err := checkChosenAdminToken(cfg.AdminToken, cfg.AdminTokenFrom); err != nil {
			return err
		}
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
	logger := newLogger(e.rawErr(), cfg)
	closeTracing, err := openTracing(ctx, &cfg, logger)
	if err != nil {
		return err
	}
	defer closeTracing()
	ln, err := listen(cfg.Addr)
	if err != nil {
		return err
	}
	defer ln.Close() // once served, srv.Close closes it first

	st, err := openStorage(cfg, logger)
	if err != nil {
		return err
	}
	defer st.Close()
	db := st.store

	tokens, svc, err := loadServices(ctx, e, cfg, db, logger)
	if err != nil {
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
	srv.Listener = ln
	srv.Limits = cfg.Limits
	srv.PublicURL = cfg.PublicURL
	srv.Storage, srv.Tracer = st.ready, cfg.tracer
	st.register(srv.Registry)
	closeAll, err := openServices(ctx, cfg, st, svc, srv, logger)
	defer closeAll()
	if err != nil {
		return err
	}
	// flagd's sync and evaluation protocols on the same port, for flagd's
	// providers (flagdapi).
	closingStreams := make(chan struct{})
	flagdSrv := &flagdapi.Server{Flags: svc, Auth: tokens, Logger: logger, Closing: closingStreams, Evaluated: srv.Evaluated,
		MaxAnonymousStreams: cfg.FlagdAnonymousStreams, Tracer: cfg.tracer, StreamSlot: srv.StreamSlot}
	flagdSrv.Register(srv.Registry)
	srv.Protocols, srv.StreamPaths = flagdSrv.Handlers(), flagdapi.StreamPaths
	if err := openDashboard(cfg, st.store, srv, logger); err != nil {
		return err
	}
	if err := srv.Open(); err != nil {
		return err
	}
	// The first admin token is made (and printed) only now that the server
	// listens: a start that fails, on "address already in use" say, leaves
	// the store without one, and the next start prints it.
	if err := bootstrapAdmin(ctx, e, cfg, tokens, logger); err != nil {
		srv.Close(context.Background())
		return err
	}
	if st.pg == nil {
		go refreshTokens(ctx, tokens, 2*time.Second, logger)
	}
	logger.Info("valueloop serving", "url", srv.URL(), "store", st.describe, "environments", len(svc.Environments()))
	if cfg.Ready != nil {
		cfg.Ready(srv.URL())
	}
	<-ctx.Done()
	logger.Info("shutting down")
	close(closingStreams)
	shutdown, done := context.WithTimeout(context.Background(), 10*time.Second)
	defer done()
	return srv.Close(shutdown)
}

// loadServices reads the tokens and the flags from db, and seeds the
// default environments (and the demo's flags with --demo).
func loadServices(ctx context.Context, e *cliEnv, cfg serveConfig, db store, logger *slog.Logger) (*auth.Service, *flags.Service, error) {
	tokens := auth.NewService(db)
	if err := tokens.Reload(ctx); err != nil {
		return nil, nil, err
	}
	svc := flags.NewService(db, logger)
	if err := svc.Load(ctx); err != nil {
		return nil, nil, err
	}
	return tokens, svc, seed(ctx, e, cfg, svc, logger)
}

// openTracing starts the tracer of cfg.Tracing and sets cfg.tracer, or
// leaves it nil when tracing is off. The returned function flushes the
// spans still buffered, for up to 5 seconds.
func openTracing(ctx context.Context, cfg *serveConfig, logger *slog.Logger) (func(), error) {
	t, err := tracing.Open(ctx, cfg.Tracing)
	if err != nil || t == nil {
		return func() {}, err
	}
	logger.Info("tracing", "config", cfg.Tracing.Describe())
	cfg.tracer = t
	return func() {
		flush, done := context.WithTimeout(context.Background(), 5*time.Second)
		defer done()
		if err := t.Close(flush); err != nil {
			logger.Warn("tracing: spans not flushed at shutdown", "err", err)
		}
	}, nil
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
	if cfg.Demo && !demoInProduction(svc) {
		logger.Warn("demo: production holds flags of its own, not the demo's; its rollout, experiment, delivery history and value loop are not loaded (the demo loads into empty environments)")
		cfg.Demo = false
	}
	if cfg.Demo && len(cfg.Dimensions) == 0 {
		cfg.Dimensions = demo.Dimensions()
	}
	events, closeEvents, err := openEvents(st.ingest, db, cfg.Dimensions, cfg.MaxFlagsPerUser, logger)
	if err != nil {
		return closeAll, err
	}
	closers = append(closers, closeEvents)
	srv.Events = events
	// Experiments (hypotheses and results); the demo experiment's events go
	// through the pipeline.
	srv.Experiments = db
	srv.Dimensions = cfg.Dimensions
	if cfg.Demo {
		if err := loadDemoExperiment(ctx, db, events.Pipeline, logger); err != nil {
			return closeAll, err
		}
	}
	// The value loop, started last, is made first: rollouts and verdicts
	// touch the flags whose features they move.
	loop := features.New(db, db)
	rollouts, closeRollouts, err := openRollouts(ctx, cfg, db, svc, st.leader, events.Pipeline, srv.Registry, loop.Touch, logger)
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
	loop.Settle = recorder.Settle
	// The value loop: objectives, features and their lifecycles (value.go).
	closeValue, err := openValue(loop, svc, deliveries, st.leader, logger)
	if err != nil {
		return closeAll, err
	}
	closers = append(closers, closeValue)
	srv.Value = loop
	if cfg.Demo {
		if err := loadDemoValue(ctx, loop, recorder, deliveries, events.Pipeline, logger); err != nil {
			return closeAll, err
		}
	}
	return closeAll, nil
}

// What the dashboard is given implements what it needs.
var (
	_ ui.Authenticator  = (*auth.Service)(nil)
	_ ui.FlagService    = (*flags.Service)(nil)
	_ ui.RolloutEngine  = (*rollout.Engine)(nil)
	_ ui.DeliveryReader = (*delivery.Service)(nil)
	_ ui.VerdictHistory = (*verdicts.Recorder)(nil)
)

// openDashboard serves the web dashboard (package ui) beside the API,
// reading through the same services the API's routes use.
func openDashboard(cfg serveConfig, db store, srv *httpapi.Server, logger *slog.Logger) error {
	dashboard := &ui.UI{Auth: srv.Auth, Sessions: db, SecureCookies: cfg.SecureCookies, TrustedProxies: cfg.Limits.TrustedProxies, Flags: srv.Flags, Audit: db, Experiments: db, Dimensions: srv.Dimensions, Events: db, MaxFlagsPerUser: cfg.MaxFlagsPerUser, Incidents: db,
		Delivery: srv.Delivery, FlagFiles: map[string]string{}, Logger: logger}
	// The engine (*rollout.Engine) also counts, which the API does not
	// need. Another (a wrapper) is refused: the rollouts pages would list
	// nothing, saying nothing.
	if srv.Rollouts != nil {
		eng, ok := srv.Rollouts.(ui.RolloutEngine)
		if !ok {
			return fmt.Errorf("dashboard: the rollout engine %T does not count rollouts (ui.RolloutEngine)", srv.Rollouts)
		}
		dashboard.Rollouts = eng
	}
	if cfg.PublicURL != nil {
		dashboard.PathPrefix = cfg.PublicURL.EscapedPath()
	}
	// The recorder (a *verdicts.Recorder, see the assertions above) also
	// settles results under fixed inference on their stored decision.
	if v, ok := srv.Verdicts.(ui.VerdictHistory); ok {
		dashboard.Verdicts = v
	}
	if srv.Value != nil {
		dashboard.Value, dashboard.Features = srv.Value, srv.Value.Store
	}
	for _, f := range cfg.FlagFiles {
		dashboard.FlagFiles[f.Env] = filepath.Base(f.Path)
	}
	if err := dashboard.Open(); err != nil {
		return err
	}
	srv.UI = dashboard
	return nil
}

// demoInProduction reports whether the demo's production environment
// holds the demo's flags (seed loaded them, now or at an earlier start):
// the demo's rollout, experiment and value loop are built on them.
func demoInProduction(svc *flags.Service) bool {
	for _, d := range demo.Environments() {
		if l := svc.Live(d.Key); d.Production && l != nil {
			set := l.Snapshot.Set().Flags
			return set[demo.ExperimentFlag] != nil || set[demo.RolloutFlag] != nil
		}
	}
	return false
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
		var loaded []string
		for _, d := range demo.Environments() {
			if len(svc.Live(d.Key).Snapshot.Keys()) > 0 {
				continue // never overwrite flags someone has changed
			}
			if err := demo.LoadFlags(ctx, svc, d, time.Now()); err != nil {
				return fmt.Errorf("demo data: %w", err)
			}
			loaded = append(loaded, d.Key)
		}
		if len(loaded) > 0 {
			logger.Info("demo data loaded", "environments", strings.Join(loaded, ", "))
		}
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

// bootstrapAdmin applies the rule for the admin token at start:
//
//   - a store without a live admin token gets one: VALUELOOP_ADMIN_TOKEN
//     (admin-token) when set, or else a new secret printed this once;
//   - on a store that has one, VALUELOOP_ADMIN_TOKEN creates nothing: it is
//     logged as a live admin token if it is one, and otherwise a warning
//     says it is ignored and how to make it one (token recover --from-env).
func bootstrapAdmin(ctx context.Context, e *cliEnv, cfg serveConfig, tokens *auth.Service, logger *slog.Logger) error {
	if tokens.HasAdmin() {
		switch t, err := tokens.Authenticate(cfg.AdminToken); {
		case cfg.AdminToken == "":
		case err == nil && t.Scope == valueloop.ScopeAdmin:
			logger.Info("VALUELOOP_ADMIN_TOKEN is a live admin token of this store", "token", t.Name, "id", t.ID)
			if checkChosenAdminToken(cfg.AdminToken, cfg.AdminTokenFrom) != nil {
				logger.Warn("VALUELOOP_ADMIN_TOKEN is a weak admin token (under 24 characters, under 10 different ones, or holding whitespace), "+
					"which could be guessed from a copy of the database; replace it: 'valueloop token recover --revoke-others' with --data or --database of this store",
					"token", t.Name, "id", t.ID)
			}
		default:
			logger.Warn("VALUELOOP_ADMIN_TOKEN ignored: this store already has admin tokens and it is not one of them; " +
				"the variable only creates the first admin token of a new store. To make it an admin token, run " +
				"'valueloop token recover --from-env' with --data or --database of this store")
		}
		return nil
	}
	if err := checkChosenAdminToken(cfg.AdminToken, cfg.AdminTokenFrom); err != nil {
		return err
	}
	t := &valueloop.Token{Name: "bootstrap-admin", Scope: valueloop.ScopeAdmin}
	secret, err := tokens.Create(ctx, t, cfg.AdminToken, "valueloop")
	if err != nil && cfg.AdminToken != "" && tokens.Reload(ctx) == nil {
		if _, aerr := tokens.Authenticate(cfg.AdminToken); aerr == nil {
			return nil // another node sharing the database created it just now
		}
	}
	if err != nil {
		return fmt.Errorf("%s: %w", cfg.AdminTokenFrom, err)
	}
	if cfg.AdminToken == "" {
		fmt.Fprintf(e.stderr, "\nCreated the first admin token. It is shown this once; keep it safe:\n\n    %s\n\n"+
			"Use it with: export VALUELOOP_TOKEN=%s\n"+
			"Lost it? 'valueloop token recover' makes a new one (valueloop token recover -h).\n\n", secret, secret)
	} else {
		logger.Info("admin token created from VALUELOOP_ADMIN_TOKEN")
	}
	return nil
}

// refreshTokens re-reads the tokens every interval, so that a token made
// or revoked by an offline command on the same SQLite file (token recover)
// works or stops working without a restart. (PostgreSQL nodes learn of
// changes from the store's notifications instead.)
func refreshTokens(ctx context.Context, tokens *auth.Service, interval time.Duration, logger *slog.Logger) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if err := tokens.Reload(ctx); err != nil && ctx.Err() == nil {
				logger.Warn("re-reading the tokens", "err", err)
			}
		}
	}
}
