package ofrep

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valueloop/valueloop/evaluation"
	"github.com/valueloop/valueloop/flagd"
)

// serve compiles testdata/file with the clock at *now and serves it over a
// real HTTP server with the OFREP routes.
func serve(t *testing.T, file string, now *atomic.Int64) *httptest.Server {
	t.Helper()
	return serveWith(t, file, now, nil)
}

// serveWith is serve with configure (if not nil) called on the handler.
func serveWith(t *testing.T, file string, now *atomic.Int64, configure func(*Handler)) *httptest.Server {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	set, err := flagd.Parse(file, data)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := evaluation.CompileWith(set, evaluation.Options{Now: func() time.Time { return time.Unix(now.Load(), 0) }})
	if err != nil {
		t.Fatal(err)
	}
	h := &Handler{
		Snapshot: func(*http.Request) (*evaluation.Snapshot, Caller, error) { return snap, Caller{}, nil },
		Error:    func(w http.ResponseWriter, _ *http.Request, err error) { http.Error(w, err.Error(), 500) },
	}
	if configure != nil {
		configure(h)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /ofrep/v1/evaluate/flags/{key}", h.Evaluate)
	mux.HandleFunc("POST /ofrep/v1/evaluate/flags", h.EvaluateAll)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// post sends body to path, with If-None-Match when etag is set.
func post(t *testing.T, srv *httptest.Server, path, body, etag string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// TestBulkETagFollowsTheClock: a bulk answer that depends on
// $flagd.timestamp changes when the clock passes the rule's threshold, with
// the same flags and context; a client revalidating with the ETag it holds
// must get the new answer, not 304. A set that does not read the clock
// keeps one ETag however the clock moves.
func TestBulkETagFollowsTheClock(t *testing.T) {
	const body = `{"context":{"targetingKey":"u1"}}`
	for _, tc := range []struct {
		file        string
		wantChanged bool
		before      string // in the first answer
		after       string // in the answer once the clock has moved
	}{
		{"clock.json", true, `"value":"coming soon"`, `"value":"out now"`},
		{"static.json", false, `"value":true`, ""},
	} {
		t.Run(tc.file, func(t *testing.T) {
			var now atomic.Int64
			now.Store(1799999999)
			srv := serve(t, tc.file, &now)
			r1, out1 := post(t, srv, "/ofrep/v1/evaluate/flags", body, "")
			etag := r1.Header.Get("ETag")
			if r1.StatusCode != 200 || etag == "" || !strings.Contains(out1, tc.before) {
				t.Fatalf("first answer: %d, ETag %q, %s", r1.StatusCode, etag, out1)
			}
			now.Store(1800000001)
			r2, out2 := post(t, srv, "/ofrep/v1/evaluate/flags", body, etag)
			if !tc.wantChanged {
				if r2.StatusCode != http.StatusNotModified {
					t.Errorf("clock moved, answer the same: %d, want 304", r2.StatusCode)
				}
				return
			}
			if r2.StatusCode != 200 || !strings.Contains(out2, tc.after) {
				t.Fatalf("after the threshold, with If-None-Match %s: %d %s, want 200 with %s", etag, r2.StatusCode, out2, tc.after)
			}
			if r2.Header.Get("ETag") == etag {
				t.Errorf("a different answer kept the ETag %s", etag)
			}
			// Unchanged since: 304 with the new ETag.
			r3, _ := post(t, srv, "/ofrep/v1/evaluate/flags", body, r2.Header.Get("ETag"))
			if r3.StatusCode != http.StatusNotModified {
				t.Errorf("same answer again: %d, want 304", r3.StatusCode)
			}
		})
	}
}

// TestFailureMetadata: an evaluation that fails, and an unknown flag, carry
// the flag's metadata (the set's overlaid with the flag's own), as the OFREP
// schemas evaluationFailure and flagNotFound allow and flagd sends;
// telemetry hooks read it from every evaluation, failed ones included.
// errorDetails is Valueloop's wording and is only required to be there.
func TestFailureMetadata(t *testing.T) {
	var cases []struct {
		Name    string         `json:"name"`
		Path    string         `json:"path"`
		Context map[string]any `json:"context"`
		Status  int            `json:"status"`
		Body    map[string]any `json:"body"`
	}
	data, err := os.ReadFile("testdata/failure_cases.json")
	if err == nil {
		err = json.Unmarshal(data, &cases)
	}
	if err != nil {
		t.Fatal(err)
	}
	var now atomic.Int64
	srv := serve(t, "failing.json", &now)
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			body, _ := json.Marshal(map[string]any{"context": tc.Context})
			resp, out := post(t, srv, tc.Path, string(body), "")
			var got map[string]any
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("%d %s: %v", resp.StatusCode, out, err)
			}
			dropDetails(t, got)
			if resp.StatusCode != tc.Status || !reflect.DeepEqual(got, tc.Body) {
				t.Errorf("%d %s\nwant %d %v", resp.StatusCode, out, tc.Status, tc.Body)
			}
		})
	}
}

