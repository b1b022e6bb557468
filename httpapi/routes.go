package httpapi

import (
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/ofrep"
	"github.com/valueloop/valueloop/rollout"
)

// route is one endpoint of the API surface. Every route is listed here, and
// a test checks that each is documented in openapi.json and vice versa.
type route struct {
	method, pattern string
	auth            authLevel
	handler         handlerFunc
}

type authLevel int

const (
	public   authLevel = iota // no token
	evaluate                  // any live token whose scope covers the environment
	admin                     // admin tokens only
)

// routeTable lists every route of the API surface.
func (s *Server) routeTable() []route {
	o := &ofrep.Handler{Snapshot: s.ofrepSnapshot, Error: s.writeError, Evaluated: s.evaluated, Key: ofrepKey, EventStream: s.ofrepEventStream}
	if s.Tracer != nil {
		o.EvaluatedInBulk = s.evaluatedInBulk // tracing.go
	}
	routes := []route{
		// Operations.
		{"GET", "/healthz", public, s.handleHealthz},
		{"GET", "/readyz", public, s.handleReadyz},
		{"GET", "/metrics", public, plain(promhttp.HandlerFor(s.Registry, promhttp.HandlerOpts{}).ServeHTTP)},
		{"GET", "/api/v1/openapi.json", public, s.handleOpenAPI},

		// OFREP (authentication inside: the token picks the environment).
		{"POST", "/ofrep/v1/evaluate/flags/{key}", evaluate, s.timed("ofrep_single", plain(o.Evaluate))},
		{"POST", "/ofrep/v1/evaluate/flags", evaluate, s.timed("ofrep_bulk", plain(o.EvaluateAll))},
		{"GET", "/ofrep/v1/configuration", evaluate, s.withEvaluator(plain(o.Configuration))},
		{"GET", ofrepStreamPath, evaluate, s.handleOFREPStream}, // ofrep_stream.go; the ticket is the credential

		// Streaming to in-process SDKs.
		{"GET", "/api/v1/environments/{env}/stream", evaluate, s.withEnvEvaluator(s.handleStream)},

		// Admin API.
		{"GET", "/api/v1/environments", admin, s.handleListEnvironments},
		{"POST", "/api/v1/environments", admin, s.handleCreateEnvironment},
		{"GET", "/api/v1/environments/{env}/flags", admin, s.handleListFlags},
		{"POST", "/api/v1/environments/{env}/flags", admin, s.handleCreateFlag},
		{"GET", "/api/v1/environments/{env}/flags/{key}", admin, s.handleGetFlag},
		{"PUT", "/api/v1/environments/{env}/flags/{key}", admin, s.handlePutFlag},
		{"DELETE", "/api/v1/environments/{env}/flags/{key}", admin, s.handleDeleteFlag},
		{"POST", "/api/v1/environments/{env}/flags/{key}/enable", admin, s.handleSetState("ENABLED")},
		{"POST", "/api/v1/environments/{env}/flags/{key}/disable", admin, s.handleSetState("DISABLED")},
		{"GET", "/api/v1/environments/{env}/flagd", admin, s.handleExportFlagd},
		{"PUT", "/api/v1/environments/{env}/flagd", admin, s.handleApplyFlagd},
		{"GET", "/api/v1/tokens", admin, s.handleListTokens},
		{"POST", "/api/v1/tokens", admin, s.handleCreateToken},
		{"DELETE", "/api/v1/tokens/{id}", admin, s.handleRevokeToken},
		{"GET", "/api/v1/audit", admin, s.handleAudit},

		// Rollouts (rollouts.go).
		{"GET", "/api/v1/environments/{env}/rollouts", admin, s.handleListRollouts},
		{"POST", "/api/v1/environments/{env}/rollouts", admin, s.handleStartRollout},
		{"GET", "/api/v1/environments/{env}/rollouts/{key}", admin, s.handleRolloutStatus},
		{"POST", "/api/v1/environments/{env}/rollouts/{key}/pause", admin, s.handleRolloutAction(rollout.KindPause)},
		{"POST", "/api/v1/environments/{env}/rollouts/{key}/resume", admin, s.handleRolloutAction(rollout.KindResume)},
		{"POST", "/api/v1/environments/{env}/rollouts/{key}/advance", admin, s.handleRolloutAction(rollout.KindAdvance)},
		{"POST", "/api/v1/environments/{env}/rollouts/{key}/rollback", admin, s.handleRolloutAction(rollout.KindRollback)},

		// Experiments (experiments.go).
		{"GET", "/api/v1/environments/{env}/flags/{key}/hypothesis", admin, s.handleGetHypothesis},
		{"PUT", "/api/v1/environments/{env}/flags/{key}/hypothesis", admin, s.handlePutHypothesis},
		{"DELETE", "/api/v1/environments/{env}/flags/{key}/hypothesis", admin, s.handleDeleteHypothesis},
		{"GET", "/api/v1/environments/{env}/flags/{key}/results", admin, s.handleResults},
	}
	if s.Events != nil {
		routes = append(routes, s.eventRoutes()...)
	}
	routes = append(routes, s.deliveryRoutes()...)
	routes = append(routes, s.valueRoutes()...)
	return routes
}

