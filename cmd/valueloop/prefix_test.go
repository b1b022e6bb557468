package main

import (
	"html"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/chromedp/chromedp"
)

// prefixProxy is a reverse proxy that mounts a server under /flags and
// strips the prefix before passing requests on, as a proxy in front of
// Valueloop does; anything outside /flags/ is its 404. Store the server's
// URL in backend before sending requests.
func prefixProxy(t *testing.T) (proxy *httptest.Server, backend *atomic.Pointer[url.URL]) {
	backend = new(atomic.Pointer[url.URL])
	proxy = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest, ok := strings.CutPrefix(r.URL.Path, "/flags/")
		if !ok {
			http.NotFound(w, r)
			return
		}
		r.URL.Path, r.URL.RawPath = "/"+rest, ""
		rp := httputil.NewSingleHostReverseProxy(backend.Load())
		rp.FlushInterval = -1 // server-sent events as they come
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)
	return proxy, backend
}

// serveBehind serves the demo with env and args added, behind the proxy
// whose backend it sets.
func serveBehind(t *testing.T, backend *atomic.Pointer[url.URL], env map[string]string, args ...string) *testServer {
	all := map[string]string{"VALUELOOP_ADMIN_TOKEN": testAdminToken}
	maps.Copy(all, env)
	srv := MustServeEnv(t, "", all, append([]string{"--demo"}, args...)...)
	u, _ := url.Parse(srv.URL)
	backend.Store(u)
	return srv
}

// TestDashboardBehindPathPrefix: behind a proxy that mounts the server
// under /flags, with public-url saying so (a whole URL or the path), one
// signs in through the proxy, every link, asset and form of every page
// reached from the overview stays under /flags and none is a 404, and a
// change (disabling a flag, CSRF-checked) redirects back under /flags,
// where its message shows.
func TestDashboardBehindPathPrefix(t *testing.T) {
	proxy, backend := prefixProxy(t)
	for _, c := range []struct {
		name string
		env  map[string]string
		args []string
	}{
		{"whole URL", nil, []string{"--public-url", proxy.URL + "/flags/"}},
		{"path", map[string]string{"VALUELOOP_PUBLIC_URL": "/flags"}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := serveBehind(t, backend, c.env, c.args...)
			b := newBrowser(t, proxy.URL+"/flags")
			resp, _ := b.get("/")
			if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || loc != "/flags/signin?next=%2F" {
				t.Fatalf("the overview signed out: %d → %q, want the sign-in page under /flags", resp.StatusCode, loc)
			}
			resp, _ = b.post("/signin", url.Values{"csrf": {b.csrf("/signin")}, "token": {srv.Admin}, "next": {"/"}})
			if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || loc != "/flags/" {
				t.Fatalf("sign-in: %d → %q, want 303 to /flags/", resp.StatusCode, loc)
			}
			for _, ck := range resp.Cookies() {
				if ck.Name == "vl_session" && ck.Path != "/flags" {
					t.Errorf("session cookie's Path %q, want /flags", ck.Path)
				}
			}
			crawlUnder(t, b, proxy.URL, "/flags")
			checkChangeUnderPrefix(t, b)
		})
	}
}

// linkPattern finds the URLs of a page's links, assets and forms.
var linkPattern = regexp.MustCompile(`(?:href|src|action)="([^"]*)"`)

