package rollout_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/valueloop/valueloop/experiment"
	"github.com/valueloop/valueloop/metric"
	"github.com/valueloop/valueloop/rollout"
)

// TestStatusShowsWhatTheStepServed: the status says what the step's split
// served the users first exposed since it took effect, against the
// step's percentage: users, counted at their first exposure, those served
// outside the split (as their exposures say) apart, and nothing once the
// split is no longer the step's.
func TestStatusShowsWhatTheStepServed(t *testing.T) {
	w := newWorld(t, 22)
	ctx := context.Background()
	w.start(checkoutPlan(10, 50, 100))
	w.visit(1000, 0, nil)
	st := w.status()
	s := st.Served
	if s == nil || s.SplitUsers != 1000 || s.VariantUsers != st.Users["one-page"] || s.OutsideUsers != 0 || s.Percent == nil || *s.Percent < 7 || *s.Percent > 13 {
		t.Fatalf("at 10%% after 1,000 new users: served %s; want 1,000 in the split, %d of them one-page, about 10%%", served(s), st.Users["one-page"])
	}

	w.clock.Add(time.Hour)
	advanced := w.clock.Now()
	if _, err := w.api.RolloutAction(ctx, env, "checkout", rollout.KindAdvance, "looks good"); err != nil {
		t.Fatal(err)
	}
	known := len(w.users)
	w.visit(1000, 0.3, nil) // users of the first step come back: they count in it
	body := fmt.Sprintf(`{"type":"exposure","flag":"checkout","variant":"classic","targetingKey":"rule-user","reason":"DEFAULT","time":%q}`+"\n", w.clock.Now().Format(time.RFC3339Nano))
	if _, err := w.api.SendEvents(ctx, env, []byte(body), true, false); err != nil {
		t.Fatal(err)
	}
	s = w.status().Served
	fresh := int64(len(w.users) - known)
	if s == nil || s.SplitUsers != fresh || s.OutsideUsers != 1 || s.Since.Before(advanced) || s.Percent == nil || *s.Percent < 40 || *s.Percent > 60 {
		t.Errorf("at 50%% after %d new users and one served the default: served %s; want %d in the split since %s, about 50%%, 1 outside",
			fresh, served(s), fresh, advanced.Format(time.RFC3339))
	}

	f := *w.flags.Live(env).Snapshot.Set().Flags["checkout"]
	f.Targeting = json.RawMessage(`{"fractional":[["classic",7],["one-page",3]]}`)
	if _, err := w.flags.PutFlag(ctx, env, &f, f.Version, "someone", "30% by hand"); err != nil {
		t.Fatal(err)
	}
	if s := w.status().Served; s != nil {
		t.Errorf("after the split was changed by hand: served %s; want none (the figures would be another split's)", served(s))
	}
}

func served(s *rollout.StepServed) string {
	if s == nil {
		return "none"
	}
	pct := "no share"
	if s.Percent != nil {
		pct = fmt.Sprintf("%.1f%%", *s.Percent)
	}
	return fmt.Sprintf("%d of %d in the split (%s) since %s, %d outside", s.VariantUsers, s.SplitUsers, pct, s.Since.Format(time.RFC3339), s.OutsideUsers)
}

// readsOf counts the reads of a rollout.Data by method.
type readsOf struct {
	fixedData
	periods []experiment.SplitPeriod
	n       map[string]int
}

func (d *readsOf) Aggregates(ctx context.Context, env, flag string) ([]metric.Aggregate, error) {
	d.n["Aggregates"]++
	return d.fixedData.Aggregates(ctx, env, flag)
}

func (d *readsOf) DimensionAggregates(ctx context.Context, env, flag, dimension string) ([]metric.Aggregate, error) {
	d.n["DimensionAggregates "+dimension]++
	return d.fixedData.DimensionAggregates(ctx, env, flag, dimension)
}

func (d *readsOf) SplitHistory(context.Context, string, string) ([]experiment.SplitPeriod, error) {
	d.n["SplitHistory"]++
	return d.periods, nil
}

// TestStatusReadsTheCellsOnce: the status read the flag's cells of the
// users served outside the split twice, for the users reached and again
// for what the step served; it reads each of the flag's cells once.
func TestStatusReadsTheCellsOnce(t *testing.T) {
	ctx := context.Background()
	fl := newMemFlags(t, checkoutFlag())
	data := &readsOf{fixedData: fixedData{metrics: []metric.Metric{errorMetric()}}, n: map[string]int{}}
	eng := rollout.NewEngine(&memRollouts{flags: fl}, fl, data, nil)
	r, err := eng.Start(ctx, env, goodPlan(), "test", "")
	if err != nil {
		t.Fatal(err)
	}
	data.periods = []experiment.SplitPeriod{{Weights: map[string]float64{"classic": 100 - r.Percent, "one-page": r.Percent}}}
	clear(data.n)
	st, err := eng.Status(ctx, env, "checkout")
	if err != nil || st.Served == nil {
		t.Fatalf("status: served %v, %v; want what the step served", st, err)
	}
	for read, n := range data.n {
		if n != 1 {
			t.Errorf("one status read %s %d times, want once (reads: %v)", read, n, data.n)
		}
	}
}
