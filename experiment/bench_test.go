package experiment

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/valueloop/valueloop/metric"
)

// BenchmarkResults is a full result for 5 metrics × 3 variants from the
// stored aggregates (exact sums converted to summaries, the statistics with
// CUPED and Holm's correction, the verdict with its remaining-users plan);
// budget 100 µs. Measured figures are in docs/experiments.md.
func BenchmarkResults(b *testing.B) {
	ms := testMetrics()
	aggs := simulate(b, 5, "onboarding", ms, []arm{
		{name: "control", users: 2000, signup: 0.3, tickets: 0.1},
		{name: "treatment", users: 2000, signup: 0.32, spend: 1, tickets: 0.1},
		{name: "staff", users: 2000, signup: 0.31, tickets: 0.1},
	})
	flag := testFlag()
	flag.Targeting = nil // equal weights over the three variants
	h := NewHypothesis()
	h.PrimaryMetric, h.MinimumEffect = "signup", 0.05
	h.Guardrails = []Guardrail{{Metric: "tickets", Tolerance: 0.1}}
	in := Input{Flag: "onboarding", Definition: flag, Metrics: ms, Aggregates: aggs, Hypothesis: h, Settings: h.Settings}
	res, err := Analyze(in)
	if err != nil {
		b.Fatal(err)
	}
	if len(res.Metrics) != 5 || len(res.Variants) != 3 || res.Verdict == nil {
		b.Fatalf("benchmark result has %d metrics, %d variants, verdict %v", len(res.Metrics), len(res.Variants), res.Verdict)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Analyze(in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkResultsByDimension is a result for 5 metrics and 2 variants of
// 1,000,000 users, of all users (the baseline) and split by one dimension
// of 50 values (52 slices with (other) and (none)), in the same run. The
// cells are summed from per-user values as the ingestion keeps them; the
// analysis reads cells only, so its cost follows the slices, not the users.
func BenchmarkResultsByDimension(b *testing.B) {
	const users, values = 1_000_000, 50
	ms := []metric.Metric{
		{Key: "converted", Kind: metric.Conversion, Event: "purchase"},
		{Key: "orders", Kind: metric.Count, Event: "purchase"},
		{Key: "revenue", Kind: metric.Sum, Event: "purchase"},
		{Key: "order-value", Kind: metric.Mean, Event: "purchase"},
		{Key: "revenue-per-session", Kind: metric.Ratio, Event: "purchase", Denominator: &metric.Part{Event: "session"}},
	}
	for i := range ms {
		if err := ms[i].Normalize(); err != nil {
			b.Fatal(err)
		}
	}
	dim := metric.Dimension{Name: "country"}
	for i := range values {
		dim.Values = append(dim.Values, fmt.Sprintf("c%02d", i))
	}
	labels := dim.Labels()
	type key struct{ variant, value, metric string }
	cells := map[key]*metric.Sums{}
	cell := func(k key) *metric.Sums {
		if cells[k] == nil {
			cells[k] = &metric.Sums{}
		}
		return cells[k]
	}
	r := rand.New(rand.NewPCG(50, 5))
	for range users {
		variant := []string{"control", "treatment"}[r.IntN(2)]
		value := labels[r.IntN(len(labels))]
		orders := int64(r.IntN(3))
		spend := int64(r.IntN(100_000_000)) * orders
		sessions := 1 + int64(r.IntN(4))
		vals := map[string][2]int64{
			"converted": {min(orders, 1) * metric.Scale, 0}, "orders": {orders * metric.Scale, 0}, "revenue": {spend, 0},
			"revenue-per-session": {spend, sessions * metric.Scale},
		}
		if orders > 0 {
			vals["order-value"] = [2]int64{spend / orders, 0}
		}
		for _, v := range []string{"", value} {
			cell(key{variant, v, ""}).N++
			for m, x := range vals {
				cell(key{variant, v, m}).Apply(x[0], x[1], 0, 1)
			}
		}
	}
	var all, byDim []metric.Aggregate
	for k, s := range cells {
		a := metric.Aggregate{Flag: "onboarding", Variant: k.variant, Metric: k.metric, Sums: *s}
		if k.value == "" {
			all = append(all, a)
		} else {
			a.Dimension, a.Value = dim.Name, k.value
			byDim = append(byDim, a)
		}
	}
	flag := testFlag()
	flag.Targeting = []byte(`{"fractional":[["control",50],["treatment",50]]}`)
	in := Input{Flag: "onboarding", Definition: flag, Metrics: ms, Aggregates: all, Settings: DefaultSettings()}
	split := in
	split.Dimension, split.Dimensions, split.DimensionAggregates = dim.Name, []metric.Dimension{dim}, byDim
	res, err := Analyze(split)
	if err != nil {
		b.Fatal(err)
	}
	if res.Users != users || len(res.Dimension.Slices) != values+2 || res.Dimension.Comparisons != (values+2)*len(ms) {
		b.Fatalf("%d users, %d slices, %d comparisons", res.Users, len(res.Dimension.Slices), res.Dimension.Comparisons)
	}
	for _, c := range []struct {
		name string
		in   Input
	}{{"all-users", in}, {fmt.Sprintf("dimension=%d", values), split}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Analyze(c.in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
