package ui

import (
	"context"
	"html/template"
	"math"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/sqlite"
	"github.com/valueloop/valueloop/sqlite/sqlitetest"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

// mustStore opens a fresh SQLite store with the clock c and an admin
// token, returned.
func mustStore(t *testing.T, c *clock) (*sqlite.DB, valueloop.Token) {
	t.Helper()
	var now func() time.Time
	if c != nil {
		now = c.now
	}
	db := sqlitetest.Open(t, now)
	tok := valueloop.Token{Name: "ann", Scope: valueloop.ScopeAdmin}
	if err := db.CreateToken(context.Background(), &tok, []byte("hash-of-ann"), "test"); err != nil {
		t.Fatal(err)
	}
	return db, tok
}

func TestSessionsExpire(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)}
	db, tok := mustStore(t, c)
	s := sessions{store: db, now: c.now, idle: time.Hour, absolute: 3 * time.Hour}
	live := func(id string) bool {
		t.Helper()
		ses, err := s.get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return ses != nil
	}
	id, err := s.create(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		after time.Duration
		live  bool
	}{
		{50 * time.Minute, true},  // used: idle expiry moves to 10:50
		{50 * time.Minute, true},  // 10:40
		{50 * time.Minute, true},  // 11:30
		{40 * time.Minute, false}, // 12:10: past the absolute limit of 12:00
	} {
		c.t = c.t.Add(step.after)
		if got := live(id); got != step.live {
			t.Fatalf("at %s: live %v, want %v", c.t.Format("15:04"), got, step.live)
		}
	}
	id, _ = s.create(ctx, tok)
	c.t = c.t.Add(61 * time.Minute)
	if live(id) {
		t.Error("a session idle for longer than its idle time is still live")
	}
	id, _ = s.create(ctx, tok)
	if err := s.delete(ctx, id); err != nil {
		t.Fatal(err)
	}
	if live(id) || live("") || live("made-up") {
		t.Error("a deleted, empty or unknown session id is live")
	}
	id, _ = s.create(ctx, tok)
	if ses, _ := s.get(ctx, id); ses == nil || ses.csrf != csrfOf(id) || ses.csrf == id || ses.Token.ID != tok.ID {
		t.Errorf("session %+v: want the token and a CSRF token derived from, not equal to, the id", ses)
	}
}

func TestLimiter(t *testing.T) {
	c := &clock{t: time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)}
	l := newLimiter(c.now, 3, time.Minute)
	for i := range 3 {
		if w, _ := l.take("1.2.3.4"); w != 0 {
			t.Fatalf("failure %d: wait %s, want none yet", i, w)
		}
		c.t = c.t.Add(10 * time.Second)
	}
	if w, _ := l.take("1.2.3.4"); w != 30*time.Second {
		t.Errorf("after 3 failures in 30s: wait %s, want 30s (until the first ages out)", w)
	}
	if w, _ := l.take("5.6.7.8"); w != 0 {
		t.Errorf("another address waits %s", w)
	}
	c.t = c.t.Add(31 * time.Second)
	w, at := l.take("1.2.3.4")
	if w != 0 {
		t.Errorf("after the window: wait %s", w)
	}
	l.forgive("1.2.3.4", at) // that one succeeded: two failures left in the window
	if w, _ := l.take("1.2.3.4"); w != 0 {
		t.Errorf("after a forgiven attempt: wait %s, want none (2 failures of 3)", w)
	}
	if w, _ := l.take("1.2.3.4"); w == 0 {
		t.Error("a fourth attempt in the window went ahead")
	}
}

// TestLimiterBound: with the map of addresses full, a new address sweeps
// out those whose failures have aged out, and keeps the lockouts still in
// their window.
func TestLimiterBound(t *testing.T) {
	c := &clock{t: time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)}
	l := newLimiter(c.now, 2, time.Minute)
	l.addrs = 3
	l.take("old")
	c.t = c.t.Add(time.Minute)
	l.take("locked")
	l.take("locked")
	l.take("other")
	l.take("new") // full: "old" has aged out and goes
	if got := len(l.failures); got != 3 {
		t.Errorf("addresses remembered: got %d, want 3", got)
	}
	if _, ok := l.failures["old"]; ok {
		t.Error("an address whose failures aged out is still remembered")
	}
	if w, _ := l.take("locked"); w != time.Minute {
		t.Errorf("the locked-out address waits %s after the map filled, want 1m", w)
	}
}

