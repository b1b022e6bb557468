package ofrep

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"testing/iotest"
)

// TestDeclaredLengthRefusedUnread: a request declaring a body longer than
// MaxBodyBytes is answered before a byte of it is read (its body fails any
// read, which would answer PARSE_ERROR, not GENERAL). Reading first held the request, its
// connection and its slot until the body came or body-timeout passed: a
// client declaring 1 MB and sending a byte a second held them 30 s for an
// answer known from its headers.
func TestDeclaredLengthRefusedUnread(t *testing.T) {
	var now atomic.Int64
	h := serve(t, "clock.json", &now).Config.Handler
	for _, path := range []string{"/ofrep/v1/evaluate/flags", "/ofrep/v1/evaluate/flags/any"} {
		req := httptest.NewRequest(http.MethodPost, path, nil)
		req.Body, req.ContentLength = io.NopCloser(iotest.ErrReader(errors.New("the body was read"))), MaxBodyBytes+1
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), `"errorCode":"GENERAL","errorDetails":"request body larger than`) {
			t.Errorf("%s: status %d %.200s; want 400 GENERAL with the body unread", path, w.Code, w.Body)
		}
	}
}
