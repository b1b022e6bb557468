package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"buf.build/gen/go/open-feature/flagd/connectrpc/go/flagd/evaluation/v1/evaluationv1connect"
	evalv1 "buf.build/gen/go/open-feature/flagd/protocolbuffers/go/flagd/evaluation/v1"
	"connectrpc.com/connect"
	"github.com/go-logr/logr"
	"github.com/open-feature/flagd/core/pkg/logger"
	isync "github.com/open-feature/flagd/core/pkg/sync"
	"github.com/open-feature/flagd/core/pkg/sync/grpc/credentials"
	flagd "github.com/open-feature/go-sdk-contrib/providers/flagd/pkg"
	process "github.com/open-feature/go-sdk-contrib/providers/flagd/pkg/service/in_process"
	"github.com/open-feature/go-sdk/openfeature"
	"github.com/valueloop/valueloop/flagdapi"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/structpb"
)

// bearerCredentials sends a Valueloop token as gRPC metadata. flagd's
// providers have no token option of their own; every gRPC client can add
// per-call credentials like this.
type bearerCredentials string

func (b bearerCredentials) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}

func (bearerCredentials) RequireTransportSecurity() bool { return false }

// TestFlagdInProcessProvider: flagd's own Go provider, in in-process mode,
// follows Valueloop's flagd.sync.v1.FlagSyncService on the server's port,
// evaluates every demo flag right, and sees a change made through the CLI.
func TestFlagdInProcessProvider(t *testing.T) {
	srv := MustServe(t, "", "--demo")
	token := srv.mustToken(t, "--env", "production", "--scope", "evaluate", "--name", "flagd-in-process")
	client, _ := flagdClient(t, srv, "flagd-in-process", flagd.WithInProcessResolver(), flagd.WithSelector("production"),
		flagd.WithGrpcDialOptionsOverride([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithPerRPCCredentials(bearerCredentials(token))}))
	ctx := context.Background()
	user := func(key string, attrs map[string]any) openfeature.EvaluationContext {
		return openfeature.NewEvaluationContext(key, attrs)
	}

	for _, tc := range []struct {
		name    string
		eval    func() (any, openfeature.EvaluationDetails, error)
		value   any
		variant string
		reason  openfeature.Reason
	}{
		{"boolean static", func() (any, openfeature.EvaluationDetails, error) {
			d, err := client.BooleanValueDetails(ctx, "kill-switch-payments", false, user("u1", nil))
			return d.Value, d.EvaluationDetails, err
		}, true, "on", openfeature.StaticReason},
		{"string targeting match ($ref, ends_with)", func() (any, openfeature.EvaluationDetails, error) {
			d, err := client.StringValueDetails(ctx, "checkout-flow", "none", user("u2", map[string]any{"email": "ann@valueloop.dev"}))
			return d.Value, d.EvaluationDetails, err
		}, "one-page", "one-page", openfeature.TargetingMatchReason},
		{"number sem_ver", func() (any, openfeature.EvaluationDetails, error) {
			d, err := client.IntValueDetails(ctx, "search-results-per-page", 0, user("u4", map[string]any{"appVersion": "2.5.1"}))
			return d.Value, d.EvaluationDetails, err
		}, int64(20), "twenty", openfeature.TargetingMatchReason},
		{"object", func() (any, openfeature.EvaluationDetails, error) {
			d, err := client.ObjectValueDetails(ctx, "theme", nil, user("u5", map[string]any{"prefersDark": true}))
			return fmt.Sprint(d.Value), d.EvaluationDetails, err
		}, fmt.Sprint(darkTheme), "dark", openfeature.TargetingMatchReason},
		{"disabled", func() (any, openfeature.EvaluationDetails, error) {
			d, err := client.ObjectValueDetails(ctx, "banner", "code-default", user("u6", nil))
			return d.Value, d.EvaluationDetails, err
		}, "code-default", "", openfeature.DisabledReason},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, d, err := tc.eval()
			if fmt.Sprint(v) != fmt.Sprint(tc.value) || d.Variant != tc.variant || d.Reason != tc.reason {
				t.Errorf("got %v variant %q reason %q (err %v); want %v variant %q reason %q", v, d.Variant, d.Reason, err, tc.value, tc.variant, tc.reason)
			}
		})
	}
	// The same split as the server's: flagd's fractional bucketing.
	for i := range 50 {
		key := fmt.Sprintf("user-%d", i)
		local, _ := client.BooleanValueDetails(ctx, "new-onboarding", false, user(key, nil))
		resp, body := post(t, srv.URL+"/ofrep/v1/evaluate/flags/new-onboarding", token, `{"context":{"targetingKey":"`+key+`"}}`)
		if resp.StatusCode != 200 || !containsVariant(body, local.Variant) {
			t.Fatalf("%s: in-process variant %q, server %s", key, local.Variant, body)
		}
	}

	// A change through the CLI reaches the provider over the stream.
	disableAndWait(t, srv, "the in-process provider sees the flag disabled", func() bool {
		d, _ := client.BooleanValueDetails(ctx, "kill-switch-payments", false, user("u1", nil))
		return d.Reason == openfeature.DisabledReason
	})
}

