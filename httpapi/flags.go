package httpapi

import (
	"encoding/json"
	"mime"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/flagd"
	"github.com/valueloop/valueloop/flags"
)

// ReasonHeader carries the optional reason for a change into the audit trail.
const ReasonHeader = "Valueloop-Reason"

// flagJSON is a flag as the admin API shows it: the flagd definition plus
// its key and version.
type flagJSON struct {
	Key     string `json:"key"`
	Version int64  `json:"version"`
	*valueloop.Flag
}

// liveEnv returns the live environment named in the path after checking that
// the caller's admin token covers it.
func (s *Server) liveEnv(r *http.Request) (*flags.Live, error) {
	env := r.PathValue("env")
	if !mayAccess(r, env) {
		return nil, valueloop.Errorf(valueloop.EFORBIDDEN, "token may not change environment %q", env)
	}
	live := s.Flags.Live(env)
	if live == nil {
		return nil, s.notLive(tokenOf(r), env)
	}
	return live, nil
}

// flagToChange is what a change of the flag at the path starts from: its
// environment's live set (liveEnv) and the version the change expects
// (ifMatch).
func (s *Server) flagToChange(r *http.Request) (*flags.Live, int64, error) {
	live, err := s.liveEnv(r)
	if err != nil {
		return nil, 0, err
	}
	ifVersion, err := ifMatch(r, live, r.PathValue("key"))
	if err != nil {
		return nil, 0, err
	}
	return live, ifVersion, nil
}

