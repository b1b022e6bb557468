package metric

import (
	"fmt"
	"strings"
	"time"

	"github.com/valueloop/valueloop"
)

// Dimension is a context attribute by which results can be split: country,
// platform, app version. Each exposure event may carry attributes; the
// value of Name there, at the user's first exposure to a flag, is fixed
// with the user's variant and period, and every cell of the flag is kept
// once more per dimension value, so that results by dimension are as exact
// and as incremental as the others.
//
// Values lists the values kept, in the order results show them. A value
// not listed is counted as Other, an exposure without the attribute (or
// with null) as None. Listing the values, rather than keeping the first
// ones seen, is what keeps the cells bounded without any state shared
// between nodes, and makes a recomputation from the events give the same
// slices whatever order the events arrived in.
type Dimension struct {
	Name   string   `json:"name"`
	Values []string `json:"values"`
}

// The caps of dimensions. Every cell of a flag (per variant, period and
// metric) is kept once more per dimension value, so the cells of a flag
// grow at most by MaxDimensions × (MaxDimensionValues + 2) times.
const (
	MaxDimensions       = 5
	MaxDimensionValues  = 50
	MaxDimensionBytes   = 128 // a name or a value
	NoneValue           = "(none)"
	OtherValue          = "(other)"
	firstDimensionValue = 2 // index of Values[0]: 0 is None, 1 is Other
)

// OutsideDimension is the reserved Aggregate.Dimension of the cells of
// users whose first exposure to the flag was served outside its split (a
// targeting rule, the default variant, a static or disabled flag chose
// their variant: see ingest.Event.OutsideSplit), with Value "". They were
// never randomised, so they are not in the cells of all users (Dimension
// ""), which experiment analysis, SRM, guardrails and sketches read as
// they are, nor in any dimension's slices. Readers that mean everyone
// who saw a variant (reach, user counts) add these cells: a store serves
// them as the cells of this dimension. A reserved dimension rather than a
// field of Aggregate, so that every reader of the cells of all users reads
// randomised users without a change, and none can add the outside users by
// forgetting a check.
const OutsideDimension = "(outside split)"

// ExposureDayDimension is the reserved Aggregate.Dimension of the cells of
// the randomised users by UTC day of first exposure, Value the day as
// "2006-01-02" (DayLabel). They are kept, like a dimension's slices, for
// every flag when some metric of the environment has a Window: the users of
// a day whose last moment plus the window has passed have all had their
// whole window, so an analysis can leave out, exactly and by whole days,
// the users whose window is still open (see WindowClosed).
const ExposureDayDimension = "(exposure day)"

const msPerDay = 24 * 60 * 60 * 1000

// DayOf is the UTC day (days since 1970-01-01) of a time in Unix
// milliseconds, as event times are.
func DayOf(ms int64) int64 {
	d := ms / msPerDay
	if ms%msPerDay < 0 {
		d-- // floor, for times before 1970
	}
	return d
}

// DayLabel writes a day of DayOf as "2006-01-02".
func DayLabel(day int64) string {
	return time.UnixMilli(day * msPerDay).UTC().Format(time.DateOnly)
}

// ParseDayLabel reads what DayLabel wrote.
func ParseDayLabel(s string) (int64, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return 0, fmt.Errorf("exposure day %q: %w", s, err)
	}
	return DayOf(t.UnixMilli()), nil
}

// WindowClosed reports whether every user first exposed on day has had
// the whole window by now: the day's last moment plus the window is
// before now. A user first exposed at t0 has until t0 + window, and t0 is
// before the day's end.
func WindowClosed(day int64, window Window, now time.Time) bool {
	end := time.UnixMilli((day + 1) * msPerDay).Add(time.Duration(window))
	return !end.After(now)
}

