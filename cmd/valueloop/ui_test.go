package main

import (
	"encoding/json"
	"html"
	"io"
	"math"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/valueloop/valueloop/dora"
	"github.com/valueloop/valueloop/termchart"
	"github.com/valueloop/valueloop/valuelooptest"
)

// dashboardPages are the pages of the demo, each checked and timed.
var dashboardPages = []struct{ name, path, want string }{
	{"overview", "/", "Features by stage"},
	{"flags", "/flags/production", "kill-switch-payments"},
	{"flags-search", "/flags/production?q=check", "checkout-flow"},
	{"flag", "/flags/production/checkout-flow", "Exposures over time"},
	{"flag-edit", "/flags/production/theme/edit", "Default variant"},
	{"flag-confirm", "/flags/production/theme/state?to=DISABLED", "Disable theme in"},
	{"rollouts", "/rollouts", "checkout-flow"},
	{"rollout", "/rollouts/production/checkout-flow", "Progress over time"},
	{"experiments", "/experiments", "new-onboarding"},
	{"experiment", "/experiments/production/new-onboarding", "The interval over time"},
	{"experiment-by-dimension", "/experiments/production/new-onboarding?dimension=platform", "Exploratory."},
	{"delivery", "/delivery", "Deployments to production"},
	{"value", "/value", "What to build next"},
	{"value-feature", "/value/features/new-onboarding", "Release record"},
	{"value-feature-ranked", "/value/features/wishlist", "Place in the backlog"},
}

// browser is a signed-in HTTP client of the dashboard (no JavaScript).
type browser struct {
	t    testing.TB
	base string
	c    *http.Client
}

var csrfPattern = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func newBrowser(t testing.TB, base string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: base, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *browser) get(path string) (*http.Response, string) {
	b.t.Helper()
	resp, err := b.c.Get(b.base + path)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func (b *browser) post(path string, form url.Values) (*http.Response, string) {
	b.t.Helper()
	resp, err := b.c.PostForm(b.base+path, form)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// csrf returns the CSRF token of the forms of a page.
func (b *browser) csrf(path string) string {
	b.t.Helper()
	_, body := b.get(path)
	m := csrfPattern.FindStringSubmatch(body)
	if m == nil {
		b.t.Fatalf("no CSRF token on %s", path)
	}
	return m[1]
}

// signIn signs in with a token and reports the status of the answer.
func (b *browser) signIn(token string) int {
	b.t.Helper()
	resp, _ := b.post("/signin", url.Values{"csrf": {b.csrf("/signin")}, "token": {token}, "next": {"/"}})
	return resp.StatusCode
}

func mustSignIn(t testing.TB, base, token string) *browser {
	t.Helper()
	b := newBrowser(t, base)
	if code := b.signIn(token); code != http.StatusSeeOther {
		t.Fatalf("sign-in: %d, want 303", code)
	}
	return b
}

// createToken makes a token through the API and returns its secret.
func createToken(t testing.TB, srv *testServer, scope, env string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"name": scope + "-ui-test", "scope": scope, "environment": env})
	resp, out := post(t, srv.URL+"/api/v1/tokens", srv.Admin, string(body))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create %s token: %d %s", scope, resp.StatusCode, out)
	}
	var got struct{ Secret string }
	json.Unmarshal([]byte(out), &got)
	return got.Secret
}

// flagState evaluates a flag over OFREP and returns the answer.
func ofrepAnswer(t testing.TB, srv *testServer, flag string) string {
	t.Helper()
	return srv.ofrep(t, "production", flag, `{"context":{"targetingKey":"u1"}}`)
}

// TestDashboardPages checks every page of the demo as the server writes
// it, and the dashboard's protections, without a browser.
func TestDashboardPages(t *testing.T) {
	flagsFile := filepath.Join(t.TempDir(), "staging-flags.json")
	os.WriteFile(flagsFile, []byte(fileV1), 0o644)
	srv := MustServe(t, "", "--demo", "--flags-file", "staging="+flagsFile)

	anon := newBrowser(t, srv.URL)
	checkSignedOut(t, anon)
	admin := mustSignIn(t, srv.URL, srv.Admin)
	resp, notFound := admin.get("/flags/production/no-such-flag")
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(notFound, "no-such-flag") {
		t.Errorf("an unknown flag: %d, want 404 naming it", resp.StatusCode)
	}
	for _, p := range checkHTML(notFound) {
		t.Errorf("error page: %s", p)
	}
	for _, p := range dashboardPages {
		t.Run(p.name, func(t *testing.T) { checkPage(t, admin, p.path, p.want) })
	}

	for _, c := range []struct {
		name  string
		check func(t *testing.T, srv *testServer, admin, anon *browser)
	}{
		{"session cookie", checkSessionCookie},
		{"flags file read-only", checkFlagsFileReadOnly},
		{"no CSRF token", checkCSRF},
		{"edit errors next to the field", checkEditErrors},
		{"value loop", checkValuePages},
		{"experiment by dimension", checkDimensionPage},
		{"estimate column named for the metric", checkEstimateColumn},
		{"delivery breakdown and Four Keys", checkDeliveryPage},
		{"rollout plan in words", checkRolloutPlan},
		{"viewer", checkViewer},
		{"evaluate token cannot sign in", checkEvaluateSignIn},
		{"sign-out ends the session", checkSignOut},
		{"revoking the token ends its sessions", checkRevoked},
		{"failed sign-ins are rate-limited", checkRateLimit},
	} {
		t.Run(c.name, func(t *testing.T) { c.check(t, srv, admin, anon) })
	}
}

