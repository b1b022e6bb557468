package backfill_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valueloop/valueloop/backfill"
)

// replay is a forge's REST API that serves recorded pages: each request
// URI (query keys in any order) maps to a page file and its headers, in
// which {base} stands for the server's URL. Queued answers (errors, rate
// limits) are served first, once each.
type replay struct {
	t     testing.TB
	dir   string
	token string
	clock *fakeClock

	mu     sync.Mutex
	routes map[string]route
	queued map[string][]answer
	hits   map[string]int
	srv    *httptest.Server
}

type route struct {
	file   string
	header map[string]string
	body   []byte // instead of file
}

// answer is a queued non-page answer; headers may use {reset+N}, the fake
// clock's Unix time plus N seconds.
type answer struct {
	status int
	header map[string]string
	body   string
}

func newReplay(t testing.TB, dir, token string, clock *fakeClock) *replay {
	r := &replay{t: t, dir: dir, token: token, clock: clock, routes: map[string]route{}, queued: map[string][]answer{}, hits: map[string]int{}}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

// key normalises a request URI: the path and the sorted query.
func key(uri string) string {
	u, err := url.Parse(uri)
	if err != nil {
		panic(err)
	}
	return u.Path + "?" + u.Query().Encode()
}

func (r *replay) route(uri, file string, header map[string]string) {
	r.routes[key(uri)] = route{file: file, header: header}
}

func (r *replay) queue(uri string, a answer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.queued[key(uri)] = append(r.queued[key(uri)], a)
}

func (r *replay) hitsOf(uri string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.hits[key(uri)]
}

func (r *replay) expand(s string) string {
	s = strings.ReplaceAll(s, "{base}", r.srv.URL)
	if i := strings.Index(s, "{reset+"); i >= 0 {
		j := strings.Index(s[i:], "}")
		d, err := time.ParseDuration(s[i+7:i+j] + "s")
		if err != nil {
			panic(err)
		}
		s = s[:i] + itoa(r.clock.Now().Add(d).Unix()) + s[i+j+1:]
	}
	return s
}

func (r *replay) serve(w http.ResponseWriter, req *http.Request) {
	if got := req.Header.Get("Authorization"); got != "Bearer "+r.token {
		r.t.Errorf("%s: Authorization %q, want the token", req.URL, got)
	}
	k := key(req.URL.RequestURI())
	r.mu.Lock()
	r.hits[k]++
	q := r.queued[k]
	var a *answer
	if len(q) > 0 {
		a, r.queued[k] = &q[0], q[1:]
	}
	rt, ok := r.routes[k]
	r.mu.Unlock()
	if a != nil {
		for h, v := range a.header {
			w.Header().Set(h, r.expand(v))
		}
		w.WriteHeader(a.status)
		w.Write([]byte(a.body))
		return
	}
	if !ok {
		r.t.Errorf("no recorded page for %s", req.URL.RequestURI())
		http.Error(w, `{"message":"Not Found"}`, http.StatusNotFound)
		return
	}
	body := rt.body
	if body == nil {
		var err error
		if body, err = os.ReadFile(filepath.Join(r.dir, rt.file)); err != nil {
			r.t.Fatal(err)
		}
	}
	for h, v := range rt.header {
		w.Header().Set(h, r.expand(v))
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Write(body)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// fakeClock is the time of the fetcher and the server: sleeping moves it
// on and records the wait, so that waits are asserted without waiting.
type fakeClock struct {
	mu    sync.Mutex
	t     time.Time
	waits []time.Duration
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	c.waits = append(c.waits, d)
	return ctx.Err()
}

func (c *fakeClock) Waits() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.waits...)
}

// fetcher is a fetcher on the fake clock, retrying nothing unless told.
func fetcher(clock *fakeClock, auth func(http.Header)) *backfill.Fetcher {
	f := backfill.NewFetcher(auth)
	f.Sleep, f.Now, f.Retries = clock.Sleep, clock.Now, 0
	return f
}
