package main

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// TestSourceSetLostUpdate: `delivery source set` reads the source, changes
// what its flags name and writes it back. Bob's change of the repositories,
// made between Alice's read and her write, was silently undone by her
// write of what she had read; her write now names the version she read
// (If-Match) and is refused, and Bob's change stays.
func TestSourceSetLostUpdate(t *testing.T) {
	srv := MustServe(t, "")
	run := adminCLI(t, srv)
	run(0, "delivery", "source", "add", "acme", "--kind", "github", "--repo", "acme/shop")
	target, _ := url.Parse(srv.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	var once sync.Once
	proxy.ModifyResponse = func(resp *http.Response) error {
		if resp.Request.Method == http.MethodGet && resp.Request.URL.Path == "/api/v1/delivery/sources" {
			once.Do(func() { // Bob writes once Alice has read
				if r, body := put(t, srv.URL+"/api/v1/delivery/sources/acme", srv.Admin, `{"kind":"github","repos":["acme/shop","acme/search"]}`); r.StatusCode != 200 {
					t.Errorf("bob's write: %d %s", r.StatusCode, body)
				}
			})
		}
		return nil
	}
	front := httptest.NewServer(proxy)
	defer front.Close()
	alice := &testServer{URL: front.URL}
	code, stdout, stderr := alice.cli(t, srv.Admin, "delivery", "source", "set", "acme", "--kind", "github", "--incident-label", "sev1")
	if code == 0 || !strings.Contains(stderr, "someone changed it first") {
		t.Errorf("alice's set over bob's change: exit %d, %s%s; want it refused, saying someone changed it first", code, stdout, stderr)
	}
	list := run(0, "delivery", "source", "list", "--output", "json")
	if !strings.Contains(list, "acme/search") || strings.Contains(list, "sev1") {
		t.Errorf("after alice's stale set: %s; want bob's repositories kept and nothing of alice's", list)
	}
	// Run again, it reads Bob's version and writes over it.
	run(0, "delivery", "source", "set", "acme", "--kind", "github", "--incident-label", "sev1")
	if list := run(0, "delivery", "source", "list", "--output", "json"); !strings.Contains(list, "acme/search") || !strings.Contains(list, "sev1") {
		t.Errorf("alice's set run again: %s; want bob's repositories and her label", list)
	}
}
