package provider_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/open-feature/go-sdk/openfeature"

	"github.com/valueloop/valueloop/provider"
)

// MustInit initialises p and shuts it down when the test ends.
func MustInit(tb testing.TB, p *provider.Provider) {
	tb.Helper()
	if err := p.Init(openfeature.EvaluationContext{}); err != nil {
		tb.Fatalf("Init: %v", err)
	}
	tb.Cleanup(p.Shutdown)
}

// WaitEvent returns the next provider event of type want, failing the test
// if another type comes first (except those listed in skip) or none comes.
func WaitEvent(tb testing.TB, p *provider.Provider, want openfeature.EventType, skip ...openfeature.EventType) openfeature.Event {
	tb.Helper()
	deadline := time.After(15 * time.Second)
	for {
		select {
		case ev := <-p.EventChannel():
			if ev.EventType == want {
				return ev
			}
			if !slices.Contains(skip, ev.EventType) {
				tb.Fatalf("got event %s (%s), want %s", ev.EventType, ev.Message, want)
			}
		case <-deadline:
			tb.Fatalf("no %s event within 15s", want)
		}
	}
}

// TestEvaluateEachType evaluates flags of every type through the
// OpenFeature SDK, with the provider following the real server's stream.
func TestEvaluateEachType(t *testing.T) {
	srv := MustServe(t)
	p := srv.NewProvider()
	if err := openfeature.SetNamedProviderAndWait(t.Name(), p); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Shutdown)
	c := openfeature.NewClient(t.Name())
	ctx := context.Background()
	user := func(key string, attrs map[string]any) openfeature.EvaluationContext {
		return openfeature.NewEvaluationContext(key, attrs)
	}
	tests := []struct {
		name    string
		eval    func() (any, openfeature.EvaluationDetails, error)
		value   any
		variant string
		reason  openfeature.Reason
		errCode openfeature.ErrorCode
	}{
		{"boolean static", func() (any, openfeature.EvaluationDetails, error) {
			d, err := c.BooleanValueDetails(ctx, "dark-mode", true, user("u1", nil))
			return d.Value, d.EvaluationDetails, err
		}, false, "off", openfeature.StaticReason, ""},
		{"string targeting match via $ref", func() (any, openfeature.EvaluationDetails, error) {
			d, err := c.StringValueDetails(ctx, "greeting", "x", user("u1", map[string]any{"email": "ann@example.org"}))
			return d.Value, d.EvaluationDetails, err
		}, "Hi", "casual", openfeature.TargetingMatchReason, ""},
		{"string default", func() (any, openfeature.EvaluationDetails, error) {
			d, err := c.StringValueDetails(ctx, "greeting", "x", user("u1", map[string]any{"email": "bob@elsewhere.com"}))
			return d.Value, d.EvaluationDetails, err
		}, "Good day", "formal", openfeature.DefaultReason, ""},
		{"float", func() (any, openfeature.EvaluationDetails, error) {
			d, err := c.FloatValueDetails(ctx, "discount", -1, user("u1", map[string]any{"country": "NZ"}))
			return d.Value, d.EvaluationDetails, err
		}, 0.15, "some", openfeature.TargetingMatchReason, ""},
		{"int with sem_ver", func() (any, openfeature.EvaluationDetails, error) {
			d, err := c.IntValueDetails(ctx, "page-size", -1, user("u1", map[string]any{"appVersion": "3.1.0"}))
			return d.Value, d.EvaluationDetails, err
		}, int64(50), "large", openfeature.TargetingMatchReason, ""},
		{"object", func() (any, openfeature.EvaluationDetails, error) {
			d, err := c.ObjectValueDetails(ctx, "palette", nil, user("u1", map[string]any{"prefersDark": true}))
			return d.Value, d.EvaluationDetails, err
		}, map[string]any{"fg": "#eeeeee", "bg": "#000000"}, "dark", openfeature.TargetingMatchReason, ""},
		{"disabled serves the code default", func() (any, openfeature.EvaluationDetails, error) {
			d, err := c.BooleanValueDetails(ctx, "holiday-banner", true, user("u1", nil))
			return d.Value, d.EvaluationDetails, err
		}, true, "", openfeature.DisabledReason, ""},
		{"missing flag", func() (any, openfeature.EvaluationDetails, error) {
			d, err := c.BooleanValueDetails(ctx, "no-such-flag", true, user("u1", nil))
			return d.Value, d.EvaluationDetails, err
		}, true, "", openfeature.ErrorReason, openfeature.FlagNotFoundCode},
		{"type mismatch", func() (any, openfeature.EvaluationDetails, error) {
			d, err := c.BooleanValueDetails(ctx, "greeting", true, user("u1", nil))
			return d.Value, d.EvaluationDetails, err
		}, true, "", openfeature.ErrorReason, openfeature.TypeMismatchCode},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, d, err := tt.eval()
			if !reflect.DeepEqual(v, tt.value) || d.Variant != tt.variant || d.Reason != tt.reason || d.ErrorCode != tt.errCode {
				t.Errorf("got %v variant %q reason %q error %q (%s, %v);\nwant %v variant %q reason %q error %q",
					v, d.Variant, d.Reason, d.ErrorCode, d.ErrorMessage, err, tt.value, tt.variant, tt.reason, tt.errCode)
			}
			if (err != nil) != (tt.errCode != "") {
				t.Errorf("err = %v, want an error only for error code %q", err, tt.errCode)
			}
		})
	}

	t.Run("split is stable and covers both variants", func(t *testing.T) {
		seen := map[string]int{}
		for i := range 200 {
			u := user(fmt.Sprintf("user-%d", i), nil)
			a, _ := c.StringValueDetails(ctx, "checkout", "x", u)
			b, _ := c.StringValueDetails(ctx, "checkout", "x", u)
			if a.Value != b.Value || a.Reason != openfeature.SplitReason || a.Variant != a.Value {
				t.Fatalf("user-%d: %q then %q (variant %q, reason %q)", i, a.Value, b.Value, a.Variant, a.Reason)
			}
			seen[a.Value]++
		}
		if seen["old"] == 0 || seen["new"] == 0 {
			t.Errorf("200 users split %v, want both variants", seen)
		}
	})
	t.Run("flag and set metadata", func(t *testing.T) {
		d, _ := c.BooleanValueDetails(ctx, "dark-mode", true, user("u1", nil))
		want := openfeature.FlagMetadata{"owner": "web", "ticket": float64(42), "flagSetId": "provider-tests"}
		if !reflect.DeepEqual(d.FlagMetadata, want) {
			t.Errorf("metadata = %v, want %v", d.FlagMetadata, want)
		}
	})
	t.Run("SDK state", func(t *testing.T) {
		if got := c.State(); got != openfeature.ReadyState {
			t.Errorf("state = %s, want %s", got, openfeature.ReadyState)
		}
	})
}

