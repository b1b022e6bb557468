package httpapi

import (
	"context"
	"errors"
	"hash/maphash"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/auth"
)

// Limits bound what clients can make the server hold: connections, time to
// send a body, bytes of bodies buffered at once, webhook bodies read before
// their signature is checked, failed authentications. The zero value of a
// field means its default (docs/security.md lists them).
type Limits struct {
	// MaxConns bounds open connections; beyond it new ones are closed at
	// once (so a flood of idle connections cannot exhaust file
	// descriptors). Default 4096.
	MaxConns int
	// HeaderTimeout bounds the time to send a request's headers. Default 10s.
	HeaderTimeout time.Duration
	// MaxHeaderBytes bounds a request's header, request line (so query
	// string) included; beyond it net/http answers 431. Every open
	// connection may hold this much while its header arrives, so with
	// MaxConns it bounds the memory of headers in flight (net/http's own
	// default, 1 MiB, let 4096 connections hold 4 GiB). Default 64 KiB.
	MaxHeaderBytes int64
	// BodyTimeout bounds the time to send a request's body, on every path
	// (the flag stream has no body, and lives long). Default 30s. Bodies
	// are checked every tenth of it (at most every second), so a stalled
	// one is cut within BodyTimeout plus that tick.
	BodyTimeout time.Duration
	// StreamWriteTimeout bounds the time a flag stream client (SSE,
	// flagd's) may take to receive each write — a flag set, a heartbeat;
	// a slower one is dropped (and reconnects, resuming from its
	// Last-Event-ID). Default 10s.
	StreamWriteTimeout time.Duration
	// MaxBufferedBytes bounds the request body bytes read and held by all
	// requests at once (event uploads hold up to 32 MiB each), and what
	// decoding an event upload holds beside its body (ingest.DecodeCost);
	// beyond it requests are answered 503 with Retry-After. Default 256 MiB.
	MaxBufferedBytes int64
	// MaxHookBodies bounds the webhook deliveries checked against the
	// store at once before their body is read (the sources are read to
	// know who could have signed them): unauthenticated store work.
	// Default 16. The wait for the body is not counted: a client cannot
	// slow this work down, and one that sends its body slowly holds
	// none of these slots (hookBody).
	MaxHookBodies int
	// MaxHookBuffered bounds the webhook body bytes read and not yet
	// verified, held by all deliveries at once (in memory up to 1 MiB
	// each, the rest in temporary files); beyond it deliveries are
	// answered 503 with Retry-After. Holding it takes sending it, where
	// a slot per body could be held by a byte a second. Default 64 MiB,
	// and never below MaxHookBody.
	MaxHookBuffered int64
	// MaxAnonBodiesPerConn bounds the requests of one connection whose
	// body is read before anything says who sent them — webhook
	// deliveries, and the dashboard's form posts (its sign-in, and every
	// form, read before the session is looked up) — at once; beyond it 503
	// with Retry-After. Nothing else bounds how many wait, and over HTTP/2
	// one connection carries 250 streams: without it, MaxConns connections
	// could keep a million anonymous requests waiting for their body, at
	// tens of KiB each (a goroutine, the request, a delivery's HMACs).
	// Forges send one delivery per HTTP/1.1 connection, a browser one form
	// at a time. Default 4.
	MaxAnonBodiesPerConn int
	// AuthFailures is how many failed authentications a client address may
	// make per AuthWindow before it is answered 429. Default 20 per minute.
	AuthFailures int
	AuthWindow   time.Duration
	// ThrottleLoopback counts failures from loopback addresses too. Off by
	// default: a reverse proxy on the same host makes every client
	// 127.0.0.1, and throttling it would lock everyone out.
	ThrottleLoopback bool
	// MaxAPIBody bounds an admin API request body (flagd files
	// included). Default 4 MiB.
	MaxAPIBody int64
	// MaxEventBody bounds an event upload, after decompression. Default
	// 32 MiB.
	MaxEventBody int64
	// MaxHookBody bounds a webhook body. Default 25 MiB (GitHub's cap).
	MaxHookBody int64
	// MaxEvents bounds the events of one upload (unless Events.Limits
	// sets its own). Default 10,000.
	MaxEvents int
	// MaxStreams bounds the flag streams open at once: SSE, and those of
	// other protocols that take a StreamSlot (flagd's); beyond it a new
	// stream is answered 503 with Retry-After (flagd: ResourceExhausted).
	// Default 2048.
	MaxStreams int
	// MaxStreamsPerClient bounds the flag streams one client address
	// (auth.ClientKey, as MaxRequestsPerClient counts them) holds at once,
	// of every kind together: SSE, flagd's streams with credentials and
	// flagd's anonymous event streams; beyond it 429 with Retry-After
	// (flagd: ResourceExhausted). Without it one address took every
	// MaxStreams slot with nothing but the client token every web page of
	// an app carries (it opens flagd event streams), and every in-process
	// SDK's stream was refused. Loopback addresses are not counted unless
	// LimitLoopback. Default a quarter of MaxStreams (512).
	MaxStreamsPerClient int
	// MaxRequests bounds the requests under way at once, flag streams
	// aside (MaxStreams bounds them once their request has been read),
	// checked before anything is done for a request; beyond it 503 with
	// Retry-After. Each holds a goroutine and its request (2.3–3.6 KiB
	// over HTTP/2 while it waits, BenchmarkWaitingRequest), and over
	// HTTP/2 a connection starts up to 250 at once, each of which may
	// wait for its body until BodyTimeout or for its client to read the
	// answer until ResponseTimeout: without it, MaxConns connections could
	// keep a million requests waiting, and a token (an evaluate token is
	// public in a browser app) or none (/healthz, the dashboard's pages)
	// was all it took. Default 16384.
	MaxRequests int
	// MaxRequestsPerClient bounds them per client address (auth.ClientKey:
	// an IPv4 address, an IPv6 /64), so that one client cannot take them
	// all; beyond it 429 with Retry-After. Loopback addresses are not
	// counted unless LimitLoopback: a reverse proxy on the same host makes
	// every client 127.0.0.1. Default 1024.
	MaxRequestsPerClient int
	// MaxConnsPerClient bounds the open connections of one client
	// address (as MaxRequestsPerClient counts them); beyond it new ones
	// are closed at once. Without it one address could hold every one of
	// MaxConns with keep-alive requests a minute apart. Default 1024 (a
	// quarter of MaxConns: browsers behind one corporate NAT each hold
	// one).
	MaxConnsPerClient int
	// LimitLoopback applies MaxRequestsPerClient, MaxConnsPerClient and
	// MaxStreamsPerClient to loopback addresses.
	LimitLoopback bool
	// TrustedProxies are the reverse proxies whose X-Forwarded-For says
	// who the client is (auth.ForwardedClient): behind them every client
	// would be the proxy's address, and one client's failed
	// authentications, or its requests, would hold back all the others.
	// Their connections are not counted per client (MaxConnsPerClient):
	// each carries many clients. Empty: the header is ignored, as anyone
	// can send it.
	TrustedProxies []netip.Prefix
	// ResponseTimeout bounds the time from a request's headers to the end
	// of its answer, its body's time included (so never below
	// BodyTimeout): a client that stops reading the answer — over HTTP/2,
	// one that opens no flow-control window — holds its request that long,
	// not for ever. Flag streams are not bounded by it (StreamWriteTimeout
	// bounds each of their writes), and a rebuild that reports progress
	// has it again from each report. Default 2m.
	ResponseTimeout time.Duration
}

