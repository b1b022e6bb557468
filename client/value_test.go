package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// A server that keeps answering the cursor it was given must not make the
// client loop forever; a well-behaved one is read to its last page.
func TestFeaturesPages(t *testing.T) {
	for _, c := range []struct {
		name    string
		pages   map[string]string // cursor asked → next cursor answered
		want    int
		wantErr string
	}{
		{"three pages", map[string]string{"": "b", "b": "d", "d": ""}, 3, ""},
		{"same cursor again", map[string]string{"": "b", "b": "b"}, 0, `cursor "b" again`},
	} {
		t.Run(c.name, func(t *testing.T) {
			asked := 0
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				asked++
				if asked > 10 {
					t.Error("more than 10 pages asked")
					http.Error(w, "stop", http.StatusTeapot)
					return
				}
				cursor := r.URL.Query().Get("cursor")
				json.NewEncoder(w).Encode(map[string]any{
					"features":   []FeatureSummary{{}},
					"nextCursor": c.pages[cursor],
				})
			}))
			defer srv.Close()
			got, err := New(srv.URL, "token").Features(context.Background(), "", "")
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, c.wantErr)
				}
				return
			}
			if err != nil || len(got) != c.want {
				t.Fatalf("got %d features, err %v; want %d", len(got), err, c.want)
			}
		})
	}
}
