package ui

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/auth"
)

// Cookie names. The session cookie holds a random identifier; the session
// itself (token, CSRF token, expiry) stays on the server.
const (
	sessionCookie = "vl_session"
	signinCookie  = "vl_signin" // double-submit CSRF token of the sign-in form
)

// session is one signed-in browser, as read from the store for a request.
type session struct {
	Token   valueloop.Token
	csrf    string
	hash    []byte
	created time.Time
	expires time.Time
}

// CanChange reports whether the session may change env ("" for anything).
func (s *session) CanChange(env string) bool {
	return s != nil && s.Token.CanAdmin(env)
}

// Admin reports whether the session holds an admin token.
func (s *session) Admin() bool { return s != nil && s.Token.Scope == valueloop.ScopeAdmin }

// SessionStore keeps the dashboard's sessions (the store), so that they
// survive a restart and every node of a cluster shares them: no sticky
// sessions. Revoking a token ends its sessions there, for every node.
type SessionStore interface {
	CreateSession(ctx context.Context, s valueloop.Session, perToken int) error
	Session(ctx context.Context, hash []byte) (valueloop.Session, valueloop.Token, error)
	TouchSession(ctx context.Context, hash []byte, expires time.Time) error
	DeleteSession(ctx context.Context, hash []byte) error
}

// sessions are the server side of the session cookie: the cookie holds a
// random identifier; the store only its SHA-256, so that a copy of the
// database signs nobody in. The CSRF token of a session is derived from the
// identifier (another hash), so it is not stored either.
type sessions struct {
	store    SessionStore
	now      func() time.Time
	idle     time.Duration
	absolute time.Duration
	perToken int
}

// touchEvery is how much a use must extend a session's expiry before the
// store is written: not a write per page view.
const touchEvery = time.Minute

func hashID(id string) []byte {
	h := sha256.Sum256([]byte(id))
	return h[:]
}

// csrfOf is the CSRF token of the session whose cookie holds id.
func csrfOf(id string) string {
	h := sha256.Sum256([]byte("valueloop csrf\x00" + id))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// create starts a session for a token and returns the cookie value; the
// token's oldest sessions beyond perToken end.
func (s *sessions) create(ctx context.Context, t valueloop.Token) (string, error) {
	id := randomString()
	now := s.now()
	err := s.store.CreateSession(ctx, valueloop.Session{Hash: hashID(id), TokenID: t.ID, CreatedAt: now, ExpiresAt: now.Add(s.idle)}, s.perToken)
	return id, err
}

// get returns the live session of a cookie value (nil when there is none:
// unknown, expired, ended or of a revoked token) and extends its idle
// expiry, up to the absolute limit.
func (s *sessions) get(ctx context.Context, id string) (*session, error) {
	if id == "" {
		return nil, nil
	}
	h := hashID(id)
	stored, tok, err := s.store.Session(ctx, h)
	if valueloop.ErrorCode(err) == valueloop.ENOTFOUND {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	now := s.now()
	if !now.Before(stored.ExpiresAt) {
		return nil, s.store.DeleteSession(ctx, h)
	}
	ses := &session{Token: tok, csrf: csrfOf(id), hash: h, created: stored.CreatedAt, expires: stored.ExpiresAt}
	next := now.Add(s.idle)
	if limit := stored.CreatedAt.Add(s.absolute); next.After(limit) {
		next = limit
	}
	if next.Sub(stored.ExpiresAt) >= touchEvery {
		if err := s.store.TouchSession(ctx, h, next); err != nil {
			return nil, err
		}
		ses.expires = next
	}
	return ses, nil
}

func (s *sessions) delete(ctx context.Context, id string) error {
	return s.store.DeleteSession(ctx, hashID(id))
}

func randomString() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("ui: no randomness: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func equalSecret(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

type sessionKey struct{}

func sessionOf(r *http.Request) *session {
	s, _ := r.Context().Value(sessionKey{}).(*session)
	return s
}

func withSession(r *http.Request, s *session) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), sessionKey{}, s))
}

// CookieSecurity says when the dashboard's cookies are marked Secure
// (sent back only over HTTPS).
type CookieSecurity int

const (
	// SecureAuto marks them Secure when the request came over TLS or a
	// proxy says it did (X-Forwarded-Proto: https). A client that lies
	// only keeps its own cookie from coming back over plain HTTP.
	SecureAuto CookieSecurity = iota
	// SecureAlways marks them Secure always: behind a TLS-terminating
	// proxy that does not set X-Forwarded-Proto.
	SecureAlways
	// SecureNever never does (plain HTTP on a trusted network).
	SecureNever
)

