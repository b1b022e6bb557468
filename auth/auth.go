// Package auth issues access tokens and recognises them. Secrets are random,
// shown once, and only their SHA-256 hashes are stored; the set of live tokens
// is kept in memory so that checking a token on the evaluation path costs one
// hash and one map lookup, never a database query.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/valueloop/valueloop"
)

// Store is what the token service needs from storage.
type Store interface {
	CreateToken(ctx context.Context, t *valueloop.Token, hash []byte, actor string) error
	Tokens(ctx context.Context) ([]valueloop.StoredToken, error)
	RevokeToken(ctx context.Context, id int64, actor string) error
}

// Service creates, revokes and recognises tokens.
type Service struct {
	store Store

	mu     sync.Mutex // serialises reloads
	tokens atomic.Pointer[map[[sha256.Size]byte]*valueloop.Token]
	// tickets maps each live token's Ticket to it (AuthenticateTicket),
	// ticketOfHash each live token's hash to its Ticket (TicketOf).
	tickets      atomic.Pointer[map[string]*valueloop.Token]
	ticketOfHash atomic.Pointer[map[[sha256.Size]byte]string]
	origins      atomic.Pointer[originSet]
	// changed is closed (and replaced) by every Reload: long-lived
	// requests (flag streams) wait on it to check their token again.
	changed atomic.Pointer[chan struct{}]
}

// originSet is the union of the origins live client tokens allow: what a
// CORS preflight, which carries no token, can be answered from.
type originSet struct {
	any bool // a live client token allows every origin
	set map[string]bool
}

// NewService returns a service over store; call Reload before use.
func NewService(store Store) *Service {
	s := &Service{store: store}
	empty := map[[sha256.Size]byte]*valueloop.Token{}
	s.tokens.Store(&empty)
	s.tickets.Store(&map[string]*valueloop.Token{})
	s.ticketOfHash.Store(&map[[sha256.Size]byte]string{})
	ch := make(chan struct{})
	s.changed.Store(&ch)
	s.origins.Store(&originSet{})
	return s
}

// Changed returns a channel closed at the next reload of the live tokens
// (on this node: after a create or revoke here, or one made on another node
// and propagated). Whoever holds a token for long checks it again then.
func (s *Service) Changed() <-chan struct{} { return *s.changed.Load() }

// Watch follows the token of secret for a connection held open (a flag
// stream): C is closed at the next reload of the tokens, and Revoked then
// says whether secret still authenticates. Every stream that sends flags
// to a token checks it this way, so that revoking the token ends them all.
type Watch struct {
	s      *Service
	secret string
	ticket bool // secret is a Ticket
	ch     <-chan struct{}
}

// Watch returns a Watch of secret from now on.
func (s *Service) Watch(secret string) *Watch {
	return &Watch{s: s, secret: secret, ch: s.Changed()}
}

// WatchTicket returns a Watch of the token of ticket (a Ticket) from now
// on: it is revoked with the token.
func (s *Service) WatchTicket(ticket string) *Watch {
	return &Watch{s: s, secret: ticket, ticket: true, ch: s.Changed()}
}

// C is closed when the tokens were reloaded since the last Revoked; nil
// (never ready) for a nil Watch, a stream without a token.
func (w *Watch) C() <-chan struct{} {
	if w == nil {
		return nil
	}
	return w.ch
}

// Revoked reports whether the tokens were reloaded since the last call and
// secret no longer authenticates. Without a reload it costs a channel
// poll; a nil Watch is never revoked. Call it after reading what is to be sent: a revocation answered
// before a change of flags was made has then been signalled.
func (w *Watch) Revoked() bool {
	if w == nil {
		return false
	}
	select {
	case <-w.ch:
	default:
		return false
	}
	w.ch = w.s.Changed() // before checking, so a later reload is seen next time
	var err error
	if w.ticket {
		_, err = w.s.AuthenticateTicket(w.secret)
	} else {
		_, err = w.s.Authenticate(w.secret)
	}
	return err != nil
}

// Reload reads the live tokens from the store. Call it after any change made
// elsewhere (another node, a CLI on the same file).
func (s *Service) Reload(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	all, err := s.store.Tokens(ctx)
	if err != nil {
		return fmt.Errorf("auth: load tokens: %w", err)
	}
	m := make(map[[sha256.Size]byte]*valueloop.Token, len(all))
	for i := range all {
		if all[i].RevokedAt != nil || len(all[i].Hash) != sha256.Size {
			continue
		}
		t := all[i].Token
		m[[sha256.Size]byte(all[i].Hash)] = &t
	}
	s.install(m)
	return nil
}

