package ui

import (
	"context"
	"fmt"
	"html"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/experiment"
	"github.com/valueloop/valueloop/features"
	"github.com/valueloop/valueloop/metric"
	"github.com/valueloop/valueloop/sqlite"
	"github.com/valueloop/valueloop/value"
)

// TestValueThroughputChart: the weekly verdicts chart has its figures as its
// title and text alternative, one bar per kind of verdict reached a week,
// and a key of their colours.
func TestValueThroughputChart(t *testing.T) {
	mon := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
	week := func(i, v, inv int) value.Week {
		return value.Week{Start: value.Date{Time: mon.AddDate(0, 0, 7*i)}, Validated: v, Invalidated: inv}
	}
	for _, c := range []struct {
		name     string
		weeks    []value.Week
		bars     int
		wantText []string
	}{
		{"none", nil, 0, []string{"no weeks in the window"}},
		{"quiet weeks", []value.Week{week(0, 0, 0), week(1, 0, 0)}, 0, []string{"week of Nov 2: 0 validated, 0 invalidated", "week of Nov 9: 0 validated"}},
		{"verdicts", []value.Week{week(0, 2, 0), week(1, 0, 0), week(2, 1, 1)}, 3, []string{"week of Nov 2: 2 validated, 0 invalidated", "week of Nov 16: 1 validated, 1 invalidated"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			all := string(throughputChart(c.weeks))
			// Drawn for two widths (barWidths): the widest is checked.
			s := all[strings.LastIndex(all, `<svg `):]
			// Its name is its leading <title> alone: an aria-label beside it
			// made the title its description, read a second time.
			m := regexpBarsTitle.FindStringSubmatch(s)
			if strings.Count(all, `<svg class="bars w`) != len(barWidths) || m == nil || strings.Contains(s, "aria-label") {
				t.Fatalf("chart lacks role=img and a leading <title>, or has an aria-label: %.200s", s)
			}
			text := html.UnescapeString(m[1])
			if got := strings.Count(s, `<rect class="bar good" `) + strings.Count(s, `<rect class="bar badbar" `); got != c.bars {
				t.Errorf("bars: got %d, want %d", got, c.bars)
			}
			// The key on screen (TestThroughputLegendBrowser lays it out).
			if !strings.Contains(s, `<rect class="bar good key"`) || !strings.Contains(s, `>validated</text>`) ||
				!strings.Contains(s, `<rect class="bar badbar key"`) || !strings.Contains(s, `>invalidated</text>`) {
				t.Errorf("chart lacks its key of validated and invalidated: %.300s", s)
			}
			for _, w := range c.wantText {
				if !strings.Contains(text, w) {
					t.Errorf("text %q lacks %q", text, w)
				}
			}
		})
	}
}

// versionReads is the value store counting its reads of the value version.
type versionReads struct {
	*sqlite.DB
	n atomic.Int64
}

func (s *versionReads) ValueVersion(ctx context.Context) (int64, error) {
	s.n.Add(1)
	return s.DB.ValueVersion(ctx)
}

// TestValuePageReadsVersionOnce: the value page shows the backlog and the
// flow of one state of the store, read with one read of its version.
func TestValuePageReadsVersionOnce(t *testing.T) {
	var reads versionReads
	d := newTestDashboard(t, func(u *UI) {
		reads.DB = u.Audit.(*sqlite.DB)
		u.Value = features.New(&reads, reads.DB)
	})
	c := d.signedIn(t)
	before := reads.n.Load()
	if code := d.status(t, c, "/value"); code != http.StatusOK {
		t.Fatalf("GET /value: %d", code)
	}
	if got := reads.n.Load() - before; got != 1 {
		t.Errorf("GET /value read the value version %d times, want 1", got)
	}
}

// featureReads is the feature lister counting its reads of the features.
type featureReads struct {
	*sqlite.DB
	n atomic.Int64
}

func (s *featureReads) Features(ctx context.Context) ([]value.Feature, error) {
	s.n.Add(1)
	return s.DB.Features(ctx)
}

