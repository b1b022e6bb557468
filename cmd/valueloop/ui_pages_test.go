package main

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/client"
	"github.com/valueloop/valueloop/demo"
	"github.com/valueloop/valueloop/dora"
	"github.com/valueloop/valueloop/experiment"
	"github.com/valueloop/valueloop/stats"
	"github.com/valueloop/valueloop/termchart"
	"github.com/valueloop/valueloop/valuelooptest"
)

var estimateX = regexp.MustCompile(`<rect class="est [^"]*" x="([-0-9.]+)"`)

// TestDashboardOneSidedIntervals: with a one-sided test (the hypothesis'
// alternative "greater") every interval has an unbounded side, which the
// results hold as a flag and a bound of 0. The experiment page says it as
// the CLI does (+∞), never "+7.7% to 0%", and its forest plots keep every
// estimate on the chart.
func TestDashboardOneSidedIntervals(t *testing.T) {
	srv := MustServe(t, "", "--demo")
	setDemoSettings(t, srv, map[string]any{"alternative": "greater"})
	res, err := client.New(srv.URL, srv.Admin).Results(context.Background(), "production", demo.ExperimentFlag, nil)
	if err != nil {
		t.Fatal(err)
	}
	unbounded := 0
	for _, m := range res.Metrics {
		for _, v := range m.Variants {
			if v.Lift != nil && v.Lift.Relative != nil && v.Lift.Relative.Sequential.UpperUnbounded {
				unbounded++
			}
		}
	}
	if unbounded == 0 {
		t.Fatal("the one-sided results have no unbounded interval: the test tests nothing")
	}

	admin := mustSignIn(t, srv.URL, srv.Admin)
	waitForCharts(t, admin, "/experiments/production/"+demo.ExperimentFlag)
	_, page := admin.get("/experiments/production/" + demo.ExperimentFlag)
	text := html.UnescapeString(page)
	overTime := text[strings.Index(text, "The interval over time"):]
	if strings.Contains(overTime[:strings.Index(overTime, "</section>")], "no data yet") || !strings.Contains(overTime, " to +∞</td></tr>") {
		t.Errorf("the interval over time of a one-sided test shows no data, or no interval ending at +∞:\n%s", valuelooptest.GrepLines(overTime, "<td>"))
	}
	if got := strings.Count(text[:strings.Index(text, "The interval over time")], " to +∞</td>"); got != unbounded {
		t.Errorf("the page shows %d intervals ending at +∞, want %d (every relative lift's, as the CLI shows them):\n%s", got, unbounded, valuelooptest.GrepLines(text, " to "))
	}
	if strings.Contains(text, "% to 0%</td>") {
		t.Errorf("the page shows an unbounded side as 0%%:\n%s", valuelooptest.GrepLines(text, "% to 0%"))
	}
	for _, m := range estimateX.FindAllStringSubmatch(page, -1) {
		if x, _ := strconv.ParseFloat(m[1], 64); x < 0 || x > 960 {
			t.Errorf("a forest plot draws its estimate at x=%s, off its 960 units", m[1])
		}
	}
}

// setDemoSettings sets settings of the demo experiment's hypothesis, the
// rest of it as it is.
func setDemoSettings(t *testing.T, srv *testServer, settings map[string]any) {
	t.Helper()
	hypURL := srv.URL + "/api/v1/environments/production/flags/" + demo.ExperimentFlag + "/hypothesis"
	resp, body := get(t, hypURL, srv.Admin)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("hypothesis: %d %s", resp.StatusCode, body)
	}
	var h map[string]any
	if err := json.Unmarshal([]byte(body), &h); err != nil {
		t.Fatal(err)
	}
	for k, v := range settings {
		h["settings"].(map[string]any)[k] = v
	}
	delete(h, "version")
	delete(h, "updatedAt")
	delete(h, "updatedBy")
	b, _ := json.Marshal(h)
	if resp, body := put(t, hypURL, srv.Admin, string(b)); resp.StatusCode != http.StatusOK {
		t.Fatalf("set %v: %d %s", settings, resp.StatusCode, body)
	}
}

// TestDashboardFreshServer opens every page of a server with no data:
// each says it has nothing yet, as the CLI does, rather than judging
// figures it does not have (the overview rated an empty delivery record's
// deployment frequency "low", where 'valueloop dora' says there are no
// deployments).
func TestDashboardFreshServer(t *testing.T) {
	srv := MustServe(t, "")
	admin := mustSignIn(t, srv.URL, srv.Admin)
	for _, p := range []struct{ path, want string }{
		{"/", "No delivery records yet."},
		{"/flags/production", "No flags in Production yet"},
		{"/rollouts", "No rollout"},
		{"/experiments", "No flag has a hypothesis yet"},
		{"/delivery", "No delivery records"},
		{"/value", "Nothing to rank"},
	} {
		t.Run(p.path, func(t *testing.T) { checkPage(t, admin, p.path, p.want) })
	}
	if _, page := admin.get("/"); strings.Contains(page, `class="level l-`) {
		t.Errorf("the overview of a server with no delivery records gives a DORA level:\n%s", valuelooptest.GrepLines(page, `class="level l-`))
	}
}

// TestDashboardValuesAsTyped: a flag's values show on its page, in its
// audit and in its edit form as they were typed, a URL's & as & (the
// page escapes it for HTML), not as JSON's \u0026.
func TestDashboardValuesAsTyped(t *testing.T) {
	srv := MustServe(t, "")
	flag := `{"state":"ENABLED","defaultVariant":"a","variants":{"a":{"url":"https://shop.example/?utm=x&ref=<home>"},"b":{"url":"https://shop.example/"}},` +
		`"targeting":{"if":[{"in":[{"var":"plan"},["gold&silver"]]},"b",null]}}`
	if resp, body := put(t, srv.URL+"/api/v1/environments/production/flags/landing", srv.Admin, flag); resp.StatusCode/100 != 2 {
		t.Fatalf("create the flag: %d %s", resp.StatusCode, body)
	}
	admin := mustSignIn(t, srv.URL, srv.Admin)
	for _, path := range []string{"/flags/production/landing", "/flags/production/landing/edit"} {
		_, page := admin.get(path)
		if strings.Contains(page, `\u00`) {
			t.Errorf("%s shows JSON escaped for HTML:\n%s", path, valuelooptest.GrepLines(page, `\u00`))
		}
		if !strings.Contains(page, "?utm=x&amp;ref=&lt;home&gt;") || !strings.Contains(page, "gold&amp;silver") {
			t.Errorf("%s does not show the values as typed", path)
		}
	}
}

