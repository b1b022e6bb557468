package httpapi

import (
	"context"
	_ "embed"
	"net/http"
	"slices"
	"sort"
	"strconv"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/flagd"
	"github.com/valueloop/valueloop/jsondiff"
)

func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

// handleReadyz reports ready once flags are loaded: from then on evaluation
// is served from memory whatever happens to storage. With Storage set it
// also answers 503 while writes cannot be stored (a shared database away or
// recreated empty, a full disk: Storage is a write probe).
func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) error {
	if len(s.Flags.Environments()) == 0 {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "no environments loaded"})
		return nil
	}
	if s.Storage != nil {
		if err := s.Storage(r.Context()); err != nil {
			s.Logger.Warn("not ready for writes: storage unavailable", "err", err)
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{
				"status": "not ready for writes: storage unavailable", "evaluation": "serving from memory"})
			return nil
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	return nil
}

func (s *Server) handleListEnvironments(w http.ResponseWriter, r *http.Request) error {
	live := s.Flags.Environments()
	out := make([]environmentJSON, 0, len(live))
	for _, l := range live {
		// A token bound to one environment is refused every other: it
		// is not told their names either.
		if !tokenOf(r).CanRead(l.Environment.Key) {
			continue
		}
		out = append(out, environmentJSON{Environment: l.Environment, Version: l.Version, Flags: len(l.Snapshot.Keys())})
	}
	sortBy(out, func(e environmentJSON) string { return e.Key })
	writeJSON(w, http.StatusOK, map[string]any{"environments": out})
	return nil
}

type environmentJSON struct {
	valueloop.Environment
	Version int64 `json:"version"`
	Flags   int   `json:"flags"`
}

func (s *Server) handleCreateEnvironment(w http.ResponseWriter, r *http.Request) error {
	// Who may ask is checked before what is asked is read.
	if !tokenOf(r).CanAdmin("") {
		return valueloop.Errorf(valueloop.EFORBIDDEN, "creating environments needs an admin token not bound to one environment")
	}
	var env valueloop.Environment
	if err := decodeJSON(r, &env); err != nil {
		return err
	}
	if env.Name == "" {
		env.Name = env.Key
	}
	if s.Flags.Live(env.Key) != nil {
		return valueloop.Errorf(valueloop.ECONFLICT, "environment %q already exists", env.Key)
	}
	if err := s.Flags.EnsureEnvironment(r.Context(), env, tokenOf(r).Name); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, env)
	return nil
}

// handleExportFlagd answers with the environment's flags as a flagd file.
func (s *Server) handleExportFlagd(w http.ResponseWriter, r *http.Request) error {
	env := r.PathValue("env")
	if !mayAccess(r, env) {
		return valueloop.Errorf(valueloop.EFORBIDDEN, "token may not read environment %q", env)
	}
	live := s.Flags.Live(env)
	if live == nil {
		return s.notLive(tokenOf(r), env)
	}
	buf, err := flagd.Marshal(live.Snapshot.Set())
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("ETag", `"`+strconv.FormatInt(live.Version, 10)+`"`)
	w.Write(buf)
	return nil
}

type createTokenRequest struct {
	Name        string   `json:"name"`
	Scope       string   `json:"scope"`
	Environment string   `json:"environment"`
	Client      bool     `json:"client"`
	Origins     []string `json:"origins"`
	NoExposures bool     `json:"noExposures"`
}

func (s *Server) handleCreateToken(w http.ResponseWriter, r *http.Request) error {
	var req createTokenRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	caller := tokenOf(r)
	// A token bound to one environment can only hand out tokens for it;
	// checked first, so that it does not learn which others exist.
	if caller.Environment != "" && req.Environment != caller.Environment {
		return valueloop.Errorf(valueloop.EFORBIDDEN, "token may only create tokens for environment %q", caller.Environment)
	}
	if req.Environment != "" && s.Flags.Live(req.Environment) == nil {
		if caller.Environment != "" {
			return valueloop.FieldErrorf("environment", "no environment %q", req.Environment)
		}
		// An unbound token may know every name: list them, as the
		// environment's routes do.
		return valueloop.FieldErrorf("environment", "no environment %q; %s", req.Environment, s.Flags.KnownEnvironments())
	}
	t := &valueloop.Token{Name: req.Name, Scope: req.Scope, Environment: req.Environment,
		Client: req.Client, Origins: req.Origins, NoExposures: req.NoExposures}
	secret, err := s.Auth.Create(r.Context(), t, "", caller.Name)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"token": t, "secret": secret})
	return nil
}

func (s *Server) handleListTokens(w http.ResponseWriter, r *http.Request) error {
	tokens, err := s.Auth.List(r.Context())
	if err != nil {
		return err
	}
	caller := tokenOf(r)
	out := make([]valueloop.Token, 0, len(tokens))
	for _, t := range tokens {
		if caller.Environment == "" || t.Environment == caller.Environment {
			out = append(out, t)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"tokens": out})
	return nil
}

func (s *Server) handleRevokeToken(w http.ResponseWriter, r *http.Request) error {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return valueloop.FieldErrorf("id", "must be a token id (an integer)")
	}
	caller := tokenOf(r)
	if caller.Environment != "" {
		// Refused alike whether the token is another environment's or
		// none at all: a bound token does not learn which IDs exist.
		tokens, err := s.Auth.List(r.Context())
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(tokens, func(t valueloop.Token) bool { return t.ID == id && t.Environment == caller.Environment }) {
			return valueloop.Errorf(valueloop.EFORBIDDEN, "token may only revoke tokens of environment %q", caller.Environment)
		}
	}
	if err := s.Auth.Revoke(r.Context(), id, caller.Name); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// AuditStore is the read the audit route needs.
type AuditStore interface {
	Audit(ctx context.Context, f valueloop.AuditFilter) ([]valueloop.AuditEntry, error)
}

func (s *Server) handleAudit(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if err := checkParams(q, "environment", "flag", "actor", "before", "limit"); err != nil {
		return err
	}
	f := valueloop.AuditFilter{Environment: q.Get("environment"), Target: q.Get("flag"), Actor: q.Get("actor")}
	caller := tokenOf(r)
	if caller.Environment != "" {
		if f.Environment != "" && f.Environment != caller.Environment {
			return valueloop.Errorf(valueloop.EFORBIDDEN, "token may only read the audit trail of environment %q", caller.Environment)
		}
		f.Environment = caller.Environment
	}
	if v := q.Get("before"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return valueloop.FieldErrorf("before", "must be a non-negative integer")
		}
		f.BeforeID = n
	}
	var err error
	if f.Limit, err = limitParam(q, 0, 1000); err != nil {
		return err
	}
	entries, err := s.Audit.Audit(r.Context(), f)
	if err != nil {
		return err
	}
	out := make([]auditJSON, len(entries))
	for i, e := range entries {
		out[i].AuditEntry = e
		out[i].Diff, _ = jsondiff.Diff(e.Before, e.After)
		if out[i].Diff == nil {
			out[i].Diff = []jsondiff.Op{} // an array, as the document says, not null
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"entries": out})
	return nil
}

// auditJSON is an audit entry with the difference between before and after.
type auditJSON struct {
	valueloop.AuditEntry
	Diff []jsondiff.Op `json:"diff"`
}

func sortBy[T any](xs []T, key func(T) string) {
	sort.Slice(xs, func(i, j int) bool { return key(xs[i]) < key(xs[j]) })
}

//go:embed openapi.json
var openAPI []byte

func (s *Server) handleOpenAPI(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	w.Write(openAPI)
	return nil
}
