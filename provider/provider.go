// Package provider is Valueloop's in-process OpenFeature provider for Go.
//
// A Provider keeps one environment's flags in memory: it follows the server's
// Server-Sent Events stream (GET /api/v1/environments/{env}/stream), parses
// each flag set with package flagd, compiles it with package evaluation (the
// engine the server itself uses) and swaps the compiled snapshot atomically.
// Evaluations never leave the process and never wait on the network. While
// the server is unreachable the last good set keeps serving and the provider
// reconnects with capped, jittered exponential backoff; a set that does not
// compile is reported and ignored.
//
// It emits OpenFeature provider events on EventChannel: PROVIDER_READY after
// a reconnection or recovery, or when the first set arrives after Init gave
// up waiting (when Init succeeds the SDK itself announces READY),
// PROVIDER_CONFIGURATION_CHANGED with the keys of the flags a
// new set changed, PROVIDER_STALE when the stream is lost, and PROVIDER_ERROR
// when a received set is invalid or the token is refused.
//
// It also implements OpenFeature tracking (Track) and reports exposures (which
// variant each targeting key was served) in batches to POST /api/v1/events.
// Events wait in a bounded queue: when it is full, new events are dropped and
// counted (Stats), never blocking an evaluation. An exposure is queued at
// most once per FlushInterval for the same flag, variant and targeting key,
// and only when the context has a targeting key.
//
// What does not live here: the stream and event endpoints (package httpapi),
// the flagd format (package flagd) and evaluation itself (package evaluation).
package provider

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/open-feature/go-sdk/openfeature"

	"github.com/valueloop/valueloop/evaluation"
)

// Name is the provider's name in OpenFeature metadata and events.
const Name = "valueloop"

var (
	_ openfeature.FeatureProvider = (*Provider)(nil)
	_ openfeature.StateHandler    = (*Provider)(nil)
	_ openfeature.EventHandler    = (*Provider)(nil)
	_ openfeature.Tracker         = (*Provider)(nil)
)

// Provider is an in-process OpenFeature provider for one environment.
// Construct it with New, adjust fields, then hand it to the OpenFeature SDK
// (openfeature.SetProviderAndWait), which calls Init and Shutdown. Fields must
// not change after Init.
type Provider struct {
	// URL is the server's base URL, e.g. "http://127.0.0.1:8080".
	URL string
	// Environment is the key of the environment whose flags to follow.
	Environment string
	// Token is an evaluate token for Environment (sent as a bearer token).
	Token string

	// HTTPClient makes every request. Its Timeout must be zero: the stream
	// is one long request (RequestTimeout bounds event posts instead).
	HTTPClient *http.Client
	Logger     *slog.Logger

	// InitTimeout bounds how long Init waits for the first flag set. If it
	// passes, Init fails (the SDK reports the provider in ERROR) but the
	// provider keeps connecting and emits PROVIDER_READY once a set arrives.
	InitTimeout time.Duration
	// MinBackoff and MaxBackoff bound the delay between reconnection
	// attempts (and between failed event posts); the delay doubles from
	// MinBackoff after each failure, with jitter, up to MaxBackoff. After a
	// refused token (401/403) the provider waits MaxBackoff.
	MinBackoff, MaxBackoff time.Duration
	// IdleTimeout ends a stream that has sent nothing, not even a heartbeat
	// (the server sends one every 15s), for this long, and reconnects.
	IdleTimeout time.Duration

	// NoExposures turns exposure reporting off (Track still reports).
	NoExposures bool
	// FlushInterval is how often queued events are sent. An exposure is
	// reported at most once per interval for the same flag, variant and
	// targeting key.
	FlushInterval time.Duration
	// BatchSize is the most events one request carries; a full batch is
	// sent without waiting for the interval.
	BatchSize int
	// QueueLimit bounds the events waiting to be sent; beyond it new events
	// are dropped and counted.
	QueueLimit int
	// RequestTimeout bounds one event post.
	RequestTimeout time.Duration
	// ShutdownTimeout bounds the last flush in Shutdown.
	ShutdownTimeout time.Duration

	// Now is the clock of event times; nil means time.Now.
	Now func() time.Time

	cur    atomic.Pointer[current] // nil until the first good set
	events chan openfeature.Event
	queue  atomic.Pointer[queue] // nil until Init

	mu            sync.Mutex
	status        status
	initWaiting   bool
	initResult    chan error
	cancel        context.CancelFunc
	wg            sync.WaitGroup
	lastID        string // id of the last set applied, for Last-Event-ID
	everConnected bool

	stats struct {
		syncs, invalid, reconnects, eventsLost, sendFailures atomic.Uint64
	}
}