func containsVariant(body, variant string) bool {
	return variant != "" && strings.Contains(body, `"variant":"`+variant+`"`)
}

// flagdClient registers flagd's Go provider, named name, against srv with
// opts, waits for it to be ready and returns its client and a function that
// shuts the provider down and waits for it; that function also runs at the
// test's end, before the cleanups registered earlier (srv's stop).
//
// The provider is shut down here, not left to the SDK, because the SDK only
// detaches a replaced provider and shuts it down in the background: the
// test's server then stopped under a live provider, whose sync stream failed
// ("server shutting down, retrying") while it shut down. v0.6.0's in-process
// service is not safe there: a connection event can be sent on the channel
// its gRPC sync's Shutdown closes, and each failure resets the sync.Once
// described at quietSync. A provider shut down while its server still runs
// sees no failure at all.
func flagdClient(t *testing.T, srv *testServer, name string, opts ...flagd.ProviderOption) (*openfeature.Client, func()) {
	t.Helper()
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	port, _ := strconv.Atoi(u.Port())
	opts = append([]flagd.ProviderOption{flagd.WithHost(u.Hostname()), flagd.WithPort(uint16(port)), flagd.WithLogger(logr.Discard())}, opts...)
	p, err := flagd.NewProvider(opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := openfeature.SetNamedProviderAndWait(name, p); err != nil {
		t.Fatalf("flagd provider %s did not become ready: %v\n%s", name, err, srv.Stderr.String())
	}
	// Shutdown first, while the SDK still reads the provider's events (the
	// service's listener blocks on a full event channel otherwise), then the
	// replacement, whose own Shutdown of p is then a no-op.
	shutdown := sync.OnceFunc(func() {
		p.Shutdown()
		openfeature.SetNamedProviderAndWait(name, openfeature.NoopProvider{})
	})
	t.Cleanup(shutdown)
	return openfeature.NewClient(name), shutdown
}

// TestFlagdRPCProvider: flagd's own Go provider in RPC mode (it speaks
// flagd.evaluation.v2 over Connect) evaluates through the server, with the
// token as its selector since it has no option for metadata, and sees a
// change made through the CLI on its event stream (its cache is purged).
func TestFlagdRPCProvider(t *testing.T) {
	srv := MustServe(t, "", "--demo")
	token := srv.mustToken(t, "--env", "production", "--client", "--name", "flagd-rpc")
	client, _ := flagdClient(t, srv, "flagd-rpc", flagd.WithRPCResolver(), flagd.WithSelector(token))
	ctx := context.Background()
	user := func(key string, attrs map[string]any) openfeature.EvaluationContext {
		return openfeature.NewEvaluationContext(key, attrs)
	}
	for _, tc := range []struct {
		name    string
		eval    func() (any, openfeature.EvaluationDetails)
		value   any
		variant string
		reason  openfeature.Reason
		code    openfeature.ErrorCode
	}{
		{"boolean static", func() (any, openfeature.EvaluationDetails) {
			d, _ := client.BooleanValueDetails(ctx, "kill-switch-payments", false, user("u1", nil))
			return d.Value, d.EvaluationDetails
		}, true, "on", openfeature.StaticReason, ""},
		{"string targeting match", func() (any, openfeature.EvaluationDetails) {
			d, _ := client.StringValueDetails(ctx, "checkout-flow", "none", user("u2", map[string]any{"email": "ann@valueloop.dev"}))
			return d.Value, d.EvaluationDetails
		}, "one-page", "one-page", openfeature.TargetingMatchReason, ""},
		{"int targeting match", func() (any, openfeature.EvaluationDetails) {
			d, _ := client.IntValueDetails(ctx, "search-results-per-page", 0, user("u4", map[string]any{"appVersion": "2.5.1"}))
			return d.Value, d.EvaluationDetails
		}, int64(20), "twenty", openfeature.TargetingMatchReason, ""},
		{"float default variant", func() (any, openfeature.EvaluationDetails) {
			d, _ := client.FloatValueDetails(ctx, "search-results-per-page", 0, user("u4b", map[string]any{"appVersion": "2.0.0"}))
			return d.Value, d.EvaluationDetails
		}, float64(10), "ten", openfeature.DefaultReason, ""},
		{"object", func() (any, openfeature.EvaluationDetails) {
			d, _ := client.ObjectValueDetails(ctx, "theme", nil, user("u5", map[string]any{"prefersDark": true}))
			return fmt.Sprint(d.Value), d.EvaluationDetails
		}, fmt.Sprint(darkTheme), "dark", openfeature.TargetingMatchReason, ""},
		{"disabled", func() (any, openfeature.EvaluationDetails) {
			d, _ := client.ObjectValueDetails(ctx, "banner", "code-default", user("u6", nil))
			return d.Value, d.EvaluationDetails
		}, "code-default", "", openfeature.DisabledReason, ""},
		{"missing flag", func() (any, openfeature.EvaluationDetails) {
			d, _ := client.BooleanValueDetails(ctx, "no-such-flag", true, user("u7", nil))
			return d.Value, d.EvaluationDetails
		}, true, "", openfeature.ErrorReason, openfeature.FlagNotFoundCode},
		{"wrong type", func() (any, openfeature.EvaluationDetails) {
			d, _ := client.BooleanValueDetails(ctx, "checkout-flow", true, user("u8", nil))
			return d.Value, d.EvaluationDetails
		}, true, "", openfeature.ErrorReason, openfeature.TypeMismatchCode},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, d := tc.eval()
			if fmt.Sprint(v) != fmt.Sprint(tc.value) || d.Variant != tc.variant || d.Reason != tc.reason || d.ErrorCode != tc.code {
				t.Errorf("got %v variant %q reason %q error %q (%s); want %v variant %q reason %q error %q",
					v, d.Variant, d.Reason, d.ErrorCode, d.ErrorMessage, tc.value, tc.variant, tc.reason, tc.code)
			}
		})
	}

	disableAndWait(t, srv, "the RPC provider sees the flag disabled", func() bool {
		d, _ := client.BooleanValueDetails(ctx, "kill-switch-payments", true, user("u1", nil))
		return d.Reason == openfeature.DisabledReason
	})
}

