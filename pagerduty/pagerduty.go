// Package pagerduty reads PagerDuty's v3 webhooks (generic webhooks, event
// subscriptions) as delivery incidents: incident.triggered opens one,
// incident.resolved resolves it, other incident events of an unresolved
// incident update it (those about notes and the like are ignored). Every
// delivery is signed: X-PagerDuty-Signature holds "v1=" and the hex
// HMAC-SHA256 of the body under the subscription's secret (several,
// comma-separated, while a secret is rotated).
package pagerduty

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"hash"
	"strings"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/dora"
)

// Source is the Event.Source of what this package reads.
const Source = "pagerduty"

// SignatureHeader carries a delivery's signatures.
const SignatureHeader = "X-PagerDuty-Signature"

// Verify checks X-PagerDuty-Signature against body, in constant time: one
// of its comma-separated "v1=<hex>" signatures must be the HMAC-SHA256 of
// body under secret. Any failure is an EUNAUTHORIZED error; an empty secret
// verifies nothing.
func Verify(secret, body []byte, header string) error {
	return VerifySum(secret, mac(secret, body), header)
}

// NewMAC returns the HMAC a delivery's body is signed with under secret:
// write the body through it as it arrives and give its sum to VerifySum,
// so the signature is checked without a second pass over the body.
func NewMAC(secret []byte) hash.Hash { return hmac.New(sha256.New, secret) }

// VerifySum is Verify given want, the NewMAC(secret) sum of the body.
func VerifySum(secret, want []byte, header string) error {
	if len(secret) == 0 {
		return valueloop.Errorf(valueloop.EUNAUTHORIZED, "no webhook secret is configured for this PagerDuty source")
	}
	sigs, err := signatures(header)
	if err != nil {
		return err
	}
	ok := false
	for _, got := range sigs {
		if hmac.Equal(got, want) {
			ok = true // keep comparing: the time taken does not depend on which matched
		}
	}
	if !ok {
		return &valueloop.Error{Code: valueloop.EUNAUTHORIZED, Field: SignatureHeader, Message: "no v1 signature matches the body: wrong secret, or the body was altered"}
	}
	return nil
}

// CheckSignatureForm checks what can be checked of X-PagerDuty-Signature
// without the body or a secret: that it holds a "v1=" HMAC-SHA256 digest
// in hex. Any failure is an EUNAUTHORIZED error.
func CheckSignatureForm(header string) error {
	_, err := signatures(header)
	return err
}

// signatures are the v1 digests of header that could be a signature
// (other versions and malformed parts are skipped, as PagerDuty may add
// them); an error when none is.
func signatures(header string) ([][]byte, error) {
	if header == "" {
		return nil, &valueloop.Error{Code: valueloop.EUNAUTHORIZED, Field: SignatureHeader, Message: "is missing"}
	}
	var out [][]byte
	for sig := range strings.SplitSeq(header, ",") {
		digest, v1 := strings.CutPrefix(strings.TrimSpace(sig), "v1=")
		if got, err := hex.DecodeString(digest); v1 && err == nil && len(got) == sha256.Size {
			out = append(out, got)
		}
	}
	if len(out) == 0 {
		return nil, &valueloop.Error{Code: valueloop.EUNAUTHORIZED, Field: SignatureHeader, Message: `holds no "v1=" signature of 64 hex digits`}
	}
	return out, nil
}

// Sign returns the X-PagerDuty-Signature PagerDuty sends for body.
func Sign(secret, body []byte) string { return "v1=" + hex.EncodeToString(mac(secret, body)) }

func mac(secret, body []byte) []byte {
	m := NewMAC(secret)
	m.Write(body)
	return m.Sum(nil)
}

type payload struct {
	Event struct {
		ID           string    `json:"id"`
		EventType    string    `json:"event_type"`
		ResourceType string    `json:"resource_type"`
		OccurredAt   time.Time `json:"occurred_at"`
		Data         struct {
			ID        string    `json:"id"`
			Type      string    `json:"type"`
			Title     string    `json:"title"`
			Status    string    `json:"status"`
			CreatedAt time.Time `json:"created_at"`
			Service   struct {
				Summary string `json:"summary"`
			} `json:"service"`
		} `json:"data"`
	} `json:"event"`
}

// Parse reads one delivery. The event's ID identifies the delivery, so a
// redelivery is recognised. The incident's service is the PagerDuty
// service's name (summary): name the catalog's service the same. Events
// other than incident events are Ignored with the reason; a malformed
// payload is an EINVALID error naming the field.
func Parse(body []byte) (dora.Event, error) {
	ev := dora.Event{Source: Source}
	var p payload
	if err := json.Unmarshal(body, &p); err != nil {
		return ev, valueloop.FieldErrorf("event", "the body is not a PagerDuty v3 webhook: %v", err)
	}
	e := &p.Event
	ev.Kind, ev.DeliveryID = e.EventType, e.ID
	switch {
	case e.ID == "":
		return ev, valueloop.FieldErrorf("event.id", "is required")
	case e.EventType == "pagey.ping":
		ev.Ignored = "ping: the webhook is set up"
		return ev, nil
	case e.ResourceType != "incident" || !strings.HasPrefix(e.EventType, "incident."):
		ev.Ignored = valueloop.Clip(e.EventType) + " events are not incidents"
		return ev, nil
	case e.Data.Type != "" && e.Data.Type != "incident":
		// incident.annotated and the like carry a note, a status update or
		// a responder request: its id is not the incident's.
		ev.Ignored = valueloop.Clip(e.EventType) + " events carry data of type " + valueloop.Clip(e.Data.Type) + ", not the incident"
		return ev, nil
	case e.EventType != "incident.resolved" && e.Data.Status == "resolved":
		// An update of a resolved incident (a priority set afterwards)
		// does not say when it was resolved: read as a snapshot, it would
		// move the resolution to the update.
		ev.Ignored = valueloop.Clip(e.EventType) + " of a resolved incident: its resolution is the incident.resolved event's"
		return ev, nil
	case e.Data.ID == "":
		return ev, valueloop.FieldErrorf("event.data.id", "is required")
	case e.Data.CreatedAt.IsZero():
		return ev, valueloop.FieldErrorf("event.data.created_at", "is required")
	case e.OccurredAt.IsZero():
		return ev, valueloop.FieldErrorf("event.occurred_at", "is required")
	case e.Data.Service.Summary == "":
		return ev, valueloop.FieldErrorf("event.data.service.summary", "is required: the service links the incident to deployments")
	}
	inc := dora.Incident{
		ID: "pagerduty:incident:" + e.Data.ID, Service: e.Data.Service.Summary, Title: e.Data.Title,
		OpenedAt: e.Data.CreatedAt.UTC(), UpdatedAt: e.OccurredAt.UTC(),
	}
	if e.EventType == "incident.resolved" {
		at := e.OccurredAt.UTC()
		inc.ResolvedAt = &at
	}
	ev.Incidents = []dora.Incident{inc}
	return ev, nil
}