// TestDashboardFlashFromServer: the message a change leaves ("Disabled
// landing in production.") shows once, on the page the change sends the
// browser to. A link cannot put words there: /signin?done=... showed any
// text as the dashboard's own message, on the sign-in page too.
func TestDashboardFlashFromServer(t *testing.T) {
	srv := MustServe(t, "")
	anon := newBrowser(t, srv.URL)
	lure := "Your token has expired. Paste it at evil.example to renew it."
	if _, page := anon.get("/signin?done=" + url.QueryEscape(lure)); strings.Contains(page, "evil.example") {
		t.Errorf("the sign-in page shows a message from its link:\n%s", valuelooptest.GrepLines(page, "evil.example"))
	}
	if resp, body := put(t, srv.URL+"/api/v1/environments/production/flags/landing", srv.Admin, `{"state":"ENABLED","defaultVariant":"on","variants":{"on":true,"off":false}}`); resp.StatusCode/100 != 2 {
		t.Fatalf("create the flag: %d %s", resp.StatusCode, body)
	}
	admin := mustSignIn(t, srv.URL, srv.Admin)
	if _, page := admin.get("/flags/production/landing?done=" + url.QueryEscape(lure)); strings.Contains(page, "evil.example") {
		t.Errorf("the flag page shows a message from its link:\n%s", valuelooptest.GrepLines(page, "evil.example"))
	}
	resp, _ := admin.post("/flags/production/landing/state", url.Values{"csrf": {admin.csrf("/flags/production/landing")}, "to": {"DISABLED"}, "reason": {"test"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("disable: %d, want 303", resp.StatusCode)
	}
	next := resp.Header.Get("Location")
	if _, page := admin.get(next); !strings.Contains(page, `class="flash"`) || !strings.Contains(page, "Disabled landing in production.") {
		t.Errorf("the page after disabling (%s) does not say what was done", next)
	}
	if _, page := admin.get(next); strings.Contains(page, `class="flash"`) {
		t.Errorf("the message shows again on the next view of %s", next)
	}
	resp, _ = admin.post("/signout", url.Values{"csrf": {admin.csrf("/")}})
	if _, page := admin.get(resp.Header.Get("Location")); !strings.Contains(page, "Signed out.") {
		t.Errorf("the sign-in page after signing out does not say so")
	}
}

var rankRow = regexp.MustCompile(`<span class="explain">([0-9.]+) = [^<]*</span></td>\s*<td>[^<]*</td><td>[^<]*</td><td class="n">([^<]*)</td>`)

var (
	cliFrequency = regexp.MustCompile(`(?m)^(\S+) · team \S+\n  deployment frequency +(\S+)`)
	cliOverall   = regexp.MustCompile(`(?m)^overall .*\n  deployment frequency +(\S+)`)
	pageFrom     = regexp.MustCompile(`valueloop dora --from (\S+)</code>`)
)

// perDay reads a rate as termchart writes it ("6.8/week") as events per
// day, with the unit's days.
func perDay(s string) (v, days float64, ok bool) {
	n, unit, found := strings.Cut(s, "/")
	days = map[string]float64{"day": 1, "week": 7, "month": 30}[unit]
	x, err := strconv.ParseFloat(n, 64)
	if !found || days == 0 || err != nil {
		return 0, 0, false
	}
	return x / days, days, true
}

// TestDashboardFiguresAsCLI: the figures the dashboard and the CLI both
// give read the same. A rank's score reads as its arithmetic on the same
// line and as 'valueloop next' give it (1.97, not 1.969); a deployment
// frequency as 'valueloop dora' gives it for the same range (6.8/week,
// 4.3/month, not 0.9762/day and 0.1429/day); the demo's lead time in its
// stages, coding, pickup and review included.
func TestDashboardFiguresAsCLI(t *testing.T) {
	srv := MustServe(t, "", "--demo")
	admin := mustSignIn(t, srv.URL, srv.Admin)
	_, delivery := admin.get("/delivery")
	from := pageFrom.FindStringSubmatch(delivery)
	if from == nil {
		t.Fatal("/delivery does not say its valueloop dora command")
	}
	code, out, errOut := srv.cli(t, srv.Admin, "dora", "--from", from[1])
	if code != 0 {
		t.Fatalf("valueloop dora --from %s: %d %s", from[1], code, errOut)
	}
	services := cliFrequency.FindAllStringSubmatch(out, -1)
	overall := cliOverall.FindStringSubmatch(out)
	if len(services) == 0 || overall == nil {
		t.Fatalf("no deployment frequency in valueloop dora's output:\n%s", out)
	}
	// The page writes every frequency in one unit (the smallest's), the
	// CLI each in its own: the same figure, within the rounding of both.
	same := func(page, cli string) bool {
		pv, pd, ok1 := perDay(page)
		cv, cd, ok2 := perDay(cli)
		return ok1 && ok2 && math.Abs(pv-cv) <= 0.05/pd+0.05/cd
	}
	kv := regexp.MustCompile(`<span class="kv">([^<]*)</span>`)
	for _, s := range services {
		row := section(t, delivery, `<th scope="row">`+s[1], "</tr>")
		if m := kv.FindStringSubmatch(row); m == nil || !same(m[1], s[2]) {
			t.Errorf("%s deploys %s by valueloop dora; its row on /delivery:\n%s", s[1], s[2], row)
		}
	}
	if m := regexp.MustCompile(`<div class="kval">([^<]*/(?:day|week|month))</div>`).FindStringSubmatch(delivery); m == nil || !same(m[1], overall[1]) {
		t.Errorf("all services deploy %s by valueloop dora; /delivery:\n%s", overall[1], valuelooptest.GrepLines(delivery, "kval"))
	}

	// The demo's pull requests give the lead time's coding, pickup and
	// review, on the page as in the CLI (they were "–" for want of them).
	if strings.Contains(delivery, "no change with a known") {
		t.Errorf("/delivery lacks a stage of the lead time:\n%s", valuelooptest.GrepLines(delivery, "no change with a known"))
	}

	_, page := admin.get("/value")
	rows := rankRow.FindAllStringSubmatch(page, -1)
	if len(rows) == 0 {
		t.Fatalf("no ranked row on /value:\n%s", valuelooptest.GrepLines(page, "explain"))
	}
	for _, r := range rows {
		if r[1] != r[2] {
			t.Errorf("a rank explained as %s = … shows the score %s", r[1], r[2])
		}
	}
	_, overview := admin.get("/")
	if strings.Contains(overview, "score 1.969") || !strings.Contains(overview, "score 1.97,") {
		t.Errorf("the overview's scores are not the ranking's:\n%s", valuelooptest.GrepLines(overview, "score "))
	}
}

// TestDashboardEnvironmentToken: a token bound to one environment sees
// that environment's flags from the navigation, and no tab of another
// (the Flags link sent a development viewer to production's page: 403).
func TestDashboardEnvironmentToken(t *testing.T) {
	srv := MustServe(t, "")
	dev := mustSignIn(t, srv.URL, createToken(t, srv, "viewer", "development"))
	resp, _ := dev.get("/flags")
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || loc != "/flags/development" {
		t.Errorf("/flags for a development token: %d to %q, want 303 to /flags/development", resp.StatusCode, loc)
	}
	resp, page := dev.get("/flags/development")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/flags/development for a development token: %d", resp.StatusCode)
	}
	if strings.Contains(page, `href="/flags/production"`) {
		t.Errorf("a development token's flags page links to production's, which it may not read:\n%s", valuelooptest.GrepLines(page, `href="/flags/production"`))
	}
	if resp, _ := dev.get("/flags/production"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("/flags/production for a development token: %d, want 403", resp.StatusCode)
	}
}

// TestDashboardAuditNamesWhatChanged: a flag's audit trail holds its
// rollout's and hypothesis' changes too; a change of a whole record says
// which record, not "(whole flag)" for a rollout.
func TestDashboardAuditNamesWhatChanged(t *testing.T) {
	srv := MustServe(t, "", "--demo")
	admin := mustSignIn(t, srv.URL, srv.Admin)
	_, page := admin.get("/flags/production/checkout-flow")
	entry := section(t, page, "<strong>rollout.start</strong>", "</li>")
	if !strings.Contains(entry, ">(whole rollout)</code>") {
		t.Errorf("the rollout's start is not shown as a whole rollout added:\n%s", entry)
	}
}

// TestSampleRatioDoesNotApply: where no split says what share each variant
// should have, the CLI, the API and the dashboard all say the sample-ratio
// check does not apply, rather than "ok" or a false mismatch against equal
// weights: the demo's kill switch (no split, no exposures) and its disabled
// banner, whose 4,000 users all saw one variant.
func TestSampleRatioDoesNotApply(t *testing.T) {
	srv := MustServe(t, "", "--demo")
	admin := mustSignIn(t, srv.URL, srv.Admin)
	for _, tc := range []struct{ flag, reason string }{
		{"kill-switch-payments", "the flag has no fractional split"},
		{"banner", "the flag is disabled"},
	} {
		t.Run(tc.flag, func(t *testing.T) {
			if resp, body := put(t, srv.URL+"/api/v1/environments/production/flags/"+tc.flag+"/hypothesis", srv.Admin,
				`{"statement":"no change","primaryMetric":"onboarding-completed","minimumEffect":0.05}`); resp.StatusCode/100 != 2 {
				t.Fatalf("hypothesis on %s: %d %s", tc.flag, resp.StatusCode, body)
			}
			code, out, _ := srv.cli(t, srv.Admin, "experiment", "results", tc.flag, "--env", "production")
			if code != 0 || !strings.Contains(out, "SRM: does not apply ("+tc.reason) || strings.Contains(out, "MISMATCH") {
				t.Fatalf("valueloop experiment results %s: %d, want its SRM not to apply (%s):\n%s", tc.flag, code, tc.reason, out)
			}
			res := getResultsSRM(t, srv, tc.flag)
			if res.SRM.Status != "not_applicable" || res.SRM.Mismatch || !strings.HasPrefix(res.SRM.Reason, tc.reason) {
				t.Errorf("API srm of %s = %+v, want not_applicable: %s", tc.flag, res.SRM, tc.reason)
			}
			_, page := admin.get("/experiments")
			row := section(t, page, `<a href="/experiments/production/`+tc.flag+`">`, "</tr>")
			if !strings.Contains(row, ">does not apply</span></td>") {
				t.Errorf("%s's sample ratio on /experiments is not 'does not apply':\n%s", tc.flag, row)
			}
			// Split by a dimension, each slice's check says the same.
			_, split := admin.get("/experiments/production/" + tc.flag + "?dimension=platform")
			if rows := strings.Count(split, `<tr class="slice">`); rows > 0 && strings.Count(split, `">does not apply</span></td>`) != rows {
				t.Errorf("%s's slices do not all say their sample ratio check does not apply:\n%s", tc.flag, section(t, split, `<table class="slices">`, "</table>"))
			}
		})
	}
}

// TestDashboardAbsoluteMinimumEffect: a hypothesis' minimum effect in the
// metric's units (absolute: 0.02 of a conversion rate, two points) is not
// marked on a chart of relative lifts, where it read as +2%.
func TestDashboardAbsoluteMinimumEffect(t *testing.T) {
	srv := MustServe(t, "", "--demo")
	if resp, body := put(t, srv.URL+"/api/v1/environments/production/flags/"+demo.ExperimentFlag+"/hypothesis", srv.Admin,
		`{"statement":"more finish onboarding","primaryMetric":"onboarding-completed","minimumEffect":0.02,"absolute":true}`); resp.StatusCode/100 != 2 {
		t.Fatalf("an absolute hypothesis: %d %s", resp.StatusCode, body)
	}
	admin := mustSignIn(t, srv.URL, srv.Admin)
	waitForCharts(t, admin, "/experiments/production/"+demo.ExperimentFlag)
	_, page := admin.get("/experiments/production/" + demo.ExperimentFlag)
	if !strings.Contains(page, "relative lift of each variant") {
		t.Fatal("the primary metric's forest plot is no longer of relative lifts: the test tests nothing")
	}
	if strings.Contains(page, ">minimum effect</text>") {
		t.Errorf("a chart of relative lifts marks the absolute minimum effect 0.02 as +2%%:\n%s", valuelooptest.GrepLines(page, ">minimum effect</text>")[:300])
	}
}

var (
	inputField    = regexp.MustCompile(`<input [^>]*name="(\w+)"[^>]*value="([^"]*)"`)
	textareaField = regexp.MustCompile(`<textarea [^>]*name="(\w+)"[^>]*>([^<]*)</textarea>`)
	selectedState = regexp.MustCompile(`<option value="([A-Z]+)" selected>`)
)

// TestDashboardEditKeepsMetadata: saving a flag's edit form unchanged
// changes nothing the form does not show: the flag's metadata (which the
// form has no field for) was dropped, a flag rewritten without it.
func TestDashboardEditKeepsMetadata(t *testing.T) {
	srv := MustServe(t, "", "--demo")
	flagURL := srv.URL + "/api/v1/environments/production/flags/checkout-flow"
	_, before := get(t, flagURL, srv.Admin)
	if !strings.Contains(before, `"metadata"`) {
		t.Fatalf("the demo's checkout-flow has no metadata: the test tests nothing\n%s", before)
	}
	admin := mustSignIn(t, srv.URL, srv.Admin)
	_, page := admin.get("/flags/production/checkout-flow/edit")
	form := url.Values{}
	for _, m := range append(inputField.FindAllStringSubmatch(page, -1), textareaField.FindAllStringSubmatch(page, -1)...) {
		form.Set(m[1], html.UnescapeString(m[2]))
	}
	if m := selectedState.FindStringSubmatch(page); m != nil {
		form.Set("state", m[1])
	}
	if form.Get("variants") == "" || form.Get("state") == "" || form.Get("csrf") == "" {
		t.Fatalf("the edit form's fields were not read: %v", form)
	}
	form.Set("reason", "saved unchanged")
	if resp, body := admin.post("/flags/production/checkout-flow/edit", form); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("save the form unchanged: %d\n%s", resp.StatusCode, valuelooptest.GrepLines(body, "error"))
	}
	_, after := get(t, flagURL, srv.Admin)
	var b, a map[string]any
	json.Unmarshal([]byte(before), &b)
	json.Unmarshal([]byte(after), &a)
	if fmt.Sprint(b["metadata"]) != fmt.Sprint(a["metadata"]) || fmt.Sprint(b["targeting"]) != fmt.Sprint(a["targeting"]) || fmt.Sprint(b["variants"]) != fmt.Sprint(a["variants"]) {
		t.Errorf("saving the edit form unchanged changed the flag:\nbefore %s\nafter  %s", before, after)
	}
}

