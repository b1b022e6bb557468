package ui

import (
	"context"
	"fmt"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/demo"
	"github.com/valueloop/valueloop/experiment"
	"github.com/valueloop/valueloop/flags"
	"github.com/valueloop/valueloop/ingest"
	"github.com/valueloop/valueloop/metric"
	"github.com/valueloop/valueloop/sqlite"
)

// experimentReads is the store counting the experiment reads of each flag.
type experimentReads struct {
	*sqlite.DB
	mu    sync.Mutex
	flags map[string]int // reads by flag
	n     int            // reads in all, the environment's metrics too
	cells map[string]int // cells read by flag
}

// got counts the cells read, by their flag.
func (s *experimentReads) got(aggs []metric.Aggregate, err error) ([]metric.Aggregate, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cells == nil {
		s.cells = map[string]int{}
	}
	for _, a := range aggs {
		s.cells[a.Flag]++
	}
	return aggs, err
}

func (s *experimentReads) cellsOf(flag string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cells[flag]
}

func (s *experimentReads) count(flag string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	if flag != "" {
		s.flags[flag]++
	}
}

func (s *experimentReads) reset() (n, flags int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, flags = s.n, len(s.flags)
	s.n, s.flags, s.cells = 0, map[string]int{}, map[string]int{}
	return n, flags
}

func (s *experimentReads) Hypothesis(ctx context.Context, env, flag string) (*experiment.Hypothesis, error) {
	s.count(flag)
	return s.DB.Hypothesis(ctx, env, flag)
}

func (s *experimentReads) Metrics(ctx context.Context, env string) ([]metric.Metric, error) {
	s.count("")
	return s.DB.Metrics(ctx, env)
}

func (s *experimentReads) Aggregates(ctx context.Context, env, flag string) ([]metric.Aggregate, error) {
	s.count(flag)
	return s.got(s.DB.Aggregates(ctx, env, flag))
}

func (s *experimentReads) DimensionAggregates(ctx context.Context, env, flag, dimension string) ([]metric.Aggregate, error) {
	s.count(flag)
	return s.got(s.DB.DimensionAggregates(ctx, env, flag, dimension))
}

func (s *experimentReads) SplitHistory(ctx context.Context, env, flag string) ([]experiment.SplitPeriod, error) {
	s.count(flag)
	return s.DB.SplitHistory(ctx, env, flag)
}

func (s *experimentReads) Hypotheses(ctx context.Context, env string, flags ...string) (map[string]*experiment.Hypothesis, error) {
	s.count("")
	return s.DB.Hypotheses(ctx, env, flags...)
}

func (s *experimentReads) SplitHistories(ctx context.Context, env string) (map[string][]experiment.SplitPeriod, error) {
	s.count("")
	return s.DB.SplitHistories(ctx, env)
}

func (s *experimentReads) DayAggregatesFrom(ctx context.Context, env, flag, from string) ([]metric.Aggregate, error) {
	s.count(flag)
	return s.got(s.DB.DayAggregatesFrom(ctx, env, flag, from))
}

func (s *experimentReads) HypothesisFlags(ctx context.Context) ([]experiment.FlagRef, error) {
	s.count("")
	return s.DB.HypothesisFlags(ctx)
}

