package httpapi_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/experiment"
	"github.com/valueloop/valueloop/features"
	"github.com/valueloop/valueloop/metric"
	"github.com/valueloop/valueloop/storetest"
	"github.com/valueloop/valueloop/value"
)

// TestFeatureIfMatch: two people read a feature and each changes one field.
// Without a version check the second write replaced the first's change
// with the value it had read (a lost update). GET answers the feature's
// version as its ETag; a PUT with If-Match writes only over that version,
// and a stale one is a 409 that stores nothing.
func TestFeatureIfMatch(t *testing.T) {
	e, ctx := mustFeatureServer(t)
	resp, body := e.do(t, call{method: "GET", path: "/api/v1/features/f", token: adminSecret})
	etag := resp.Header.Get("ETag")
	var shown struct {
		Version string `json:"version"`
	}
	if err := json.Unmarshal([]byte(body), &shown); err != nil || etag == "" || etag != `"`+shown.Version+`"` {
		t.Fatalf("GET: ETag %q, version %q (%v), want the same version in both", etag, shown.Version, err)
	}
	put := func(title, ifMatch string) (int, string, string) {
		h := map[string]string{}
		if ifMatch != "" {
			h["If-Match"] = ifMatch
		}
		resp, body := e.do(t, call{method: "PUT", path: "/api/v1/features/f", token: adminSecret, headers: h,
			body: `{"key":"f","title":"` + title + `","objective":"o","hypothesis":{"change":"c"}}`})
		return resp.StatusCode, resp.Header.Get("ETag"), body
	}
	status, etag2, body := put("F by ana", etag)
	if status != 200 || etag2 == "" || etag2 == etag {
		t.Fatalf("first write over the version read: %d, ETag %q, %.300s; want 200 with a new ETag", status, etag2, body)
	}
	status, _, body = put("F by ben", etag)
	if status != 409 || !strings.Contains(body, "changed since") {
		t.Errorf("second write over the same, now stale, version: %d %.300s; want 409 saying it changed", status, body)
	}
	if f, _ := e.db.Feature(ctx, "f"); f.Title != "F by ana" {
		t.Errorf("stored title %q, want ana's: the stale write must store nothing", f.Title)
	}
	if status, _, _ = put("F by ben", etag2); status != 200 {
		t.Errorf("write over the current version: %d, want 200", status)
	}
	if status, _, body = put("F", `"not-a-version"`); status != 400 || !strings.Contains(body, "If-Match") {
		t.Errorf("a malformed If-Match: %d %.300s; want 400 naming If-Match", status, body)
	}
	if status, _, _ = put("F without a check", ""); status != 200 {
		t.Errorf("a write without If-Match: %d, want 200 (unconditional, as before)", status)
	}
}

// TestCreateCreatedMeanwhile: a POST creating an objective or a feature
// while another write of the same key has passed its checks and not
// stored yet. The POST checked that the key was new before the write and
// was answered 201 while the other write then replaced what it created
// (or it replaced the other's): of two creations one was lost and both
// were told they created. The POST is now checked with the write's
// checks, under the write lock, and answered 409.
func TestCreateCreatedMeanwhile(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name, path, body string
		first            func(*features.Service) error
	}{
		{"objective", "/api/v1/objectives", `{"key":"o2","title":"by ben","metric":"m","target":{"direction":"increase","value":0.1},"horizon":"2027-06-30"}`,
			func(s *features.Service) error {
				horizon, _ := value.ParseDate("2027-06-30")
				return s.PutObjective(ctx, &value.Objective{Key: "o2", Title: "by ana", Metric: "m",
					Target: value.Target{Direction: experiment.Increase, Value: 0.1}, Horizon: horizon}, "", "ana")
			}},
		{"feature", "/api/v1/features", `{"key":"f","title":"by ben","objective":"o","hypothesis":{"change":"c"}}`,
			func(s *features.Service) error {
				return s.PutFeature(ctx, &value.Feature{Key: "f", Title: "by ana", Objective: "o", Hypothesis: value.Hypothesis{Change: "c"}}, "", "ana")
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := mustFullServer(t)
			if err := e.db.PutObjective(ctx, mustObjective(t, "o", "O"), "t"); err != nil {
				t.Fatal(err)
			}
			if err := e.db.CreateMetric(ctx, "production", &metric.Metric{Key: "m", Kind: metric.Conversion, Event: "e"}, "t"); err != nil {
				t.Fatal(err)
			}
			st := storetest.NewHeldWrites(e.db)
			e.srv.Value.Store = st
			e.srv.Value.Environments = productionOnly
			other := features.New(st, e.db) // another node, on the same store
			other.Environments = e.srv.Value.Environments
			var status int
			var body string
			err := storetest.WriteDuringHeldWrite(t, st, st, func() error { return tc.first(other) }, func() error {
				resp, b := e.do(t, call{method: "POST", path: tc.path, token: adminSecret, body: tc.body})
				status, body = resp.StatusCode, b
				return nil
			})
			if err != nil || status != 409 || !strings.Contains(body, "exists") {
				t.Errorf("POST while another write creates the key: %d %.300s (%v); want 409 saying it exists", status, body, err)
			}
		})
	}
}