// checkRolloutPlan: the rollout page says each step's plan as the CLI
// does: its time and its minimum of new users where it has them, nothing
// of a time the last step does not have.
func checkRolloutPlan(t *testing.T, _ *testServer, admin, _ *browser) {
	_, body := admin.get("/rollouts/production/checkout-flow")
	if !strings.Contains(body, "25% for 1d and at least 2,000 new users →") || strings.Contains(body, "100% for 0s") {
		i := strings.Index(body, "(steps ")
		t.Errorf("rollout page's plan: %q; want 25%% for 1d and at least 2,000 new users, and no time for the last step", body[max(i, 0):max(i, 0)+160])
	}
}

// checkSignedOut: without a session the dashboard sends to the sign-in
// page, which is valid HTML; the API and health checks are unchanged.
func checkSignedOut(t *testing.T, anon *browser) {
	if resp, _ := anon.get("/"); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/signin") {
		t.Errorf("GET / signed out: %d → %s, want a redirect to /signin", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, body := anon.get("/api/v1/nothing-here"); resp.StatusCode != http.StatusNotFound || strings.Contains(body, "<html") {
		t.Errorf("an unknown API path: %d %q, want the API's own 404, not the dashboard", resp.StatusCode, body)
	}
	if resp, _ := anon.get("/healthz"); resp.StatusCode != http.StatusOK {
		t.Errorf("/healthz: %d", resp.StatusCode)
	}
	if resp, _ := anon.post("/api/v1/openapi.json", url.Values{}); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST to a GET route of the API: %d, want 405 as without the dashboard", resp.StatusCode)
	}

	_, signin := anon.get("/signin")
	for _, p := range checkHTML(signin) {
		t.Errorf("/signin: %s", p)
	}
}

// checkPage checks one page as the server writes it: its content, strict
// HTML, the security headers, no inline script or style.
func checkPage(t *testing.T, admin *browser, path, want string) {
	resp, body := admin.get(path)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d\n%s", path, resp.StatusCode, body)
	}
	if !strings.Contains(body, want) {
		t.Errorf("GET %s does not show %q", path, want)
	}
	for _, probs := range checkHTML(body) {
		t.Errorf("%s: %s", path, probs)
	}
	if st := resp.Header.Get("Server-Timing"); !strings.HasPrefix(st, "page;dur=") {
		t.Errorf("GET %s: Server-Timing %q, want the server's time as page;dur=MS", path, st)
	}
	csp := resp.Header.Get("Content-Security-Policy")
	for _, want := range []string{"script-src 'self'", "frame-ancestors 'none'", "default-src 'none'"} {
		if !strings.Contains(csp, want) || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("CSP %q: want %s and no unsafe-inline", csp, want)
		}
	}
	if resp.Header.Get("Referrer-Policy") == "" {
		t.Error("no Referrer-Policy")
	}
	if strings.Contains(body, "<script>") || strings.Contains(body, " style=") || strings.Contains(body, " onclick=") {
		t.Errorf("%s has inline script or style", path)
	}
}

// checkSessionCookie: session cookie.
func checkSessionCookie(t *testing.T, srv *testServer, admin, anon *browser) {
	b := newBrowser(t, srv.URL)
	resp, _ := b.post("/signin", url.Values{"csrf": {b.csrf("/signin")}, "token": {srv.Admin}})
	c := resp.Header.Get("Set-Cookie")
	for _, want := range []string{"vl_session=", "HttpOnly", "SameSite=Strict"} {
		if !strings.Contains(c, want) {
			t.Errorf("Set-Cookie %q lacks %s", c, want)
		}
	}
}

// checkFlagsFileReadOnly: flags file read-only.
func checkFlagsFileReadOnly(t *testing.T, srv *testServer, admin, anon *browser) {
	_, body := admin.get("/flags/staging")
	if !strings.Contains(body, "staging-flags.json") {
		t.Errorf("the flags page of a file-served environment does not name the file")
	}
	_, body = admin.get("/flags/staging/greeting")
	if strings.Contains(body, `id="disable"`) || strings.Contains(body, `id="edit"`) {
		t.Errorf("a file-served flag offers changes")
	}
	resp, _ := admin.post("/flags/staging/greeting/state", url.Values{"csrf": {admin.csrf("/")}, "to": {"DISABLED"}})
	if resp.StatusCode != http.StatusConflict {
		t.Errorf("disabling a file-served flag: %d, want 409", resp.StatusCode)
	}
}

