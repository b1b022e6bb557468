package opsgenie

import (
	"encoding/base64"
	"testing"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/forge/forgetest"
)

// The fixtures are written from Opsgenie's documented alert action data
// (docs.opsgenie.com, "Marid Alert Action Data", sent as the body of the
// Webhook integration): createdAt in milliseconds, updatedAt in
// nanoseconds. No captured delivery was at hand.

func TestParse(t *testing.T) {
	opened := time.Date(2026, 3, 4, 18, 30, 10, 250e6, time.UTC)
	ev, err := Parse(forgetest.ReadFixture(t, "create.json"), Config{})
	if err != nil {
		t.Fatal(err)
	}
	i := ev.Incidents
	if ev.DeliveryID != "70413a06-38d6-4c85-92b8-5ebc900d42e2:Create:1772649010250431112" || ev.Kind != "Create" || len(i) != 1 ||
		i[0].ID != "opsgenie:alert:70413a06-38d6-4c85-92b8-5ebc900d42e2" || i[0].Service != "shop" || i[0].Title != "checkout 502s" ||
		!i[0].OpenedAt.Equal(opened) || i[0].ResolvedAt != nil || !i[0].UpdatedAt.Equal(opened.Add(431112)) {
		t.Errorf("create: %+v", ev)
	}
	ev, err = Parse(forgetest.ReadFixture(t, "close.json"), Config{})
	if err != nil {
		t.Fatal(err)
	}
	i = ev.Incidents
	if len(i) != 1 || i[0].ResolvedAt == nil || !i[0].ResolvedAt.Equal(time.Date(2026, 3, 4, 19, 15, 40, 0, time.UTC)) || !i[0].OpenedAt.Equal(opened) ||
		ev.DeliveryID != "70413a06-38d6-4c85-92b8-5ebc900d42e2:Close:1772651740000000000" {
		t.Errorf("close: %+v", ev)
	}
	if ev, err = Parse(forgetest.ReadFixture(t, "create-entity.json"), Config{}); err != nil || len(ev.Incidents) != 1 || ev.Incidents[0].Service != "checkout" {
		t.Errorf("an alert without a service tag takes its entity: %+v %v", ev, err)
	}
	if ev, err = Parse(forgetest.ReadFixture(t, "acknowledge.json"), Config{}); err != nil || ev.Ignored != "Acknowledge does not open or close the incident" ||
		ev.DeliveryID != "70413a06-38d6-4c85-92b8-5ebc900d42e2:Acknowledge:1772649242117000000" {
		t.Errorf("acknowledge: %+v %v", ev, err)
	}
	if ev, err = Parse(forgetest.ReadFixture(t, "create.json"), Config{IncidentTag: "SEV1"}); err != nil || ev.Ignored != "the alert is not tagged SEV1" {
		t.Errorf("an alert without the incident tag: %+v %v", ev, err)
	}
	if ev, err = Parse(forgetest.ReadFixture(t, "create.json"), Config{IncidentTag: "SEV2"}); err != nil || len(ev.Incidents) != 1 {
		t.Errorf("an alert with the incident tag (any case): %+v %v", ev, err)
	}
}

func TestParseRefusesOrIgnores(t *testing.T) {
	for _, c := range []struct{ body, field, ignored string }{
		{`{"action":"TestAction","alert":{}}`, "", "test: the webhook is set up"},
		{`{"action":"Create","alert":{"alertId":"a","createdAt":1772649010250,"updatedAt":1772649010250431112,"message":"m"}}`, "",
			"the alert names no service: tag it service:NAME or set its entity to the service"},
		{`{"action":"AddNote","alert":{"alertId":"a","createdAt":1772649010250,"updatedAt":1772649010250431112,"entity":"shop"}}`, "",
			"AddNote does not open or close the incident"},
		{`{"alert":{"alertId":"a"}}`, "action", ""},
		{`{"action":"Create","alert":{"createdAt":1,"updatedAt":1}}`, "alert.alertId", ""},
		{`{"action":"Create","alert":{"alertId":"a","updatedAt":1772649010250431112,"entity":"shop"}}`, "alert.createdAt", ""},
		{`{"action":"Create","alert":{"alertId":"a","createdAt":1772649010250,"entity":"shop"}}`, "alert.updatedAt", ""},
		{`{"action":"Create","alert":{"alertId":"a","createdAt":-5,"updatedAt":1772649010250431112,"entity":"shop"}}`, "alert.createdAt", ""},
		{`{"action":"Create","alert":{"alertId":"a","createdAt":1.5e3,"updatedAt":1772649010250431112,"entity":"shop"}}`, "alert.createdAt", ""},
		{`{"action":"Create","alert":{"alertId":"a","createdAt":99999999999999,"updatedAt":1772649010250431112,"entity":"shop"}}`, "alert.createdAt", ""},
		{`{"action":"Close","alert":{"alertId":"a","createdAt":1772649010250,"updatedAt":1772640000000000000,"entity":"shop"}}`, "alert.updatedAt", ""},
		{`{"action":"Create","alert":{"alertId":"a","createdAt":"soon","updatedAt":1}}`, "alert", ""},
		{`[]`, "alert", ""},
	} {
		ev, err := Parse([]byte(c.body), Config{})
		if c.field != "" {
			if e, ok := err.(*valueloop.Error); !ok || e.Field != c.field || e.Code != valueloop.EINVALID {
				t.Errorf("%s: %v, want an EINVALID error on %s", c.body, err, c.field)
			}
			continue
		}
		if err != nil || ev.Ignored != c.ignored || len(ev.Incidents) != 0 {
			t.Errorf("%s: %+v %v, want ignored %q", c.body, ev, err, c.ignored)
		}
	}
}

func TestVerify(t *testing.T) {
	secret := []byte("opsgenie-secret-0123456789")
	basic := func(user, pass string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
	}
	for _, c := range []struct {
		name, token, authorization string
		secret                     []byte
		ok                         bool
	}{
		{"header", string(secret), "", secret, true},
		{"basic authentication", "", basic("opsgenie", string(secret)), secret, true},
		{"basic, scheme in lower case", "", "basic " + base64.StdEncoding.EncodeToString([]byte("u:"+string(secret))), secret, true},
		{"the header wins over basic", "guess-guess-guess", basic("u", string(secret)), secret, false},
		{"wrong secret", "opsgenie-secret-0123456788", "", secret, false},
		{"a prefix of the secret", "opsgenie-secret", "", secret, false},
		{"secret as the basic user name", "", basic(string(secret), ""), secret, false},
		{"bearer is not basic", "", "Bearer " + string(secret), secret, false},
		{"basic not base64", "", "Basic %%%", secret, false},
		{"missing", "", "", secret, false},
		{"no secret configured", "", "", nil, false},
		{"no secret configured, empty credential offered", "x", "", []byte{}, false},
	} {
		err := Verify(c.secret, Credential(c.token, c.authorization))
		if (err == nil) != c.ok || (err != nil && valueloop.ErrorCode(err) != valueloop.EUNAUTHORIZED) {
			t.Errorf("%s: %v, want ok %v (or EUNAUTHORIZED)", c.name, err, c.ok)
		}
	}
}
