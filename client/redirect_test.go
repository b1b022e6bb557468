package client

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/valueloop/valueloop"
)

// A change sent to an address that redirects (a proxy moving http to
// https, a path the server's router cleans) must fail, naming where it was
// sent: Go's client would follow a 301, 302 or 303 with a GET, drop the
// body, and the change would report success without having been made.
// Reads still follow redirects.
func TestChangeNotFollowedThroughRedirect(t *testing.T) {
	var changes int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/old/") {
			http.Redirect(w, r, strings.TrimPrefix(r.URL.Path, "/old"), http.StatusMovedPermanently)
			return
		}
		if r.Method != http.MethodGet {
			changes++
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"key":"f","version":3}`))
	}))
	defer srv.Close()
	c := New(srv.URL+"/old", "token")
	for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
		var out map[string]any
		err := c.Do(context.Background(), method, "/api/v1/environments/production/flags/f", map[string]any{"state": "ENABLED"}, &out)
		if err == nil || valueloop.ErrorCode(err) == "" || !strings.Contains(err.Error(), "redirect") || !strings.Contains(err.Error(), "/api/v1/environments/production/flags/f") {
			t.Errorf("%s through a redirect: err %v, answer %v; want an error saying it was redirected, and where", method, err, out)
		}
	}
	if changes != 0 {
		t.Errorf("%d changes reached the server", changes)
	}
	var out map[string]any
	if err := c.Do(context.Background(), http.MethodGet, "/api/v1/environments/production/flags/f", nil, &out); err != nil || out["key"] != "f" {
		t.Errorf("a read through a redirect: %v %v", out, err)
	}
}