// checkCSRF: no CSRF token.
func checkCSRF(t *testing.T, srv *testServer, admin, anon *browser) {
	resp, _ := admin.post("/flags/production/theme/state", url.Values{"to": {"DISABLED"}})
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("POST without CSRF token: %d, want 403", resp.StatusCode)
	}
	resp, _ = admin.post("/flags/production/theme/state", url.Values{"to": {"DISABLED"}, "csrf": {"forged"}})
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("POST with a wrong CSRF token: %d, want 403", resp.StatusCode)
	}
	if got := ofrepAnswer(t, srv, "theme"); strings.Contains(got, "DISABLED") {
		t.Errorf("a refused POST disabled the flag: %s", got)
	}
	anonPost, _ := anon.post("/signout", url.Values{})
	if anonPost.StatusCode != http.StatusUnauthorized {
		t.Errorf("POST without a session: %d, want 401", anonPost.StatusCode)
	}
}

// checkEditErrors: edit errors next to the field.
func checkEditErrors(t *testing.T, srv *testServer, admin, anon *browser) {
	form := url.Values{"csrf": {admin.csrf("/flags/production/theme/edit")}, "state": {"ENABLED"}, "defaultVariant": {"nope"},
		"variants": {`{"light":{"bg":"white"},"dark":{"bg":"black"}}`}, "targeting": {""}}
	resp, body := admin.post("/flags/production/theme/edit", form)
	if resp.StatusCode != http.StatusUnprocessableEntity || !regexp.MustCompile(`id="dv-err">[^<]*nope`).MatchString(body) {
		t.Errorf("a bad default variant: %d, want 422 and the problem next to the field\n%s", resp.StatusCode, valuelooptest.GrepLines(body, "err"))
	}
	for _, p := range checkHTML(body) {
		t.Errorf("edit page with errors: %s", p)
	}
	form.Set("variants", "{not json")
	form.Set("defaultVariant", "light")
	if _, body = admin.post("/flags/production/theme/edit", form); !strings.Contains(body, `id="va-err"`) {
		t.Errorf("malformed variants: no error next to the field")
	}
	form.Set("variants", `{"light":{"bg":"white"},"dark":{"bg":"black"}}`)
	form.Set("defaultVariant", "light")
	form.Set("reason", "a\x1b[2Jb")
	if resp, body = admin.post("/flags/production/theme/edit", form); resp.StatusCode != http.StatusUnprocessableEntity || !regexp.MustCompile(`id="reason-err">[^<]*001B at byte 2`).MatchString(body) {
		t.Errorf("a reason with an escape: %d, want 422 naming the character next to the field\n%s", resp.StatusCode, valuelooptest.GrepLines(body, "control"))
	}
	if got := ofrepAnswer(t, srv, "theme"); strings.Contains(got, "nope") {
		t.Errorf("a refused edit changed the flag: %s", got)
	}
	// The kill switch's confirm step comes back with the problem next to
	// the reason and the reason as typed (a tab pasted from a ticket), not
	// as an error page to navigate away from.
	state := url.Values{"csrf": {admin.csrf("/flags/production/theme/edit")}, "to": {"DISABLED"}, "reason": {"INC-7\tcheckout down"}, "version": {"1"}}
	if resp, body = admin.post("/flags/production/theme/state", state); resp.StatusCode != http.StatusUnprocessableEntity ||
		!regexp.MustCompile(`id="reason-err">[^<]*0009 at byte 6`).MatchString(body) || !strings.Contains(body, `value="INC-7`+"\t"+`checkout down"`) ||
		!strings.Contains(body, `id="confirm"`) || !strings.Contains(body, `name="version" value="1"`) {
		t.Errorf("disable with a tab in the reason: %d, want 422, the confirm step again naming the character next to the field, the reason as typed\n%s", resp.StatusCode, valuelooptest.GrepLines(body, "reason"))
	}
	for _, p := range checkHTML(body) {
		t.Errorf("confirm step with an error: %s", p)
	}
	if got := ofrepAnswer(t, srv, "theme"); strings.Contains(got, "DISABLED") {
		t.Errorf("a refused disable changed the flag: %s", got)
	}
	rollback := url.Values{"csrf": {admin.csrf("/")}, "reason": {"INC-7\tcheckout down"}}
	if resp, body = admin.post("/rollouts/production/checkout-flow/rollback", rollback); resp.StatusCode != http.StatusUnprocessableEntity ||
		!regexp.MustCompile(`id="reason-err">[^<]*0009 at byte 6`).MatchString(body) || !strings.Contains(body, `value="INC-7`+"\t"+`checkout down"`) {
		t.Errorf("roll back with a tab in the reason: %d, want 422, the confirm step again naming the character next to the field, the reason as typed\n%s", resp.StatusCode, valuelooptest.GrepLines(body, "reason"))
	}
	if _, body = admin.get("/rollouts/production/checkout-flow"); !strings.Contains(body, `state-running`) {
		t.Errorf("a refused rollback changed the rollout:\n%s", valuelooptest.GrepLines(body, "state-"))
	}
}

