package ui

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/flags"
	"github.com/valueloop/valueloop/rollout"
	"github.com/valueloop/valueloop/sqlite"
)

// pageReads is the store recording the rows each audit and rollout read
// returned, and the deepest row a read reached (its offset and limit).
type pageReads struct {
	*sqlite.DB
	mu          sync.Mutex
	rows, reach int
	// endless: the store answers as an audit trail without end would,
	// counting every count to its bound (a hostile or very old install).
	endless bool
}

func (s *pageReads) read(n, offset, limit int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rows += n
	s.reach = max(s.reach, offset+limit)
}

func (s *pageReads) reset() (rows, reach int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rows, reach, s.rows, s.reach = s.rows, s.reach, 0, 0
	return rows, reach
}

func (s *pageReads) Audit(ctx context.Context, f valueloop.AuditFilter) ([]valueloop.AuditEntry, error) {
	if s.endless {
		var out []valueloop.AuditEntry
		for i := range f.Limit {
			out = append(out, valueloop.AuditEntry{ID: int64(1e9 - f.Offset - i), At: time.Now(), Actor: "bot", Action: "flag.update", Target: f.Target})
		}
		s.read(len(out), f.Offset, f.Limit)
		return out, nil
	}
	out, err := s.DB.Audit(ctx, f)
	s.read(len(out), f.Offset, f.Limit)
	return out, err
}

func (s *pageReads) CountAudit(ctx context.Context, f valueloop.AuditFilter, upTo int) (int, error) {
	if s.endless {
		s.read(0, 0, upTo)
		return upTo, nil
	}
	n, err := s.DB.CountAudit(ctx, f, upTo)
	s.read(0, 0, upTo)
	return n, err
}

func (s *pageReads) Rollouts(ctx context.Context, f rollout.Filter) ([]rollout.Rollout, error) {
	out, err := s.DB.Rollouts(ctx, f)
	if !f.Active {
		s.read(len(out), f.Offset, f.Limit)
	}
	return out, err
}

func (s *pageReads) CountRollouts(ctx context.Context, f rollout.Filter, upTo int) (int, error) {
	n, err := s.DB.CountRollouts(ctx, f, upTo)
	s.read(0, 0, upTo)
	return n, err
}

// TestDashboardPagesItsTrails: a flag's audit trail and the finished
// rollouts page as the other lists do (?page=N, "Showing 21–40 of 45
// changes"), and a page reads its own rows from the store, never more than
// a bound deep. The flag page showed the latest 20 changes and no others,
// the rollouts page the finished among the latest 50 of each environment.
func TestDashboardPagesItsTrails(t *testing.T) {
	reads := &pageReads{}
	d := newTestDashboard(t, func(u *UI) {
		ctx := context.Background()
		reads.DB = u.Audit.(*sqlite.DB)
		u.Audit = reads
		u.Rollouts = &rollout.Engine{Store: reads}
		fl := u.Flags.(*flags.Service)
		for _, env := range []string{"production", "staging"} {
			if err := fl.EnsureEnvironment(ctx, valueloop.Environment{Key: env, Name: env}, "test"); err != nil {
				t.Fatal(err)
			}
		}
		for i := range 45 {
			f := &valueloop.Flag{Key: "theme", State: valueloop.StateEnabled, Variants: map[string]any{"a": 1, "b": 2}, DefaultVariant: new([]string{"a", "b"}[i%2])}
			if _, err := fl.PutFlag(ctx, "production", f, -1, "test", fmt.Sprintf("change %d", i)); err != nil {
				t.Fatal(err)
			}
		}
		now := time.Now().Add(-time.Hour)
		for i := range 60 {
			env := []string{"production", "staging"}[i%2]
			r := rollout.Start(env, rollout.Plan{Flag: fmt.Sprintf("r%02d", i), Variant: "b", Baseline: "a", Steps: []rollout.Step{{Percent: 100}}}, "test", now, 0)
			if err := reads.DB.CreateRollout(ctx, &r, &rollout.Event{At: now, Kind: rollout.KindStart, Actor: "test"}); err != nil {
				t.Fatal(err)
			}
			next, ev, err := r.Apply(rollout.KindRollback, now, 0, "test", "done", nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := reads.DB.UpdateRollout(ctx, &next, &ev); err != nil {
				t.Fatal(err)
			}
		}
	})
	c := d.signedIn(t)
	get := func(path string) string {
		t.Helper()
		page, _ := d.getOK(t, c, path)
		return page
	}
	for _, tc := range []struct {
		path, want  string
		has, hasnot []string
		rows        int
	}{
		{"/flags/production/theme", "Showing 1–20 of 45 changes, page 1 of 3.", []string{"“change 44”", "“change 25”"}, []string{"“change 24”"}, 20},
		{"/flags/production/theme?page=2", "Showing 21–40 of 45 changes, page 2 of 3.", []string{"“change 24”", "“change 5”"}, []string{"“change 25”", "“change 4”"}, 20},
		{"/flags/production/theme?page=3", "Showing 41–45 of 45 changes, page 3 of 3.", []string{"“change 4”", "“change 0”"}, []string{"“change 5”"}, 5},
		{"/rollouts", "Showing 1–50 of 60 finished rollouts, page 1 of 2.", []string{">r59<", ">r10<"}, []string{">r09<"}, 50},
		{"/rollouts?page=2", "Showing 51–60 of 60 finished rollouts, page 2 of 2.", []string{">r09<", ">r00<"}, []string{">r10<"}, 10},
	} {
		reads.reset()
		page := get(tc.path)
		rows, reach := reads.reset()
		if !strings.Contains(page, tc.want) {
			t.Errorf("GET %s does not say %q", tc.path, tc.want)
		}
		for _, s := range tc.has {
			if !strings.Contains(page, s) {
				t.Errorf("GET %s lacks %s", tc.path, s)
			}
		}
		for _, s := range tc.hasnot {
			if strings.Contains(page, s) {
				t.Errorf("GET %s shows %s, off its page", tc.path, s)
			}
		}
		if rows != tc.rows || reach > maxPaged+1 {
			t.Errorf("GET %s read %d rows of the trail, reaching %d deep; want its page's %d, at most %d deep", tc.path, rows, reach, tc.rows, maxPaged+1)
		}
	}
	// A trail without end (an old install's, a hostile one's): a page
	// reads its 20 rows, and the pages end at the bound.
	reads.endless = true
	for _, p := range []string{"", "?page=2", "?page=999999"} {
		reads.reset()
		page := get("/flags/production/theme" + p)
		rows, reach := reads.reset()
		if rows != auditPage || reach > maxPaged+1 {
			t.Errorf("GET %s of an endless trail read %d rows, reaching %d deep; want %d rows, at most %d deep", p, rows, reach, auditPage, maxPaged+1)
		}
		if !strings.Contains(page, " of the latest 1,000 changes") {
			t.Errorf("GET %s of an endless trail does not say it pages the latest 1,000 changes", p)
		}
	}
}
