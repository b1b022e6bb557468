package experiment

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/metric"
	"github.com/valueloop/valueloop/stats"
)

// Direction is the way a hypothesis expects its primary metric to move.
type Direction string

const (
	Increase Direction = "increase"
	Decrease Direction = "decrease"
)

// Sign is −1 for Decrease and +1 otherwise (Increase, or no direction
// given): a size in the direction times it is the signed move.
func (d Direction) Sign() float64 {
	if d == Decrease {
		return -1
	}
	return 1
}

// SplitSigned splits a signed move into its size and direction, as the
// command line writes one: −5% is a decrease of 5%, and 0 or more an
// increase. Sign turns them back into x.
func SplitSigned(x float64) (float64, Direction) {
	d := Increase
	if x < 0 {
		d = Decrease
	}
	return math.Abs(x), d
}

// Inference chooses the intervals and p-values that decide.
type Inference string

const (
	// Sequential uses the always-valid confidence sequences and p-values:
	// results may be looked at any time, as often as wanted, without
	// inflating the error rate. The default.
	Sequential Inference = "sequential"
	// Fixed uses the fixed-horizon intervals and p-values: valid only when
	// the results are read once, at a sample size fixed in advance. The
	// verdict therefore decides only once the planned sample is reached
	// (a harmed guardrail excepted).
	Fixed Inference = "fixed"
)

// Test is one effect's test under an inference: its interval with the
// p-values of the same test, raw (p < α exactly when the interval excludes
// 0) and adjusted (Settings.Correction, over every comparison shown; the
// interval stays unadjusted, Bonferroni's adjusted ones are the Effect's
// AdjustedInterval and AdjustedSequential, and the verdict corrects the
// primary metric's raw p over the treatments only: primaryPValues).
type Test struct {
	Interval       stats.Interval
	PValue         float64
	AdjustedPValue float64
}

// Deciding returns the test of e that decides under inf: the fixed-horizon
// one with Fixed, else the always-valid one. The verdict, the dashboard and
// the CLI all take it from here, so that the interval and raw p shown are
// the ones the verdict reads.
func (inf Inference) Deciding(e stats.Effect) Test {
	if inf == Fixed {
		return Test{Interval: e.Interval, PValue: e.PValue, AdjustedPValue: e.AdjustedPValue}
	}
	return Test{Interval: e.Sequential, PValue: e.SequentialPValue, AdjustedPValue: e.AdjustedSequentialPValue}
}

// Settings are the analysis settings of an experiment: those of package
// stats (alpha, alternative, sequentialTuning, cuped, correction) and which
// inference decides, which variant is control and the configured traffic
// weights the sample-ratio check compares the users per variant with.
type Settings struct {
	stats.Settings
	Inference Inference `json:"inference"`
	// Control is the control variant. Empty means the flag's default
	// variant when it takes part, else a variant named "control", else the
	// first by name.
	Control string `json:"control,omitempty"`
	// Weights are the configured shares of traffic per variant (any positive
	// scale). Only the variants named take part. Empty means the flag's
	// fractional split when its targeting has one, else equal weights for
	// every variant with exposures.
	Weights map[string]float64 `json:"weights,omitempty"`
	// ExcludeOpenWindows leaves out of each metric with a window the users
	// whose window may still be open at the time of the analysis: those
	// first exposed on a UTC day whose end plus the window has not passed
	// (see MetricResult.OpenWindows). Off, they count with the events sent
	// so far. Users and the sample-ratio check count everyone either way.
	ExcludeOpenWindows bool `json:"excludeOpenWindows,omitempty"`
}

// DefaultSettings are stats.DefaultSettings with sequential inference.
func DefaultSettings() Settings {
	return Settings{Settings: stats.DefaultSettings(), Inference: Sequential}
}

