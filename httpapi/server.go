// Package httpapi is Valueloop's HTTP surface for programs: the OFREP
// evaluation endpoints, the admin REST API under /api/v1, health checks and
// Prometheus metrics. Every route is listed in routes.go. The API takes bearer
// tokens only and rejects form posts; the browser UI, with its CSRF
// protection, is a separate surface.
package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/valueloop/valueloop/auth"
	"github.com/valueloop/valueloop/delivery"
	"github.com/valueloop/valueloop/features"
	"github.com/valueloop/valueloop/flags"
	"github.com/valueloop/valueloop/metric"
	"github.com/valueloop/valueloop/tracing"
)

// Server serves the HTTP API. Construct with NewServer, then Open.
type Server struct {
	// Addr to listen on, e.g. "127.0.0.1:8080" or ":0".
	Addr string
	// Listener, when set, is served instead of listening on Addr: the
	// caller binds the port first, to fail on a busy one before slow work.
	Listener net.Listener
	Logger   *slog.Logger

	Auth  *auth.Service
	Flags *flags.Service
	Audit AuditStore

	// Registry collects the server's metrics; /metrics serves it.
	Registry *prometheus.Registry
	// Heartbeat is the idle interval of flag streams (default 15s).
	Heartbeat time.Duration
	// Events serves the event and metric routes when set (see events.go).
	Events *Events
	// Storage, when set, reports whether the store accepts writes now;
	// /readyz answers 503 while it does not (evaluation goes on from memory).
	Storage func(ctx context.Context) error
	// Experiments serves the hypothesis and results routes when set (see
	// experiments.go).
	Experiments ExperimentStore
	// Dimensions are those the ingestion keeps (metric.Dimension): the
	// results route splits by them (?dimension=).
	Dimensions []metric.Dimension
	// Verdicts, when set, records the verdicts the results route serves
	// and adds their history to the results (see experiments.go).
	Verdicts VerdictRecorder
	// Rollouts serves the rollout routes when set (see rollouts.go).
	Rollouts RolloutEngine
	// Delivery serves webhooks, delivery records and DORA metrics when set
	// (see delivery.go).
	Delivery *delivery.Service
	// UI, when set, serves the browser dashboard (package ui) at every
	// path the API does not use, "/" first.
	UI http.Handler
	// Value serves objectives, features, next and flow when set (see
	// value.go).
	Value *features.Service
	// PublicURL is where clients reach this server, when that is not the
	// root of the origin they asked (a reverse proxy that mounts it under
	// a path prefix): an absolute http(s) URL, or a path from "/", with
	// no query, fragment or trailing slash (ParsePublicURL). Links the
	// server hands to clients, OFREP's change stream first, are built on
	// it; nil: the root of the origin.
	PublicURL *url.URL
	// Limits bound connections, bodies and failed authentications
	// (limits.go); zero fields mean the defaults.
	Limits Limits
	// Protocols are other protocols' handlers served on the same port, by
	// path prefix: flagd's gRPC services (package flagdapi). gRPC needs
	// HTTP/2, which the server also speaks in cleartext (h2c).
	Protocols map[string]http.Handler
	// StreamPaths are the paths of the Protocols' flag streams (flagd's
	// SyncFlags and EventStream): counted against Limits.MaxRequests only
	// until their request is read, bounded by MaxStreams after.
	StreamPaths []string
	// Tracer, when set, traces requests (server spans with W3C
	// trace-context propagation; the Protocols trace their own calls),
	// evaluations and webhook handling (package tracing). Nil: off, at no
	// cost.
	Tracer *tracing.Tracer

	ln        net.Listener
	srv       *http.Server
	closing   chan struct{} // closed when shutdown begins: ends streams
	metrics   *metrics
	exposures *exposureFilter
	done      chan error
	guard     *guard
	sse       flags.Encoded[[]byte] // each environment's SSE event, shared by its streams
	ofrepSSE  flags.Encoded[[]byte] // each environment's OFREP change notification, shared likewise
	// awaiting, when set (tests only), is called by a fetch waiting for a
	// notified version once it listens for it, so a test can land the
	// version only then and know the fetch did not read the older one.
	awaiting  func()
	closeOnce sync.Once
	closeErr  error

	deliveryMetrics *deliveryMetrics // nil without Delivery
}

// NewServer returns a server with its dependencies.
func NewServer(a *auth.Service, f *flags.Service, audit AuditStore, logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Server{
		Addr:     "127.0.0.1:8080",
		Logger:   logger,
		Auth:     a,
		Flags:    f,
		Audit:    audit,
		Registry: prometheus.NewRegistry(),
	}
}

// Open starts listening and serving in the background.
func (s *Server) Open() error {
	if s.Auth == nil || s.Flags == nil || s.Audit == nil {
		return errors.New("httpapi: Auth, Flags and Audit are required")
	}
	s.metrics = newMetrics(s.Registry)
	s.guard = newGuard(s.Limits)
	s.guard.streamPaths = s.StreamPaths
	if s.Events != nil && s.Events.Limits.MaxEvents == 0 {
		s.Events.Limits.MaxEvents = s.guard.lim.MaxEvents
	}
	s.guard.register(s.Registry)
	s.exposures = newExposureFilter(1 << 20)
	if s.Events != nil {
		s.registerEventMetrics()
	}
	if s.Delivery != nil {
		s.registerDeliveryMetrics()
	}
	ln := s.Listener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", s.Addr); err != nil {
			return fmt.Errorf("httpapi: listen on %s: %w", s.Addr, err)
		}
	}
	s.ln = &limitListener{Listener: ln, g: s.guard}
	s.srv = s.httpServer(s.routes())
	go s.guard.watch() // until shutdown (guard.stop)
	s.srv.Protocols = new(http.Protocols)
	s.srv.Protocols.SetHTTP1(true)
	s.srv.Protocols.SetUnencryptedHTTP2(true) // gRPC clients without TLS (flagd providers)
	s.closing = make(chan struct{})
	var once sync.Once // Close may be called twice
	s.srv.RegisterOnShutdown(func() { once.Do(func() { close(s.closing) }) })
	s.done = make(chan error, 1)
	go func() { s.done <- s.srv.Serve(s.ln) }()
	return nil
}

// URL returns the base URL the server listens on.
func (s *Server) URL() string {
	return "http://" + s.ln.Addr().String()
}

// Close stops accepting requests and waits up to ctx for in-flight ones;
// requests still waiting for their body are ended at once, and connections
// open when ctx ends are closed.
func (s *Server) Close(ctx context.Context) error {
	if s.srv == nil {
		return nil
	}
	s.closeOnce.Do(func() {
		err := closeServer(ctx, s.srv, s.Logger)
		if serveErr := <-s.done; serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
			err = serveErr
		}
		s.closeErr = err
	})
	return s.closeErr
}