// install makes m the live tokens (s.mu held) and tells whoever holds a
// token for long to check it again.
func (s *Service) install(m map[[sha256.Size]byte]*valueloop.Token) {
	origins := &originSet{set: map[string]bool{}}
	for _, t := range m {
		if t.Client {
			origins.any = origins.any || len(t.Origins) == 0
			for _, o := range t.Origins {
				origins.set[o] = true
			}
		}
	}
	tickets := make(map[string]*valueloop.Token, len(m))
	byHash := make(map[[sha256.Size]byte]string, len(m))
	for h, t := range m {
		ticket := ticketOf(h)
		tickets[ticket] = t
		byHash[h] = ticket
	}
	s.tokens.Store(&m)
	s.tickets.Store(&tickets)
	s.ticketOfHash.Store(&byHash)
	s.origins.Store(origins)
	next := make(chan struct{})
	close(*s.changed.Swap(&next))
}

// forget drops token id from the live tokens without reading the store.
func (s *Service) forget(id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := *s.tokens.Load()
	m := make(map[[sha256.Size]byte]*valueloop.Token, len(old))
	for h, t := range old {
		if t.ID != id {
			m[h] = t
		}
	}
	s.install(m)
}

// AllowsOrigin reports whether some live client token may be used from a
// browser page of origin. It answers CORS preflights, which carry no token;
// the request that follows is checked against its own token.
func (s *Service) AllowsOrigin(origin string) bool {
	o := s.origins.Load()
	return origin != "" && (o.any || o.set[origin])
}

// Authenticate returns the live token whose secret is secret, or an
// EUNAUTHORIZED error that says nothing more.
func (s *Service) Authenticate(secret string) (*valueloop.Token, error) {
	if secret != "" {
		if t, ok := (*s.tokens.Load())[Hash(secret)]; ok {
			return t, nil
		}
	}
	return nil, valueloop.Errorf(valueloop.EUNAUTHORIZED, "missing or invalid token")
}

// Ticket returns the ticket of secret: a credential for a URL, where a
// secret must not go (URLs end up in access logs, proxies and browser
// history), for a client that cannot send headers (a browser's
// EventSource). It is a hash of the stored hash, so the server derives it
// without the secret and nobody derives the secret from it; what a ticket
// opens is the route's to decide (OFREP's change notifications: no flag
// values), and it dies with its token.
func Ticket(secret string) string { return ticketOf(Hash(secret)) }

func ticketOf(hash [sha256.Size]byte) string {
	t := sha256.Sum256(append([]byte("valueloop ticket\x00"), hash[:]...))
	return base64.RawURLEncoding.EncodeToString(t[:])
}

// TicketOf is Ticket(secret), made once per live token rather than per
// call (every OFREP bulk answer carries its caller's).
func (s *Service) TicketOf(secret string) string {
	h := Hash(secret)
	if t, ok := (*s.ticketOfHash.Load())[h]; ok {
		return t
	}
	return ticketOf(h)
}

// AuthenticateTicket returns the live token whose Ticket is ticket, or an
// EUNAUTHORIZED error that says nothing more.
func (s *Service) AuthenticateTicket(ticket string) (*valueloop.Token, error) {
	if ticket != "" {
		if t, ok := (*s.tickets.Load())[ticket]; ok {
			return t, nil
		}
	}
	return nil, valueloop.Errorf(valueloop.EUNAUTHORIZED, "missing or invalid ticket")
}

// HasAdmin reports whether any live admin token exists.
func (s *Service) HasAdmin() bool {
	for _, t := range *s.tokens.Load() {
		if t.Scope == valueloop.ScopeAdmin {
			return true
		}
	}
	return false
}

