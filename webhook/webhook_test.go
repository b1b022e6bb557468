package webhook_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valueloop/valueloop/webhook"
)

// secret is the Standard Webhooks specification's test secret.
const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// delivery is one request a receiver got.
type delivery struct {
	header http.Header
	body   []byte
}

// receiver is a local webhook receiver that answers with the statuses in
// order (then 200) and hands every request to the test.
func receiver(t *testing.T, statuses ...int) (*httptest.Server, <-chan delivery) {
	t.Helper()
	answers := make([]answer, len(statuses))
	for i, st := range statuses {
		answers[i] = answer{status: st}
	}
	return scripted(t, answers...)
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
	if first.header.Get(webhook.HeaderID) != retry.header.Get(webhook.HeaderID) || string(first.body) != string(retry.body) {
		t.Errorf("a retry must resend the same delivery: %q vs %q", first.header.Get(webhook.HeaderID), retry.header.Get(webhook.HeaderID))
	}
	h := retry.header
	if h.Get("Content-Type") != "application/json" || h.Get(webhook.HeaderEvent) != "rollout.rollback" || h.Get(webhook.HeaderTimestamp) != "1795608000" {
		t.Errorf("headers = %v", h)
	}
	// The signature is v1, base64 HMAC-SHA256 over "<id>.<timestamp>.<body>".
	if want := webhook.Sign(secret, h.Get(webhook.HeaderID), now.Unix(), retry.body); h.Get(webhook.HeaderSignature) != want || !strings.HasPrefix(want, "v1,") || len(want) != 3+44 {
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
	if p.ID != h.Get(webhook.HeaderID) || p.Event != "rollout.rollback" || p.At != "2026-11-25T12:00:00Z" ||
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
	good.Set(webhook.HeaderID, "msg_1")
	good.Set(webhook.HeaderTimestamp, "1795608000")
	good.Set(webhook.HeaderSignature, webhook.Sign(secret, "msg_1", now.Unix(), body))
	cases := []struct {
		name   string
		secret string
		header func() http.Header
		body   string
		now    time.Time
		want   string
	}{
		{"tampered body", secret, good.Clone, `{"event":"rollout.complete"}`, now, "does not match"},
		{"wrong secret", "whsec_b3RoZXI=", good.Clone, string(body), now, "does not match"},
		{"other id", secret, func() http.Header { h := good.Clone(); h.Set(webhook.HeaderID, "msg_2"); return h }, string(body), now, "does not match"},
		{"no id", secret, func() http.Header { h := good.Clone(); h.Del(webhook.HeaderID); return h }, string(body), now, webhook.HeaderID},
		{"replayed later", secret, good.Clone, string(body), now.Add(time.Hour), "away from now"},
		{"no timestamp", secret, func() http.Header { h := good.Clone(); h.Del(webhook.HeaderTimestamp); return h }, string(body), now, webhook.HeaderTimestamp},
		{"no signature", secret, func() http.Header { h := good.Clone(); h.Del(webhook.HeaderSignature); return h }, string(body), now, webhook.HeaderSignature},
		// A receiver whose secret is unset must not accept what anyone can
		// sign with the empty key.
		{"empty secret", "", func() http.Header {
			h := good.Clone()
			h.Set(webhook.HeaderSignature, webhook.Sign("", "msg_1", now.Unix(), body))
			return h
		}, string(body), now, "no secret"},
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
		{webhook.Target{URL: "https://hooks.example.com/x", Format: webhook.Generic, Secret: "whsec_not base64!"}, "base64"},
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

// TestSignStandardWebhooksVector: the test vector of the Standard Webhooks
// specification (and its reference libraries), signed and verified.
func TestSignStandardWebhooksVector(t *testing.T) {
	const (
		id   = "msg_p5jXN8AQM9LWM0D4loKWxJek"
		ts   = 1614265330
		body = `{"test": 2432232314}`
		want = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
	)
	if got := webhook.Sign(secret, id, ts, []byte(body)); got != want {
		t.Errorf("Sign = %q, want the specification's %q", got, want)
	}
	// Receivers take a list of signatures (key rotation): any one may match.
	h := http.Header{}
	h.Set(webhook.HeaderID, id)
	h.Set(webhook.HeaderTimestamp, fmt.Sprint(ts))
	h.Set(webhook.HeaderSignature, "v1,bm9wZQ== "+want)
	if err := webhook.Verify(secret, h, []byte(body), time.Unix(ts, 0), 5*time.Minute); err != nil {
		t.Errorf("Verify of the specification's delivery: %v", err)
	}
	// A secret without the whsec_ prefix is a key as it is.
	raw := webhook.Sign("plain-secret", id, ts, []byte(body))
	h.Set(webhook.HeaderSignature, raw)
	if err := webhook.Verify("plain-secret", h, []byte(body), time.Unix(ts, 0), 5*time.Minute); err != nil || raw == want {
		t.Errorf("a plain secret: signature %q, Verify %v", raw, err)
	}
}

// answer is what a scripted receiver answers.
type answer struct {
	status     int
	retryAfter string
}

// scripted is a receiver answering answers in order (then 200).
func scripted(t *testing.T, answers ...answer) (*httptest.Server, <-chan delivery) {
	t.Helper()
	ch := make(chan delivery, 16)
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ch <- delivery{r.Header.Clone(), body}
		mu.Lock()
		a := answer{status: http.StatusOK}
		if len(answers) > 0 {
			a, answers = answers[0], answers[1:]
		}
		mu.Unlock()
		if a.retryAfter != "" {
			w.Header().Set("Retry-After", a.retryAfter)
		}
		w.WriteHeader(a.status)
	}))
	t.Cleanup(srv.Close)
	return srv, ch
}