// Validate reports the first setting out of range, naming the field
// (settings.alpha, settings.weights.treatment, ...).
func (s Settings) Validate() error {
	if err := s.Settings.Validate(); err != nil {
		return valueloop.PrefixField("settings.", err)
	}
	switch s.Inference {
	case Sequential, Fixed:
	default:
		return valueloop.FieldErrorf("settings.inference", "must be %q or %q, got %q", Sequential, Fixed, s.Inference)
	}
	for _, name := range sortedKeys(s.Weights) {
		w := s.Weights[name]
		if name == "" {
			return valueloop.FieldErrorf("settings.weights", "a variant name must not be empty")
		}
		if !(w > 0) || math.IsInf(w, 1) {
			return valueloop.FieldErrorf("settings.weights."+name, "must be a positive number, got %v", w)
		}
	}
	return nil
}

// Set applies one setting given as text, as a query parameter or a command
// line flag carries it: alpha, alternative, sequentialTuning, cuped,
// correction, inference, control, excludeOpenWindows (on or off), or
// weights ("control:50,treatment:50").
// Spaces around the value, and around each name and number of a list, are
// trimmed, as people type them ("control: 50, treatment: 50"). Metric keys
// and setting values hold no space; a variant may (flagd allows any name),
// and one whose name begins or ends with a space is named in the
// hypothesis' JSON only: here its trimmed name is refused as a variant the
// flag lacks (checkVariants), unless the flag has that one too.
// The error names the field, and s is left as it was.
func (s *Settings) Set(name, value string) error {
	field := "settings." + name
	value = strings.TrimSpace(value)
	number := func(dst *float64) error {
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			return valueloop.FieldErrorf(field, "must be a number, got %q", value)
		}
		*dst = v
		return nil
	}
	if value == "" && slices.Contains(SettingNames(), name) {
		// "" would be taken as a value: the default control or θ in place
		// of the hypothesis' own.
		return valueloop.FieldErrorf(field, "is empty: give a value, or leave %s out to keep the hypothesis' own", name)
	}
	var err error
	switch name {
	case "alpha":
		err = number(&s.Alpha)
	case "sequentialTuning":
		err = number(&s.SequentialTuning)
	case "alternative":
		s.Alternative = stats.Alternative(value)
	case "correction":
		s.Correction = stats.Correction(value)
	case "inference":
		s.Inference = Inference(value)
	case "control":
		s.Control = value
	case "cuped":
		return onOff(field, value, &s.CUPED)
	case "excludeOpenWindows":
		return onOff(field, value, &s.ExcludeOpenWindows)
	case "cupedTheta":
		s.CUPEDTheta = stats.CUPEDTheta(value)
	case "srmThreshold":
		err = number(&s.SRMThreshold)
	case "prior":
		// MEAN:SD of the relative effect, e.g. 0:0.3; "none" for flat.
		if strings.EqualFold(value, "none") {
			s.Prior = nil
			break
		}
		m, sd, ok := strings.Cut(value, ":")
		mv, merr := strconv.ParseFloat(strings.TrimSpace(m), 64)
		sv, serr := strconv.ParseFloat(strings.TrimSpace(sd), 64)
		if !ok || merr != nil || serr != nil {
			return valueloop.FieldErrorf(field, "want MEAN:SD of the relative effect, e.g. 0:0.3, or none; got %q", value)
		}
		s.Prior = &stats.Prior{Mean: mv, SD: sv}
	case "weights":
		w := map[string]float64{}
		for part := range strings.SplitSeq(value, ",") {
			k, v, ok := strings.Cut(part, ":")
			k, v = strings.TrimSpace(k), strings.TrimSpace(v)
			if !ok {
				return valueloop.FieldErrorf(field, "want VARIANT:WEIGHT pairs separated by commas, e.g. control:50,treatment:50; got %q", part)
			}
			if k == "" {
				return valueloop.FieldErrorf(field, "a variant name is empty in %q: want VARIANT:WEIGHT, e.g. control:50", part)
			}
			f, perr := strconv.ParseFloat(v, 64)
			if perr != nil {
				return valueloop.FieldErrorf(field+"."+k, "must be a number, got %q", v)
			}
			// The last weight would win silently, and the SRM check test a
			// split nobody meant; a JSON body with the key twice is refused
			// too (jsondecode).
			if _, dup := w[k]; dup {
				return valueloop.FieldErrorf(field+"."+k, "variant %q is named twice in %q: give each variant one weight", k, value)
			}
			w[k] = f
		}
		s.Weights = w
	default:
		return valueloop.FieldErrorf(name, "unknown setting: want %s", strings.Join(SettingNames(), ", "))
	}
	return err
}