// dropDetails removes errorDetails from a failure (or from each failure of
// a bulk answer), failing the test when a failure has none.
func dropDetails(t *testing.T, answer map[string]any) {
	t.Helper()
	failures := []any{answer}
	if flags, ok := answer["flags"].([]any); ok {
		failures = flags
	}
	for _, f := range failures {
		m := f.(map[string]any)
		if _, failed := m["errorCode"]; !failed {
			continue
		}
		if d, _ := m["errorDetails"].(string); d == "" {
			t.Errorf("failure without errorDetails: %v", m)
		}
		delete(m, "errorDetails")
	}
}

// TestNullTargetingKeyIsAbsent: flagd reads a context whose targetingKey is
// null as one without a targeting key (its fractional returns null, so the
// default variant answers); OFREP providers send null for an anonymous
// user. Both evaluations answer it as they answer the context without the
// key, not 400. A targeting key of another type is still refused.
func TestNullTargetingKeyIsAbsent(t *testing.T) {
	var now atomic.Int64
	srv := serve(t, "targeting_key.json", &now)
	for _, path := range []string{"/ofrep/v1/evaluate/flags/split", "/ofrep/v1/evaluate/flags/anonymous", "/ofrep/v1/evaluate/flags"} {
		resp, absent := post(t, srv, path, `{"context":{"country":"NZ"}}`, "")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s without targetingKey: %d %s", path, resp.StatusCode, absent)
		}
		resp, null := post(t, srv, path, `{"context":{"targetingKey":null,"country":"NZ"}}`, "")
		if resp.StatusCode != http.StatusOK || null != absent {
			t.Errorf("%s with targetingKey null: %d %s\nwant 200 %s", path, resp.StatusCode, null, absent)
		}
	}
	resp, out := post(t, srv, "/ofrep/v1/evaluate/flags/split", `{"context":{"targetingKey":7}}`, "")
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(out, "INVALID_CONTEXT") || !strings.Contains(out, "targetingKey") {
		t.Errorf("targetingKey 7: %d %s, want 400 INVALID_CONTEXT naming targetingKey", resp.StatusCode, out)
	}
}