// current is the snapshot being served and the environment version it came
// from.
type current struct {
	snap    *evaluation.Snapshot
	version string
}

// status is the provider's OpenFeature state as this package tracks it.
type status int

const (
	notReady status = iota
	ready
	stale      // the stream is lost; the last good set (if any) serves
	invalidSet // the latest set received was invalid; the last good one serves
	refused    // the server refused the stream (token, environment)
)

// New returns a provider for env on the server at baseURL with the given
// evaluate token, with defaults that suit production.
func New(baseURL, env, token string) *Provider {
	return &Provider{
		URL:             strings.TrimRight(baseURL, "/"),
		Environment:     env,
		Token:           token,
		HTTPClient:      &http.Client{},
		InitTimeout:     5 * time.Second,
		MinBackoff:      500 * time.Millisecond,
		MaxBackoff:      30 * time.Second,
		IdleTimeout:     45 * time.Second,
		FlushInterval:   time.Second,
		BatchSize:       500,
		QueueLimit:      10000,
		RequestTimeout:  10 * time.Second,
		ShutdownTimeout: 2 * time.Second,
		events:          make(chan openfeature.Event, 64),
	}
}

// Metadata returns the provider's name.
func (p *Provider) Metadata() openfeature.Metadata {
	return openfeature.Metadata{Name: Name}
}

// Hooks returns no hooks.
func (p *Provider) Hooks() []openfeature.Hook { return nil }

// EventChannel returns the channel of provider events. It is buffered; an
// event that finds it full is dropped (counted in Stats.EventsLost) rather
// than hold up a flag update. The OpenFeature SDK drains it.
func (p *Provider) EventChannel() <-chan openfeature.Event { return p.events }

