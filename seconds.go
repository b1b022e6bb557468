package valueloop

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Seconds is a span of time written in JSON as a number of seconds
// (fractional when needed): the one unit of durations in the API, so that
// dashboards and scripts need no conversion. Go code keeps time.Duration and
// converts at the edge with Seconds(d) and time.Duration(s).
type Seconds time.Duration

// MarshalJSON writes s as seconds, e.g. 66600 or 1.5.
func (s Seconds) MarshalJSON() ([]byte, error) {
	return strconv.AppendFloat(nil, time.Duration(s).Seconds(), 'f', -1, 64), nil
}

// UnmarshalJSON reads a number of seconds. With text set it also accepts a
// string such as "90m" — see ParseSecondsJSON.
func (s *Seconds) UnmarshalJSON(b []byte) error {
	d, err := ParseSecondsJSON(b, nil)
	if err != nil {
		return err
	}
	*s = Seconds(d)
	return nil
}

// ParseSecondsJSON reads a JSON duration: a number of seconds, or — when
// text is not nil — a string that text parses (the spelling "90m"/"7d" that
// definitions stored before durations became seconds still use, and that
// people like to type).
func ParseSecondsJSON(b []byte, text func(string) (time.Duration, error)) (time.Duration, error) {
	var n json.Number
	if err := json.Unmarshal(b, &n); err == nil {
		f, err := n.Float64()
		if err != nil || math.IsNaN(f) || math.Abs(f) > math.MaxInt64/float64(time.Second) {
			return 0, fmt.Errorf("a duration must be a number of seconds, got %s", b)
		}
		return time.Duration(math.Round(f * float64(time.Second))), nil
	}
	var str string
	if text == nil || json.Unmarshal(b, &str) != nil {
		if text != nil {
			return 0, fmt.Errorf("a duration must be a number of seconds (or a string such as \"90m\")")
		}
		return 0, fmt.Errorf("a duration must be a number of seconds")
	}
	return text(str)
}
