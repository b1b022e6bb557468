package ui

import (
	"context"
	"fmt"
	"io"
	"math"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/experiment"
	"github.com/valueloop/valueloop/flags"
	"github.com/valueloop/valueloop/ingest"
	"github.com/valueloop/valueloop/metric"
)

// fakeLog is an event log in memory that counts its scans.
type fakeLog struct {
	mu      sync.Mutex
	records []ingest.LogRecord
	gate    chan struct{} // when set, scans wait until it is closed
	scans   atomic.Int64
}

func (l *fakeLog) add(events ...ingest.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.records = append(l.records, ingest.EncodeLog(events))
}

func (l *fakeLog) ScanLog(ctx context.Context, env string, since int64, fn func([]byte) error) error {
	l.scans.Add(1)
	l.mu.Lock()
	recs := append([]ingest.LogRecord(nil), l.records...)
	gate := l.gate
	l.mu.Unlock()
	if gate != nil {
		<-gate
	}
	for _, r := range recs {
		if since != math.MinInt64 && r.MaxTime < since {
			continue
		}
		if err := fn(r.Data); err != nil {
			return err
		}
	}
	return nil
}

// dayOfEvents is an exposure of 40 users per variant and a purchase of a
// quarter of the treatment's, at noon of day d.
func dayOfEvents(d time.Time, day int) []ingest.Event {
	at := d.Add(12 * time.Hour).UnixMilli()
	var out []ingest.Event
	for i := range 80 {
		user := fmt.Sprintf("u%d-%d", day, i)
		variant := []string{"control", "treatment"}[i%2]
		out = append(out, ingest.Event{Type: ingest.Exposure, Time: at, TimeSet: true, TargetingKey: user, Flag: "f", Variant: variant})
		if i%8 == 1 {
			out = append(out, ingest.Event{Type: ingest.Tracking, Time: at + 1000, TimeSet: true, TargetingKey: user, Name: "buy"})
		}
	}
	return out
}