// TestNotReadyBeforeInit: evaluating before any set arrived returns the
// default with PROVIDER_NOT_READY.
func TestNotReadyBeforeInit(t *testing.T) {
	p := provider.New("http://127.0.0.1:1", testEnv, "token")
	d := p.BooleanEvaluation(context.Background(), "dark-mode", true, nil)
	if d.Value != true || d.ResolutionDetail().ErrorCode != openfeature.ProviderNotReadyCode || d.Reason != openfeature.ErrorReason {
		t.Errorf("got %v %+v, want true with PROVIDER_NOT_READY", d.Value, d.ResolutionDetail())
	}
}

// TestChangeSeen changes a flag through the admin API and waits for the
// provider to report and serve it. The latency is logged, not asserted.
func TestChangeSeen(t *testing.T) {
	srv := MustServe(t)
	p := srv.NewProvider()
	MustInit(t, p)
	ctx := context.Background()
	if d := p.BooleanEvaluation(ctx, "dark-mode", true, nil); d.Value != false {
		t.Fatalf("before: dark-mode = %v, want false", d.Value)
	}

	start := time.Now()
	def := `{"state":"ENABLED","variants":{"on":true,"off":false},"defaultVariant":"on"}`
	if _, err := srv.Client().PutFlag(ctx, testEnv, "dark-mode", json.RawMessage(def), 0, "test"); err != nil {
		t.Fatal(err)
	}
	ev := WaitEvent(t, p, openfeature.ProviderConfigChange)
	t.Logf("change seen by the provider %s after the admin request started", time.Since(start))
	if want := []string{"dark-mode"}; !reflect.DeepEqual(ev.FlagChanges, want) {
		t.Errorf("FlagChanges = %v, want %v", ev.FlagChanges, want)
	}
	if d := p.BooleanEvaluation(ctx, "dark-mode", false, nil); d.Value != true || d.Variant != "on" {
		t.Errorf("after: dark-mode = %v (%q), want true (on)", d.Value, d.Variant)
	}

	// A flag added and one deleted are both named.
	if _, err := srv.Client().PutFlag(ctx, testEnv, "added", json.RawMessage(def), 0, "test"); err != nil {
		t.Fatal(err)
	}
	if ev := WaitEvent(t, p, openfeature.ProviderConfigChange); !reflect.DeepEqual(ev.FlagChanges, []string{"added"}) {
		t.Errorf("after adding: FlagChanges = %v, want [added]", ev.FlagChanges)
	}
	if err := srv.Client().DeleteFlag(ctx, testEnv, "greeting", 0, "test"); err != nil {
		t.Fatal(err)
	}
	if ev := WaitEvent(t, p, openfeature.ProviderConfigChange); !reflect.DeepEqual(ev.FlagChanges, []string{"greeting"}) {
		t.Errorf("after deleting: FlagChanges = %v, want [greeting]", ev.FlagChanges)
	}
	if d := p.StringEvaluation(ctx, "greeting", "x", nil); d.ResolutionDetail().ErrorCode != openfeature.FlagNotFoundCode {
		t.Errorf("deleted flag: got %+v, want FLAG_NOT_FOUND", d.ResolutionDetail())
	}
}