// TestDashboardEditKeepsNumbers: the edit form shows the targeting as it
// is stored, so that saving it unchanged changes nothing: a number beyond
// float64's 53 bits (a user id) was shown rounded, and saved so.
func TestDashboardEditKeepsNumbers(t *testing.T) {
	srv := MustServe(t, "")
	rule := `{"if":[{"in":[{"var":"userId"},[12345678901234567891,42]]},"on",null]}`
	if resp, body := put(t, srv.URL+"/api/v1/environments/production/flags/big", srv.Admin,
		`{"state":"ENABLED","defaultVariant":"off","variants":{"on":true,"off":false},"targeting":`+rule+`}`); resp.StatusCode/100 != 2 {
		t.Fatalf("create the flag: %d %s", resp.StatusCode, body)
	}
	admin := mustSignIn(t, srv.URL, srv.Admin)
	for _, path := range []string{"/flags/production/big", "/flags/production/big/edit"} {
		if _, page := admin.get(path); !strings.Contains(page, "12345678901234567891") {
			t.Errorf("%s does not show the user id 12345678901234567891 as stored:\n%s", path, valuelooptest.GrepLines(page, "123456789"))
		}
	}
}

// section returns page from the first from up to the next to, failing the
// test when from is not there.
func section(t *testing.T, page, from, to string) string {
	t.Helper()
	i := strings.Index(page, from)
	if i < 0 {
		t.Fatalf("the page has no %q", from)
	}
	if j := strings.Index(page[i:], to); j >= 0 {
		return page[i : i+j]
	}
	return page[i:]
}

