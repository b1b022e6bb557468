package ofrep

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// countingBody counts the bytes read from it.
type countingBody struct {
	r    io.Reader
	read int
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.read += n
	return n, err
}

func (b *countingBody) Close() error { return nil }

// TestDeclaredLengthRefusedUnread: a request declaring a body longer than
// MaxBodyBytes is answered 413 before a byte of it is read. Reading first
// held the request, its connection and its slot until the body came or
// body-timeout passed: a client declaring 1 MB and sending a byte a second
// held them 30 s for an answer known from its headers.
func TestDeclaredLengthRefusedUnread(t *testing.T) {
	var now atomic.Int64
	srv := serve(t, "clock.json", &now)
	h := srv.Config.Handler
	for _, path := range []string{"/ofrep/v1/evaluate/flags", "/ofrep/v1/evaluate/flags/any"} {
		body := &countingBody{r: strings.NewReader(`{"context":{}}` + strings.Repeat(" ", 2*MaxBodyBytes))}
		req := httptest.NewRequest(http.MethodPost, path, nil)
		req.Body, req.ContentLength = body, MaxBodyBytes+1
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusRequestEntityTooLarge || body.read != 0 {
			t.Errorf("%s: status %d after reading %d bytes of the body; want 413 with none read", path, w.Code, body.read)
		}
	}
}