// TestRetriesHonourRetryAfter: a Retry-After (seconds or a date) sets the
// pause; without one the pause is jittered under a doubling ceiling; each
// attempt is signed afresh with the same id.
func TestRetriesHonourRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	srv, got := scripted(t,
		answer{http.StatusServiceUnavailable, "7"},
		answer{http.StatusBadGateway, ""},
		answer{http.StatusTooManyRequests, now.Add(30 * time.Second).Format(http.TimeFormat)},
		answer{http.StatusInternalServerError, "soon"}, // unreadable: jitter
	)
	s := webhook.NewSender([]webhook.Target{{URL: srv.URL, Format: webhook.Generic, Secret: secret}}, nil)
	s.Now = func() time.Time { return now }
	s.Attempts = 5
	var mu sync.Mutex
	var pauses, ceilings []time.Duration
	s.Jitter = func(d time.Duration) time.Duration {
		mu.Lock()
		ceilings = append(ceilings, d)
		mu.Unlock()
		return d / 2
	}
	s.Wait = func(ctx context.Context, d time.Duration) {
		mu.Lock()
		pauses = append(pauses, d)
		mu.Unlock()
		now = now.Add(d)
	}
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.Send(webhook.Message{Event: "rollout.advance", Text: "x"})
	var ds []delivery
	for range 5 {
		ds = append(ds, next(t, got))
	}
	deadline := time.Now().Add(5 * time.Second)
	for s.Delivered.Load() != 1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	// The date was 30s after the start; 7s + 1s have passed by then.
	want := []time.Duration{7 * time.Second, time.Second, 22 * time.Second, 4 * time.Second}
	if fmt.Sprint(pauses) != fmt.Sprint(want) {
		t.Errorf("pauses %v, want %v (Retry-After 7, jitter of 2s, until the Retry-After date, jitter of 8s)", pauses, want)
	}
	if fmt.Sprint(ceilings) != fmt.Sprint([]time.Duration{2 * time.Second, 8 * time.Second}) {
		t.Errorf("jitter ceilings %v, want [2s 8s] (doubling each attempt)", ceilings)
	}
	for i, d := range ds {
		if d.header.Get(webhook.HeaderID) != ds[0].header.Get(webhook.HeaderID) {
			t.Errorf("attempt %d has id %q, want the first's %q", i+1, d.header.Get(webhook.HeaderID), ds[0].header.Get(webhook.HeaderID))
		}
		if err := webhook.Verify(secret, d.header, d.body, time.Unix(mustInt(t, d.header.Get(webhook.HeaderTimestamp)), 0), time.Second); err != nil {
			t.Errorf("attempt %d: %v", i+1, err)
		}
	}
	if ds[0].header.Get(webhook.HeaderTimestamp) == ds[4].header.Get(webhook.HeaderTimestamp) {
		t.Errorf("the last attempt reuses the first's timestamp %s: each attempt is signed afresh", ds[0].header.Get(webhook.HeaderTimestamp))
	}
	if s.Delivered.Load() != 1 {
		t.Errorf("delivered %d, want 1", s.Delivered.Load())
	}
}

