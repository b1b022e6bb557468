package httpapi

import (
	"context"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/experiment"
)

// ExperimentStore is what the hypothesis and results routes read and
// write. Leave Server.Experiments nil to serve without them (they then
// answer 404).
type ExperimentStore interface {
	experiment.Reader
	PutHypothesis(ctx context.Context, env, flag string, h *experiment.Hypothesis, actor string) error
	DeleteHypothesis(ctx context.Context, env, flag, actor string) error
}

// VerdictRecorder records the verdicts of results and returns their
// history (package verdicts).
type VerdictRecorder interface {
	Record(ctx context.Context, res *experiment.Result) (bool, error)
	History(ctx context.Context, env, flag string) ([]experiment.VerdictRecord, error)
}

// experimentEnv checks the token and that experiments are served, and
// returns the environment and the flag's definition (nil when the
// environment does not define the flag).
func (s *Server) experimentEnv(r *http.Request) (string, *valueloop.Flag, error) {
	if s.Experiments == nil {
		return "", nil, valueloop.Errorf(valueloop.ENOTFOUND, "this server does not serve experiments")
	}
	env, err := s.adminEnv(r)
	if err != nil {
		return "", nil, err
	}
	return env, s.Flags.Live(env).Snapshot.Set().Flags[r.PathValue("key")], nil
}

func (s *Server) handleGetHypothesis(w http.ResponseWriter, r *http.Request) error {
	env, _, err := s.experimentEnv(r)
	if err != nil {
		return err
	}
	h, err := s.Experiments.Hypothesis(r.Context(), env, r.PathValue("key"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, h)
	return nil
}

// handlePutHypothesis creates or replaces a flag's hypothesis. Settings
// left out keep their defaults; the hypothesis must name metrics of the
// environment and variants of the flag.
func (s *Server) handlePutHypothesis(w http.ResponseWriter, r *http.Request) error {
	env, def, err := s.experimentEnv(r)
	if err != nil {
		return err
	}
	key := r.PathValue("key")
	h := experiment.NewHypothesis()
	if err := decodeJSON(r, h); err != nil {
		return err
	}
	if def == nil {
		return valueloop.Errorf(valueloop.ENOTFOUND, "flag %q not found in %s: create the flag before its hypothesis", key, env)
	}
	metrics, err := s.Experiments.Metrics(r.Context(), env)
	if err != nil {
		return err
	}
	if err := h.CheckText(); err != nil {
		return err
	}
	if err := h.Normalize(metrics, slices.Sorted(maps.Keys(def.Variants))); err != nil {
		return err
	}
	if err := s.Experiments.PutHypothesis(r.Context(), env, key, h, tokenOf(r).Name); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, h)
	return nil
}

func (s *Server) handleDeleteHypothesis(w http.ResponseWriter, r *http.Request) error {
	env, _, err := s.experimentEnv(r)
	if err != nil {
		return err
	}
	if err := s.Experiments.DeleteHypothesis(r.Context(), env, r.PathValue("key"), tokenOf(r).Name); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleResults answers with the flag's experiment results: the stored
// aggregates analysed with the hypothesis' settings (or the defaults),
// overridden by query parameters, and the verdict when there is a
// hypothesis. ?metric=KEY (repeatable, or comma-separated) limits the
// metrics shown; ?dimension=NAME adds the results split by that dimension.
func (s *Server) handleResults(w http.ResponseWriter, r *http.Request) error {
	env, def, err := s.experimentEnv(r)
	if err != nil {
		return err
	}
	key := r.PathValue("key")
	ctx := r.Context()
	in := experiment.Input{Environment: env, Flag: key, Definition: def}
	if err := experiment.ReadHypothesis(ctx, s.Experiments, &in); err != nil {
		return err
	}
	q := r.URL.Query()
	resultSettings := experiment.SettingNames() // the query parameters that override settings
	// In a fixed order, so that a query with several bad parameters is
	// refused naming the same one every time.
	for _, name := range slices.Sorted(maps.Keys(q)) {
		values := q[name]
		switch {
		case name == "dimension":
			if len(values) != 1 || values[0] == "" {
				return valueloop.FieldErrorf("dimension", "give one dimension to split by, once")
			}
			// Refused before any read.
			if _, err := experiment.FindDimension(s.Dimensions, values[0]); err != nil {
				return err
			}
			in.Dimension, in.Dimensions = values[0], s.Dimensions
		case name == "metric":
			for _, v := range values {
				for k := range strings.SplitSeq(v, ",") {
					// An empty key would be dropped, and ?metric= show
					// every metric, as if it were left out.
					if k = strings.TrimSpace(k); k == "" {
						return valueloop.FieldErrorf("metric", "an empty metric key in %q: give metric keys, or leave metric out to show every metric", v)
					}
					in.Only = append(in.Only, k)
				}
			}
		case !slices.Contains(resultSettings, name):
			return valueloop.FieldErrorf(name, "unknown parameter: want metric, dimension or a setting (%s)", strings.Join(resultSettings, ", "))
		case len(values) != 1:
			// Which one was meant is not ours to guess: q.Get would take
			// the first silently.
			return valueloop.FieldErrorf("settings."+name, "give it once, got %d values (%s)", len(values), strings.Join(values, ", "))
		}
	}
	for _, name := range resultSettings { // in a fixed order, so errors are stable
		if q.Has(name) {
			if err := in.Settings.Set(name, q.Get(name)); err != nil {
				return err
			}
		}
	}
	res, err := experiment.ReadAnalysis(ctx, s.Experiments, &in)
	if err != nil {
		return err
	}
	if s.Verdicts != nil {
		s.recordVerdict(ctx, res, overridden(q))
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

// overridden reports whether the query overrides an analysis setting.
func overridden(q url.Values) bool {
	for _, name := range experiment.SettingNames() {
		if q.Has(name) {
			return true
		}
	}
	return false
}

// recordVerdict records the verdict of res, unless the request overrode
// the hypothesis' settings (that verdict is the request's, not the
// hypothesis'), and adds the history to res. Failing to record is logged,
// not answered: the results are right either way, and the periodic check
// records the verdict later.
func (s *Server) recordVerdict(ctx context.Context, res *experiment.Result, overridden bool) {
	if !overridden && res.Hypothesis != nil {
		if _, err := s.Verdicts.Record(ctx, res); err != nil {
			s.Logger.Warn("verdict not recorded", "env", res.Environment, "flag", res.Flag, "err", err)
		}
	}
	history, err := s.Verdicts.History(ctx, res.Environment, res.Flag)
	if err != nil {
		s.Logger.Warn("verdict history not read", "env", res.Environment, "flag", res.Flag, "err", err)
		return
	}
	if len(history) > 0 {
		res.VerdictHistory = history
	}
}
