package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/valueloop/valueloop/ui"
)

// accessPath makes a concrete path of a dashboard route pattern, on the
// demo: a flag with a rollout for the rollout routes, one with an
// experiment for the experiment routes.
func accessPath(pattern string) string {
	key := "theme"
	switch {
	case strings.HasPrefix(pattern, "/rollouts/"):
		key = "checkout-flow"
	case strings.HasPrefix(pattern, "/experiments/"), strings.HasPrefix(pattern, "/value/"):
		key = "new-onboarding"
	}
	return strings.NewReplacer("{$}", "", "{env}", "production", "{key}", key, "{action}", "pause", "{file}", "style.css").Replace(pattern)
}

// TestDashboardAccess: every route of the dashboard's route table (routes
// added later are covered without editing this test) as an anonymous
// browser, a viewer, an admin, and an admin whose form carries a wrong CSRF
// token. Pages need a session (anonymous: redirected to sign-in), changes
// an admin session and its CSRF token (viewer: 403, wrong token: 403).
func TestDashboardAccess(t *testing.T) {
	srv := MustServe(t, "", "--demo")
	viewerToken := createToken(t, srv, "viewer", "")
	routes := (&ui.UI{}).Access()
	if len(routes) < 20 {
		t.Fatalf("only %d routes in the table", len(routes))
	}
	for route, access := range routes {
		method, pattern, _ := strings.Cut(route, " ")
		path := accessPath(pattern)
		t.Run(route, func(t *testing.T) {
			for _, tc := range []struct {
				who, token string
				csrf       string // "": the session's own
				want       func(status int, location string) bool
				what       string
			}{
				{"anonymous", "", "", func(s int, loc string) bool {
					switch {
					case access == "public": // the sign-in form refuses a post without its own CSRF token
						return s < 500 && !strings.HasPrefix(loc, "/signin")
					case method == "GET":
						return s == http.StatusSeeOther && strings.HasPrefix(loc, "/signin")
					}
					return s == http.StatusUnauthorized
				}, "public routes open; pages redirect to sign-in; posts 401"},
				{"viewer", viewerToken, "", func(s int, _ string) bool {
					if access == "public" { // the sign-in post wants its form's own token
						return s < 500
					}
					if access == "change" {
						return s == http.StatusForbidden
					}
					return s != http.StatusUnauthorized && s != http.StatusForbidden && s < 500
				}, "403 on changes, else allowed"},
				{"admin", srv.Admin, "", func(s int, _ string) bool {
					if access == "public" {
						return s < 500
					}
					return s != http.StatusUnauthorized && s != http.StatusForbidden && s < 500
				}, "allowed"},
				{"admin with a wrong CSRF token", srv.Admin, "wrong-csrf-token", func(s int, _ string) bool {
					if method == "POST" && access != "public" {
						return s == http.StatusForbidden
					}
					return s < 500
				}, "403 on every post"},
			} {
				b := newBrowser(t, srv.URL)
				form := url.Values{}
				if tc.token != "" {
					b = mustSignIn(t, srv.URL, tc.token)
					form.Set("csrf", b.csrf("/"))
				}
				if tc.csrf != "" {
					form.Set("csrf", tc.csrf)
				}
				var resp *http.Response
				var body string
				if method == "POST" {
					resp, body = b.post(path, form)
				} else {
					resp, body = b.get(path)
				}
				if !tc.want(resp.StatusCode, resp.Header.Get("Location")) {
					t.Errorf("%s: %s %s: %d (Location %q) %.200s; want %s", tc.who, method, path, resp.StatusCode, resp.Header.Get("Location"), body, tc.what)
				}
			}
		})
	}
}