// TestDashboardIntervalSaysItsLevel: the experiment page shows the interval
// that decides, and says which it is and at what level, as the CLI's
// "LIFT (90% fixed)" does. It showed the always-valid interval under
// "Always-valid interval" whatever the settings: at α = 0.1 a 90% interval
// read as the usual 95%, and with fixed inference the table's interval was
// not the one the verdict quoted.
//
// The level is written as the CLI writes it, unrounded: at α = 0.0004 the
// page said "100%", an interval no test gives.
func TestDashboardIntervalSaysItsLevel(t *testing.T) {
	srv := MustServe(t, "", "--demo")
	admin := mustSignIn(t, srv.URL, srv.Admin)
	for _, tc := range []struct {
		alpha float64
		name  string
	}{
		{0.0004, "99.96% fixed-horizon interval"},
		{0.1, "90% fixed-horizon interval"}, // last: the lifts below are checked at it
	} {
		setDemoSettings(t, srv, map[string]any{"alpha": tc.alpha, "inference": "fixed"})
		_, page := admin.get("/experiments/production/" + demo.ExperimentFlag)
		metrics := section(t, html.UnescapeString(page), `<h2 id="me-h">`, "</section>")
		if !strings.Contains(metrics, `<th scope="col">`+tc.name+`</th>`) || strings.Contains(metrics, "Always-valid interval") {
			t.Errorf("α = %g: the metrics' tables do not head their interval %q:\n%s", tc.alpha, tc.name, valuelooptest.GrepLines(metrics, "<th"))
		}
		if !strings.Contains(metrics, "with its "+tc.name) {
			t.Errorf("α = %g: the forest plots do not say their interval:\n%s", tc.alpha, valuelooptest.GrepLines(metrics, "Forest plot"))
		}
	}
	res, err := client.New(srv.URL, srv.Admin).Results(context.Background(), "production", demo.ExperimentFlag, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, page := admin.get("/experiments/production/" + demo.ExperimentFlag)
	metrics := section(t, html.UnescapeString(page), `<h2 id="me-h">`, "</section>")
	shown := 0
	for _, m := range res.Metrics {
		for _, v := range m.Variants {
			if v.Lift == nil || v.Lift.Relative == nil {
				continue
			}
			iv := v.Lift.Relative.Interval
			if want := "<td>" + pagePct(iv.Lower) + " to " + pagePct(iv.Upper) + "</td>"; !strings.Contains(metrics, want) {
				t.Errorf("%s %s: the page lacks the fixed interval %s", m.Metric, v.Variant, want)
			}
			shown++
		}
	}
	if shown == 0 {
		t.Fatal("no relative lift in the demo's results: the test tests nothing")
	}
	checkSlicesShowDecidingInterval(t, srv, admin, "90% fixed-horizon interval")
}

// pagePct writes a relative lift as the dashboard does: as the CLI does.
func pagePct(x float64) string { return fmtLift(x, true) }

// checkSlicesShowDecidingInterval: split by a dimension under fixed
// inference, the slices' table and forest plots show each slice's
// fixed-horizon interval and its adjusted p, as the CLI's '--dimension'
// does, and name it; they showed the always-valid ones whatever the
// settings.
func checkSlicesShowDecidingInterval(t *testing.T, srv *testServer, admin *browser, name string) {
	t.Helper()
	res, err := client.New(srv.URL, srv.Admin).Results(context.Background(), "production", demo.ExperimentFlag, url.Values{"dimension": {"platform"}})
	if err != nil {
		t.Fatal(err)
	}
	_, page := admin.get("/experiments/production/" + demo.ExperimentFlag + "?dimension=platform")
	split := section(t, html.UnescapeString(page), `<h2 id="dm-h">`, "</section>")
	if !strings.Contains(split, `<th scope="col">`+name+`</th>`) || strings.Contains(split, "always-valid") {
		t.Errorf("the slices' table does not head its interval %q:\n%s", name, valuelooptest.GrepLines(split, "<th"))
	}
	if !strings.Contains(split, "with its "+name) {
		t.Errorf("the slices' forest plots do not say their interval:\n%s", valuelooptest.GrepLines(split, "Forest plot"))
	}
	g4 := func(x float64) string { return strconv.FormatFloat(x, 'g', 4, 64) }
	shown := 0
	for _, s := range res.Dimension.Slices {
		for _, m := range s.Metrics {
			for _, v := range m.Variants {
				if v.Lift == nil {
					continue
				}
				e, f := v.Lift.Absolute, g4
				if v.Lift.Relative != nil {
					e, f = *v.Lift.Relative, pagePct
				}
				want := "<td>" + f(e.Interval.Lower) + " to " + f(e.Interval.Upper) + `</td><td class="n">` + valueloop.FormatP(e.AdjustedPValue) + "</td>"
				if !strings.Contains(split, want) {
					t.Errorf("%s %s %s: the split page lacks the fixed interval and its adjusted p %s", s.Value, m.Metric, v.Variant, want)
				}
				shown++
			}
		}
	}
	if shown == 0 {
		t.Fatal("no slice's lift in the demo's results: the test tests nothing")
	}
}

// TestDashboardRecordCreditsOnce: a release record's flag change and
// hypothesis say who made them in their cause ("stated by demo"), and the
// feature page added its own "by demo" after: "stated by demo by demo".
// Each entry names its actor once.
func TestDashboardRecordCreditsOnce(t *testing.T) {
	srv := MustServe(t, "", "--demo")
	admin := mustSignIn(t, srv.URL, srv.Admin)
	_, page := admin.get("/value/features/new-onboarding")
	entry := section(t, page, "<strong>hypothesis</strong>", "</li>")
	if n := strings.Count(entry, "by demo"); n != 1 {
		t.Errorf("the hypothesis entry names its actor %d times, want once:\n%s", n, entry)
	}
}

// TestDashboardRecordOfBets: the value page ranked activation's ideas
// first without saying what the CLI's next says beside them: the record
// of bets each rank's confidence and effect come from, and that
// activation already reached its target. The page shows each
// objective's record and progress as next does.
func TestDashboardRecordOfBets(t *testing.T) {
	srv := MustServe(t, "", "--demo")
	admin := mustSignIn(t, srv.URL, srv.Admin)
	_, page := admin.get("/value")
	bets := html.UnescapeString(section(t, page, `id="bets-h"`, "</section>"))
	var next struct {
		Bets []struct {
			Objective              string
			Validated, Invalidated int
			Progress               *struct{ Summary string }
		}
	}
	if code, body := srv.call(t, "GET", "/api/v1/value/next", "", &next); code != 200 || len(next.Bets) != 2 {
		t.Fatalf("next: %d %.500s", code, body)
	}
	for _, b := range next.Bets {
		want := []string{b.Objective, fmt.Sprintf("%d validated, %d invalidated", b.Validated, b.Invalidated)}
		if b.Progress != nil {
			want = append(want, b.Progress.Summary)
		}
		for _, w := range want {
			if !strings.Contains(bets, w) {
				t.Errorf("the record of bets lacks %q, which next answers:\n%s", w, bets)
			}
		}
	}
	if !strings.Contains(bets, "of the target: reached") {
		t.Errorf("the record of bets does not say activation reached its target:\n%s", bets)
	}
}

// TestDashboardShippedAddsUp: the value page's shipped line counts every
// shipped feature: it said "Shipped 5: 3 validated, 1 invalidated;
// validated share 60%", the one still undecided left for the reader to
// find, where the CLI's flow names it.
func TestDashboardShippedAddsUp(t *testing.T) {
	srv := MustServe(t, "", "--demo")
	var flow struct{ Shipped, Validated, Invalidated int }
	if code, body := srv.call(t, "GET", "/api/v1/value/flow", "", &flow); code != 200 || flow.Shipped == flow.Validated+flow.Invalidated {
		t.Fatalf("flow: %d %.300s, want a shipped feature without a verdict in the demo", code, body)
	}
	_, page := mustSignIn(t, srv.URL, srv.Admin).get("/value")
	want := fmt.Sprintf("Shipped %d (entered measuring or a later stage in the window, by evidence or by hand): %d validated, %d invalidated, %d undecided;", flow.Shipped, flow.Validated, flow.Invalidated, flow.Shipped-flow.Validated-flow.Invalidated)
	if !strings.Contains(page, want) {
		t.Errorf("the value page does not say %q:\n%s", want, valuelooptest.GrepLines(page, "Shipped"))
	}
}

// TestDashboardMethodNamed: the value page said "ranked by wsjf", the
// method's key, where its form and docs name it WSJF or RICE.
func TestDashboardMethodNamed(t *testing.T) {
	srv := MustServe(t, "", "--demo")
	admin := mustSignIn(t, srv.URL, srv.Admin)
	for path, want := range map[string]string{"/value": "ranked by WSJF", "/value?method=rice": "ranked by RICE"} {
		if _, page := admin.get(path); !strings.Contains(page, want) {
			t.Errorf("%s does not say %q", path, want)
		}
	}
}

// TestEveryViewShowsTheDecidingTest: under each inference the verdict's
// effect, the dashboard's metrics table and the CLI's table show the same
// interval and p-values, the deciding test's (experiment.Inference.
// Deciding); the page showed no p at all, nor the metric's title the CLI
// heads its table with (checkPageP). Each view once chose it with its own copy of the rule, so that
// a change to one (adjusted or not, fixed or sequential) could set the
// page's interval apart from the one the verdict quotes.
func TestEveryViewShowsTheDecidingTest(t *testing.T) {
	srv := MustServe(t, "", "--demo")
	admin := mustSignIn(t, srv.URL, srv.Admin)
	shownAt := map[experiment.Inference]stats.Interval{}
	for _, inf := range []experiment.Inference{experiment.Fixed, experiment.Sequential} {
		setDemoSettings(t, srv, map[string]any{"inference": inf, "alternative": "two-sided"})
		res, err := client.New(srv.URL, srv.Admin).Results(context.Background(), "production", demo.ExperimentFlag, nil)
		if err != nil {
			t.Fatal(err)
		}
		if res.Verdict == nil || res.Hypothesis == nil || res.Hypothesis.Absolute {
			t.Fatalf("%s: the demo has no verdict on a relative effect: %+v", inf, res.Verdict)
		}
		_, page := admin.get("/experiments/production/" + demo.ExperimentFlag)
		metrics := section(t, html.UnescapeString(page), `<h2 id="me-h">`, "</section>")
		code, table, stderr := srv.cli(t, srv.Admin, "experiment", "results", demo.ExperimentFlag, "--env", "production")
		if code != 0 {
			t.Fatalf("%s: results: exit %d: %s", inf, code, stderr)
		}
		var primary *experiment.MetricResult
		for i := range res.Metrics {
			if res.Metrics[i].Metric == res.Hypothesis.PrimaryMetric {
				primary = &res.Metrics[i]
			}
		}
		if primary == nil || primary.Name == primary.Metric {
			t.Fatalf("%s: the demo's primary metric is not named apart from its key (the CLI's heading): %+v", inf, primary)
		}
		checked := 0
		for _, vv := range res.Verdict.Variants {
			for _, v := range primary.Variants {
				if v.Variant != vv.Variant || v.Lift == nil || v.Lift.Relative == nil || vv.Effect == nil {
					continue
				}
				test := inf.Deciding(*v.Lift.Relative)
				iv := test.Interval
				shownAt[inf] = iv
				if vv.Effect.Lower != iv.Lower || vv.Effect.Upper != iv.Upper {
					t.Errorf("%s %s: the verdict's effect [%v, %v], the deciding interval %v", inf, v.Variant, vv.Effect.Lower, vv.Effect.Upper, iv)
				}
				if want := "<td>" + pagePct(iv.Lower) + " to " + pagePct(iv.Upper) + "</td>"; !strings.Contains(metrics, want) {
					t.Errorf("%s %s: the page lacks the deciding interval %s:\n%s", inf, v.Variant, want, valuelooptest.GrepLines(metrics, "<td>"))
				}
				checkPageP(t, page, primary, v.Variant, test, res.Settings.Correction)
				e := v.Lift.Relative.Estimate
				want := fmt.Sprintf("%s [%s, %s]", fmtLift(e, true), fmtLift(iv.Lower, true), fmtLift(iv.Upper, true))
				row := regexp.MustCompile(`(?m)^\s*`+regexp.QuoteMeta(v.Variant)+`\s.*$`).FindAllString(section(t, table, "["+primary.Metric+"] (", "\n\n"), -1)
				if len(row) != 1 || !strings.Contains(row[0], want) || !strings.Contains(row[0], valueloop.FormatP(test.PValue)+"  "+valueloop.FormatP(test.AdjustedPValue)) {
					t.Errorf("%s %s: the CLI's row %q lacks %q with p %s and adjusted p %s", inf, v.Variant, row, want, valueloop.FormatP(test.PValue), valueloop.FormatP(test.AdjustedPValue))
				}
				checked++
			}
		}
		if checked == 0 {
			t.Fatalf("%s: no treatment with an effect in the demo's verdict: the test tests nothing", inf)
		}
	}
	if shownAt[experiment.Fixed] == shownAt[experiment.Sequential] {
		t.Errorf("the fixed and sequential intervals are the same (%v): the test cannot tell them apart", shownAt[experiment.Fixed])
	}
}

// checkPageP: the experiment page's card of metric m is headed with its
// title and key, as the CLI heads its table, and variant's row shows the
// deciding test's p and, under a correction, its adjusted p, written as
// the CLI writes them, under headings that say which is which.
func checkPageP(t *testing.T, page string, m *experiment.MetricResult, variant string, test experiment.Test, correction stats.Correction) {
	t.Helper()
	page = html.UnescapeString(page)
	card := section(t, page, "<h3>"+m.Name+" ["+m.Metric+"]", "</table>")
	heads := `<th scope="col" class="n">p</th><th scope="col" class="n">Adjusted p (` + string(correction) + `)</th>`
	if !strings.Contains(card, heads) {
		t.Errorf("%s: the card's table is not headed %s:\n%s", m.Metric, heads, valuelooptest.GrepLines(card, "<th"))
	}
	row := regexp.MustCompile(`(?s)<tr>\s*<td>` + regexp.QuoteMeta(variant) + `</td>.*?</tr>`).FindString(card)
	want := `<td class="n">` + valueloop.FormatP(test.PValue) + `</td><td class="n">` + valueloop.FormatP(test.AdjustedPValue) + `</td>`
	if !strings.Contains(row, want) {
		t.Errorf("%s %s: the page's row lacks the deciding p and adjusted p %s:\n%s", m.Metric, variant, want, row)
	}
}

// TestDashboardPWithoutCorrection: with correction none the adjusted p is
// the raw p, and the experiment page shows the p column alone, not a
// second copy headed as adjusted.
func TestDashboardPWithoutCorrection(t *testing.T) {
	srv := MustServe(t, "", "--demo")
	setDemoSettings(t, srv, map[string]any{"correction": "none"})
	_, page := mustSignIn(t, srv.URL, srv.Admin).get("/experiments/production/" + demo.ExperimentFlag)
	metrics := section(t, html.UnescapeString(page), `<h2 id="me-h">`, "</section>")
	if strings.Contains(metrics, "Adjusted p") || !strings.Contains(metrics, `<th scope="col" class="n">p</th><th scope="col" class="n" title="Bayesian: the posterior probability that the variant is better than control (flat prior, or the prior set); neither corrected for multiple comparisons nor safe to peek at">Chance to win</th>`) {
		t.Errorf("with correction none the tables are not headed p then chance to win:\n%s", valuelooptest.GrepLines(metrics, "<th"))
	}
}

// TestDashboardFeaturePage: a feature's page shows what deciding what to
// build next needs, each from the source the API answers from: its rank
// and the arithmetic behind it as next gives them (by WSJF and by RICE), or
// why it is not ranked; its estimate; its dependencies and dependants with
// their stages and what blocks it; its linked flags with their state,
// rollout and verdict. A viewer sees the same, and user text is escaped.
func TestDashboardFeaturePage(t *testing.T) {
	w := newFeaturePage(t)
	t.Run("rank as next gives it", w.rank)
	t.Run("stop or finish", w.stopOrFinish)
	t.Run("estimate", w.estimate)
	t.Run("dependencies and dependants", w.dependencies)
	t.Run("linked flags", w.linkedFlags)
	t.Run("a token of one environment", w.oneEnvironment)
	t.Run("viewer sees the same", w.viewerSees)
}

// featurePage is the demo server whose feature pages
// TestDashboardFeaturePage reads, signed in as admin and as viewer. The
// demo has no dependencies: wishlist is given one on a feature still being
// built and one on a decided feature, and a title to escape.
type featurePage struct {
	srv           *testServer
	admin, viewer *browser
}

const featurePageTitle = `Wishlists <em>& more</em>`

func newFeaturePage(t *testing.T) *featurePage {
	w := &featurePage{srv: MustServe(t, "", "--demo")}
	var wish struct{ Feature map[string]any }
	if code, body := w.srv.call(t, "GET", "/api/v1/features/wishlist", "", &wish); code != 200 {
		t.Fatalf("GET wishlist: %d %s", code, body)
	}
	wish.Feature["dependsOn"], wish.Feature["title"] = []string{"saved-carts", "new-onboarding"}, featurePageTitle
	put, _ := json.Marshal(wish.Feature)
	if code, body := w.srv.call(t, "PUT", "/api/v1/features/wishlist", string(put), nil); code != 200 {
		t.Fatalf("PUT wishlist: %d %s", code, body)
	}
	if s := w.stage(t, "saved-carts"); s != "building" {
		t.Fatalf("the demo's saved-carts is %s, want building (a dependency waited for)", s)
	}
	if s := w.stage(t, "new-onboarding"); s != "validated" {
		t.Fatalf("the demo's new-onboarding is %s, want validated (a dependency done)", s)
	}
	w.admin = mustSignIn(t, w.srv.URL, w.srv.Admin)
	w.viewer = mustSignIn(t, w.srv.URL, createToken(t, w.srv, "viewer", ""))
	return w
}

// stage returns the stage of feature key.
func (w *featurePage) stage(t *testing.T, key string) string {
	t.Helper()
	var f shownFeature
	if code, body := w.srv.call(t, "GET", "/api/v1/features/"+key, "", &f); code != 200 {
		t.Fatalf("GET %s: %d %s", key, code, body)
	}
	return f.Record.Stage
}

// get returns the admin's page at path, which must be well-formed HTML.
func (w *featurePage) get(t *testing.T, path string) string {
	t.Helper()
	resp, page := w.admin.get(path)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", path, resp.StatusCode)
	}
	for _, p := range checkHTML(page) {
		t.Errorf("%s: %s", path, p)
	}
	return page
}