// checkValuePages: the value page shows the API's ranked backlog, each
// rank with its explanation and a link to its record; new-onboarding's
// record shows its validated verdict and the loop's figures.
func checkValuePages(t *testing.T, srv *testServer, admin, anon *browser) {
	var next struct {
		Ranked []struct{ Feature, Explanation string }
		Stop   []struct{ Feature string }
	}
	if code, body := srv.call(t, "GET", "/api/v1/value/next", "", &next); code != 200 || len(next.Ranked) == 0 {
		t.Fatalf("value next: %d %s, want ranked features in the demo", code, body)
	}
	_, page := admin.get("/value")
	for _, r := range next.Ranked {
		if !strings.Contains(page, `href="/value/features/`+r.Feature+`"`) {
			t.Errorf("/value does not link ranked %s to its record", r.Feature)
		}
		if !strings.Contains(html.UnescapeString(page), r.Explanation) {
			t.Errorf("/value does not show %s's explanation %q", r.Feature, r.Explanation)
		}
	}
	for _, want := range []string{"Stop or finish", "Flow of value", "Verdicts per week", "validated share", "p85"} {
		if !strings.Contains(page, want) {
			t.Errorf("/value does not show %q", want)
		}
	}
	_, overview := admin.get("/")
	if !strings.Contains(overview, `href="/value/features/new-onboarding"`) || !strings.Contains(overview, `href="/value/features/guided-search"`) {
		t.Errorf("the overview's features by stage do not come from the value loop")
	}
	checkValueForm(t, srv, admin)
	_, rec := admin.get("/value/features/new-onboarding")
	for _, want := range []string{`class="verdict v-validated"`, "Lead time to customer", "first commit → released to its audience", "Time to validated learning", "Time in each stage", "<time datetime="} {
		if !strings.Contains(rec, want) {
			t.Errorf("new-onboarding's record does not show %q", want)
		}
	}
	if resp, body := admin.get("/value/features/no-such-feature"); resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "no-such-feature") {
		t.Errorf("an unknown feature: %d, want 404 naming it", resp.StatusCode)
	}
}

// checkDeliveryPage: the delivery page states its range, and shows for
// that range the API's lead-time breakdown (median and p85 of each stage)
// and Four Keys' change failure rate beside the default, for every team
// and service.
func checkDeliveryPage(t *testing.T, srv *testServer, admin, anon *browser) {
	_, page := admin.get("/delivery")
	m := regexp.MustCompile(`<time datetime="([^"]+)">(Mon [^<]+)</time> to <time datetime="([^"]+)">`).FindStringSubmatch(page)
	if m == nil || !strings.Contains(page, "valueloop dora --from ") || !strings.Contains(page, `id="cfr-note"`) {
		t.Fatalf("/delivery does not state its range (from a Monday), how to get it from valueloop dora, and the two change failure rates")
	}
	var rep dora.Report
	if code, body := srv.call(t, "GET", "/api/v1/dora?bucket=week&from="+url.QueryEscape(m[1])+"&to="+url.QueryEscape(m[3]), "", &rep); code != 200 || len(rep.Services) == 0 {
		t.Fatalf("GET /api/v1/dora for the page's range: %d %s", code, body)
	}
	rate := func(r dora.Rate) string {
		v, ok := r.Value()
		if !ok {
			return "–"
		}
		return strconv.FormatFloat(math.Round(v*1000)/10, 'f', -1, 64) + "%"
	}
	lt := page[strings.Index(page, "Where the lead time goes"):strings.Index(page, "Deployments to production")]
	keys := page[strings.Index(page, "By team and service"):strings.Index(page, "Where the lead time goes")]
	series := append([]dora.Series{}, rep.Services...)
	for _, s := range rep.Teams {
		s.Name = "Team " + s.Name
		series = append(series, s)
	}
	stages := 0
	for _, s := range series {
		row := func(in string) string {
			i := strings.Index(in, `<th scope="row">`+s.Name)
			if i < 0 {
				t.Fatalf("/delivery has no row for %s", s.Name)
			}
			return in[i : i+strings.Index(in[i:], "</tr>")]
		}
		b := s.Total.LeadTimeBreakdown
		cells := strings.Split(row(lt), "<td>")[1:] // coding, pickup, review, deploy
		for i, st := range []dora.Stage{b.Coding, b.Pickup, b.Review, b.Deploy} {
			want := "–"
			if st.Count > 0 {
				stages++
				want = "median <span class=\"kv\">" + termchart.Duration(st.Median) + "</span>, p85 " + termchart.Duration(st.P85) + ` <span class="hint">of ` + strconv.Itoa(st.Count) + " changes"
			}
			if len(cells) != 4 || !strings.HasPrefix(cells[i], want) {
				t.Errorf("%s's lead-time breakdown: stage %d is not %q:\n%s", s.Name, i, want, row(lt))
			}
		}
		// the keys' columns: frequency, lead time, the two rates, recovery, rework
		if r := row(keys); !regexp.MustCompile(`<td><span class="kv">` + regexp.QuoteMeta(rate(s.Total.ChangeFailureRate)) + `</span>.*</td><td><span class="kv">` +
			regexp.QuoteMeta(rate(s.Total.ChangeFailureRateFourKeys)) + `</span>[^<]*<span class="level[^>]*>[a-z]+</span><span class="sparkbox"><svg[^>]*role="img"><title>weekly change failure rate \(four keys\)`).MatchString(r) {
			t.Errorf("%s: want change failure rates %s and %s (Four Keys):\n%s", s.Name, rate(s.Total.ChangeFailureRate), rate(s.Total.ChangeFailureRateFourKeys), r)
		}
	}
	if stages == 0 || !strings.Contains(keys, "<th scope=\"col\">Change failure rate (Four Keys)</th>") {
		t.Errorf("the demo shows no stage of the lead time, or no Four Keys column")
	}
}

