package httpapi

import (
	"context"
	"net/http"
	"strconv"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/rollout"
)

// RolloutEngine is what the rollout routes need (*rollout.Engine).
type RolloutEngine interface {
	Start(ctx context.Context, env string, p rollout.Plan, actor, reason string) (*rollout.Rollout, error)
	Act(ctx context.Context, env, flag string, k rollout.Kind, actor, reason string) (*rollout.Rollout, error)
	Status(ctx context.Context, env, flag string) (*rollout.Status, error)
	List(ctx context.Context, f rollout.Filter) ([]rollout.Rollout, error)
}

// startRolloutRequest is the body of POST .../rollouts: a plan and why.
type startRolloutRequest struct {
	rollout.Plan
	Reason string `json:"reason,omitempty"`
}

// rolloutEngine returns the engine after checking the caller's token and
// the environment, or an error for the caller.
func (s *Server) rolloutEngine(r *http.Request) (RolloutEngine, string, error) {
	live, err := s.liveEnv(r)
	if err != nil {
		return nil, "", err
	}
	if s.Rollouts == nil {
		return nil, "", valueloop.Errorf(valueloop.ENOTFOUND, "rollouts are not enabled on this server")
	}
	return s.Rollouts, live.Environment.Key, nil
}

func (s *Server) handleListRollouts(w http.ResponseWriter, r *http.Request) error {
	eng, env, err := s.rolloutEngine(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	if err := checkParams(q, "flag", "active", "before", "limit"); err != nil {
		return err
	}
	active, err := boolParam(q, "active")
	if err != nil {
		return err
	}
	f := rollout.Filter{Environment: env, Flag: q.Get("flag"), Active: active}
	if v := q.Get("before"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			return valueloop.FieldErrorf("before", "must be a rollout id (a positive integer): the last of the page before")
		}
		f.BeforeID = n
	}
	if f.Limit, err = limitParam(q, 0, 1000); err != nil {
		return err
	}
	list, err := eng.List(r.Context(), f)
	if err != nil {
		return err
	}
	if list == nil {
		list = []rollout.Rollout{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"rollouts": list})
	return nil
}

func (s *Server) handleStartRollout(w http.ResponseWriter, r *http.Request) error {
	eng, env, err := s.rolloutEngine(r)
	if err != nil {
		return err
	}
	// A rollout changes the flag step by step: not in an environment whose
	// flag file is its only source.
	if path := s.Flags.File(env); path != "" {
		return valueloop.Errorf(valueloop.ECONFLICT, "environment %q is read-only: it is served from the flag file %s (--flags-file); a rollout cannot change its flags", env, path)
	}
	var req startRolloutRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if req.Reason == "" {
		req.Reason = r.Header.Get(ReasonHeader)
	}
	if _, err := eng.Start(r.Context(), env, req.Plan, tokenOf(r).Name, req.Reason); err != nil {
		return err
	}
	st, err := eng.Status(r.Context(), env, req.Flag)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, st)
	return nil
}

func (s *Server) handleRolloutStatus(w http.ResponseWriter, r *http.Request) error {
	eng, env, err := s.rolloutEngine(r)
	if err != nil {
		return err
	}
	st, err := eng.Status(r.Context(), env, r.PathValue("key"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

// handleRolloutAction serves the manual transitions. The body is optional:
// {"reason": "..."} (or the Valueloop-Reason header) goes to the history
// and the audit trail.
func (s *Server) handleRolloutAction(k rollout.Kind) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		eng, env, err := s.rolloutEngine(r)
		if err != nil {
			return err
		}
		var req struct {
			Reason string `json:"reason"`
		}
		if r.ContentLength != 0 && r.Header.Get("Content-Type") != "" {
			if err := decodeJSON(r, &req); err != nil {
				return err
			}
		}
		if req.Reason == "" {
			req.Reason = r.Header.Get(ReasonHeader)
		}
		flag := r.PathValue("key")
		if _, err := eng.Act(r.Context(), env, flag, k, tokenOf(r).Name, req.Reason); err != nil {
			return err
		}
		st, err := eng.Status(r.Context(), env, flag)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, st)
		return nil
	}
}
