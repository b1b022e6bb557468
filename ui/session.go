package ui

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/valueloop/valueloop"
)

// Cookie names. The session cookie holds a random identifier; the session
// itself (token, CSRF token, expiry) stays on the server.
const (
	sessionCookie = "vl_session"
	signinCookie  = "vl_signin" // double-submit CSRF token of the sign-in form
)

// session is one signed-in browser. The token's secret is kept in memory
// only, so that every request re-checks it: a revoked token ends its
// sessions at once.
type session struct {
	secret  string
	Token   valueloop.Token
	csrf    string
	created time.Time
	expires time.Time
}

// CanChange reports whether the session may change env ("" for anything).
func (s *session) CanChange(env string) bool {
	return s != nil && s.Token.CanAdmin(env)
}

// Admin reports whether the session holds an admin token.
func (s *session) Admin() bool { return s != nil && s.Token.Scope == valueloop.ScopeAdmin }

// sessions is the server-side session store, in memory: a restart signs
// everyone out, and with several nodes a load balancer must keep a browser
// on one node (sticky sessions).
type sessions struct {
	now      func() time.Time
	idle     time.Duration
	absolute time.Duration

	mu   sync.Mutex
	byID map[[sha256.Size]byte]*session // by the hash of the cookie value
}

func newSessions(now func() time.Time, idle, absolute time.Duration) *sessions {
	return &sessions{now: now, idle: idle, absolute: absolute, byID: map[[sha256.Size]byte]*session{}}
}

// create starts a session for a token and returns the cookie value.
func (s *sessions) create(secret string, t valueloop.Token) (string, *session) {
	id := randomString()
	now := s.now()
	ses := &session{secret: secret, Token: t, csrf: randomString(), created: now, expires: now.Add(s.idle)}
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range s.byID { // sweep expired sessions as new ones come
		if !now.Before(v.expires) {
			delete(s.byID, k)
		}
	}
	s.byID[sha256.Sum256([]byte(id))] = ses
	return id, ses
}

// get returns the live session of a cookie value and extends its idle
// expiry, up to the absolute limit.
func (s *sessions) get(id string) *session {
	if id == "" {
		return nil
	}
	k := sha256.Sum256([]byte(id))
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	ses := s.byID[k]
	if ses == nil {
		return nil
	}
	if !now.Before(ses.expires) {
		delete(s.byID, k)
		return nil
	}
	ses.expires = now.Add(s.idle)
	if limit := ses.created.Add(s.absolute); ses.expires.After(limit) {
		ses.expires = limit
	}
	return ses
}

func (s *sessions) delete(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.byID, sha256.Sum256([]byte(id)))
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

// setCookie sets a cookie the way every cookie of the UI is set: HttpOnly,
// SameSite=Strict (Lax would send it on cross-site top-level GETs, which
// the dashboard does not need), Secure over TLS.
func (u *UI) setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: r.TLS != nil || u.SecureCookies,
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

// clientAddr is the address failures are counted against: the host, and
// for IPv6 its /64, since one client commonly holds a whole /64 and could
// otherwise try from a fresh address each time.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if ip := net.ParseIP(host); ip != nil && ip.To4() == nil {
		return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
	}
	return host
}

// wait returns how long addr must wait before trying again (0: go ahead).
func (l *limiter) wait(addr string) time.Duration {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	recent := l.failures[addr][:0]
	for _, t := range l.failures[addr] {
		if now.Sub(t) < l.window {
			recent = append(recent, t)
		}
	}
	if len(recent) == 0 {
		delete(l.failures, addr)
		return 0
	}
	l.failures[addr] = recent
	if len(recent) < l.max {
		return 0
	}
	return l.window - now.Sub(recent[0])
}

func (l *limiter) fail(addr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if _, known := l.failures[addr]; !known && len(l.failures) >= l.addrs {
		// Full: forget the addresses whose failures have all aged out
		// (their last one is the newest). Only if every address is still
		// within its window is everything forgotten; forgetting all
		// lockouts whenever the map fills would let a spray of addresses
		// lift the lockout of the address under attack.
		for a, ts := range l.failures {
			if now.Sub(ts[len(ts)-1]) >= l.window {
				delete(l.failures, a)
			}
		}
		if len(l.failures) >= l.addrs {
			clear(l.failures)
		}
	}
	l.failures[addr] = append(l.failures[addr], now)
}