// TestRetryAfterTooLong: a receiver asking for more than MaxRetryAfter ends
// the delivery at once rather than holding the queue.
func TestRetryAfterTooLong(t *testing.T) {
	srv, got := scripted(t, answer{http.StatusServiceUnavailable, "3600"})
	s := webhook.NewSender([]webhook.Target{{URL: srv.URL, Format: webhook.Slack}}, nil)
	s.Wait = func(context.Context, time.Duration) { t.Error("waited despite a Retry-After beyond MaxRetryAfter") }
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.Send(webhook.Message{Event: "rollout.advance", Text: "x"})
	next(t, got)
	deadline := time.Now().Add(5 * time.Second)
	for s.Failed.Load() != 1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if s.Failed.Load() != 1 {
		t.Errorf("failed %d, want 1", s.Failed.Load())
	}
}

func TestRetryAfterParse(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Duration{
		"":     0,
		"0":    0,
		"120":  2 * time.Minute,
		"-5":   0,
		"soon": 0,
		now.Add(90 * time.Second).Format(http.TimeFormat): 90 * time.Second,
		now.Add(-time.Hour).Format(http.TimeFormat):       0,
	} {
		if got := webhook.RetryAfter(in, now); got != want {
			t.Errorf("RetryAfter(%q) = %v, want %v", in, got, want)
		}
	}
}

func mustInt(t *testing.T, s string) int64 {
	t.Helper()
	var n int64
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatalf("not a number: %q", s)
	}
	return n
}

// syncBuffer is a log a sender's goroutine writes while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestFailedDeliveryLogHidesTheURL: a delivery that cannot reach its
// receiver is logged with the URL's scheme and host only. The HTTP client's
// error quotes the whole URL ("Post \"https://…/services/T/B/secret\": …"),
// and a Slack URL's path is its secret.
func TestFailedDeliveryLogHidesTheURL(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL + "/services/T0/B0/PATHSECRET"
	srv.Close() // nothing listens: the client fails to connect
	var logs syncBuffer
	s := webhook.NewSender([]webhook.Target{{URL: url, Format: webhook.Slack}}, slog.New(slog.NewTextHandler(&logs, nil)))
	s.Attempts = 1
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.Send(webhook.Message{Event: "rollout.pause", Text: "x"})
	for deadline := time.Now().Add(10 * time.Second); s.Failed.Load() == 0 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	if s.Failed.Load() != 1 || !strings.Contains(logs.String(), "webhook delivery failed") {
		t.Fatalf("failed %d, logs:\n%s", s.Failed.Load(), logs.String())
	}
	if strings.Contains(logs.String(), "PATHSECRET") {
		t.Errorf("the log shows the URL's secret path:\n%s", logs.String())
	}
}

// TestTargetsDoNotWaitForEachOther: a target that is down and asks for
// pauses does not hold the others' deliveries: a rollback still reaches
// the on-call hook while Slack answers 503s. (Targets were served in turn
// by one goroutine, so one receiver's retries delayed every other by up to
// Attempts × MaxRetryAfter per message.)
func TestTargetsDoNotWaitForEachOther(t *testing.T) {
	down, gotDown := scripted(t, answer{http.StatusServiceUnavailable, "60"}, answer{http.StatusServiceUnavailable, "60"})
	up, gotUp := receiver(t)
	s := webhook.NewSender([]webhook.Target{{URL: down.URL, Format: webhook.Slack}, {URL: up.URL, Format: webhook.Generic, Secret: secret}}, nil)
	release := make(chan struct{})
	s.Wait = func(ctx context.Context, d time.Duration) {
		select { // the down target's pause lasts until the test is done
		case <-release:
		case <-ctx.Done():
		}
	}
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	defer close(release)
	if !s.Send(webhook.Message{Event: "rollout.rollback", Text: "Rollout 1 rolled back"}) {
		t.Fatal("Send refused the message")
	}
	next(t, gotDown) // the first attempt failed, and its pause began
	if d := next(t, gotUp); d.header.Get(webhook.HeaderEvent) != "rollout.rollback" {
		t.Errorf("the working target got %q, want the rollback", d.header.Get(webhook.HeaderEvent))
	}
}

// TestSendAfterClose: a message sent once the sender is closed is refused
// and counted as dropped; it was queued with no goroutine left to read it,
// and Send reported it taken.
func TestSendAfterClose(t *testing.T) {
	up, _ := receiver(t)
	s := webhook.NewSender([]webhook.Target{{URL: up.URL, Format: webhook.Slack}}, nil)
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s.Send(webhook.Message{Event: "rollout.rollback", Text: "late"}) {
		t.Error("Send after Close reported the message taken")
	}
	if d := s.Dropped.Load(); d != 1 {
		t.Errorf("dropped %d, want 1", d)
	}
}
