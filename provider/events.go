package provider

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"sync"
	"time"

	"github.com/open-feature/go-sdk/openfeature"
)

// Event types as POST /api/v1/events takes them.
const (
	typeExposure = "exposure"
	typeTracking = "tracking"
)

// event is one event as the server's event endpoint takes it (package
// ingest decodes it; unknown fields are refused there). An exposure names
// the flag, the variant and the targeting key; a tracking event names what
// the user did, with a value and attributes, and carries a random id so
// that a batch sent twice (its answer was lost) is stored once.
type event struct {
	Type         string    `json:"type"`
	ID           string    `json:"id,omitempty"`
	Time         time.Time `json:"time"`
	TargetingKey string    `json:"targetingKey"`
	Flag         string    `json:"flag,omitempty"`
	Variant      string    `json:"variant,omitempty"`
	// Reason is an exposure's: the evaluation's reason, by which the
	// server tells a variant the split drew from one a rule or a static
	// flag served (docs/events.md).
	Reason string `json:"reason,omitempty"`
	// Split says whether the split chose the variant: this provider's
	// evaluator says SPLIT for a fractional split and nothing else, so
	// it knows, where the reason alone (TARGETING_MATCH, which flagd's
	// providers also give for a split) would count a rule's variant as
	// the split's.
	Split      *bool          `json:"split,omitempty"`
	Name       string         `json:"name,omitempty"`
	Value      *float64       `json:"value,omitempty"`
	Attributes map[string]any `json:"attributes,omitempty"`
}

// maxValue is the largest magnitude of a value the server accepts.
const maxValue = 1e12

// Track queues an OpenFeature tracking event: its name, the context's
// targeting key, the details' value and attributes, and the time. It never
// blocks; when the queue is full the event is dropped and counted. An event
// the server would refuse (no targeting key, a value that is not a finite
// number within ±1e12, attributes that are not JSON) is counted as
// rejected at once.
func (p *Provider) Track(_ context.Context, name string, evalCtx openfeature.EvaluationContext, details openfeature.TrackingEventDetails) {
	q := p.eventQueue()
	value := details.Value()
	ev := event{
		Type:         typeTracking,
		ID:           newEventID(),
		Time:         p.now().UTC(),
		TargetingKey: evalCtx.TargetingKey(),
		Name:         name,
		Value:        &value,
	}
	var problem string
	switch {
	case ev.TargetingKey == "":
		problem = "no targeting key in the evaluation context"
	case name == "":
		problem = "no event name"
	case math.IsNaN(value) || math.Abs(value) > maxValue:
		problem = fmt.Sprintf("value %g is not a finite number within ±%g", value, maxValue)
	}
	if attrs := details.Attributes(); len(attrs) > 0 && problem == "" {
		if _, err := json.Marshal(attrs); err != nil {
			problem = "attributes cannot be sent as JSON: " + err.Error()
		}
		ev.Attributes = attrs
	}
	if problem != "" {
		p.Logger.Warn("valueloop events: tracking event dropped", "name", name, "problem", problem)
		q.reject(1)
		return
	}
	q.push(ev)
}

// eventQueue returns the event queue, created on first use with QueueLimit
// and BatchSize.
func (p *Provider) eventQueue() *queue {
	if q := p.queue.Load(); q != nil {
		return q
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if q := p.queue.Load(); q != nil {
		return q
	}
	q := newQueue(p.QueueLimit, p.BatchSize, p.now)
	p.queue.Store(q)
	return q
}

func newEventID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b[:])
}

// queue holds events until they are sent. It is bounded: an event that finds
// it full is dropped and counted.
type queue struct {
	limit, batch int
	seenLimit    int // bounds seen
	now          func() time.Time
	wake         chan struct{} // a full batch is waiting

	mu       sync.Mutex
	events   []event
	seen     map[string]map[string]string // flag → targeting key → variant, queued this interval
	nseen    int
	sent     uint64
	dropped  uint64
	rejected uint64
}

func newQueue(limit, batch int, now func() time.Time) *queue {
	if limit <= 0 {
		limit = 10000
	}
	if batch <= 0 {
		batch = 500
	}
	return &queue{limit: limit, batch: batch, seenLimit: max(4*limit, 1024), now: now, wake: make(chan struct{}, 1), seen: map[string]map[string]string{}}
}

// inSplit and outsideSplit are what Split points to: shared, so that an
// exposure costs no allocation for it.
var inSplit, outsideSplit = true, false