// TestExperimentListReadsItsPage: the experiments list reads and analyses
// the experiments of the page it shows, not every one. With 300
// experiments, a page of 50 read each experiment's hypothesis and input
// (about 1,500 reads) and analysed all 300 on every view, to show 50.
func TestExperimentListReadsItsPage(t *testing.T) {
	const n = 300
	reads := &experimentReads{flags: map[string]int{}}
	d := newTestDashboard(t, func(u *UI) {
		ctx := context.Background()
		reads.DB = u.Audit.(*sqlite.DB)
		u.Experiments = reads
		fl := u.Flags.(*flags.Service)
		if err := fl.EnsureEnvironment(ctx, valueloop.Environment{Key: "production", Name: "Production"}, "test"); err != nil {
			t.Fatal(err)
		}
		m := metric.Metric{Key: "signup", Kind: metric.Conversion, Event: "signup"}
		if err := reads.DB.CreateMetric(ctx, "production", &m, "test"); err != nil {
			t.Fatal(err)
		}
		for i := range n {
			key := fmt.Sprintf("f%03d", i)
			f := &valueloop.Flag{Key: key, State: valueloop.StateEnabled, Variants: map[string]any{"control": false, "treatment": true}, DefaultVariant: new("control")}
			if _, err := fl.PutFlag(ctx, "production", f, -1, "test", ""); err != nil {
				t.Fatal(err)
			}
			h := experiment.NewHypothesis()
			h.Statement, h.PrimaryMetric, h.MinimumEffect = "statement of "+key, "signup", 0.05
			if err := h.Normalize([]metric.Metric{m}, []string{"control", "treatment"}); err != nil {
				t.Fatal(err)
			}
			if err := reads.DB.PutHypothesis(ctx, "production", key, h, "test"); err != nil {
				t.Fatal(err)
			}
		}
		// A hypothesis of a flag neither defined nor exposed: not analysed.
		h := experiment.NewHypothesis()
		h.PrimaryMetric, h.MinimumEffect = "signup", 0.05
		if err := reads.DB.PutHypothesis(ctx, "production", "zz-gone", h, "test"); err != nil {
			t.Fatal(err)
		}
	})
	c := d.signedIn(t)
	analyses := regexp.MustCompile(`analyses;desc="(\d+)"`)
	get := func(path string) (string, string) {
		t.Helper()
		page, h := d.getOK(t, c, path)
		ran := analyses.FindStringSubmatch(h.Get("Server-Timing"))
		if ran == nil {
			t.Fatalf("GET %s: no analyses in Server-Timing %q", path, h.Get("Server-Timing"))
		}
		return page, ran[1]
	}
	// One experiment's reads: those of its own page.
	reads.reset()
	get("/experiments/production/f000")
	one, _ := reads.reset()
	for _, tc := range []struct {
		path       string
		first, end int // the flags listed, f<first> to f<end>
	}{
		{"/experiments", 0, 49},
		{"/experiments?page=4", 150, 199},
		{"/experiments?page=6", 250, 299},
		{"/experiments?page=2", 50, 99},
	} {
		page, ran := get(tc.path)
		got, flags := reads.reset()
		// Every page is viewed first here: none of its results is kept
		// (but f000's, analysed for its own page).
		if k, _ := strconv.Atoi(ran); k > experimentsPage {
			t.Errorf("GET %s ran %s analyses, want at most the page's %d", tc.path, ran, experimentsPage)
		}
		if flags > experimentsPage || got > experimentsPage*one+2 {
			t.Errorf("GET %s read %d experiments' data (%d reads), want at most the page's %d (%d reads, %d each, and the list's)",
				tc.path, flags, got, experimentsPage, experimentsPage*one+2, one)
		}
		want := fmt.Sprintf("Showing %d–%d of %d experiments", tc.first+1, tc.end+1, n+1)
		for _, s := range []string{want, fmt.Sprintf(">f%03d<", tc.first), fmt.Sprintf(">f%03d<", tc.end), fmt.Sprintf("statement of f%03d", tc.end)} {
			if !strings.Contains(page, s) {
				t.Errorf("GET %s lacks %q", tc.path, s)
			}
		}
		for _, s := range []int{tc.first - 1, tc.end + 1} {
			if s >= 0 && s < n && strings.Contains(page, fmt.Sprintf(">f%03d<", s)) {
				t.Errorf("GET %s lists f%03d, off its page", tc.path, s)
			}
		}
	}
	// One not analysed is listed in its place, saying why, rather than
	// left out after the page was cut (a page one short).
	if page, _ := get("/experiments?page=7"); !strings.Contains(page, "Showing 301–301 of 301 experiments") ||
		!regexp.MustCompile(`>zz-gone<.*\s*.*Not analysed: flag &#34;zz-gone&#34; not found in production`).MatchString(page) {
		t.Errorf("the last page does not list zz-gone as not analysed:\n%s", page)
	}
}