// TestChartsOverTime: the interval over time is the stored result now
// after the past days replayed once; new events of today read no log; a
// new day replays one more cut; concurrent first views share one count.
func TestChartsOverTime(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Date(2026, 3, 5, 9, 0, 0, 0, time.UTC)}
	log := &fakeLog{}
	for d := range 4 { // March 1st to 4th
		log.add(dayOfEvents(time.Date(2026, 3, 1+d, 0, 0, 0, 0, time.UTC), d)...)
	}
	u := &UI{Events: log, Now: c.now, ChartWait: 5 * time.Second, series: newSeriesCache()}
	in := experiment.Input{Environment: "prod", Flag: "f", Settings: experiment.DefaultSettings(),
		Metrics: []metric.Metric{{Key: "bought", Kind: metric.Conversion, Event: "buy", Direction: "higher"}}}
	current := &experiment.Result{Users: 12345}

	var wg sync.WaitGroup
	points := make([][]replayPoint, 8)
	for i := range points {
		wg.Go(func() {
			p, complete, err := u.replay(ctx, in, current)
			if err != nil || !complete {
				t.Errorf("first view of a small environment: complete %v, %v", complete, err)
			}
			points[i] = p
		})
	}
	wg.Wait()
	// Cuts March 2nd to 5th (midnights after the first day), then now.
	want := []time.Time{time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 5, 0, 0, 0, 0, time.UTC), c.t}
	for i, p := range points {
		if len(p) != len(want) {
			t.Fatalf("view %d: %d points, want %d", i, len(p), len(want))
		}
		for j := range want {
			if !p[j].At.Equal(want[j]) {
				t.Errorf("view %d point %d at %s, want %s", i, j, p[j].At, want[j])
			}
		}
		if p[len(p)-1].Result != current {
			t.Errorf("view %d: the last point is not the stored result", i)
		}
	}
	if got := points[0][0].Result.Users; got != 80 {
		t.Errorf("users by March 2nd: %d, want 80 (the first day's)", got)
	}
	if got := points[0][3].Result.Users; got != 320 {
		t.Errorf("users by March 5th: %d, want 320", got)
	}
	// Exposures counted once and 4 cuts recomputed (2 scans each), for the
	// 8 views together.
	if got := log.scans.Load(); got != 1+4*2 {
		t.Errorf("log scans for 8 concurrent first views: %d, want 9 (shared)", got)
	}

	// Today's events: no replay, no scan; the last point is the result
	// given.
	log.add(dayOfEvents(time.Date(2026, 3, 5, 0, 0, 0, 0, time.UTC), 5)...)
	before := log.scans.Load()
	c.t = c.t.Add(time.Hour)
	p, _, _ := u.replay(ctx, in, current)
	if log.scans.Load() != before || len(p) != 5 || !p[4].At.Equal(c.t) {
		t.Errorf("a view after new events of today: %d scans, %d points; want none and 5", log.scans.Load()-before, len(p))
	}

	// The next day: one more cut, in the background. The view that
	// starts it does not wait for it (the scans are held until it has
	// answered: on two cores the computation could otherwise end first).
	c.t = time.Date(2026, 3, 6, 9, 0, 0, 0, time.UTC)
	gate := make(chan struct{})
	log.mu.Lock()
	log.gate = gate
	log.mu.Unlock()
	if p, _, _ := u.replay(ctx, in, current); len(p) != 5 {
		t.Errorf("the view that starts the new day's replay: %d points, want the 5 kept", len(p))
	}
	close(gate)
	waitFor(t, func() bool {
		p, _, _ := u.replay(ctx, in, current)
		return len(p) == 6
	})
	// The day's exposure counts (done once a day per environment, which
	// the flags' pages then use) and one recomputation.
	if got := log.scans.Load() - before; got != 1+2 {
		t.Errorf("scans for a new day: %d, want 3 (the day's exposure count, one recomputation)", got)
	}
	before = log.scans.Load()
	if _, ok, err := u.exposuresByDay(ctx, "prod", "f"); err != nil || !ok || log.scans.Load() != before {
		t.Errorf("the flag's page after the new day's replay: %d scans (%v, %v), want none: the day's counts are kept", log.scans.Load()-before, ok, err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for range 500 {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("condition not met in 5s")
}

func TestReplayCuts(t *testing.T) {
	d := func(m, day int) time.Time { return time.Date(2026, time.Month(m), day, 0, 0, 0, 0, time.UTC) }
	if got := replayCuts(d(3, 5).Add(time.Hour), d(3, 5)); got != nil {
		t.Errorf("cuts of an experiment of today: %v, want none", got)
	}
	if got := replayCuts(d(3, 1).Add(time.Hour), d(3, 3)); len(got) != 2 || !got[0].Equal(d(3, 2)) || !got[1].Equal(d(3, 3)) {
		t.Errorf("cuts from March 1st to 3rd: %v", got)
	}
	// 90 days: at most maxReplays, aligned, and the next day's are mostly
	// the same.
	first := d(1, 1).Add(time.Hour)
	a, b := replayCuts(first, d(4, 1)), replayCuts(first, d(4, 2))
	if len(a) > maxReplays || len(b) > maxReplays || len(a) < maxReplays/2 {
		t.Fatalf("cuts of 90 days: %d and %d, want at most %d", len(a), len(b), maxReplays)
	}
	kept := map[time.Time]bool{}
	for _, c := range a {
		kept[c] = true
	}
	added := 0
	for _, c := range b {
		if !kept[c] {
			added++
		}
	}
	if added > 1 {
		t.Errorf("a new day adds %d cuts, want at most 1", added)
	}
}

// TestExposuresWhileCounted: while a flag's exposures are being counted
// from the event log (the first view after a start), its page says so and
// shows no figure in the variants' Exposures column, rather than 0.
func TestExposuresWhileCounted(t *testing.T) {
	ctx := context.Background()
	log := &fakeLog{gate: make(chan struct{})}
	defer close(log.gate)
	log.add(dayOfEvents(time.Now().UTC().Truncate(24*time.Hour), 0)...)
	d := newTestDashboard(t, func(u *UI) {
		u.Events, u.ChartWait = log, -1
		fl := u.Flags.(*flags.Service)
		if err := fl.EnsureEnvironment(ctx, valueloop.Environment{Key: "production", Name: "Production"}, "test"); err != nil {
			t.Fatal(err)
		}
		f := &valueloop.Flag{Key: "f", State: valueloop.StateEnabled, Variants: map[string]any{"control": false, "treatment": true}, DefaultVariant: new("control")}
		if _, err := fl.PutFlag(ctx, "production", f, -1, "test", ""); err != nil {
			t.Fatal(err)
		}
	})
	c := d.signedIn(t)
	resp, err := c.Get(d.srv.URL + "/flags/production/f")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	page := string(body)
	if !strings.Contains(page, "being counted") {
		t.Fatalf("the page does not say the exposures are being counted:\n%s", page)
	}
	if cells := exposureCells.FindAllString(page, -1); len(cells) != 2 || strings.Contains(strings.Join(cells, ""), ">0<") {
		t.Errorf("the variants' exposures while they are counted: %q, want two cells without a figure", cells)
	}
}

var exposureCells = regexp.MustCompile(`<td class="n"[^>]*>[^<]*</td></tr>`)

// TestReplayKeyHypothesis: the replay's key follows the hypothesis'
// definition, not its version: one deleted and set again at version 1
// with another alpha is another replay, and a new version of the same
// definition is the same one. Keyed by version, the new hypothesis was
// served the deleted one's points.
func TestReplayKeyHypothesis(t *testing.T) {
	h := experiment.NewHypothesis()
	h.PrimaryMetric, h.Version = "signup", 1
	in := experiment.Input{Environment: "prod", Flag: "f", Hypothesis: h, Settings: h.Settings}
	base := replayKey(in)
	again := *h
	again.Settings.Alpha = 0.1
	if replayKey(experiment.Input{Environment: "prod", Flag: "f", Hypothesis: &again, Settings: again.Settings}) == base {
		t.Errorf("a hypothesis set again at version 1 with another alpha has the deleted one's replay key")
	}
	rewritten := *h
	rewritten.Version, rewritten.UpdatedBy = 2, "bob"
	if replayKey(experiment.Input{Environment: "prod", Flag: "f", Hypothesis: &rewritten, Settings: rewritten.Settings}) != base {
		t.Errorf("the same definition at version 2 has another replay key")
	}
}

// TestReplayFlagsPerUser: the chart over time counts a flag's users as
// its results do under the server's --max-flags-per-user. With a bound of
// 1, the users exposed to another flag before this one are not analysed
// in the results; the replay, which reads this flag's exposures only,
// counted them all.
func TestReplayFlagsPerUser(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Date(2026, 3, 3, 9, 0, 0, 0, time.UTC)}
	log := &fakeLog{}
	first := dayOfEvents(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), 0)
	// A quarter of them saw flag g first: with a bound of 1, their
	// exposure to f is not analysed.
	var other []ingest.Event
	n := 0
	for _, e := range first {
		if e.Type != ingest.Exposure {
			continue
		}
		if n++; n%4 == 0 {
			g := e
			g.Flag, g.Time = "g", e.Time-1000
			other = append(other, g)
		}
	}
	log.add(other...)
	log.add(first...)
	for _, tc := range []struct {
		bound, want int
	}{{0, 80}, {1, 60}, {2, 80}} {
		u := &UI{Events: log, Now: c.now, ChartWait: 5 * time.Second, series: newSeriesCache(), MaxFlagsPerUser: tc.bound}
		in := experiment.Input{Environment: "prod", Flag: "f", Settings: experiment.DefaultSettings(),
			Metrics: []metric.Metric{{Key: "bought", Kind: metric.Conversion, Event: "buy", Direction: "higher"}}}
		p, complete, err := u.replay(ctx, in, &experiment.Result{})
		if err != nil || !complete || len(p) < 2 {
			t.Fatalf("bound %d: %d points, complete %v, %v", tc.bound, len(p), complete, err)
		}
		if got := p[0].Result.Users; got != int64(tc.want) {
			t.Errorf("bound %d: %d users by March 2nd, want %d", tc.bound, got, tc.want)
		}
	}
}