// Init starts following the stream and sending events, and waits up to
// InitTimeout for the first flag set. It returns an error when none arrives
// in time, when the first set received is invalid or when the token is
// refused; the provider keeps trying in the background either way, until
// Shutdown.
func (p *Provider) Init(openfeature.EvaluationContext) error {
	if err := p.validate(); err != nil {
		return err
	}
	p.eventQueue()
	p.mu.Lock()
	if p.cancel != nil { // bound to another domain too: already running
		p.mu.Unlock()
		if p.cur.Load() == nil {
			return &openfeature.ProviderInitError{ErrorCode: openfeature.ProviderNotReadyCode, Message: "valueloop: already initialising; no flag set yet"}
		}
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	first := p.cur.Load() == nil
	if first {
		p.initWaiting = true
		p.initResult = make(chan error, 1)
	} else {
		p.status = ready // initialised again after Shutdown: the SDK announces READY
	}
	result := p.initResult
	p.mu.Unlock()

	p.wg.Add(2)
	go func() { defer p.wg.Done(); p.follow(ctx) }()
	go func() { defer p.wg.Done(); p.send(ctx) }()
	if !first {
		return nil
	}

	timer := time.NewTimer(p.InitTimeout)
	defer timer.Stop()
	select {
	case err := <-result:
		return err
	case <-timer.C:
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.initWaiting { // the answer came as the timer fired
		return <-result
	}
	p.initWaiting = false
	return &openfeature.ProviderInitError{
		ErrorCode: openfeature.ProviderNotReadyCode,
		Message:   "valueloop: no flag set from " + p.URL + " within " + p.InitTimeout.String() + "; still trying",
	}
}

func (p *Provider) validate() error {
	var missing []string
	if p.events == nil {
		return errors.New("provider: construct the provider with New")
	}
	p.URL = strings.TrimRight(p.URL, "/")
	if p.URL == "" {
		missing = append(missing, "URL")
	}
	if p.Environment == "" {
		missing = append(missing, "Environment")
	}
	if p.Token == "" {
		missing = append(missing, "Token")
	}
	if len(missing) > 0 {
		return errors.New("provider: " + strings.Join(missing, ", ") + " required")
	}
	if p.HTTPClient == nil {
		p.HTTPClient = &http.Client{}
	}
	if p.HTTPClient.Timeout != 0 {
		// It would end the stream every Timeout: STALE, READY and the
		// whole set again, over and over.
		return errors.New("provider: HTTPClient.Timeout must be zero, not " + p.HTTPClient.Timeout.String() +
			": the flag stream is one long request; RequestTimeout bounds event posts, IdleTimeout a silent stream")
	}
	if p.Logger == nil {
		p.Logger = slog.New(slog.DiscardHandler)
	}
	if p.MinBackoff <= 0 {
		p.MinBackoff = 500 * time.Millisecond
	}
	if p.MaxBackoff < p.MinBackoff {
		p.MaxBackoff = p.MinBackoff
	}
	if p.InitTimeout <= 0 {
		p.InitTimeout = 5 * time.Second
	}
	if p.IdleTimeout <= 0 {
		p.IdleTimeout = 45 * time.Second
	}
	if p.FlushInterval <= 0 {
		p.FlushInterval = time.Second
	}
	if p.BatchSize <= 0 {
		p.BatchSize = 500
	}
	if p.QueueLimit <= 0 {
		p.QueueLimit = 10000
	}
	if p.RequestTimeout <= 0 {
		p.RequestTimeout = 10 * time.Second
	}
	if p.ShutdownTimeout <= 0 {
		p.ShutdownTimeout = 2 * time.Second
	}
	return nil
}

// Shutdown stops following the stream, sends what is queued (bounded by
// ShutdownTimeout; what cannot be sent counts as dropped) and waits for the
// background work to end. The last flag set keeps answering evaluations.
func (p *Provider) Shutdown() {
	p.mu.Lock()
	cancel := p.cancel
	p.cancel = nil
	p.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	p.wg.Wait()
	p.mu.Lock()
	if p.status != notReady {
		p.status = stale
	}
	p.mu.Unlock()
}

func (p *Provider) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

// Stats are counters of a provider's work since New.
type Stats struct {
	// Version is the environment version of the set being served ("" before
	// the first).
	Version string
	// Syncs counts flag sets applied; Invalid those rejected.
	Syncs, Invalid uint64
	// Reconnects counts stream connections after the first.
	Reconnects uint64
	// Queued is the number of events waiting to be sent.
	Queued int
	// Sent counts events the server accepted.
	Sent uint64
	// Dropped counts events lost: the queue was full, or Shutdown could not
	// send them.
	Dropped uint64
	// Rejected counts events refused as invalid, by the server (the event,
	// or the whole request with a 4xx other than 404, 408 and 429) or by
	// Track before queueing; they are not retried.
	Rejected uint64
	// SendFailures counts event posts that failed and will be retried
	// (unreachable server, 5xx, 404 while the endpoint does not exist).
	SendFailures uint64
	// EventsLost counts provider events dropped because EventChannel was
	// full.
	EventsLost uint64
}

// Stats returns the provider's counters.
func (p *Provider) Stats() Stats {
	s := Stats{
		Syncs:        p.stats.syncs.Load(),
		Invalid:      p.stats.invalid.Load(),
		Reconnects:   p.stats.reconnects.Load(),
		EventsLost:   p.stats.eventsLost.Load(),
		SendFailures: p.stats.sendFailures.Load(),
	}
	if cur := p.cur.Load(); cur != nil {
		s.Version = cur.version
	}
	if q := p.queue.Load(); q != nil {
		s.Queued, s.Sent, s.Dropped, s.Rejected = q.counts()
	}
	return s
}

// emit sends a provider event without ever blocking.
func (p *Provider) emit(t openfeature.EventType, details openfeature.ProviderEventDetails) {
	select {
	case p.events <- openfeature.Event{ProviderName: Name, EventType: t, ProviderEventDetails: details}:
	default:
		p.stats.eventsLost.Add(1)
	}
}
