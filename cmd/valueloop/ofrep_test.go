package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	ofrep "github.com/open-feature/go-sdk-contrib/providers/ofrep"
	"github.com/open-feature/go-sdk/openfeature"
)

// TestOFREPWithOpenFeatureSDK evaluates the demo flags through the official
// OpenFeature Go SDK and its OFREP provider, unmodified, against the real
// server.
func TestOFREPWithOpenFeatureSDK(t *testing.T) {
	srv := MustServe(t, "", "--demo")
	token := srv.mustToken(t, "--env", "production", "--scope", "evaluate")
	if !strings.HasPrefix(token, "vl_eval_") || strings.Contains(token, "\n") {
		t.Fatalf("token create printed %q, want the token alone", token)
	}

	if err := openfeature.SetProviderAndWait(ofrep.NewProvider(srv.URL, ofrep.WithBearerToken(token))); err != nil {
		t.Fatal(err)
	}
	client := openfeature.NewClient("e2e")
	ctx := context.Background()
	t.Run("boolean static", func(t *testing.T) {
		d, err := client.BooleanValueDetails(ctx, "kill-switch-payments", false, ofrepUser("u1", nil))
		checkDetails(t, anyDetails(d.Value, d.EvaluationDetails), err, ofrepWant{true, "on", openfeature.StaticReason, ""})
		if d.FlagMetadata["owner"] != "payments" {
			t.Errorf("metadata = %v, want owner=payments", d.FlagMetadata)
		}
	})
	t.Run("string targeting match", func(t *testing.T) {
		d, err := client.StringValueDetails(ctx, "checkout-flow", "none", ofrepUser("u2", map[string]any{"email": "ann@valueloop.dev"}))
		checkDetails(t, anyDetails(d.Value, d.EvaluationDetails), err, ofrepWant{"one-page", "one-page", openfeature.TargetingMatchReason, ""})
	})
	t.Run("string split", func(t *testing.T) {
		d, err := client.StringValueDetails(ctx, "checkout-flow", "none", ofrepUser("u3", map[string]any{"email": "bob@example.com", "country": "DE"}))
		if d.Reason != openfeature.SplitReason || (d.Value != "classic" && d.Value != "one-page") || d.Value != d.Variant || err != nil {
			t.Errorf("got %q/%q reason %q err %v, want a SPLIT between classic and one-page", d.Value, d.Variant, d.Reason, err)
		}
	})
	t.Run("boolean split is stable", func(t *testing.T) {
		seen := map[bool]int{}
		for i := range 200 {
			key := fmt.Sprintf("user-%d", i)
			a, _ := client.BooleanValueDetails(ctx, "new-onboarding", false, ofrepUser(key, nil))
			b, _ := client.BooleanValueDetails(ctx, "new-onboarding", false, ofrepUser(key, nil))
			if a.Value != b.Value || a.Reason != openfeature.SplitReason {
				t.Fatalf("%s: %v then %v (reason %q)", key, a.Value, b.Value, a.Reason)
			}
			seen[a.Value]++
		}
		if seen[true] < 60 || seen[false] < 60 {
			t.Errorf("50/50 split over 200 users gave %v", seen)
		}
	})
	ofrepTypedCases(t, client)
}

