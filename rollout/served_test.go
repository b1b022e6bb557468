package rollout_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

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
