// Package opsgenie reads the deliveries of Opsgenie's outgoing Webhook
// integration as delivery incidents: an alert's Create action opens one,
// Close resolves it, and the other actions (Acknowledge, AddNote, …) say
// nothing about when it opened or closed and are acknowledged as ignored.
//
// Opsgenie does not sign its deliveries. The integration can add custom
// headers, so each source has a secret that Opsgenie sends in the
// X-Valueloop-Token header (or as the password of HTTP basic
// authentication in the URL); it is compared in constant time. The payload
// carries no delivery ID either: a delivery is identified by the alert's
// ID, the action and the alert's updatedAt, which Opsgenie repeats when it
// retries.
package opsgenie

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/dora"
)

// Source is the Event.Source of what this package reads.
const Source = "opsgenie"

// TokenHeader is the custom header the integration sends the source's
// secret in.
const TokenHeader = "X-Valueloop-Token"

// Credential picks the secret a delivery offers: the TokenHeader's value,
// else the password of an "Authorization: Basic" header. Empty when
// neither is there.
func Credential(token, authorization string) string {
	if token != "" {
		return token
	}
	scheme, enc, ok := strings.Cut(authorization, " ")
	if !ok || !strings.EqualFold(scheme, "Basic") {
		return ""
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(enc))
	if err != nil {
		return ""
	}
	_, password, _ := strings.Cut(string(raw), ":")
	return password
}

// CheckCredentialForm checks what can be checked of a delivery's
// credential (see Credential) without a secret: that there is one.
func CheckCredentialForm(credential string) error {
	if credential == "" {
		return &valueloop.Error{Code: valueloop.EUNAUTHORIZED, Field: TokenHeader,
			Message: "is missing: add it as a custom header of the Opsgenie webhook integration (or use basic authentication)"}
	}
	return nil
}

// Verify checks a delivery's credential (see Credential) against the
// source's secret, comparing SHA-256 digests in constant time so that
// neither the secret's length nor its prefix leaks. Any failure is an
// EUNAUTHORIZED error; an empty secret verifies nothing.
func Verify(secret []byte, credential string) error {
	if len(secret) == 0 {
		return valueloop.Errorf(valueloop.EUNAUTHORIZED, "no secret is configured for this Opsgenie source")
	}
	if err := CheckCredentialForm(credential); err != nil {
		return err
	}
	want, got := sha256.Sum256(secret), sha256.Sum256([]byte(credential))
	if subtle.ConstantTimeCompare(want[:], got[:]) != 1 {
		return &valueloop.Error{Code: valueloop.EUNAUTHORIZED, Field: TokenHeader, Message: "does not match the source's secret"}
	}
	return nil
}

// Config says which alerts are incidents.
type Config struct {
	// IncidentTag, when set, makes only the alerts carrying that tag
	// incidents; empty: every alert that names a service.
	IncidentTag string
}

type payload struct {
	Action string `json:"action"`
	Alert  struct {
		AlertID   string      `json:"alertId"`
		Message   string      `json:"message"`
		Entity    string      `json:"entity"`
		Tags      []string    `json:"tags"`
		CreatedAt json.Number `json:"createdAt"`
		UpdatedAt json.Number `json:"updatedAt"`
	} `json:"alert"`
}