func (l Limits) withDefaults() Limits {
	if l.MaxConns <= 0 {
		l.MaxConns = 4096
	}
	if l.HeaderTimeout <= 0 {
		l.HeaderTimeout = 10 * time.Second
	}
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = 64 << 10
	}
	if l.BodyTimeout <= 0 {
		l.BodyTimeout = 30 * time.Second
	}
	if l.StreamWriteTimeout <= 0 {
		l.StreamWriteTimeout = 10 * time.Second
	}
	if l.MaxBufferedBytes <= 0 {
		l.MaxBufferedBytes = 256 << 20
	}
	if l.MaxHookBodies <= 0 {
		l.MaxHookBodies = 16
	}
	if l.AuthFailures <= 0 {
		l.AuthFailures = 20
	}
	if l.AuthWindow <= 0 {
		l.AuthWindow = time.Minute
	}
	if l.MaxAPIBody <= 0 {
		l.MaxAPIBody = DefaultMaxAPIBody
	}
	if l.MaxEventBody <= 0 {
		l.MaxEventBody = MaxEventBody
	}
	if l.MaxHookBody <= 0 {
		l.MaxHookBody = MaxHookBody
	}
	if l.MaxHookBuffered <= 0 {
		l.MaxHookBuffered = 64 << 20
	}
	if l.MaxAnonBodiesPerConn <= 0 {
		l.MaxAnonBodiesPerConn = 4
	}
	// A body the server accepts must fit, or it would be answered
	// "retry" for ever.
	l.MaxHookBuffered = max(l.MaxHookBuffered, l.MaxHookBody)
	if l.MaxEvents <= 0 {
		l.MaxEvents = 10_000
	}
	if l.MaxStreams <= 0 {
		l.MaxStreams = 2048
	}
	if l.MaxStreamsPerClient <= 0 {
		l.MaxStreamsPerClient = max(l.MaxStreams/4, 1)
	}
	if l.MaxRequests <= 0 {
		l.MaxRequests = 16384
	}
	if l.MaxRequestsPerClient <= 0 {
		l.MaxRequestsPerClient = 1024
	}
	if l.MaxConnsPerClient <= 0 {
		l.MaxConnsPerClient = 1024
	}
	if l.ResponseTimeout <= 0 {
		l.ResponseTimeout = 2 * time.Minute
	}
	l.ResponseTimeout = max(l.ResponseTimeout, l.BodyTimeout)
	return l
}

// retryAfterSeconds is the Retry-After of 429 and 503 answers.
const retryAfterSeconds = 1

// guard holds the server-wide counters behind Limits.
type guard struct {
	lim     Limits
	conns   atomic.Int64 // open connections
	refused atomic.Uint64
	// refusedPerClient: connections closed at accept for
	// MaxConnsPerClient.
	refusedPerClient atomic.Uint64
	buffered         atomic.Int64 // body bytes held by requests now
	// refusing, when set (tests), runs while reserve refuses: what any
	// other request would see of the budget then.
	refusing  func()
	streams   atomic.Int64 // flag streams open now
	overload  atomic.Uint64
	hookSlots chan struct{}
	// hookBytes: webhook body bytes read and not yet verified, now.
	hookBytes atomic.Int64
	failures  *failureLimiter
	// forwarded reads a request's X-Forwarded-For (auth.ForwardedClient);
	// tests count its calls.
	forwarded func(peer netip.Addr, xff []string, trusted []netip.Prefix) netip.Addr
	// requests under way now (MaxRequests), and those refused.
	requests        atomic.Int64
	requestsRefused atomic.Uint64
	// streamsRefusedPerClient: flag streams refused for
	// MaxStreamsPerClient.
	streamsRefusedPerClient atomic.Uint64
	// streamPaths are the paths of other protocols' flag streams
	// (Server.StreamPaths).
	streamPaths []string

	// clients counts the connections of each client address that
	// MaxRequestsPerClient applies to, to find its count of requests
	// (client.requests) when a connection opens; an address is dropped
	// with its last connection, so there are never more than MaxConns.
	clientsMu sync.Mutex
	clients   map[netip.Addr]*client

	mu sync.Mutex
	// inflight lists the bodies of requests in flight, linked through the
	// bodies themselves (guardedBody.prev, next): adding and removing one,
	// twice a request, costs no hashing and no allocation.
	inflight  *guardedBody
	ninflight int
	stopping  bool

	// The body deadline is kept by watch, not by a deadline per request
	// (set, then cleared at the body's end: two timer changes and a clock
	// read, about half a microsecond a request): a body records the tick
	// it started at, and watch, every tick, ends the reads of bodies
	// that have taken BodyTimeout and more. So a stalled body is cut
	// after BodyTimeout plus at most one tick.
	tick         time.Duration
	timeoutTicks int64
	ticks        atomic.Int64
	quit         chan struct{} // closed by stop: watch returns
}

func newGuard(lim Limits) *guard {
	lim = lim.withDefaults()
	// A tenth of the timeout, between a millisecond and a second: 30 s
	// bodies are cut within 31 s, at one wake-up a second.
	tick := min(max(lim.BodyTimeout/10, time.Millisecond), time.Second)
	return &guard{
		lim:          lim,
		hookSlots:    make(chan struct{}, lim.MaxHookBodies),
		failures:     newFailureLimiter(lim.AuthFailures, lim.AuthWindow, lim.ThrottleLoopback),
		forwarded:    auth.ForwardedClient,
		clients:      map[netip.Addr]*client{},
		tick:         tick,
		timeoutTicks: int64((lim.BodyTimeout + tick - 1) / tick),
		quit:         make(chan struct{}),
	}
}

