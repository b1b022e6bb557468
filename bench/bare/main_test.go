package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHandler(t *testing.T) {
	tests := []struct {
		name, body string
	}{
		{"empty body", ""},
		{"ofrep context", `{"context":{"targetingKey":"user-123","email":"a@example.com"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "/ofrep/v1/evaluate/flags/static-bool", strings.NewReader(tt.body))
			rec := httptest.NewRecorder()
			handler(rec, req)
			if got, want := rec.Code, http.StatusOK; got != want {
				t.Errorf("status: got %d, want %d", got, want)
			}
			if got, want := rec.Header().Get("Content-Type"), "application/json"; got != want {
				t.Errorf("Content-Type: got %q, want %q", got, want)
			}
			if got, want := rec.Body.String(), string(answer); got != want {
				t.Errorf("body: got %s, want %s", got, want)
			}
		})
	}
}