// ValidateDimensions checks a configuration of dimensions against the caps:
// names unique and non-empty, values unique, non-empty and not one of the
// reserved labels. The error names the offending entry.
func ValidateDimensions(ds []Dimension) error {
	if len(ds) > MaxDimensions {
		return dimErr("dimensions", fmt.Sprintf("%d given, at most %d are kept", len(ds), MaxDimensions))
	}
	names := map[string]bool{}
	for i, d := range ds {
		field := fmt.Sprintf("dimensions[%d]", i)
		switch {
		case d.Name == "":
			return dimErr(field+".name", "required: the context attribute to split by")
		case len(d.Name) > MaxDimensionBytes:
			return dimErr(field+".name", fmt.Sprintf("longer than %d bytes", MaxDimensionBytes))
		case names[d.Name]:
			return dimErr(field+".name", fmt.Sprintf("%q given twice", d.Name))
		case d.Name == OutsideDimension:
			return dimErr(field+".name", fmt.Sprintf("%q is reserved for the users served outside the split", d.Name))
		case d.Name == ExposureDayDimension:
			return dimErr(field+".name", fmt.Sprintf("%q is reserved for the cells by day of first exposure", d.Name))
		case len(d.Values) == 0:
			return dimErr(field+".values", fmt.Sprintf("required: the values of %q to keep (others count as %q)", d.Name, OtherValue))
		case len(d.Values) > MaxDimensionValues:
			return dimErr(field+".values", fmt.Sprintf("%d given, at most %d are kept (others count as %q)", len(d.Values), MaxDimensionValues, OtherValue))
		}
		names[d.Name] = true
		seen := map[string]bool{}
		for j, v := range d.Values {
			vf := fmt.Sprintf("%s.values[%d]", field, j)
			switch {
			case v == "":
				return dimErr(vf, "must not be empty")
			case len(v) > MaxDimensionBytes:
				return dimErr(vf, fmt.Sprintf("longer than %d bytes", MaxDimensionBytes))
			case v == NoneValue || v == OtherValue:
				return dimErr(vf, fmt.Sprintf("%q is reserved", v))
			case seen[v]:
				return dimErr(vf, fmt.Sprintf("%q given twice", v))
			}
			seen[v] = true
		}
	}
	return nil
}

func dimErr(field, msg string) error { return valueloop.FieldErrorf(field, "%s", msg) }

// ParseDimensions reads a configuration of dimensions written as
// "country=US|GB|DE;platform=ios|android|web" (what a command-line flag or
// an environment variable can hold) and validates it.
func ParseDimensions(s string) ([]Dimension, error) {
	var ds []Dimension
	for _, part := range strings.Split(s, ";") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		name, values, ok := strings.Cut(part, "=")
		name = strings.TrimSpace(name)
		if !ok {
			return nil, dimErr("dimensions", fmt.Sprintf("%q: want name=value|value|…", part))
		}
		d := Dimension{Name: name}
		for _, v := range strings.Split(values, "|") {
			if v = strings.TrimSpace(v); v != "" {
				d.Values = append(d.Values, v)
			}
		}
		ds = append(ds, d)
		if len(ds) > MaxDimensions {
			break // ValidateDimensions says so, without reading the rest
		}
	}
	if err := ValidateDimensions(ds); err != nil {
		return nil, err
	}
	return ds, nil
}

// Labels returns the values of d as results name them: each listed value,
// then OtherValue and NoneValue.
func (d Dimension) Labels() []string {
	out := append([]string(nil), d.Values...)
	return append(out, OtherValue, NoneValue)
}

// Label returns the value a dimension index (as Index gives it) stands for.
func (d Dimension) Label(i int) string {
	switch i {
	case 0:
		return NoneValue
	case 1:
		return OtherValue
	}
	return d.Values[i-firstDimensionValue]
}

// Index returns the index of an attribute's value: 2+i for Values[i], 1
// (Other) for any other. text is a string attribute's decoded text, or a
// number's or boolean's JSON text; an attribute that is missing or null is
// None, index 0, and an object or array Other, which the caller knows
// without asking.
func (d Dimension) Index(text []byte) int {
	for i, v := range d.Values {
		if v == string(text) {
			return firstDimensionValue + i
		}
	}
	return 1
}

// The indexes of Dimension.Index that are not values.
const (
	NoneIndex  = 0
	OtherIndex = 1
)

// Count returns how many indexes the dimension has: its values, Other and
// None.
func (d Dimension) Count() int { return len(d.Values) + firstDimensionValue }
