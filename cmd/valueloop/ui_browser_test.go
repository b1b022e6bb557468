package main

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

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
	"experiment": true, "experiment-dark": true, "delivery": true,
}

// TestDashboardBrowser drives Debian's chromium through the DevTools
// protocol against the real server with the demo: one browser for every
// step. It signs in, opens every page (a screenshot of each is written and
// its path printed), disables a flag and finds the change in the audit and
// on OFREP, pauses a rollout, checks that a viewer sees no buttons, and
// signs out.
func TestDashboardBrowser(t *testing.T) {
	bin := findBrowser()
	if bin == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("no chromium in CI: .ci/run installs it with apt-get install chromium")
		}
		t.Skip("no chromium or chrome binary on PATH: install it (apt-get install chromium) to run the browser test")
	}
	srv := MustServe(t, "", "--demo")
	shots := screenshotDir(t)
	docs := os.Getenv("VALUELOOP_SCREENSHOTS") != ""

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()
	ctx, cancel := context.WithTimeout(browserCtx, 3*time.Minute)
	defer cancel()

	began := time.Now()
	do := func(step string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
	}
	shoot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if docs && !docShots[name] {
			return
		}
		p := filepath.Join(shots, name+".png")
		if err := os.WriteFile(p, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s (%s)", p, time.Since(began).Round(time.Millisecond))
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("read %s: %v", sel, err)
		}
		return s
	}
	scheme := func(v string) {
		t.Helper()
		_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: v}}})
		if err != nil {
			t.Fatalf("emulate %s: %v", v, err)
		}
	}
	signIn := func(token string) {
		t.Helper()
		do("sign in",
			chromedp.Navigate(srv.URL+"/"),
			chromedp.WaitVisible(chromedp.CSS(`#token`)),
			chromedp.SendKeys(chromedp.CSS(`#token`), token),
			chromedp.Submit(chromedp.CSS(`#token`)),
			chromedp.WaitVisible(chromedp.CSS(`nav[aria-label="Main"]`)),
		)
	}

	do("open", chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(chromedp.CSS(`#token`)))
	shoot("signin")
	signIn(srv.Admin)
	if h := text("h1"); h != "The loop" {
		t.Errorf("after sign-in the page says %q, want the loop overview", h)
	}

	for _, p := range dashboardPages {
		if p.name == "flags-search" || p.name == "flag-confirm" {
			continue
		}
		do("open "+p.path, chromedp.Navigate(srv.URL+p.path), chromedp.WaitVisible(chromedp.CSS(`main h1`)))
		if body := text("main"); !strings.Contains(body, p.want) {
			t.Errorf("%s in the browser does not show %q", p.path, p.want)
		}
		shoot(p.name)
	}
	// The dark theme follows the system's preference.
	scheme("dark")
	do("dark", chromedp.Navigate(srv.URL+"/experiments/production/new-onboarding"), chromedp.WaitVisible(chromedp.CSS(`main h1`)))
	shoot("experiment-dark")
	do("dark overview", chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(chromedp.CSS(`main h1`)))
	shoot("overview-dark")
	scheme("light")

	// A definition that does not validate: the problem next to its field.
	do("edit",
		chromedp.Navigate(srv.URL+"/flags/production/theme/edit"),
		chromedp.SetValue(chromedp.CSS(`#defaultVariant`), "sepia"),
		chromedp.Click(chromedp.CSS(`form.edit button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#dv-err`)),
	)
	if got := text("#dv-err"); !strings.Contains(got, "sepia") {
		t.Errorf("the error next to the default variant says %q, want it to name the variant", got)
	}
	shoot("flag-edit-error")

	// Kill switch: disable, confirm, and see it in the audit and on OFREP.
	do("disable",
		chromedp.Navigate(srv.URL+"/flags/production/kill-switch-payments"),
		chromedp.Click(chromedp.CSS(`#disable`)),
		chromedp.WaitVisible(chromedp.CSS(`#confirm`)),
		chromedp.SendKeys(chromedp.CSS(`#reason`), "payments provider down"),
	)
	shoot("flag-confirm")
	do("confirm", chromedp.Click(chromedp.CSS(`#confirm`)), chromedp.WaitVisible(chromedp.CSS(`.flash`)))
	if got := text(".flash"); !strings.Contains(got, "Disabled kill-switch-payments") {
		t.Errorf("flash after disabling: %q", got)
	}
	if got := text("h1 .state"); got != "DISABLED" {
		t.Errorf("the flag's state after disabling: %q", got)
	}
	if got := text(".audit"); !strings.Contains(got, "payments provider down") || !strings.Contains(got, `"DISABLED"`) {
		t.Errorf("the audit does not show the change with its reason and diff:\n%s", got)
	}
	if got := ofrepAnswer(t, srv, "kill-switch-payments"); !strings.Contains(got, `"DISABLED"`) {
		t.Errorf("OFREP after disabling: %s, want reason DISABLED", got)
	}

	// Pause the rollout.
	do("pause",
		chromedp.Navigate(srv.URL+"/rollouts/production/checkout-flow"),
		chromedp.Click(chromedp.CSS(`#pause`)),
		chromedp.WaitVisible(chromedp.CSS(`.flash`)),
	)
	if got := text("h1 .state"); got != "paused" {
		t.Errorf("the rollout's state after pausing: %q", got)
	}
	shoot("rollout-paused")

	// Sign out: the session ends.
	do("sign out", chromedp.Click(chromedp.CSS(`.signout button`)), chromedp.WaitVisible(chromedp.CSS(`#token`)))
	do("after sign-out", chromedp.Navigate(srv.URL+"/flags/production"), chromedp.WaitVisible(chromedp.CSS(`#token`)))

	// A viewer sees everything and no button that changes anything.
	signIn(createToken(t, srv, "viewer", ""))
	for _, p := range []string{"/flags/production/checkout-flow", "/rollouts/production/checkout-flow"} {
		do("viewer "+p, chromedp.Navigate(srv.URL+p), chromedp.WaitVisible(chromedp.CSS(`main h1`)))
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#disable, #enable, #edit, #pause, #resume, #advance, #rollback").length`))
		if err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("a viewer sees %d change buttons on %s", n, p)
		}
	}
	shoot("viewer-flag")
	// The viewer's own session, posting its own CSRF token, is refused.
	status, err := chromedp.Run(ctx, chromedp.Evaluate[int](`(async () => {
		const csrf = document.querySelector('input[name="csrf"]').value;
		const r = await fetch("/flags/production/theme/state", {method: "POST", body: new URLSearchParams({csrf: csrf, to: "DISABLED"})});
		return r.status;
	})()`, func(p *runtime.EvaluateParams) { p.AwaitPromise = new(true) }))
	if err != nil {
		t.Fatal(err)
	}
	if status != http.StatusForbidden {
		t.Errorf("a viewer's POST from the browser: %d, want 403", status)
	}
	if got := ofrepAnswer(t, srv, "theme"); strings.Contains(got, "DISABLED") {
		t.Errorf("a viewer changed the flag: %s", got)
	}
}
