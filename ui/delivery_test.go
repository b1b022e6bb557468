package ui

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/valueloop/valueloop/delivery"
	"github.com/valueloop/valueloop/dora"
)

// fakeDelivery is a delivery report of two services, one deploying twice
// a day and one twice a week, and one incident that a deployment of the
// second caused.
type fakeDelivery struct{ now time.Time }

func (f fakeDelivery) Report(_ context.Context, q dora.Query) (*delivery.Report, error) {
	series := func(name string, perDay float64) dora.Series {
		s := dora.Series{Name: name, Team: "shop", Total: dora.Metrics{Start: q.From, End: q.To, DeploymentsPerDay: perDay, Deployments: int(perDay * 42)}}
		for w := q.From; w.Before(q.To); w = w.AddDate(0, 0, 7) {
			s.Buckets = append(s.Buckets, dora.Metrics{Start: w, End: w.AddDate(0, 0, 7), DeploymentsPerDay: perDay})
		}
		return s
	}
	return &delivery.Report{Report: dora.Report{From: q.From, To: q.To, Bucket: q.Bucket,
		Overall:  series("", 2+2.0/7),
		Services: []dora.Series{series("checkout", 2), series("search", 2.0/7)}}}, nil
}

func (fakeDelivery) Zone() *time.Location { return time.UTC }

func (f fakeDelivery) Deployments(_ context.Context, service string, _, _ time.Time) ([]dora.DeploymentFacts, error) {
	if service != "search" {
		return nil, nil
	}
	at := f.now.Add(-5 * time.Hour)
	return []dora.DeploymentFacts{{Deployment: dora.Deployment{ID: "d1", Service: "search", Production: true, Status: "success", Version: "v7", At: at},
		Changes: []dora.Change{{SHA: "abc1234", PR: "12", AuthoredAt: at.Add(-3*time.Hour - 20*time.Minute)}},
		Failed:  true, Incidents: []string{"inc-1"}, RecoveredAt: at.Add(50 * time.Minute)}}, nil
}

func (f fakeDelivery) DeliveryData(context.Context) (dora.Data, int64, error) {
	opened, resolved := f.now.Add(-4*time.Hour-30*time.Minute), f.now.Add(-2*time.Hour)
	return dora.Data{Incidents: []dora.Incident{{ID: "inc-1", Service: "search", OpenedAt: opened, ResolvedAt: &resolved, UpdatedAt: resolved}}}, 1, nil
}

// TestDeliveryPageUnitsAndRecovery: the delivery page's table writes its
// deployment frequencies in one unit (it wrote 2.0/day above 2.0/week in
// one column), and an incident's time from opened to resolved is not
// called a recovery time: DORA's failed-deployment recovery time is the
// failed deployment's, shown beside it (its deployment → recovered).
func TestDeliveryPageUnitsAndRecovery(t *testing.T) {
	page := fakeDeliveryPage(t)
	units := map[string]bool{}
	table := page[strings.Index(page, `id="by-h"`):strings.Index(page, `id="lt-h"`)]
	for _, m := range regexp.MustCompile(`<span class="kv">[0-9.]+/(day|week|month)</span>`).FindAllStringSubmatch(table, -1) {
		units[m[1]] = true
	}
	if len(units) != 1 {
		t.Errorf("the table's deployment frequencies in %d units (%v), want one", len(units), units)
	}
	for _, m := range regexp.MustCompile(`weekly deployment frequency of [^"]*`).FindAllString(page, -1) {
		if strings.Contains(m, "/day") == strings.Contains(m, "/week") {
			t.Errorf("a trend's words mix units or have none: %s", m)
		}
	}
	inc := page[strings.Index(page, `id="inc-h"`):]
	if strings.Contains(inc, ">Recovery time<") {
		t.Errorf("the incidents' table calls opened → resolved a recovery time:\n%.600s", inc)
	}
	for _, want := range []string{"Open for", "2h30m", "Failed deployment recovery time", "50m"} {
		if !strings.Contains(inc, want) {
			t.Errorf("the incidents' table does not show %q:\n%.1500s", want, inc)
		}
	}
}

// TestRangeDaysAsTheCLI: the page counts its range's days as valueloop
// dora's heading does (to the nearest day), since it names the dora
// command that gives its figures; whole days gave 42 where dora said 43.
func TestRangeDaysAsTheCLI(t *testing.T) {
	monday := time.Date(2026, 10, 26, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		to   time.Duration
		want int
	}{
		{42*24*time.Hour + 23*time.Hour + 33*time.Minute, 43},
		{42*24*time.Hour + 11*time.Hour, 42},
		{41*24*time.Hour + 23*time.Hour, 42}, // a range across a 25-hour day
	} {
		if got := rangeDays(monday, monday.Add(c.to)); got != c.want {
			t.Errorf("rangeDays over %v = %d, want %d", c.to, got, c.want)
		}
	}
}