// TestServerStoppedAndBack: with the server gone the provider reports
// STALE and keeps serving the last set; when the server is back it
// reconnects, reports READY and picks up what changed meanwhile.
func TestServerStoppedAndBack(t *testing.T) {
	srv := MustServe(t)
	p := srv.NewProvider()
	MustInit(t, p)
	ctx := context.Background()

	srv.Stop(t)
	WaitEvent(t, p, openfeature.ProviderStale)
	d := p.StringEvaluation(ctx, "greeting", "x", openfeature.FlattenedContext{"email": "ann@example.org"})
	if d.Value != "Hi" || d.Reason != openfeature.TargetingMatchReason {
		t.Errorf("while stale: greeting = %q (%s), want Hi (TARGETING_MATCH)", d.Value, d.Reason)
	}

	// Change the store while the HTTP server is down, then bring it back.
	set := MustParse(t, "testdata/flags.json")
	on := "on"
	set.Flags["dark-mode"].DefaultVariant = &on
	if _, err := srv.flags.Apply(ctx, testEnv, set, "test", "while down"); err != nil {
		t.Fatal(err)
	}
	srv.Start(t)
	WaitEvent(t, p, openfeature.ProviderReady)
	ev := WaitEvent(t, p, openfeature.ProviderConfigChange)
	if !reflect.DeepEqual(ev.FlagChanges, []string{"dark-mode"}) {
		t.Errorf("FlagChanges = %v, want [dark-mode]", ev.FlagChanges)
	}
	if d := p.BooleanEvaluation(ctx, "dark-mode", false, nil); d.Value != true {
		t.Errorf("after reconnecting: dark-mode = %v, want true", d.Value)
	}
	if s := p.Stats(); s.Reconnects < 1 || s.Syncs != 2 {
		t.Errorf("stats = %+v, want Reconnects >= 1 and Syncs = 2", s)
	}
}

// TestRefusedToken: a token the server refuses fails Init with the
// server's message.
func TestRefusedToken(t *testing.T) {
	srv := MustServe(t)
	// The error carries the server's own explanation (its problem's
	// detail), not only the status.
	tests := []struct {
		name, env, token, want, detail string
	}{
		{"unknown token", testEnv, "vl_eval_not-a-token", "401", "missing or invalid token"},
		{"environment the token does not cover", "development", "", "403", "may not read the flag definitions of this environment"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := srv.NewProvider()
			p.Environment = tt.env
			if tt.token != "" {
				p.Token = tt.token
			}
			if tt.env != testEnv {
				if err := srv.flags.EnsureEnvironment(context.Background(), envNamed(tt.env), "test"); err != nil {
					t.Fatal(err)
				}
			}
			err := p.Init(openfeature.EvaluationContext{})
			defer p.Shutdown()
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), tt.detail) {
				t.Errorf("Init = %v, want an error with %s and the server's %q", err, tt.want, tt.detail)
			}
		})
	}
}

