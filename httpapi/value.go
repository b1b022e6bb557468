package httpapi

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/features"
	"github.com/valueloop/valueloop/value"
)

// The value loop: objectives, features with their release records, moves
// by hand, the ranked backlog (next), the flow of value, and the file of
// objectives and features applied and exported. Leave Server.Value nil to
// serve without them (the routes answer 404). Objectives and features span
// environments: writing them needs an admin token bound to none.

func (s *Server) valueRoutes() []route {
	return []route{
		{"GET", "/api/v1/objectives", admin, s.handleListObjectives},
		{"POST", "/api/v1/objectives", admin, s.handlePutObjective(true)},
		{"GET", "/api/v1/objectives/{key}", admin, s.handleGetObjective},
		{"PUT", "/api/v1/objectives/{key}", admin, s.handlePutObjective(false)},
		{"DELETE", "/api/v1/objectives/{key}", admin, s.handleDeleteObjective},
		{"GET", "/api/v1/features", admin, s.handleListFeatures},
		{"POST", "/api/v1/features", admin, s.handlePutFeature(true)},
		{"GET", "/api/v1/features/{key}", admin, s.handleShowFeature},
		{"PUT", "/api/v1/features/{key}", admin, s.handlePutFeature(false)},
		{"DELETE", "/api/v1/features/{key}", admin, s.handleDeleteFeature},
		{"POST", "/api/v1/features/{key}/move", admin, s.handleMoveFeature},
		{"GET", "/api/v1/value/next", admin, s.handleNext},
		{"GET", "/api/v1/value/flow", admin, s.handleFlow},
		{"GET", "/api/v1/value/file", admin, s.handleExportValue},
		{"PUT", "/api/v1/value/file", admin, s.handleApplyValue},
	}
}

func (s *Server) valueService() (*features.Service, error) {
	if s.Value == nil {
		return nil, valueloop.Errorf(valueloop.ENOTFOUND, "this server does not serve the value loop")
	}
	return s.Value, nil
}

// valueWriter checks that the value loop is served and that the token may
// write objectives and features: they span environments.
func (s *Server) valueWriter(r *http.Request) (*features.Service, error) {
	v, err := s.valueService()
	if err != nil {
		return nil, err
	}
	if env := tokenOf(r).Environment; env != "" {
		return nil, valueloop.Errorf(valueloop.EFORBIDDEN, "objectives and features span environments: this token administers %q only; use an admin token for every environment", env)
	}
	return v, nil
}

// The value API's list routes answer a page at a time: ?limit= items (500
// unless given, at most 1000) after ?cursor=, the nextCursor of the page
// before (absent on the last page).
const (
	defaultValuePage = 500
	maxValuePage     = 1000
)

// valuePage reads ?limit= and ?cursor=.
func valuePage(q url.Values) (limit int, cursor string, err error) {
	cursor = q.Get("cursor")
	if limit, err = limitParam(q, defaultValuePage, maxValuePage); err != nil {
		return 0, "", err
	}
	// The cursor is the last key of the page before: anything else was
	// changed on the way, and is refused rather than read as an empty page.
	if cursor != "" && !value.ValidKey(cursor) {
		return 0, "", valueloop.CursorError(cursor)
	}
	return limit, cursor, nil
}

func (s *Server) handleListObjectives(w http.ResponseWriter, r *http.Request) error {
	v, err := s.valueService()
	if err != nil {
		return err
	}
	if err := checkParams(r.URL.Query(), "limit", "cursor"); err != nil {
		return err
	}
	limit, cursor, err := valuePage(r.URL.Query())
	if err != nil {
		return err
	}
	os, err := v.Store.ObjectivePage(r.Context(), cursor, limit+1)
	if err != nil {
		return err
	}
	os, next := valueloop.PageEnd(os, limit, func(o *value.Objective) string { return o.Key })
	writeJSON(w, http.StatusOK, pageBody("objectives", os, next))
	return nil
}

// pageBody is a page of a list route: the items under their name, and
// nextCursor unless it is the last page.
func pageBody(name string, items any, next string) map[string]any {
	out := map[string]any{name: items}
	if next != "" {
		out["nextCursor"] = next
	}
	return out
}

