package storetest

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/valueloop/valueloop/experiment"
	"github.com/valueloop/valueloop/ingest"
	"github.com/valueloop/valueloop/metric"
)

// testDimensionAggregates ingests exposures with a country attribute
// through a pipeline with one dimension: the store keeps the cells of all
// users apart from those per country (Aggregates returns only the former),
// each as a recomputation from the stored events gives them, in its order
// (bytewise: "GB" before "US" before "de", whatever a database's collation
// says), and a rebuild changes nothing. Some exposures were served outside
// the split: the log keeps the mark, and their users' cells are those of
// metric.OutsideDimension only. A metric has a window, so the randomised
// users' cells are kept by day of exposure too (metric.ExposureDayDimension).
// UserAggregates reads the cells of all users that count users, and no
// other.
func testDimensionAggregates(t *testing.T, s EventStore) { DimensionAggregates(t, s) }

// DimensionAggregates is the contract case Events/DimensionAggregates, for
// a store the contract does not open (PostgreSQL on a database of another
// collation).
func DimensionAggregates(t *testing.T, s EventStore) {
	ctx := context.Background()
	CreateEnvWithMetrics(t, s, "prod", Metrics(t))
	dims := []metric.Dimension{{Name: "country", Values: []string{"US", "GB", "de"}}}
	p := ingest.NewPipeline(s, nil)
	p.Dimensions = dims
	if err := p.Open(); err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	r := rand.New(rand.NewPCG(5, 6))
	events := GenEvents(r, 0, 2000, 150)
	for i := range events {
		if ev := &events[i]; ev.Type == ingest.Exposure {
			var u int
			fmt.Sscanf(ev.TargetingKey, "user-%d", &u)
			// US, GB, de, one not listed (other) and none, by user.
			ev.Attributes = [][]byte{[]byte(`{"country":"US"}`), []byte(`{"country":"GB"}`), []byte(`{"country":"de"}`), []byte(`{"country":"FR"}`), nil}[u%5]
			ev.OutsideSplit = u%7 == 3
			ev.Time += int64(u%3) * 24 * 60 * 60 * 1000 // first exposures on three days
		}
	}
	sentOutside := 0
	for _, ev := range events {
		sentOutside += b2i(ev.OutsideSplit)
	}
	for len(events) > 0 {
		k := min(len(events), 1+r.IntN(300))
		if _, err := p.Ingest(ctx, "prod", events[:k]); err != nil {
			t.Fatal(err)
		}
		events = events[k:]
	}
	ms, err := s.Metrics(ctx, "prod")
	if err != nil {
		t.Fatal(err)
	}
	all, _, err := ingest.RecomputeDimensions(ms, dims, nil, func(fn func(*ingest.Event) error) error { return s.Events(ctx, "prod", fn) })
	if err != nil {
		t.Fatal(err)
	}
	storedOutside := 0
	if err := s.Events(ctx, "prod", func(ev *ingest.Event) error { storedOutside += b2i(ev.OutsideSplit); return nil }); err != nil {
		t.Fatal(err)
	}
	if storedOutside != sentOutside || sentOutside == 0 {
		t.Errorf("the log holds %d exposures outside the split, want the %d sent", storedOutside, sentOutside)
	}
	var wantAll, wantCountry, wantOutside, wantDays []metric.Aggregate
	for _, a := range all {
		switch a.Dimension {
		case "":
			wantAll = append(wantAll, a)
		case metric.OutsideDimension:
			wantOutside = append(wantOutside, a)
		case metric.ExposureDayDimension:
			wantDays = append(wantDays, a)
		default:
			wantCountry = append(wantCountry, a)
		}
	}
	got, err := s.Aggregates(ctx, "prod", "checkout")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, wantAll) {
		t.Fatalf("Aggregates: the cells of all users differ from the recomputation:\n got %v\nwant %v", got, wantAll)
	}
	got, err = s.DimensionAggregates(ctx, "prod", "checkout", "country")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, wantCountry) {
		t.Fatalf("DimensionAggregates: the cells per country differ from the recomputation:\n got %v\nwant %v", got, wantCountry)
	}
	var values []string
	for _, a := range got {
		if !slices.Contains(values, a.Value) {
			values = append(values, a.Value)
		}
	}
	slices.Sort(values)
	if want := []string{metric.NoneValue, metric.OtherValue, "GB", "US", "de"}; !slices.Equal(values, want) {
		t.Errorf("values %q, want %q", values, want)
	}
	got, err = s.DimensionAggregates(ctx, "prod", "checkout", metric.OutsideDimension)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, wantOutside) || !slices.ContainsFunc(got, func(a metric.Aggregate) bool { return a.Sums.N > 0 }) {
		t.Fatalf("DimensionAggregates: the cells outside the split differ from the recomputation or count nobody:\n got %v\nwant %v", got, wantOutside)
	}
	// A metric has a window: the cells by day of first exposure are kept
	// and served as a dimension's.
	got, err = s.DimensionAggregates(ctx, "prod", "checkout", metric.ExposureDayDimension)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, wantDays) || len(got) == 0 {
		t.Fatalf("DimensionAggregates: the cells by day of exposure differ from the recomputation or are missing:\n got %v\nwant %v", got, wantDays)
	}
	// What an analysis reads of them: the days from one on, those whose
	// windows may still be open (experiment.ReadDays).
	if dr, ok := s.(experiment.DaysFromReader); ok {
		var days []string
		for _, a := range wantDays {
			if !slices.Contains(days, a.Value) {
				days = append(days, a.Value)
			}
		}
		if len(days) < 2 {
			t.Fatalf("setup: first exposures on %d days, want two or more", len(days))
		}
		slices.Sort(days)
		want := slices.DeleteFunc(slices.Clone(all), func(a metric.Aggregate) bool {
			return a.Dimension != "" && (a.Dimension != metric.ExposureDayDimension || a.Value < days[1])
		})
		got, err := dr.DayAggregatesFrom(ctx, "prod", "checkout", days[1])
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("DayAggregatesFrom(%s) = %v, %v; want %v", days[1], got, err, want)
		}
	}
	// What a sample-ratio check reads of them: the users' cells only
	// (experiment.SampleRatio), none of a metric, a dimension or a day.
	if ur, ok := s.(UserAggregatesReader); ok {
		want := slices.DeleteFunc(slices.Clone(wantAll), func(a metric.Aggregate) bool { return a.Metric != "" })
		got, err := ur.UserAggregates(ctx, "prod", "checkout")
		if err != nil || len(want) == 0 || !reflect.DeepEqual(got, want) {
			t.Fatalf("UserAggregates = %v, %v; want %v", got, err, want)
		}
		// Several flags in one read (next's batch), one without cells;
		// none named, none read.
		if got, err := ur.UserAggregates(ctx, "prod", "checkout", "absent"); err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("UserAggregates of checkout and absent = %v, %v; want %v", got, err, want)
		}
		if got, err := ur.UserAggregates(ctx, "prod"); err != nil || len(got) != 0 {
			t.Fatalf("UserAggregates of no flag = %v, %v; want none", got, err)
		}
	}
	flagsAggregates(t, s, wantAll, wantOutside, wantCountry, wantDays)
	if got, err := s.DimensionAggregates(ctx, "prod", "checkout", "platform"); err != nil || len(got) != 0 {
		t.Errorf("a dimension not kept: %d cells, %v; want none", len(got), err)
	}
	res, err := p.Rebuild(ctx, "prod")
	if err != nil || res.Changed {
		t.Errorf("Rebuild = %+v, %v; want unchanged", res, err)
	}
}