// TestBulkEventStreams: a bulk answer announces the stream EventStream
// gives its caller, in OFREP 0.3.0's shape, and none when it gives none;
// the ETag covers it, so one caller's ETag is no 304 for another, whether
// or not the set reads the clock.
func TestBulkEventStreams(t *testing.T) {
	const body = `{"context":{"targetingKey":"u1"}}`
	for _, file := range []string{"static.json", "clock.json"} {
		t.Run(file, func(t *testing.T) {
			var now atomic.Int64
			now.Store(1799999999)
			srv := serveWith(t, file, &now, func(h *Handler) {
				h.EventStream = func(r *http.Request, _ Caller) string {
					if c := r.URL.Query().Get("caller"); strings.HasPrefix(c, "https://") {
						return c + "?ticket=" + c
					} else if c != "" {
						return "/stream?ticket=" + c
					}
					return ""
				}
			})
			_, none := post(t, srv, "/ofrep/v1/evaluate/flags", body, "")
			if strings.Contains(none, "eventStreams") {
				t.Errorf("no stream given, answer %s", none)
			}
			ra, a := post(t, srv, "/ofrep/v1/evaluate/flags?caller=a", body, "")
			if want := `"eventStreams":[{"type":"sse","endpoint":{"requestUri":"/stream?ticket=a"}}]}`; !strings.HasSuffix(a, want) {
				t.Errorf("answer %s, want it to end with %s", a, want)
			}
			var decoded struct {
				EventStreams []struct {
					Type     string
					Endpoint struct{ RequestURI string }
				}
			}
			if err := json.Unmarshal([]byte(a), &decoded); err != nil || len(decoded.EventStreams) != 1 || decoded.EventStreams[0].Endpoint.RequestURI != "/stream?ticket=a" {
				t.Errorf("decoded %+v, %v", decoded, err)
			}
			rb, _ := post(t, srv, "/ofrep/v1/evaluate/flags?caller=b", body, ra.Header.Get("ETag"))
			if rb.StatusCode != 200 || rb.Header.Get("ETag") == ra.Header.Get("ETag") {
				t.Errorf("caller b with a's ETag: %d, ETag %s (a's %s), want 200 and another", rb.StatusCode, rb.Header.Get("ETag"), ra.Header.Get("ETag"))
			}
			if r, _ := post(t, srv, "/ofrep/v1/evaluate/flags?caller=a", body, ra.Header.Get("ETag")); r.StatusCode != http.StatusNotModified {
				t.Errorf("caller a again: %d, want 304", r.StatusCode)
			}
			// An absolute URL (a public URL behind a proxy) is the
			// entry's url, which OFREP takes as it is.
			_, abs := post(t, srv, "/ofrep/v1/evaluate/flags?caller=https://example.com/flags/stream", body, "")
			if want := `"eventStreams":[{"type":"sse","url":"https://example.com/flags/stream?ticket=https://example.com/flags/stream"}]}`; !strings.HasSuffix(abs, want) {
				t.Errorf("answer %s, want it to end with %s", abs, want)
			}
		})
	}
}

// TestReasonsOnTheWire: each engine reason reaches the wire as the
// OpenFeature reason it is, DEFAULT (the rule chose nothing) included, as
// flagd's OFREP service sends it; it used to be sent as UNKNOWN, which tells
// the application that the server could not say why.
func TestReasonsOnTheWire(t *testing.T) {
	var now atomic.Int64
	srv := serve(t, "reasons.json", &now)
	for _, tc := range []struct{ flag, context, reason string }{
		{"static", `{"targetingKey":"u1"}`, "STATIC"},
		{"rule", `{"targetingKey":"u1","plan":"pro"}`, "TARGETING_MATCH"},
		{"rule", `{"targetingKey":"u1","plan":"free"}`, "DEFAULT"},
		{"split", `{"targetingKey":"u1"}`, "SPLIT"},
		{"split", `{}`, "DEFAULT"},
		{"disabled", `{"targetingKey":"u1"}`, "DISABLED"},
	} {
		t.Run(tc.flag+" "+tc.context, func(t *testing.T) {
			resp, body := post(t, srv, "/ofrep/v1/evaluate/flags/"+tc.flag, `{"context":`+tc.context+`}`, "")
			var got struct{ Reason string }
			if err := json.Unmarshal([]byte(body), &got); err != nil || resp.StatusCode != 200 {
				t.Fatalf("status %d, body %s (%v)", resp.StatusCode, body, err)
			}
			if got.Reason != tc.reason {
				t.Errorf("reason %q, want %q (%s)", got.Reason, tc.reason, body)
			}
		})
	}
}
