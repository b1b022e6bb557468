package metric

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/stats"
)

// MetricKind says how a metric turns a user's tracking events into one
// per-user value.
type MetricKind string

const (
	// Conversion: 1 if the user sent Event within Window after first
	// exposure, else 0. Analysed as a proportion.
	Conversion MetricKind = "conversion"
	// Count: how many Event the user sent after first exposure.
	Count MetricKind = "count"
	// Sum: the sum of the values of the user's Event after first exposure.
	Sum MetricKind = "sum"
	// Mean: the mean value of the user's Event after first exposure; users
	// without such an event have no value and are not counted (N is the
	// number of users with at least one).
	Mean MetricKind = "mean"
	// Ratio: Σ numerator / Σ denominator over users (revenue per order),
	// analysed per user with the delta method.
	Ratio MetricKind = "ratio"
	// Quantile: a quantile (Quantile, e.g. 0.99 for p99) of Event's values
	// after first exposure. Over users (Over "user", the default): of each
	// user's mean value (as Mean); users without such an event have no
	// value. Over events (Over "event"): of every event's value, with an
	// interval that allows for the events of one user being alike (see
	// EventSketch). Kept in mergeable sketches, so the aggregation stays
	// incremental; analysed as stats.Quantile.
	Quantile MetricKind = "quantile"
)

// What a quantile metric's quantile is taken over.
const (
	// OverUser: the quantile of the users' mean values.
	OverUser = "user"
	// OverEvent: the quantile of all events' values (p99 of every request's
	// latency), each user's events a cluster.
	OverEvent = "event"
)

// Direction says which way a metric should move.
type Direction string

const (
	HigherIsBetter Direction = "higher"
	LowerIsBetter  Direction = "lower"
)

// Aggregations of a ratio's numerator or denominator.
const (
	AggCount = "count"
	AggSum   = "sum"
)

// Part is the numerator or denominator of a ratio metric.
type Part struct {
	Event     string `json:"event"`
	Aggregate string `json:"aggregate"` // "count" or "sum"
}

// Metric is a metric definition of one environment. Every flag with
// exposures in the environment is measured with every metric.
//
// Only a user's events at or after their first exposure to a flag count, and
// with a Window only those before first exposure + Window. The CUPED
// covariate is the same metric over the user's events before first exposure
// (all of them: a finite look-back would need each user's full history at
// every exposure, which is what keeps ingestion fast). Cap, when set,
// winsorises every per-user value (and covariate) at Cap: above it counts as
// Cap; for a ratio it caps the numerator.
type Metric struct {
	Key         string     `json:"key"`
	Name        string     `json:"name,omitempty"`
	Description string     `json:"description,omitempty"`
	Kind        MetricKind `json:"kind"`
	// Event is the tracking event name measured (the numerator of a ratio).
	Event string `json:"event"`
	// Aggregate of a ratio's numerator: "sum" (default) or "count".
	Aggregate   string    `json:"aggregate,omitempty"`
	Denominator *Part     `json:"denominator,omitempty"`
	Direction   Direction `json:"direction"`
	Window      Window    `json:"window,omitempty"`
	Cap         *float64  `json:"cap,omitempty"`
	// Quantile is the quantile of a quantile metric, in (0, 1): 0.5 for
	// the median, 0.99 for p99.
	Quantile float64 `json:"quantile,omitempty"`
	// Over is what a quantile metric's quantile is taken over: OverUser
	// (the default) or OverEvent.
	Over      string    `json:"over,omitempty"`
	CreatedAt time.Time `json:"createdAt,omitzero"`
	UpdatedAt time.Time `json:"updatedAt,omitzero"`
}

// StatsKind is how package stats analyses the metric.
func (m *Metric) StatsKind() stats.Kind {
	switch m.Kind {
	case Conversion:
		return stats.Proportion
	case Ratio:
		return stats.Ratio
	case Quantile:
		return stats.Quantile
	}
	return stats.Mean
}

// PerEvent reports whether m is a quantile over all events rather than over
// users.
func (m *Metric) PerEvent() bool { return m.Kind == Quantile && m.Over == OverEvent }

// Events returns the event names the metric reads.
func (m *Metric) Events() []string {
	if m.Kind == Ratio && m.Denominator != nil && m.Denominator.Event != m.Event {
		return []string{m.Event, m.Denominator.Event}
	}
	return []string{m.Event}
}

// Keys returns the keys of ms, in their order.
func Keys(ms []Metric) []string {
	keys := make([]string, len(ms))
	for i, m := range ms {
		keys[i] = m.Key
	}
	return keys
}

var keyPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$`)

// Normalize fills defaults and validates m, reporting every problem.
func (m *Metric) Normalize() error {
	var probs []valueloop.Problem
	bad := func(path, format string, args ...any) {
		probs = append(probs, valueloop.Problem{Path: path, Message: fmt.Sprintf(format, args...)})
	}
	if !keyPattern.MatchString(m.Key) {
		bad("/key", "must be 1 to 100 letters, digits, '_', '.' or '-', starting with a letter or digit")
	}
	if m.Event == "" {
		bad("/event", "required: the name of the tracking event measured")
	}
	// Printed in lists and results through every client: no control
	// character (a line break or a tab only in the description) nor a
	// bidirectional one (valueloop.CheckControl).
	for _, t := range []struct {
		path, s string
		allow   string
	}{{"/name", m.Name, ""}, {"/description", m.Description, "\n\t"}} {
		var e *valueloop.Error
		if errors.As(valueloop.CheckControl(t.path, t.s, false, len(t.s), func(r rune) bool { return !strings.ContainsRune(t.allow, r) }), &e) {
			bad(t.path, "%s", e.Message)
		}
	}
	if m.Direction == "" {
		m.Direction = HigherIsBetter
	} else if m.Direction != HigherIsBetter && m.Direction != LowerIsBetter {
		bad("/direction", "must be %q or %q", HigherIsBetter, LowerIsBetter)
	}
	switch m.Kind {
	case Conversion, Count, Sum, Mean, Quantile:
		if m.Aggregate != "" || m.Denominator != nil {
			bad("/denominator", "only a ratio metric has an aggregate and a denominator")
		}
		if m.Kind == Quantile && !(m.Quantile > 0 && m.Quantile < 1) {
			bad("/quantile", "required for a quantile metric: a number in (0, 1), e.g. 0.99 for p99")
		}
		if m.Kind == Quantile {
			switch m.Over {
			case "":
				m.Over = OverUser
			case OverUser, OverEvent:
			default:
				bad("/over", "must be %q (the quantile of the users' mean values) or %q (of all events' values)", OverUser, OverEvent)
			}
		}
	case Ratio:
		if m.Aggregate == "" {
			m.Aggregate = AggSum
		}
		if m.Aggregate != AggSum && m.Aggregate != AggCount {
			bad("/aggregate", "must be %q or %q", AggSum, AggCount)
		}
		if m.Denominator == nil || m.Denominator.Event == "" {
			bad("/denominator/event", "required for a ratio: the tracking event of the denominator")
		} else {
			if m.Denominator.Aggregate == "" {
				m.Denominator.Aggregate = AggCount
			}
			if m.Denominator.Aggregate != AggSum && m.Denominator.Aggregate != AggCount {
				bad("/denominator/aggregate", "must be %q or %q", AggSum, AggCount)
			}
		}
	case "":
		bad("/kind", "required: one of conversion, count, sum, mean, ratio, quantile")
	default:
		bad("/kind", "unknown kind %q: want conversion, count, sum, mean, ratio or quantile", m.Kind)
	}
	if m.Kind != Quantile && m.Quantile != 0 {
		bad("/quantile", "only a quantile metric has a quantile")
	}
	if m.Kind != Quantile && m.Over != "" {
		bad("/over", "only a quantile metric is taken over users or events")
	}
	if m.Window < 0 {
		bad("/window", "must not be negative")
	}
	if m.Cap != nil {
		switch {
		case m.Kind == Conversion:
			bad("/cap", "a conversion is 0 or 1 and cannot be capped")
		case m.PerEvent():
			// Capping events moves a quantile above the cap to the cap and
			// leaves one below it alone: it can only hide a regression.
			bad("/cap", "a quantile over events is not capped: it is robust to outliers already")
		case math.IsNaN(*m.Cap) || math.IsInf(*m.Cap, 0) || math.Abs(*m.Cap) > MaxValue:
			bad("/cap", "must be a finite number within ±%g", MaxValue)
		}
	}
	if len(probs) > 0 {
		for i := range probs {
			probs[i].Source = "metric " + m.Key
		}
		return &valueloop.ValidationError{Problems: probs}
	}
	return nil
}

// Window is a duration, written in JSON as a number of seconds; "30m",
// "24h" or "7d" are read too.
type Window time.Duration

func (w Window) String() string {
	d := time.Duration(w)
	if d != 0 && d%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	}
	return d.String()
}

// ParseWindow parses "7d", "36h", "90m" or any Go duration.
func ParseWindow(s string) (Window, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.ParseFloat(n, 64)
		if err != nil || days < 0 || days > 3650 {
			return 0, fmt.Errorf("invalid window %q: want e.g. 7d, 36h or 90m", s)
		}
		return Window(days * float64(24*time.Hour)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("invalid window %q: want e.g. 7d, 36h or 90m", s)
	}
	return Window(d), nil
}

// MarshalJSON writes the window as a number of seconds, the API's unit.
func (w Window) MarshalJSON() ([]byte, error) { return valueloop.Seconds(w).MarshalJSON() }

// UnmarshalJSON reads a number of seconds, or a string such as "7d" (what
// definitions stored before durations became seconds hold).
func (w *Window) UnmarshalJSON(b []byte) error {
	v, err := valueloop.ParseSecondsJSON(b, func(s string) (time.Duration, error) {
		v, err := ParseWindow(s)
		return time.Duration(v), err
	})
	if err != nil {
		return fmt.Errorf("window: %w", err)
	}
	*w = Window(v)
	return nil
}
