package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// needBrowser returns the path of a Chromium or Chrome binary, or skips
// the test without one (fails it in CI).
func needBrowser(t *testing.T) string {
	t.Helper()
	bin := findBrowser()
	if bin == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("no chromium in CI: .ci/run installs it with apt-get install chromium")
		}
		t.Skip("no chromium or chrome binary on PATH: install it (apt-get install chromium) to run the browser test")
	}
	return bin
}

// findBrowser returns the path of a Chromium or Chrome binary, or "".
func findBrowser() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// screenshotDir is where the browser test writes its screenshots:
// VALUELOOP_SCREENSHOTS when set (docs/ui regenerates them so), else a
// temporary folder.
func screenshotDir(t *testing.T) string {
	if d := os.Getenv("VALUELOOP_SCREENSHOTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	d, err := os.MkdirTemp("", "valueloop-screenshots-")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// docShots are the screenshots docs/ui.md shows, written to
// VALUELOOP_SCREENSHOTS when it is set (a temporary folder gets them all).
var docShots = map[string]bool{
	"overview": true, "flags": true, "flag": true, "flag-edit-error": true, "rollout": true,
	"experiment": true, "experiment-dark": true, "delivery": true, "value": true, "value-feature": true,
	"value-feature-ranked": true,
}

// TestDashboardBrowser drives Debian's chromium through the DevTools
// protocol against the real server with the demo: one browser for every
// step. It signs in, opens every page (a screenshot of each is written and
// its path printed), shows a validation error, disables a flag and finds
// the change in the audit and on OFREP, pauses a rollout, signs out, and
// checks that a viewer sees no buttons and has its POST refused.
func TestDashboardBrowser(t *testing.T) {
	bin := needBrowser(t)
	srv := MustServe(t, "", "--demo")
	warm := mustSignIn(t, srv.URL, srv.Admin) // the screenshots show the charts over time
	waitForCharts(t, warm, "/experiments/production/new-onboarding")
	waitForCharts(t, warm, "/flags/production/checkout-flow")
	c := newChrome(t, bin, srv)
	c.openPages()
	c.skipLink()
	c.featureRank()
	c.editError()
	c.killSwitch()
	c.pauseAndSignOut()
	c.viewer()
	c.liveRefresh()
	c.refreshWaits()
}

// chrome is one headless browser on the test server, with the test's
// helpers around chromedp.
type chrome struct {
	t     *testing.T
	ctx   context.Context
	srv   *testServer
	shots string
	docs  bool // writing docs/ui's screenshots only
	began time.Time
}

func newChrome(t *testing.T, bin string, srv *testServer) *chrome {
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	ctx, cancel := context.WithTimeout(browserCtx, 3*time.Minute)
	t.Cleanup(func() { cancel(); cancelBrowser(); cancelAlloc() })
	return &chrome{t: t, ctx: ctx, srv: srv, shots: screenshotDir(t), docs: os.Getenv("VALUELOOP_SCREENSHOTS") != "", began: time.Now()}
}

func (c *chrome) do(step string, steps ...chromedp.Action[chromedp.Void]) {
	c.t.Helper()
	if err := chromedp.Do(c.ctx, steps...); err != nil {
		c.t.Fatalf("%s: %v", step, err)
	}
}

// open loads a path of the server and waits for its heading.
func (c *chrome) open(path string) {
	c.t.Helper()
	c.do("open "+path, chromedp.Navigate(c.srv.URL+path), chromedp.WaitVisible(chromedp.CSS(`main h1`)))
}

func (c *chrome) shoot(name string) {
	c.t.Helper()
	if c.docs && !docShots[name] {
		return
	}
	png, err := chromedp.Run(c.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		c.t.Fatalf("screenshot %s: %v", name, err)
	}
	p := filepath.Join(c.shots, name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		c.t.Fatal(err)
	}
	c.t.Logf("screenshot: %s (%s)", p, time.Since(c.began).Round(time.Millisecond))
}

func (c *chrome) text(sel string) string {
	c.t.Helper()
	s, err := chromedp.Run(c.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		c.t.Fatalf("read %s: %v", sel, err)
	}
	return s
}

// scheme emulates the system's colour scheme preference.
func (c *chrome) scheme(v string) {
	c.t.Helper()
	_, err := chromedp.Call(c.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: v}}})
	if err != nil {
		c.t.Fatalf("emulate %s: %v", v, err)
	}
}