func (s *Server) handleGetObjective(w http.ResponseWriter, r *http.Request) error {
	v, err := s.valueService()
	if err != nil {
		return err
	}
	o, err := v.Store.Objective(r.Context(), r.PathValue("key"))
	if err != nil {
		return err
	}
	p, err := v.Progress(r.Context(), o.Key)
	if err != nil {
		return err
	}
	w.Header().Set("ETag", `"`+o.Version()+`"`)
	writeJSON(w, http.StatusOK, value.ShownObjective{Objective: *o, Version: o.Version(), Progress: p})
	return nil
}

// handlePutObjective creates (POST: 409 when the key exists) or replaces
// (PUT, the key from the path) an objective.
func (s *Server) handlePutObjective(create bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		v, err := s.valueWriter(r)
		if err != nil {
			return err
		}
		version, err := createOrIfMatch(r, create, "objective")
		if err != nil {
			return err
		}
		var o value.Objective
		if err := decodeJSON(r, &o); err != nil {
			return err
		}
		status, err := putKey(r, create, &o.Key, v.Store.Objective, "objective")
		if err != nil {
			return err
		}
		if err := v.PutObjective(r.Context(), &o, version, tokenOf(r).Name); err != nil {
			return err
		}
		w.Header().Set("ETag", `"`+o.Version()+`"`)
		writeJSON(w, status, o)
		return nil
	}
}

// putKey settles the key of a value written by POST (create) or PUT, and
// the status to answer. POST answers 201 and refuses a key that get finds
// (409, naming the PUT that changes it); PUT takes the path's key and
// refuses a body naming another. An empty key is left to the write, which
// refuses it naming the field.
func putKey[T any](r *http.Request, create bool, key *string, get func(context.Context, string) (T, error), what string) (int, error) {
	if !create {
		path := r.PathValue("key")
		if *key == "" {
			*key = path
		} else if *key != path {
			return 0, valueloop.FieldErrorf("key", "%q differs from the path's %q", *key, path)
		}
		return http.StatusOK, nil
	}
	if *key != "" {
		if _, err := get(r.Context(), *key); err == nil {
			return 0, valueloop.Errorf(valueloop.ECONFLICT, "%s %q exists: change it with PUT /api/v1/%ss/%s", what, *key, what, *key)
		} else if valueloop.ErrorCode(err) != valueloop.ENOTFOUND {
			return 0, err
		}
	}
	return http.StatusCreated, nil
}

