package main

import (
	"unicode"

	"github.com/valueloop/valueloop"
)

// Rules for an admin token chosen in VALUELOOP_ADMIN_TOKEN. Tokens are
// stored as a plain SHA-256 of their secret (fast to compute, as every
// request needs it), which is safe for the generated ones (32 random
// bytes) but lets a short or simple chosen one be guessed offline from a
// copy of the database.
const (
	minAdminTokenLen      = 24
	minAdminTokenDistinct = 10
)

// checkChosenAdminToken refuses a weak VALUELOOP_ADMIN_TOKEN: fewer than
// minAdminTokenLen characters or minAdminTokenDistinct different ones, or
// whitespace and control characters (which no Authorization header
// carries intact). The empty token is no choice: one is generated. field
// names where the token was given (VALUELOOP_ADMIN_TOKEN, or
// adminTokenField's name of a flag or file).
func checkChosenAdminToken(secret, field string) error {
	if secret == "" {
		return nil
	}
	const why = "a chosen admin token is stored as a plain SHA-256 hash, so a weak one could be guessed from a copy of the database; " +
		"leave it out to have a strong one generated and printed once, or use 'openssl rand -hex 32'"
	distinct := map[rune]bool{}
	n := 0
	for _, r := range secret {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return valueloop.FieldErrorf(field, "must not contain whitespace or control characters (at character %d)", n+1)
		}
		distinct[r] = true
		n++
	}
	if n < minAdminTokenLen {
		return valueloop.FieldErrorf(field, "is %d characters long; it must be at least %d: %s", n, minAdminTokenLen, why)
	}
	if len(distinct) < minAdminTokenDistinct {
		return valueloop.FieldErrorf(field, "has %d different characters; it must have at least %d: %s", len(distinct), minAdminTokenDistinct, why)
	}
	return nil
}

// adminTokenField names where the admin-token setting came from, as the
// other settings' errors do: VALUELOOP_ADMIN_TOKEN, or "admin-token (from
// flag --admin-token)", "admin-token (from FILE)".
func adminTokenField(sources []configSource) string {
	const env = "VALUELOOP_ADMIN_TOKEN"
	for _, s := range sources {
		if s.setting.name == "admin-token" && s.from != env && s.from != "default" {
			return "admin-token (from " + s.from + ")"
		}
	}
	return env
}