// checkValueForm: the overview's "What is next" starts with the value
// loop's first rank; /value ranks by WSJF or RICE and filters by objective
// through a plain GET form, as the API's next does.
func checkValueForm(t *testing.T, srv *testServer, admin *browser) {
	var wsjf, rice struct {
		Ranked []struct{ Feature, Objective string }
	}
	srv.call(t, "GET", "/api/v1/value/next", "", &wsjf)
	srv.call(t, "GET", "/api/v1/value/next?method=rice", "", &rice)
	if len(wsjf.Ranked) == 0 {
		t.Fatal("the demo ranks nothing")
	}
	_, overview := admin.get("/")
	next := overview[strings.Index(overview, "What is next"):]
	if !strings.Contains(next, `<li><a href="/value/features/`+wsjf.Ranked[0].Feature+`"`) {
		t.Errorf("the overview's What is next does not start with the first rank, %s", wsjf.Ranked[0].Feature)
	}
	// Each thing to stop or finish names its feature as a feature: "clean
	// up flag twenty-results" read as if the feature were the flag (the
	// demo's flag is search-results-per-page).
	var stop struct {
		Stop []struct{ Kind, Feature, Flag string }
	}
	srv.call(t, "GET", "/api/v1/value/next", "", &stop)
	if len(stop.Stop) == 0 {
		t.Fatal("the demo has nothing to stop or finish")
	}
	for _, a := range stop.Stop {
		kind := strings.ReplaceAll(a.Kind, "_", " ")
		if !strings.Contains(next, "<li>"+kind+" for feature "+a.Feature+": ") || strings.Contains(next, kind+" "+a.Feature) {
			t.Errorf("the overview's What is next does not say %q for feature %s (flag %s):\n%.1500s", kind, a.Feature, a.Flag, next)
		}
	}
	_, page := admin.get("/value?method=rice")
	if !strings.Contains(page, `<option value="rice" selected>`) || !strings.Contains(page, "ranked by RICE") ||
		!strings.Contains(page, `<label for="method">`) || !strings.Contains(page, `<label for="objective">`) {
		t.Errorf("/value?method=rice does not rank by RICE with the choice selected in a labelled form")
	}
	for _, r := range wsjf.Ranked { // the demo estimates no reach: RICE ranks what WSJF does not
		ranked := slices.ContainsFunc(rice.Ranked, func(x struct{ Feature, Objective string }) bool { return x.Feature == r.Feature })
		backlog := page[strings.Index(page, "What to build next") : strings.Index(page, "Not ranked yet")+1]
		if shown := strings.Contains(backlog, `href="/value/features/`+r.Feature+`"`); shown != ranked {
			t.Errorf("/value?method=rice: %s ranked %v, RICE ranks it %v", r.Feature, shown, ranked)
		}
	}
	objective := wsjf.Ranked[0].Objective
	_, page = admin.get("/value?objective=" + url.QueryEscape(objective))
	backlog := page[:strings.Index(page, "Stop or finish")]
	for _, r := range wsjf.Ranked {
		if shown := strings.Contains(backlog, `href="/value/features/`+r.Feature+`"`); shown != (r.Objective == objective) {
			t.Errorf("/value?objective=%s: %s (objective %s) shown %v", objective, r.Feature, r.Objective, shown)
		}
	}
	for _, bad := range []string{"/value?method=moscow", "/value?objective=no-such-objective"} {
		if resp, body := admin.get(bad); resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, strings.Split(strings.TrimPrefix(bad, "/value?"), "=")[0]) {
			t.Errorf("GET %s: %d, want 400 naming the field", bad, resp.StatusCode)
		}
	}
}

