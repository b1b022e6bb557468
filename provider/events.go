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
	"net/http"
	"sync"
	"time"

	"github.com/open-feature/go-sdk/openfeature"
)

// Event kinds as POST /api/v1/events takes them.
const (
	kindExposure = "exposure"
	kindTracking = "tracking"
)

// event is one event as the server's event endpoint takes it, in a JSON
// array. An exposure names flag, variant and targeting key; a tracking event
// names the event, the targeting key, a value and attributes, and carries a
// random id so that a batch sent twice (the answer was lost) counts once.
type event struct {
	Kind         string         `json:"kind"`
	ID           string         `json:"id,omitempty"`
	Time         time.Time      `json:"time"`
	TargetingKey string         `json:"targetingKey,omitempty"`
	FlagKey      string         `json:"flagKey,omitempty"`
	Variant      string         `json:"variant,omitempty"`
	Name         string         `json:"name,omitempty"`
	Value        *float64       `json:"value,omitempty"`
	Attributes   map[string]any `json:"attributes,omitempty"`
}

// Track queues an OpenFeature tracking event: its name, the context's
// targeting key, the details' value and attributes, and the time. It never
// blocks; when the queue is full the event is dropped and counted.
func (p *Provider) Track(_ context.Context, name string, evalCtx openfeature.EvaluationContext, details openfeature.TrackingEventDetails) {
	value := details.Value()
	ev := event{
		Kind:         kindTracking,
		ID:           newEventID(),
		Time:         p.now().UTC(),
		TargetingKey: evalCtx.TargetingKey(),
		Name:         name,
		Value:        &value,
	}
	q := p.eventQueue()
	if attrs := details.Attributes(); len(attrs) > 0 {
		if _, err := json.Marshal(attrs); err != nil {
			p.Logger.Error("valueloop events: tracking event attributes cannot be sent as JSON; dropping the event", "name", name, "err", err)
			q.mu.Lock()
			q.rejected++
			q.mu.Unlock()
			return
		}
		ev.Attributes = attrs
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
	now          func() time.Time
	wake         chan struct{} // a full batch is waiting

	mu       sync.Mutex
	events   []event
	seen     map[exposureKey]struct{} // exposures queued this interval
	sent     uint64
	dropped  uint64
	rejected uint64
}

type exposureKey struct{ flag, variant, targetingKey string }

func newQueue(limit, batch int, now func() time.Time) *queue {
	if limit <= 0 {
		limit = 10000
	}
	if batch <= 0 {
		batch = 500
	}
	return &queue{limit: limit, batch: batch, now: now, wake: make(chan struct{}, 1), seen: map[exposureKey]struct{}{}}
}

// expose queues an exposure unless the same one is already queued in this
// interval. It is on the evaluation path: one lock, one map lookup.
func (q *queue) expose(flag, variant, targetingKey string) {
	k := exposureKey{flag, variant, targetingKey}
	q.mu.Lock()
	if _, ok := q.seen[k]; ok {
		q.mu.Unlock()
		return
	}
	if len(q.seen) >= q.limit {
		// Not remembered: count each distinct exposure lost once per
		// interval at most, without letting the set grow without bound.
		q.dropped++
		q.mu.Unlock()
		return
	}
	q.seen[k] = struct{}{}
	q.pushLocked(event{Kind: kindExposure, Time: q.now().UTC(), FlagKey: flag, Variant: variant, TargetingKey: targetingKey})
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
	q.mu.Unlock()
}

// peek copies the oldest n events (or fewer).
func (q *queue) peek(n int) []event {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]event(nil), q.events[:min(n, len(q.events))]...)
}

// outcome says what became of a batch.
type outcome int

const (
	delivered outcome = iota
	refusedBatch
	lostBatch
)

// remove takes the oldest n events off the queue (only the sender removes,
// so they are the ones it peeked) and counts them.
func (q *queue) remove(n int, o outcome) {
	q.mu.Lock()
	defer q.mu.Unlock()
	n = min(n, len(q.events))
	rest := copy(q.events, q.events[n:])
	clear(q.events[rest:]) // let attribute maps be collected
	q.events = q.events[:rest]
	switch o {
	case delivered:
		q.sent += uint64(n)
	case refusedBatch:
		q.rejected += uint64(n)
	case lostBatch:
		q.dropped += uint64(n)
	}
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
			err := p.post(ctx, batch)
			if ctx.Err() != nil {
				break // drained above on the next turn
			}
			var se *statusError
			switch {
			case err == nil:
				q.remove(len(batch), delivered)
				failures, retryAt = 0, time.Time{}
			case errors.As(err, &se) && se.refused() && se.status != http.StatusNotFound:
				p.Logger.Error("valueloop events: batch refused; dropping it", "events", len(batch), "err", err)
				q.remove(len(batch), refusedBatch)
			default:
				// Unreachable, overloaded, or no event endpoint yet (404):
				// keep the events (within the bound) and retry later.
				wait := backoff(p.MinBackoff, p.MaxBackoff, failures)
				if failures == 0 {
					p.Logger.Warn("valueloop events: send failed; will retry", "in", wait, "queued", len(batch), "err", err)
				}
				failures++
				retryAt = time.Now().Add(wait)
			}
			if err != nil || len(batch) < p.BatchSize {
				break
			}
		}
	}
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
		err := p.post(ctx, batch)
		var se *statusError
		switch {
		case err == nil:
			q.remove(len(batch), delivered)
			continue
		case errors.As(err, &se) && se.refused() && se.status != http.StatusNotFound:
			q.remove(len(batch), refusedBatch)
			continue
		}
		queued, _, _, _ := q.counts()
		p.Logger.Warn("valueloop events: could not send at shutdown; dropping", "events", queued, "err", err)
		q.remove(queued, lostBatch)
		return
	}
}

// post sends one batch.
func (p *Provider) post(ctx context.Context, batch []event) error {
	body, err := json.Marshal(batch)
	if err != nil { // Track let through only events that encode
		return fmt.Errorf("valueloop events: encode: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, p.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.URL+"/api/v1/events", bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("valueloop events: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+p.Token)
	resp, err := p.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("valueloop events: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil
	}
	return readStatusError(resp)
}
