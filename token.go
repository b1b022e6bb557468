package valueloop

import "time"

// Token scopes. An evaluate token is bound to one environment and can do
// nothing but evaluate flags and send events; an admin token can change things.
const (
	ScopeEvaluate = "evaluate"
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
}

// CanEvaluate reports whether t may evaluate flags of env.
func (t *Token) CanEvaluate(env string) bool {
	return t.RevokedAt == nil && (t.Environment == "" || t.Environment == env)
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