// The demo estimates for WSJF only: by RICE every idea is unranked,
// each saying which inputs it lacks.
func (w *featurePage) rank(t *testing.T) {
	for _, method := range []string{"wsjf", "rice"} {
		var next struct {
			Ranked []struct {
				Feature, Explanation string
				Position             int
			}
			Unranked []struct{ Feature, Reason string }
		}
		if code, body := w.srv.call(t, "GET", "/api/v1/value/next?method="+method, "", &next); code != 200 || len(next.Ranked)+len(next.Unranked) == 0 {
			t.Fatalf("next by %s: %d %.300s", method, code, body)
		}
		for _, r := range next.Ranked {
			rank := html.UnescapeString(section(t, w.get(t, "/value/features/"+r.Feature+"?method="+method), `id="rank-h"`, "<h3>Estimate"))
			want := fmt.Sprintf("Rank <strong>%d</strong> of %d by %s", r.Position, len(next.Ranked), strings.ToUpper(method))
			if !strings.Contains(rank, want) || !strings.Contains(rank, r.Explanation) {
				t.Errorf("%s by %s: the page's rank\n%s\nwant %q and next's arithmetic %q", r.Feature, method, rank, want, r.Explanation)
			}
		}
		for _, u := range next.Unranked {
			if rank := html.UnescapeString(section(t, w.get(t, "/value/features/"+u.Feature+"?method="+method), `id="rank-h"`, "<h3>Estimate")); !strings.Contains(rank, "Not ranked: "+u.Reason) {
				t.Errorf("unranked %s by %s: the page's rank\n%s\nwant next's reason %q", u.Feature, method, rank, u.Reason)
			}
		}
	}
	if rank := section(t, w.get(t, "/value/features/new-onboarding"), `id="rank-h"`, "<h3>Estimate"); !strings.Contains(rank, "Not in the backlog") {
		t.Errorf("validated new-onboarding's rank: %s, want not in the backlog", rank)
	}
	if resp, body := w.admin.get("/value/features/wishlist?method=fastest"); resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "method") {
		t.Errorf("an unknown method: %d, want 400 naming the field", resp.StatusCode)
	}
}