// disableAndWait disables kill-switch-payments through the CLI and waits
// until seen says a client has it.
func disableAndWait(t *testing.T, srv *testServer, what string, seen func() bool) {
	t.Helper()
	start := time.Now()
	if code, _, stderr := srv.cli(t, srv.Admin, "flags", "disable", "kill-switch-payments", "--env", "production"); code != 0 {
		t.Fatalf("flags disable: exit %d: %s", code, stderr)
	}
	waitUntil(t, what, 10*time.Second, seen)
	t.Logf("%s %v after the CLI started", what, time.Since(start).Round(time.Millisecond))
}

// TestFlagdEvaluationV1: flagd.evaluation.v1.Service, which flagd's providers
// in other languages use in RPC mode, through its published Connect client
// over real HTTP, with the token as authorization metadata.
func TestFlagdEvaluationV1(t *testing.T) {
	srv := MustServe(t, "", "--demo")
	token := srv.mustToken(t, "--env", "production", "--scope", "evaluate", "--name", "flagd-v1")
	c := evaluationv1connect.NewServiceClient(http.DefaultClient, srv.URL)
	ctx := context.Background()
	withToken := func(r interface{ Header() http.Header }, tok string) {
		if tok != "" {
			r.Header().Set("Authorization", "Bearer "+tok)
		}
	}
	pbctx := func(m map[string]any) *structpb.Struct {
		s, err := structpb.NewStruct(m)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	req := connect.NewRequest(&evalv1.ResolveStringRequest{FlagKey: "checkout-flow", Context: pbctx(map[string]any{"targetingKey": "u2", "email": "ann@valueloop.dev"})})
	withToken(req, token)
	res, err := c.ResolveString(ctx, req)
	if err != nil || res.Msg.GetValue() != "one-page" || res.Msg.GetReason() != "TARGETING_MATCH" || res.Msg.GetVariant() != "one-page" {
		t.Errorf("ResolveString = %v, %v; want one-page by TARGETING_MATCH", res, err)
	}
	breq := connect.NewRequest(&evalv1.ResolveBooleanRequest{FlagKey: "checkout-flow", Context: pbctx(nil)})
	withToken(breq, token)
	if _, err := c.ResolveBoolean(ctx, breq); connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Errorf("a string flag as boolean: %v, want InvalidArgument (TYPE_MISMATCH)", err)
	}
	oreq := connect.NewRequest(&evalv1.ResolveObjectRequest{FlagKey: "banner", Context: pbctx(nil)})
	withToken(oreq, token)
	if ores, err := c.ResolveObject(ctx, oreq); err != nil || ores.Msg.GetReason() != "DISABLED" || ores.Msg.GetVariant() != "" {
		t.Errorf("disabled banner: %v, %v; want reason DISABLED without a variant", ores, err)
	}
	nreq := connect.NewRequest(&evalv1.ResolveBooleanRequest{FlagKey: "nope", Context: pbctx(nil)})
	withToken(nreq, token)
	if _, err := c.ResolveBoolean(ctx, nreq); connect.CodeOf(err) != connect.CodeNotFound {
		t.Errorf("unknown flag: %v, want NotFound", err)
	}
	// A context larger than OFREP's body limit is refused before it is
	// decoded or evaluated.
	big := connect.NewRequest(&evalv1.ResolveBooleanRequest{FlagKey: "kill-switch-payments", Context: pbctx(map[string]any{"targetingKey": strings.Repeat("x", flagdapi.MaxMessageBytes)})})
	withToken(big, token)
	if _, err := c.ResolveBoolean(ctx, big); connect.CodeOf(err) != connect.CodeResourceExhausted {
		t.Errorf("a %d-byte context: %v, want ResourceExhausted", flagdapi.MaxMessageBytes, err)
	}
	for name, tok := range map[string]string{"no token": "", "forged token": "vl_eval_forged"} {
		r := connect.NewRequest(&evalv1.ResolveBooleanRequest{FlagKey: "kill-switch-payments", Context: pbctx(nil)})
		withToken(r, tok)
		if _, err := c.ResolveBoolean(ctx, r); connect.CodeOf(err) != connect.CodeUnauthenticated {
			t.Errorf("%s: %v, want Unauthenticated", name, err)
		}
	}
	areq := connect.NewRequest(&evalv1.ResolveAllRequest{Context: pbctx(map[string]any{"targetingKey": "u1", "prefersDark": true})})
	withToken(areq, token)
	all, err := c.ResolveAll(ctx, areq)
	if err != nil {
		t.Fatal(err)
	}
	if got := all.Msg.GetFlags(); len(got) != 5 || got["theme"].GetVariant() != "dark" || got["kill-switch-payments"].GetBoolValue() != true || got["banner"] != nil {
		t.Errorf("ResolveAll flags = %v; want the five enabled flags, theme dark, no banner (disabled)", got)
	}

	checkV1EventStream(t, srv, c, token)
}