// UserAggregatesReader reads a flag's cells of users only, per variant and
// split period: what features.Evidence asks of a store for the sample-ratio
// check of a verdict's experiment.
type UserAggregatesReader interface {
	UserAggregates(ctx context.Context, env string, flags ...string) ([]metric.Aggregate, error)
}

// FlagsAggregatesReader reads the cells of many flags at once: what
// experiment.ReadInputs asks of a store (experiment.BatchReader).
type FlagsAggregatesReader interface {
	FlagsAggregates(ctx context.Context, env string, flags []string, dimension, from string) ([]metric.Aggregate, error)
}

// flagsAggregates: FlagsAggregates of checkout and a flag without cells
// reads what the reads of checkout alone read, of all users, of a
// dimension, and of all users with the days from the last on; of a flag
// without cells, or none, it reads none.
func flagsAggregates(t *testing.T, s EventStore, wantAll, wantOutside, wantCountry, wantDays []metric.Aggregate) {
	fr, ok := s.(FlagsAggregatesReader)
	if !ok {
		return
	}
	ctx := context.Background()
	last := slices.MaxFunc(wantDays, func(a, b metric.Aggregate) int { return strings.Compare(a.Value, b.Value) }).Value
	lastDays := slices.DeleteFunc(slices.Clone(wantDays), func(a metric.Aggregate) bool { return a.Value < last })
	for _, c := range []struct {
		dimension, from string
		want            []metric.Aggregate
	}{
		{"", "", wantAll},
		{metric.OutsideDimension, "", wantOutside},
		{"country", "", wantCountry},
		{metric.ExposureDayDimension, last, append(slices.Clone(wantAll), lastDays...)},
	} {
		slices.SortStableFunc(c.want, func(a, b metric.Aggregate) int {
			return cmp.Or(strings.Compare(a.Variant, b.Variant), strings.Compare(a.Dimension, b.Dimension), strings.Compare(a.Value, b.Value),
				strings.Compare(a.Metric, b.Metric), cmp.Compare(a.Period, b.Period))
		})
		got, err := fr.FlagsAggregates(ctx, "prod", []string{"checkout", "absent"}, c.dimension, c.from)
		if err != nil || len(got) == 0 || !reflect.DeepEqual(got, c.want) {
			t.Fatalf("FlagsAggregates(checkout and absent, %q, %q) = %v, %v; want %v", c.dimension, c.from, got, err, c.want)
		}
		for _, flags := range [][]string{{"absent"}, nil} {
			if got, err := fr.FlagsAggregates(ctx, "prod", flags, c.dimension, c.from); err != nil || len(got) != 0 {
				t.Fatalf("FlagsAggregates(%q, %q, %q) = %v, %v; want none", flags, c.dimension, c.from, got, err)
			}
		}
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
