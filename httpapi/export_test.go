package httpapi

import (
	"net/http"
	"net/netip"
	"sync/atomic"
)

// Routes returns "METHOD /pattern" for every route s serves (for tests).
func Routes(s *Server) []string {
	var out []string
	for _, r := range s.routeTable() {
		out = append(out, r.method+" "+r.pattern)
	}
	return out
}

// Handler returns s's routes as one handler, for benchmarks without a network.
func Handler(s *Server) http.Handler { return s.routes() }

// RouteScopes maps "METHOD /pattern" to the token a route needs.
func RouteScopes(s *Server) map[string]string {
	out := map[string]string{}
	for _, r := range s.routeTable() {
		out[r.method+" "+r.pattern] = [...]string{"public", "evaluate", "admin"}[r.auth]
	}
	return out
}

// GuardState reports the open connections, the body bytes held and the
// requests in flight with a body (for tests of the limits).
func GuardState(s *Server) (conns, buffered int64, inflight int) {
	g := s.guard
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.conns.Load(), g.buffered.Load(), g.ninflight
}

// Requests reports the requests under way counted against MaxRequests.
func Requests(s *Server) int64 { return s.guard.requests.Load() }

// StreamSlots reports the flag streams holding a MaxStreams slot.
func StreamSlots(s *Server) int64 { return s.guard.streams.Load() }

// HookBytes reports the webhook body bytes not yet verified held now.
func HookBytes(s *Server) int64 { return s.guard.hookBytes.Load() }

// StreamEncodes counts the flag set events encoded for streams.
func StreamEncodes(s *Server) uint64 { return s.sse.Made() }

// CountForwarded counts, from now on, the X-Forwarded-For headers s reads
// to find a request's client. Call it before sending requests.
func CountForwarded(s *Server) *atomic.Int64 {
	n := new(atomic.Int64)
	read := s.guard.forwarded
	s.guard.forwarded = func(peer netip.Addr, xff []string, trusted []netip.Prefix) netip.Addr {
		n.Add(1)
		return read(peer, xff, trusted)
	}
	return n
}

// OnAwait makes a bulk evaluation waiting for a notified version it has
// not loaded (flagConfigEtag) call f once it listens for that version.
// Call it before sending requests.
func OnAwait(s *Server, f func()) { s.awaiting = f }