// TestExportedFileEvaluatedIdentically: the file the server exports,
// parsed and compiled as the provider does, gives the same variants as the
// server's OFREP evaluation and as the provider fed by the stream, for every
// flag and a range of contexts.
func TestExportedFileEvaluatedIdentically(t *testing.T) {
	srv := MustServe(t)
	ctx := context.Background()
	file, err := srv.Client().ExportFlagd(ctx, testEnv)
	if err != nil {
		t.Fatal(err)
	}
	snap := mustCompileFile(t, "export.json", file)
	p := srv.NewProvider()
	MustInit(t, p)

	var contexts []map[string]any
	emails := []string{"ann@example.org", "bob@example.com", ""}
	countries := []string{"NZ", "DE", ""}
	versions := []string{"2.9.9", "3.0.0", "10.1.0", "not-a-version"}
	for i := range 36 {
		c := map[string]any{"targetingKey": fmt.Sprintf("user-%d", i)}
		if e := emails[i%3]; e != "" {
			c["email"] = e
		}
		if co := countries[(i/3)%3]; co != "" {
			c["country"] = co
		}
		c["appVersion"] = versions[i%4]
		c["prefersDark"] = i%2 == 0
		contexts = append(contexts, c)
	}
	n := 0
	for _, key := range snap.Keys() {
		for _, c := range contexts {
			local := snap.Evaluate(key, c)
			d := evaluateAs(p, key, local.Value, c)
			remote := ofrepVariant(t, srv, key, c)
			if local.Variant != remote || d.Variant != remote || string(local.Reason) != string(d.Reason) {
				t.Errorf("%s %v: exported file %q (%s), provider %q (%s), server %q",
					key, c, local.Variant, local.Reason, d.Variant, d.Reason, remote)
			}
			n++
		}
	}
	t.Logf("%d evaluations compared", n)
}

// evaluateAs evaluates key through the provider method for the type of
// value (the value the engine gave).
func evaluateAs(p *provider.Provider, key string, value any, c map[string]any) openfeature.ProviderResolutionDetail {
	ctx := context.Background()
	switch value.(type) {
	case bool:
		return p.BooleanEvaluation(ctx, key, false, c).ProviderResolutionDetail
	case string:
		return p.StringEvaluation(ctx, key, "", c).ProviderResolutionDetail
	case float64:
		return p.FloatEvaluation(ctx, key, 0, c).ProviderResolutionDetail
	}
	return p.ObjectEvaluation(ctx, key, nil, c).ProviderResolutionDetail
}

// ofrepVariant evaluates one flag on the server through OFREP.
func ofrepVariant(t *testing.T, srv *testServer, key string, ctx map[string]any) string {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"context": ctx})
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/ofrep/v1/evaluate/flags/"+key, strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+srv.Eval)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var out struct {
		Variant string `json:"variant"`
	}
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatalf("OFREP %s: %v: %s", key, err, data)
	}
	return out.Variant
}

// TestShutdownAndInitAgain: after Shutdown the last set still answers;
// Init again resumes following the stream from where it stopped.
func TestShutdownAndInitAgain(t *testing.T) {
	srv := MustServe(t)
	p := srv.NewProvider()
	MustInit(t, p)
	p.Shutdown()
	ctx := context.Background()
	if d := p.BooleanEvaluation(ctx, "dark-mode", true, nil); d.Value != false || d.Reason != openfeature.StaticReason {
		t.Errorf("after Shutdown: dark-mode = %v (%s), want false (STATIC)", d.Value, d.Reason)
	}
	if err := srv.Client().DeleteFlag(ctx, testEnv, "dark-mode", 0, "test"); err != nil {
		t.Fatal(err)
	}
	MustInit(t, p)
	ev := WaitEvent(t, p, openfeature.ProviderConfigChange)
	if !reflect.DeepEqual(ev.FlagChanges, []string{"dark-mode"}) {
		t.Errorf("FlagChanges = %v, want [dark-mode]", ev.FlagChanges)
	}
	if st := p.Stats(); st.Syncs != 2 {
		t.Errorf("stats = %+v, want Syncs 2", st)
	}
}