// onOff sets *dst from a switch given as text.
func onOff(field, value string, dst *bool) error {
	switch strings.ToLower(value) {
	case "true", "on", "1", "yes":
		*dst = true
	case "false", "off", "0", "no":
		*dst = false
	default:
		return valueloop.FieldErrorf(field, "must be on or off, got %q", value)
	}
	return nil
}

// SettingNames are the settings Set knows, in a fixed order: the query
// parameters of the results route that override the hypothesis' settings.
func SettingNames() []string {
	return []string{"alpha", "alternative", "sequentialTuning", "cuped", "cupedTheta", "correction", "srmThreshold", "prior", "inference", "control", "weights", "excludeOpenWindows"}
}

// DefaultPower is the planned power when a hypothesis names none.
const DefaultPower = 0.8

// Hypothesis is what a flag's experiment is expected to show: "we believe
// that Statement; we will know it when PrimaryMetric moves in Direction by
// at least MinimumEffect, while no guardrail gets worse than it tolerates".
type Hypothesis struct {
	Statement string `json:"statement,omitempty"`
	// PrimaryMetric is the key of the metric that decides.
	PrimaryMetric string `json:"primaryMetric"`
	// Direction is the expected move of the primary metric; empty means
	// the way the metric's definition calls better.
	Direction Direction `json:"direction,omitempty"`
	// MinimumEffect is the smallest effect worth shipping, positive, in the
	// expected direction: relative to control (0.02 is 2 %) unless Absolute.
	MinimumEffect float64 `json:"minimumEffect"`
	// Absolute makes MinimumEffect an absolute difference in the metric's
	// units.
	Absolute bool `json:"absolute,omitempty"`
	// Power is the planned probability of detecting MinimumEffect, in
	// (alpha, 1); 0 means DefaultPower. The remaining-users estimate aims
	// at it.
	Power      float64     `json:"power"`
	Guardrails []Guardrail `json:"guardrails,omitempty"`
	Settings   Settings    `json:"settings"`

	// Kept by the store.
	Version   int64     `json:"version,omitempty"`
	UpdatedAt time.Time `json:"updatedAt,omitzero"`
	UpdatedBy string    `json:"updatedBy,omitempty"`
}

// Guardrail is a metric that must not get worse than Tolerance. Worse is
// the opposite of the way the metric's definition calls better.
type Guardrail struct {
	Metric string `json:"metric"`
	// Tolerance is the largest harm accepted, zero or positive: relative to
	// control (0.01 is 1 % worse) unless Absolute.
	Tolerance float64 `json:"tolerance"`
	Absolute  bool    `json:"absolute,omitempty"`
}

// NewHypothesis returns an empty hypothesis with default settings, to decode
// a request into: settings absent from it keep their defaults.
func NewHypothesis() *Hypothesis {
	return &Hypothesis{Settings: DefaultSettings()}
}

// CheckText checks the hypothesis' text as it is written: the statement,
// printed above every result, may hold line breaks and tabs but no other
// control character and no bidirectional one (valueloop.CheckControl).
// Not part of Normalize, which every analysis runs: a statement stored
// before the rule is still analysed.
func (h *Hypothesis) CheckText() error {
	return valueloop.CheckControl("statement", h.Statement, false, len(h.Statement), func(r rune) bool { return r != '\n' && r != '\t' })
}

