package httpapi

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/auth"
	"github.com/valueloop/valueloop/evaluation"
	"github.com/valueloop/valueloop/jsondecode"
	"github.com/valueloop/valueloop/ofrep"
	"github.com/valueloop/valueloop/tracing"
)

type tokenKey struct{}

// tokenOf returns the token a request was authenticated with.
func tokenOf(r *http.Request) *valueloop.Token {
	t, _ := r.Context().Value(tokenKey{}).(*valueloop.Token)
	return t
}

// authenticate returns the live token of r's Authorization header. Failures
// are counted per client address; an address past Limits.AuthFailures in
// the window is answered 429 without its token being looked at, so that
// guessing tokens is slow.
func (s *Server) authenticate(r *http.Request) (*valueloop.Token, error) {
	return s.authenticateSecret(r, auth.BearerToken(r.Header.Get("Authorization")))
}

// authenticateSecret is authenticate of secret, the token r carries.
func (s *Server) authenticateSecret(r *http.Request, secret string) (*valueloop.Token, error) {
	return s.authenticateAs(r, secret, false)
}

// authenticateTicket is authenticateSecret of a ticket (auth.Ticket), the
// credential of OFREP's change stream.
func (s *Server) authenticateTicket(r *http.Request, ticket string) (*valueloop.Token, error) {
	return s.authenticateAs(r, ticket, true)
}

// authenticateAs finds the token of cred, a secret or a ticket:
// throttled, and an unknown one counts as a failed authentication.
func (s *Server) authenticateAs(r *http.Request, cred string, ticket bool) (*valueloop.Token, error) {
	if err := s.authThrottled(r); err != nil {
		return nil, err
	}
	var t *valueloop.Token
	var err error
	if ticket {
		t, err = s.Auth.AuthenticateTicket(cred)
	} else {
		t, err = s.Auth.Authenticate(cred)
	}
	if valueloop.ErrorCode(err) == valueloop.EUNAUTHORIZED {
		ip, isIP := s.guard.client(r)
		s.guard.failures.fail(ip, isIP)
	}
	return t, err
}

// authThrottled refuses r's client when it is past Limits.AuthFailures in
// the window (counted as throttled once per call).
func (s *Server) authThrottled(r *http.Request) error {
	if ip, isIP := s.guard.client(r); s.guard.failures.blocked(ip, isIP) {
		return valueloop.Errorf(valueloop.ETOOMANY, "too many failed authentications from this address: retry later")
	}
	return nil
}

// APIKeyHeader carries the token on the OFREP routes as OFREP's ApiKeyAuth
// scheme sends it (open-feature/protocol service.yaml; the Go OFREP
// provider's WithApiKeyAuth). The other routes take the bearer header only
// (docs/security.md).
const APIKeyHeader = "X-API-Key"

// ofrepSecret returns the token of an OFREP request: its bearer token or its
// X-API-Key, which must be the same token when both are sent, so that no
// request is ever checked against one token and served under another.
func ofrepSecret(r *http.Request) (string, error) {
	bearer := auth.BearerToken(r.Header.Get("Authorization"))
	key := strings.TrimSpace(r.Header.Get(APIKeyHeader))
	if bearer != "" && key != "" && bearer != key {
		return "", valueloop.FieldErrorf(APIKeyHeader, "header carries another token than the Authorization header: send the token in one of them")
	}
	if key != "" {
		return key, nil
	}
	return bearer, nil
}

// EnvironmentHeader selects the environment for tokens not bound to one.
const EnvironmentHeader = "Valueloop-Environment"

// ofrepSnapshot authenticates an OFREP request and returns the snapshot of
// its environment: the token's own, or for unbound admin tokens the one named
// by the Valueloop-Environment header.
func (s *Server) ofrepSnapshot(r *http.Request) (*evaluation.Snapshot, ofrep.Caller, error) {
	secret, err := ofrepSecret(r)
	if err != nil {
		return nil, ofrep.Caller{}, err
	}
	t, err := s.authenticateSecret(r, secret)
	if err != nil {
		return nil, ofrep.Caller{}, err
	}
	env, err := evaluatedEnvironment(t, r.Header.Get(EnvironmentHeader), EnvironmentHeader, "header")
	if err != nil {
		return nil, ofrep.Caller{}, err
	}
	live := s.Flags.Live(env)
	if v, ok := configVersion(r); ok && live != nil && live.Version < v {
		// A fetch triggered by a change notification (ofrep_stream.go)
		// of a version this node has not loaded yet.
		live = s.awaitVersion(r.Context(), env, v)
	}
	if live == nil {
		return nil, ofrep.Caller{}, s.notLive(t, env)
	}
	return live.Snapshot, ofrep.Caller{Environment: env, NoExposures: !t.RecordsExposures()}, nil
}

// notLive is the error for env, asked by token t, that is not live: it
// names env and, when t is bound to no environment (and so may know every
// name), the environments there are (flags.Service.UnknownEnvironment).
// A bound token asked for its own environment: it is told no other.
func (s *Server) notLive(t *valueloop.Token, env string) error {
	if t.Environment == "" {
		return s.Flags.UnknownEnvironment(env)
	}
	return valueloop.Errorf(valueloop.ENOTFOUND, "environment %q not found", env)
}

