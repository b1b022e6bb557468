package main

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	flagd "github.com/open-feature/go-sdk-contrib/providers/flagd/pkg"
	"github.com/open-feature/go-sdk/openfeature"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
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
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	port, _ := strconv.Atoi(u.Port())

	p, err := flagd.NewProvider(flagd.WithInProcessResolver(), flagd.WithHost(u.Hostname()), flagd.WithPort(uint16(port)),
		flagd.WithSelector("production"), flagd.WithLogger(logr.Discard()),
		flagd.WithGrpcDialOptionsOverride([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithPerRPCCredentials(bearerCredentials(token))}))
	if err != nil {
		t.Fatal(err)
	}
	if err := openfeature.SetNamedProviderAndWait("flagd-in-process", p); err != nil {
		t.Fatalf("flagd provider did not become ready: %v\n%s", err, srv.Stderr.String())
	}
	defer openfeature.SetNamedProviderAndWait("flagd-in-process", openfeature.NoopProvider{})
	client := openfeature.NewClient("flagd-in-process")
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
	start := time.Now()
	if code, _, stderr := srv.cli(t, srv.Admin, "flags", "disable", "kill-switch-payments", "--env", "production"); code != 0 {
		t.Fatalf("flags disable: exit %d: %s", code, stderr)
	}
	waitUntil(t, "the provider sees the flag disabled", 10*time.Second, func() bool {
		d, _ := client.BooleanValueDetails(ctx, "kill-switch-payments", false, user("u1", nil))
		return d.Reason == openfeature.DisabledReason
	})
	t.Logf("change seen in-process %v after the CLI started", time.Since(start).Round(time.Millisecond))
}

func containsVariant(body, variant string) bool {
	return variant != "" && strings.Contains(body, `"variant":"`+variant+`"`)
}
