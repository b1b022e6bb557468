// Package webhook delivers Valueloop's outgoing webhooks: announcements
// such as a rollout advancing or being rolled back, posted to the URLs an
// operator configured, in the background and with retries.
//
// Two formats:
//
//   - Slack: the JSON of a Slack incoming webhook ({"text": ..., "blocks":
//     [...]}), which Slack, Mattermost, Rocket.Chat and most chat tools
//     accept. The URL is the secret; there is no signature.
//   - Generic: {"id", "event", "at", "text", "data"} signed as Standard
//     Webhooks (https://www.standardwebhooks.com) sign: the headers
//     webhook-id (the same on every retry of a delivery),
//     webhook-timestamp (Unix seconds, fresh on each attempt) and
//     webhook-signature ("v1," and the base64 HMAC-SHA256 of
//     "<id>.<timestamp>.<body>"), so a receiver's Standard Webhooks library
//     verifies them unchanged. The key is the base64 part of a "whsec_"
//     secret; a secret without that prefix is used as it is (Verify here
//     accepts both). Valueloop-Event names the event.
//
// Retries: on network errors, 429 and 5xx, with exponential pauses and
// full jitter (so receivers coming back are not hit by every sender at
// once), waiting instead as long as a Retry-After answer asks (capped).
//
// What is not here: deciding what to announce (package rollout builds the
// messages) and configuration (cmd/valueloop reads the URLs and secret).
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/valueloop/valueloop/tracing"
)

// Format of a target's payload.
type Format string

const (
	Generic Format = "generic"
	Slack   Format = "slack"
)

// Headers of a generic delivery: the three of Standard Webhooks, and the
// event's name.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
	HeaderEvent     = "Valueloop-Event"
)

// SecretPrefix marks a Standard Webhooks secret: the base64 of the key.
const SecretPrefix = "whsec_"