func (w *featurePage) stopOrFinish(t *testing.T) {
	var next struct {
		Stop []struct{ Kind, Feature, Reason string }
	}
	if code, body := w.srv.call(t, "GET", "/api/v1/value/next", "", &next); code != 200 || len(next.Stop) == 0 {
		t.Fatalf("next: %d %.300s, want something to stop or finish in the demo", code, body)
	}
	for _, a := range next.Stop {
		rank := html.UnescapeString(section(t, w.get(t, "/value/features/"+a.Feature), `id="rank-h"`, "<h3>Estimate"))
		if !strings.Contains(rank, "<h3>Stop or finish</h3>") || !strings.Contains(rank, strings.ReplaceAll(a.Kind, "_", " ")) || !strings.Contains(rank, a.Reason) {
			t.Errorf("%s's page does not say to %s: %q:\n%s", a.Feature, a.Kind, a.Reason, rank)
		}
	}
}

func (w *featurePage) estimate(t *testing.T) {
	est := section(t, w.get(t, "/value/features/wishlist"), "<h3>Estimate", "</section>")
	for _, want := range []string{"<dd>21 <span class=\"hint\">user value 13 + time criticality 5 + risk reduction 3</span>", "<dt>Size</dt><dd>8</dd>", "not stated: 0.5"} {
		if !strings.Contains(est, want) {
			t.Errorf("wishlist's estimate lacks %q:\n%s", want, est)
		}
	}
}

func (w *featurePage) dependencies(t *testing.T) {
	page := w.get(t, "/value/features/wishlist")
	deps := section(t, page, `id="deps-h"`, "</section>")
	for _, want := range []string{
		`Waits for <a href="/value/features/saved-carts">saved-carts</a>.`,
		`<a href="/value/features/saved-carts">saved-carts</a><br><span class="stmt">Carts saved across devices</span></td>
      <td><span class="verdict v-building">building</span></td>
      <td><span class="bad">yes</span>`,
		`<a href="/value/features/new-onboarding">new-onboarding</a><br><span class="stmt">Guided three-step onboarding</span></td>
      <td><span class="verdict v-validated">validated</span></td>
      <td>no</td>`,
		"No feature depends on it.",
	} {
		if !strings.Contains(deps, want) {
			t.Errorf("wishlist's dependencies lack %q:\n%s", want, deps)
		}
	}
	if !strings.Contains(page, html.EscapeString(featurePageTitle)) || strings.Contains(page, "<em>") {
		t.Errorf("wishlist's featurePageTitle is not escaped")
	}
	wishStage := w.stage(t, "wishlist")
	for key, holds := range map[string]string{"saved-carts": "They wait for this feature", "new-onboarding": "This feature no longer holds them back"} {
		deps := section(t, w.get(t, "/value/features/"+key), `id="deps-h"`, "</section>")
		row := `<a href="/value/features/wishlist">wishlist</a><br><span class="stmt">` + html.EscapeString(featurePageTitle) + `</span></td><td><span class="verdict v-` + wishStage + `">` + wishStage + `</span>`
		if !strings.Contains(deps, row) || !strings.Contains(deps, holds) {
			t.Errorf("%s's dependants lack wishlist at %s and %q:\n%s", key, wishStage, holds, deps)
		}
	}
}

func (w *featurePage) linkedFlags(t *testing.T) {
	var res struct {
		VerdictHistory []struct{ Decision, Reason string }
	}
	if code, body := w.srv.call(t, "GET", "/api/v1/environments/production/flags/new-onboarding/results", "", &res); code != 200 || len(res.VerdictHistory) == 0 {
		t.Fatalf("new-onboarding's results: %d %.300s, want a recorded verdict in the demo", code, body)
	}
	v := res.VerdictHistory[len(res.VerdictHistory)-1]
	flags := html.UnescapeString(section(t, w.get(t, "/value/features/new-onboarding"), `id="flags-h"`, "</section>"))
	for _, want := range []string{`<a href="/flags/production/new-onboarding">new-onboarding</a>`, `<a href="/flags/development/new-onboarding">new-onboarding</a>`,
		`<a href="/experiments/production/new-onboarding"><span class="verdict v-` + v.Decision + `">` + strings.ReplaceAll(v.Decision, "_", " ") + `</span></a>`, v.Reason} {
		if !strings.Contains(flags, want) {
			t.Errorf("new-onboarding's flags lack %q:\n%s", want, flags)
		}
	}
	var ro struct {
		Percent float64
		State   string
		Step    int
		Plan    struct{ Steps []any }
	}
	if code, body := w.srv.call(t, "GET", "/api/v1/environments/production/rollouts/checkout-flow", "", &ro); code != 200 {
		t.Fatalf("checkout-flow's rollout: %d %.300s", code, body)
	}
	flags = section(t, w.get(t, "/value/features/one-page-checkout"), `id="flags-h"`, "</section>")
	want := fmt.Sprintf(`<a href="/rollouts/production/checkout-flow">%s%% %s</a> <span class="hint">step %d of %d</span>`,
		strconv.FormatFloat(math.Round(ro.Percent*10)/10, 'f', -1, 64), strings.ReplaceAll(ro.State, "_", " "), ro.Step+1, len(ro.Plan.Steps))
	if !strings.Contains(flags, want) || !strings.Contains(flags, "<td>ENABLED</td>") {
		t.Errorf("one-page-checkout's flags lack its rollout %q and state ENABLED:\n%s", want, flags)
	}
}