// crawlUnder follows every link of the pages reached from the overview
// and every redirect met (forms' actions are checked, not sent): each must
// stay on origin under prefix and answer 200.
func crawlUnder(t *testing.T, b *browser, origin, prefix string) {
	start, _ := url.Parse(origin + prefix + "/")
	seen := map[string]bool{start.String(): true}
	queue := []*url.URL{start}
	for len(queue) > 0 && len(seen) < 400 {
		page := queue[0]
		queue = queue[1:]
		resp, err := b.c.Get(page.String())
		if err != nil {
			t.Fatal(err)
		}
		body := readAll(resp)
		refs := linkPattern.FindAllStringSubmatch(body, -1)
		switch {
		case resp.StatusCode == http.StatusSeeOther: // /flags leads to the first environment's
			refs = [][]string{{"Location", resp.Header.Get("Location")}}
		case resp.StatusCode != http.StatusOK:
			t.Errorf("GET %s: %d", page, resp.StatusCode)
			continue
		case !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html"):
			continue
		}
		for _, m := range refs {
			ref, err := page.Parse(html.UnescapeString(m[1]))
			if err != nil {
				t.Errorf("%s: link %q: %v", page, m[1], err)
				continue
			}
			ref.Fragment = ""
			if ref.Scheme+"://"+ref.Host != origin || !strings.HasPrefix(ref.Path, prefix+"/") {
				t.Errorf("%s: link %q leaves %s", page.RequestURI(), m[1], prefix)
				continue
			}
			if strings.HasPrefix(m[0], "action") || ref.Path == prefix+"/signout" || seen[ref.String()] {
				continue
			}
			seen[ref.String()] = true
			queue = append(queue, ref)
		}
	}
	if len(seen) < 30 {
		t.Errorf("the crawl reached %d pages and assets; the demo has more", len(seen))
	}
	t.Logf("followed %d links under %s", len(seen), prefix)
}

func readAll(resp *http.Response) string {
	defer resp.Body.Close()
	var sb strings.Builder
	_, _ = io.Copy(&sb, resp.Body)
	return sb.String()
}

// checkChangeUnderPrefix disables a flag through its confirm form, as a
// browser posts it (the form's action, the page's CSRF token): the change
// redirects under the prefix, where its message shows; the same post
// without the token is refused.
func checkChangeUnderPrefix(t *testing.T, b *browser) {
	_, confirm := b.get("/flags/production/theme/state?to=DISABLED")
	action := regexp.MustCompile(`<form method="post" action="([^"]*)"`).FindStringSubmatch(confirm)
	if action == nil || html.UnescapeString(action[1]) != "/flags/flags/production/theme/state" {
		t.Fatalf("the confirm form's action: %q, want /flags/flags/production/theme/state", action)
	}
	form := url.Values{"to": {"DISABLED"}, "reason": {"through the proxy"}}
	if v := regexp.MustCompile(`name="version" value="([^"]*)"`).FindStringSubmatch(confirm); v != nil {
		form.Set("version", v[1])
	}
	resp, _ := b.post(strings.TrimPrefix(action[1], "/flags"), form)
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("a post without a CSRF token through the proxy: %d, want 403", resp.StatusCode)
	}
	form.Set("csrf", csrfPattern.FindStringSubmatch(confirm)[1])
	resp, _ = b.post(strings.TrimPrefix(action[1], "/flags"), form)
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || loc != "/flags/flags/production/theme" {
		t.Fatalf("disabling through the proxy: %d → %q, want 303 to /flags/flags/production/theme", resp.StatusCode, loc)
	}
	if _, page := b.get(strings.TrimPrefix(loc, "/flags")); !strings.Contains(page, "Disabled theme") {
		t.Errorf("the flag's page after disabling does not show the change's message (its cookie did not come back under /flags)")
	}
}

// TestDashboardBrowserBehindPathPrefix: a browser through the proxy signs
// in, gets the stylesheet applied, and disables a flag.
func TestDashboardBrowserBehindPathPrefix(t *testing.T) {
	bin := needBrowser(t)
	proxy, backend := prefixProxy(t)
	srv := serveBehind(t, backend, nil, "--public-url", "/flags")
	through := *srv
	through.URL = proxy.URL + "/flags"
	c := newChrome(t, bin, &through)
	c.signIn(srv.Admin)
	styled, err := chromedp.Run(c.ctx, chromedp.Evaluate[bool](`[...document.styleSheets].some(s => s.href.includes("/flags/static/") && s.cssRules.length > 0)
		&& getComputedStyle(document.body).marginTop === "0px"`))
	if err != nil || !styled {
		t.Errorf("the overview through the proxy has no stylesheet from /flags/static/ applied (%v)", err)
	}
	c.killSwitch()
}