// checkV1EventStream: provider_ready, then configuration_change naming the
// flag a CLI change touched.
func checkV1EventStream(t *testing.T, srv *testServer, c evaluationv1connect.ServiceClient, token string) {
	ev := bannerEnabledEvent(t, srv, c, token)
	changed := ev.GetData().AsMap()["flags"]
	if ev.GetType() != "configuration_change" || fmt.Sprint(changed) != "map[banner:map[type:update]]" {
		t.Errorf("event %v with flags %v, want configuration_change of banner", ev.GetType(), changed)
	}
}

// bannerEnabledEvent opens an event stream with token (none when empty),
// waits for provider_ready, enables the demo's banner flag with the CLI and
// returns the event that follows, keep-alives aside.
func bannerEnabledEvent(t *testing.T, srv *testServer, c evaluationv1connect.ServiceClient, token string) *evalv1.EventStreamResponse {
	t.Helper()
	req := connect.NewRequest(&evalv1.EventStreamRequest{})
	if token != "" {
		req.Header().Set("Authorization", "Bearer "+token)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stream, err := c.EventStream(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	if !stream.Receive() || stream.Msg().GetType() != "provider_ready" {
		t.Fatalf("first event %v (%v), want provider_ready", stream.Msg(), stream.Err())
	}
	srv.mustRun(t, []string{"flags", "enable", "banner", "--env", "production"})
	for stream.Receive() {
		if stream.Msg().GetType() != "keep_alive" {
			return stream.Msg()
		}
	}
	t.Fatalf("event stream ended: %v", stream.Err())
	return nil
}

// TestFlagdInProcessResumesAfterRestart: the sync stream of flagd's Go
// provider comes back after the server restarts on the same address, and
// carries a change made after the restart; meanwhile the provider keeps
// serving the flags it had.
func TestFlagdInProcessResumesAfterRestart(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	first := MustServe(t, dataDir, "--demo")
	token := first.mustToken(t, "--env", "production", "--scope", "evaluate", "--name", "flagd-restart")
	u, err := url.Parse(first.URL)
	if err != nil {
		t.Fatal(err)
	}
	// The provider's own gRPC sync, configured as the provider configures
	// it, but without its connection events: see quietSync.
	stream := quietSync{&process.Sync{
		CredentialBuilder: &credentials.CredentialBuilder{},
		Logger:            logger.NewLogger(process.NewRaw(), false),
		Selector:          token,
		URI:               u.Host,
		RetryBackOffMs:    100,
		RetryBackOffMaxMs: 500,
	}}
	client, shutdown := flagdClient(t, first, "flagd-restart", flagd.WithInProcessResolver(),
		flagd.WithCustomSyncProviderAndUri(stream, u.Host))
	ctx := context.Background()
	eval := func() openfeature.BooleanEvaluationDetails {
		d, _ := client.BooleanValueDetails(ctx, "kill-switch-payments", false, openfeature.NewEvaluationContext("u1", nil))
		return d
	}
	if d := eval(); !d.Value || d.Reason != openfeature.StaticReason {
		t.Fatalf("before the restart: %v %q", d.Value, d.Reason)
	}

	first.Stop(t)
	if d := eval(); !d.Value {
		t.Errorf("while the server is down: %v %q; want the last flags kept", d.Value, d.Reason)
	}
	second := MustServe(t, dataDir, "--addr", strings.TrimPrefix(first.URL, "http://"))
	t.Cleanup(shutdown) // the provider goes before second stops (cleanups run last first)
	if code, _, stderr := second.cli(t, second.Admin, "flags", "disable", "kill-switch-payments", "--env", "production"); code != 0 {
		t.Fatalf("flags disable: exit %d: %s", code, stderr)
	}
	waitUntil(t, "the provider resumes and sees the change", 20*time.Second, func() bool {
		return eval().Reason == openfeature.DisabledReason
	})
}

// quietSync is flagd's in-process gRPC sync without its Events method, so
// that the in-process service does not follow its connection events. In
// v0.6.0 the service answers each connection error by resetting a sync.Once
// that its sync listener may be inside, on the first data after a
// reconnection: "fatal error: sync: unlock of unlocked mutex" (a few times in
// a hundred restarts here; fixed upstream by go-sdk-contrib#903, not yet
// released). Without the events the provider neither goes stale while the
// server is down nor announces that it is ready again (its flag changes it
// still announces); TestFlagdInProcessResumesAfterRestart checks neither.
type quietSync struct{ syncShutdowner }

// syncShutdowner: the methods of *process.Sync that the in-process service
// uses, Events aside.
type syncShutdowner interface {
	isync.ISync
	Shutdown() error
}

// TestFlagdRPCExposures: evaluations over flagd.evaluation.v1 record
// exposures as OFREP's do, and a --no-exposures token's record none: the
// quiet evaluations go first, the recorded one fences them.
func TestFlagdRPCExposures(t *testing.T) {
	srv := MustServe(t, "", "--demo")
	quiet := srv.mustToken(t, "--env", "production", "--no-exposures", "--name", "rpc-qa")
	loud := srv.mustToken(t, "--env", "production", "--name", "rpc-app")
	c := evaluationv1connect.NewServiceClient(http.DefaultClient, srv.URL)
	resolve := func(token, user string) {
		t.Helper()
		ctx, _ := structpb.NewStruct(map[string]any{"targetingKey": user})
		req := connect.NewRequest(&evalv1.ResolveBooleanRequest{FlagKey: "new-onboarding", Context: ctx})
		req.Header().Set("Authorization", "Bearer "+token)
		if _, err := c.ResolveBoolean(context.Background(), req); err != nil {
			t.Fatal(err)
		}
	}
	base := exposuresRecorded(t, srv)
	for i := range 10 {
		resolve(quiet, fmt.Sprintf("rpc-qa-%d", i))
	}
	resolve(loud, "rpc-user")
	waitUntil(t, "the recorded exposure arrives", 10*time.Second, func() bool { return exposuresRecorded(t, srv) > base })
	if got := exposuresRecorded(t, srv); got != base+1 {
		t.Errorf("exposures recorded: %d more, want 1 (the --no-exposures token's 10 must record none)", got-base)
	}
}

// flagdNodeServer starts the server with the demo for flagd.mjs and returns
// it, an evaluate token of production and flagd.mjs's environment (host,
// port, the token as selector).
func flagdNodeServer(t *testing.T) (*testServer, string, []string) {
	t.Helper()
	needClientSuite(t)
	srv := MustServe(t, "", "--demo")
	token := srv.mustToken(t, "--env", "production", "--scope", "evaluate", "--name", "flagd-node")
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return srv, token, []string{"VALUELOOP_HOST=" + u.Hostname(), "VALUELOOP_PORT=" + u.Port(), "VALUELOOP_TOKEN=" + token}
}

// TestClientSuiteFlagdNode: flagd's JavaScript provider
// (@openfeature/flagd-provider from npm) against Valueloop, in RPC mode
// (flagd.evaluation.v2 over gRPC) and in in-process mode (flagd.sync.v1),
// with the token as its selector.
func TestClientSuiteFlagdNode(t *testing.T) {
	_, token, env := flagdNodeServer(t)
	tests := []struct {
		clientCase
		want wantDetails
	}{
		// The flag set's metadata (demo/production.json) under the flag's own.
		{clientCase{"boolean static", "kill-switch-payments", "boolean", false, evalContext("u1", nil)},
			wantDetails{Value: true, Variant: "on", Reason: "STATIC", Metadata: killSwitchMetadata}},
		{clientCase{"string targeting match", "checkout-flow", "string", "none", evalContext("u2", map[string]any{"email": "ann@valueloop.dev"})},
			wantDetails{Value: "one-page", Variant: "one-page", Reason: "TARGETING_MATCH"}},
		{clientCase{"number targeting match", "search-results-per-page", "number", 0, evalContext("u5", map[string]any{"appVersion": "2.5.1"})},
			wantDetails{Value: 20, Variant: "twenty", Reason: "TARGETING_MATCH"}},
		{clientCase{"object default variant", "theme", "object", map[string]any{}, evalContext("u6", nil)},
			wantDetails{Value: lightTheme, Variant: "light", Reason: "DEFAULT", Metadata: productionSetMetadata}},
		{clientCase{"disabled flag", "banner", "object", codeBanner, evalContext("u7", nil)},
			wantDetails{Value: codeBanner, Reason: "DISABLED"}},
		{clientCase{"missing flag", "no-such-flag", "boolean", true, evalContext("u8", nil)},
			wantDetails{Value: true, Reason: "ERROR", ErrorCode: "FLAG_NOT_FOUND"}},
	}
	cases := clientCases(tests)
	for _, mode := range []string{"rpc", "in-process"} {
		t.Run(mode, func(t *testing.T) {
			got := runNodeScript(t, "flagd.mjs", cases, append(env, "FLAGD_MODE="+mode)...)
			for _, tc := range tests {
				want := tc.want
				if mode == "in-process" && want.Metadata != nil {
					want.Metadata = inProcessMetadata(want.Metadata)
				}
				checkSDK(t, tc.Name, got[tc.Name], want)
				if strings.Contains(canonical(got[tc.Name].FlagMetadata), token) {
					t.Errorf("%s: the token is in the flag metadata the application sees: %s", tc.Name, canonical(got[tc.Name].FlagMetadata))
				}
			}
		})
	}
}

// inProcessMetadata is md as an in-process provider reports it: with the
// "scope" the sync service gives the set (flagdapi.flagConfiguration),
// which keeps the provider from putting its selector, the token, there.
func inProcessMetadata(md map[string]any) map[string]any {
	md = maps.Clone(md)
	md["scope"] = "production"
	return md
}

// The demo's production flag set metadata, and kill-switch-payments' own
// over it, as flagd merges them (demo/production.json).
var (
	productionSetMetadata = map[string]any{"flagSetId": "shop", "version": "2026-11-25"}
	killSwitchMetadata    = map[string]any{"flagSetId": "shop", "version": "2026-11-25", "owner": "payments"}
)

// TestClientSuiteFlagdNodeInProcessChange: flagd's JavaScript provider in
// in-process mode follows the sync stream: a flag disabled through the CLI
// reaches it as PROVIDER_CONFIGURATION_CHANGED naming that flag alone, and
// its next evaluations use the new definition, the other flags unchanged.
func TestClientSuiteFlagdNodeInProcessChange(t *testing.T) {
	srv, _, env := flagdNodeServer(t)
	run := startScript(t, "flagd.mjs", append(env, "FLAGD_MODE=in-process", "FLAGD_WATCH=1")...)
	tests := []struct {
		clientCase
		before, after wantDetails
	}{
		{clientCase{"changed", "kill-switch-payments", "boolean", false, evalContext("u1", nil)},
			wantDetails{Value: true, Variant: "on", Reason: "STATIC", Metadata: inProcessMetadata(killSwitchMetadata)},
			wantDetails{Value: false, Reason: "DISABLED", Metadata: inProcessMetadata(killSwitchMetadata)}},
		{clientCase{"unchanged", "theme", "object", map[string]any{}, evalContext("u6", map[string]any{"prefersDark": true})},
			wantDetails{Value: darkTheme, Variant: "dark", Reason: "TARGETING_MATCH"},
			wantDetails{Value: darkTheme, Variant: "dark", Reason: "TARGETING_MATCH"}},
	}
	cases, _ := json.Marshal(clientCases(tests))
	if _, err := run.stdin.Write(append(cases, '\n')); err != nil {
		t.Fatal(err)
	}
	var values map[string]sdkDetails
	json.Unmarshal(run.next(t, "ready")["values"], &values)
	for _, tc := range tests {
		checkSDK(t, "ready: "+tc.Name, values[tc.Name], tc.before)
	}
	if code, _, stderr := srv.cli(t, srv.Admin, "flags", "disable", "kill-switch-payments", "--env", "production"); code != 0 {
		t.Fatalf("flags disable: exit %d: %s", code, stderr)
	}
	changed := run.next(t, "changed")
	if got := canonical(changed["flagsChanged"]); got != `["kill-switch-payments"]` {
		t.Errorf("flagsChanged %s, want [\"kill-switch-payments\"]", got)
	}
	values = nil
	json.Unmarshal(changed["values"], &values)
	for _, tc := range tests {
		checkSDK(t, "after the change: "+tc.Name, values[tc.Name], tc.after)
	}
}

// TestFlagdAnonymousEventStream: an event stream opened without any
// credentials (as flagd's JavaScript provider opens it in RPC mode) learns
// that something changed, but not what or where.
func TestFlagdAnonymousEventStream(t *testing.T) {
	srv := MustServe(t, "", "--demo")
	c := evaluationv1connect.NewServiceClient(http.DefaultClient, srv.URL)
	if ev := bannerEnabledEvent(t, srv, c, ""); ev.GetType() != "configuration_change" || ev.GetData() != nil {
		t.Errorf("event %q with data %v; want configuration_change without data", ev.GetType(), ev.GetData())
	}
}