func (s *Server) handleDeleteObjective(w http.ResponseWriter, r *http.Request) error {
	v, err := s.valueWriter(r)
	if err != nil {
		return err
	}
	if err := v.Store.DeleteObjective(r.Context(), r.PathValue("key"), tokenOf(r).Name); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// featureSummary is a feature in a list: its definition with where it is.
type featureSummary struct {
	value.Feature
	Stage value.Stage `json:"stage"`
	Since time.Time   `json:"since,omitzero"`
}

// handleListFeatures lists features with their stage; ?objective= and
// ?stage= filter.
func (s *Server) handleListFeatures(w http.ResponseWriter, r *http.Request) error {
	v, err := s.valueService()
	if err != nil {
		return err
	}
	if err := checkParams(r.URL.Query(), "stage", "objective", "limit", "cursor"); err != nil {
		return err
	}
	q := r.URL.Query()
	limit, cursor, err := valuePage(q)
	if err != nil {
		return err
	}
	stage := value.Stage(q.Get("stage"))
	if stage != "" && !stage.Valid() {
		return valueloop.FieldErrorf("stage", "no stage %q (have idea, ready, building, releasing, measuring, validated, invalidated, done, abandoned)", stage)
	}
	// A filter's value, not a resource: an objective that does not exist
	// is a mistake to name, as next and flow do, not an empty list.
	// (Not of a key's form, it is not looked up: PostgreSQL refuses bytes
	// that are not UTF-8.)
	if o := q.Get("objective"); o != "" {
		var err error = valueloop.Errorf(valueloop.ENOTFOUND, "not a key")
		if value.ValidKey(o) {
			_, err = v.Store.Objective(r.Context(), o)
		}
		if valueloop.ErrorCode(err) == valueloop.ENOTFOUND {
			return valueloop.FieldErrorf("objective", "there is no objective %q", valueloop.Clip(o))
		} else if err != nil {
			return err
		}
	}
	fs, err := v.Store.FeaturePage(r.Context(), features.FeatureQuery{Objective: q.Get("objective"), Stage: stage, After: cursor, Limit: limit + 1})
	if err != nil {
		return err
	}
	out := make([]featureSummary, len(fs))
	for i, f := range fs {
		out[i] = featureSummary{Feature: f.Feature, Stage: f.Lifecycle.Stage, Since: f.Lifecycle.Since}
	}
	out, next := valueloop.PageEnd(out, limit, func(f *featureSummary) string { return f.Key })
	writeJSON(w, http.StatusOK, pageBody("features", out, next))
	return nil
}

// handleShowFeature answers with the feature, its flags' hypotheses and
// its release record, its evidence gathered anew.
func (s *Server) handleShowFeature(w http.ResponseWriter, r *http.Request) error {
	v, err := s.valueService()
	if err != nil {
		return err
	}
	sh, err := v.Show(r.Context(), r.PathValue("key"))
	if err != nil {
		return err
	}
	w.Header().Set("ETag", `"`+sh.Version+`"`)
	writeJSON(w, http.StatusOK, sh)
	return nil
}

func (s *Server) handlePutFeature(create bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		v, err := s.valueWriter(r)
		if err != nil {
			return err
		}
		version, err := createOrIfMatch(r, create, "feature")
		if err != nil {
			return err
		}
		var f value.Feature
		if err := decodeJSON(r, &f); err != nil {
			return err
		}
		status, err := putKey(r, create, &f.Key, v.Store.Feature, "feature")
		if err != nil {
			return err
		}
		f.CreatedAt, f.UpdatedAt = time.Time{}, time.Time{}
		if err := v.PutFeature(r.Context(), &f, version, tokenOf(r).Name); err != nil {
			return err
		}
		w.Header().Set("ETag", `"`+f.Version()+`"`)
		writeJSON(w, status, f)
		return nil
	}
}

// createOrIfMatch is valueIfMatch, and features.Absent for a creation
// without If-Match: putKey's check that the key is new is made again with
// the write's checks, so that of two creations of one key at once the
// later is refused rather than replacing the earlier.
func createOrIfMatch(r *http.Request, create bool, what string) (string, error) {
	version, err := valueIfMatch(r, what)
	if err == nil && create && version == "" {
		version = features.Absent
	}
	return version, err
}

// valueIfMatch reads the versions a feature's or objective's write
// expects from If-Match, as value.VersionMatches takes them: "*", or the
// list's versions joined by "," ("" when absent: the write is
// unconditional). A weak tag counts as its version, as for flags: the
// version names the definition, not the bytes of one encoding of it.
func valueIfMatch(r *http.Request, what string) (string, error) {
	h := strings.TrimSpace(strings.Join(r.Header.Values("If-Match"), ","))
	if h == "" {
		return "", nil
	}
	if h == value.AnyVersion {
		return h, nil
	}
	var vs []string
	for _, tag := range strings.Split(h, ",") {
		v := strings.Trim(strings.TrimPrefix(strings.TrimSpace(tag), "W/"), `"`)
		if !value.ValidVersion(v) {
			return "", valueloop.FieldErrorf("If-Match", "must be * or versions such as \"3f2a9c1e04b7d6a8\" (the ETag of GET /api/v1/%ss/{key}), separated by commas, got %q", what, valueloop.Clip(tag))
		}
		vs = append(vs, v)
	}
	return strings.Join(vs, ","), nil
}

