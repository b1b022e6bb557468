package httpapi_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/valueloop/valueloop/httpapi"
	"github.com/valueloop/valueloop/sqlite"
)

// TestFlagdRefusedBeforeMessage: a flagd call whose headers carry a token
// that does not authenticate, and an evaluation that carries none (its
// token travels in headers only), are refused before their request
// message is read, as the API's routes are before their body; so is every
// call with credentials from an address throttled for failed
// authentications. connect reads and decodes a call's message before its
// handler runs: each such call was read and decoded (up to
// MaxMessageBytes) before its token was looked at, a throttled address's
// too, and one whose message never came was held until the body timeout
// (here 3 s; the answer came after it). Refused now, the connection is
// closed (HTTP/1.1) rather than read to the end of a message that may
// never come.
func TestFlagdRefusedBeforeMessage(t *testing.T) {
	for _, throttled := range []bool{false, true} {
		limits := httpapi.Limits{BodyTimeout: 3 * time.Second}
		want := "unauthenticated"
		if throttled {
			limits.AuthFailures, limits.AuthWindow, limits.ThrottleLoopback = 1, time.Hour, true
			want = "resource_exhausted"
		}
		e := mustServer(t, func(srv *httpapi.Server, _ *sqlite.DB) {
			srv.Limits = limits
			withFlagd(srv, 0)
		})
		if throttled {
			send(t, e.srv.URL(), "GET", "/api/v1/environments", "vl_admin_guess", "") // the one failure allowed
		}
		for _, m := range flagdMethods(t) {
			tokens := map[string]string{"unknown token": "vl_eval_guess"}
			evaluation := strings.HasPrefix(m.procedure, "/flagd.evaluation.") && !m.streaming
			if evaluation && !throttled {
				tokens["no token"] = ""
			}
			for kind, token := range tokens {
				if got := flagdCallNoMessage(t, e.srv.URL(), m, token); !strings.Contains(got, `"code":"`+want+`"`) {
					t.Errorf("%s, throttled %v: %s: %.300s, want %s before the message", m.procedure, throttled, kind, got, want)
				}
			}
		}
	}
}

// flagdCallNoMessage calls m with the Connect protocol (JSON), sending
// the headers and a length but never the message, and returns the answer
// (its status and body; an error ends a stream in its last message).
func flagdCallNoMessage(t *testing.T, base string, m flagdMethod, token string) string {
	t.Helper()
	body, never := io.Pipe()
	defer never.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", base+m.procedure, body)
	req.ContentLength = 100
	req.Header.Set("Connect-Protocol-Version", "1")
	req.Header.Set("Content-Type", "application/json")
	if m.streaming {
		req.Header.Set("Content-Type", "application/connect+json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s: %v (the server waits for the message)", m.procedure, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s: %v (the server waits for the message)", m.procedure, err)
	}
	if !resp.Close {
		return "connection kept open (net/http reads the rest of the message first): " + resp.Status + " " + string(out)
	}
	return resp.Status + " " + string(out)
}
