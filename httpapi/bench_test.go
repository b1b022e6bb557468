package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/valueloop/valueloop/httpapi"
)

// BenchmarkOFREPHandler measures one OFREP single-flag evaluation through the
// whole handler chain (routing, token check, body decode, evaluation,
// metrics, encoding) without the network, and a bare handler that only reads
// the body and writes a fixed answer: the ratio is Valueloop's own cost.
func BenchmarkOFREPHandler(b *testing.B) {
	e := MustServer(b)
	h := httpapi.Handler(e.srv)
	for _, bc := range []struct{ name, key, body string }{
		{"static", "kill", `{"context":{"targetingKey":"user-123"}}`},
		{"targeting", "checkout", `{"context":{"targetingKey":"user-123","tier":"gold","email":"a@example.com"}}`},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest("POST", "/ofrep/v1/evaluate/flags/"+bc.key, strings.NewReader(bc.body))
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