func (s *Server) handleListFlags(w http.ResponseWriter, r *http.Request) error {
	live, err := s.liveEnv(r)
	if err != nil {
		return err
	}
	set := live.Snapshot.Set()
	out := make([]flagJSON, 0, len(set.Flags))
	for k, f := range set.Flags {
		out = append(out, flagJSON{Key: k, Version: f.Version, Flag: f})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	writeJSON(w, http.StatusOK, map[string]any{"flags": out, "version": live.Version})
	return nil
}

func (s *Server) handleGetFlag(w http.ResponseWriter, r *http.Request) error {
	live, err := s.liveEnv(r)
	if err != nil {
		return err
	}
	key := r.PathValue("key")
	f, ok := live.Snapshot.Set().Flags[key]
	if !ok {
		return valueloop.Errorf(valueloop.ENOTFOUND, "flag %q not found in %s", key, live.Environment.Key)
	}
	w.Header().Set("ETag", etag(f.Version))
	writeJSON(w, http.StatusOK, flagJSON{Key: key, Version: f.Version, Flag: f})
	return nil
}

func (s *Server) handleCreateFlag(w http.ResponseWriter, r *http.Request) error {
	return s.putFlag(w, r, "", 0)
}

func (s *Server) handlePutFlag(w http.ResponseWriter, r *http.Request) error {
	_, ifVersion, err := s.flagToChange(r)
	if err != nil {
		return err
	}
	return s.putFlag(w, r, r.PathValue("key"), ifVersion)
}

// putFlag reads a flag definition from the body and writes it. key is the
// flag's key from the path, or "" when the body names it (create).
func (s *Server) putFlag(w http.ResponseWriter, r *http.Request, key string, ifVersion int64) error {
	live, err := s.liveEnv(r)
	if err != nil {
		return err
	}
	var body map[string]json.RawMessage
	if err := decodeJSON(r, &body); err != nil {
		return err
	}
	if raw, ok := body["key"]; ok {
		var k string
		if err := json.Unmarshal(raw, &k); err != nil {
			return valueloop.FieldErrorf("key", "must be a string")
		}
		if key != "" && k != key {
			return valueloop.FieldErrorf("key", "%q does not match the key in the URL, %q", k, key)
		}
		key = k
	}
	if key == "" {
		return valueloop.FieldErrorf("key", "required")
	}
	delete(body, "key")
	delete(body, "version") // read-only: the If-Match header carries the expectation
	def, _ := json.Marshal(body)
	f, err := flagd.ParseFlag("api", key, def)
	if err != nil {
		return err
	}
	f.Key = key
	reason, err := flagReason(r)
	if err != nil {
		return err
	}
	// Made, not replaced, as the write found it (a flag starts at its
	// environment's version, not 1: the version cannot say; nor can the
	// live set read above, which may lack a flag a peer just made).
	version, made, err := s.Flags.PutFlagMade(r.Context(), live.Environment.Key, f, ifVersion, tokenOf(r).Name, reason)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if made {
		status = http.StatusCreated
	}
	f.Version = version
	w.Header().Set("ETag", etag(version))
	writeJSON(w, status, flagJSON{Key: key, Version: version, Flag: f})
	return nil
}

func (s *Server) handleDeleteFlag(w http.ResponseWriter, r *http.Request) error {
	live, ifVersion, err := s.flagToChange(r)
	if err != nil {
		return err
	}
	reason, err := flagReason(r)
	if err != nil {
		return err
	}
	if err := s.Flags.DeleteFlag(r.Context(), live.Environment.Key, r.PathValue("key"), ifVersion, tokenOf(r).Name, reason); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleSetState serves the kill switch: enable or disable a flag.
func (s *Server) handleSetState(state string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		key := r.PathValue("key")
		live, ifVersion, err := s.flagToChange(r)
		if err != nil {
			return err
		}
		reason, err := flagReason(r)
		if err != nil {
			return err
		}
		version, err := s.Flags.SetState(r.Context(), live.Environment.Key, key, state, ifVersion, tokenOf(r).Name, reason)
		if err != nil {
			return err
		}
		w.Header().Set("ETag", etag(version))
		writeJSON(w, http.StatusOK, map[string]any{"key": key, "state": state, "version": version})
		return nil
	}
}

// handleApplyFlagd makes a flagd file the environment's flag set (GitOps).
// ?dryRun=true only reports the diff; ?prune=true removes flags the file
// lacks (otherwise they are kept).
func (s *Server) handleApplyFlagd(w http.ResponseWriter, r *http.Request) error {
	live, err := s.liveEnv(r)
	if err != nil {
		return err
	}
	// Read strictly: a misspelt or misvalued dryRun read as absent would
	// apply the file meant to be planned.
	q := r.URL.Query()
	if err := checkParams(q, "dryRun", "dry_run", "prune"); err != nil { // dry_run: the spelling before camelCase
		return err
	}
	dryRun, err := boolParam(q, "dryRun")
	if err != nil {
		return err
	}
	oldDryRun, err := boolParam(q, "dry_run")
	if err != nil {
		return err
	}
	dryRun = dryRun || oldDryRun
	prune, err := boolParam(q, "prune")
	if err != nil {
		return err
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/json" && mt != "application/yaml" && mt != "application/x-yaml" {
		return valueloop.Errorf(valueloop.EUNSUPPORTED, "Content-Type must be application/json or application/yaml")
	}
	data, err := readBody(r, apiBodyLimit(r))
	if err != nil {
		return err
	}
	source := "request body"
	if mt != "application/json" {
		source = "request.yaml"
	}
	set, err := flagd.Parse(source, data)
	if err != nil {
		return err
	}
	_, change, err := s.Flags.Plan(live.Environment.Key, set, prune)
	if err != nil {
		return err
	}
	reason, err := flagReason(r)
	if err != nil {
		return err
	}
	if !dryRun {
		// Merged with the stored set, not the live one Plan saw: it may
		// lag behind a peer's change (Merge).
		if change, err = s.Flags.Merge(r.Context(), live.Environment.Key, set, prune, tokenOf(r).Name, reason); err != nil {
			return err
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"dryRun": dryRun, "prune": prune, "change": change})
	return nil
}

// flagReason reads a flag write's reason for the audit trail: one line of
// at most valueloop.MaxReason bytes, as the reasons of rollouts (a header
// cannot carry a line break, but it can a tab or a C1 control).
func flagReason(r *http.Request) (string, error) {
	reason := r.Header.Get(ReasonHeader)
	return reason, valueloop.CheckReason(ReasonHeader, reason)
}

func etag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

// ifMatch reads the flag version a write expects from If-Match, as the
// flags store takes it: -1 when absent (unconditional),
// valueloop.IfFlagExists for "*" (RFC 9110: any current representation,
// so the flag must exist), or a version. A list matches when any of its
// versions is the current one: the one the live set shows is chosen, else
// the first, and the store checks the choice in the write's transaction,
// so a set that lags behind the store can refuse a write (409), never let
// a stale one through. A weak tag counts as its version: the version names
// the definition, not the bytes of one encoding of it.
func ifMatch(r *http.Request, live *flags.Live, key string) (int64, error) {
	h := strings.TrimSpace(strings.Join(r.Header.Values("If-Match"), ","))
	if h == "" {
		return -1, nil
	}
	if h == "*" {
		return valueloop.IfFlagExists, nil
	}
	var current int64
	if f, ok := live.Snapshot.Set().Flags[key]; ok {
		current = f.Version
	}
	var chosen int64
	for _, tag := range strings.Split(h, ",") {
		v := strings.Trim(strings.TrimPrefix(strings.TrimSpace(tag), "W/"), `"`)
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			return 0, valueloop.FieldErrorf("If-Match", "must be * or flag versions such as \"3\" (the ETag of GET), separated by commas, got %q", valueloop.Clip(tag))
		}
		if chosen == 0 || n == current {
			chosen = n
		}
	}
	return chosen, nil
}