// TestOverviewReadsPerEnvironment: the overview summarises every
// experiment, and read each on its own, five reads apiece (1,506 for 301);
// it now reads them a few reads per environment (experiment.ReadInputs),
// and each experiment's result is the one its own page computes.
func TestOverviewReadsPerEnvironment(t *testing.T) {
	reads := &experimentReads{flags: map[string]int{}}
	var u *UI
	envs := []string{"production", "staging"}
	d := newTestDashboard(t, func(ui *UI) {
		u = ui
		for _, env := range envs {
			reads.demoExperiment(t, u, env)
			for i := range 60 {
				reads.putExperiment(t, u, env, fmt.Sprintf("f%03d", i))
			}
		}
	})
	c := d.signedIn(t)
	reads.reset()
	d.getOK(t, c, "/")
	// Per environment: hypotheses, metrics, split histories, the cells
	// outside the split, by day with those of all users; and the list of
	// experiments.
	got, _ := reads.reset()
	t.Logf("GET / read the store %d times for %d experiments in %d environments", got, 61*len(envs), len(envs))
	if got > 1+5*len(envs) {
		t.Errorf("GET / read the store %d times, want at most %d for %d experiments in %d environments", got, 1+5*len(envs), 61*len(envs), len(envs))
	}
	// What it shows is what each experiment's own reads give.
	r := withSession(httptest.NewRequest("GET", "/", nil), &session{Token: valueloop.Token{Name: "admin", Scope: valueloop.ScopeAdmin}})
	u.analyses = newAnalysisCache()
	rows, err := u.experimentRows(r)
	if err != nil || len(rows) != 61*len(envs) {
		t.Fatalf("the overview's experiments: %d, %v; want %d", len(rows), err, 61*len(envs))
	}
	u.analyses = newAnalysisCache()
	for _, row := range rows {
		one, _, err := u.analyze(r.Context(), row.Env, row.Flag, "")
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(one, row.Result) {
			t.Errorf("%s/%s on the overview:\n%+v\nread alone:\n%+v", row.Env, row.Flag, row.Result, one)
		}
		if row.Flag == demo.ExperimentFlag && (row.Result.Users == 0 || row.Result.Verdict == nil) {
			t.Errorf("%s/%s: %d users, verdict %v; want the demo's users and a verdict", row.Env, row.Flag, row.Result.Users, row.Result.Verdict)
		}
	}
}

// TestOverviewReadsOnlyItsFlagsCells: the overview read the cells of every
// flag of an environment (experiment.ReadInputs), those of the flags
// without a hypothesis too, whose number nothing bounds: an environment of
// many flags and a few experiments read, and held, the cells of them all
// on each view. It reads those of the flags it analyses.
func TestOverviewReadsOnlyItsFlagsCells(t *testing.T) {
	reads := &experimentReads{flags: map[string]int{}}
	d := newTestDashboard(t, func(u *UI) {
		// The demo's flag has users and cells, and no hypothesis once
		// its own is deleted; f000 has a hypothesis.
		reads.demoExperiment(t, u, "production")
		if err := reads.DB.DeleteHypothesis(context.Background(), "production", demo.ExperimentFlag, "test"); err != nil {
			t.Fatal(err)
		}
		reads.putExperiment(t, u, "production", "f000")
	})
	c := d.signedIn(t)
	all, err := reads.DB.Aggregates(context.Background(), "production", demo.ExperimentFlag)
	if err != nil || len(all) == 0 {
		t.Fatalf("setup: the demo flag has %d cells (%v), want some", len(all), err)
	}
	reads.reset()
	d.getOK(t, c, "/")
	if n := reads.cellsOf(demo.ExperimentFlag); n > 0 {
		t.Errorf("GET / read %d cells of %s, which has no hypothesis; want none", n, demo.ExperimentFlag)
	}
}

func (s *experimentReads) FlagsAggregates(ctx context.Context, env string, flags []string, dimension, from string) ([]metric.Aggregate, error) {
	s.count("")
	return s.got(s.DB.FlagsAggregates(ctx, env, flags, dimension, from))
}

// demoExperiment makes u read through s, creates env and loads the demo's
// experiment into it, with users, a verdict and a window.
func (s *experimentReads) demoExperiment(t *testing.T, u *UI, env string) {
	t.Helper()
	ctx := context.Background()
	s.DB = u.Audit.(*sqlite.DB)
	u.Experiments = s
	p := ingest.NewPipeline(s.DB, nil)
	if err := p.Open(); err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := u.Flags.(*flags.Service).EnsureEnvironment(ctx, valueloop.Environment{Key: env, Name: env}, "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := demo.LoadExperiment(ctx, s.DB, p, env, time.Now()); err != nil {
		t.Fatal(err)
	}
}

// putExperiment creates flag key in env with a hypothesis on its first
// metric, and no users.
func (s *experimentReads) putExperiment(t *testing.T, u *UI, env, key string) {
	t.Helper()
	ctx := context.Background()
	ms, err := s.DB.Metrics(ctx, env)
	if err != nil {
		t.Fatal(err)
	}
	f := &valueloop.Flag{Key: key, State: valueloop.StateEnabled, Variants: map[string]any{"control": false, "treatment": true}, DefaultVariant: new("control")}
	if _, err := u.Flags.(*flags.Service).PutFlag(ctx, env, f, -1, "test", ""); err != nil {
		t.Fatal(err)
	}
	h := experiment.NewHypothesis()
	h.Statement, h.PrimaryMetric, h.MinimumEffect = "statement of "+key, ms[0].Key, 0.05
	if err := h.Normalize(ms, []string{"control", "treatment"}); err != nil {
		t.Fatal(err)
	}
	if err := s.DB.PutHypothesis(ctx, env, key, h, "test"); err != nil {
		t.Fatal(err)
	}
}
