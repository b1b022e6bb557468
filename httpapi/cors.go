package httpapi

import (
	"net/http"
	"slices"
	"strings"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/auth"
)

// browserRoutes are the routes a web page on another origin may call, with
// the methods they take and the request headers their preflight allows:
// evaluation and event ingestion. Every other route (the admin API above
// all) sends no CORS headers, so browsers keep it same-origin.
var browserRoutes = map[string]browserRoute{
	// OFREP's routes also take the token as X-API-Key (ofrepSecret).
	"/ofrep/v1/evaluate/flags/{key}": {"POST", corsAllowHeaders + ", " + APIKeyHeader, ofrepSecret, false},
	"/ofrep/v1/evaluate/flags":       {"POST", corsAllowHeaders + ", " + APIKeyHeader, ofrepSecret, false},
	"/ofrep/v1/configuration":        {"GET", corsAllowHeaders + ", " + APIKeyHeader, ofrepSecret, false},
	// A browser's EventSource sends no token: its URL carries a ticket
	// (ofrep_stream.go), and Last-Event-ID when it reconnects.
	ofrepStreamPath: {"GET", corsAllowHeaders + ", Last-Event-ID", ticketSecret, true},
	// Event bodies may come gzipped (handleEvents): a page compressing its
	// batch (CompressionStream) sends Content-Encoding, which is not a
	// safelisted header. The other routes take no compressed body.
	"/api/v1/events": {"POST", corsAllowHeaders + ", Content-Encoding", bearerSecret, false},
}

// browserRoute is what a browser route's preflight allows, and how its
// requests carry their token.
type browserRoute struct {
	methods, headers string
	secret           func(*http.Request) (string, error)
	ticket           bool // secret is an auth.Ticket
}

// bearerSecret is the token of a route that takes the bearer header only.
func bearerSecret(r *http.Request) (string, error) {
	return auth.BearerToken(r.Header.Get("Authorization")), nil
}

// CORS answers. Max-age is Chromium's ceiling (Firefox allows more): a
// cached preflight costs no safety, since every request is checked against
// its own token. The allowed headers include W3C trace context, which the
// server reads (package tracing): a page traced with OpenTelemetry sends it,
// and a preflight that left it out would make the browser block the
// evaluation itself.
const (
	corsAllowHeaders  = "Authorization, Content-Type, If-None-Match, traceparent, tracestate, baggage"
	corsExposeHeaders = "ETag, Retry-After"
	corsMaxAge        = "7200"
)

// cors serves a browser route to pages of other origins. Only client tokens
// (public, made for browsers) are answered with CORS headers, and only from
// their allowed origins; a client token presented from another origin is
// refused. Server and admin tokens get no CORS headers: a page on the same
// origin still works, another origin cannot read the answer, and such a
// secret does not belong in a page anyway. Requests without an Origin
// header (servers, mobile apps, curl) pass through untouched.
func (s *Server) cors(route browserRoute, h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		origin := r.Header.Get("Origin")
		if origin == "" {
			return h(w, r)
		}
		w.Header().Add("Vary", "Origin")
		secret, err := route.secret(r)
		var t *valueloop.Token
		if err == nil {
			// Throttled before the token is looked up, as authenticate
			// is: else a throttled address would still tell which of its
			// guesses is a client token (403 from another origin).
			err = s.authThrottled(r)
		}
		switch {
		case err != nil:
		case route.ticket:
			t, err = s.Auth.AuthenticateTicket(secret)
		default:
			t, err = s.Auth.Authenticate(secret)
		}
		switch {
		case valueloop.ErrorCode(err) == valueloop.ETOOMANY:
			if s.Auth.AllowsOrigin(origin) {
				allowOrigin(w, origin)
			}
			return err
		case err != nil:
			// Let the page read the 401 (or the 400 of two tokens) if its origin could be served at all,
			// so that a mistyped token is not reported as a CORS failure.
			if s.Auth.AllowsOrigin(origin) {
				allowOrigin(w, origin)
			}
		case t.Client && !t.AllowsOrigin(origin):
			return valueloop.Errorf(valueloop.EFORBIDDEN, "this client token may not be used from origin %q", origin)
		case t.Client:
			allowOrigin(w, origin)
		}
		return h(w, r)
	}
}

func allowOrigin(w http.ResponseWriter, origin string) {
	w.Header().Set("Access-Control-Allow-Origin", origin)
	w.Header().Set("Access-Control-Expose-Headers", corsExposeHeaders)
}

// preflight answers the OPTIONS request browsers send before a
// cross-origin call. It carries no token, so the origin is checked against
// every live client token; the call that follows is checked against its own.
func (s *Server) preflight(route browserRoute) handlerFunc {
	methods := route.methods
	allow := methods + ", OPTIONS"
	return func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Allow", allow)
		origin := r.Header.Get("Origin")
		if origin == "" || r.Header.Get("Access-Control-Request-Method") == "" {
			w.WriteHeader(http.StatusNoContent) // a plain OPTIONS: what the route allows
			return nil
		}
		w.Header().Add("Vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers")
		if !s.Auth.AllowsOrigin(origin) {
			return valueloop.Errorf(valueloop.EFORBIDDEN, "origin %q is allowed by no client token", origin)
		}
		if m := r.Header.Get("Access-Control-Request-Method"); !slices.Contains(strings.Split(allow, ", "), m) {
			return valueloop.Errorf(valueloop.EFORBIDDEN, "method %s is not allowed here; want %s", m, methods)
		}
		allowOrigin(w, origin)
		w.Header().Set("Access-Control-Allow-Methods", allow)
		w.Header().Set("Access-Control-Allow-Headers", route.headers)
		w.Header().Set("Access-Control-Max-Age", corsMaxAge)
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}
