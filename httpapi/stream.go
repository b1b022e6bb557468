package httpapi

import (
	"bytes"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/valueloop/valueloop/auth"
	"github.com/valueloop/valueloop/flags"
)

// HeartbeatInterval is how often an idle stream sends a comment line, so
// that proxies keep it open and clients notice a dead connection.
var defaultHeartbeat = 15 * time.Second

// handleStream serves Server-Sent Events for one environment: first the full
// flag set as a flagd file (event "flags", id = environment version), then the
// full set again after each committed change. A client that reconnects with
// Last-Event-ID equal to the current version is sent nothing until the next
// change; any other id gets the current set at once. Sending whole sets keeps
// resumption exact without a change log: flag sets are small.
func (s *Server) handleStream(w http.ResponseWriter, r *http.Request) error {
	env := r.PathValue("env")
	if s.Flags.Live(env) == nil {
		return s.notLive(tokenOf(r), env)
	}
	// A revoked token ends its streams: at every reload of the tokens
	// (revocations here and, propagated, on other nodes) the stream's
	// token is checked again.
	secret := auth.BearerToken(r.Header.Get("Authorization"))
	return s.streamChanges(w, r, env, s.Auth.Watch(secret), func() error {
		_, err := s.Auth.Authenticate(secret)
		return err
	}, &s.sse, sseEvent)
}

// streamChanges serves env's changes as Server-Sent Events, one event of
// encode (cached in cache, shared by the environment's streams) per
// version: at once unless Last-Event-ID names the current version, then
// after each committed change, until the client leaves, the server shuts
// down or token (the stream's credential, checked by check after it is
// watched, so that no revocation falls between) is revoked.
func (s *Server) streamChanges(w http.ResponseWriter, r *http.Request, env string, token *auth.Watch, check func() error,
	cache *flags.Encoded[[]byte], encode func(*flags.Live) ([]byte, error)) error {
	if _, ok := w.(http.Flusher); !ok {
		return fmt.Errorf("streaming not supported by this connection")
	}
	// The slot first: a stream refused at MaxStreams does no other work.
	release, err := s.guard.streamSlot(r.Context(), true)
	if err != nil {
		return err
	}
	defer release()
	changes := make(chan string, 1)
	cancel := s.Flags.Subscribe(changes)
	defer cancel()
	if err := check(); err != nil {
		return err
	}
	s.metrics.streams.Inc()
	defer s.metrics.streams.Dec()

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)

	var sent int64 = -1
	if id, err := strconv.ParseInt(r.Header.Get("Last-Event-ID"), 10, 64); err == nil {
		sent = id
	}
	heartbeat := s.Heartbeat
	if heartbeat <= 0 {
		heartbeat = defaultHeartbeat
	}
	ticker := time.NewTicker(heartbeat)
	defer ticker.Stop()
	rc := http.NewResponseController(w)
	for {
		// The set is read before the token is checked: a set changed after
		// a revocation was answered must not reach the revoked token, and
		// the select below may pick the change before the reload.
		live := s.Flags.Live(env)
		if token.Revoked() {
			s.metrics.streamsRevoked.Inc()
			return nil
		}
		if live != nil && live.Version != sent {
			event, err := cache.Get(live, encode)
			if err != nil {
				s.Logger.Error("stream: encode flag set", "environment", env, "err", err)
				return nil
			}
			// A client that does not take the set within the write
			// timeout is dropped (streamWriter): its connection would
			// otherwise hold the server's writes (and the set) for as
			// long as it likes.
			if _, err := w.Write(event); err != nil {
				s.metrics.streamsDropped.Inc()
				return nil
			}
			if err := rc.Flush(); err != nil {
				s.metrics.streamsDropped.Inc()
				return nil
			}
			sent = live.Version
		}
		select {
		case <-r.Context().Done():
			return nil
		case <-s.closing:
			return nil
		case <-token.C(): // checked at the top of the loop
		case changed := <-changes:
			if changed != env {
				continue
			}
		case <-ticker.C:
			if _, err := w.Write([]byte(": heartbeat\n\n")); err != nil {
				s.metrics.streamsDropped.Inc()
				return nil
			}
			if err := rc.Flush(); err != nil {
				s.metrics.streamsDropped.Inc()
				return nil
			}
		}
	}
}

// writeSSEData writes data as one SSE data field: newlines (flagd files are
// indented) become continuation "data:" lines, which clients join with "\n".
func writeSSEData(buf *bytes.Buffer, data []byte) {
	for i, line := range bytes.Split(bytes.TrimRight(data, "\n"), []byte("\n")) {
		if i > 0 {
			buf.WriteString("\ndata: ")
		}
		buf.Write(line)
	}
}

// sseEvent encodes the SSE event carrying live's set (once per change,
// shared by the streams: Server.sse).
func sseEvent(live *flags.Live) ([]byte, error) {
	data, err := live.FlagdJSON()
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	buf.Grow(len(data) + 64)
	fmt.Fprintf(&buf, "id: %d\nevent: flags\ndata: ", live.Version)
	writeSSEData(&buf, data)
	buf.WriteString("\n\n")
	return buf.Bytes(), nil
}
