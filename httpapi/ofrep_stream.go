package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/flags"
	"github.com/valueloop/valueloop/ofrep"
)

// ofrepStreamPath is OFREP's change notification stream (OFREP 0.3.0,
// ADR-0008), which every bulk answer announces in its eventStreams.
const ofrepStreamPath = "/ofrep/v1/stream"

// ofrepEventStream is the stream a bulk answer announces to its caller (the
// request was authenticated already): the caller's environment, and its
// token's ticket, since a browser's EventSource sends no headers and a
// secret does not belong in a URL.
func (s *Server) ofrepEventStream(r *http.Request, c ofrep.Caller) string {
	secret, err := ofrepSecret(r)
	if err != nil || secret == "" {
		return ""
	}
	return ofrepStreamPath + "?environment=" + url.QueryEscape(c.Environment) + "&ticket=" + s.Auth.TicketOf(secret)
}

// handleOFREPStream serves the change notifications of an environment to
// the holder of a ticket of a token that may evaluate it: an SSE event
// "message" whose data is {"type":"refetchEvaluation","etag":...} per
// version of the flag set, as the flag stream (streamChanges) sends whole
// sets. It says that something changed, never what: the provider fetches
// its evaluations again, with the etag as flagConfigEtag.
func (s *Server) handleOFREPStream(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	ticket := q.Get("ticket")
	t, err := s.authenticateTicket(r, ticket)
	if err != nil {
		return err
	}
	// As for the evaluations: the token's environment, or the one named.
	env, err := evaluatedEnvironment(t, q.Get("environment"), "environment", "query parameter")
	if err != nil {
		return err
	}
	if s.Flags.Live(env) == nil {
		return valueloop.Errorf(valueloop.ENOTFOUND, "environment %q not found", env)
	}
	return s.streamChanges(w, r, env, s.Auth.WatchTicket(ticket), func() error {
		_, err := s.Auth.AuthenticateTicket(ticket)
		return err
	}, &s.ofrepSSE, ofrepSSEEvent)
}

// ticketSecret is the credential of the OFREP stream: its ticket.
func ticketSecret(r *http.Request) (string, error) { return r.URL.Query().Get("ticket"), nil }

// ofrepSSEEvent encodes the refetchEvaluation event of live's version. The
// etag is the version: a node asked with it as flagConfigEtag knows
// whether it has that version yet (configVersion).
func ofrepSSEEvent(live *flags.Live) ([]byte, error) {
	return fmt.Appendf(nil, "id: %d\nevent: message\ndata: {\"type\":\"refetchEvaluation\",\"etag\":\"%d\"}\n\n", live.Version, live.Version), nil
}

// freshnessWait bounds how long a bulk evaluation triggered by a change
// notification waits for the version it was notified of, on a node that
// has not loaded it yet (the stream and the evaluation may reach different
// nodes of a cluster). Past it the node answers with what it has: the
// provider is told again of later changes, and its next fetch catches up.
const freshnessWait = 2 * time.Second

// configVersion reads the flagConfigEtag of a bulk evaluation triggered by
// a change notification: the version it was notified of.
func configVersion(r *http.Request) (int64, bool) {
	if r.URL.RawQuery == "" {
		return 0, false
	}
	v, err := strconv.ParseInt(r.URL.Query().Get("flagConfigEtag"), 10, 64)
	return v, err == nil
}

// awaitVersion returns env's live set once it is at version v or later,
// or the one it has when ctx ends or freshnessWait passes.
func (s *Server) awaitVersion(ctx context.Context, env string, v int64) *flags.Live {
	changes := make(chan string, 1)
	cancel := s.Flags.Subscribe(changes)
	defer cancel()
	timer := time.NewTimer(freshnessWait)
	defer timer.Stop()
	for {
		live := s.Flags.Live(env)
		if live == nil || live.Version >= v {
			return live
		}
		select {
		case <-changes:
		case <-timer.C:
			return live
		case <-ctx.Done():
			return live
		}
	}
}
