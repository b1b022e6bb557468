package demo_test

import (
	"context"
	"testing"
	"time"

	"github.com/valueloop/valueloop/delivery"
	"github.com/valueloop/valueloop/demo"
	"github.com/valueloop/valueloop/dora"
	"github.com/valueloop/valueloop/features"
	"github.com/valueloop/valueloop/ingest"
	"github.com/valueloop/valueloop/value"
)

// exposureSpan passes events on to an Ingester and keeps the time of the
// first and last exposure of flag among them.
type exposureSpan struct {
	demo.Ingester
	flag        string
	first, last time.Time
}

func (x *exposureSpan) Ingest(ctx context.Context, env string, events []ingest.Event) ([]bool, error) {
	for _, e := range events {
		if e.Type != ingest.Exposure || e.Flag != x.flag {
			continue
		}
		at := time.UnixMilli(e.Time).UTC()
		if x.first.IsZero() || at.Before(x.first) {
			x.first = at
		}
		if at.After(x.last) {
			x.last = at
		}
	}
	return x.Ingester.Ingest(ctx, env, events)
}

// valueRecorder is the value loop, its store and the delivery recorder
// LoadValue writes to, keeping only the sightings.
type valueRecorder struct{ seen []features.Sighting }

func (*valueRecorder) Export(context.Context) (*value.File, error) { return &value.File{}, nil }
func (*valueRecorder) Apply(context.Context, *value.File, bool, bool, string) ([]value.Op, error) {
	return nil, nil
}
func (*valueRecorder) Sync(context.Context, ...string) (int, error) { return 0, nil }
func (*valueRecorder) MoveFeature(context.Context, string, value.Stage, string, string, time.Time) (value.Event, error) {
	return value.Event{}, nil
}
func (v *valueRecorder) SeeFlags(_ context.Context, seen []features.Sighting) error {
	v.seen = append(v.seen, seen...)
	return nil
}
func (*valueRecorder) RecordChange(context.Context, delivery.ChangeInput, string) (dora.Change, delivery.Receipt, error) {
	return dora.Change{}, delivery.Receipt{}, nil
}
func (*valueRecorder) RecordDeployment(context.Context, delivery.DeploymentInput, string) (dora.Deployment, delivery.Receipt, error) {
	return dora.Deployment{}, delivery.Receipt{}, nil
}

// TestValueSeesTheExperimentWhenItRan: the value loop's demo dates the
// experiment flag's first and last sighting (the new-onboarding feature's
// "first exposure", its measuring stage and its time to validated
// learning) at the experiment's first and last exposure. It dated them 14
// days ago, while the exposures the demo sends begin 16 to 23 days ago
// (two weeks ending at the week's start before two days ago): the
// release record said measuring since 14 days ago and the flag's page
// showed a week of exposures before that.
func TestValueSeesTheExperimentWhenItRan(t *testing.T) {
	ctx := context.Background()
	monday := time.Date(2026, 12, 7, 23, 41, 0, 0, time.UTC)
	for _, now := range []time.Time{monday, monday.Add(3 * 24 * time.Hour)} {
		db, p := productionStore(t)
		sent := &exposureSpan{Ingester: p, flag: demo.ExperimentFlag}
		if _, err := demo.LoadExperiment(ctx, db, sent, "production", now); err != nil {
			t.Fatal(err)
		}
		if sent.first.IsZero() {
			t.Fatalf("%s: the demo experiment sent no exposure of %s", now.Weekday(), demo.ExperimentFlag)
		}
		rec := &valueRecorder{}
		if _, err := demo.LoadValue(ctx, rec, rec, rec, p, now); err != nil {
			t.Fatal(err)
		}
		found := false
		for _, x := range rec.seen {
			if x.Environment != "production" || x.Flag != demo.ExperimentFlag {
				continue
			}
			found = true
			// Events are stored to the millisecond.
			if !x.FirstSeen.Truncate(time.Millisecond).Equal(sent.first) || !x.LastSeen.Truncate(time.Millisecond).Equal(sent.last) {
				t.Errorf("loaded on a %s: %s seen %s to %s, its exposures sent %s to %s", now.Weekday(), x.Flag,
					x.FirstSeen.Format(time.RFC3339), x.LastSeen.Format(time.RFC3339), sent.first.Format(time.RFC3339), sent.last.Format(time.RFC3339))
			}
		}
		if !found {
			t.Errorf("loaded on a %s: no sighting of %s among %+v", now.Weekday(), demo.ExperimentFlag, rec.seen)
		}
	}
}
