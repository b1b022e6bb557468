package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/valueloop/valueloop/auth"
	"github.com/valueloop/valueloop/cluster"
	"github.com/valueloop/valueloop/delivery"
	"github.com/valueloop/valueloop/demo"
	"github.com/valueloop/valueloop/flags"
	"github.com/valueloop/valueloop/httpapi"
	"github.com/valueloop/valueloop/ingest"
	"github.com/valueloop/valueloop/postgres"
	"github.com/valueloop/valueloop/sqlite"
	"github.com/valueloop/valueloop/ui"
	"github.com/valueloop/valueloop/verdicts"
)

// store is every store method serve wires. Both stores implement it, most
// of it through the methods they share from package sqlstore (written once
// for SQLite and PostgreSQL); a method written per store (the event log)
// must exist in both, which the assertions below check.
type store interface {
	flags.Store
	auth.Store
	httpapi.AuditStore
	ui.AuditReader
	httpapi.EventStore
	httpapi.ExperimentStore
	demo.ExperimentStore
	rolloutStore
	delivery.RolloutHistory
	delivery.Store
	verdicts.Store
	ui.ExperimentReader
	ui.EventReader
	ui.SessionStore
	ui.IncidentReader
	valueStore
}

var (
	_ store = (*sqlite.DB)(nil)
	_ store = (*postgres.DB)(nil)
)

// singletonWork names the singleton work whose leadership /metrics shows
// (rollout.LeaderName: the rollout engine's ticks; verdicts.LeaderName: the
// periodic verdict check; features.LeaderName: the value loop's sync).
var singletonWork = []string{"rollouts", "verdicts", "value"}

// storage is the opened store and what comes with it: the singleton runner
// and, for PostgreSQL, the following of peers.
type storage struct {
	store    store
	ingest   ingest.Store // where the ingestion pipeline writes
	leader   cluster.Singleton
	leading  func(name string) bool
	describe string                          // for logs; never the password
	ready    func(ctx context.Context) error // whether writes are taken now (/readyz)
	unlock   func()                          // releases the data directory (SQLite)

	pg       *postgres.DB
	listener *postgres.Listener
	pgLeader *postgres.Leader
	follower *cluster.Follower
}

// isPostgresDSN tells a PostgreSQL connection string from a mistake.
func isPostgresDSN(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://") || strings.Contains(s, "host=")
}

// openStorage opens the PostgreSQL database of cfg.Database, or else the
// embedded SQLite store in cfg.DataDir.
func openStorage(cfg serveConfig, logger *slog.Logger) (*storage, error) {
	if cfg.Database == "" {
		unlock, err := lockDataDir(cfg.DataDir, "serve")
		if err != nil {
			return nil, err
		}
		db := sqlite.NewDB(filepath.Join(cfg.DataDir, "valueloop.db"))
		db.Tracer = cfg.tracer
		db.SyncFull = cfg.SyncFull
		if err := db.Open(); err != nil {
			unlock()
			return nil, err
		}
		return &storage{store: db, ingest: db, leader: cluster.Solo{Logger: logger}, unlock: unlock, ready: db.WriteReady,
			leading: func(string) bool { return true }, describe: "sqlite:" + db.Path}, nil
	}
	db := postgres.NewDB(cfg.Database)
	db.Logger = logger
	db.Tracer = cfg.tracer
	if err := db.Open(); err != nil {
		return nil, fmt.Errorf("--database: %w", err)
	}
	st := &storage{store: db, ingest: db, pg: db, describe: db.Describe(), ready: db.WriteReady}
	st.pgLeader = postgres.NewLeader(db)
	if err := st.pgLeader.Open(); err != nil {
		db.Close()
		return nil, err
	}
	st.leader, st.leading = st.pgLeader, st.pgLeader.Leading
	return st, nil
}

// follow starts, for PostgreSQL, what keeps this node in step with its
// peers: the change listener feeding the follower of flags and tokens.
// Nothing for SQLite.
func (st *storage) follow(svc *flags.Service, tokens *auth.Service, logger *slog.Logger) error {
	if st.pg == nil {
		return nil
	}
	st.listener = postgres.NewListener(st.pg)
	if err := st.listener.Open(); err != nil {
		return err
	}
	st.follower = &cluster.Follower{
		Changes:  st.listener.Changes(),
		Versions: st.pg.Versions,
		Flags:    svc,
		Tokens:   tokens,
		Logger:   logger,
	}
	return st.follower.Open()
}

// register adds the storage's gauges to the server's metrics.
func (st *storage) register(reg *prometheus.Registry) {
	for _, name := range singletonWork {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "valueloop_singleton_leading",
			Help:        "1 while this node does the named singleton work (always 1 with SQLite).",
			ConstLabels: prometheus.Labels{"work": name},
		}, func() float64 {
			if st.leading(name) {
				return 1
			}
			return 0
		}))
	}
}

// Close stops following and leading, then closes the store.
func (st *storage) Close() error {
	if st.pgLeader != nil {
		st.pgLeader.Close()
	}
	if st.follower != nil {
		st.follower.Close()
	}
	if st.listener != nil {
		st.listener.Close()
	}
	var err error
	if c, ok := st.store.(interface{ Close() error }); ok {
		err = c.Close()
	}
	if st.unlock != nil {
		st.unlock()
	}
	return err
}