func TestClientAddr(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	for _, tc := range []struct{ remote, xff, want string }{
		{"192.0.2.7:5555", "", "192.0.2.7"},
		{"192.0.2.7:5555", "198.51.100.3", "192.0.2.7"}, // not a proxy: its header is ignored
		{"10.0.0.2:5555", "198.51.100.3", "198.51.100.3"},
		{"10.0.0.2:5555", "2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"},
		{"[2001:db8:1:2:aaaa::1]:443", "", "2001:db8:1:2::/64"},
		{"[2001:db8:1:2:bbbb::9]:443", "", "2001:db8:1:2::/64"},
		{"[64:ff9b::192.0.2.9]:443", "", "192.0.2.9"}, // an IPv4 client behind a translator
		{"[::ffff:192.0.2.7]:443", "", "192.0.2.7"},
		{"not-an-address", "", "not-an-address"},
	} {
		r := httptest.NewRequest("POST", "/signin", nil)
		r.RemoteAddr = tc.remote
		if tc.xff != "" {
			r.Header.Set("X-Forwarded-For", tc.xff)
		}
		if got := clientAddr(r, trusted); got != tc.want {
			t.Errorf("clientAddr(%q, X-Forwarded-For %q) = %q, want %q", tc.remote, tc.xff, got, tc.want)
		}
	}
}

func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"/flags/production": "/flags/production", "": "/", "https://evil.example/": "/",
		"//evil.example/": "/", "/\\evil.example": "/", "javascript:alert(1)": "/",
		// Browsers drop tabs and newlines anywhere in a URL and control
		// characters and spaces around it: each of these is //evil.example.
		"/\t/evil.example": "/", "/\n/evil.example": "/", "/\r\n/evil.example": "/", "/\t\\evil.example": "/",
		"/x\x00": "/", "/flags/production?q=a b": "/flags/production?q=a b",
		// http.Redirect cleans the path (up to "?"): each of these was
		// sent as Location: /\evil.example, //evil.example to a browser.
		"/./\\evil.example": "/", "/../\\evil.example": "/", "/a/../\\evil.example": "/", "/x#/../\\evil.example": "/",
		// Dot segments are resolved here, so that none climbs out of the
		// path prefix the redirect adds.
		"/../signin": "/signin", "/flags/./production/": "/flags/production/", "/a/..?x=/../y": "/?x=/../y",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestSignInRedirectStaysUnderPrefix: whatever next a sign-in is given,
// the redirect after it stays on this site and, behind a proxy, under
// the dashboard's path prefix.
func TestSignInRedirectStaysUnderPrefix(t *testing.T) {
	for _, prefix := range []string{"", "/flags"} {
		u := &UI{PathPrefix: prefix}
		for _, next := range []string{"/", "/flags/production", "/./\\evil.example", "/../\\evil.example", "/..//evil.example",
			"/../../other-app", "/a/../\\evil.example", "/x#/../\\evil.example", "/%2e%2e/x", "/..?next=//evil.example"} {
			w := httptest.NewRecorder()
			u.redirect(w, httptest.NewRequest("POST", "/signin", nil), safeNext(next))
			loc := w.Header().Get("Location")
			if !strings.HasPrefix(loc, prefix+"/") || strings.HasPrefix(loc, "//") || strings.ContainsRune(loc, '\\') {
				t.Errorf("prefix %q, next %q: Location %q, want a path under %q/ without a backslash", prefix, next, loc, prefix)
			}
		}
	}
}