// watch cuts the bodies in flight that have taken BodyTimeout, every tick,
// until stop.
func (g *guard) watch() {
	t := time.NewTicker(g.tick)
	defer t.Stop()
	start := time.Now()
	for {
		select {
		case <-g.quit:
			return
		case <-t.C:
		}
		// Ticks elapsed, not wake-ups counted: a ticker drops ticks when
		// its reader is late (a starved core, a long collection), and a
		// stalled body would then outlive its deadline when it matters.
		g.scan(int64(time.Since(start) / g.tick))
	}
}

// scan cuts the bodies in flight that have taken BodyTimeout by tick now.
func (g *guard) scan(now int64) {
	g.ticks.Store(now)
	g.mu.Lock()
	defer g.mu.Unlock()
	for b := g.inflight; b != nil; b = b.next {
		if !b.seen {
			// Its tick is the one the last scan recorded, which may be
			// many ticks ago when this one is late: the body may have
			// begun just now. Taken as of the tick before this one (what
			// it is when scans are on time), so that catching up does
			// not cut it before it has had its time.
			b.seen = true
			b.started = max(b.started, now-1)
		}
		// A body started during tick s has run at least
		// (now-s-1) ticks: past the timeout when that reaches it.
		if !b.expired && !b.done.Load() && now-b.started > g.timeoutTicks {
			b.expire()
		}
	}
}

// register exposes the guard's counters in /metrics.
func (g *guard) register(reg *prometheus.Registry) {
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f)
	}
	counter := func(name, help string, v *atomic.Uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return float64(v.Load()) })
	}
	reg.MustRegister(
		gauge("valueloop_http_connections", "Open HTTP connections.", func() float64 { return float64(g.conns.Load()) }),
		gauge("valueloop_http_connections_max", "Open HTTP connections allowed (Limits.MaxConns).", func() float64 { return float64(g.lim.MaxConns) }),
		counter("valueloop_http_connections_refused_total", "Connections closed on accept because MaxConns were open.", &g.refused),
		counter("valueloop_http_connections_refused_per_client_total", "Connections closed on accept because their client address had MaxConnsPerClient open.", &g.refusedPerClient),
		gauge("valueloop_http_connections_per_client_max", "Open connections one client address may hold (Limits.MaxConnsPerClient).", func() float64 { return float64(g.lim.MaxConnsPerClient) }),
		gauge("valueloop_http_body_bytes_buffered", "Request body bytes held by requests now.", func() float64 { return float64(g.buffered.Load()) }),
		gauge("valueloop_http_body_bytes_buffered_max", "Request body bytes that may be held at once (Limits.MaxBufferedBytes).", func() float64 { return float64(g.lim.MaxBufferedBytes) }),
		counter("valueloop_http_body_overload_total", "Requests answered 503 because MaxBufferedBytes or MaxHookBuffered were held, or MaxHookBodies deliveries were being checked.", &g.overload),
		gauge("valueloop_http_hook_bytes_unverified", "Webhook body bytes read and not yet verified, held now.", func() float64 { return float64(g.hookBytes.Load()) }),
		gauge("valueloop_http_hook_bytes_unverified_max", "Webhook body bytes not yet verified that may be held at once (Limits.MaxHookBuffered).", func() float64 { return float64(g.lim.MaxHookBuffered) }),
		counter("valueloop_auth_failures_total", "Requests with a missing, unknown or revoked token.", &g.failures.failed),
		counter("valueloop_auth_throttled_total", "Requests answered 429 because their address failed authentication too often.", &g.failures.throttled),
		gauge("valueloop_stream_max", "Flag streams that may be open at once (Limits.MaxStreams).", func() float64 { return float64(g.lim.MaxStreams) }),
		gauge("valueloop_stream_slots", "Flag streams open now that count against Limits.MaxStreams: SSE, and flagd's SyncFlags and event streams with credentials.", func() float64 { return float64(g.streams.Load()) }),
		gauge("valueloop_stream_per_client_max", "Flag streams one client address may hold open at once (Limits.MaxStreamsPerClient).", func() float64 { return float64(g.lim.MaxStreamsPerClient) }),
		counter("valueloop_stream_refused_per_client_total", "Flag streams refused because their client address held MaxStreamsPerClient.", &g.streamsRefusedPerClient),
		gauge("valueloop_auth_failures_limit", "Failed authentications allowed per address and window (Limits.AuthFailures).", func() float64 { return float64(g.lim.AuthFailures) }),
		gauge("valueloop_auth_failures_window_seconds", "The window of Limits.AuthFailures, in seconds.", func() float64 { return g.lim.AuthWindow.Seconds() }),
		gauge("valueloop_http_requests", "Requests under way now, flag streams aside (Limits.MaxRequests).", func() float64 { return float64(g.requests.Load()) }),
		gauge("valueloop_http_requests_max", "Requests that may be under way at once (Limits.MaxRequests).", func() float64 { return float64(g.lim.MaxRequests) }),
		gauge("valueloop_http_requests_per_client_max", "Requests one client address may have under way at once (Limits.MaxRequestsPerClient).", func() float64 { return float64(g.lim.MaxRequestsPerClient) }),
		counter("valueloop_http_requests_refused_total", "Requests answered 503 because MaxRequests were under way, or 429 because their client address had MaxRequestsPerClient under way.", &g.requestsRefused),
	)
}

// httpServer builds the *http.Server with the limits applied: header
// timeout and size (HTTP/2's header list size follows MaxHeaderBytes),
// idle timeout; body deadlines are kept by guarded and guard.watch.
func (s *Server) httpServer(h http.Handler) *http.Server {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: s.guard.lim.HeaderTimeout,
		MaxHeaderBytes:    int(s.guard.lim.MaxHeaderBytes),
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.Logger.Handler(), slog.LevelWarn),
		// Not a deadline for writes alone: net/http counts it from the
		// request's headers (and over HTTP/2 resets the stream when it
		// passes). Flag streams take it off (guarded).
		WriteTimeout: s.guard.lim.ResponseTimeout,
		// Each connection knows its client's count of requests
		// (MaxRequestsPerClient) and counts its webhook deliveries
		// waiting for a body and the dashboard's form posts
		// (MaxAnonBodiesPerConn).
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			st := new(connState)
			if cc, ok := c.(*countedConn); ok {
				st.client, st.proxied = cc.client, cc.proxied
			}
			return context.WithValue(ctx, connKey{}, st)
		},
		// HTTP/2 has no header timeout: a client that stops in the middle
		// of a frame (half a HEADERS frame opens no stream) was held until
		// IdleTimeout. net/http's only hook is the health check: after
		// HeaderTimeout without a whole frame the server sends a PING,
		// and closes the connection when no answer comes within
		// HeaderTimeout more — none can, behind the half frame. A client
		// with streams open but nothing to send (a flag stream) answers
		// the PING by itself, as HTTP/2 requires.
		HTTP2: &http.HTTP2Config{
			SendPingTimeout: s.guard.lim.HeaderTimeout,
			PingTimeout:     s.guard.lim.HeaderTimeout,
		},
	}
	// On shutdown, requests still waiting for their body will not get it in
	// time: end those reads now instead of holding shutdown for them.
	srv.RegisterOnShutdown(s.guard.stop)
	return srv
}