func (c *chrome) signIn(token string) {
	c.t.Helper()
	c.do("sign in",
		chromedp.Navigate(c.srv.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#token`)),
		chromedp.SendKeys(chromedp.CSS(`#token`), token),
		chromedp.Submit(chromedp.CSS(`#token`)),
		chromedp.WaitVisible(chromedp.CSS(`nav[aria-label="Main"]`)),
	)
}

// featureRank: a ranked feature's page says, as the browser shows it, the
// rank and arithmetic next gives it.
func (c *chrome) featureRank() {
	c.t.Helper()
	var next struct {
		Ranked []struct {
			Feature, Explanation string
			Position             int
		}
	}
	if code, body := c.srv.call(c.t, "GET", "/api/v1/value/next", "", &next); code != 200 || len(next.Ranked) == 0 {
		c.t.Fatalf("next: %d %.300s", code, body)
	}
	r := next.Ranked[len(next.Ranked)-1] // the last: a rank that is not 1
	c.open("/value/features/" + r.Feature)
	want := fmt.Sprintf("Rank %d of %d by WSJF in what to build next", r.Position, len(next.Ranked))
	if got := c.text(`section[aria-labelledby="rank-h"] p`); !strings.HasPrefix(got, want) {
		c.t.Errorf("%s's page says %q, want %q as next ranks it", r.Feature, got, want)
	}
	if got := c.text(`section[aria-labelledby="rank-h"] .explain`); got != r.Explanation {
		c.t.Errorf("%s's page explains %q, want next's %q", r.Feature, got, r.Explanation)
	}
}

// openPages signs in as admin and opens every page, in both themes.
func (c *chrome) openPages() {
	c.do("open", chromedp.Navigate(c.srv.URL+"/"), chromedp.WaitVisible(chromedp.CSS(`#token`)))
	c.shoot("signin")
	// The command of the sign-in hint is one line: it wrapped after "--".
	// (One rect per line and per element on it: the lines are their tops.)
	lines, err := chromedp.Run(c.ctx, chromedp.Evaluate[int](`new Set([...document.querySelector(".signin code").getClientRects()].map(r => Math.round(r.top))).size`))
	if err != nil || lines != 1 {
		c.t.Errorf("the sign-in hint's command is drawn on %d lines, want 1 (%v)", lines, err)
	}
	c.signIn(c.srv.Admin)
	if h := c.text("h1"); h != "The loop" {
		c.t.Errorf("after sign-in the page says %q, want the loop overview", h)
	}
	for _, p := range dashboardPages {
		if p.name == "flags-search" || p.name == "flag-confirm" {
			continue
		}
		c.open(p.path)
		if body := c.text("main"); !strings.Contains(body, p.want) {
			c.t.Errorf("%s in the browser does not show %q", p.path, p.want)
		}
		c.fits(p.path)
		c.legible(p.path)
		c.refLabelsClear(p.path)
		c.rowHeadings(p.path)
		c.shoot(p.name)
	}
	c.open("/flags/production/theme") // object-valued variants: long JSON in a half-width card
	c.fits("/flags/production/theme")
	c.longKey()
	c.phone()
	c.scheme("dark") // the dark theme follows the system's preference
	c.open("/experiments/production/new-onboarding")
	c.legible("/experiments/production/new-onboarding, dark")
	c.shoot("experiment-dark")
	c.open("/")
	c.legible("/, dark")
	c.shoot("overview-dark")
	for _, p := range []string{"/flags/production/checkout-flow", "/rollouts/production/checkout-flow", "/delivery", "/value"} {
		c.open(p) // the kill switch and the other buttons, the levels
		c.legible(p + ", dark")
	}
	c.scheme("light")
}

// refLabelsClear checks, by the boxes the browser lays out, that no
// reference line's label (a rollout's "tolerance", "minimum effect") lies
// on an interval band of its chart: the label's box must not meet the
// band's box, or where the boxes meet (a band that crosses the line), no
// point of the label's box may be inside the band's fill.
func (c *chrome) refLabelsClear(path string) {
	c.t.Helper()
	over, err := chromedp.Run(c.ctx, chromedp.Evaluate[[]string](`(() => {
		const out = [];
		for (const svg of document.querySelectorAll("svg.chart")) {
			const bands = [...svg.querySelectorAll("polygon.band, line.band-line")];
			for (const t of svg.querySelectorAll("text.reflabel")) {
				const b = t.getBBox();
				for (const band of bands) {
					const bb = band.getBBox();
					if (!(b.x < bb.x + bb.width && b.x + b.width > bb.x && b.y < bb.y + bb.height && b.y + b.height > bb.y)) continue;
					let inside = band.tagName !== "polygon"; // a one-point band is a line: its box is all of it
					for (let i = 0; i <= 16 && !inside; i++) for (let j = 0; j <= 4 && !inside; j++) {
						const p = svg.createSVGPoint();
						p.x = b.x + b.width * i / 16; p.y = b.y + b.height * j / 4;
						inside = band.isPointInFill(p);
					}
					if (inside) out.push("the label " + JSON.stringify(t.textContent) + " (" + [b.x, b.y, b.width, b.height].map(Math.round) +
						") lies on the interval band (" + [bb.x, bb.y, bb.width, bb.height].map(Math.round) + ") of " + JSON.stringify(svg.querySelector("title").textContent.slice(0, 50)));
				}
			}
		}
		return out;
	})()`))
	if err != nil {
		c.t.Fatalf("measure %s: %v", path, err)
	}
	for _, o := range over {
		c.t.Errorf("%s: %s", path, o)
	}
}

// rowHeadings checks that a row's heading (a team, a service, a stage)
// reads as the row's name, not dressed as the columns' headings are (small
// capitals, muted): "CHECKOUT TEAM PAYMENTS" ran a service and its team
// together.
func (c *chrome) rowHeadings(path string) {
	c.t.Helper()
	caps, err := chromedp.Run(c.ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('th[scope="row"]')]
		.filter(e => getComputedStyle(e).textTransform === "uppercase").map(e => e.textContent.trim())`))
	if err != nil {
		c.t.Fatalf("measure %s: %v", path, err)
	}
	if len(caps) > 0 {
		c.t.Errorf("%s: row headings dressed as column headings (capitals): %q", path, caps)
	}
}

// fits checks that the open page fits the window's width and that nothing
// spills out of its card (a long value in a table, a chart).
func (c *chrome) fits(path string) {
	c.t.Helper()
	over, err := chromedp.Run(c.ctx, chromedp.Evaluate[[]string](`(() => {
		const out = [], root = document.documentElement;
		if (root.scrollWidth > root.clientWidth) out.push("the page: " + root.scrollWidth + "px wide in " + root.clientWidth);
		for (const el of document.querySelectorAll(".card")) {
			if (el.scrollWidth > el.clientWidth + 1) {
				const h = el.querySelector("h1, h2, h3");
				out.push("card " + (h ? h.textContent.trim() : el.className) + ": " + el.scrollWidth + "px wide in " + el.clientWidth);
			}
		}
		return out;
	})()`))
	if err != nil {
		c.t.Fatalf("measure %s: %v", path, err)
	}
	for _, o := range over {
		c.t.Errorf("%s overflows: %s", path, o)
	}
}

// longKey opens the pages of a flag whose key is as long as keys may be
// (200 characters, no space to break at): each still fits the window.
func (c *chrome) longKey() {
	c.t.Helper()
	key := strings.Repeat("a", 66) + "." + strings.Repeat("b", 66) + "-" + strings.Repeat("c", 66)
	if resp, body := sendJSON(c.t, http.MethodPut, c.srv.URL+"/api/v1/environments/production/flags/"+key, c.srv.Admin,
		`{"state":"ENABLED","defaultVariant":"on","variants":{"on":true,"off":false}}`); resp.StatusCode/100 != 2 {
		c.t.Fatalf("create a flag with a long key: %d %s", resp.StatusCode, body)
	}
	for _, p := range []string{"/flags/production", "/flags/production/" + key, "/flags/production/" + key + "/edit", "/flags/production/" + key + "/state?to=DISABLED"} {
		c.open(p)
		c.fits(strings.Replace(p, key, "<200-character key>", 1))
	}
	if resp, body := sendJSON(c.t, http.MethodDelete, c.srv.URL+"/api/v1/environments/production/flags/"+key, c.srv.Admin, ""); resp.StatusCode/100 != 2 {
		c.t.Fatalf("delete the flag with a long key: %d %s", resp.StatusCode, body)
	}
	// A feature's key may be 100 characters: the overview's stages keep
	// their equal widths.
	feature := strings.Repeat("f", 50) + "-" + strings.Repeat("g", 49)
	if resp, body := post(c.t, c.srv.URL+"/api/v1/features", c.srv.Admin, `{"key":"`+feature+`","title":"A long key","objective":"activation",`+
		`"hypothesis":{"change":"x","for":"y","outcome":"z"}}`); resp.StatusCode/100 != 2 {
		c.t.Fatalf("create a feature with a long key: %d %s", resp.StatusCode, body)
	}
	c.open("/")
	c.fits("/ with a long feature key")
	widths, err := chromedp.Run(c.ctx, chromedp.Evaluate[[]int](`[...document.querySelectorAll(".stage")].map(e => Math.round(e.getBoundingClientRect().width))`))
	if err != nil {
		c.t.Fatal(err)
	}
	if len(widths) == 0 || slices.Max(widths)-slices.Min(widths) > 1 {
		c.t.Errorf("the overview's stage cards are %v px wide with a 100-character feature key, want equal widths", widths)
	}
	if resp, body := sendJSON(c.t, http.MethodDelete, c.srv.URL+"/api/v1/features/"+feature, c.srv.Admin, ""); resp.StatusCode/100 != 2 {
		c.t.Fatalf("delete the feature with a long key: %d %s", resp.StatusCode, body)
	}
}

// phone opens every page in a phone's width (390px): none is wider than
// the screen (a wide table scrolls inside its card), so that the kill
// switch, say, is in reach without scrolling sideways.
func (c *chrome) phone() {
	c.t.Helper()
	c.do("phone", chromedp.EmulateViewport(390, 844))
	defer c.do("desktop", chromedp.EmulateViewport(1280, 900))
	for _, p := range dashboardPages {
		c.open(p.path)
		w, err := chromedp.Run(c.ctx, chromedp.Evaluate[[]int](`[document.documentElement.scrollWidth, document.documentElement.clientWidth]`))
		if err != nil {
			c.t.Fatal(err)
		}
		if w[0] > w[1] {
			c.t.Errorf("%s on a phone: %dpx wide in %dpx", p.path, w[0], w[1])
		}
	}
	c.open("/flags/production/checkout-flow") // its audit holds a whole rollout's and a whole flag's change
	c.wordsWhole("the audit's paths", `table.diff td:nth-child(2)`)
}

// wordsWhole checks that no word of the text in sel (other than a path,
// which may break at any character) is broken across two lines: the
// audit's "(whole rollout)" read "(whole rollou / t)" on a phone.
func (c *chrome) wordsWhole(what, sel string) {
	c.t.Helper()
	broken, err := chromedp.Run(c.ctx, chromedp.Evaluate[[]string](`(() => {
		const out = [];
		for (const el of document.querySelectorAll(`+"`"+sel+"`"+`)) {
			const walk = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
			for (let n = walk.nextNode(); n; n = walk.nextNode()) {
				for (const m of n.textContent.matchAll(/[^\s\/]+/g)) {
					if (n.textContent.includes("/")) continue; // a JSON pointer breaks anywhere
					const r = document.createRange();
					r.setStart(n, m.index); r.setEnd(n, m.index + m[0].length);
					const tops = new Set([...r.getClientRects()].map(b => Math.round(b.top)));
					if (tops.size > 1) out.push(m[0]);
				}
			}
		}
		return out;
	})()`))
	if err != nil {
		c.t.Fatalf("measure %s: %v", what, err)
	}
	if len(broken) > 0 {
		c.t.Errorf("%s on a phone break words across lines: %q", what, broken)
	}
}

// legible checks the contrast of every piece of text on the open page
// against what is behind it, tints composited: WCAG AA, 4.5:1 (3:1 for
// large text).
func (c *chrome) legible(page string) {
	c.t.Helper()
	low, err := chromedp.Run(c.ctx, chromedp.Evaluate[[]string](contrastScript))
	if err != nil {
		c.t.Fatalf("measure the contrast of %s: %v", page, err)
	}
	for _, l := range low {
		c.t.Errorf("%s: text below WCAG AA contrast: %s", page, l)
	}
	drawn, err := chromedp.Run(c.ctx, chromedp.Evaluate[[]string](chartContrastScript))
	if err != nil {
		c.t.Fatalf("measure the contrast of %s's charts: %v", page, err)
	}
	for _, l := range drawn {
		c.t.Errorf("%s: chart text below WCAG AA contrast: %s", page, l)
	}
}

// chartContrastScript lists the text drawn in the open page's charts (SVG:
// axis labels, legends, values) whose fill has less than 4.5:1 contrast
// against what is behind it, with its class, text, colours and ratio:
// legible's script reads an element's CSS color, which SVG text does not
// paint with. Behind a glyph is its halo (a stroke painted under it,
// paint-order: stroke), else the topmost filled shape under its centre
// (a bar, a band), tints composited, else the card. Before, the charts'
// text was checked by no test.
const chartContrastScript = `(() => {
` + contrastHelpers + `  const paint = (el, prop, opacityProp) => {
    const cs = getComputedStyle(el);
    const c = parse(cs[prop]);
    if (!c) return null;
    c[3] *= parseFloat(cs[opacityProp]) * parseFloat(cs.opacity);
    return c;
  };
  const shapes = new Set(["rect", "polygon", "path", "circle", "ellipse"]);
  const hex = c => "#" + c.slice(0,3).map(x => Math.round(x*255).toString(16).padStart(2, "0")).join("");
  const out = [];
  for (const t of document.querySelectorAll("main svg text")) {
    const box = t.getBoundingClientRect();
    if (!box.width || !t.textContent.trim()) continue;
    const svg = t.ownerSVGElement;
    let bg = bgOf(svg);
    const x = box.left + box.width/2, y = box.top + box.height/2;
    const under = document.elementsFromPoint(x, y).filter(e => svg.contains(e) && e !== t && shapes.has(e.tagName));
    for (const e of under.reverse()) { const f = paint(e, "fill", "fillOpacity"); if (f && f[3] > 0) bg = over(f, bg); }
    const cs = getComputedStyle(t);
    if (cs.paintOrder.startsWith("stroke") && parseFloat(cs.strokeWidth) >= 2) {
      const halo = paint(t, "stroke", "strokeOpacity");
      if (halo && halo[3] > 0) bg = over(halo, bg);
    }
    const fill = paint(t, "fill", "fillOpacity");
    if (!fill) { out.push(t.getAttribute("class") + " \"" + t.textContent.trim().slice(0,30) + "\" has no fill: " + cs.fill); continue; }
    const fg = over(fill, bg);
    const l1 = lum(fg), l2 = lum(bg);
    const ratio = (Math.max(l1,l2)+0.05)/(Math.min(l1,l2)+0.05);
    if (ratio < 4.5) out.push("text." + t.getAttribute("class") + " \"" + t.textContent.trim().slice(0,30) + "\" " + hex(fg) + " on " + hex(bg) + " " + ratio.toFixed(2));
  }
  return [...new Set(out)];
})()`

// contrastHelpers are the scripts' colour arithmetic: parse reads a
// computed colour, over composites a tint on what is under it, bgOf is what
// is behind an element (its ancestors' backgrounds composited), lum is a
// colour's relative luminance (WCAG).
const contrastHelpers = `
  const parse = s => {
    let m = s.match(/^rgba?\(([^)]*)\)$/);
    if (m) { const p = m[1].split(/[ ,\/]+/).filter(Boolean).map(Number); return [p[0]/255, p[1]/255, p[2]/255, p.length > 3 ? p[3] : 1]; }
    m = s.match(/^color\(srgb ([^)]*)\)$/);
    if (m) { const p = m[1].split(/[ \/]+/).filter(Boolean).map(Number); return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1]; }
    return null;
  };
  const over = (top, bottom) => [0,1,2].map(i => top[i]*top[3] + bottom[i]*(1-top[3])).concat([1]);
  const bgOf = el => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c && c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
    }
    let out = [1,1,1,1];
    for (let i = layers.length - 1; i >= 0; i--) out = over(layers[i], out);
    return out;
  };
  const lum = c => { const f = x => x <= 0.03928 ? x/12.92 : Math.pow((x+0.055)/1.055, 2.4); return 0.2126*f(c[0]) + 0.7152*f(c[1]) + 0.0722*f(c[2]); };
