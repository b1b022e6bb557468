package provider

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/open-feature/go-sdk/openfeature"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/flagd"
	"github.com/valueloop/valueloop/flagplan"
)

// maxEventSize bounds one Server-Sent Event, so that a broken server cannot
// make the provider buffer without end. Flag sets are far smaller.
const maxEventSize = 64 << 20

// follow keeps a stream open until ctx ends, reconnecting with backoff.
func (p *Provider) follow(ctx context.Context) {
	failures := 0
	for {
		connected, err := p.stream(ctx)
		if ctx.Err() != nil {
			return
		}
		if connected {
			failures = 0
		}
		var wait time.Duration
		var se *statusError
		if errors.As(err, &se) && se.refused() {
			p.refused(se)
			wait = p.MaxBackoff // retrying fast cannot change the answer
		} else {
			p.lost(err)
			wait = backoff(p.MinBackoff, p.MaxBackoff, failures)
			failures++
		}
		p.Logger.Debug("valueloop stream: reconnecting", "in", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// backoff returns the delay before retry number failures (0 first): min
// doubled per failure, capped at max, with "equal jitter" (between half the
// delay and the whole) so that many clients dropped by one restart do not
// come back in step.
func backoff(min, max time.Duration, failures int) time.Duration {
	d := max
	if failures < 32 {
		if x := min << failures; x > 0 && x < max {
			d = x
		}
	}
	half := d / 2
	return half + rand.N(d-half+1)
}

// stream opens one stream and applies its flag sets until it ends.
// connected reports whether the server accepted the stream.
func (p *Provider) stream(ctx context.Context) (connected bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var idle atomic.Bool
	timer := time.AfterFunc(p.IdleTimeout, func() { idle.Store(true); cancel() })
	defer timer.Stop()

	u := p.URL + "/api/v1/environments/" + url.PathEscape(p.Environment) + "/stream"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return false, fmt.Errorf("valueloop stream: %w", err)
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer "+p.Token)
	p.mu.Lock()
	if p.lastID != "" {
		req.Header.Set("Last-Event-ID", p.lastID)
	}
	p.mu.Unlock()

	resp, err := p.HTTPClient.Do(req)
	if err != nil {
		if idle.Load() {
			return false, fmt.Errorf("valueloop stream: no answer within %s", p.IdleTimeout)
		}
		return false, fmt.Errorf("valueloop stream: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false, readStatusError("stream", resp)
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "text/event-stream" {
		return false, fmt.Errorf("valueloop stream: %s answered with %q, not text/event-stream", u, mt)
	}
	p.connected()

	r := &sseReader{br: bufio.NewReaderSize(resp.Body, 32<<10), onLine: func() { timer.Reset(p.IdleTimeout) }}
	for {
		ev, err := r.next()
		if err != nil {
			switch {
			case idle.Load():
				err = fmt.Errorf("valueloop stream: nothing received for %s", p.IdleTimeout)
			case errors.Is(err, io.EOF):
				err = errors.New("valueloop stream: closed by the server")
			default:
				err = fmt.Errorf("valueloop stream: %w", err)
			}
			return true, err
		}
		if ev.typ == "flags" {
			p.apply(ev.id, ev.data)
		}
	}
}

// statusError is a request the server answered with an error status.
type statusError struct {
	op      string // "stream", "events"
	status  int
	message string
}

func (e *statusError) Error() string {
	if e.message == "" {
		return fmt.Sprintf("valueloop %s: %d %s", e.op, e.status, http.StatusText(e.status))
	}
	return fmt.Sprintf("valueloop %s: %d %s: %s", e.op, e.status, http.StatusText(e.status), e.message)
}

// refused reports whether the answer will not change by retrying soon: the
// token is refused or the environment does not exist.
func (e *statusError) refused() bool {
	return e.status >= 400 && e.status < 500 && e.status != http.StatusRequestTimeout && e.status != http.StatusTooManyRequests
}

// readStatusError reads the server's explanation: the detail of its
// problem (RFC 9457), or the message of the {"error": {...}} answers of
// servers from before problems.
func readStatusError(op string, resp *http.Response) error {
	var body struct {
		Detail string `json:"detail"`
		Error  struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	_ = json.Unmarshal(data, &body)
	msg := body.Detail
	if msg == "" {
		msg = body.Error.Message
	}
	return &statusError{op: op, status: resp.StatusCode, message: msg}
}

// apply parses, compiles and swaps in one flag set received with event id.
func (p *Provider) apply(id string, data []byte) {
	set, snap, err := flagd.Load("stream "+p.Environment+"@"+id, data)
	if err != nil {
		p.invalid(id, err)
		return
	}
	old := p.cur.Swap(&current{snap: snap, version: id})
	p.stats.syncs.Add(1)

	p.mu.Lock()
	p.lastID = id
	prev := p.status
	p.status = ready
	waiting := p.initWaiting
	p.initWaiting = false
	p.mu.Unlock()

	meta := map[string]any{"version": id}
	switch {
	case old == nil && waiting:
		p.initResult <- nil // the SDK announces READY when Init returns
	case old == nil:
		p.emit(openfeature.ProviderReady, openfeature.ProviderEventDetails{Message: "flag set received", EventMetadata: meta})
	default:
		if prev != ready {
			p.emit(openfeature.ProviderReady, openfeature.ProviderEventDetails{Message: "flag set received", EventMetadata: meta})
		}
		if changed := flagplan.ChangedFlags(old.snap.Set(), set); len(changed) > 0 {
			p.emit(openfeature.ProviderConfigChange, openfeature.ProviderEventDetails{
				Message: "flag set changed", FlagChanges: changed, EventMetadata: meta,
			})
		}
	}
}

// invalid reports a received set that does not parse or compile; the last
// good set keeps serving.
func (p *Provider) invalid(id string, err error) {
	p.stats.invalid.Add(1)
	p.Logger.Error("valueloop stream: invalid flag set; keeping the last good one", "environment", p.Environment, "version", id, "err", err)
	msg := "invalid flag set (version " + id + "): " + valueloop.ErrorMessage(err)
	var ve *valueloop.ValidationError
	if errors.As(err, &ve) {
		msg = "invalid flag set (version " + id + "): " + ve.Error()
	}
	if len(msg) > 1000 {
		msg = msg[:1000] + "…"
	}
	p.mu.Lock()
	p.status = invalidSet
	waiting := p.initWaiting
	p.initWaiting = false
	p.mu.Unlock()
	if waiting {
		p.initResult <- &openfeature.ProviderInitError{ErrorCode: openfeature.ParseErrorCode, Message: msg}
		return
	}
	p.emit(openfeature.ProviderError, openfeature.ProviderEventDetails{
		Message: msg, ErrorCode: openfeature.ParseErrorCode, EventMetadata: map[string]any{"version": id},
	})
}

// connected notes an accepted stream. A provider that was serving a stale
// set is ready again (the server sends a newer set, if any, at once).
func (p *Provider) connected() {
	p.mu.Lock()
	if p.everConnected {
		p.stats.reconnects.Add(1)
	}
	p.everConnected = true
	prev := p.status
	recovered := p.cur.Load() != nil && (prev == stale || prev == refused)
	if recovered {
		p.status = ready
	}
	p.mu.Unlock()
	if recovered {
		p.emit(openfeature.ProviderReady, openfeature.ProviderEventDetails{Message: "stream reconnected"})
	}
}

// lost notes a stream that ended or could not be opened.
func (p *Provider) lost(err error) {
	p.mu.Lock()
	prev := p.status
	if prev == ready {
		p.status = stale
	}
	p.mu.Unlock()
	if prev == ready {
		p.Logger.Warn("valueloop stream lost; serving the last flag set", "environment", p.Environment, "err", err)
		p.emit(openfeature.ProviderStale, openfeature.ProviderEventDetails{Message: err.Error()})
	}
}

// refused notes a stream the server refused (401, 403, 404, ...).
func (p *Provider) refused(se *statusError) {
	p.mu.Lock()
	prev := p.status
	p.status = refused
	waiting := p.initWaiting
	p.initWaiting = false
	p.mu.Unlock()
	if waiting {
		p.initResult <- &openfeature.ProviderInitError{ErrorCode: openfeature.GeneralCode, Message: se.Error()}
		return
	}
	if prev != refused {
		p.Logger.Error("valueloop stream refused", "environment", p.Environment, "err", se)
		p.emit(openfeature.ProviderError, openfeature.ProviderEventDetails{Message: se.Error(), ErrorCode: openfeature.GeneralCode})
	}
}

// sseReader reads Server-Sent Events as the HTML standard defines them,
// restricted to what a flag stream needs: "event", "data" (several lines
// joined with "\n") and "id" fields; comments; lines ending in LF or CRLF.
// "retry" is ignored: the provider's own backoff decides.
type sseReader struct {
	br     *bufio.Reader
	onLine func() // called for every line read, heartbeats included
	lastID string
	line   []byte
}

type sseEvent struct {
	id   string
	typ  string
	data []byte
}

// next returns the next event. An event cut short by the end of the stream
// is discarded, as the standard says.
func (r *sseReader) next() (sseEvent, error) {
	var ev sseEvent
	var data []byte
	hasData := false
	for {
		line, err := r.readLine()
		if err != nil {
			return sseEvent{}, err
		}
		if r.onLine != nil {
			r.onLine()
		}
		if len(line) == 0 { // dispatch
			if !hasData {
				ev = sseEvent{}
				continue
			}
			if data == nil {
				data = []byte{}
			}
			ev.id, ev.data = r.lastID, data
			if ev.typ == "" {
				ev.typ = "message"
			}
			return ev, nil
		}
		if line[0] == ':' {
			continue
		}
		field, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimPrefix(value, []byte(" "))
		switch string(field) {
		case "event":
			ev.typ = string(value)
		case "data":
			if len(data)+len(value) > maxEventSize {
				return sseEvent{}, fmt.Errorf("event larger than %d bytes", maxEventSize)
			}
			if hasData {
				data = append(data, '\n')
			}
			data = append(data, value...)
			hasData = true
		case "id":
			if bytes.IndexByte(value, 0) < 0 {
				r.lastID = string(value)
			}
		}
	}
}

// readLine returns the next line without its LF or CRLF; the slice is
// valid until the next call.
func (r *sseReader) readLine() ([]byte, error) {
	r.line = r.line[:0]
	for {
		chunk, err := r.br.ReadSlice('\n')
		if len(r.line)+len(chunk) > maxEventSize {
			return nil, fmt.Errorf("line longer than %d bytes", maxEventSize)
		}
		r.line = append(r.line, chunk...)
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			return nil, err
		}
		line := r.line[:len(r.line)-1]
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		return line, nil
	}
}