// checkViewer: viewer.
func checkViewer(t *testing.T, srv *testServer, admin, anon *browser) {
	code, out, errOut := srv.cli(t, srv.Admin, "token", "create", "--scope", "viewer")
	secret := strings.TrimSpace(out)
	if code != 0 || !strings.HasPrefix(secret, "vl_view_") {
		t.Fatalf("token create --scope viewer: %d %q %s", code, out, errOut)
	}
	if code, out, _ := srv.cli(t, secret, "flags", "list", "--env", "production"); code != 0 || !strings.Contains(out, "theme") {
		t.Errorf("a viewer's flags list: %d %s", code, out)
	}
	if code, _, errOut := srv.cli(t, secret, "flags", "disable", "theme", "--env", "production"); code == 0 || !strings.Contains(errOut, "viewer") {
		t.Errorf("a viewer's flags disable: %d %s, want refused, naming the viewer scope", code, errOut)
	}
	viewer := mustSignIn(t, srv.URL, secret)
	for _, p := range []string{"/", "/flags/production/checkout-flow", "/rollouts/production/checkout-flow", "/delivery", "/value", "/value/features/new-onboarding"} {
		resp, body := viewer.get(p)
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Read-only") {
			t.Errorf("viewer GET %s: %d, want the page and a read-only note", p, resp.StatusCode)
		}
		for _, id := range []string{`id="disable"`, `id="edit"`, `id="pause"`, `id="rollback"`, `id="advance"`} {
			if strings.Contains(body, id) {
				t.Errorf("viewer sees %s on %s", id, p)
			}
		}
	}
	csrf := viewer.csrf("/")
	for _, path := range []string{"/flags/production/theme/state", "/flags/production/theme/edit", "/rollouts/production/checkout-flow/pause"} {
		resp, _ := viewer.post(path, url.Values{"csrf": {csrf}, "to": {"DISABLED"}, "state": {"DISABLED"}, "variants": {`{"a":1}`}})
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("viewer POST %s: %d, want 403", path, resp.StatusCode)
		}
	}
	if resp, _ := viewer.get("/flags/production/theme/edit"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("viewer GET the edit form: %d, want 403", resp.StatusCode)
	}
	if got := ofrepAnswer(t, srv, "theme"); strings.Contains(got, "DISABLED") {
		t.Errorf("a viewer changed the flag: %s", got)
	}
}

// checkEvaluateSignIn: evaluate token cannot sign in.
func checkEvaluateSignIn(t *testing.T, srv *testServer, admin, anon *browser) {
	b := newBrowser(t, srv.URL)
	if code := b.signIn(createToken(t, srv, "evaluate", "production")); code != http.StatusUnauthorized {
		t.Errorf("sign-in with an evaluate token: %d, want 401", code)
	}
}

// checkSignOut: sign-out ends the session.
func checkSignOut(t *testing.T, srv *testServer, admin, anon *browser) {
	b := mustSignIn(t, srv.URL, srv.Admin)
	u, _ := url.Parse(srv.URL)
	old := b.c.Jar.Cookies(u)
	if resp, _ := b.post("/signout", url.Values{"csrf": {b.csrf("/")}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-out: %d", resp.StatusCode)
	}
	replay := newBrowser(t, srv.URL)
	replay.c.Jar.SetCookies(u, old)
	if resp, _ := replay.get("/"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("the signed-out session cookie still works: %d", resp.StatusCode)
	}
}

// checkRevoked: revoking the token ends its sessions.
func checkRevoked(t *testing.T, srv *testServer, admin, anon *browser) {
	body, _ := json.Marshal(map[string]string{"name": "short-lived", "scope": "viewer"})
	resp, out := post(t, srv.URL+"/api/v1/tokens", srv.Admin, string(body))
	var got struct {
		Token  struct{ ID int64 }
		Secret string
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("create token: %d %s", resp.StatusCode, out)
	}
	b := mustSignIn(t, srv.URL, got.Secret)
	req, _ := http.NewRequest(http.MethodDelete, srv.URL+"/api/v1/tokens/"+strconv.FormatInt(got.Token.ID, 10), nil)
	req.Header.Set("Authorization", "Bearer "+srv.Admin)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("revoke: %v %v", err, resp)
	}
	if resp, _ := b.get("/"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("a session of a revoked token: %d, want a redirect to sign-in", resp.StatusCode)
	}
}

// checkRateLimit: failed sign-ins are rate-limited.
func checkRateLimit(t *testing.T, srv *testServer, admin, anon *browser) {
	b := newBrowser(t, srv.URL)
	codes := []int{}
	for range 6 {
		codes = append(codes, b.signIn("vl_admin_wrong-guess-0123456789"))
	}
	if codes[0] != http.StatusUnauthorized || codes[5] != http.StatusTooManyRequests {
		t.Errorf("six failed sign-ins answered %v, want 401 first and 429 at the sixth", codes)
	}
	if code := b.signIn(srv.Admin); code != http.StatusTooManyRequests {
		t.Errorf("a right token while limited: %d, want 429 (no guessing past the limit)", code)
	}
}