`

// contrastScript lists the visible text whose contrast is below WCAG AA,
// with its element, text and ratio.
const contrastScript = `(() => {
` + contrastHelpers + `  const out = [];
  for (const el of document.querySelectorAll("header *, main *, footer")) {
    if (!el.offsetParent && el.tagName !== "FOOTER") continue;
    const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    if (!own) continue;
    const cs = getComputedStyle(el);
    const fg = parse(cs.color); if (!fg) continue;
    const bg = bgOf(el);
    const c = over(fg, bg);
    const l1 = lum(c), l2 = lum(bg);
    const ratio = (Math.max(l1,l2)+0.05)/(Math.min(l1,l2)+0.05);
    const size = parseFloat(cs.fontSize), bold = parseInt(cs.fontWeight) >= 700;
    const need = (size >= 24 || (bold && size >= 18.66)) ? 3 : 4.5;
    if (ratio < need) out.push(el.tagName.toLowerCase() + "." + el.className + " \"" + el.textContent.trim().slice(0,30) + "\" " + ratio.toFixed(2));
  }
  return [...new Set(out)];
})()`

// editError saves a definition that does not validate: the problem shows
// next to its field.
func (c *chrome) editError() {
	c.open("/flags/production/theme/edit")
	c.do("edit",
		chromedp.SetValue(chromedp.CSS(`#defaultVariant`), "sepia"),
		chromedp.Click(chromedp.CSS(`form.edit button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#dv-err`)),
	)
	if got := c.text("#dv-err"); !strings.Contains(got, "sepia") {
		c.t.Errorf("the error next to the default variant says %q, want it to name the variant", got)
	}
	c.shoot("flag-edit-error")
}