// splitOf is an exposure's Split for the evaluation's reason.
func splitOf(reason string) *bool {
	if reason == "SPLIT" {
		return &inSplit
	}
	return &outsideSplit
}

// expose queues an exposure unless the same one is already queued in this
// interval. It is on the evaluation path: one lock and two lookups by string
// (the runtime's fast path; a struct of three strings hashes far slower).
func (q *queue) expose(flag, variant, targetingKey, reason string) {
	q.mu.Lock()
	byKey := q.seen[flag]
	if v, ok := byKey[targetingKey]; ok && v == variant {
		q.mu.Unlock()
		return
	}
	if q.nseen >= q.seenLimit {
		// Forget early rather than grow without bound: at worst a few
		// exposures are sent twice, which the server takes in its stride.
		clear(q.seen)
		q.nseen, byKey = 0, nil
	}
	if byKey == nil {
		byKey = map[string]string{}
		q.seen[flag] = byKey
	}
	byKey[targetingKey] = variant
	q.nseen++
	q.pushLocked(event{Type: typeExposure, Time: q.now().UTC(), Flag: flag, Variant: variant, TargetingKey: targetingKey, Reason: reason, Split: splitOf(reason)})
	q.mu.Unlock()
}

func (q *queue) push(ev event) {
	q.mu.Lock()
	q.pushLocked(ev)
	q.mu.Unlock()
}

func (q *queue) pushLocked(ev event) {
	if len(q.events) >= q.limit {
		q.dropped++
		return
	}
	q.events = append(q.events, ev)
	if len(q.events)%q.batch == 0 {
		select {
		case q.wake <- struct{}{}:
		default:
		}
	}
}

// newInterval forgets which exposures were queued.
func (q *queue) newInterval() {
	q.mu.Lock()
	clear(q.seen)
	q.nseen = 0
	q.mu.Unlock()
}

// peek copies the oldest n events (or fewer).
func (q *queue) peek(n int) []event {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]event(nil), q.events[:min(n, len(q.events))]...)
}

// remove takes the oldest n events off the queue (only the sender removes,
// so they are the ones it peeked) and adds to the counters.
func (q *queue) remove(n int, c tally) {
	q.mu.Lock()
	defer q.mu.Unlock()
	n = min(n, len(q.events))
	rest := copy(q.events, q.events[n:])
	clear(q.events[rest:]) // let attribute maps be collected
	q.events = q.events[:rest]
	q.sent += c.sent
	q.rejected += c.rejected
	q.dropped += c.dropped
}

// tally is what became of the events of a batch.
type tally struct{ sent, rejected, dropped uint64 }

// reject counts n events refused without being queued.
func (q *queue) reject(n int) {
	q.mu.Lock()
	q.rejected += uint64(n)
	q.mu.Unlock()
}

func (q *queue) counts() (queued int, sent, dropped, rejected uint64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.events), q.sent, q.dropped, q.rejected
}

// send posts queued events every FlushInterval, or as soon as a batch is
// full, until ctx ends; then it drains the queue within ShutdownTimeout.
func (p *Provider) send(ctx context.Context) {
	q := p.eventQueue()
	ticker := time.NewTicker(p.FlushInterval)
	defer ticker.Stop()
	failures := 0
	var retryAt time.Time
	for {
		select {
		case <-ctx.Done():
			p.drain(q)
			return
		case <-ticker.C:
			q.newInterval()
		case <-q.wake:
		}
		if time.Now().Before(retryAt) {
			continue
		}
		for {
			batch := q.peek(p.BatchSize)
			if len(batch) == 0 {
				break
			}
			c, err := p.post(ctx, batch)
			if err != nil && ctx.Err() != nil {
				break // shutting down: drain sends it
			}
			if err != nil && !final(err) {
				// Unreachable, overloaded, or no event endpoint yet (404):
				// keep the events (within the bound) and retry later.
				p.stats.sendFailures.Add(1)
				wait := backoff(p.MinBackoff, p.MaxBackoff, failures)
				if failures == 0 {
					p.Logger.Warn("valueloop events: send failed; will retry", "in", wait, "events", len(batch), "err", err)
				}
				failures++
				retryAt = time.Now().Add(wait)
				break
			}
			if err != nil {
				p.Logger.Error("valueloop events: batch refused; dropping it", "events", len(batch), "err", err)
			}
			q.remove(len(batch), c)
			failures, retryAt = 0, time.Time{}
			if len(batch) < p.BatchSize {
				break
			}
		}
	}
}