// stop ends the body reads of requests in flight that have not read their
// whole body (the others are left to finish), and watch.
func (g *guard) stop() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.stopping {
		return
	}
	g.stopping = true
	close(g.quit)
	for b := g.inflight; b != nil; b = b.next {
		if !b.expired && !b.done.Load() {
			b.expire()
		}
	}
}

// guarded wraps the server's handler: a deadline for a request's body, the
// body's bytes counted against MaxBufferedBytes while the handler runs, and
// read errors turned into error kinds. Requests without a body (the flag
// stream's among them, which lives long) are passed through untouched; a
// flag stream sent with a body gets the deadline, which only bounds the
// wait for that body (the stream never reads it).
//
// It first counts the request against MaxRequests and its client's
// MaxRequestsPerClient, and refuses it beyond them before anything else is
// done. A flag stream is counted while its request is read, not while it
// streams: a stream slot (MaxStreams) bounds it then.
func (s *Server) guarded(h http.HandlerFunc) http.HandlerFunc {
	g := s.guard
	return func(w http.ResponseWriter, r *http.Request) {
		st, _ := r.Context().Value(connKey{}).(*connState)
		if st != nil && st.proxied {
			// The handlers get a copy with the client in its context;
			// tracing, outside, reads the mux's pattern on r.
			outer := r
			r = g.withClient(r)
			defer func() { outer.Pattern = r.Pattern }()
		}
		noBody := r.Body == nil || r.Body == http.NoBody
		stream := g.isStream(r)
		if stream {
			rc := http.NewResponseController(w)
			rc.SetWriteDeadline(time.Time{}) // not ResponseTimeout: it streams
			w = &streamWriter{ResponseWriter: w, rc: rc, timeout: g.lim.StreamWriteTimeout}
		}
		counted := st != nil && !(stream && noBody)
		var cl *client
		if counted {
			cl = st.client
			if st.proxied {
				var release func()
				cl, release = g.forwardedClient(r)
				defer release() // after the request's place is given back
			}
			if err := g.enter(cl); err != nil {
				unread := !noBody && r.ProtoMajor < 2
				rc := http.NewResponseController(w)
				if unread {
					closeUnread(w, rc)
				}
				s.writeError(w, r, err)
				if unread {
					// net/http reads up to 256 KiB of what is left of the
					// body after the answer is sent, before it closes: for
					// closeGrace at most, as after the other answers to an
					// unread body (unreadWriter), so that a client still
					// sending its body is not reset before it reads the
					// refusal. The request is not counted meanwhile.
					rc.SetReadDeadline(time.Now().Add(min(closeGrace, g.lim.BodyTimeout)))
				}
				return
			}
		}
		if noBody {
			if counted {
				defer g.leave(cl)
			}
			h(w, r)
			return
		}
		// One allocation: the body keeps the writer, and makes a controller
		// of it only when it sets a deadline (rarely: a copy of one made
		// here was a second allocation per request); the writer that
		// closes the answers to an unread body (unreadWriter) is part of
		// it too.
		body := &guardedBody{ReadCloser: r.Body, g: g, w: w, started: g.ticks.Load(), stream: stream}
		if r.ProtoMajor < 2 {
			body.out = unreadWriter{ResponseWriter: w, b: body}
			w = &body.out
		}
		if counted {
			body.counted, body.client = true, cl
		}
		g.mu.Lock()
		if g.stopping {
			body.expire()
		}
		g.add(body)
		g.mu.Unlock()
		r.Body = body
		defer func() {
			g.buffered.Add(-body.held)
			g.mu.Lock()
			g.remove(body)
			unread := !body.done.Load() && !body.expired
			body.uncount()
			g.mu.Unlock()
			if unread && r.ProtoMajor < 2 {
				body.out.answer(http.StatusOK) // if the handler wrote nothing
			}
			if unread {
				// net/http may read the rest after the handler, to reuse
				// the connection (HTTP/2, a flag stream's answer): within
				// what is left of the deadline, which watch no longer
				// keeps. After an answer that closes the connection it
				// still reads up to 256 KiB of the rest, the answer sent:
				// for closeGrace at most, enough for a client that sends
				// its body at once (closed with its bytes unread, the
				// connection is reset, and the client may lose the
				// answer), and no more of a goroutine for one trickling.
				left := max(time.Duration(g.timeoutTicks-(g.ticks.Load()-body.started))*g.tick, 0)
				if body.out.closing {
					left = min(left, closeGrace)
				}
				body.rc().SetReadDeadline(time.Now().Add(left))
			}
		}()
		h(w, r)
	}
}

// add puts b on the inflight list; the caller holds g.mu.
func (g *guard) add(b *guardedBody) {
	b.next = g.inflight
	if b.next != nil {
		b.next.prev = b
	}
	g.inflight = b
	g.ninflight++
}

// remove takes b off the inflight list; the caller holds g.mu.
func (g *guard) remove(b *guardedBody) {
	if b.prev != nil {
		b.prev.next = b.next
	} else {
		g.inflight = b.next
	}
	if b.next != nil {
		b.next.prev = b.prev
	}
	b.prev, b.next = nil, nil
	g.ninflight--
}

// streamWriter bounds each write and flush of a flag stream (SSE, flagd's)
// by StreamWriteTimeout: a client that does not take what is sent within
// it is dropped (the write fails; over HTTP/2 the stream is reset), where
// it would otherwise hold the stream, its slot and the server's write for
// as long as it liked — a client that opens no flow-control window, or
// one that resumes an SSE stream up to date and so is sent only
// heartbeats. Between messages no deadline runs: a stream idles as long
// as it lives. The deadline is set at a message's first write and taken
// off when it has been flushed (both streams flush every message), two
// changes a message — over HTTP/2 each is a message to the connection's
// goroutine, and a flag change goes to every stream at once.
type streamWriter struct {
	http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
	armed   bool // a deadline is set
}