// Normalize fills the defaults that depend on the environment (the
// direction from the primary metric's definition, the power) and validates
// h against the environment's metrics and the flag's variants (nil when the
// flag is unknown: variant names are then not checked). The error names the
// field: primaryMetric, guardrails[1].metric, settings.control, ...
func (h *Hypothesis) Normalize(metrics []metric.Metric, variants []string) error {
	find := func(key string) *metric.Metric {
		for i := range metrics {
			if metrics[i].Key == key {
				return &metrics[i]
			}
		}
		return nil
	}
	if h.PrimaryMetric == "" {
		return valueloop.FieldErrorf("primaryMetric", "required: the key of the metric that decides (see 'valueloop metrics list')")
	}
	pm := find(h.PrimaryMetric)
	if pm == nil {
		return valueloop.FieldErrorf("primaryMetric", "no metric %q in this environment (have %s)", h.PrimaryMetric, metricKeys(metrics))
	}
	if h.Direction == "" {
		h.Direction = Increase
		if pm.Direction == metric.LowerIsBetter {
			h.Direction = Decrease
		}
	}
	if h.Direction != Increase && h.Direction != Decrease {
		return valueloop.FieldErrorf("direction", "must be %q or %q, got %q", Increase, Decrease, h.Direction)
	}
	if !(h.MinimumEffect > 0) || math.IsInf(h.MinimumEffect, 1) {
		return valueloop.FieldErrorf("minimumEffect", "must be a positive number (the smallest effect worth shipping, in the expected direction), got %v", h.MinimumEffect)
	}
	if h.Power == 0 {
		h.Power = DefaultPower
	}
	if err := h.Settings.Validate(); err != nil {
		return err
	}
	if !(h.Power > h.Settings.Alpha && h.Power < 1) {
		return valueloop.FieldErrorf("power", "must be in (alpha, 1), got %v", h.Power)
	}
	switch {
	case h.Settings.Alternative == stats.Greater && h.Direction == Decrease,
		h.Settings.Alternative == stats.Less && h.Direction == Increase:
		return valueloop.FieldErrorf("settings.alternative", "a %q test cannot confirm an expected %s: use %q or the matching one-sided test", h.Settings.Alternative, h.Direction, stats.TwoSided)
	}
	seen := map[string]bool{h.PrimaryMetric: true}
	for i, g := range h.Guardrails {
		field := fmt.Sprintf("guardrails[%d].", i)
		switch {
		case g.Metric == "":
			return valueloop.FieldErrorf(field+"metric", "required: the key of a metric")
		case find(g.Metric) == nil:
			return valueloop.FieldErrorf(field+"metric", "no metric %q in this environment (have %s)", g.Metric, metricKeys(metrics))
		case seen[g.Metric]:
			return valueloop.FieldErrorf(field+"metric", "metric %q is already the primary metric or another guardrail", g.Metric)
		case !(g.Tolerance >= 0) || math.IsInf(g.Tolerance, 1):
			return valueloop.FieldErrorf(field+"tolerance", "must be zero or a positive number (the largest harm accepted), got %v", g.Tolerance)
		}
		seen[g.Metric] = true
	}
	return checkVariants(h.Settings, variants)
}

// checkVariants reports a control or weight naming a variant the flag lacks.
func checkVariants(s Settings, variants []string) error {
	if variants == nil {
		return nil
	}
	if s.Control != "" && !slices.Contains(variants, s.Control) {
		return valueloop.FieldErrorf("settings.control", "the flag has no variant %q (have %s)", s.Control, strings.Join(variants, ", "))
	}
	for _, name := range sortedKeys(s.Weights) {
		if !slices.Contains(variants, name) {
			return valueloop.FieldErrorf("settings.weights."+name, "the flag has no variant %q (have %s)", name, strings.Join(variants, ", "))
		}
	}
	if len(s.Weights) == 1 {
		return valueloop.FieldErrorf("settings.weights", "name at least two variants: a control and a treatment")
	}
	return nil
}

func metricKeys(ms []metric.Metric) string {
	if len(ms) == 0 {
		return "none: create one with 'valueloop metrics create'"
	}
	return strings.Join(metric.Keys(ms), ", ")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