// evaluatedEnvironment is the environment an OFREP request of token t
// evaluates: the token's own, or for an unbound token the one asked (in
// field, a header or a query parameter as kind says), if t may evaluate it.
func evaluatedEnvironment(t *valueloop.Token, asked, field, kind string) (string, error) {
	env := t.Environment
	if env == "" {
		if env = asked; env == "" {
			return "", valueloop.FieldErrorf(field, "%s required: this token is not bound to an environment", kind)
		}
	}
	if !t.CanEvaluate(env) {
		return "", valueloop.Errorf(valueloop.EFORBIDDEN, "token may not evaluate this environment")
	}
	return env, nil
}

// Evaluated records an evaluation made outside OFREP (flagd's RPC service)
// as OFREP's are: counted, and its exposure handed on unless quiet.
func (s *Server) Evaluated(env string, quiet bool, ctx map[string]any, res *evaluation.Result) {
	s.evaluated(nil, ofrep.Caller{Environment: env, NoExposures: quiet}, ctx, res)
}

// evaluated counts every single-flag evaluation by flag and reason, and
// hands the exposure (who saw which variant) to the ingestion pipeline
// without blocking, unless the caller's token records no exposures.
func (s *Server) evaluated(r *http.Request, c ofrep.Caller, ctx map[string]any, res *evaluation.Result) {
	env := c.Environment
	if s.Tracer != nil && r != nil {
		tracing.Evaluated(r.Context(), env, tracing.TargetingKey(ctx), res)
	}
	flag := res.FlagKey
	if res.ErrorCode == "FLAG_NOT_FOUND" {
		flag = "" // keys that name no flag must not grow the label set
	}
	s.metrics.evaluation(env, flag, string(res.Reason))
	if res.Variant != "" && res.ErrorCode == "" && !c.NoExposures {
		if key, _ := ctx["targetingKey"].(string); key != "" && s.exposures.first(env, res.FlagKey, res.Variant, key) {
			s.recordExposure(env, res.FlagKey, res.Variant, key, res.Reason, ctx)
		}
	}
}

// withEvaluator requires any live token (evaluate or admin).
func (s *Server) withEvaluator(h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if _, _, err := s.ofrepSnapshot(r); err != nil {
			return err
		}
		return h(w, r)
	}
}

// admin requires an admin token, or for reads (GET, HEAD) an admin or
// viewer token. Whether it covers the environment a route touches is checked
// by the handler with mayAccess or Token.CanAdmin.
func (s *Server) admin(h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		t, err := s.authenticate(r)
		if err != nil {
			return err
		}
		if t.Scope == valueloop.ScopeViewer && !readOnly(r) {
			return valueloop.Errorf(valueloop.EFORBIDDEN, "a viewer token reads only: this change needs an admin token")
		}
		if t.Scope != valueloop.ScopeAdmin && t.Scope != valueloop.ScopeViewer {
			return valueloop.Errorf(valueloop.EFORBIDDEN, "this route needs an admin token")
		}
		return h(w, r.WithContext(context.WithValue(r.Context(), tokenKey{}, t)))
	}
}

// readOnly reports whether r only reads: what a viewer token may do.
func readOnly(r *http.Request) bool { return r.Method == http.MethodGet || r.Method == http.MethodHead }

// mayAccess reports whether the request's token covers env: reading with an
// admin or viewer token, changing with an admin token.
func mayAccess(r *http.Request, env string) bool {
	if readOnly(r) {
		return tokenOf(r).CanRead(env)
	}
	return tokenOf(r).CanAdmin(env)
}

// timed records the latency of a route in the request duration histogram.
func (s *Server) timed(route string, h handlerFunc) handlerFunc {
	obs := s.metrics.duration.WithLabelValues(route)
	return func(w http.ResponseWriter, r *http.Request) error {
		start := time.Now()
		err := h(w, r)
		obs.Observe(time.Since(start).Seconds())
		return err
	}
}

// withEnvEvaluator requires a live token that may read the flag definitions
// of the {env} of the path (not a public client token), and passes it on in
// the request context.
func (s *Server) withEnvEvaluator(h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		t, err := s.authenticate(r)
		if err != nil {
			return err
		}
		if !t.CanReadDefinitions(r.PathValue("env")) {
			return valueloop.Errorf(valueloop.EFORBIDDEN, "token may not read the flag definitions of this environment")
		}
		return h(w, r.WithContext(context.WithValue(r.Context(), tokenKey{}, t)))
	}
}

// DefaultMaxAPIBody is the default of Limits.MaxAPIBody.
const DefaultMaxAPIBody = 4 << 20

// decodeJSON reads a JSON request body into v: unknown fields and repeated
// keys are refused, errors name the field (jsondecode). Form posts and other
// content types are refused: the API is for programs holding tokens, not
// browsers.
func decodeJSON(r *http.Request, v any) error {
	return decodeJSONUpTo(r, v, apiBodyLimit(r))
}

// decodeJSONUpTo is decodeJSON of a body of at most limit bytes.
func decodeJSONUpTo(r *http.Request, v any, limit int64) error {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/json" {
		return valueloop.Errorf(valueloop.EUNSUPPORTED, "Content-Type must be application/json")
	}
	body, err := readBody(r, limit)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return valueloop.Errorf(valueloop.EINVALID, "request body is empty")
	}
	return jsondecode.Decode(body, v, jsondecode.Options{DisallowUnknownFields: true})
}

// readBody reads a request body of at most limit bytes. A Content-Length
// over the limit is refused before anything is read.
func readBody(r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, valueloop.Errorf(valueloop.ETOOLARGE, "request body larger than %d bytes", limit)
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, valueloop.Errorf(valueloop.ETOOLARGE, "request body larger than %d bytes", limit)
		}
		return nil, bodyError(err)
	}
	return body, nil
}
