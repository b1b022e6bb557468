package ui

import (
	"context"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/auth"
	"github.com/valueloop/valueloop/flags"
	"github.com/valueloop/valueloop/sqlite/sqlitetest"
)

// testDashboard is a dashboard over a fresh SQLite store with one admin
// token, served by httptest.
type testDashboard struct {
	srv    *httptest.Server
	auth   *auth.Service
	secret string // of the admin token
}

func newTestDashboard(t *testing.T, configure func(*UI)) *testDashboard {
	t.Helper()
	db := sqlitetest.Open(t, nil)
	a := auth.NewService(db)
	if err := a.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	secret, err := a.Create(context.Background(), &valueloop.Token{Name: "admin", Scope: valueloop.ScopeAdmin}, "", "test")
	if err != nil {
		t.Fatal(err)
	}
	u := &UI{Auth: a, Sessions: db, Flags: flags.NewService(db, nil), Audit: db}
	if configure != nil {
		configure(u)
	}
	if err := u.Open(); err != nil {
		t.Fatal(err)
	}
	d := &testDashboard{srv: httptest.NewServer(u), auth: a, secret: secret}
	t.Cleanup(d.srv.Close)
	return d
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// client is a browser without script: a cookie jar, redirects not followed.
func (d *testDashboard) client(t *testing.T) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// signInForm loads the sign-in page and returns its CSRF token.
func (d *testDashboard) signInForm(t *testing.T, c *http.Client) string {
	t.Helper()
	resp, err := c.Get(d.srv.URL + "/signin")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf [1 << 16]byte
	n, _ := resp.Body.Read(buf[:])
	m := csrfField.FindSubmatch(buf[:n])
	if m == nil {
		t.Fatal("no CSRF token on the sign-in page")
	}
	return string(m[1])
}

func (d *testDashboard) signIn(t *testing.T, c *http.Client, csrf, token string) int {
	t.Helper()
	resp, err := c.PostForm(d.srv.URL+"/signin", url.Values{"csrf": {csrf}, "token": {token}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// signedIn is a browser signed in with the admin token.
func (d *testDashboard) signedIn(t *testing.T) *http.Client {
	t.Helper()
	c := d.client(t)
	if code := d.signIn(t, c, d.signInForm(t, c), d.secret); code != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", code)
	}
	return c
}

// getOK gets path with c, failing unless it answers 200, and returns its
// body and headers.
func (d *testDashboard) getOK(t *testing.T, c *http.Client, path string) (string, http.Header) {
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
	return string(b), resp.Header
}

func (d *testDashboard) status(t *testing.T, c *http.Client, path string) int {
	t.Helper()
	resp, err := c.Get(d.srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestConcurrentWrongSignIns: wrong tokens fired at once from one address
// get no more than the limit's 5 guesses; the rest are refused unchecked.
func TestConcurrentWrongSignIns(t *testing.T) {
	d := newTestDashboard(t, nil)
	const n = 40
	// One browser each (its own sign-in form and cookie), all from
	// 127.0.0.1, forms loaded first: only the posts race.
	clients, forms := make([]*http.Client, n), make([]string, n)
	for i := range n {
		clients[i] = d.client(t)
		forms[i] = d.signInForm(t, clients[i])
	}
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { codes[i] = d.signIn(t, clients[i], forms[i], "vl_admin_wrong-guess-0123456789") })
	}
	wg.Wait()
	count := map[int]int{}
	for _, code := range codes {
		count[code]++
	}
	if count[http.StatusUnauthorized] > 5 || count[http.StatusUnauthorized]+count[http.StatusTooManyRequests] != n {
		t.Errorf("%d concurrent wrong sign-ins answered %v; want at most 5 checked (401), the rest 429", n, count)
	}
	c := d.client(t)
	if code := d.signIn(t, c, d.signInForm(t, c), d.secret); code != http.StatusTooManyRequests {
		t.Errorf("the right token while limited: %d, want 429", code)
	}
}

// TestSessionCap: a token's sign-ins beyond SessionsPerToken end its
// oldest session, on the next request of that browser.
func TestSessionCap(t *testing.T) {
	d := newTestDashboard(t, func(u *UI) { u.SessionsPerToken = 2 })
	var browsers []*http.Client
	for range 3 {
		browsers = append(browsers, d.signedIn(t))
	}
	for i, want := range []int{http.StatusSeeOther, http.StatusOK, http.StatusOK} {
		if got := d.status(t, browsers[i], "/"); got != want {
			t.Errorf("browser %d of 3 with a cap of 2: GET / %d, want %d", i+1, got, want)
		}
	}
}

// TestFormBodyErrors: a form post that cannot be read is answered for
// what it is (413 too large, 400 malformed, 415 not URL-encoded, naming
// the content type), not as a CSRF failure, both before sign-in and in a
// session.
func TestFormBodyErrors(t *testing.T) {
	d := newTestDashboard(t, nil)
	signedIn := d.signedIn(t)
	huge := "reason=" + strings.Repeat("x", maxForm)
	const form = "application/x-www-form-urlencoded"
	multipart := "multipart/form-data; boundary=b"
	multipartBody := "--b\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\nx\r\n--b--\r\n"
	for _, tc := range []struct {
		name, path, ct, body string
		want                 int
		says                 string
	}{
		{"sign-in larger than maxForm", "/signin", form, huge, http.StatusRequestEntityTooLarge, "larger"},
		{"sign-in malformed", "/signin", form, "csrf=%zz", http.StatusBadRequest, "could not be read"},
		{"sign-in multipart", "/signin", multipart, multipartBody, http.StatusUnsupportedMediaType, "multipart/form-data"},
		{"change larger than maxForm", "/flags/production/greeting/state", form, huge, http.StatusRequestEntityTooLarge, "larger"},
		{"change malformed", "/flags/production/greeting/state", form, "to=%zz&csrf=x", http.StatusBadRequest, "could not be read"},
		{"change multipart", "/flags/production/greeting/state", multipart, multipartBody, http.StatusUnsupportedMediaType, "multipart/form-data"},
		{"change as JSON", "/flags/production/greeting/state", "application/json", `{"to":"off"}`, http.StatusUnsupportedMediaType, "application/json"},
		{"change without a content type", "/flags/production/greeting/state", "", "to=off", http.StatusUnsupportedMediaType, "application/x-www-form-urlencoded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, d.srv.URL+tc.path, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if tc.ct != "" {
				req.Header.Set("Content-Type", tc.ct)
			}
			resp, err := signedIn.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("POST %s: %d, want %d", tc.path, resp.StatusCode, tc.want)
			}
			if !strings.Contains(html.UnescapeString(string(body)), tc.says) {
				t.Errorf("POST %s: the page does not say %q:\n%s", tc.path, tc.says, body)
			}
			if strings.Contains(string(body), "CSRF") {
				t.Errorf("POST %s: the page blames CSRF for a form that could not be read:\n%s", tc.path, body)
			}
		})
	}
}