// TestValueObjectiveFromNext: the value page filters by objective with what
// the backlog already says of each feature, reading no features from the
// store; a feature without an estimate (unranked) is kept or dropped by its
// own objective.
func TestValueObjectiveFromNext(t *testing.T) {
	var reads featureReads
	d := newTestDashboard(t, func(u *UI) {
		reads.DB = u.Audit.(*sqlite.DB)
		ctx := context.Background()
		// quiet: an objective nothing bets on yet, still one to filter by.
		svc := newValueLoop(t, reads.DB, reads.DB, "growth", "retention", "quiet")
		for _, f := range []*value.Feature{
			{Key: "ranked-growth", Title: "ranked-growth", Objective: "growth", Hypothesis: value.Hypothesis{Change: "x"},
				Estimate: &value.Estimate{CostOfDelay: &value.CostOfDelay{UserValue: 5}, Size: 2}},
			{Key: "unranked-retention", Title: "unranked-retention", Objective: "retention", Hypothesis: value.Hypothesis{Change: "y"}},
		} {
			if err := svc.PutFeature(ctx, f, "", "t"); err != nil {
				t.Fatal(err)
			}
		}
		u.Value, u.Features = svc, &reads
	})
	c := d.signedIn(t)
	for _, tc := range []struct {
		path          string
		shown, hidden []string
	}{
		{"/value", []string{"ranked-growth", "unranked-retention", `<option value="retention"`, `<option value="growth"`}, nil},
		{"/value?objective=retention", []string{"unranked-retention"}, []string{"ranked-growth"}},
		{"/value?objective=growth", []string{"ranked-growth"}, []string{"unranked-retention"}},
		{"/value?objective=quiet", []string{"Nothing to rank: no feature betting on objective quiet is an idea or ready.", `<option value="quiet" selected`}, []string{"ranked-growth", "unranked-retention"}},
	} {
		before := reads.n.Load()
		resp, err := c.Get(d.srv.URL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body := string(b)
		// The backlog and the stop list; the flow below is not filtered.
		if i := strings.Index(body, `id="flow-h"`); i >= 0 {
			body = body[:i]
		}
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d", tc.path, resp.StatusCode)
		}
		if got := reads.n.Load() - before; got != 0 {
			t.Errorf("GET %s read the features %d times, want 0", tc.path, got)
		}
		for _, s := range tc.shown {
			if !strings.Contains(body, s) {
				t.Errorf("GET %s lacks %q", tc.path, s)
			}
		}
		for _, s := range tc.hidden {
			if strings.Contains(body, s) {
				t.Errorf("GET %s shows %q", tc.path, s)
			}
		}
	}
}

// featureCalls is the value store counting its reads of one feature and of
// one feature's evidence (its moves by hand).
type featureCalls struct {
	*sqlite.DB
	feature, moves atomic.Int64
}

func (s *featureCalls) Feature(ctx context.Context, key string) (*value.Feature, error) {
	s.feature.Add(1)
	return s.DB.Feature(ctx, key)
}

func (s *featureCalls) Moves(ctx context.Context, key string) ([]value.Event, error) {
	s.moves.Add(1)
	return s.DB.Moves(ctx, key)
}

// TestFeaturePageReadsItsOwn: a feature's page reads the one feature it
// shows and its evidence, and its place, dependencies and dependants from
// the snapshot next ranks: no read per dependency or dependant, however
// many there are. Their titles are escaped.
func TestFeaturePageReadsItsOwn(t *testing.T) {
	var calls featureCalls
	d := newTestDashboard(t, func(u *UI) {
		calls.DB = u.Audit.(*sqlite.DB)
		ctx := context.Background()
		svc := newValueLoop(t, &calls, calls.DB, "o")
		est := &value.Estimate{CostOfDelay: &value.CostOfDelay{UserValue: 5}, Size: 2}
		put := func(f *value.Feature) {
			f.Objective = "o"
			if err := svc.PutFeature(ctx, f, "", "t"); err != nil {
				t.Fatal(err)
			}
		}
		put(&value.Feature{Key: "base", Title: "<b>base</b>", Hypothesis: value.Hypothesis{Change: "x"}, Estimate: est})
		put(&value.Feature{Key: "shown", Title: "shown", Hypothesis: value.Hypothesis{Change: "x"}, Estimate: est, DependsOn: []string{"base"}})
		for i := range 12 {
			put(&value.Feature{Key: fmt.Sprintf("later-%02d", i), Title: "later", Hypothesis: value.Hypothesis{Change: "x"}, DependsOn: []string{"shown"}})
		}
		u.Value = svc
	})
	c := d.signedIn(t)
	calls.feature.Store(0)
	calls.moves.Store(0)
	resp, err := c.Get(d.srv.URL + "/value/features/shown")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	body := string(b)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /value/features/shown: %d\n%s", resp.StatusCode, body)
	}
	if f, m := calls.feature.Load(), calls.moves.Load(); f != 1 || m != 1 {
		t.Errorf("the page read %d features and %d features' moves, want 1 and 1 (its own)", f, m)
	}
	for _, want := range []string{`Waits for <a href="/value/features/base">base</a>.`, `<span class="stmt">&lt;b&gt;base&lt;/b&gt;</span>`,
		`href="/value/features/later-00"`, `href="/value/features/later-11"`, "They wait for this feature", "Rank <strong>"} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
}