// Parse reads one delivery. The alert's service is its tag
// "service:NAME", else its entity: name the catalog's service the same. An
// alert without either, or without cfg.IncidentTag, and actions other than
// Create and Close are Ignored with the reason; a malformed payload is an
// EINVALID error naming the field.
func Parse(body []byte, cfg Config) (dora.Event, error) {
	ev := dora.Event{Source: Source}
	var p payload
	if err := json.Unmarshal(body, &p); err != nil {
		return ev, valueloop.FieldErrorf("alert", "the body is not an Opsgenie webhook delivery: %v", err)
	}
	a := &p.Alert
	ev.Kind = valueloop.Clip(p.Action)
	switch {
	case p.Action == "":
		return ev, valueloop.FieldErrorf("action", "is required")
	case p.Action == "TestAction":
		ev.Ignored = "test: the webhook is set up"
		return ev, nil
	case a.AlertID == "":
		return ev, valueloop.FieldErrorf("alert.alertId", "is required")
	case len(a.AlertID) > 200:
		return ev, valueloop.FieldErrorf("alert.alertId", "must be at most 200 characters long")
	}
	opened, err := timestamp("alert.createdAt", a.CreatedAt)
	if err != nil {
		return ev, err
	}
	updated, err := timestamp("alert.updatedAt", a.UpdatedAt)
	if err != nil {
		return ev, err
	}
	// Opsgenie repeats all three when it retries a delivery; a new action
	// on the alert changes the action or updatedAt.
	ev.DeliveryID = a.AlertID + ":" + ev.Kind + ":" + a.UpdatedAt.String()
	service := serviceOf(a.Tags, a.Entity)
	switch {
	case p.Action != "Create" && p.Action != "Close":
		ev.Ignored = ev.Kind + " does not open or close the incident"
		return ev, nil
	case cfg.IncidentTag != "" && !hasTag(a.Tags, cfg.IncidentTag):
		ev.Ignored = "the alert is not tagged " + valueloop.Clip(cfg.IncidentTag)
		return ev, nil
	case service == "":
		ev.Ignored = "the alert names no service: tag it service:NAME or set its entity to the service"
		return ev, nil
	case len(service) > 200:
		return ev, valueloop.FieldErrorf("alert.entity", "names a service of more than 200 characters")
	case updated.Before(opened):
		return ev, valueloop.FieldErrorf("alert.updatedAt", "%s is before the alert's createdAt (%s)",
			updated.Format(time.RFC3339Nano), opened.Format(time.RFC3339Nano))
	}
	inc := dora.Incident{ID: "opsgenie:alert:" + a.AlertID, Service: service, Title: a.Message, OpenedAt: opened, UpdatedAt: updated}
	if p.Action == "Close" {
		inc.ResolvedAt = &updated
	}
	ev.Incidents = []dora.Incident{inc}
	return ev, nil
}

// timestamp reads an epoch time. Opsgenie documents createdAt in
// milliseconds and updatedAt in nanoseconds; the magnitude tells the unit
// (any time after 1973 in milliseconds is below 10^14, in nanoseconds above
// 10^17), so either field may use either.
func timestamp(field string, n json.Number) (time.Time, error) {
	if n == "" {
		return time.Time{}, valueloop.FieldErrorf(field, "is required")
	}
	v, err := strconv.ParseInt(string(n), 10, 64)
	if err != nil || v <= 0 {
		return time.Time{}, valueloop.FieldErrorf(field, "%q is not a time: want milliseconds or nanoseconds since 1970", valueloop.Clip(string(n)))
	}
	var t time.Time
	switch {
	case v >= 1e17:
		t = time.Unix(0, v)
	case v >= 1e14:
		t = time.UnixMicro(v)
	default:
		t = time.UnixMilli(v)
	}
	if t.Year() >= 2200 {
		return time.Time{}, valueloop.FieldErrorf(field, "%d is out of range (1970 to 2199)", v)
	}
	return t.UTC(), nil
}

// serviceOf is the service an alert names: a tag "service:NAME" (the
// convention of forge issue labels), else its entity.
func serviceOf(tags []string, entity string) string {
	for _, t := range tags {
		if name, ok := cutPrefixFold(t, "service:"); ok && strings.TrimSpace(name) != "" {
			return strings.TrimSpace(name)
		}
	}
	return strings.TrimSpace(entity)
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return s, false
}

func hasTag(tags []string, want string) bool {
	for _, t := range tags {
		if strings.EqualFold(t, want) {
			return true
		}
	}
	return false
}
