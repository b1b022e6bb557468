package experiment

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/metric"
	"github.com/valueloop/valueloop/stats"
)

// DimensionSplit is a result split by one dimension (Input.Dimension): the
// experiment analysed again within the users of each value of a context
// attribute, their value at first exposure (see metric.Dimension).
type DimensionSplit struct {
	Dimension string `json:"dimension"`
	// Warning says what the slices are worth: exploratory, unless the
	// dimension was chosen before the experiment began.
	Warning string `json:"warning"`
	// Correction is the multiple-testing correction (the result's) applied
	// across every comparison of every slice, Comparisons their number:
	// each slice's adjusted p-values are of that family, not of the slice
	// alone.
	Correction  stats.Correction `json:"correction"`
	Comparisons int              `json:"comparisons"`
	// Slices are the dimension's values with users, in the order the
	// dimension lists them, then metric.OtherValue and metric.NoneValue.
	Slices []Slice `json:"slices"`
}

// Slice is the experiment within the users of one dimension value. Its
// variants, sample-ratio check and metrics are as in Result, for those
// users; a slice that cannot be analysed (one arm without users, say) has
// only Users and Reason.
type Slice struct {
	Value    string         `json:"value"`
	Users    int64          `json:"users"`
	Reason   string         `json:"reason,omitempty"`
	Variants []Variant      `json:"variants,omitempty"`
	SRM      *stats.SRM     `json:"srm,omitempty"`
	Metrics  []MetricResult `json:"metrics,omitempty"`
}

// SliceWarning is the Warning of every DimensionSplit.
const SliceWarning = "Results by dimension are exploratory: slicing after the fact multiplies the comparisons, " +
	"and one slice out of many will look different by chance. The adjusted p-values are corrected across every " +
	"comparison of every slice; treat a slice that stands out as a hypothesis to test in its own experiment, " +
	"unless the dimension was chosen before the experiment began."

// FindDimension returns the configured dimension named name, or an
// EINVALID error naming the parameter "dimension".
func FindDimension(dims []metric.Dimension, name string) (metric.Dimension, error) {
	names := make([]string, len(dims))
	for i, d := range dims {
		if d.Name == name {
			return d, nil
		}
		names[i] = d.Name
	}
	if len(dims) == 0 {
		return metric.Dimension{}, valueloop.FieldErrorf("dimension", "no dimensions are kept on this server, so %q cannot be split by (configure them with serve --dimension, see docs/experiments.md)", name)
	}
	return metric.Dimension{}, valueloop.FieldErrorf("dimension", "%q is not a dimension kept on this server (have %s)", name, strings.Join(names, ", "))
}

// splitByDimension analyses each value's users of in.DimensionAggregates
// with the settings res resolved (its control and correction) and corrects
// the p-values of every slice's comparisons as one family.
func splitByDimension(in Input, res *Result, dim metric.Dimension) (*DimensionSplit, error) {
	byValue := map[string][]metric.Aggregate{}
	for _, a := range in.DimensionAggregates {
		if a.Flag != in.Flag || a.Dimension != dim.Name {
			continue
		}
		v := a.Value
		a.Dimension, a.Value = "", ""
		byValue[v] = append(byValue[v], a)
	}
	out := &DimensionSplit{Dimension: dim.Name, Warning: SliceWarning, Correction: res.Settings.Correction}
	slice := in
	slice.Hypothesis, slice.DimensionAggregates, slice.Dimension = nil, nil, ""
	// The cells by day of exposure are of all users: a slice's open
	// windows are not known (and excludeOpenWindows is refused with a
	// dimension).
	slice.Days, slice.Now = nil, time.Time{}
	slice.Settings.Control = res.Settings.Control
	slice.Only = make([]string, len(res.Metrics))
	for i, m := range res.Metrics {
		slice.Only[i] = m.Metric
	}
	for _, v := range dim.Labels() {
		aggs := byValue[v]
		if len(aggs) == 0 {
			continue
		}
		slice.Aggregates = aggs
		sl := Slice{Value: v}
		r, err := Analyze(slice)
		if err != nil {
			// Settings and metrics were checked on all users: what fails
			// here is the slice's data (an arm without users).
			for _, a := range aggs {
				if a.Metric == "" && a.Variant != "" {
					sl.Users += a.Sums.N
				}
			}
			sl.Reason = valueloop.ErrorMessage(err)
		} else {
			sl.Users, sl.Variants, sl.SRM, sl.Metrics = r.Users, r.Variants, &r.SRM, r.Metrics
			slices.SortStableFunc(sl.Metrics, func(a, b MetricResult) int {
				return metricOrder(res.Metrics, a.Metric) - metricOrder(res.Metrics, b.Metric)
			})
		}
		out.Slices = append(out.Slices, sl)
	}
	n, err := adjustSlices(out.Slices, out.Correction)
	if err != nil {
		return nil, err
	}
	out.Comparisons = n
	return out, nil
}

// metricOrder is the index of a metric in the result of all users, so that
// every slice lists the metrics as it does.
func metricOrder(ms []MetricResult, key string) int {
	return slices.IndexFunc(ms, func(m MetricResult) bool { return m.Metric == key })
}

// adjustSlices corrects the p-values of every comparison (a treatment's
// lift on a metric) of every slice as one family per scale and kind, as
// package stats does within one result: absolute and relative, fixed and
// sequential. It returns the number of comparisons. A Bonferroni interval
// of one slice (AdjustedInterval) is of that slice's family only, so it is
// dropped rather than shown beside p-values of the larger one.
func adjustSlices(ss []Slice, method stats.Correction) (int, error) {
	var lifts []*Lift
	for i := range ss {
		for j := range ss[i].Metrics {
			for k := range ss[i].Metrics[j].Variants {
				if l := ss[i].Metrics[j].Variants[k].Lift; l != nil {
					lifts = append(lifts, l)
				}
			}
		}
	}
	for f := range 4 {
		var raw []float64
		var adj []*float64
		for _, l := range lifts {
			e := &l.Absolute
			if f >= 2 {
				if e = l.Relative; e == nil {
					continue
				}
			}
			e.AdjustedInterval, e.AdjustedSequential = nil, nil
			if f%2 == 0 {
				raw, adj = append(raw, e.PValue), append(adj, &e.AdjustedPValue)
			} else {
				raw, adj = append(raw, e.SequentialPValue), append(adj, &e.AdjustedSequentialPValue)
			}
		}
		ps, err := stats.Adjust(raw, method)
		if err != nil {
			return 0, fmt.Errorf("experiment: correct the slices: %w", err)
		}
		for i, p := range ps {
			*adj[i] = p
		}
	}
	for _, l := range lifts {
		l.AdjustedPValue, l.AdjustedSequentialPValue = l.Absolute.AdjustedPValue, l.Absolute.AdjustedSequentialPValue
	}
	return len(lifts), nil
}