// waitForCharts views path until its charts over time are computed (the
// page no longer says they are being computed), for 60 seconds at most.
func waitForCharts(t testing.TB, b *browser, path string) {
	t.Helper()
	for range 600 {
		_, body := b.get(path)
		if !strings.Contains(body, "being replayed") && !strings.Contains(body, "being counted") {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: the charts over time were not computed within 60s", path)
}

// BenchmarkDashboardPages measures the server time of each page of the
// demo, over loopback HTTP with a signed-in session.
func BenchmarkDashboardPages(b *testing.B) {
	srv := MustServe(b, "", "--demo")
	admin := mustSignIn(b, srv.URL, srv.Admin)
	for _, p := range dashboardPages {
		if p.name == "flags-search" {
			continue
		}
		b.Run(p.name, func(b *testing.B) {
			waitForCharts(b, admin, p.path) // the charts over time are kept
			var server float64
			for b.Loop() {
				resp, _ := admin.get(p.path)
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("GET %s: %d", p.path, resp.StatusCode)
				}
				server += serverMs(b, resp)
			}
			b.ReportMetric(server/float64(b.N), "server-ms/op")
		})
	}
}

// TestDashboardSessionSurvivesRestart: sessions live in the store, so a
// browser stays signed in across a restart of the server (and on any node
// of a cluster); its sign-out still ends it.
func TestDashboardSessionSurvivesRestart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	srv := MustServe(t, dir, "--demo")
	admin := mustSignIn(t, srv.URL, srv.Admin)
	srv.Stop(t)
	srv = MustServe(t, dir)
	u, _ := url.Parse(srv.URL)
	old, _ := url.Parse(admin.base)
	admin.c.Jar.SetCookies(u, admin.c.Jar.Cookies(old)) // the new server listens on another port
	admin.base = srv.URL
	if resp, body := admin.get("/flags/production"); resp.StatusCode != http.StatusOK || !strings.Contains(body, "checkout-flow") {
		t.Fatalf("after a restart: GET /flags/production %d, want 200 with the flags (still signed in)", resp.StatusCode)
	}
	if resp, _ := admin.post("/signout", url.Values{"csrf": {admin.csrf("/")}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-out: %d", resp.StatusCode)
	}
	if resp, _ := admin.get("/"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("after sign-out: GET / %d, want a redirect to sign-in", resp.StatusCode)
	}
}

// checkEstimateColumn: the demo's quantile metric shows its estimate under
// "Quantile", a mean metric under "Mean".
func checkEstimateColumn(t *testing.T, _ *testServer, admin, _ *browser) {
	_, page := admin.get("/experiments/production/new-onboarding")
	for _, want := range []string{`<th scope="col" class="n">Quantile</th>`, `<th scope="col" class="n">Mean</th>`} {
		if !strings.Contains(page, want) {
			t.Errorf("the experiment page has no %s", want)
		}
	}
}

// TestDashboardChangedMeanwhile: a kill switch posted from a confirmation
// page loaded before someone else changed the flag ended on a bare
// "Conflict" page whose only link led to the overview. It now leads back
// to the flag's page, which shows the flag as it is, says the change was
// not made and what changed meanwhile (who, how, why), and offers the
// switch again; posting from there works.
func TestDashboardChangedMeanwhile(t *testing.T) {
	srv := MustServe(t, "", "--demo")
	ann := mustSignIn(t, srv.URL, srv.Admin)
	_, confirm := ann.get("/flags/production/theme/state?to=DISABLED")
	version := regexp.MustCompile(`name="version" value="(\d+)"`).FindStringSubmatch(confirm)
	if version == nil {
		t.Fatalf("no version on the confirmation page")
	}
	// Someone else disables it with a reason, after ann loaded the page.
	if code, _, errOut := srv.cli(t, srv.Admin, "flags", "disable", "theme", "--env", "production", "--reason", "incident 42"); code != 0 {
		t.Fatalf("flags disable: %d %s", code, errOut)
	}
	form := url.Values{"csrf": {csrfPattern.FindStringSubmatch(confirm)[1]}, "to": {"DISABLED"}, "version": version[1:], "reason": {"mine"}}
	resp, _ := ann.post("/flags/production/theme/state", form)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/flags/production/theme" {
		t.Fatalf("a stale kill switch: %d → %q, want 303 to the flag's page", resp.StatusCode, resp.Header.Get("Location"))
	}
	_, page := ann.get("/flags/production/theme")
	text := html.UnescapeString(page)
	for _, want := range []string{`role="alert"`, "Not disabled: theme changed since you loaded the page", "flag.update by", "“incident 42”",
		"It is DISABLED now", `id="enable"`} {
		if !strings.Contains(text, want) {
			t.Errorf("the flag's page after a stale change lacks %q:\n%s", want, valuelooptest.GrepLines(text, "notice"))
		}
	}
	for _, p := range checkHTML(page) {
		t.Errorf("flag page with the notice: %s", p)
	}
	// The notice is shown once; the page's switch works.
	_, again := ann.get("/flags/production/theme")
	if strings.Contains(again, "Not disabled") {
		t.Errorf("the notice is shown twice")
	}
	_, confirm = ann.get("/flags/production/theme/state?to=ENABLED")
	form = url.Values{"csrf": {csrfPattern.FindStringSubmatch(confirm)[1]}, "to": {"ENABLED"},
		"version": regexp.MustCompile(`name="version" value="(\d+)"`).FindStringSubmatch(confirm)[1:]}
	if resp, _ := ann.post("/flags/production/theme/state", form); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("retry from the fresh page: %d", resp.StatusCode)
	}
	if got := ofrepAnswer(t, srv, "theme"); strings.Contains(got, "DISABLED") {
		t.Errorf("the retried change was not made: %s", got)
	}

	// The edit form, saved after a change meanwhile, says what changed and
	// comes back at the version now, keeping what was typed: saving again
	// works.
	_, edit := ann.get("/flags/production/theme/edit")
	stale := regexp.MustCompile(`name="version" value="(\d+)"`).FindStringSubmatch(edit)
	if code, _, errOut := srv.cli(t, srv.Admin, "flags", "disable", "theme", "--env", "production", "--reason", "incident 43"); code != 0 {
		t.Fatalf("flags disable: %d %s", code, errOut)
	}
	form = url.Values{"csrf": {csrfPattern.FindStringSubmatch(edit)[1]}, "version": stale[1:], "state": {"ENABLED"}, "defaultVariant": {"dark"},
		"variants": {`{"light":{"bg":"white"},"dark":{"bg":"black"}}`}, "targeting": {""}}
	resp, edit = ann.post("/flags/production/theme/edit", form)
	text = html.UnescapeString(edit)
	fresh := regexp.MustCompile(`name="version" value="(\d+)"`).FindStringSubmatch(edit)
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(text, "Not saved: theme changed since you loaded the page") ||
		!strings.Contains(text, "“incident 43”") || fresh == nil || fresh[1] == stale[1] {
		t.Errorf("a stale edit: %d, want 422 saying what changed, at the version now:\n%s", resp.StatusCode, valuelooptest.GrepLines(text, "alert"))
	}
	form.Set("version", fresh[1])
	if resp, _ := ann.post("/flags/production/theme/edit", form); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("saving the edit again: %d, want 303", resp.StatusCode)
	}
}

