package ui

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/experiment"
	"github.com/valueloop/valueloop/flags"
	"github.com/valueloop/valueloop/metric"
	"github.com/valueloop/valueloop/sqlite"
)

// experimentReads is the store counting the experiment reads of each flag.
type experimentReads struct {
	*sqlite.DB
	mu    sync.Mutex
	flags map[string]int // reads by flag
	n     int            // reads in all, the environment's metrics too
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
	s.n, s.flags = 0, map[string]int{}
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
	return s.DB.Aggregates(ctx, env, flag)
}

func (s *experimentReads) DimensionAggregates(ctx context.Context, env, flag, dimension string) ([]metric.Aggregate, error) {
	s.count(flag)
	return s.DB.DimensionAggregates(ctx, env, flag, dimension)
}

func (s *experimentReads) SplitHistory(ctx context.Context, env, flag string) ([]experiment.SplitPeriod, error) {
	s.count(flag)
	return s.DB.SplitHistory(ctx, env, flag)
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
		resp, err := c.Get(d.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d", path, resp.StatusCode)
		}
		ran := analyses.FindStringSubmatch(resp.Header.Get("Server-Timing"))
		if ran == nil {
			t.Fatalf("GET %s: no analyses in Server-Timing %q", path, resp.Header.Get("Server-Timing"))
		}
		return string(b), ran[1]
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
	reads.reset()
	// The overview summarises every experiment, on purpose: measured, not
	// bounded (go test ./ui -run TestExperimentListReadsItsPage -v).
	_, ran := get("/")
	got, flags := reads.reset()
	t.Logf("GET / read %d experiments' data (%d reads) and ran %s analyses; one experiment's page reads %d", flags, got, ran, one)
}