func (w *streamWriter) arm() {
	if !w.armed {
		w.armed = true
		w.rc.SetWriteDeadline(time.Now().Add(w.timeout))
	}
}

func (w *streamWriter) Write(p []byte) (int, error) {
	w.arm()
	return w.ResponseWriter.Write(p)
}

// Flush is FlushError for http.Flusher (connect's streams use it).
func (w *streamWriter) Flush() { w.FlushError() }

func (w *streamWriter) FlushError() error {
	w.arm()
	err := w.rc.Flush()
	w.armed = false
	w.rc.SetWriteDeadline(time.Time{})
	return err
}

func (w *streamWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// apiBodyLimit is the MaxAPIBody of the server serving r, found through
// its body (guarded's) rather than a context value, which would cost
// every request a copy of itself.
func apiBodyLimit(r *http.Request) int64 {
	if b, ok := r.Body.(*guardedBody); ok {
		return b.g.lim.MaxAPIBody
	}
	return DefaultMaxAPIBody
}

// StreamSlot takes a place for a flag stream served by another protocol
// on the server's port (flagd's SyncFlags and event streams, package
// flagdapi), so that they and the SSE streams are bounded together: one
// of its client's MaxStreamsPerClient, found from ctx (the request's),
// and unless anonymous one of the MaxStreams slots (flagd's anonymous
// event streams have a cap of their own); release gives them back. Call
// it once the server is open.
func (s *Server) StreamSlot(ctx context.Context, anonymous bool) (release func(), err error) {
	return s.guard.streamSlot(ctx, !anonymous)
}

// streamSlot takes one of the MaxStreamsPerClient places of the client of
// ctx and, when slot, one of the MaxStreams slots, for a flag stream;
// release gives them back.
func (g *guard) streamSlot(ctx context.Context, slot bool) (release func(), err error) {
	if slot && g.streams.Add(1) > int64(g.lim.MaxStreams) {
		g.streams.Add(-1)
		g.overload.Add(1)
		return nil, valueloop.Errorf(valueloop.EUNAVAILABLE, "the server holds as many flag streams open as it may (%d): retry shortly, or evaluate with OFREP", g.lim.MaxStreams)
	}
	giveBack := func() {
		if slot {
			g.streams.Add(-1)
		}
	}
	c, let := g.streamClient(ctx)
	if c != nil && c.streams.Add(1) > int64(g.lim.MaxStreamsPerClient) {
		c.streams.Add(-1)
		let()
		giveBack()
		g.streamsRefusedPerClient.Add(1)
		return nil, valueloop.Errorf(valueloop.ETOOMANY, "this client address holds as many flag streams open as it may (%d): close one, or retry later", g.lim.MaxStreamsPerClient)
	}
	return func() {
		if c != nil {
			c.streams.Add(-1)
		}
		let()
		giveBack()
	}, nil
}

// streamClient finds the client a flag stream of ctx (its request's
// context) counts against, and holds it until let: the connection's, or
// through a trusted proxy the one its X-Forwarded-For names (guarded put
// it in the context). Nil when none is counted (loopback, unless
// LimitLoopback; a stream served without httpServer).
func (g *guard) streamClient(ctx context.Context) (c *client, let func()) {
	st, _ := ctx.Value(connKey{}).(*connState)
	switch {
	case st == nil:
		return nil, func() {}
	case !st.proxied:
		return st.client, func() {} // the stream holds its connection open
	}
	ip, ok := auth.ClientFrom(ctx)
	return g.holdClient(ip, ok)
}

// guardedBody counts the bytes read from a body against the server's
// budget and reports a body that stops arriving as ETIMEOUT.
type guardedBody struct {
	io.ReadCloser
	g    *guard
	w    http.ResponseWriter // the request's, for its connection's deadlines (rc)
	held int64
	done atomic.Bool // the whole body was read
	// started is the guard's tick when the body began, as the first scan
	// that saw it corrects it (scan); under g.mu while in flight.
	started int64
	// Under g.mu: expired, the body's reads were cut (its deadline set
	// to now, by watch or stop); seen, a scan has checked started; prev
	// and next link the guard's inflight list.
	expired    bool
	seen       bool
	prev, next *guardedBody
	// counted: the request is counted against MaxRequests and its
	// client's (guard.enter), until its handler ends — or, for a flag
	// stream (stream), until its request has been read. Under g.mu.
	counted bool
	stream  bool
	client  *client
	// out is the writer handlers get over HTTP/1.x (unreadWriter).
	out unreadWriter
}

// closeGrace is how long net/http may read the rest of a body after an
// answer that closes its connection (guarded): net/http's own wait before
// it closes a connection whose client may still be sending (its
// rstAvoidanceDelay).
const closeGrace = 500 * time.Millisecond

// unreadWriter answers an HTTP/1.x request whose body was declared and
// not read to its end with Connection: close, whatever the answer: a
// refusal (an error of a route, OFREP's, flagd's, the mux's 404 and 405)
// or a route that reads no body (a GET sent with one). net/http otherwise
// reads up to 256 KiB of the rest before it writes the answer, to reuse
// the connection — it cannot tell the body is unread behind guardedBody
// — so a client trickling its body got the answer, and gave back the
// request's goroutine, only at BodyTimeout. A client whose body a
// handler does not want loses its connection, no more. A flag stream is
// the exception: its success is left to net/http, whose read of the body
// a stalled client makes fail at BodyTimeout, which ends the stream (its
// request would otherwise count against MaxRequests while it streams).
// HTTP/2 needs none of this: it resets the stream alone.
type unreadWriter struct {
	http.ResponseWriter
	b        *guardedBody
	answered bool // the status line is decided
	closing  bool // with Connection: close
}

// answer decides, before the answer's header goes out, whether it closes
// the connection: when the body is not read whole by then.
func (w *unreadWriter) answer(status int) {
	if !w.answered {
		w.answered = true
		if !w.b.done.Load() && (status >= 400 || !w.b.stream) {
			w.closing = true
			w.ResponseWriter.Header().Set("Connection", "close")
		}
	}
}

func (w *unreadWriter) WriteHeader(code int) {
	if code >= 200 || code == http.StatusSwitchingProtocols {
		w.answer(code) // not a 1xx that another answer follows
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *unreadWriter) Write(p []byte) (int, error) {
	w.answer(http.StatusOK)
	return w.ResponseWriter.Write(p)
}

// Flush is FlushError for http.Flusher (connect's streams, SSE).
func (w *unreadWriter) Flush() { w.FlushError() }

func (w *unreadWriter) FlushError() error {
	w.answer(http.StatusOK)
	switch f := w.ResponseWriter.(type) {
	case interface{ FlushError() error }:
		return f.FlushError()
	case http.Flusher:
		f.Flush()
		return nil
	}
	return http.ErrNotSupported
}

func (w *unreadWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// uncount gives back the request's place in MaxRequests and its client's,
// once; the caller holds g.mu.
func (b *guardedBody) uncount() {
	if b.counted {
		b.counted = false
		b.g.leave(b.client)
	}
}

// expire cuts the body's reads; the caller holds g.mu.
func (b *guardedBody) expire() {
	b.expired = true
	b.rc().SetReadDeadline(time.Now())
}

// rc is the controller of the request's connection.
func (b *guardedBody) rc() *http.ResponseController { return http.NewResponseController(b.w) }

func (b *guardedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF && !b.done.Load() {
		b.g.mu.Lock()
		b.done.Store(true) // watch and stop leave it be from now on
		expired := b.expired
		if b.stream {
			b.uncount() // a stream slot bounds it from now on
		}
		b.g.mu.Unlock()
		if expired {
			// The deadline was for the body. Past it, net/http reads the
			// connection to notice a client that leaves, and a deadline
			// there would cancel a handler that merely takes long.
			b.rc().SetReadDeadline(time.Time{})
		}
	}
	if n > 0 {
		b.held += int64(n)
		if b.g.buffered.Add(int64(n)) > b.g.lim.MaxBufferedBytes {
			b.g.overload.Add(1)
			return n, valueloop.Errorf(valueloop.EUNAVAILABLE, "the server holds as many request bodies as it may (%d bytes): retry shortly; nothing was stored", b.g.lim.MaxBufferedBytes)
		}
	}
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		return n, valueloop.Errorf(valueloop.ETIMEOUT, "the request body did not arrive within %s (or the server is shutting down); nothing was stored", b.g.lim.BodyTimeout)
	}
	return n, err
}

// bodyError keeps the kind of a body read error made by guardedBody and
// reports others (the client went away) as invalid input.
func bodyError(err error) error {
	var e *valueloop.Error
	if errors.As(err, &e) {
		return e
	}
	return valueloop.Errorf(valueloop.EINVALID, "cannot read the request body: %v", err)
}

// bodyErrors reports the read errors of a body as bodyError does.
type bodyErrors struct{ io.Reader }

func (b bodyErrors) Read(p []byte) (int, error) {
	n, err := b.Reader.Read(p)
	if err != nil && err != io.EOF {
		err = bodyError(err)
	}
	return n, err
}

// reserve counts n more bytes against MaxBufferedBytes for a request
// that holds own bytes of it already (its body), until release; beyond
// the budget it is refused (503, Retry-After) — unless nothing else is
// held: a request alone proceeds, or one that needs more than the budget
// would be refused for ever.
//
// It checks before it counts (compare and swap), so a refused
// reservation never shows in the count: adding first and taking back
// would, for that moment, refuse requests that fit beside what is held.
func (g *guard) reserve(n, own int64) (release func(), err error) {
	for {
		held := g.buffered.Load()
		if total := held + n; total > g.lim.MaxBufferedBytes && total > n+own {
			if g.refusing != nil {
				g.refusing()
			}
			g.overload.Add(1)
			return nil, valueloop.Errorf(valueloop.EUNAVAILABLE, "the server holds as many request bodies, and what decoding them takes, as it may (%d bytes): retry shortly; nothing was stored", g.lim.MaxBufferedBytes)
		}
		if g.buffered.CompareAndSwap(held, held+n) {
			return func() { g.buffered.Add(-n) }, nil
		}
	}
}

// hookSlot takes one of the MaxHookBodies slots for checking an
// unauthenticated webhook delivery before its body; release gives it back.
func (g *guard) hookSlot() (release func(), err error) {
	select {
	case g.hookSlots <- struct{}{}:
		return func() { <-g.hookSlots }, nil
	default:
		g.overload.Add(1)
		return nil, valueloop.Errorf(valueloop.EUNAVAILABLE, "the server is checking as many webhook deliveries as it may (%d): retry shortly", g.lim.MaxHookBodies)
	}
}

// connKey finds, in a request's context, its connection's connState.
type connKey struct{}

// connState is what the guard keeps of a connection for its requests.
type connState struct {
	client  *client      // nil: its address is not counted (loopback)
	proxied bool         // from a trusted proxy: each request says its client
	anon    atomic.Int64 // anonymous requests under way (anonConn)
}

// client counts the requests under way of one client address, over all
// its connections (MaxRequestsPerClient).
type client struct {
	key netip.Addr
	// Under guard.clientsMu: its connections, and its requests under way
	// that came through a trusted proxy (forwardedClient).
	conns, forwarded int
	requests         atomic.Int64
	streams          atomic.Int64 // flag streams open (MaxStreamsPerClient)
}

// connect finds the client of a connection from addr, or nil when it is
// not counted per client (loopback, unless LimitLoopback; not an IP; a
// trusted proxy, then proxied); ok is false when the client has
// MaxConnsPerClient open already.
func (g *guard) connect(addr net.Addr) (c *client, proxied, ok bool) {
	tcp, isTCP := addr.(*net.TCPAddr)
	if !isTCP {
		return nil, false, true
	}
	ip := tcp.AddrPort().Addr().Unmap()
	if auth.IsTrustedProxy(ip, g.lim.TrustedProxies) {
		return nil, true, true
	}
	if ip.IsLoopback() && !g.lim.LimitLoopback {
		return nil, false, true
	}
	g.clientsMu.Lock()
	defer g.clientsMu.Unlock()
	c = g.clientLocked(auth.ClientKey(ip))
	if c.conns >= g.lim.MaxConnsPerClient {
		return nil, false, false // it has one open at least: it stays
	}
	c.conns++
	return c, false, true
}

// clientLocked finds or makes the client of key; g.clientsMu is held.
func (g *guard) clientLocked(key netip.Addr) *client {
	c := g.clients[key]
	if c == nil {
		c = &client{key: key}
		g.clients[key] = c
	}
	return c
}

// disconnect ends a connection of c (nil: none counted).
func (g *guard) disconnect(c *client) {
	if c == nil {
		return
	}
	g.clientsMu.Lock()
	defer g.clientsMu.Unlock()
	c.conns--
	g.dropLocked(c)
}

// dropLocked forgets c once nothing holds it; g.clientsMu is held.
func (g *guard) dropLocked(c *client) {
	if c.conns == 0 && c.forwarded == 0 {
		delete(g.clients, c.key)
	}
}

// forwardedClient finds the client of a request that came through a
// trusted proxy, as its X-Forwarded-For says, and holds it until release
// (nil, with a release that does nothing, for a loopback client unless
// LimitLoopback).
func (g *guard) forwardedClient(r *http.Request) (c *client, release func()) {
	return g.holdClient(g.client(r))
}

// holdClient finds the client of ip and holds it until release (nil, with
// a release that does nothing, when ok is false or for a loopback client
// unless LimitLoopback).
func (g *guard) holdClient(ip netip.Addr, ok bool) (c *client, release func()) {
	if !ok || (ip.IsLoopback() && !g.lim.LimitLoopback) {
		return nil, func() {}
	}
	g.clientsMu.Lock()
	c = g.clientLocked(auth.ClientKey(ip))
	c.forwarded++
	g.clientsMu.Unlock()
	return c, func() {
		g.clientsMu.Lock()
		c.forwarded--
		g.dropLocked(c)
		g.clientsMu.Unlock()
	}
}

// enter counts a request against MaxRequests and, when c is not nil, its
// client's MaxRequestsPerClient, or refuses it beyond them; leave gives
// its place back.
func (g *guard) enter(c *client) error {
	if g.requests.Add(1) > int64(g.lim.MaxRequests) {
		g.requests.Add(-1)
		g.requestsRefused.Add(1)
		return valueloop.Errorf(valueloop.EUNAVAILABLE, "the server has as many requests under way as it may (%d): retry shortly", g.lim.MaxRequests)
	}
	if c != nil && c.requests.Add(1) > int64(g.lim.MaxRequestsPerClient) {
		c.requests.Add(-1)
		g.requests.Add(-1)
		g.requestsRefused.Add(1)
		return valueloop.Errorf(valueloop.ETOOMANY, "this client address has as many requests under way as it may (%d): retry shortly", g.lim.MaxRequestsPerClient)
	}
	return nil
}

func (g *guard) leave(c *client) {
	g.requests.Add(-1)
	if c != nil {
		c.requests.Add(-1)
	}
}

// isStream reports a request for a flag stream: the SSE streams, or another
// protocol's (Server.StreamPaths).
func (g *guard) isStream(r *http.Request) bool {
	p := r.URL.Path
	if r.Method == http.MethodGet && (p == ofrepStreamPath || strings.HasSuffix(p, "/stream") && strings.HasPrefix(p, "/api/v1/environments/")) {
		return true
	}
	return slices.Contains(g.streamPaths, p)
}

// anonConn counts an anonymous request of r's connection (a webhook
// delivery, a dashboard form post) until leave, and refuses one beyond
// MaxAnonBodiesPerConn.
func (g *guard) anonConn(r *http.Request) (leave func(), err error) {
	st, ok := r.Context().Value(connKey{}).(*connState)
	if !ok {
		return func() {}, nil // served without httpServer (tests of handlers)
	}
	n := &st.anon
	if n.Add(1) > int64(g.lim.MaxAnonBodiesPerConn) {
		n.Add(-1)
		g.overload.Add(1)
		return nil, valueloop.Errorf(valueloop.EUNAVAILABLE, "this connection has as many requests from unknown senders (webhook deliveries, form posts) under way as it may (%d): retry shortly", g.lim.MaxAnonBodiesPerConn)
	}
	return func() { n.Add(-1) }, nil
}

// hookFits refuses a webhook body declared longer than the MaxHookBuffered
// bytes free now, before anything is done for it.
func (g *guard) hookFits(length int64) error {
	if length > 0 && g.hookBytes.Load()+length > g.lim.MaxHookBuffered {
		return g.hookFull()
	}
	return nil
}

func (g *guard) hookFull() error {
	g.overload.Add(1)
	return valueloop.Errorf(valueloop.EUNAVAILABLE, "the server holds as many webhook bytes not yet verified as it may (%d): retry shortly; nothing was stored", g.lim.MaxHookBuffered)
}

// hookBody is the body of an unauthenticated webhook delivery. Its
// MaxHookBodies slot covers the work before the body is awaited (reading
// and checking the sources, which no client can slow down) and is given
// back at the body's first read: a slot held until the body had arrived
// let a client trickling a byte a second hold it until the body deadline,
// and MaxHookBodies such clients shut out every real webhook. While the
// body arrives the delivery holds its bytes instead, counted against
// MaxHookBuffered until done, so holding that budget takes sending it (and
// a stalled sender holds what it sent, until BodyTimeout). A minimum
// transfer rate per slot would not have bounded it: the rate must be one a
// real sender on a poor link meets, and a client keeping to it holds the
// slot just the same, for a few kilobytes a second. A body read after done
// (none is) is not counted.
type hookBody struct {
	io.Reader
	g       *guard
	release func() // the slot; nil once given back
	leave   func() // the connection's count (anonConn)
	held    int64
	over    bool // done was called
}

func (b *hookBody) Read(p []byte) (int, error) {
	b.freeSlot()
	n, err := b.Reader.Read(p)
	if n > 0 && !b.over {
		b.held += int64(n)
		if b.g.hookBytes.Add(int64(n)) > b.g.lim.MaxHookBuffered {
			return n, b.g.hookFull()
		}
	}
	return n, err
}

func (b *hookBody) freeSlot() {
	if b.release != nil {
		b.release()
		b.release = nil
	}
}

// done gives back what the delivery holds: its slot, when its body was
// never read, its place in its connection's count, and its bytes, once
// the body has been read and verified or refused. Called more than once,
// it does nothing more.
func (b *hookBody) done() {
	b.freeSlot()
	if !b.over {
		b.over = true
		b.g.hookBytes.Add(-b.held)
		b.held = 0
		b.leave()
	}
}

// limitListener closes connections accepted beyond the guard's MaxConns.
type limitListener struct {
	net.Listener
	g *guard
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.g.conns.Add(1) > int64(l.g.lim.MaxConns) {
			l.g.conns.Add(-1)
			l.g.refused.Add(1)
			c.Close()
			continue
		}
		cl, proxied, ok := l.g.connect(c.RemoteAddr())
		if !ok {
			l.g.conns.Add(-1)
			l.g.refusedPerClient.Add(1)
			c.Close()
			continue
		}
		return &countedConn{Conn: c, g: l.g, client: cl, proxied: proxied}, nil
	}
}

type countedConn struct {
	net.Conn
	g       *guard
	client  *client
	proxied bool // from a trusted proxy: each request says its client
	once    sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() {
		c.g.conns.Add(-1)
		c.g.disconnect(c.client)
	})
	return c.Conn.Close()
}