// TestOverviewReusesAnalyses: the overview (and its live refresh, the same
// page) analysed every experiment on every view, for any signed-in viewer.
// Results are now kept by their inputs: a view when nothing changed runs
// no analysis, a changed hypothesis re-runs only its experiment. The
// Server-Timing header counts the analyses a page ran.
func TestOverviewReusesAnalyses(t *testing.T) {
	srv := MustServe(t, "", "--demo")
	admin := mustSignIn(t, srv.URL, srv.Admin)
	viewer := mustSignIn(t, srv.URL, createToken(t, srv, "viewer", ""))
	// A second experiment beside the demo's: one changed re-runs alone.
	if code, _, errOut := srv.cli(t, srv.Admin, "experiment", "hypothesis", "set", "theme", "--env", "production",
		"--primary", "orders", "--min-effect", "2%"); code != 0 {
		t.Fatalf("hypothesis set theme: %d %s", code, errOut)
	}
	analyses := func(b *browser, path string) int {
		t.Helper()
		resp, _ := b.get(path)
		m := regexp.MustCompile(`analyses;desc="(\d+)"`).FindStringSubmatch(resp.Header.Get("Server-Timing"))
		if resp.StatusCode != http.StatusOK || m == nil {
			t.Fatalf("GET %s: %d, Server-Timing %q, want the analyses counted", path, resp.StatusCode, resp.Header.Get("Server-Timing"))
		}
		n, _ := strconv.Atoi(m[1])
		return n
	}
	_, list := admin.get("/experiments")
	experiments := strings.Count(list, `href="/experiments/production/`)
	if first := analyses(admin, "/"); first > experiments || experiments != 2 {
		t.Errorf("the first overview ran %d analyses for %d experiments", first, experiments)
	}
	for _, v := range []struct {
		b    *browser
		path string
	}{{admin, "/"}, {admin, "/"}, {viewer, "/"}, {viewer, "/experiments"}} {
		if n := analyses(v.b, v.path); n != 0 {
			t.Errorf("GET %s with nothing changed ran %d analyses, want 0", v.path, n)
		}
	}
	if code, _, errOut := srv.cli(t, srv.Admin, "experiment", "hypothesis", "set", "new-onboarding", "--env", "production",
		"--primary", "onboarding-completed", "--min-effect", "3%"); code != 0 {
		t.Fatalf("hypothesis set: %d %s", code, errOut)
	}
	if n := analyses(viewer, "/"); n != 1 {
		t.Errorf("the overview after one hypothesis changed ran %d analyses, want 1", n)
	}
	if _, page := admin.get("/experiments/production/new-onboarding"); !strings.Contains(page, "3%") {
		t.Errorf("the experiment's page does not show the changed minimum effect")
	}
}
