package gitlab

import (
	"crypto/sha256"
	"crypto/subtle"

	"github.com/valueloop/valueloop"
)

// Headers GitLab sends with every delivery.
const (
	EventHeader       = "X-Gitlab-Event"
	TokenHeader       = "X-Gitlab-Token"
	IdempotencyHeader = "Idempotency-Key"
)

// VerifyToken checks a delivery's X-Gitlab-Token header against the secret
// token configured for the webhook. GitLab sends the token itself, not a
// signature, so the comparison is of SHA-256 digests in constant time: it
// reveals neither the content nor the length of the secret. Any failure is an
// EUNAUTHORIZED error; an empty secret verifies nothing and is refused.
func VerifyToken(secret []byte, token string) error {
	if len(secret) == 0 {
		return valueloop.Errorf(valueloop.EUNAUTHORIZED, "no secret token is configured for this GitLab source")
	}
	if err := CheckTokenForm(token); err != nil {
		return err
	}
	want, got := sha256.Sum256(secret), sha256.Sum256([]byte(token))
	if subtle.ConstantTimeCompare(want[:], got[:]) != 1 {
		return &valueloop.Error{Code: valueloop.EUNAUTHORIZED, Field: TokenHeader, Message: "does not match the webhook's secret token"}
	}
	return nil
}

// CheckTokenForm checks what can be checked of X-Gitlab-Token without a
// secret: that there is one.
func CheckTokenForm(token string) error {
	if token == "" {
		return &valueloop.Error{Code: valueloop.EUNAUTHORIZED, Field: TokenHeader, Message: "is missing: give the webhook a secret token"}
	}
	return nil
}

// DeliveryID returns the identity of a delivery that stays the same when
// GitLab retries it: the Idempotency-Key header (GitLab 17.4 and later).
// X-Gitlab-Event-UUID is not one: GitLab gives it per request and hook, so
// every event one request causes for a hook carries the same UUID, and a
// request made by a webhook's receiver recycles the UUID of the webhook
// that called it. Without a key, "" leaves the identity to the body's
// digest, which a retry repeats and another event does not.
func DeliveryID(idempotencyKey string) string {
	return idempotencyKey
}