// TestDeliveryChangesLeadTime: each change a deployment shipped shows its
// lead time (committed → deployed), as deploy list's LEAD TIME does, not
// how long ago it was committed: "3d3h ago" beside a deployment of three
// days ago said neither, with no heading to tell.
func TestDeliveryChangesLeadTime(t *testing.T) {
	page := fakeDeliveryPage(t)
	dep := page[strings.Index(page, `id="dep-h"`):strings.Index(page, `id="inc-h"`)]
	for _, want := range []string{`<th scope="col">Changes shipped <span class="hint">lead time: committed → deployed</span></th>`, `#12 <span class="hint" title="committed `, `">3h20m</span>`} {
		if !strings.Contains(dep, want) {
			t.Errorf("the deployments' table lacks %s:\n%s", want, dep)
		}
	}
	if strings.Contains(dep, " ago") {
		t.Errorf("the deployments' table says how long ago changes were committed:\n%s", dep)
	}
}

// fakeDeliveryPage is the delivery page of fakeDelivery's figures.
func fakeDeliveryPage(t *testing.T) string {
	t.Helper()
	fake := fakeDelivery{now: time.Now().UTC()}
	d := newTestDashboard(t, func(u *UI) { u.Delivery, u.Incidents = fake, fake })
	resp, err := d.signedIn(t).Get(d.srv.URL + "/delivery")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /delivery: %d %.300s", resp.StatusCode, body)
	}
	return string(body)
}

// TestSparklineScale: a sparkline writes its scale beside it (the highest
// value at its top, the lowest at its bottom, as its key's figures are
// written) and leaves a gap for a week with no value. Before, it was a
// bare line: 1 → 2 and 1 → 200 looked alike, and a week with no
// incident was drawn as a recovery time of 0.
func TestSparklineScale(t *testing.T) {
	for _, tc := range []struct {
		name           string
		values         []sparkPoint
		top, bottom    string
		moves, dots    int // subpaths of the line, lone weeks among them
		wantLine, none bool
	}{
		{"rising", []sparkPoint{{1, true}, {2, true}, {200, true}}, "200", "1", 1, 0, true, false},
		{"a gap", []sparkPoint{{5, true}, {0, false}, {3, true}, {4, true}}, "5", "3", 2, 1, true, false},
		{"flat", []sparkPoint{{2, true}, {2, true}}, "2", "2", 1, 0, true, false},
		{"nothing", []sparkPoint{{0, false}, {0, false}}, "", "", 0, 0, false, true},
	} {
		html := string(sparkline("weekly x", tc.values, num))
		if got := regexp.MustCompile(`class="smax" aria-hidden="true">([^<]*)<`).FindStringSubmatch(html); tc.top != "" && (got == nil || got[1] != tc.top) {
			t.Errorf("%s: top of the scale %q, want %q: %s", tc.name, got, tc.top, html)
		}
		if got := regexp.MustCompile(`class="smin" aria-hidden="true">([^<]*)<`).FindStringSubmatch(html); tc.bottom != "" && (got == nil || got[1] != tc.bottom) {
			t.Errorf("%s: bottom of the scale %q, want %q: %s", tc.name, got, tc.bottom, html)
		}
		var d []string // the line's pieces, a lone week's dots with them
		for _, m := range regexp.MustCompile(` d="([^"]*)"`).FindAllStringSubmatch(html, -1) {
			d = append(d, m[1])
		}
		if d != nil {
			d = []string{"", strings.Join(d, "")}
		}
		if (d != nil) != tc.wantLine {
			t.Fatalf("%s: line drawn %v, want %v: %s", tc.name, d != nil, tc.wantLine, html)
		}
		if d != nil {
			if got := strings.Count(d[1], "M"); got != tc.moves {
				t.Errorf("%s: the line has %d pieces, want %d (a gap for each week without a value): %s", tc.name, got, tc.moves, d[1])
			}
			if got := regexp.MustCompile(`h0(M|$)`).FindAllString(d[1], -1); len(got) != tc.dots {
				t.Errorf("%s: %d lone weeks drawn as dots, want %d: %s", tc.name, len(got), tc.dots, d[1])
			}
		}
		if lone := strings.Contains(html, `class="line s0 lone"`); lone != (tc.dots > 0) {
			t.Errorf("%s: a lone week drawn thicker: %v, want %v", tc.name, lone, tc.dots > 0)
		}
		if tc.none && !strings.Contains(html, `>none<`) {
			t.Errorf("%s: a sparkline without values does not say so: %s", tc.name, html)
		}
	}
}
