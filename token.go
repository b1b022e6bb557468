package valueloop

import "time"

// Token scopes. An evaluate token is bound to one environment and can do
// nothing but evaluate flags and send events; a viewer token can read
// everything an admin token can (the API's GET routes, the dashboard) and
// change nothing; an admin token can change things.
const (
	ScopeEvaluate = "evaluate"
	ScopeViewer   = "viewer"
	ScopeAdmin    = "admin"
)

// Token is an access token as stored: the secret itself is never kept, only
// its hash.
type Token struct {
	ID          int64      `json:"id"`
	Name        string     `json:"name"`
	Scope       string     `json:"scope"`
	Environment string     `json:"environment,omitempty"` // empty: all environments (admin only)
	CreatedAt   time.Time  `json:"createdAt"`
	RevokedAt   *time.Time `json:"revokedAt,omitempty"`

	// Client marks an evaluate token made to be shipped inside a web page or
	// a mobile app, where anyone can read it: it is public. It evaluates
	// flags and sends events of its one environment and nothing else; it
	// cannot read flag definitions (which may hold targeting rules naming
	// customers). Only client tokens are answered to cross-origin browsers.
	Client bool `json:"client,omitempty"`
	// Origins, for a client token, lists the browser origins
	// ("https://shop.example") it may be used from; empty: any origin.
	// Browsers enforce it; programs can send any Origin header, which is
	// why client tokens can do nothing that needs a secret.
	Origins []string `json:"origins,omitempty"`
	// NoExposures makes evaluations with this token record no exposures:
	// for QA, load tests and previews that must not enter experiments.
	NoExposures bool `json:"noExposures,omitempty"`
}

// CanEvaluate reports whether t may evaluate flags of env.
func (t *Token) CanEvaluate(env string) bool {
	return t.RevokedAt == nil && (t.Environment == "" || t.Environment == env)
}

// RecordsExposures reports whether t's evaluations are recorded as
// exposures: not for a NoExposures token, nor for a viewer token, which
// changes nothing — its evaluations are previews, and recorded they would
// put whoever it evaluates for into experiments.
func (t *Token) RecordsExposures() bool {
	return !t.NoExposures && t.Scope != ScopeViewer
}

// CanSendEvents reports whether t may send events to env: evaluate and
// admin tokens may, a viewer token changes nothing.
func (t *Token) CanSendEvents(env string) bool {
	return t.Scope != ScopeViewer && t.CanEvaluate(env)
}

// CanRead reports whether t may read env's configuration, results and
// history ("" for global reads): admin and viewer tokens.
func (t *Token) CanRead(env string) bool {
	return t.RevokedAt == nil && (t.Scope == ScopeAdmin || t.Scope == ScopeViewer) && (t.Environment == "" || t.Environment == env)
}

// CanReadDefinitions reports whether t may read the flag definitions of env
// (the stream of flagd files that in-process providers follow): any token
// that may evaluate env except a public client token.
func (t *Token) CanReadDefinitions(env string) bool {
	return t.CanEvaluate(env) && !t.Client
}

// AllowsOrigin reports whether a browser page of origin may use t: client
// tokens only, from their listed origins or, with none listed, from any.
func (t *Token) AllowsOrigin(origin string) bool {
	if !t.Client || t.RevokedAt != nil {
		return false
	}
	if len(t.Origins) == 0 {
		return true
	}
	for _, o := range t.Origins {
		if o == origin {
			return true
		}
	}
	return false
}

// CanAdmin reports whether t may change env ("" for global changes).
func (t *Token) CanAdmin(env string) bool {
	return t.RevokedAt == nil && t.Scope == ScopeAdmin && (t.Environment == "" || t.Environment == env)
}

// StoredToken is a token as a store keeps it: its fields and the SHA-256 hash
// of its secret.
type StoredToken struct {
	Token
	Hash []byte
}