// failureLimiter counts failed authentications per client address (for
// IPv6, per /64) in fixed windows, so that guessing tokens from one address
// is slowed to AuthFailures per AuthWindow. Memory is bounded: at most
// maxAddrs addresses are tracked per window, and the failures of the
// addresses beyond them are counted in a sketch (overflow): two rows of
// cells, an address's count the smaller of its two cells. An address is
// never counted below its own failures, so one past a full table is still
// held to AuthFailures (untracked and uncounted, it guessed freely); and a
// client that never failed is throttled only if both its cells were filled
// by others, which takes about AuthFailures × 65,536 failures in a window.
// Untracked addresses once shared one count, which let anyone with enough
// addresses (a /48 holds 65,536 /64s) throttle every client that had not
// failed yet, good tokens included.
type failureLimiter struct {
	max      int
	window   time.Duration
	loopback bool // throttle loopback addresses too
	now      func() time.Time

	mu     sync.Mutex
	start  time.Time
	counts map[netip.Addr]int // by key
	// overflow counts the failures of keys not in counts, made at the
	// first of them in a window and let go at its end; seed places a key
	// in its cells.
	overflow *[2][overflowCells]uint16
	seed     maphash.Seed
	// full: some count of the window has reached max. Until then no
	// address is blocked, and blocked answers without parsing the address
	// or taking the lock, as it does for almost every request.
	full atomic.Bool

	failed, throttled atomic.Uint64
}

