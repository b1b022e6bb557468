package sqlite_test

import (
	"fmt"
	"testing"

	"github.com/valueloop/valueloop/experiment"
	"github.com/valueloop/valueloop/ingest"
	"github.com/valueloop/valueloop/metric"
	"github.com/valueloop/valueloop/storetest"
)

// BenchmarkResultsFromStore is what the results route does for a flag of
// 1,000,000 users and 5 metrics on SQLite: read its cells and analyse them,
// of all users (the baseline) and split by one dimension of 50 values, in
// the same run. The cells are made by the real aggregation from 3,000,000
// events (exposures carrying a country, then purchases and page views).
func BenchmarkResultsFromStore(b *testing.B) {
	const users, values = 1_000_000, 50
	ctx := b.Context()
	db := MustOpen(b, nil)
	ms := storetest.Metrics(b)
	storetest.CreateEnvWithMetrics(b, db, "prod", ms)
	dim := metric.Dimension{Name: "country"}
	for i := range values {
		dim.Values = append(dim.Values, fmt.Sprintf("c%02d", i))
	}
	dims := []metric.Dimension{dim}
	aggs, _, err := ingest.RecomputeDimensions(ms, dims, nil, func(fn func(*ingest.Event) error) error {
		var ev ingest.Event
		for i := range 3 * users {
			u := i % users
			ev = ingest.Event{TargetingKey: fmt.Sprintf("user-%d", u), Time: 1_780_000_000_000 + int64(i), TimeSet: true}
			switch {
			case i < users:
				ev.Type, ev.Flag, ev.Variant = ingest.Exposure, "checkout", []string{"control", "treatment"}[u%2]
				ev.Attributes = fmt.Appendf(nil, `{"country":"c%02d"}`, u*7%(values+3)) // 3 of 53 are not listed
			case i < 2*users && u%3 == 0:
				ev.Type, ev.Name, ev.Value, ev.HasValue = ingest.Tracking, "purchase", int64(u%5000)*10_000, true
			default:
				ev.Type, ev.Name, ev.Value, ev.HasValue = ingest.Tracking, "page", int64(u%3000)*1000, true
			}
			if err := fn(&ev); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	if err := db.IngestTx(ctx, func(tx ingest.Tx) error { return tx.ReplaceAggregates("prod", aggs) }); err != nil {
		b.Fatal(err)
	}
	results := func(b *testing.B, dimension string) *experiment.Result {
		in := experiment.Input{Environment: "prod", Flag: "checkout", Metrics: ms, Settings: experiment.DefaultSettings(), Dimension: dimension, Dimensions: dims}
		var err error
		if in.Aggregates, err = db.Aggregates(ctx, "prod", "checkout"); err != nil {
			b.Fatal(err)
		}
		if dimension != "" {
			if in.DimensionAggregates, err = db.DimensionAggregates(ctx, "prod", "checkout", dimension); err != nil {
				b.Fatal(err)
			}
		}
		res, err := experiment.Analyze(in)
		if err != nil {
			b.Fatal(err)
		}
		return res
	}
	if res := results(b, "country"); res.Users != users || len(res.Dimension.Slices) != values+1 {
		b.Fatalf("%d users, %d slices; want %d, %d (the values and (other))", res.Users, len(res.Dimension.Slices), users, values+1)
	}
	for _, c := range []struct{ name, dimension string }{{"all-users", ""}, {fmt.Sprintf("dimension=%d", values), "country"}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				results(b, c.dimension)
			}
		})
	}
}
