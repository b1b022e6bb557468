package httpapi

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestOFREPFirstRoutesAsTheMux checks that ofrepFirst gives every request
// the route, pattern and flag key the mux gives it, and that it answers
// single-flag evaluations itself (the mux's other answers, redirects, 404
// and 405, included).
func TestOFREPFirstRoutesAsTheMux(t *testing.T) {
	s := &Server{Registry: prometheus.NewRegistry()}
	s.metrics = newMetrics(s.Registry)
	type routed struct {
		pattern, key string
		status       int
		location     string
	}
	var got routed
	var single bool
	// The key as the single-flag handler reads it (ofrepKey), and as the
	// mux gives it.
	record := func(fast bool) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			got.pattern, got.key, single = r.Pattern, r.PathValue("key"), fast
			if r.Pattern == ofrepSingle {
				got.key = ofrepKey(r)
			}
			w.WriteHeader(http.StatusTeapot)
		}
	}
	mux := http.NewServeMux()
	for _, r := range s.routeTable() {
		mux.HandleFunc(r.method+" "+r.pattern, record(false))
		if _, ok := browserRoutes[r.pattern]; ok {
			mux.HandleFunc("OPTIONS "+r.pattern, record(false))
		}
	}
	first := &ofrepFirst{single: record(true), rest: mux}
	serve := func(h http.Handler, method, target string) routed {
		got, single = routed{}, false
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(method, target, nil))
		got.status, got.location = w.Code, w.Header().Get("Location")
		return got
	}
	const p = "/ofrep/v1/evaluate/flags/"
	for _, tc := range []struct {
		method, target string
		fast           bool // answered by ofrepFirst itself
	}{
		{"POST", p + "kill", true},
		{"POST", p + "kill?x=1", true},
		{"POST", p + "a%20b", true},
		{"POST", p + "a%25b", true},
		{"POST", p + "%E2%82%AC", true},
		{"POST", p + "a;b+c", true},
		{"POST", p + "a%2Fb", false},
		{"POST", p + "%2e", false},
		{"POST", p + "%41", false},
		{"POST", p + ".", false},
		{"POST", p + "..", false},
		{"POST", p, false},
		{"POST", p + "a/", false},
		{"POST", p + "a/b", false},
		{"POST", "/ofrep/v1/evaluate/flags", false},
		{"POST", "//ofrep/v1/evaluate/flags/a", false},
		{"POST", "/ofrep/v1/evaluate/x/../flags/a", false},
		{"GET", p + "kill", false},
		{"OPTIONS", p + "kill", false},
		{"PUT", p + "kill", false},
	} {
		t.Run(tc.method+" "+tc.target, func(t *testing.T) {
			want := serve(mux, tc.method, tc.target)
			if single {
				t.Fatal("the mux answered with ofrepFirst's handler")
			}
			if g := serve(first, tc.method, tc.target); g != want {
				t.Errorf("ofrepFirst routed to %+v, the mux to %+v", g, want)
			}
			if single != tc.fast {
				t.Errorf("answered by ofrepFirst itself: %v, want %v", single, tc.fast)
			}
		})
	}
}