const (
	maxAddrs      = 65536
	overflowCells = 1 << 16 // per row: 256 KiB in all, once some table filled
)

func newFailureLimiter(max int, window time.Duration, loopback bool) *failureLimiter {
	return &failureLimiter{max: max, window: window, loopback: loopback, now: time.Now, counts: map[netip.Addr]int{}, seed: maphash.MakeSeed()}
}

// cells returns where key's failures are counted in overflow.
func (f *failureLimiter) cells(key netip.Addr) (int, int) {
	b := key.As16()
	h := maphash.Bytes(f.seed, b[:])
	return int(h % overflowCells), int((h >> 32) % overflowCells)
}

// count returns the failures of key in the window: f.mu is held.
func (f *failureLimiter) count(key netip.Addr) int {
	if n, ok := f.counts[key]; ok || f.overflow == nil {
		return n
	}
	i, j := f.cells(key)
	return int(min(f.overflow[0][i], f.overflow[1][j]))
}

// key is what the failures of the client ip are counted by
// (auth.ClientKey: an IPv4 address, an IPv6 address's /64); exempt reports
// an address not throttled. isIP is false for a client that has no IP
// (another kind of listener): those share one key.
func (f *failureLimiter) key(ip netip.Addr, isIP bool) (key netip.Addr, exempt bool) {
	if !isIP {
		return netip.Addr{}, false
	}
	return auth.ClientKey(ip), !f.loopback && ip.Unmap().IsLoopback()
}