func (w *featurePage) oneEnvironment(t *testing.T) {
	prod := mustSignIn(t, w.srv.URL, createToken(t, w.srv, "viewer", "production"))
	_, page := prod.get("/value/features/new-onboarding")
	flags := section(t, page, `id="flags-h"`, "</section>")
	if !strings.Contains(flags, `href="/flags/production/new-onboarding"`) || strings.Contains(flags, `href="/flags/development/`) || !strings.Contains(flags, "Your token does not read development.") {
		t.Errorf("a production viewer's flags of new-onboarding: want production's linked and development's not read:\n%s", flags)
	}
}

func (w *featurePage) viewerSees(t *testing.T) {
	page := w.get(t, "/value/features/wishlist")
	_, seen := w.viewer.get("/value/features/wishlist")
	for _, id := range []string{`id="rank-h"`, `id="deps-h"`, `id="flags-h"`} {
		if got, want := section(t, seen, id, "</section>"), section(t, page, id, "</section>"); got != want {
			t.Errorf("the viewer's %s section differs from the admin's:\n%s\nwant\n%s", id, got, want)
		}
	}
}

// TestDashboardIncidentCause: the delivery page's incidents name the
// deployment that caused each, as the change failure rate counts it and
// `deploy list` says ("incidents inc-…"): the deployment the incident
// names, or else its service's latest before it opened (the demo's name
// none). The deployments list says how many of the range's it shows.
func TestDashboardIncidentCause(t *testing.T) {
	srv := MustServe(t, "", "--demo")
	admin := mustSignIn(t, srv.URL, srv.Admin)
	_, page := admin.get("/delivery")
	m := regexp.MustCompile(`<time datetime="([^"]+)">Mon [^<]+</time> to <time datetime="([^"]+)">`).FindStringSubmatch(page)
	if m == nil {
		t.Fatal("/delivery does not state its range")
	}
	incidents := section(t, page, `id="inc-h"`, "</section>")
	causes, all := 0, 0
	for _, service := range []string{"checkout", "search"} {
		var got struct {
			Deployments []dora.DeploymentFacts
		}
		if code, body := srv.call(t, "GET", "/api/v1/delivery/deployments?service="+service+"&from="+url.QueryEscape(m[1])+"&to="+url.QueryEscape(m[2]), "", &got); code != 200 {
			t.Fatalf("deployments of %s: %d %s", service, code, body)
		}
		all += len(got.Deployments)
		for _, d := range got.Deployments {
			for _, id := range d.Incidents {
				causes++
				row := incidents[strings.Index(incidents, id):]
				row = row[:strings.Index(row, "</tr>")]
				want := service + " <code>" + dora.ShortSHA(d.SHA) + "</code>"
				if d.Version != "" {
					want = service + " <code>" + d.Version + "</code>"
				}
				if !strings.Contains(row, want) {
					t.Errorf("incident %s, caused by %s's deployment %s of %s: its row says\n%s", id, service, dora.ShortSHA(d.SHA), d.At, row)
				}
			}
		}
	}
	if causes == 0 {
		t.Fatal("the demo's deployments caused no incident")
	}
	if want := fmt.Sprintf("Showing 1–15 of %d deployments", all); all > 15 && !strings.Contains(page, want) {
		t.Errorf("/delivery lists 15 deployments of %d without saying %q", all, want)
	}
}

// TestDashboardEstimateFigures: a feature's page writes its estimate as
// next's arithmetic beside it does ("reach 12000"), not in exponent
// notation ("1.2e+04"): a RICE reach runs to thousands of users.
func TestDashboardEstimateFigures(t *testing.T) {
	srv := MustServe(t, "", "--demo")
	var wish struct{ Feature map[string]any }
	if code, body := srv.call(t, "GET", "/api/v1/features/wishlist", "", &wish); code != 200 {
		t.Fatalf("GET wishlist: %d %s", code, body)
	}
	est := wish.Feature["estimate"].(map[string]any)
	est["reach"], est["impact"], est["confidence"] = 12000, 2, 0.125
	put, _ := json.Marshal(wish.Feature)
	if code, body := srv.call(t, "PUT", "/api/v1/features/wishlist", string(put), nil); code != 200 {
		t.Fatalf("PUT wishlist: %d %s", code, body)
	}
	var next struct {
		Ranked []struct{ Feature, Explanation string }
	}
	if code, body := srv.call(t, "GET", "/api/v1/value/next?method=rice", "", &next); code != 200 || len(next.Ranked) == 0 || next.Ranked[0].Feature != "wishlist" {
		t.Fatalf("next by RICE: %d %.300s, want wishlist ranked", code, body)
	}
	if !strings.Contains(next.Ranked[0].Explanation, "reach 12000 × impact 2") {
		t.Fatalf("next's arithmetic %q, want reach 12000 × impact 2", next.Ranked[0].Explanation)
	}
	admin := mustSignIn(t, srv.URL, srv.Admin)
	_, page := admin.get("/value/features/wishlist?method=rice")
	rank := section(t, page, `id="rank-h"`, "</section>")
	for _, want := range []string{`<td class="n">24000</td><td class="n">8</td>`, `<dd>12000</dd>`, `<dd>2</dd>`, `<dd>0.125 <span class="hint">stated`} {
		if !strings.Contains(rank, want) {
			t.Errorf("wishlist's page lacks %q as next writes figures:\n%s", want, rank)
		}
	}
	if strings.Contains(rank, "e+0") {
		t.Errorf("wishlist's page writes a figure in exponent notation:\n%s", rank)
	}
}

// TestDashboardSampleRatioOnExperiment: an experiment's page says the
// result of its sample-ratio check, as `experiment results` does, not only
// when it fails: the demo's p = 0.046 is close enough to look at.
func TestDashboardSampleRatioOnExperiment(t *testing.T) {
	srv := MustServe(t, "", "--demo")
	admin := mustSignIn(t, srv.URL, srv.Admin)
	code, out, _ := srv.cli(t, srv.Admin, "experiment", "results", "new-onboarding", "--env", "production")
	m := regexp.MustCompile(`SRM: ok, p = (\S+) \(a mismatch is p < (\S+)\)`).FindStringSubmatch(out)
	if code != 0 || m == nil {
		t.Fatalf("valueloop experiment results new-onboarding: %d, want its SRM ok:\n%s", code, out)
	}
	_, page := admin.get("/experiments/production/new-onboarding")
	if want := "Sample ratio: ok, p = " + m[1] + " (a mismatch is p &lt; " + m[2] + ")"; !strings.Contains(page, want) {
		t.Errorf("the experiment page does not say %q as the CLI does:\n%s", want, valuelooptest.GrepLines(page, "analysed"))
	}
}

// TestDashboardConfirmTitles: a confirm step's title (the tab's name, the
// first thing a screen reader says) names the change, the flag and the
// environment, as its heading does, not "Confirm" for each of them.
func TestDashboardConfirmTitles(t *testing.T) {
	srv := MustServe(t, "", "--demo")
	admin := mustSignIn(t, srv.URL, srv.Admin)
	for path, want := range map[string]string{
		"/flags/production/theme/state?to=DISABLED":   "<title>Disable theme in Production? · Valueloop</title>",
		"/flags/production/banner/state?to=ENABLED":   "<title>Enable banner in Production? · Valueloop</title>",
		"/rollouts/production/checkout-flow/rollback": "<title>Rollback the rollout of checkout-flow in production? · Valueloop</title>",
		"/rollouts/production/checkout-flow/pause":    "<title>Pause the rollout of checkout-flow in production? · Valueloop</title>",
	} {
		if resp, page := admin.get(path); resp.StatusCode != 200 || !strings.Contains(page, want) {
			t.Errorf("GET %s: %d, want %s:\n%s", path, resp.StatusCode, want, valuelooptest.GrepLines(page, "<title>"))
		}
	}
}