func TestReadableTargeting(t *testing.T) {
	for _, tc := range []struct{ rule, want string }{
		{`{"if":[{"ends_with":[{"var":"email"},"@valueloop.dev"]},"on","off"]}`,
			`if email ends with "@valueloop.dev" → serve "on" | otherwise → serve "off"`},
		{`{"if":[{"sem_ver":[{"var":"version"},">=","2.1.0"]},"big"]}`,
			`if version >= version "2.1.0" → serve "big" | otherwise → the default variant`},
		{`{"fractional":[["a",90],["b",10]]}`, `serve split by targetingKey: "a" 90%, "b" 10%`},
		{`{"if":[{"or":[{"$ref":"staff"},{"in":[{"var":"country"},["NZ","IE"]]}]},"x",null]}`,
			`if (the shared rule "staff" or country in ["NZ", "IE"]) → serve "x" | otherwise → serve the default variant`},
		{``, ``},
		// Numbers as written: a user id beyond float64's 53 bits, a million.
		{`{"if":[{"in":[{"var":"userId"},[12345678901234567891,42]]},"on",null]}`,
			`if userId in [12345678901234567891, 42] → serve "on" | otherwise → serve the default variant`},
		{`{"if":[{">=":[{"var":"spend"},1000000]},"vip"]}`, `if spend ≥ 1000000 → serve "vip" | otherwise → the default variant`},
		{`{"fractional":[["a",90.5],["b",9.5]]}`, `serve split by targetingKey: "a" 90.5%, "b" 9.5%`},
	} {
		if got := strings.Join(readableTargeting([]byte(tc.rule)), " | "); got != tc.want {
			t.Errorf("readableTargeting(%s)\n got %s\nwant %s", tc.rule, got, tc.want)
		}
	}
}

// TestChartsHaveTextAlternatives: every chart names what it shows, in its
// leading <title> and nowhere else, also when it has no data: an
// aria-label of the same text made the title the chart's description,
// which a screen reader read a second time.
func TestChartsHaveTextAlternatives(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	charts := map[string]string{
		"line":   string(lineChart(chartSpec{Title: "T1", Series: []series{{Name: "a", Points: []point{{T: now, Y: 1}, {T: now.Add(time.Hour), Y: 2}}}}})),
		"empty":  string(lineChart(chartSpec{Title: "T2"})),
		"band":   string(lineChart(chartSpec{Title: "T3", Series: []series{{Name: "a", HasBand: true, Points: []point{{T: now, Y: 1, Lo: 0, Hi: 2}}}}})),
		"forest": string(forestPlot("T4", []forestRow{{Label: "b vs a", Est: 0.1, Lo: -0.1, Hi: 0.3}}, nil, signedPct, lift)),
		"spark":  string(sparkline("T5", []sparkPoint{{1, true}, {2, true}, {3, true}}, num)),
		"meter":  string(meter("T6", 40)),
	}
	for name, html := range charts {
		drawings := strings.SplitAfter(html, "</svg>") // a chart drawn for several widths: each drawing
		for _, svg := range drawings[:len(drawings)-1] {
			svg = strings.TrimPrefix(strings.TrimPrefix(svg, `<div class="chartbox">`), `<span class="sparkbox">`)
			if !regexpTitle.MatchString(svg) || strings.Contains(svg, "aria-label") {
				t.Errorf("%s chart lacks role=img and a leading <title>, or has an aria-label: %.120s", name, svg)
			}
		}
	}
	if !strings.Contains(charts["empty"], "no data yet") {
		t.Error("an empty chart does not say it has no data")
	}
}

var regexpTitle = regexp.MustCompile(`^<svg [^>]*role="img"><title>T\d</title>`)

func TestPercent(t *testing.T) {
	for _, tc := range []struct {
		x         float64
		pct, spct string
	}{
		{0.123, "12.3%", "+12.3%"}, {-0.0000001, "0%", "0%"}, {0.0000001, "0%", "0%"}, {-0.05, "-5%", "-5%"}, {1, "100%", "+100%"},
	} {
		if got := pct(tc.x); got != tc.pct {
			t.Errorf("pct(%v) = %q, want %q", tc.x, got, tc.pct)
		}
		if got := signedPct(tc.x); got != tc.spct {
			t.Errorf("signedPct(%v) = %q, want %q", tc.x, got, tc.spct)
		}
	}
}