func (s *Server) handleDeleteFeature(w http.ResponseWriter, r *http.Request) error {
	v, err := s.valueWriter(r)
	if err != nil {
		return err
	}
	if err := v.DeleteFeature(r.Context(), r.PathValue("key"), tokenOf(r).Name); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleMoveFeature moves a feature by hand where no event proves the
// stage: {"stage": "ready", "reason": "estimated in planning"}.
func (s *Server) handleMoveFeature(w http.ResponseWriter, r *http.Request) error {
	v, err := s.valueWriter(r)
	if err != nil {
		return err
	}
	var in struct {
		Stage  value.Stage `json:"stage"`
		Reason string      `json:"reason"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	rec, err := v.Move(r.Context(), r.PathValue("key"), in.Stage, in.Reason, tokenOf(r).Name)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rec)
	return nil
}

// seconds reads a query parameter of seconds (durations in the API are
// seconds); def when absent.
func seconds(r *http.Request, name string, def time.Duration) (time.Duration, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f <= 0 || f > 100*365*86400 {
		return 0, valueloop.FieldErrorf(name, "must be a positive number of seconds, got %q", v)
	}
	return time.Duration(f * float64(time.Second)), nil
}

// handleNext ranks the backlog: ?method=wsjf|rice, ?cleanupAfter=SECONDS,
// ?objective= to keep what bets on one objective (ranks keep their place);
// with what needs a person's decision now in rollouts and experiments.
func (s *Server) handleNext(w http.ResponseWriter, r *http.Request) error {
	v, err := s.valueService()
	if err != nil {
		return err
	}
	if err := checkParams(r.URL.Query(), "method", "cleanupAfter", "objective"); err != nil {
		return err
	}
	after, err := seconds(r, "cleanupAfter", 0)
	if err != nil {
		return err
	}
	n, err := v.Next(r.Context(), features.NextOptions{Method: value.Method(r.URL.Query().Get("method")), CleanupAfter: after})
	if err != nil {
		return err
	}
	if err := n.Only(r.URL.Query().Get("objective")); err != nil {
		return err
	}
	// Not an objective's: ?objective= leaves them whole.
	if n.Decisions, err = s.decisions(r); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, n)
	return nil
}

// handleFlow measures the flow of value: ?objective=, ?since=SECONDS
// (90 days by default).
func (s *Server) handleFlow(w http.ResponseWriter, r *http.Request) error {
	v, err := s.valueService()
	if err != nil {
		return err
	}
	if err := checkParams(r.URL.Query(), "objective", "since"); err != nil {
		return err
	}
	since, err := seconds(r, "since", 0)
	if err != nil {
		return err
	}
	f, err := v.Flow(r.Context(), features.FlowOptions{Objective: r.URL.Query().Get("objective"), Since: since})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, f)
	return nil
}

// handleExportValue answers with the objectives and features as a file:
// JSON, or YAML with ?format=yaml.
func (s *Server) handleExportValue(w http.ResponseWriter, r *http.Request) error {
	v, err := s.valueService()
	if err != nil {
		return err
	}
	if err := checkParams(r.URL.Query(), "format"); err != nil {
		return err
	}
	f, err := v.Export(r.Context())
	if err != nil {
		return err
	}
	format := r.URL.Query().Get("format")
	if format != "" && format != "json" && format != "yaml" {
		return valueloop.FieldErrorf("format", "must be json or yaml, got %q", format)
	}
	out, err := value.Export(f.Objectives, f.Features, format != "yaml")
	if err != nil {
		return err
	}
	if format == "yaml" {
		w.Header().Set("Content-Type", "application/yaml")
	} else {
		w.Header().Set("Content-Type", "application/json")
	}
	_, err = w.Write(out)
	return err
}

// handleApplyValue applies a file of objectives and features (JSON, the
// export's shape): ?dryRun=true only plans, ?prune=true deletes what the
// file lacks. It answers with the writes, planned or made.
func (s *Server) handleApplyValue(w http.ResponseWriter, r *http.Request) error {
	v, err := s.valueWriter(r)
	if err != nil {
		return err
	}
	if err := checkParams(r.URL.Query(), "dryRun", "prune"); err != nil {
		return err
	}
	// An export applies back whatever the server's MaxAPIBody: the store
	// keeps within one file (features.Service), and the file may come in
	// an export's layout.
	var f value.File
	if err := decodeJSONUpTo(r, &f, max(apiBodyLimit(r), value.MaxFileTextBytes)); err != nil {
		return err
	}
	q := r.URL.Query()
	dry, err := boolParam(q, "dryRun")
	if err != nil {
		return err
	}
	prune, err := boolParam(q, "prune")
	if err != nil {
		return err
	}
	ops, err := v.Apply(r.Context(), &f, prune, dry, tokenOf(r).Name)
	if err != nil {
		return err
	}
	if ops == nil {
		ops = []value.Op{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"dryRun": dry, "operations": ops})
	return nil
}