var cookieSecurityNames = []string{"auto", "always", "never"}

func (c CookieSecurity) String() string { return cookieSecurityNames[c] }

// ParseCookieSecurity reads auto, always or never.
func ParseCookieSecurity(s string) (CookieSecurity, error) {
	for i, n := range cookieSecurityNames {
		if s == n {
			return CookieSecurity(i), nil
		}
	}
	return SecureAuto, fmt.Errorf("want auto, always or never, not %q", s)
}

// secure reports whether a cookie set in answer to r is Secure.
func (c CookieSecurity) secure(r *http.Request) bool {
	switch c {
	case SecureAlways:
		return true
	case SecureNever:
		return false
	}
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// setCookie sets a cookie the way every cookie of the UI is set: HttpOnly,
// SameSite=Strict (Lax would send it on cross-site top-level GETs, which
// the dashboard does not need), Secure as SecureCookies says, for the
// dashboard's paths only (PathPrefix): behind a proxy the origin's other
// applications do not get them.
func (u *UI) setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: value, Path: cmp.Or(u.PathPrefix, "/"), MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: u.SecureCookies.secure(r),
	})
}

// limiter counts failed sign-ins per client address in a sliding window:
// after max failures the address must wait until the oldest one ages out.
type limiter struct {
	now    func() time.Time
	max    int
	window time.Duration
	// addrs bounds the addresses remembered, so that a spray of addresses
	// cannot grow the map without bound.
	addrs int

	mu       sync.Mutex
	failures map[string][]time.Time
}

func newLimiter(now func() time.Time, max int, window time.Duration) *limiter {
	return &limiter{now: now, max: max, window: window, addrs: 100_000, failures: map[string][]time.Time{}}
}

// clientAddr is the address failures are counted against: the client's
// key (auth.ClientKey: an IPv4 address, an IPv6 address's /64), or the
// remote address as it is when it holds no IP. The client is the
// connection's, or from one of the trusted proxies what its
// X-Forwarded-For says (auth.ForwardedClient): found already when the API
// server's guard put it in the request's context, read here otherwise.
func clientAddr(r *http.Request, trusted []netip.Prefix) string {
	ip, found := auth.ClientFrom(r.Context())
	if !found {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			host = r.RemoteAddr
		}
		if ip, err = netip.ParseAddr(host); err != nil {
			return host
		}
		ip = auth.ForwardedClient(ip, r.Header.Values("X-Forwarded-For"), trusted)
	}
	key := auth.ClientKey(ip)
	if key.Is6() {
		return key.String() + "/64"
	}
	return key.String()
}

// take counts an attempt of addr as a failure before its token is checked,
// in one step with the check of the limit, so that concurrent attempts
// cannot all pass the check before any is counted: it returns 0 and the
// time counted when addr may go ahead, else how long it must wait. An
// attempt that succeeds is forgiven.
func (l *limiter) take(addr string) (time.Duration, time.Time) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	recent := l.failures[addr][:0]
	for _, t := range l.failures[addr] {
		if now.Sub(t) < l.window {
			recent = append(recent, t)
		}
	}
	if len(recent) >= l.max {
		l.failures[addr] = recent
		return l.window - now.Sub(recent[0]), time.Time{}
	}
	if len(recent) == 0 {
		delete(l.failures, addr)
		l.makeRoom(now)
	}
	l.failures[addr] = append(recent, now)
	return 0, now
}

// forgive takes back the failure counted at at for a successful attempt.
func (l *limiter) forgive(addr string, at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ts := l.failures[addr]
	for i, t := range ts {
		if t.Equal(at) {
			ts = append(ts[:i], ts[i+1:]...)
			break
		}
	}
	if len(ts) == 0 {
		delete(l.failures, addr)
	} else {
		l.failures[addr] = ts
	}
}

// makeRoom makes room for a new address when the map is full: it forgets
// the addresses whose failures have all aged out (their last one is the
// newest). Only if every address is still within its window is everything
// forgotten; forgetting all lockouts whenever the map fills would let a
// spray of addresses lift the lockout of the address under attack.
func (l *limiter) makeRoom(now time.Time) {
	if len(l.failures) < l.addrs {
		return
	}
	for a, ts := range l.failures {
		if now.Sub(ts[len(ts)-1]) >= l.window {
			delete(l.failures, a)
		}
	}
	if len(l.failures) >= l.addrs {
		clear(l.failures)
	}
}