// killSwitch disables a flag through the confirm step and finds the change
// in the audit and on OFREP.
func (c *chrome) killSwitch() {
	c.open("/flags/production/kill-switch-payments")
	c.do("disable",
		chromedp.Click(chromedp.CSS(`#disable`)),
		chromedp.WaitVisible(chromedp.CSS(`#confirm`)),
		chromedp.SendKeys(chromedp.CSS(`#reason`), "payments provider down"),
	)
	c.shoot("flag-confirm")
	c.do("confirm", chromedp.Click(chromedp.CSS(`#confirm`)), chromedp.WaitVisible(chromedp.CSS(`.flash`)))
	if got := c.text(".flash"); !strings.Contains(got, "Disabled kill-switch-payments") {
		c.t.Errorf("flash after disabling: %q", got)
	}
	if got := c.text("h1 .state"); got != "DISABLED" {
		c.t.Errorf("the flag's state after disabling: %q", got)
	}
	if got := c.text(".audit"); !strings.Contains(got, "payments provider down") || !strings.Contains(got, `"DISABLED"`) {
		c.t.Errorf("the audit does not show the change with its reason and diff:\n%s", got)
	}
	if got := ofrepAnswer(c.t, c.srv, "kill-switch-payments"); !strings.Contains(got, `"DISABLED"`) {
		c.t.Errorf("OFREP after disabling: %s, want reason DISABLED", got)
	}
}