// TestCleaningRedirectUnderPrefix: the redirect net/http's mux makes to a
// path's clean form ("/flags//production") keeps the dashboard's path
// prefix, as every other redirect of the dashboard does.
func TestCleaningRedirectUnderPrefix(t *testing.T) {
	for _, prefix := range []string{"", "/vl"} {
		d := newTestDashboard(t, func(u *UI) { u.PathPrefix = prefix })
		for path, want := range map[string]string{
			"/flags//production?q=a": "/flags/production?q=a", "/flags/./production": "/flags/production",
			"/static/../signin": "/signin",
		} {
			resp, err := d.client(t).Get(d.srv.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusTemporaryRedirect || loc != prefix+want {
				t.Errorf("prefix %q, GET %s: %d Location %q, want 307 to %q", prefix, path, resp.StatusCode, loc, prefix+want)
			}
		}
	}
}

// TestNotFoundUnderPrefix: the 404 page names the path asked for as the
// browser sent it, under the dashboard's path prefix (unescaped, as the
// path is), not the path the proxy passed on with the prefix stripped.
func TestNotFoundUnderPrefix(t *testing.T) {
	for prefix, want := range map[string]string{"": "/no/such", "/vl": "/vl/no/such", "/my%20app": "/my app/no/such"} {
		d := newTestDashboard(t, func(u *UI) { u.PathPrefix = prefix })
		resp, err := d.client(t).Get(d.srv.URL + "/no/such") // signed out: a 404 is told before sign-in
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		says := "There is no page at " + want + "."
		if resp.StatusCode != http.StatusNotFound || !strings.Contains(html.UnescapeString(string(body)), says) {
			t.Errorf("prefix %q: %d, the page does not say %q:\n%s", prefix, resp.StatusCode, says, body)
		}
	}
}
