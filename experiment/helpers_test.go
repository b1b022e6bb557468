package experiment

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/ingest"
	"github.com/valueloop/valueloop/metric"
)

// testMetrics are five metrics of every kind but one analysis each.
func testMetrics() []metric.Metric {
	ms := []metric.Metric{
		{Key: "signup", Kind: metric.Conversion, Event: "signup"},
		{Key: "revenue", Kind: metric.Sum, Event: "purchase"},
		{Key: "tickets", Kind: metric.Count, Event: "ticket", Direction: metric.LowerIsBetter},
		{Key: "order-value", Kind: metric.Mean, Event: "purchase"},
		{Key: "revenue-per-session", Kind: metric.Ratio, Event: "purchase", Denominator: &metric.Part{Event: "session"}},
	}
	for i := range ms {
		if err := ms[i].Normalize(); err != nil {
			panic(err)
		}
	}
	return ms
}

// arm describes how the users of one variant behave.
type arm struct {
	name    string
	users   int
	signup  float64 // conversion rate
	spend   float64 // mean value of a purchase
	tickets float64 // chance of a support ticket
}

// simulate sends exposures and tracking events of users split over arms
// through the real aggregation (ingest.Recompute) and returns the flag's
// aggregates. Every user has pre-exposure purchases correlated with their
// later spending, so CUPED has a covariate.
func simulate(tb testing.TB, seed uint64, flag string, metrics []metric.Metric, arms []arm) []metric.Aggregate {
	tb.Helper()
	r := rand.New(rand.NewPCG(seed, 7))
	var events []ingest.Event
	const base = int64(1_767_225_600_000) // 2026-01-01
	id := 0
	add := func(ev ingest.Event) {
		id++
		ev.ID, ev.TimeSet = fmt.Sprint("e", id), true
		events = append(events, ev)
	}
	for _, a := range arms {
		for i := range a.users {
			key := fmt.Sprintf("%s-%d", a.name, i)
			t0 := base + int64(len(events))*1000
			taste := 20 + 10*r.NormFloat64() // the user's spending habit
			add(ingest.Event{Type: ingest.Tracking, Name: "purchase", TargetingKey: key, Time: t0 - 500, Value: money(taste + 3*r.NormFloat64()), HasValue: true})
			add(ingest.Event{Type: ingest.Exposure, Flag: flag, Variant: a.name, TargetingKey: key, Time: t0})
			add(ingest.Event{Type: ingest.Tracking, Name: "session", TargetingKey: key, Time: t0 + 1})
			if r.Float64() < 0.5 {
				add(ingest.Event{Type: ingest.Tracking, Name: "session", TargetingKey: key, Time: t0 + 2})
			}
			if r.Float64() < a.signup {
				add(ingest.Event{Type: ingest.Tracking, Name: "signup", TargetingKey: key, Time: t0 + 3})
				add(ingest.Event{Type: ingest.Tracking, Name: "purchase", TargetingKey: key, Time: t0 + 4, Value: money(a.spend + taste + 3*r.NormFloat64()), HasValue: true})
			}
			if r.Float64() < a.tickets {
				add(ingest.Event{Type: ingest.Tracking, Name: "ticket", TargetingKey: key, Time: t0 + 5})
			}
		}
	}
	return recompute(tb, metrics, events)
}

// recompute aggregates events through the real ingestion
// (ingest.RecomputeDimensions), with the cells of dims too.
func recompute(tb testing.TB, metrics []metric.Metric, events []ingest.Event, dims ...metric.Dimension) []metric.Aggregate {
	tb.Helper()
	aggs, _, err := ingest.RecomputeDimensions(metrics, dims, nil, ingest.ScanEvents(events))
	if err != nil {
		tb.Fatal(err)
	}
	return aggs
}

func money(v float64) int64 {
	if v < 0 {
		v = 0
	}
	return int64(v * ingest.Scale)
}

func strp(s string) *string { return &s }

// testFlag is a 50/50 experiment flag with a third variant outside the split.
func testFlag() *valueloop.Flag {
	return &valueloop.Flag{
		Key: "onboarding", State: valueloop.StateEnabled,
		Variants:       map[string]any{"control": false, "treatment": true, "staff": true},
		DefaultVariant: strp("control"),
		Targeting:      []byte(`{"if":[{"ends_with":[{"var":"email"},"@x.dev"]},"staff",{"fractional":[["control",50],["treatment",50]]}]}`),
	}
}

// inferred is DefaultSettings deciding with inf.
func inferred(inf Inference) Settings {
	s := DefaultSettings()
	s.Inference = inf
	return s
}