// routes is every surface's handler, in server spans when tracing is on.
// Every request with a body is guarded (limits.go), whatever answers it:
// a route, another protocol, the dashboard, or the mux's own 404, 405 and
// preflight answers, which read no body but would wait for it without a
// deadline (net/http discards a small unread body before answering). The
// guard is inside tracing: tracing wraps the body in its own reader, and
// the handlers find MaxAPIBody through the guarded body (apiBodyLimit), so
// it must be the last wrapper. The guard changes the request in place, or
// for a request through a trusted proxy passes down a copy with the client
// in its context and copies its pattern back, so tracing still sees the
// mux's pattern on the request it passed down.
func (s *Server) routes() http.Handler {
	return s.Tracer.Handler(s.guarded(s.surfaces().ServeHTTP), s.tracedElsewhere) // tracing.go
}

func (s *Server) surfaces() http.Handler {
	if s.guard == nil {
		s.guard = newGuard(s.Limits)
	}
	mux := http.NewServeMux()
	var single http.HandlerFunc
	for _, r := range s.routeTable() {
		h := r.handler
		if r.auth == admin {
			h = s.admin(h)
		}
		if s.Tracer != nil && strings.HasPrefix(r.pattern, "/ofrep/v1/evaluate/") {
			h = s.evaluationSpan(r.pattern, h) // tracing.go
		}
		if route, ok := browserRoutes[r.pattern]; ok {
			h = s.cors(route, h) // cors.go
			mux.HandleFunc("OPTIONS "+r.pattern, s.serve(s.preflight(route)))
		}
		mux.HandleFunc(r.method+" "+r.pattern, s.serve(h))
		if r.method+" "+r.pattern == ofrepSingle {
			single = s.serve(h)
		}
	}
	for _, prefix := range unroutedPrefixes {
		mux.HandleFunc(prefix, s.serve(unrouted(mux, prefix)))
	}
	// Other protocols get the same body deadline and in-flight byte budget
	// as the API's routes (routes). Their streams (flagd's SyncFlags,
	// EventStream) are not cut by it: a server stream's request is one
	// message, read to its end before the answer streams, so the deadline
	// finds nothing left to read.
	for prefix, h := range s.Protocols {
		mux.HandleFunc(prefix, s.throttled(h))
		if strings.HasPrefix(prefix, ofrepSinglePrefix) {
			single = nil // a more specific pattern may take some keys
		}
	}
	var all http.Handler = mux
	if s.UI != nil {
		all = s.withUI(mux)
	}
	return &ofrepFirst{single: single, rest: all}
}

// unroutedPrefixes are the paths of the API whose requests no route takes
// are answered by unrouted. OFREP's are not: its specification says how
// it answers.
var unroutedPrefixes = []string{"/api/", "/hooks/"}

// allMethods are the methods unrouted tries, in the order Allow lists them.
var allMethods = []string{"DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"}