// ofrepTypedCases evaluates numbers, objects, a disabled and a missing flag
// and a type mismatch through the OpenFeature client.
func ofrepTypedCases(t *testing.T, client *openfeature.Client) {
	ctx := context.Background()
	t.Run("number targeting and default", func(t *testing.T) {
		d, err := client.IntValueDetails(ctx, "search-results-per-page", 0, ofrepUser("u4", map[string]any{"appVersion": "2.5.1"}))
		checkDetails(t, anyDetails(d.Value, d.EvaluationDetails), err, ofrepWant{20, "twenty", openfeature.TargetingMatchReason, ""})
		// No appVersion: the rule reads a missing attribute, which is normal
		// traffic; the default variant is served, reason DEFAULT as flagd
		// sends it (docs/flags.md), which the Go OFREP provider passes on.
		f, err := client.FloatValueDetails(ctx, "search-results-per-page", 0, ofrepUser("u4", nil))
		checkDetails(t, anyDetails(f.Value, f.EvaluationDetails), err, ofrepWant{10, "ten", openfeature.DefaultReason, ""})
	})
	t.Run("object", func(t *testing.T) {
		d, err := client.ObjectValueDetails(ctx, "theme", nil, ofrepUser("u5", map[string]any{"prefersDark": true}))
		m, _ := d.Value.(map[string]any)
		if err != nil || m["background"] != "#0b1020" || d.Variant != "dark" || d.Reason != openfeature.TargetingMatchReason {
			t.Errorf("theme = %v variant %q reason %q err %v", d.Value, d.Variant, d.Reason, err)
		}
	})
	t.Run("disabled", func(t *testing.T) {
		d, err := client.ObjectValueDetails(ctx, "banner", "code-default", ofrepUser("u6", nil))
		if d.Value != "code-default" || d.Reason != openfeature.DisabledReason {
			t.Errorf("banner = %v reason %q err %v, want the code default with DISABLED", d.Value, d.Reason, err)
		}
	})
	t.Run("missing flag", func(t *testing.T) {
		d, err := client.BooleanValueDetails(ctx, "no-such-flag", true, ofrepUser("u7", nil))
		checkDetails(t, anyDetails(d.Value, d.EvaluationDetails), err, ofrepWant{true, "", openfeature.ErrorReason, openfeature.FlagNotFoundCode})
	})
	t.Run("wrong type", func(t *testing.T) {
		d, err := client.BooleanValueDetails(ctx, "checkout-flow", true, ofrepUser("u8", nil))
		checkDetails(t, anyDetails(d.Value, d.EvaluationDetails), err, ofrepWant{true, "", openfeature.ErrorReason, openfeature.TypeMismatchCode})
	})
}

func ofrepUser(key string, attrs map[string]any) openfeature.EvaluationContext {
	return openfeature.NewEvaluationContext(key, attrs)
}

// ofrepWant is an expected evaluation.
type ofrepWant struct {
	value   any
	variant string
	reason  openfeature.Reason
	errCode openfeature.ErrorCode
}

func checkDetails(t *testing.T, d openfeature.InterfaceEvaluationDetails, err error, w ofrepWant) {
	t.Helper()
	if fmt.Sprint(d.Value) != fmt.Sprint(w.value) || d.Variant != w.variant || d.Reason != w.reason || d.ErrorCode != w.errCode {
		t.Errorf("got value %v variant %q reason %q error %q (%s, %v);\nwant value %v variant %q reason %q error %q",
			d.Value, d.Variant, d.Reason, d.ErrorCode, d.ErrorMessage, err, w.value, w.variant, w.reason, w.errCode)
	}
}

func anyDetails(v any, d openfeature.EvaluationDetails) openfeature.InterfaceEvaluationDetails {
	return openfeature.InterfaceEvaluationDetails{Value: v, EvaluationDetails: d}
}