// pauseAndSignOut pauses the demo's rollout, then signs out: the session
// ends.
func (c *chrome) pauseAndSignOut() {
	c.open("/rollouts/production/checkout-flow")
	c.do("pause", chromedp.Click(chromedp.CSS(`#pause`)), chromedp.WaitVisible(chromedp.CSS(`.flash`)))
	if got := c.text("h1 .state"); got != "paused" {
		c.t.Errorf("the rollout's state after pausing: %q", got)
	}
	c.shoot("rollout-paused")
	c.do("sign out", chromedp.Click(chromedp.CSS(`.signout button`)), chromedp.WaitVisible(chromedp.CSS(`#token`)))
	c.do("after sign-out", chromedp.Navigate(c.srv.URL+"/flags/production"), chromedp.WaitVisible(chromedp.CSS(`#token`)))
}

// viewer signs in with a viewer token: no button that changes anything,
// and a POST with the session's own CSRF token is refused.
func (c *chrome) viewer() {
	c.signIn(createToken(c.t, c.srv, "viewer", ""))
	for _, p := range []string{"/flags/production/checkout-flow", "/rollouts/production/checkout-flow"} {
		c.open(p)
		n, err := chromedp.Run(c.ctx, chromedp.Evaluate[int](`document.querySelectorAll("#disable, #enable, #edit, #pause, #resume, #advance, #rollback").length`))
		if err != nil {
			c.t.Fatal(err)
		}
		if n != 0 {
			c.t.Errorf("a viewer sees %d change buttons on %s", n, p)
		}
	}
	c.shoot("viewer-flag")
	status, err := chromedp.Run(c.ctx, chromedp.Evaluate[int](`(async () => {
		const csrf = document.querySelector('input[name="csrf"]').value;
		const r = await fetch("/flags/production/theme/state", {method: "POST", body: new URLSearchParams({csrf: csrf, to: "DISABLED"})});
		return r.status;
	})()`, func(p *runtime.EvaluateParams) { p.AwaitPromise = new(true) }))
	if err != nil {
		c.t.Fatal(err)
	}
	if status != http.StatusForbidden {
		c.t.Errorf("a viewer's POST from the browser: %d, want 403", status)
	}
	if got := ofrepAnswer(c.t, c.srv, "theme"); strings.Contains(got, "DISABLED") {
		c.t.Errorf("a viewer changed the flag: %s", got)
	}
}

