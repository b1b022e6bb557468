// Package webhook delivers Valueloop's outgoing webhooks: announcements
// such as a rollout advancing or being rolled back, posted to the URLs an
// operator configured, in the background and with retries.
//
// Two formats:
//
//   - Slack: the JSON of a Slack incoming webhook ({"text": ..., "blocks":
//     [...]}), which Slack, Mattermost, Rocket.Chat and most chat tools
//     accept. The URL is the secret; there is no signature.
//   - Generic: {"id", "event", "at", "text", "data"} signed with
//     HMAC-SHA256. The headers Valueloop-Timestamp (Unix seconds) and
//     Valueloop-Signature ("sha256=" and the hex HMAC of
//     "<timestamp>.<body>" under the shared secret) let the receiver check
//     that the body is ours and recent (see Verify); Valueloop-Event names
//     the event and Valueloop-Delivery identifies the delivery, the same on
//     every retry.
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
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Format of a target's payload.
type Format string

const (
	Generic Format = "generic"
	Slack   Format = "slack"
)

// Headers of a generic delivery.
const (
	HeaderEvent     = "Valueloop-Event"
	HeaderDelivery  = "Valueloop-Delivery"
	HeaderTimestamp = "Valueloop-Timestamp"
	HeaderSignature = "Valueloop-Signature"
)

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
		return fmt.Errorf("webhook URL %q: want an http or https URL", t.URL)
	}
	switch t.Format {
	case Slack:
	case Generic:
		if t.Secret == "" {
			return fmt.Errorf("webhook %s: a generic webhook needs a secret to sign with", u.Host)
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
}

// Payload is the body of a generic delivery.
type Payload struct {
	ID    string          `json:"id"`
	Event string          `json:"event"`
	At    time.Time       `json:"at"`
	Text  string          `json:"text"`
	Data  json.RawMessage `json:"data"`
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

// Sign returns the Valueloop-Signature of body sent at timestamp (Unix
// seconds): "sha256=" and the hex HMAC-SHA256 of "<timestamp>.<body>".
func Sign(secret string, timestamp int64, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(strconv.FormatInt(timestamp, 10)))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Verify checks a generic delivery as a receiver should: the signature
// matches body under secret (compared in constant time) and the timestamp
// lies within tolerance of now, so an old delivery cannot be replayed.
func Verify(secret string, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	ts, err := strconv.ParseInt(h.Get(HeaderTimestamp), 10, 64)
	if err != nil {
		return errors.New("webhook: missing or malformed " + HeaderTimestamp)
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("webhook: timestamp %d is %s away from now, more than %s", ts, d.Round(time.Second), tolerance)
	}
	got := h.Get(HeaderSignature)
	if !strings.HasPrefix(got, "sha256=") {
		return errors.New("webhook: missing or malformed " + HeaderSignature)
	}
	if !hmac.Equal([]byte(got), []byte(Sign(secret, ts, body))) {
		return errors.New("webhook: signature does not match")
	}
	return nil
}

// Sender delivers messages to every target in the background: each message
// is posted to each target in turn, retried with doubling pauses on network
// errors, 429 and 5xx answers. Construct with NewSender, set fields, Open;
// Close stops it (deliveries still queued are dropped and logged).
type Sender struct {
	Targets []Target
	Client  *http.Client
	Now     func() time.Time
	Logger  *slog.Logger
	// Attempts per delivery (default 4) and the first pause between them
	// (default 1s, doubling).
	Attempts int
	Backoff  time.Duration
	// Queue is the number of messages waiting at most; beyond, Send drops.
	Queue int

	queue  chan Message
	cancel context.CancelFunc
	done   chan struct{}

	// Delivered and Failed count deliveries (one per message and target).
	Delivered, Failed, Dropped atomic.Uint64
}

// NewSender returns a sender to targets with the defaults.
func NewSender(targets []Target, logger *slog.Logger) *Sender {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Sender{
		Targets: targets, Client: &http.Client{Timeout: 10 * time.Second}, Now: time.Now, Logger: logger,
		Attempts: 4, Backoff: time.Second, Queue: 256,
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
	s.queue = make(chan Message, max(s.Queue, 1))
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel, s.done = cancel, make(chan struct{})
	go s.run(ctx)
	return nil
}

// Close stops delivering and waits for the delivery under way.
func (s *Sender) Close() error {
	if s.cancel == nil {
		return nil
	}
	s.cancel()
	<-s.done
	return nil
}

// Send queues m for every target without blocking; it reports false when
// the queue is full or the sender is not open (m is dropped and counted).
func (s *Sender) Send(m Message) bool {
	if s.queue == nil || len(s.Targets) == 0 {
		return false
	}
	select {
	case s.queue <- m:
		return true
	default:
		s.Dropped.Add(1)
		s.Logger.Warn("webhook queue full; message dropped", "event", m.Event)
		return false
	}
}

func (s *Sender) run(ctx context.Context) {
	defer close(s.done)
	for {
		select {
		case <-ctx.Done():
			if n := len(s.queue); n > 0 {
				s.Dropped.Add(uint64(n))
				s.Logger.Warn("webhooks not delivered at shutdown", "messages", n)
			}
			return
		case m := <-s.queue:
			for _, t := range s.Targets {
				s.deliver(ctx, t, m)
			}
		}
	}
}

// deliver posts m to t, retrying.
func (s *Sender) deliver(ctx context.Context, t Target, m Message) {
	body, id, err := Encode(t.Format, m, s.Now())
	if err != nil {
		s.Failed.Add(1)
		s.Logger.Error("webhook: cannot encode message", "event", m.Event, "err", err)
		return
	}
	pause := s.Backoff
	for attempt := 1; ; attempt++ {
		retry, err := s.post(ctx, t, m.Event, id, body)
		if err == nil {
			s.Delivered.Add(1)
			return
		}
		if !retry || attempt >= s.Attempts || ctx.Err() != nil {
			s.Failed.Add(1)
			s.Logger.Error("webhook delivery failed", "url", redact(t.URL), "event", m.Event, "delivery", id, "attempts", attempt, "err", err)
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(pause):
		}
		pause *= 2
	}
}

// post sends one attempt; retry says whether another may succeed.
func (s *Sender) post(ctx context.Context, t Target, event, id string, body []byte) (retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.URL, bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Valueloop-Webhook/1")
	if t.Format == Generic {
		ts := s.Now().Unix()
		req.Header.Set(HeaderEvent, event)
		req.Header.Set(HeaderDelivery, id)
		req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
		req.Header.Set(HeaderSignature, Sign(t.Secret, ts, body))
	}
	resp, err := s.Client.Do(req)
	if err != nil {
		return true, err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch {
	case resp.StatusCode < 300:
		return false, nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return true, fmt.Errorf("receiver answered %s", resp.Status)
	}
	return false, fmt.Errorf("receiver answered %s", resp.Status)
}

// Encode returns the body of m in format f at time at, and the delivery id.
func Encode(f Format, m Message, at time.Time) ([]byte, string, error) {
	id := newID()
	var v any
	switch f {
	case Slack:
		v = SlackPayload{Text: m.Text, Blocks: []SlackBlock{
			{Type: "section", Text: &SlackText{Type: "mrkdwn", Text: slackEscape(m.Text)}},
			{Type: "context", Elements: []*SlackText{{Type: "mrkdwn", Text: "Valueloop · " + slackEscape(m.Event)}}},
		}}
	default:
		data, err := json.Marshal(m.Data)
		if err != nil {
			return nil, "", err
		}
		v = Payload{ID: id, Event: m.Event, At: at.UTC(), Text: m.Text, Data: data}
	}
	body, err := json.Marshal(v)
	return body, id, err
}

// slackEscape escapes the three characters Slack's mrkdwn reserves.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

func newID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// redact keeps a URL's scheme and host for logs: Slack webhook URLs carry
// their secret in the path.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(invalid URL)"
	}
	return u.Scheme + "://" + u.Host + "/…"
}