func (f *failureLimiter) roll() {
	if now := f.now(); now.Sub(f.start) >= f.window {
		f.start, f.counts, f.overflow = now, map[netip.Addr]int{}, nil
		f.full.Store(false)
	}
}

// blocked reports whether the client ip (guard.client) has used up its
// failures for the window.
func (f *failureLimiter) blocked(ip netip.Addr, isIP bool) bool {
	if !f.full.Load() {
		return false
	}
	key, exempt := f.key(ip, isIP)
	if exempt {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.roll()
	if f.count(key) >= f.max {
		f.throttled.Add(1)
		return true
	}
	return false
}

// fail counts a failed authentication from the client ip (guard.client).
func (f *failureLimiter) fail(ip netip.Addr, isIP bool) {
	f.failed.Add(1)
	key, exempt := f.key(ip, isIP)
	if exempt {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.roll()
	n := 0
	if _, ok := f.counts[key]; ok || len(f.counts) < maxAddrs {
		f.counts[key]++
		n = f.counts[key]
	} else {
		if f.overflow == nil {
			f.overflow = new([2][overflowCells]uint16)
		}
		i, j := f.cells(key)
		a, b := &f.overflow[0][i], &f.overflow[1][j]
		*a = min(*a, math.MaxUint16-1) + 1 // saturating: never back to 0
		*b = min(*b, math.MaxUint16-1) + 1
		n = int(min(*a, *b))
	}
	if n >= f.max {
		f.full.Store(true)
	}
}

// client is the address of r's client, which failures are counted by: the
// one guarded found for a request through a trusted proxy, carried in its
// context (so that its X-Forwarded-For is read once), else clientIP's. False
// when the connection's address is not an IP (another kind of listener).
func (g *guard) client(r *http.Request) (netip.Addr, bool) {
	if ip, ok := auth.ClientFrom(r.Context()); ok {
		return ip, true
	}
	return g.clientIP(r)
}

// withClient returns r with its client in its context (auth.WithClient),
// for a request from a trusted proxy: the connection's IP is not the
// client's, and its X-Forwarded-For is read here, once.
func (g *guard) withClient(r *http.Request) *http.Request {
	ip, ok := g.clientIP(r)
	if !ok {
		return r
	}
	return r.WithContext(auth.WithClient(r.Context(), ip))
}

// clientIP reads r's client: the connection's IP, or from a trusted proxy
// what its X-Forwarded-For says (auth.ForwardedClient; from anyone else the
// header is the client's to forge). False when the connection's address is
// not an IP.
func (g *guard) clientIP(r *http.Request) (netip.Addr, bool) {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}, false
	}
	return g.forwarded(ap.Addr(), r.Header.Values("X-Forwarded-For"), g.lim.TrustedProxies), true
}

// throttled gives another protocol's handler (flagd's) the failed
// authentication throttle of the API, through the request's context: it
// refuses addresses that failed too often and counts its failures.
func (s *Server) throttled(h http.Handler) http.HandlerFunc {
	f := s.guard.failures
	return func(w http.ResponseWriter, r *http.Request) {
		ip, isIP := s.guard.client(r)
		t := auth.NewThrottle(func() bool { return f.blocked(ip, isIP) }, func() { f.fail(ip, isIP) })
		h.ServeHTTP(w, r.WithContext(auth.WithThrottle(r.Context(), t)))
	}
}

// closeServer shuts srv down within ctx; connections still open when ctx
// ends are closed, which is not an error of the server (a client stalled).
func closeServer(ctx context.Context, srv *http.Server, logger *slog.Logger) error {
	err := srv.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		logger.Warn("shutdown: closing connections still open", "err", err)
		return srv.Close()
	}
	return err
}