// TestEveryViewWritesProbabilitiesAlike: the experiment page and `experiment
// results` write a chance to win as one rule says (never 100% or 0% for
// one that is not exactly 1 or 0: ">99.9%", "<0.1%"), and every p as
// valueloop.FormatP writes it: the verdict's sentence wrote p = 0.00031
// where the tables wrote 3e-04, and the page's table by dimension wrote
// the adjusted p with four significant figures where the CLI writes three
// decimals (TestDashboardIntervalSaysItsLevel checks that table).
func TestEveryViewWritesProbabilitiesAlike(t *testing.T) {
	srv := MustServe(t, "", "--demo")
	admin := mustSignIn(t, srv.URL, srv.Admin)
	c := client.New(srv.URL, srv.Admin)
	res, err := c.Results(context.Background(), "production", demo.ExperimentFlag, url.Values{"dimension": {"platform"}})
	if err != nil {
		t.Fatal(err)
	}
	_, page := admin.get("/experiments/production/" + demo.ExperimentFlag + "?dimension=platform")
	page = html.UnescapeString(page)
	code, table, stderr := srv.cli(t, srv.Admin, "experiment", "results", demo.ExperimentFlag, "--env", "production", "--dimension", "platform")
	if code != 0 {
		t.Fatalf("results: exit %d: %s", code, stderr)
	}
	chance := func(p float64) string { // the rule, written out
		switch {
		case p > 0.9995 && p < 1:
			return ">99.9%"
		case p < 0.0005 && p > 0:
			return "<0.1%"
		}
		return fmt.Sprintf("%.1f%%", 100*p)
	}
	near := 0
	for _, m := range res.Metrics {
		card := section(t, page, "<h3>"+m.Name+" ["+m.Metric+"]", "</table>")
		for _, v := range m.Variants {
			if v.Lift == nil {
				continue
			}
			if v.Lift.ChanceToWin > 0.9995 || v.Lift.ChanceToWin < 0.0005 {
				near++
			}
			want := chance(v.Lift.ChanceToWin)
			row := regexp.MustCompile(`(?s)<tr>\s*<td>` + regexp.QuoteMeta(v.Variant) + `</td>.*?</tr>`).FindString(card)
			if !strings.Contains(row, `<td class="n">`+want+`</td>`) {
				t.Errorf("%s %s: the page's chance to win is not %s (%v):\n%s", m.Metric, v.Variant, want, v.Lift.ChanceToWin, row)
			}
			cli := regexp.MustCompile(`(?m)^\s*`+regexp.QuoteMeta(v.Variant)+`\s.*$`).FindAllString(section(t, table, "["+m.Metric+"] (", "\n\n"), -1)
			if len(cli) != 1 || !strings.HasSuffix(strings.TrimSpace(cli[0]), " "+want) {
				t.Errorf("%s %s: the CLI's row %q does not end with the chance to win %s", m.Metric, v.Variant, cli, want)
			}
		}
	}
	if near == 0 {
		t.Errorf("no chance to win of the demo within 0.05%% of 0 or 1: the test does not test the rule")
	}
	// Every "p = X" of the verdict, the sample-ratio line and their CLI
	// counterparts is written as FormatP writes X.
	pIs := regexp.MustCompile(`p = ([-0-9.e+]+)`)
	for where, text := range map[string]string{"the verdict": res.Verdict.Reason, "the page": section(t, page, "<main", "</main>"), "the CLI": table} {
		found := pIs.FindAllStringSubmatch(text, -1)
		if len(found) == 0 {
			t.Errorf("%s writes no p = X", where)
		}
		for _, f := range found {
			p, err := strconv.ParseFloat(f[1], 64)
			if err != nil || valueloop.FormatP(p) != f[1] {
				t.Errorf("%s writes p = %s, FormatP writes %s", where, f[1], valueloop.FormatP(p))
			}
		}
	}
	// The table by dimension's adjusted p: checkSlicesShowDecidingInterval
	// (it wrote four significant figures, 0.3889 for the CLI's 0.389).
}

// TestDashboardLiftsAsTheCLI: the experiment's tables write every
// relative lift and its interval as 'experiment results' does, to one
// decimal whatever the figure (+1.0%, +0.0%), and the rollout's guardrail
// its change as 'rollout status' does. The page wrote +1% and 0% beside
// +21.9% in the same column, and +52% where the CLI says +52.0%.
func TestDashboardLiftsAsTheCLI(t *testing.T) {
	srv := MustServe(t, "", "--demo")
	admin := mustSignIn(t, srv.URL, srv.Admin)
	res, err := client.New(srv.URL, srv.Admin).Results(context.Background(), "production", demo.ExperimentFlag, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, page := admin.get("/experiments/production/" + demo.ExperimentFlag)
	metrics := section(t, html.UnescapeString(page), `<h2 id="me-h">`, "</section>")
	whole := 0 // lifts the old writing shortened: +1%, 0%
	for _, m := range res.Metrics {
		for _, v := range m.Variants {
			if v.Lift == nil || v.Lift.Relative == nil {
				continue
			}
			est, iv := v.Lift.Relative.Estimate, res.Settings.Inference.Deciding(*v.Lift.Relative).Interval
			if math.Round(est*1000) == math.Round(est*100)*10 {
				whole++
			}
			want := `<td class="n">` + fmtLift(est, true) + "</td><td>" + fmtLift(iv.Lower, true) + " to " + fmtLift(iv.Upper, true) + "</td>"
			if !strings.Contains(metrics, want) {
				t.Errorf("%s %s: the page lacks the CLI's lift and interval %s:\n%s", m.Metric, v.Variant, want, valuelooptest.GrepLines(metrics, "<td>"+v.Variant+"</td>"))
			}
		}
	}
	if whole == 0 {
		t.Fatal("no lift of a whole percent in the demo's results: the test tests nothing")
	}
	var status struct {
		Guardrails []struct {
			Metric   string
			Change   *float64
			Interval *stats.Interval
		}
	}
	if code, body := srv.call(t, "GET", "/api/v1/environments/production/rollouts/checkout-flow", "", &status); code != 200 {
		t.Fatalf("rollout status: %d %.300s", code, body)
	}
	_, rollout := admin.get("/rollouts/production/checkout-flow")
	for _, g := range status.Guardrails {
		if g.Change == nil || g.Interval == nil {
			continue
		}
		want := "Change " + termchart.Lift(*g.Change) + ", 95% always-valid interval " + termchart.Lift(g.Interval.Lower) + " to " + termchart.Lift(g.Interval.Upper) + ";"
		if !strings.Contains(html.UnescapeString(rollout), want) {
			t.Errorf("guardrail %s: the rollout's page lacks the CLI's %q", g.Metric, want)
		}
	}
}

// TestDashboardLiveRefresh: the pages that watch something under way
// reload themselves (data-refresh) as docs/ui.md says: the overview, a
// flag, the rollouts, a rollout, the experiments and an experiment. The
// experiments' list, which docs/ui.md says refreshes live with the
// overview, did not: its users and verdicts stood still.
func TestDashboardLiveRefresh(t *testing.T) {
	srv := MustServe(t, "", "--demo")
	admin := mustSignIn(t, srv.URL, srv.Admin)
	for path, want := range map[string]string{
		"/": "60", "/flags/production/checkout-flow": "60", "/rollouts": "30", "/rollouts/production/checkout-flow": "30",
		"/experiments": "60", "/experiments/production/new-onboarding": "60",
	} {
		if _, page := admin.get(path); !strings.Contains(page, `<body data-refresh="`+want+`">`) {
			t.Errorf("%s does not refresh every %ss: %s", path, want, regexp.MustCompile(`<body[^>]*>`).FindString(page))
		}
	}
}