var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@:-]{0,99}$`)

// Create validates t, stores it with a new secret (or with secret when not
// empty, for the bootstrap token) and returns the secret.
func (s *Service) Create(ctx context.Context, t *valueloop.Token, secret, actor string) (string, error) {
	if !namePattern.MatchString(t.Name) {
		return "", valueloop.FieldErrorf("name", "must be 1-100 letters, digits or ._@:- and start with a letter or digit")
	}
	switch t.Scope {
	case valueloop.ScopeEvaluate:
		if t.Environment == "" {
			return "", valueloop.FieldErrorf("environment", "an evaluate token must be bound to one environment")
		}
	case valueloop.ScopeAdmin, valueloop.ScopeViewer:
	default:
		return "", valueloop.FieldErrorf("scope", "must be %q, %q or %q, not %q", valueloop.ScopeEvaluate, valueloop.ScopeViewer, valueloop.ScopeAdmin, t.Scope)
	}
	if t.Client && t.Scope != valueloop.ScopeEvaluate {
		return "", valueloop.FieldErrorf("client", "a client token is public, so its scope must be %q, not %q", valueloop.ScopeEvaluate, t.Scope)
	}
	if len(t.Origins) > 0 && !t.Client {
		return "", valueloop.FieldErrorf("origins", "only client tokens are used from browsers; origins need client set")
	}
	for i, o := range t.Origins {
		norm, err := NormalizeOrigin(o)
		if err != nil {
			return "", valueloop.FieldErrorf(fmt.Sprintf("origins[%d]", i), "%v", err)
		}
		t.Origins[i] = norm
	}
	if secret == "" {
		secret = NewSecret(t.Scope)
		if t.Client {
			secret = "vl_client_" + strings.TrimPrefix(secret, "vl_eval_")
		}
	} else if len(secret) < 16 {
		return "", valueloop.FieldErrorf("secret", "must be at least 16 characters")
	}
	h := Hash(secret)
	if err := s.store.CreateToken(ctx, t, h[:], actor); err != nil {
		if valueloop.ErrorCode(err) == valueloop.ECONFLICT {
			return "", valueloop.FieldErrorf("secret", "is already in use by another token")
		}
		return "", err
	}
	return secret, s.Reload(ctx)
}

// Revoke revokes a token by id; it stops working at once on this node,
// also when the tokens cannot be read again after the revocation (the
// error is returned, and the token is dropped from the live ones anyway).
func (s *Service) Revoke(ctx context.Context, id int64, actor string) error {
	if err := s.store.RevokeToken(ctx, id, actor); err != nil {
		return err
	}
	if err := s.Reload(ctx); err != nil {
		s.forget(id)
		return err
	}
	return nil
}

// List returns every token, revoked ones included.
func (s *Service) List(ctx context.Context) ([]valueloop.Token, error) {
	all, err := s.store.Tokens(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]valueloop.Token, len(all))
	for i := range all {
		out[i] = all[i].Token
	}
	return out, nil
}

// NewSecret returns a new random secret with a prefix naming its scope, so a
// leaked token is recognisable in logs and by secret scanners.
func NewSecret(scope string) string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("auth: no randomness: " + err.Error())
	}
	prefix := "vl_eval_"
	switch scope {
	case valueloop.ScopeAdmin:
		prefix = "vl_admin_"
	case valueloop.ScopeViewer:
		prefix = "vl_view_"
	}
	return prefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// NormalizeOrigin checks that o is a web origin, scheme://host[:port] with
// nothing after it, and returns it in the form browsers send in the Origin
// header: lower case, without the scheme's default port. Wildcards are
// refused: a token that may be used from anywhere lists no origins.
func NormalizeOrigin(o string) (string, error) {
	u, err := url.Parse(o)
	if err != nil || u.Opaque != "" {
		return "", fmt.Errorf("%q is not an origin like https://shop.example", o)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("%q: the scheme must be http or https", o)
	}
	if u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("%q is not an origin: want scheme://host[:port] and nothing else", o)
	}
	if strings.Contains(u.Host, "*") {
		return "", fmt.Errorf("%q: wildcards are not allowed; list each origin, or none to allow any", o)
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if (u.Scheme == "http" && port == "80") || (u.Scheme == "https" && port == "443") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	return u.Scheme + "://" + host, nil
}

// Hash returns the stored form of a secret.
func Hash(secret string) [sha256.Size]byte {
	// A secret of usual length is copied to the stack: converting it
	// with []byte(secret) allocates beyond 32 bytes, on every request.
	var buf [128]byte
	if len(secret) <= len(buf) {
		return sha256.Sum256(append(buf[:0], secret...))
	}
	return sha256.Sum256([]byte(secret))
}

// BearerToken extracts the token from an Authorization header value.
func BearerToken(header string) string {
	const p = "bearer "
	if len(header) > len(p) && strings.EqualFold(header[:len(p)], p) {
		return strings.TrimSpace(header[len(p):])
	}
	return ""
}