// liveRefresh: a change made through the API shows on an open page without
// a reload by the user: the page's script reloads it (data-refresh). The
// browser's clock for intervals runs 120 times fast, so that the page's
// 60 seconds pass in half of one; the script itself is the one served.
func (c *chrome) liveRefresh() {
	c.t.Helper()
	_, err := chromedp.Call(c.ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
		Source: `(function () { var si = window.setInterval; window.setInterval = function (f, ms) { return si(f, ms / 120); }; })();`})
	if err != nil {
		c.t.Fatalf("speed up the page's clock: %v", err)
	}
	c.open("/flags/production/theme")
	if got := c.text("h1 .state"); got != "ENABLED" {
		c.t.Fatalf("theme's state before: %q", got)
	}
	if _, err := chromedp.Run(c.ctx, chromedp.Evaluate[bool](`window.notReloaded = true`)); err != nil {
		c.t.Fatal(err)
	}
	if resp, body := post(c.t, c.srv.URL+"/api/v1/environments/production/flags/theme/disable", c.srv.Admin, `{"reason":"live refresh test"}`); resp.StatusCode != http.StatusOK {
		c.t.Fatalf("disable through the API: %d %s", resp.StatusCode, body)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(c.ctx, 2*time.Second)
		state, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("h1 .state")))
		cancel()
		if err == nil && state == "DISABLED" {
			break
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("the open page still shows %q (%v) 20s after the API disabled the flag: no live refresh", state, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if same, err := chromedp.Run(c.ctx, chromedp.Evaluate[bool](`window.notReloaded === true`)); err != nil || same {
		c.t.Errorf("the state changed without a reload of the page (%v, %v): want the script's reload", same, err)
	}
}

// TestThroughputLegendBrowser: the value page's throughput chart says on
// screen which colour is which (before, only its screen-reader text did):
// a key of validated and invalidated, each swatch filled as its bars are,
// laid out inside the chart and on no bar or axis label.
func TestThroughputLegendBrowser(t *testing.T) {
	bin := needBrowser(t)
	srv := MustServe(t, "", "--demo")
	c := newChrome(t, bin, srv)
	c.signIn(srv.Admin)
	for _, scheme := range []string{"light", "dark"} {
		c.scheme(scheme)
		c.open("/value")
		problems, err := chromedp.Run(c.ctx, chromedp.Evaluate[[]string](throughputLegendScript))
		if err != nil {
			t.Fatalf("measure the throughput chart: %v", err)
		}
		for _, p := range problems {
			t.Errorf("%s theme: throughput chart: %s", scheme, p)
		}
	}
	c.shoot("value-throughput")
}

// throughputLegendScript lists what is wrong with the throughput chart's
// key, by the boxes and colours the browser computes.
const throughputLegendScript = `(() => {
  const svg = [...document.querySelectorAll("svg.bars")].find(s => s.getBoundingClientRect().width > 0); // the drawing shown
  if (!svg) return ["no chart"];
  const out = [];
  const texts = [...svg.querySelectorAll("text.legend")];
  const names = texts.map(t => t.textContent.trim());
  if (names.join(",") !== "validated,invalidated") out.push("key says " + JSON.stringify(names) + ", want validated, invalidated");
  const bars = [...svg.querySelectorAll("rect.bar:not(.key)")];
  if (bars.length === 0) out.push("no bars to explain");
  const box = el => el.getBoundingClientRect();
  const meet = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
  const outer = box(svg);
  const labels = [...svg.querySelectorAll("text.axis")];
  for (const [cls, name] of [["good", "validated"], ["badbar", "invalidated"]]) {
    const sw = svg.querySelector("rect.key." + cls);
    if (!sw) { out.push("no swatch for " + name); continue; }
    const fill = getComputedStyle(sw).fill;
    const bar = svg.querySelector("rect.bar." + cls + ":not(.key)");
    if (bar && getComputedStyle(bar).fill !== fill) out.push(name + " swatch is " + fill + ", its bars " + getComputedStyle(bar).fill);
  }
  for (const el of [...svg.querySelectorAll("rect.key")].concat(texts)) {
    const b = box(el);
    if (b.width === 0 || b.height === 0) out.push(el.tagName + "." + el.getAttribute("class") + " is not laid out");
    if (b.left < outer.left || b.right > outer.right || b.top < outer.top || b.bottom > outer.bottom) out.push(JSON.stringify(el.textContent || el.getAttribute("class")) + " lies outside the chart");
    for (const o of bars.concat(labels)) {
      if (meet(b, box(o))) out.push(JSON.stringify(el.textContent || el.getAttribute("class")) + " lies on " + o.tagName + "." + o.getAttribute("class"));
    }
  }
  return out;
})()`

// TestChartTextBrowser: every chart's text (axis ticks, row labels,
// reference labels, keys) on the experiment, rollout and delivery pages
// (and a flag's exposures, the value page's bars) is at least 10 CSS px tall as the browser renders it, on phones
// (320, the narrowest WCAG's reflow asks for, 360, the commonest Android,
// and 390 wide: at 360 it was drawn 9.5px) and on a desktop (1280 wide),
// and nothing overflows
// sideways. Before, each chart was one 960-wide drawing scaled to its
// card: on a phone its 11px text rendered about 3.5px tall.
func TestChartTextBrowser(t *testing.T) {
	bin := needBrowser(t)
	srv := MustServe(t, "", "--demo")
	warm := mustSignIn(t, srv.URL, srv.Admin)
	waitForCharts(t, warm, "/experiments/production/new-onboarding")
	c := newChrome(t, bin, srv)
	c.signIn(srv.Admin)
	for _, size := range [][2]int64{{320, 640}, {360, 780}, {390, 844}, {1280, 900}} {
		c.do("viewport", chromedp.EmulateViewport(size[0], size[1]))
		for _, p := range []string{"/experiments/production/new-onboarding", "/experiments/production/new-onboarding?dimension=platform",
			"/rollouts/production/checkout-flow", "/delivery", "/flags/production/checkout-flow", "/value"} {
			c.open(p)
			where := fmt.Sprintf("%s at %dpx", p, size[0])
			if size[0] > 1000 {
				c.fits(where) // on a phone a wide table scrolls inside its card, by design
			}
			small, err := chromedp.Run(c.ctx, chromedp.Evaluate[[]string](chartTextScript))
			if err != nil {
				t.Fatalf("measure %s: %v", where, err)
			}
			for _, s := range small {
				t.Errorf("%s: %s", where, s)
			}
			if size[0] == 390 {
				c.shoot("phone" + strings.NewReplacer("/", "-", "?", "-", "=", "-").Replace(p))
			}
		}
	}
}

// chartTextScript lists the visible text of the page's charts rendered
// less than 10 CSS px tall (its font size as drawn, the computed size
// times the chart's scale, and the height of its box) or cut off by its
// chart's edge, a chart wider than its card, and a page wider than the
// window; "no chart text" when an experiment or rollout page shows none
// (the check would prove nothing).
const chartTextScript = `(() => {
  const out = [], root = document.documentElement;
  if (root.scrollWidth > root.clientWidth) out.push("the page: " + root.scrollWidth + "px wide in " + root.clientWidth);
  for (const svg of document.querySelectorAll("svg.chart, svg.bars")) {
    const r = svg.getBoundingClientRect(), card = svg.closest(".card");
    if (r.width === 0 || !card) continue;
    const cr = card.getBoundingClientRect();
    if (r.left < cr.left || r.right > cr.right) out.push("a chart " + Math.round(r.width) + "px wide spills out of its card " + Math.round(cr.width) + "px wide");
    for (const t of svg.querySelectorAll("text")) {
      const b = t.getBoundingClientRect();
      if (b.left < r.left - 1 || b.right > r.right + 1) out.push(JSON.stringify(t.textContent.slice(0, 30)) + " is cut off by its chart's edge");
    }
  }
  let seen = 0;
  for (const t of document.querySelectorAll("svg text")) {
    const r = t.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue; // not displayed
    seen++;
    const drawn = parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a;
    if (drawn < 10 || r.height < 10) out.push(JSON.stringify(t.textContent.slice(0, 30)) + " (" + t.getAttribute("class") + ") drawn " + drawn.toFixed(1) + "px, box " + r.height.toFixed(1) + "px tall");
  }
  if (seen === 0 && !location.pathname.startsWith("/delivery")) out.push("no chart text");
  return out;
})()`

// refreshWaits: the live refresh (sped up by liveRefresh) waits while a
// link or button has the keyboard's focus or text is selected: a reload
// sent a keyboard user's focus back to the top of the page, and dropped
// a figure selected to copy.
func (c *chrome) refreshWaits() {
	c.t.Helper()
	_, err := chromedp.Call(c.ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
		Source: `(function () { var si = window.setInterval; window.ticks = 0; window.setInterval = function (f, ms) { return si(function () { f(); window.ticks++; }, ms); }; })();`})
	if err != nil {
		c.t.Fatalf("count the page's refresh ticks: %v", err)
	}
	for _, tc := range []struct {
		what, hold string
		click      bool // then click main's first link with the mouse
		reload     bool
	}{
		{what: "a link focused", hold: `document.querySelector("main a").focus()`},
		{what: "text selected", hold: `document.activeElement.blur(), window.getSelection().selectAllChildren(document.querySelector("h1"))`},
		// A link clicked with the mouse keeps the focus, without a ring,
		// on the page it left (and on the page gone back to): nobody's
		// keyboard is on it, and the page stood still for good.
		{what: "a link clicked with the mouse", hold: `document.querySelector("main a").addEventListener("click", e => e.preventDefault())`, click: true, reload: true},
	} {
		c.open("/flags/production/theme")
		if _, err := chromedp.Run(c.ctx, chromedp.Evaluate[bool](`window.notReloaded = true, `+tc.hold+`, true`)); err != nil {
			c.t.Fatal(err)
		}
		if tc.click {
			c.do("click main's first link", chromedp.Click(chromedp.CSS(`main a`)))
			if focused, err := chromedp.Run(c.ctx, chromedp.Evaluate[bool](`document.activeElement === document.querySelector("main a")`)); err != nil || !focused {
				c.t.Fatalf("the link clicked has not the focus (%v): the case tests nothing", err)
			}
		}
		// Three ticks of the refresh, or a reload (a new page has no mark).
		for {
			done, err := chromedp.Run(c.ctx, chromedp.Evaluate[bool](`window.notReloaded !== true || window.ticks >= 3`))
			if err == nil && done {
				break
			}
			if c.ctx.Err() != nil {
				c.t.Fatalf("with %s: neither a reload nor three refresh ticks: %v", tc.what, c.ctx.Err())
			}
			time.Sleep(50 * time.Millisecond)
		}
		same, err := chromedp.Run(c.ctx, chromedp.Evaluate[bool](`window.notReloaded === true`))
		switch {
		case err != nil:
			c.t.Errorf("with %s: %v", tc.what, err)
		case same && tc.reload:
			c.t.Errorf("with %s the live refresh never reloaded the page", tc.what)
		case !same && !tc.reload:
			c.t.Errorf("with %s the live refresh reloaded the page", tc.what)
		}
	}
}
