package httpapi_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/valueloop/valueloop/bench/cputime"
	"github.com/valueloop/valueloop/httpapi"
)

// BenchmarkOFREPHandler measures one OFREP single-flag evaluation (and a
// bulk one) through the whole handler chain (routing, token check, body
// decode, evaluation, metrics, encoding) without the network, and a bare
// handler that only reads the body and writes a fixed answer: the ratio is
// Valueloop's own cost.
func BenchmarkOFREPHandler(b *testing.B) {
	e := MustServer(b)
	h := httpapi.Handler(e.srv)
	for _, bc := range []struct{ name, path, body string }{
		{"static", "/ofrep/v1/evaluate/flags/kill", `{"context":{"targetingKey":"user-123"}}`},
		{"targeting", "/ofrep/v1/evaluate/flags/checkout", `{"context":{"targetingKey":"user-123","tier":"gold","email":"a@example.com"}}`},
		// Bulk: every flag, and the change stream the answer announces
		// (the caller's ticket: two hashes).
		{"bulk", "/ofrep/v1/evaluate/flags", `{"context":{"targetingKey":"user-123"}}`},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest("POST", bc.path, strings.NewReader(bc.body))
				req.Header.Set("Authorization", "Bearer "+e.eval)
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != 200 {
					b.Fatalf("%d %s", w.Code, w.Body)
				}
			}
		})
	}
	b.Run("bare", func(b *testing.B) {
		b.ReportAllocs()
		bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			buf := make([]byte, 512)
			r.Body.Read(buf)
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"key":"kill","value":true,"reason":"STATIC","variant":"on"}`))
		})
		for b.Loop() {
			req := httptest.NewRequest("POST", "/ofrep/v1/evaluate/flags/kill", strings.NewReader(`{"context":{"targetingKey":"user-123"}}`))
			req.Header.Set("Authorization", "Bearer x")
			w := httptest.NewRecorder()
			bare.ServeHTTP(w, req)
		}
	})
}

// BenchmarkOFREPFirstSeen measures the OFREP single-flag evaluation of a
// user never seen before, the request that records a first exposure, through
// the whole handler chain as BenchmarkOFREPHandler does, beside "returning",
// the same request for one user over and over. cpu-us/op is the CPU of the
// whole process per request, the writer's included: the benchmark waits
// until every exposure is stored. Run it with -cpu 1 to see the cost on
// one core, as bench/ofrep.sh serves.
func BenchmarkOFREPFirstSeen(b *testing.B) {
	for _, mode := range []string{"returning", "first-seen"} {
		b.Run(mode, func(b *testing.B) {
			e := MustServer(b)
			h := httpapi.Handler(e.srv)
			c := e.srv.Events.Pipeline.Counters()
			recorded := c.ExposuresRecorded.Load()
			body := []byte(`{"context":{"targetingKey":"user-123","email":"a@example.com"}}`)
			prefix, suffix := []byte(`{"context":{"targetingKey":"new-`), []byte(`","email":"a@example.com"}}`)
			buf := make([]byte, 0, 128)
			n := 0
			b.ReportAllocs()
			cpu0 := cputime.Seconds()
			for b.Loop() {
				n++
				if mode == "first-seen" {
					buf = append(strconv.AppendInt(append(buf[:0], prefix...), int64(n), 10), suffix...)
					body = buf
				}
				req := httptest.NewRequest("POST", "/ofrep/v1/evaluate/flags/kill", bytes.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+e.eval)
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != 200 {
					b.Fatalf("%d %s", w.Code, w.Body)
				}
				// A server's request goroutine ends here and the next
				// waits for the network: other goroutines (the writer)
				// get their turn, as they do on one core under load.
				runtime.Gosched()
			}
			want := recorded + 1
			if mode == "first-seen" {
				want = recorded + uint64(n)
			}
			for c.ExposuresRecorded.Load()+c.ExposuresDropped.Load() < want {
				time.Sleep(time.Millisecond)
			}
			if cpu1 := cputime.Seconds(); cpu0 >= 0 {
				b.ReportMetric((cpu1-cpu0)/float64(n)*1e6, "cpu-us/op")
			}
			b.ReportMetric(float64(c.ExposuresDropped.Load()), "dropped")
		})
	}
}
