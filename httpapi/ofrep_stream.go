package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

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
	return s.publicLink(ofrepStreamPath + "?environment=" + url.QueryEscape(c.Environment) + "&ticket=" + s.Auth.TicketOf(secret))
}

// publicLink is the link a client follows to pathQuery (from "/") of this
// server: pathQuery itself at the root of the origin, under PublicURL's
// path when it is a prefix, and absolute when PublicURL names a host.
// OFREP resolves an endpoint's requestUri against the origin alone, so
// without it a client of https://example.com/flags/ would miss /flags.
func (s *Server) publicLink(pathQuery string) string {
	if s.PublicURL == nil {
		return pathQuery
	}
	prefix := s.PublicURL.EscapedPath()
	if s.PublicURL.Host == "" {
		return prefix + pathQuery
	}
	return s.PublicURL.Scheme + "://" + s.PublicURL.Host + prefix + pathQuery
}

// ParsePublicURL reads the public URL of a server (Server.PublicURL): an
// absolute http or https URL with a host, or a path from "/" (the prefix
// under which a proxy mounts the server on every host it answers), with
// neither a query, a fragment nor user information, since links are
// built by appending a path to it, and a host a client can reach
// (checkPublicHost). A trailing slash is dropped; "" is
// none (nil), the root of the origin asked.
func ParsePublicURL(v string) (*url.URL, error) {
	if v == "" {
		return nil, nil
	}
	const want = "want an absolute http(s) URL such as https://example.com/flags, or a path such as /flags"
	u, err := url.Parse(v)
	switch {
	case err != nil:
		return nil, fmt.Errorf("%s, not %q", want, v)
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(v, "#"):
		return nil, fmt.Errorf("%q has a query or fragment, and paths are appended to it: %s", v, want)
	case u.User != nil:
		// Not quoted: it may hold a password.
		return nil, fmt.Errorf("holds user information, which every client would be handed: %s, without it", want)
	case u.Scheme == "" && u.Host == "" && strings.HasPrefix(u.Path, "/") && !strings.HasPrefix(v, "//"):
	case (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.Opaque == "":
	default:
		return nil, fmt.Errorf("%s, not %q", want, v)
	}
	if u.Host != "" {
		if err := checkPublicHost(u); err != nil {
			return nil, fmt.Errorf("%q: %v", v, err)
		}
	}
	// The escaped path keeps ' ( ) and ; as written; the dashboard's
	// links (html/template) escape the first three and its cookie path
	// cannot hold ;, so its links, redirects and cookie would name
	// different paths: the browser would leave its session behind.
	if i := strings.IndexAny(u.EscapedPath(), "'();"); i >= 0 {
		c := u.EscapedPath()[i]
		return nil, fmt.Errorf("%q: the path holds %q, which the dashboard's links would escape or its cookie path drop: write it escaped (%%%02X)", v, string(c), c)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = strings.TrimRight(u.RawPath, "/")
	return u, nil
}

// checkPublicHost refuses a host no client could reach through a link:
// url.Parse lets < > " through in a host name, and any digits as a port.
// An IPv6 zone names an interface of one machine, meaningless to others.
func checkPublicHost(u *url.URL) error {
	if port := u.Port(); port != "" || strings.HasSuffix(u.Host, ":") {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("port %q is not a port from 1 to 65535", port)
		}
	}
	name := u.Hostname()
	if strings.HasPrefix(u.Host, "[") {
		if a, err := netip.ParseAddr(name); err == nil && a.Zone() != "" {
			return fmt.Errorf("host %q has an IPv6 zone, which names an interface of this machine alone", name)
		}
		return nil // url.Parse checked the address in brackets
	}
	for _, label := range strings.Split(strings.TrimSuffix(name, "."), ".") {
		if label == "" {
			return fmt.Errorf("host %q has an empty label", name)
		}
		for _, r := range label {
			switch {
			case r >= utf8.RuneSelf:
				return fmt.Errorf("host %q is not ASCII: write an international name in its ASCII form (xn--…)", name)
			case r != '-' && r != '_' && !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9'):
				return fmt.Errorf("host %q is no host name (letters, digits, - and . only)", name)
			}
		}
	}
	return nil
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
		return s.notLive(t, env)
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
// a change notification: the version it was notified of. Any OFREP
// evaluation carrying it waits alike (single-flag ones too, though
// providers send it on bulk fetches only): it costs the caller at most
// freshnessWait, within its per-client request limit, and telling the two
// apart here would mean matching paths that a proxy may prefix.
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
	if s.awaiting != nil {
		s.awaiting()
	}
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