// TestExposureChartDays: the exposures per day are labelled with days, not
// hours: one day of exposures (the demo's, a new flag's) read "Dec 6 23:00"
// to "Dec 7 01:00", an axis of hours for figures of a day. Between the
// ends, each day is named (TestTimeAxisTicks).
func TestExposureChartDays(t *testing.T) {
	day := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	for name, days := range map[string][]time.Time{"one day": {day}, "three days": {day.AddDate(0, 0, -2), day.AddDate(0, 0, -1), day}} {
		byDay := map[string]map[time.Time]int64{"on": {}, "off": {}}
		for _, d := range days {
			byDay["on"][d], byDay["off"][d] = 10, 5
		}
		chart, _ := exposureChart("f", []string{"off", "on"}, byDay)
		var labels []string
		for _, m := range regexp.MustCompile(`<text class="axis" x="[^"]*" y="(\d+)"[^>]*>([^<]*)</text>`).FindAllStringSubmatch(string(chart), -1) {
			if m[1] == "252" { // the time axis, under the plot (height 260 - 8)
				labels = append(labels, m[2])
			}
		}
		want := []string{"Dec 5", "Dec 7", "Dec 6"} // the ends, then the ticks between
		if len(days) == 1 {
			want = []string{"Dec 7"}
		}
		if !slices.Equal(labels, want) {
			t.Errorf("%s: the time axis reads %q, want %q", name, labels, want)
		}
	}
}

// TestLegendClearOfData: a line chart's key lies above its plot, so no
// point or interval is drawn under it at any width. It lay inside the
// plot's top left: a flag's one day of exposures put the top variant's
// point under the key's second entry on a phone (the 320 drawing), and
// an interval over time ran its first days' band under it.
func TestLegendClearOfData(t *testing.T) {
	day := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	oneDay := map[string]map[time.Time]int64{"classic": {day: 18191}, "one-page": {day: 1809}}
	exposures, _ := exposureChart("checkout-flow", []string{"classic", "one-page"}, oneDay)
	falling := map[string]map[time.Time]int64{"a": {}, "b": {}}
	for i := range 5 {
		falling["a"][day.AddDate(0, 0, i)], falling["b"][day.AddDate(0, 0, i)] = int64(100-10*i), int64(50+i)
	}
	fallingChart, _ := exposureChart("f", []string{"a", "b"}, falling)
	overTime, _ := intervalOverTime(narrowingDays(), "signup", effectRefs{}, "95%")
	keyEntry := regexp.MustCompile(`<rect class="dot s\d" x="([0-9.]+)" y="([0-9.]+)" width="10" height="10" rx="2"/><text class="legend" x="([0-9.]+)" y="[0-9.]+">([^<]*)</text>`)
	dot := regexp.MustCompile(`<circle class="dot s\d" cx="([0-9.]+)" cy="([0-9.]+)" r="3">`)
	band := regexp.MustCompile(`<polygon class="band s\d" points="([^"]*)"/>`)
	for name, chart := range map[string]template.HTML{"one day of exposures": exposures, "exposures highest first": fallingChart, "interval over time": overTime} {
		for _, m := range regexp.MustCompile(`(?s)<svg class="chart w(\d+)".*?</svg>`).FindAllStringSubmatch(string(chart), -1) {
			keys := keyEntry.FindAllStringSubmatch(m[0], -1)
			if len(keys) == 0 {
				t.Fatalf("%s w%s: no legend:\n%s", name, m[1], m[0])
			}
			legend := box{math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)}
			for _, k := range keys {
				legend = box{min(legend.x0, parsed(k[1])), min(legend.y0, parsed(k[2])),
					max(legend.x1, parsed(k[3])+7*float64(len(k[4]))), max(legend.y1, parsed(k[2])+12)}
			}
			for _, d := range dot.FindAllStringSubmatch(m[0], -1) {
				if cx, cy := parsed(d[1]), parsed(d[2]); (box{cx - 3, cy - 3, cx + 3, cy + 3}).meets(legend) {
					t.Errorf("%s w%s: the point at %s,%s lies under the legend %+v", name, m[1], d[1], d[2], legend)
				}
			}
			for _, p := range band.FindAllStringSubmatch(m[0], -1) {
				for _, xy := range strings.Fields(p[1]) {
					x, y, _ := strings.Cut(xy, ",")
					if px, py := parsed(x), parsed(y); px >= legend.x0 && px <= legend.x1 && py < legend.y1 {
						t.Errorf("%s w%s: the band's edge at %s runs above the legend's foot %+v", name, m[1], xy, legend)
					}
				}
			}
		}
	}
}