// newValueLoop returns the value loop on store (db beneath it), with a
// production environment, a metric m and the objectives on m.
func newValueLoop(t *testing.T, store features.Store, db *sqlite.DB, objectives ...string) *features.Service {
	t.Helper()
	ctx := context.Background()
	svc := features.New(store, db)
	prod := valueloop.Environment{Key: "production", Name: "production", Production: true}
	if err := db.CreateEnvironment(ctx, prod, "t"); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateMetric(ctx, "production", &metric.Metric{Key: "m", Kind: metric.Conversion, Event: "e"}, "t"); err != nil {
		t.Fatal(err)
	}
	svc.Environments = func() []valueloop.Environment { return []valueloop.Environment{prod} }
	horizon, _ := value.ParseDate("2027-06-30")
	for _, o := range objectives {
		if err := svc.PutObjective(ctx, &value.Objective{Key: o, Title: o, Metric: "m", Target: value.Target{Direction: experiment.Increase, Value: 0.1}, Horizon: horizon}, "", "t"); err != nil {
			t.Fatal(err)
		}
	}
	return svc
}

// regexpBarsTitle matches the widest drawing of the throughput's bars and
// takes its name, the leading <title>.
var regexpBarsTitle = regexp.MustCompile(`^<svg class="bars w480" [^>]*role="img"><title>([^<]+)</title>`)

// TestFeaturePageFactorsAsExplained: the factors of a feature's score were
// written with two decimals, so a stated confidence of 0.001 read 0.00
// beside the score 0.001 and the line saying "confidence 0.001": they are
// written as that line writes them (value.Figure), as the score is.
func TestFeaturePageFactorsAsExplained(t *testing.T) {
	d := newTestDashboard(t, func(u *UI) {
		db := u.Audit.(*sqlite.DB)
		svc := newValueLoop(t, db, db, "o")
		f := &value.Feature{Key: "unsure", Title: "unsure", Objective: "o", Hypothesis: value.Hypothesis{Change: "x"},
			Estimate: &value.Estimate{CostOfDelay: &value.CostOfDelay{UserValue: 1}, Size: 1, Confidence: new(0.001)}}
		if err := svc.PutFeature(context.Background(), f, "", "t"); err != nil {
			t.Fatal(err)
		}
		u.Value = svc
	})
	resp, err := d.signedIn(t).Get(d.srv.URL + "/value/features/unsure")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	body := string(b)
	// Cost of delay 1, size 1, confidence 0.001, effect 1, score 0.001.
	if want := `<td class="n">1</td><td class="n">1</td><td class="n">0.001</td><td class="n">1</td><td class="n">0.001</td>`; !strings.Contains(body, want) {
		t.Errorf("the factors are not written as explained, want %s in:\n%s", want, body)
	}
}

// TestValueBetsFigures: the dashboard's record of bets writes confidence
// and effect as its ranks do (value.Figure): 0.004, not "0.00".
func TestValueBetsFigures(t *testing.T) {
	u := &UI{}
	if err := u.parseTemplates(); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	d := valueData{Next: &value.Next{Method: value.WSJF, Bets: []value.Bets{{Objective: "o", Invalidated: 9, Confidence: 0.004, Effect: 1.5, Measured: 1}}}, Flow: &value.Flow{}}
	if err := u.pages["value"].ExecuteTemplate(&b, "content", page{Data: d}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`<td class="n">0.004</td>`, `<td class="n">1.5 <span`} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("record of bets lacks %q", want)
		}
	}
}