// signingKey returns the HMAC key of secret: the decoded base64 after
// "whsec_", or the secret's bytes when it has no such prefix.
func signingKey(secret string) ([]byte, error) {
	b64, ok := strings.CutPrefix(secret, SecretPrefix)
	if !ok {
		return []byte(secret), nil
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(key) == 0 {
		return nil, fmt.Errorf("a %s secret must be followed by the base64 of its key", SecretPrefix)
	}
	return key, nil
}

// Target is one receiver.
type Target struct {
	URL    string
	Format Format
	// Secret signs generic payloads; required for them.
	Secret string
}

// Check reports what is wrong with t, naming the field.
func (t Target) Check() error {
	u, err := url.Parse(t.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		// Not the URL itself: its path may be the secret (Slack).
		return fmt.Errorf("webhook URL %s: want an http or https URL with a host", redact(t.URL))
	}
	switch t.Format {
	case Slack:
	case Generic:
		if t.Secret == "" {
			return fmt.Errorf("webhook %s: a generic webhook needs a secret to sign with", u.Host)
		}
		if _, err := signingKey(t.Secret); err != nil {
			return fmt.Errorf("webhook secret: %v", err)
		}
	default:
		return fmt.Errorf("webhook %s: unknown format %q: want %q or %q", u.Host, t.Format, Generic, Slack)
	}
	return nil
}

// Message is one announcement.
type Message struct {
	// Event names what happened, e.g. "rollout.rollback".
	Event string
	// Text is one line for people.
	Text string
	// Data is the generic payload's data, encoded as JSON.
	Data any
	// Link, if set, is the absolute URL of the dashboard's page of what
	// happened (the server's public-url setting gives it): the generic
	// payload's link, and a link in the Slack message.
	Link string
}

// Payload is the body of a generic delivery.
type Payload struct {
	ID    string          `json:"id"`
	Event string          `json:"event"`
	At    time.Time       `json:"at"`
	Text  string          `json:"text"`
	Data  json.RawMessage `json:"data"`
	Link  string          `json:"link,omitempty"`
}

// SlackPayload is the body of a Slack delivery.
type SlackPayload struct {
	Text   string       `json:"text"`
	Blocks []SlackBlock `json:"blocks"`
}

// SlackBlock is a Block Kit block with mrkdwn text.
type SlackBlock struct {
	Type     string       `json:"type"`
	Text     *SlackText   `json:"text,omitempty"`
	Elements []*SlackText `json:"elements,omitempty"`
}

// SlackText is a Block Kit text object.
type SlackText struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// Sign returns the webhook-signature of delivery id with body sent at
// timestamp (Unix seconds): "v1," and the base64 HMAC-SHA256 of
// "<id>.<timestamp>.<body>" under the key of secret (see signingKey). An
// invalid whsec_ secret signs nothing (Target.Check refuses it first).
func Sign(secret, id string, timestamp int64, body []byte) string {
	key, err := signingKey(secret)
	if err != nil {
		return ""
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id))
	mac.Write([]byte{'.'})
	mac.Write([]byte(strconv.FormatInt(timestamp, 10)))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// Verify checks a generic delivery as a receiver should: one of the
// space-separated signatures of webhook-signature is the v1 signature of
// body under secret (compared in constant time), and the timestamp lies
// within tolerance of now, so an old delivery cannot be replayed. An empty
// secret verifies nothing: anyone can sign with the empty key.
func Verify(secret string, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	if secret == "" {
		return errors.New("webhook: no secret is configured to verify with")
	}
	id := h.Get(HeaderID)
	if id == "" {
		return errors.New("webhook: missing " + HeaderID)
	}
	ts, err := strconv.ParseInt(h.Get(HeaderTimestamp), 10, 64)
	if err != nil {
		return errors.New("webhook: missing or malformed " + HeaderTimestamp)
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("webhook: timestamp %d is %s away from now, more than %s", ts, d.Round(time.Second), tolerance)
	}
	sigs := strings.Fields(h.Get(HeaderSignature))
	if len(sigs) == 0 {
		return errors.New("webhook: missing or malformed " + HeaderSignature)
	}
	want := Sign(secret, id, ts, body)
	if want == "" {
		return errors.New("webhook: invalid secret")
	}
	for _, sig := range sigs {
		if hmac.Equal([]byte(sig), []byte(want)) {
			return nil
		}
	}
	return errors.New("webhook: signature does not match")
}

// Sender delivers messages to every target in the background. Each target
// has its own queue, delivered in order, so that one that is down (and asks
// for pauses) delays no other. A delivery is retried on network errors, 429
// and 5xx answers after the pause a Retry-After asks for, or else a
// jittered exponential one. Construct with NewSender, set fields, Open;
// Close stops it (deliveries still queued are dropped and logged).
type Sender struct {
	Targets []Target
	Client  *http.Client
	Now     func() time.Time
	Logger  *slog.Logger
	// Attempts per delivery (default 4) and the first pause between them
	// (default 1s, doubling; each pause drawn at random up to that, "full
	// jitter"). A Retry-After is honoured up to MaxRetryAfter (default 5m);
	// a longer one ends the delivery.
	Attempts      int
	Backoff       time.Duration
	MaxRetryAfter time.Duration
	// Jitter draws a pause in [0, d]; nil: uniformly at random.
	Jitter func(d time.Duration) time.Duration
	// Wait pauses d or until ctx ends; nil: a timer. Tests record pauses.
	Wait func(ctx context.Context, d time.Duration)
	// Queue is the number of messages waiting at most per target; beyond,
	// Send drops the message for that target.
	Queue int
	// Tracer, when set, traces each delivery (a span per message and
	// target) and each attempt (a client span whose traceparent header
	// the receiver gets). Set before Open.
	Tracer *tracing.Tracer

	queues []chan Message // one per target, so a target that is down holds up no other
	cancel context.CancelFunc
	done   sync.WaitGroup
	// closing is held shared by Send while it queues and exclusively by
	// Close while it sets closed, so that no message is queued after the
	// delivery goroutines drained their queues at the end (and would sit
	// there uncounted). Send never blocks while holding it.
	closing sync.RWMutex
	closed  bool // set by Close: Send then drops, as no goroutine reads the queues

	// Delivered, Failed and Dropped count deliveries (one per message and
	// target).
	Delivered, Failed, Dropped atomic.Uint64
}

// NewSender returns a sender to targets with the defaults.
func NewSender(targets []Target, logger *slog.Logger) *Sender {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Sender{
		Targets: targets, Client: &http.Client{Timeout: 10 * time.Second}, Now: time.Now, Logger: logger,
		Attempts: 4, Backoff: time.Second, MaxRetryAfter: 5 * time.Minute, Queue: 256,
	}
}

// Open checks the targets and starts delivering.
func (s *Sender) Open() error {
	for _, t := range s.Targets {
		if err := t.Check(); err != nil {
			return err
		}
	}
	if s.Attempts < 1 {
		s.Attempts = 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.queues = make([]chan Message, len(s.Targets))
	for i, t := range s.Targets {
		q := make(chan Message, max(s.Queue, 1))
		s.queues[i] = q
		s.done.Add(1)
		go s.run(ctx, t, q)
	}
	return nil
}

// Close stops delivering and waits for the delivery under way.
func (s *Sender) Close() error {
	if s.cancel == nil {
		return nil
	}
	s.closing.Lock()
	s.closed = true
	s.closing.Unlock()
	s.cancel()
	s.done.Wait()
	return nil
}

// Send queues m for every target without blocking; it reports false when
// a target's queue is full (m is dropped for that target and counted) or
// the sender is not open (or closed: nothing would read the queues).
func (s *Sender) Send(m Message) bool {
	if len(s.queues) == 0 {
		return false
	}
	s.closing.RLock()
	defer s.closing.RUnlock()
	if s.closed {
		s.Dropped.Add(uint64(len(s.queues)))
		s.Logger.Warn("webhook sender closed; message dropped", "event", m.Event)
		return false
	}
	ok := true
	for i, q := range s.queues {
		select {
		case q <- m:
		default:
			ok = false
			s.Dropped.Add(1)
			s.Logger.Warn("webhook queue full; message dropped", "url", redact(s.Targets[i].URL), "event", m.Event)
		}
	}
	return ok
}

// run delivers the messages of t's queue in order.
func (s *Sender) run(ctx context.Context, t Target, q chan Message) {
	defer s.done.Done()
	for {
		select {
		case <-ctx.Done():
			if n := len(q); n > 0 {
				s.Dropped.Add(uint64(n))
				s.Logger.Warn("webhooks not delivered at shutdown", "url", redact(t.URL), "messages", n)
			}
			return
		case m := <-q:
			s.deliver(ctx, t, m)
		}
	}
}

// deliver posts m to t, retrying, in its span when tracing.
func (s *Sender) deliver(ctx context.Context, t Target, m Message) {
	body, id, err := Encode(t.Format, m, s.Now())
	ctx, span := s.Tracer.Start(ctx, "webhook deliver", trace.SpanKindProducer,
		attribute.String("valueloop.webhook.event", m.Event),
		attribute.String("valueloop.webhook.id", id),
		attribute.String("valueloop.webhook.format", string(t.Format)),
		attribute.String("server.address", host(t.URL)))
	attempts := 0
	defer func() {
		span.SetAttributes(attribute.Int("valueloop.webhook.attempts", attempts))
		tracing.End(span, err)
	}()
	if err != nil {
		s.Failed.Add(1)
		s.Logger.Error("webhook: cannot encode message", "event", m.Event, "err", err)
		return
	}
	ceiling := s.Backoff
	for attempt := 1; ; attempt++ {
		attempts = attempt
		var retry bool
		var after time.Duration
		retry, after, err = s.attempt(ctx, t, m.Event, id, body, attempt)
		if err == nil {
			s.Delivered.Add(1)
			return
		}
		if after > s.MaxRetryAfter {
			retry = false
			err = fmt.Errorf("%w, and asks to retry after %s, longer than %s", err, after, s.MaxRetryAfter)
		}
		if !retry || attempt >= s.Attempts || ctx.Err() != nil {
			s.Failed.Add(1)
			s.Logger.Error("webhook delivery failed", "url", redact(t.URL), "event", m.Event, "delivery", id, "attempts", attempt, "err", err)
			return
		}
		pause := after
		if after <= 0 {
			pause = s.jitter(ceiling)
		}
		s.wait(ctx, pause)
		ceiling *= 2
	}
}

func (s *Sender) wait(ctx context.Context, d time.Duration) {
	if s.Wait != nil {
		s.Wait(ctx, d)
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func (s *Sender) jitter(d time.Duration) time.Duration {
	if s.Jitter != nil {
		return s.Jitter(d)
	}
	if d <= 0 {
		return 0
	}
	return time.Duration(mrand.Int64N(int64(d) + 1))
}

// post sends one attempt, signed afresh; retry says whether another may
// succeed, after how long when the receiver said (Retry-After).
// attempt posts once, in a client span when tracing.
func (s *Sender) attempt(ctx context.Context, t Target, event, id string, body []byte, n int) (retry bool, after time.Duration, err error) {
	ctx, span := s.Tracer.Start(ctx, http.MethodPost, trace.SpanKindClient,
		attribute.String("http.request.method", http.MethodPost),
		attribute.String("server.address", host(t.URL)),
		attribute.Int("http.request.resend_count", n-1))
	retry, after, err = s.post(ctx, t, event, id, body)
	tracing.End(span, err)
	return retry, after, err
}

func (s *Sender) post(ctx context.Context, t Target, event, id string, body []byte) (retry bool, after time.Duration, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.URL, bytes.NewReader(body))
	if err != nil {
		return false, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Valueloop-Webhook/1")
	s.Tracer.Inject(ctx, req.Header) // traceparent, tracestate
	if t.Format == Generic {
		ts := s.Now().Unix()
		req.Header.Set(HeaderEvent, event)
		req.Header.Set(HeaderID, id)
		req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
		req.Header.Set(HeaderSignature, Sign(t.Secret, id, ts, body))
	}
	resp, err := s.Client.Do(req)
	if err != nil {
		// The client's error quotes the URL, whose path may be the
		// secret (Slack); it is logged and recorded on the span.
		if ue, ok := err.(*url.Error); ok {
			ue.URL = redact(t.URL)
		}
		return true, 0, err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch {
	case resp.StatusCode < 300:
		return false, 0, nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return true, RetryAfter(resp.Header.Get("Retry-After"), s.Now()), fmt.Errorf("receiver answered %s", resp.Status)
	}
	return false, 0, fmt.Errorf("receiver answered %s", resp.Status)
}

// RetryAfter reads a Retry-After header (RFC 9110: delay-seconds or an
// HTTP date) as a pause from now; 0 when absent or unreadable.
func RetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 || n > int64(365*24*time.Hour/time.Second) {
			return 0
		}
		return time.Duration(n) * time.Second
	}
	if at, err := http.ParseTime(v); err == nil && at.After(now) {
		return at.Sub(now)
	}
	return 0
}

// Encode returns the body of m in format f at time at, and the delivery id.
func Encode(f Format, m Message, at time.Time) ([]byte, string, error) {
	id := newID()
	var v any
	switch f {
	case Slack:
		context := "Valueloop · " + slackEscape(m.Event)
		if m.Link != "" {
			// mrkdwn's <URL|text>; a URL's own & < > escaped as Slack asks.
			context += " · <" + slackEscape(m.Link) + "|open in Valueloop>"
		}
		v = SlackPayload{Text: m.Text, Blocks: []SlackBlock{
			{Type: "section", Text: &SlackText{Type: "mrkdwn", Text: slackEscape(m.Text)}},
			{Type: "context", Elements: []*SlackText{{Type: "mrkdwn", Text: context}}},
		}}
	default:
		data, err := json.Marshal(m.Data)
		if err != nil {
			return nil, "", err
		}
		v = Payload{ID: id, Event: m.Event, At: at.UTC(), Text: m.Text, Data: data, Link: m.Link}
	}
	body, err := json.Marshal(v)
	return body, id, err
}

// slackEscape escapes the three characters Slack's mrkdwn reserves.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// newID returns a delivery id in the style Standard Webhooks shows
// ("msg_" and random characters): unique per delivery, for deduplication.
func newID() string {
	var b [16]byte
	rand.Read(b[:])
	return "msg_" + hex.EncodeToString(b[:])
}

// host is the host of a target's URL: its path may hold a secret (Slack).
func host(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Host
	}
	return ""
}

// redact keeps a URL's scheme and host for logs and errors: Slack webhook
// URLs carry their secret in the path.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(not shown: not a URL with a host)"
	}
	return u.Scheme + "://" + u.Host + "/…"
}