// TestReplayFlagsPerUserNewDay: the experiment's page, viewed on a new
// day, decided whether the environment had more flags than the bound from
// the exposure counts of the day before (counted by the flag's page, not
// viewed since): flag g, first seen that day before the flag's exposures
// of its users, was not counted, the log not scanned, and the chart
// counted the users the results leave out (160 by March 4th, want 80).
func TestReplayFlagsPerUserNewDay(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Date(2026, 3, 3, 9, 0, 0, 0, time.UTC)}
	log := &fakeLog{}
	log.add(dayOfEvents(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), 0)...)
	u := &UI{Events: log, Now: c.now, ChartWait: 5 * time.Second, series: newSeriesCache(), MaxFlagsPerUser: 1}
	in := experiment.Input{Environment: "prod", Flag: "f", Settings: experiment.DefaultSettings(),
		Metrics: []metric.Metric{{Key: "bought", Kind: metric.Conversion, Event: "buy", Direction: "higher"}}}
	if _, complete, err := u.replay(ctx, in, &experiment.Result{}); err != nil || !complete {
		t.Fatalf("first view: complete %v, %v", complete, err)
	}
	// March 3rd: the users of the day saw flag g before f.
	second := dayOfEvents(time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC), 2)
	var other []ingest.Event
	for _, e := range second {
		if e.Type == ingest.Exposure {
			g := e
			g.Flag, g.Time = "g", e.Time-1000
			other = append(other, g)
		}
	}
	log.add(other...)
	log.add(second...)
	c.t = time.Date(2026, 3, 4, 9, 0, 0, 0, time.UTC)
	// What the view starts in the background (a view with points kept
	// does not wait for it).
	if err := u.replayDays(ctx, replayKey(in), in); err != nil {
		t.Fatal(err)
	}
	p, complete, err := u.replay(ctx, in, &experiment.Result{})
	if err != nil || !complete || len(p) < 2 {
		t.Fatalf("next day: %d points, complete %v, %v", len(p), complete, err)
	}
	if got := p[len(p)-2]; !got.At.Equal(time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC)) || got.Result.Users != 80 {
		t.Errorf("point at %v: %d users, want March 4th and 80 (those of March 3rd are past the bound)", got.At, got.Result.Users)
	}
}

// TestChartTooltipTimes: a point's tooltip writes its time as the page's
// tables do, the moment with its zone, or the day on a chart of days;
// they said "Dec 4 16:23" beside tables saying "2026-12-04 16:23 UTC".
func TestChartTooltipTimes(t *testing.T) {
	at := time.Date(2026, 12, 4, 16, 23, 0, 0, time.UTC)
	for _, tc := range []struct {
		days bool
		t    time.Time
		want string
	}{
		{false, at, "<title>a 2026-12-04 16:23 UTC: 1</title>"},
		{true, time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC), "<title>a 2026-12-04: 1</title>"},
	} {
		svg := string(lineChart(chartSpec{Title: "T", Days: tc.days, Fmt: num, YFmt: num,
			Series: []series{{Name: "a", Points: []point{{T: tc.t, Y: 1}, {T: tc.t.Add(48 * time.Hour), Y: 2}}}}}))
		if !strings.Contains(svg, tc.want) {
			t.Errorf("days %v: no point's tooltip says %q:\n%.600s", tc.days, tc.want, svg)
		}
	}
}