// final reports whether a failed post would fail the same way again: the
// server refused the request itself (400, 401, 403, 413, 415, ...). 404 is
// not final: the environment, or the event endpoint of an older server, may
// appear.
func final(err error) bool {
	var se *statusError
	return errors.As(err, &se) && se.refused() && se.status != http.StatusNotFound
}

// drain sends what is queued within ShutdownTimeout; the rest is counted as
// dropped.
func (p *Provider) drain(q *queue) {
	ctx, cancel := context.WithTimeout(context.Background(), p.ShutdownTimeout)
	defer cancel()
	for {
		batch := q.peek(p.BatchSize)
		if len(batch) == 0 {
			return
		}
		c, err := p.post(ctx, batch)
		if err == nil || final(err) {
			q.remove(len(batch), c)
			continue
		}
		queued, _, _, _ := q.counts()
		p.Logger.Warn("valueloop events: could not send at shutdown; dropping", "events", queued, "err", err)
		q.remove(queued, tally{dropped: uint64(queued)})
		return
	}
}

// post sends one batch and returns what the server did with its events.
// A final error (see final) counts the whole batch as rejected.
func (p *Provider) post(ctx context.Context, batch []event) (tally, error) {
	refused := tally{rejected: uint64(len(batch))}
	body, err := json.Marshal(batch)
	if err != nil { // Track lets through only events that encode
		return refused, &statusError{op: "events", status: http.StatusBadRequest, message: "encode events: " + err.Error()}
	}
	ctx, cancel := context.WithTimeout(ctx, p.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.URL+"/api/v1/events", bytes.NewReader(body))
	if err != nil {
		return refused, &statusError{op: "events", status: http.StatusBadRequest, message: err.Error()}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+p.Token)
	// Tokens bound to an environment ignore it; admin tokens need it.
	req.Header.Set("Valueloop-Environment", p.Environment)
	client := *p.HTTPClient // its own CheckRedirect for posts, the rest shared
	client.CheckRedirect = keepPost(p.HTTPClient.CheckRedirect)
	resp, err := client.Do(req)
	if re := (*redirectError)(nil); errors.As(err, &re) {
		return tally{}, fmt.Errorf("valueloop events: %w", re) // not url.Error's relative Location
	}
	if err != nil {
		return tally{}, fmt.Errorf("valueloop events: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return refused, readStatusError("events", resp)
	}
	// Every event of a judged batch is stored, a duplicate of one stored
	// (as good as stored), or rejected as invalid.
	var answer struct {
		Received int `json:"received"`
		Rejected int `json:"rejected"`
	}
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if json.Unmarshal(data, &answer) != nil || answer.Received != len(batch) {
		return tally{sent: uint64(len(batch))}, nil // an answer of another shape: take the 2xx at its word
	}
	rejected := min(answer.Rejected, len(batch))
	if rejected > 0 {
		p.Logger.Warn("valueloop events: server rejected events", "rejected", rejected, "answer", string(data[:min(len(data), 1000)]))
	}
	return tally{sent: uint64(len(batch) - rejected), rejected: uint64(rejected)}, nil
}

// redirectError is an event post not sent on through a redirect that would
// have turned it into a GET, or sent it without its token.
type redirectError struct {
	status        int
	from, to, how string // how: as what the new address would receive it
}

func (e *redirectError) Error() string {
	return fmt.Sprintf("POST %s was redirected to %s (%d), which would receive it %s, so it was not sent there; the events stay queued: give that server's address as the provider's URL", e.from, e.to, e.status, e.how)
}

// keepPost follows the redirects of an event post that keep its method and
// body (307, 308), as next allows (next is the HTTPClient's own
// CheckRedirect, nil for Go's default of 10), and refuses the others (301,
// 302, 303): Go's client would send a GET without the body, the batch would
// be lost, and the GET's refusal taken for the server refusing the events.
// It refuses too a redirect to another host (not the same or a subdomain),
// where Go's client sends no Authorization: the 401 that follows would be
// taken for a final refusal and the batch dropped. Not following is not
// final: the events are kept and retried, the log says where the server
// points.
func keepPost(next func(*http.Request, []*http.Request) error) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		first := via[0]
		how := ""
		switch {
		case req.Method != first.Method:
			how = "as a " + req.Method + " without the events"
		case first.Header.Get("Authorization") != "" && req.Header.Get("Authorization") == "":
			// The client has already copied the headers it keeps.
			how = "without the token (another host)"
		}
		if how != "" {
			status := 0
			if req.Response != nil {
				status = req.Response.StatusCode
			}
			return &redirectError{status: status, from: first.URL.String(), to: req.URL.String(), how: how}
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
}
