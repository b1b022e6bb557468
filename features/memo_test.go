package features_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/dora"
	"github.com/valueloop/valueloop/features"
	"github.com/valueloop/valueloop/value"
)

// memoWorld is a service that keeps next's results, with its time, its
// flag f1 and the count of rankings (each reads f1's definition once).
type memoWorld struct {
	svc   *features.Service
	now   time.Time
	flag  *valueloop.Flag // f1 in production; nil: deleted
	flags int             // FlagsVersion
	ranks atomic.Int64
}

func newMemoWorld(t *testing.T) *memoWorld {
	svc, db := mustService(t)
	ctx := context.Background()
	w := &memoWorld{svc: svc, now: time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC), flag: &valueloop.Flag{Key: "f1", State: valueloop.StateEnabled}}
	var mu sync.Mutex // the test changes the world while no view runs; -race wants it said
	svc.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return w.now }
	svc.Definition = func(env, flag string) *valueloop.Flag {
		mu.Lock()
		defer mu.Unlock()
		if flag == "f1" {
			w.ranks.Add(1)
			return w.flag
		}
		return nil
	}
	svc.FlagsVersion = func() string { mu.Lock(); defer mu.Unlock(); return fmt.Sprint(w.flags) }
	// a: validated 20 days ago, its flag still there: to clean up.
	if err := svc.PutFeature(ctx, feature("a", "f1"), "", "t"); err != nil {
		t.Fatal(err)
	}
	x := 0.04
	l := value.Derive([]value.Event{{ID: "c", Kind: value.Created, At: w.now.Add(-30 * 24 * time.Hour)},
		{ID: "v", Kind: value.VerdictRecorded, Stage: value.Validated, Environment: "production", Flag: "f1", At: w.now.Add(-20 * 24 * time.Hour), Effect: &x}}, nil)
	if _, err := db.SaveLifecycle(ctx, "a", &l); err != nil {
		t.Fatal(err)
	}
	return w
}

// view is next as a line: unranked, ranked (*) and the stop list.
func (w *memoWorld) view(t *testing.T) string {
	t.Helper()
	n, err := w.svc.Next(context.Background(), features.NextOptions{})
	if err != nil {
		t.Error(err) // not Fatal: views run on goroutines of their own
		return ""
	}
	var out []string
	for _, u := range n.Unranked {
		out = append(out, u.Feature)
	}
	for _, r := range n.Ranked {
		out = append(out, r.Feature+"*")
	}
	for _, a := range n.Stop {
		out = append(out, a.Feature+": "+a.Reason)
	}
	// A caller may change what it is given (Next.Only deletes in place):
	// the next view must not see it.
	_ = slices.DeleteFunc(n.Stop, func(value.Action) bool { return true })
	_ = slices.DeleteFunc(n.Unranked, func(value.Unranked) bool { return true })
	return strings.Join(out, " | ")
}

// TestNextKept: a second view of next is not ranked again, and whatever
// changes next's answer (a feature written, a verdict, a sync, a flag
// changed, flag facts read again, the time) is seen at the next view.
func TestNextKept(t *testing.T) {
	w := newMemoWorld(t)
	ctx := context.Background()
	w.view(t) // reads the flag facts: the view after ranks them again
	first := w.view(t)
	ranks := w.ranks.Load()
	if again := w.view(t); again != first {
		t.Fatalf("second view %q, first %q", again, first)
	}
	if got := w.ranks.Load(); got != ranks {
		t.Errorf("the second view ranked again (%d rankings, want %d)", got, ranks)
	}
	db := w.svc.Store
	steps := []struct {
		name string
		do   func() error
		want string // in the view after
	}{
		{"a feature written", func() error { return w.svc.PutFeature(ctx, feature("b", ""), "", "t") }, "b | a: validated 20d ago"},
		{"a verdict", func() error {
			x := 0.0
			l := value.Derive([]value.Event{{ID: "c", Kind: value.Created, At: w.now.Add(-time.Hour)},
				{ID: "v", Kind: value.VerdictRecorded, Stage: value.Invalidated, At: w.now, Effect: &x}}, nil)
			_, err := db.SaveLifecycle(ctx, "b", &l)
			return err
		}, "a: validated 20d ago"},
		{"a sync", func() error {
			if err := w.svc.PutFeature(ctx, feature("c", ""), "", "t"); err != nil {
				return err
			}
			if got := w.view(t); !strings.HasPrefix(got, "c | ") {
				return fmt.Errorf("c written: %q", got)
			}
			c := dora.Change{Repo: "acme/shop", SHA: "abc1234", AuthoredAt: w.now.Add(-2 * time.Hour), MergedAt: w.now.Add(-time.Hour)}
			if _, err := db.LinkChanges(ctx, []features.ChangeLink{{Feature: "c", Change: c, By: "trailer"}}); err != nil {
				return err
			}
			_, err := w.svc.Sync(ctx, "c") // c is building: no more an idea
			return err
		}, "a: validated 20d ago"},
		{"flag sightings read again", func() error {
			if err := db.SeeFlags(ctx, []features.Sighting{{Environment: "production", Flag: "f1", FirstSeen: w.now.Add(-25 * 24 * time.Hour), LastSeen: w.now.Add(-24 * time.Hour), Users: 3}}); err != nil {
				return err
			}
			w.svc.Forget()
			return nil
		}, "last exposed a new user 2026-12-06 12:00 UTC (1d ago)"},
		{"the time", func() error { w.now = w.now.Add(2 * 24 * time.Hour); return nil }, "a: validated 22d ago"},
		{"the flag deleted", func() error { w.flag, w.flags = nil, w.flags+1; return nil }, ""},
	}
	for _, st := range steps {
		w.view(t)
		w.view(t) // kept, whatever the view before read
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		got := w.view(t)
		if !strings.Contains(got, st.want) || (st.want == "" && got != "") {
			t.Errorf("after %s: next says %q, want %q in it", st.name, got, st.want)
		}
	}
}

// TestNextKeptOnceAtOnce: views at once after a write rank once.
func TestNextKeptOnceAtOnce(t *testing.T) {
	w := newMemoWorld(t)
	if err := w.svc.PutFeature(context.Background(), feature("b", ""), "", "t"); err != nil {
		t.Fatal(err)
	}
	w.view(t) // the flag facts read: the views below find nothing to read
	if err := w.svc.PutFeature(context.Background(), feature("c", ""), "", "t"); err != nil {
		t.Fatal(err)
	}
	before := w.ranks.Load()
	var wg sync.WaitGroup
	views := make([]string, 8)
	for i := range views {
		wg.Go(func() { views[i] = w.view(t) })
	}
	wg.Wait()
	if got := w.ranks.Load() - before; got != 1 {
		t.Errorf("8 views at once ranked %d times, want 1", got)
	}
	for _, v := range views[1:] {
		if v != views[0] {
			t.Errorf("views differ: %q and %q", v, views[0])
		}
	}
}
