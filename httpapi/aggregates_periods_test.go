package httpapi

import (
	"testing"

	"github.com/valueloop/valueloop/metric"
)

// TestAggregatesOverPeriods: a flag whose split changed keeps its cells
// per period; the aggregates API answers a variant's users and metrics
// over all of them, as it does outsideSplit, so that users +
// outsideSplit is everyone the variant reached. Before, the cells of the
// last period overwrote those of the earlier ones: 5 users, where 12
// were drawn by the split.
func TestAggregatesOverPeriods(t *testing.T) {
	m := metric.Metric{Key: "revenue", Kind: metric.Sum, Event: "buy"}
	if err := m.Normalize(); err != nil {
		t.Fatal(err)
	}
	cell := func(period, n int64, dim, key string, x int64) metric.Aggregate {
		a := metric.Aggregate{Flag: "checkout", Variant: "on", Period: period, Dimension: dim, Metric: key}
		if key == "" {
			a.Sums.N = n
			return a
		}
		for range n {
			a.Sums.Apply(x, 0, 0, 1)
		}
		return a
	}
	aggs := []metric.Aggregate{
		cell(0, 7, "", "", 0), cell(0, 7, "", "revenue", 2_000_000),
		cell(1_000, 5, "", "", 0), cell(1_000, 5, "", "revenue", 4_000_000),
		cell(0, 2, metric.OutsideDimension, "", 0), cell(1_000, 1, metric.OutsideDimension, "", 0),
	}
	got := aggregatesJSON(aggs, map[string]metric.Metric{"revenue": m})
	if len(got.Flags) != 1 || len(got.Flags[0].Variants) != 1 {
		t.Fatalf("%+v", got)
	}
	v := got.Flags[0].Variants[0]
	if v.Users != 12 || v.OutsideSplit != 3 {
		t.Errorf("users %d, outsideSplit %d; want 12 and 3", v.Users, v.OutsideSplit)
	}
	r := v.Metrics["revenue"]
	if r.Summary.N != 12 || r.Total == nil || *r.Total != 34 {
		t.Errorf("revenue: n %d, total %v; want 12 users and 7·2 + 5·4 = 34", r.Summary.N, r.Total)
	}
}