// TestFeatureIfMatchForms: If-Match is a list of entity tags or "*"
// (RFC 9110 13.1.1). "*" writes over any stored feature and fails only
// when there is none; a list writes when any of its tags is the current
// version. Both were refused as malformed (400), so a client sending the
// standard forms could not write at all.
func TestFeatureIfMatchForms(t *testing.T) {
	e, ctx := mustFeatureServer(t)
	const stale, other = `"0123456789abcdef"`, `"fedcba9876543210"`
	current := func() string {
		resp, _ := e.do(t, call{method: "GET", path: "/api/v1/features/f", token: adminSecret})
		return resp.Header.Get("ETag")
	}
	for _, tc := range []struct {
		name, key, ifMatch string
		want               int
	}{
		{"star over a stored feature", "f", "*", 200},
		// As a flag's: a conditional write needs the feature (RFC 9110),
		// and a missing one is not found, whatever the condition.
		{"star over no feature", "new", "*", 404},
		{"a version of no feature", "new", stale, 404},
		{"a list holding the current version", "f", stale + ", " + "CURRENT", 200},
		{"a list without it", "f", stale + "," + other, 409},
		{"a list with a malformed tag", "f", stale + ", nope", 400},
		{"an empty list element", "f", stale + ", ,", 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := strings.ReplaceAll(tc.ifMatch, "CURRENT", current())
			before := current()
			title := "F " + tc.name
			resp, body := e.do(t, call{method: "PUT", path: "/api/v1/features/" + tc.key, token: adminSecret,
				headers: map[string]string{"If-Match": h},
				body:    `{"key":"` + tc.key + `","title":"` + title + `","objective":"o","hypothesis":{"change":"c"}}`})
			if resp.StatusCode != tc.want {
				t.Fatalf("If-Match %s: %d %.300s; want %d", h, resp.StatusCode, body, tc.want)
			}
			if tc.want != 200 && current() != before {
				t.Errorf("a refused write changed the feature")
			}
			if _, err := e.db.Feature(ctx, "new"); err == nil {
				t.Errorf("If-Match %s created feature new, which did not exist", h)
			}
		})
	}
	e.srv.Value.Environments = productionOnly
	resp, body := e.do(t, call{method: "PUT", path: "/api/v1/objectives/new", token: adminSecret, headers: map[string]string{"If-Match": "*"},
		body: `{"key":"new","title":"N","metric":"m","target":{"direction":"increase","value":0.1},"horizon":"2027-03-31"}`})
	if resp.StatusCode != 404 || !strings.Contains(body, "not found") {
		t.Errorf("objective: If-Match * over no objective: %d %.300s; want 404", resp.StatusCode, body)
	}
	if _, err := e.db.Objective(ctx, "new"); err == nil {
		t.Error("If-Match * created objective new, which did not exist")
	}
}

// mustFeatureServer is a server storing objective o and its feature f.
func mustFeatureServer(t *testing.T) (*env, context.Context) {
	t.Helper()
	e := mustFullServer(t)
	ctx := context.Background()
	if err := e.db.PutObjective(ctx, mustObjective(t, "o", "O"), "t"); err != nil {
		t.Fatal(err)
	}
	if err := e.db.PutFeature(ctx, &value.Feature{Key: "f", Title: "F", Objective: "o", Hypothesis: value.Hypothesis{Change: "c"}}, "t"); err != nil {
		t.Fatal(err)
	}
	return e, ctx
}

// productionOnly is the environments of a value service that validates
// against production alone (the test servers' features.New has none).
func productionOnly() []valueloop.Environment {
	return []valueloop.Environment{{Key: "production", Name: "Production", Production: true}}
}

// mustObjective is an objective as the API would store it: with the target
// and horizon it requires (the store takes objectives without them).
func mustObjective(t testing.TB, key, title string) *value.Objective {
	t.Helper()
	horizon, err := value.ParseDate("2027-06-30")
	if err != nil {
		t.Fatal(err)
	}
	return &value.Objective{Key: key, Title: title, Metric: "m",
		Target: value.Target{Direction: experiment.Increase, Value: 0.1}, Horizon: horizon}
}