// unrouted answers a request under prefix that no route takes as problem
// details, as every error of the API: 405 with Allow when the path has
// routes for other methods, else 404. net/http's own answers are text
// ("404 page not found"), which a client reading problems cannot decode.
// Only refused requests get here, so trying each method costs nothing on
// the routes.
func unrouted(mux *http.ServeMux, prefix string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		var allow []string
		for _, m := range allMethods {
			try := *r
			try.Method = m
			if _, pattern := mux.Handler(&try); pattern != "" && pattern != prefix {
				allow = append(allow, m)
			}
		}
		if len(allow) == 0 {
			return valueloop.Errorf(valueloop.ENOTFOUND, "no route of the API serves %s (the routes are listed in /api/v1/openapi.json)", r.URL.Path)
		}
		w.Header().Set("Allow", strings.Join(allow, ", "))
		return valueloop.Errorf(valueloop.EMETHOD, "%s is not allowed on %s: use %s", r.Method, r.URL.Path, strings.Join(allow, ", "))
	}
}

// ofrepSingle is the pattern of single-flag evaluation, the route that
// takes nearly all of a busy server's requests.
const ofrepSingle = "POST /ofrep/v1/evaluate/flags/{key}"

// ofrepBulk is the pattern of bulk evaluation.
const ofrepBulk = "POST /ofrep/v1/evaluate/flags"

// ofrepFirst serves a single-flag evaluation without asking the mux: the
// request the mux would give that route (its pattern and its key in
// r.Pattern, and the key for ofrep.Handler.Key: r.PathValue is not set),
// and everything else through rest. Finding the route in the mux
// (escaping the path again, cleaning it, walking the tree of its 80-odd
// patterns, a slice for the key) cost every evaluation about 3,500
// instructions (callgrind, alternated with the commit before:
// BenchmarkOFREPHandler/static 2,368 against 2,199 million for 50,000
// requests and the server's start, BenchmarkOFREPLoopback/returning and
// first-seen 2,800-4,000 fewer per request of about 90,000, the client's
// included), and net/http.ServeMux has no cheaper way to look one up.
type ofrepFirst struct {
	single http.HandlerFunc
	rest   http.Handler
}

const ofrepSinglePrefix = "/ofrep/v1/evaluate/flags/"

func (o *ofrepFirst) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if _, ok := ofrepSingleKey(r); ok && o.single != nil {
		r.Pattern = ofrepSingle
		o.single(w, r)
		return
	}
	o.rest.ServeHTTP(w, r)
}

// ofrepSingleKey returns the flag key of a request the mux would route to
// ofrepSingle unchanged: a POST whose path is the prefix and one segment,
// which the mux neither cleans nor redirects (not . or ..) and which was
// sent with the standard escaping (RawPath empty: the path's segment is
// what the mux unescapes its escaped form to). Other requests, including
// those the mux would route there after all, go to the mux.
func ofrepSingleKey(r *http.Request) (string, bool) {
	if r.Method != http.MethodPost || r.URL.RawPath != "" {
		return "", false
	}
	key, ok := strings.CutPrefix(r.URL.Path, ofrepSinglePrefix)
	if !ok || key == "" || key == "." || key == ".." || strings.IndexByte(key, '/') >= 0 {
		return "", false
	}
	return key, true
}

// ofrepKey is the flag key of a single-flag evaluation, which ofrepFirst
// does not set as a path value (r.SetPathValue allocates a map: 300 bytes
// a request).
func ofrepKey(r *http.Request) string {
	if key, ok := ofrepSingleKey(r); ok {
		return key
	}
	return r.PathValue("key")
}

// withUI gives the dashboard every path outside the API's and the other
// protocols'.
func (s *Server) withUI(mux *http.ServeMux) http.Handler {
	// The dashboard is a separate surface with its own routes and
	// protections; it gets every path outside the API's and the other
	// protocols', so that these answer as they did without it (404, 405
	// with Allow).
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.isAPIPath(r.URL.Path) {
			mux.ServeHTTP(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			// The dashboard reads a form post's body before it looks up
			// the session (the sign-in has none): an anonymous body, as
			// a webhook's is.
			leave, err := s.guard.anonConn(r)
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			defer leave()
		}
		s.UI.ServeHTTP(w, r)
	})
}

// apiPrefixes are the paths of the API surface.
var apiPrefixes = []string{"/api/", "/ofrep/", "/hooks/", "/healthz", "/readyz", "/metrics"}

func (s *Server) isAPIPath(p string) bool {
	for _, prefix := range apiPrefixes {
		if strings.HasPrefix(p, prefix) {
			return true
		}
	}
	for prefix := range s.Protocols {
		if strings.HasPrefix(p, prefix) {
			return true
		}
	}
	return false
}