// TestValueNothingToRankOfObjective: /value?objective=X with nothing to
// rank for X says so of X, as 'valueloop next --objective' does; it said
// "Nothing to rank: add ideas with a value and a size", as if the whole
// backlog were empty.
func TestValueNothingToRankOfObjective(t *testing.T) {
	u := &UI{}
	if err := u.parseTemplates(); err != nil {
		t.Fatal(err)
	}
	unranked := []value.Unranked{{Feature: "u", Objective: "growth", Stage: value.Idea, Reason: "no size"}}
	for _, c := range []struct {
		name      string
		objective string
		method    value.Method
		unranked  []value.Unranked
		want      string
	}{
		{"whole backlog", "", value.WSJF, nil, `<td colspan="5" class="none">Nothing to rank: add ideas with a value and a size (docs/value.md).</td>`},
		{"objective without ideas", "growth", value.WSJF, nil, `<td colspan="5" class="none">Nothing to rank: no feature betting on objective growth is an idea or ready.</td>`},
		{"objective without estimates", "growth", value.RICE, unranked, `<td colspan="5" class="none">Nothing to rank: no idea or ready feature betting on objective growth has the estimates RICE needs (see below).</td>`},
		{"objective named in HTML", "a<b", value.WSJF, nil, `no feature betting on objective a&lt;b is an idea or ready.`},
	} {
		var b strings.Builder
		d := valueData{Next: &value.Next{Method: c.method, Unranked: c.unranked}, Method: c.method, Objective: c.objective, Flow: &value.Flow{}}
		if err := u.pages["value"].ExecuteTemplate(&b, "content", page{Data: d}); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(b.String(), c.want) {
			t.Errorf("%s: the backlog lacks %q", c.name, c.want)
		}
	}
}

// TestValueFlowMismatches: the value page's throughput and shipped line
// say how many verdicts a sample ratio mismatch left out, as next's
// record of bets and the objective's progress do; they were counted as
// validated or invalidated, silently.
func TestValueFlowMismatches(t *testing.T) {
	u := &UI{}
	if err := u.parseTemplates(); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	d := valueData{Next: &value.Next{Method: value.WSJF}, Flow: &value.Flow{Shipped: 3, Validated: 1, Mismatched: 2, ShippedMismatched: 1}}
	if err := u.pages["value"].ExecuteTemplate(&b, "content", page{Data: d}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Left out of the chart and of the validated and invalidated counts (shipped ones count as undecided): 2 verdicts not counted: sample ratio mismatch.",
		"2 undecided (1 of them with a verdict not counted: sample ratio mismatch)"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("the value page lacks %q", want)
		}
	}
}

// TestValueUnrankedCommand: a feature not ranked yet said, on the value
// page and on its own, "not estimated: set estimate.size", the value
// file's name, which the dashboard cannot set and no flag has; both now
// add the command that sets it, as 'valueloop next' does
// (value.Unranked.Command).
func TestValueUnrankedCommand(t *testing.T) {
	u := &UI{}
	if err := u.parseTemplates(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		missing []string
		want    string
	}{
		{[]string{"estimate.size"}, `not estimated (<code class="cmd">valueloop feature set bulk-buy <span class="nw">--size N</span></code>)`},
		{[]string{"estimate.costOfDelay", "estimate.size"}, `(<code class="cmd">valueloop feature set bulk-buy <span class="nw">--user-value N</span> <span class="nw">--time-criticality N</span> <span class="nw">--risk-reduction N</span> <span class="nw">--size N</span></code>)`},
		{[]string{"estimate.reach", "estimate.impact"}, `(<code class="cmd">valueloop feature set bulk-buy <span class="nw">--reach N</span> <span class="nw">--impact N</span></code>)`},
	} {
		un := value.Unranked{Feature: "bulk-buy", Stage: value.Idea, Reason: "not estimated", Missing: c.missing}
		var list, own strings.Builder
		d := valueData{Next: &value.Next{Method: value.WSJF, Unranked: []value.Unranked{un}}, Flow: &value.Flow{}}
		if err := u.pages["value"].ExecuteTemplate(&list, "content", page{Data: d}); err != nil {
			t.Fatal(err)
		}
		f := recordData{R: &value.Record{Feature: "bulk-buy", Stage: value.Idea}, F: value.Feature{Key: "bulk-buy"}, Place: &value.Place{Unranked: &un}, Method: value.WSJF}
		if err := u.pages["feature"].ExecuteTemplate(&own, "content", page{Data: f}); err != nil {
			t.Fatal(err)
		}
		for name, b := range map[string]string{"value page": list.String(), "feature page": own.String()} {
			if !strings.Contains(b, c.want) {
				t.Errorf("%v: the %s lacks %q", c.missing, name, c.want)
			}
		}
	}
}