// TestOFREPBadInput checks the protocol's error answers and that they change
// nothing.
func TestOFREPBadInput(t *testing.T) {
	srv := MustServe(t, "", "--demo")
	token := srv.mustToken(t, "--env", "production", "--scope", "evaluate")
	one := srv.URL + "/ofrep/v1/evaluate/flags/checkout-flow"
	for _, tc := range []struct {
		name, url, token, body string
		status                 int
		contains               string
	}{
		{"malformed JSON", one, token, `{"context":`, 400, `"errorCode":"PARSE_ERROR"`},
		{"context not an object", one, token, `{"context":[1,2]}`, 400, `"errorCode":"INVALID_CONTEXT"`},
		{"targetingKey not a string", one, token, `{"context":{"targetingKey":7}}`, 400, `"errorCode":"INVALID_CONTEXT"`},
		{"unknown flag", srv.URL + "/ofrep/v1/evaluate/flags/nope", token, `{}`, 404, `"errorCode":"FLAG_NOT_FOUND"`},
		{"no token", one, "", `{}`, 401, `"unauthorized"`},
		{"wrong token", one, "vl_eval_forged", `{}`, 401, `"unauthorized"`},
		{"too large", one, token, `{"context":{"x":"` + strings.Repeat("a", 70<<10) + `"}}`, 400, `"errorCode":"GENERAL"`},
		{"bulk malformed", srv.URL + "/ofrep/v1/evaluate/flags", token, `nope`, 400, `"errorCode":"PARSE_ERROR"`},
		{"empty body", one, token, ``, 200, `"value":"classic"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := post(t, tc.url, tc.token, tc.body)
			if resp.StatusCode != tc.status || !strings.Contains(body, tc.contains) {
				t.Errorf("status %d body %s; want %d containing %s", resp.StatusCode, body, tc.status, tc.contains)
			}
		})
	}
	// An evaluate token cannot do anything else.
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/v1/tokens", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("evaluate token on admin route: %d, want 403", resp.StatusCode)
	}
}

// TestOFREPBulkETag checks bulk evaluation and its conditional answer.
func TestOFREPBulkETag(t *testing.T) {
	srv := MustServe(t, "", "--demo")
	_, token, _ := srv.cli(t, srv.Admin, "token", "create", "--env", "development", "--scope", "evaluate")
	token = strings.TrimSpace(token)
	url := srv.URL + "/ofrep/v1/evaluate/flags"
	body := `{"context":{"targetingKey":"u1","email":"x@valueloop.dev"}}`
	resp, out := post(t, url, token, body)
	etag := resp.Header.Get("ETag")
	if resp.StatusCode != 200 || etag == "" || !strings.Contains(out, `"key":"checkout-flow","value":"one-page"`) || !strings.Contains(out, `"flagSetId":"shop"`) {
		t.Fatalf("bulk: %d etag %q body %s", resp.StatusCode, etag, out)
	}
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("If-None-Match", etag)
	r2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if r2.StatusCode != http.StatusNotModified {
		t.Errorf("same context and flags with If-None-Match: %d, want 304", r2.StatusCode)
	}
	r3, _ := post(t, url, token, `{"context":{"targetingKey":"u2"}}`)
	if r3.Header.Get("ETag") == etag {
		t.Error("a different context must give a different ETag")
	}
}

// TestOFREPAPIKey: OFREP's API-key scheme (X-API-Key, what the Go OFREP
// provider's WithApiKeyAuth sends) authenticates the OFREP routes like a
// bearer token; two different tokens in one request are refused, and the
// other routes take the bearer header only (docs/security.md).
func TestOFREPAPIKey(t *testing.T) {
	srv := MustServe(t, "", "--demo")
	token := srv.mustToken(t, "--env", "production", "--scope", "evaluate")
	other := srv.mustToken(t, "--env", "production", "--scope", "evaluate", "--name", "other")

	if err := openfeature.SetNamedProviderAndWait("apikey", ofrep.NewProvider(srv.URL, ofrep.WithApiKeyAuth(token))); err != nil {
		t.Fatal(err)
	}
	d, err := openfeature.NewClient("apikey").BooleanValueDetails(context.Background(), "kill-switch-payments", false, ofrepUser("u1", nil))
	checkDetails(t, anyDetails(d.Value, d.EvaluationDetails), err, ofrepWant{true, "on", openfeature.StaticReason, ""})

	single := srv.URL + "/ofrep/v1/evaluate/flags/kill-switch-payments"
	body := `{"context":{"targetingKey":"u1"}}`
	for _, tc := range []struct {
		name, method, url string
		header            map[string]string
		status            int
		inBody            string
	}{
		{"api key, single", "POST", single, map[string]string{"X-API-Key": token}, 200, `"value":true`},
		{"api key, bulk", "POST", srv.URL + "/ofrep/v1/evaluate/flags", map[string]string{"X-API-Key": token}, 200, `"flags"`},
		{"api key, configuration", "GET", srv.URL + "/ofrep/v1/configuration", map[string]string{"X-API-Key": token}, 200, `"capabilities"`},
		{"both headers, same token", "POST", single, map[string]string{"X-API-Key": token, "Authorization": "Bearer " + token}, 200, `"value":true`},
		{"both headers, different tokens", "POST", single, map[string]string{"X-API-Key": other, "Authorization": "Bearer " + token}, 400, "X-API-Key"},
		{"unknown api key", "POST", single, map[string]string{"X-API-Key": "vl_eval_nosuchtoken0000000000"}, 401, ""},
		{"api key on an admin route", "GET", srv.URL + "/api/v1/environments", map[string]string{"X-API-Key": srv.Admin}, 401, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := map[string]string{"Content-Type": "application/json"}
			for k, v := range tc.header {
				h[k] = v
			}
			b := body
			if tc.method == "GET" {
				b = ""
			}
			resp, got := request(t, tc.method, tc.url, b, h)
			if resp.StatusCode != tc.status || !strings.Contains(got, tc.inBody) {
				t.Errorf("status %d, body %s; want %d with %q", resp.StatusCode, got, tc.status, tc.inBody)
			}
		})
	}

	// A browser page sending its client token as X-API-Key: the preflight
	// must allow the header, and the answer must carry CORS headers.
	const shop = "https://shop.example"
	client := srv.mustToken(t, "--env", "production", "--client", "--origin", shop)
	resp, got := request(t, "OPTIONS", single, "", map[string]string{"Origin": shop,
		"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type,x-api-key"})
	if allow := resp.Header.Get("Access-Control-Allow-Headers"); resp.StatusCode != 204 || !strings.Contains(strings.ToLower(allow), "x-api-key") {
		t.Errorf("preflight: status %d, Allow-Headers %q (%s); want 204 allowing X-API-Key", resp.StatusCode, allow, got)
	}
	resp, got = request(t, "POST", single, body, map[string]string{"Origin": shop, "Content-Type": "application/json", "X-API-Key": client})
	if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != shop {
		t.Errorf("cross-origin evaluation by X-API-Key: status %d, Allow-Origin %q (%s); want 200 for %s", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"), got, shop)
	}
}

// TestOFREPStreamBehindPathPrefix: behind a reverse proxy that mounts the
// server under /flags, the change stream a bulk answer announces is found
// by an OFREP client through the proxy when public-url says where the
// server is: as the entry's url for a whole URL, as a requestUri under the
// prefix (which OFREP resolves against the base URL's origin) for a path.
// Without it the announced /ofrep/v1/stream is the proxy's 404.
func TestOFREPStreamBehindPathPrefix(t *testing.T) {
	proxy, backend := prefixProxy(t)
	for _, c := range []struct {
		name string
		env  map[string]string
		args []string
		// field is the eventStreams entry's field that locates the stream.
		field string
	}{
		{"none", nil, nil, "requestUri"},
		{"whole URL", nil, []string{"--public-url", proxy.URL + "/flags/"}, "url"},
		{"path", map[string]string{"VALUELOOP_PUBLIC_URL": "/flags"}, nil, "requestUri"},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := serveBehind(t, backend, c.env, c.args...)
			token := srv.mustToken(t, "--env", "production", "--scope", "evaluate")
			base := proxy.URL + "/flags" // the OFREP client's base URL
			resp, body := post(t, base+"/ofrep/v1/evaluate/flags", token, `{"context":{"targetingKey":"u1"}}`)
			var answer struct {
				EventStreams []struct {
					Type     string
					URL      string
					Endpoint *struct{ RequestURI string }
				}
			}
			if err := json.Unmarshal([]byte(body), &answer); err != nil || resp.StatusCode != 200 || len(answer.EventStreams) != 1 {
				t.Fatalf("bulk through the proxy: %d %s (%v)", resp.StatusCode, body, err)
			}
			es := answer.EventStreams[0]
			// OFREP: url as it is, else the base URL's origin + requestUri.
			stream := es.URL
			if es.Endpoint != nil {
				stream = proxy.URL + es.Endpoint.RequestURI
			}
			if got := map[bool]string{true: "url", false: "requestUri"}[es.URL != ""]; got != c.field || (es.URL != "") == (es.Endpoint != nil) {
				t.Fatalf("entry %+v: want its %s alone", es, c.field)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, stream, nil)
			sr, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer sr.Body.Close()
			if c.name == "none" {
				if sr.StatusCode != http.StatusNotFound {
					t.Fatalf("without public-url the announced %s answered %d through the proxy; the test's proxy is wrong", stream, sr.StatusCode)
				}
				return
			}
			line, err := bufio.NewReader(sr.Body).ReadString('\n')
			if sr.StatusCode != 200 || sr.Header.Get("Content-Type") != "text/event-stream" || !strings.HasPrefix(line, "id: ") {
				t.Fatalf("stream %s through the proxy: %d %s, first line %q (%v)", stream, sr.StatusCode, sr.Header.Get("Content-Type"), line, err)
			}
		})
	}
}
