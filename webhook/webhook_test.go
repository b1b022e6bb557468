package webhook_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valueloop/valueloop/webhook"
)

const secret = "whsec-test-0123456789"

// delivery is one request a receiver got.
type delivery struct {
	header http.Header
	body   []byte
}

// receiver is a local webhook receiver that answers with the statuses in
// order (then 200) and hands every request to the test.
func receiver(t *testing.T, statuses ...int) (*httptest.Server, <-chan delivery) {
	t.Helper()
	ch := make(chan delivery, 16)
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ch <- delivery{r.Header.Clone(), body}
		mu.Lock()
		status := http.StatusOK
		if len(statuses) > 0 {
			status, statuses = statuses[0], statuses[1:]
		}
		mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(srv.Close)
	return srv, ch
}

func next(t *testing.T, ch <-chan delivery) delivery {
	t.Helper()
	select {
	case d := <-ch:
		return d
	case <-time.After(10 * time.Second):
		t.Fatal("no delivery within 10s")
	}
	return delivery{}
}

func TestGenericDeliveryIsSignedAndShaped(t *testing.T) {
	srv, got := receiver(t, http.StatusBadGateway) // the first attempt fails
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	s := webhook.NewSender([]webhook.Target{{URL: srv.URL + "/hooks", Format: webhook.Generic, Secret: secret}}, nil)
	s.Now = func() time.Time { return now }
	s.Backoff = time.Millisecond
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	data := map[string]any{"rollout": map[string]any{"id": 3, "state": "rolled_back"}}
	if !s.Send(webhook.Message{Event: "rollout.rollback", Text: "Rollout 3 rolled back", Data: data}) {
		t.Fatal("Send refused the message")
	}
	first, retry := next(t, got), next(t, got)
	if first.header.Get(webhook.HeaderDelivery) != retry.header.Get(webhook.HeaderDelivery) || string(first.body) != string(retry.body) {
		t.Errorf("a retry must resend the same delivery: %q vs %q", first.header.Get(webhook.HeaderDelivery), retry.header.Get(webhook.HeaderDelivery))
	}
	h := retry.header
	if h.Get("Content-Type") != "application/json" || h.Get(webhook.HeaderEvent) != "rollout.rollback" || h.Get(webhook.HeaderTimestamp) != "1795608000" {
		t.Errorf("headers = %v", h)
	}
	// The signature is HMAC-SHA256 over "<timestamp>.<body>".
	if want := webhook.Sign(secret, now.Unix(), retry.body); h.Get(webhook.HeaderSignature) != want || !strings.HasPrefix(want, "sha256=") || len(want) != 7+64 {
		t.Errorf("signature = %q, want %q", h.Get(webhook.HeaderSignature), want)
	}
	if err := webhook.Verify(secret, h, retry.body, now.Add(time.Minute), 5*time.Minute); err != nil {
		t.Errorf("Verify: %v", err)
	}
	var p struct {
		ID    string `json:"id"`
		Event string `json:"event"`
		At    string `json:"at"`
		Text  string `json:"text"`
		Data  struct {
			Rollout struct {
				ID    int    `json:"id"`
				State string `json:"state"`
			} `json:"rollout"`
		} `json:"data"`
	}
	if err := json.Unmarshal(retry.body, &p); err != nil {
		t.Fatal(err)
	}
	if p.ID != h.Get(webhook.HeaderDelivery) || p.Event != "rollout.rollback" || p.At != "2026-11-25T12:00:00Z" ||
		p.Text != "Rollout 3 rolled back" || p.Data.Rollout.ID != 3 || p.Data.Rollout.State != "rolled_back" {
		t.Errorf("payload = %s", retry.body)
	}
	deadline := time.Now().Add(5 * time.Second)
	for s.Delivered.Load() != 1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if s.Delivered.Load() != 1 || s.Failed.Load() != 0 {
		t.Errorf("delivered %d, failed %d; want 1 and 0", s.Delivered.Load(), s.Failed.Load())
	}
}

func TestVerifyRejects(t *testing.T) {
	now := time.Unix(1795608000, 0)
	body := []byte(`{"event":"rollout.advance"}`)
	good := http.Header{}
	good.Set(webhook.HeaderTimestamp, "1795608000")
	good.Set(webhook.HeaderSignature, webhook.Sign(secret, now.Unix(), body))
	cases := []struct {
		name   string
		secret string
		header func() http.Header
		body   string
		now    time.Time
		want   string
	}{
		{"tampered body", secret, good.Clone, `{"event":"rollout.complete"}`, now, "does not match"},
		{"wrong secret", "other", good.Clone, string(body), now, "does not match"},
		{"replayed later", secret, good.Clone, string(body), now.Add(time.Hour), "away from now"},
		{"no timestamp", secret, func() http.Header { h := good.Clone(); h.Del(webhook.HeaderTimestamp); return h }, string(body), now, webhook.HeaderTimestamp},
		{"no signature", secret, func() http.Header { h := good.Clone(); h.Del(webhook.HeaderSignature); return h }, string(body), now, webhook.HeaderSignature},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := webhook.Verify(c.secret, c.header(), []byte(c.body), c.now, 5*time.Minute)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Verify = %v, want an error mentioning %q", err, c.want)
			}
		})
	}
}

func TestSlackDelivery(t *testing.T) {
	srv, got := receiver(t)
	s := webhook.NewSender([]webhook.Target{{URL: srv.URL, Format: webhook.Slack}}, nil)
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.Send(webhook.Message{Event: "rollout.pause", Text: "Rollout 1 paused: errors <rose> & stayed", Data: map[string]int{"x": 1}})
	d := next(t, got)
	if d.header.Get(webhook.HeaderSignature) != "" {
		t.Errorf("a Slack delivery carries no signature, got %q", d.header.Get(webhook.HeaderSignature))
	}
	var p webhook.SlackPayload
	if err := json.Unmarshal(d.body, &p); err != nil {
		t.Fatal(err)
	}
	if p.Text != "Rollout 1 paused: errors <rose> & stayed" || len(p.Blocks) != 2 || p.Blocks[0].Type != "section" ||
		p.Blocks[0].Text.Type != "mrkdwn" || p.Blocks[0].Text.Text != "Rollout 1 paused: errors &lt;rose&gt; &amp; stayed" {
		t.Errorf("slack payload = %s", d.body)
	}
}

func TestTargetCheck(t *testing.T) {
	cases := []struct {
		target webhook.Target
		want   string
	}{
		{webhook.Target{URL: "ftp://x", Format: webhook.Slack}, "http or https"},
		{webhook.Target{URL: "https://hooks.example.com/x", Format: webhook.Generic}, "needs a secret"},
		{webhook.Target{URL: "https://hooks.example.com/x", Format: "teams", Secret: "s"}, "unknown format"},
	}
	for _, c := range cases {
		err := c.target.Check()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Check(%+v) = %v, want %q", c.target, err, c.want)
		}
		if s := webhook.NewSender([]webhook.Target{c.target}, nil); s.Open() == nil {
			s.Close()
			t.Errorf("Open accepted %+v", c.target)
		}
	}
}
