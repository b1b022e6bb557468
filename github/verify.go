package github

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"strings"

	"github.com/valueloop/valueloop"
)

// SignatureHeader is the header that carries a delivery's signature.
const SignatureHeader = "X-Hub-Signature-256"

// Verify checks a delivery's X-Hub-Signature-256 header ("sha256=" and the
// hex HMAC-SHA256 of the body under the webhook's secret), comparing in
// constant time. Any failure is an EUNAUTHORIZED error; an empty secret
// verifies nothing and is refused.
func Verify(secret, body []byte, signature string) error {
	m := NewMAC(secret)
	m.Write(body)
	return VerifySum(secret, m.Sum(nil), signature)
}

// NewMAC returns the HMAC a delivery's body is signed with under secret:
// write the body through it as it arrives and give its sum to VerifySum,
// so the signature is checked without a second pass over the body.
func NewMAC(secret []byte) hash.Hash { return hmac.New(sha256.New, secret) }

// VerifySum is Verify given sum, the NewMAC(secret) sum of the body.
func VerifySum(secret, sum []byte, signature string) error {
	if len(secret) == 0 {
		return valueloop.Errorf(valueloop.EUNAUTHORIZED, "no webhook secret is configured for this GitHub source")
	}
	got, err := signatureDigest(signature)
	if err != nil {
		return err
	}
	if !hmac.Equal(got, sum) {
		return &valueloop.Error{Code: valueloop.EUNAUTHORIZED, Field: SignatureHeader, Message: "does not match the body: wrong secret, or the body was altered"}
	}
	return nil
}

// Sign returns the X-Hub-Signature-256 value GitHub sends for body.
func Sign(secret, body []byte) string {
	return "sha256=" + hex.EncodeToString(mac(secret, body))
}

func mac(secret, body []byte) []byte {
	m := NewMAC(secret)
	m.Write(body)
	return m.Sum(nil)
}

// CheckSignatureForm checks what can be checked of an X-Hub-Signature-256
// value before the body has arrived: that it is there and is a SHA-256
// digest.
func CheckSignatureForm(signature string) error {
	_, err := signatureDigest(signature)
	return err
}

func signatureDigest(signature string) ([]byte, error) {
	unauthorized := func(msg string) error {
		return &valueloop.Error{Code: valueloop.EUNAUTHORIZED, Field: SignatureHeader, Message: msg}
	}
	if signature == "" {
		return nil, unauthorized("is missing: give the webhook a secret")
	}
	digest, ok := strings.CutPrefix(signature, "sha256=")
	if !ok {
		return nil, unauthorized(`must start with "sha256="`)
	}
	got, err := hex.DecodeString(digest)
	if err != nil || len(got) != sha256.Size {
		return nil, unauthorized("is not a hex SHA-256 digest")
	}
	return got, nil
}
