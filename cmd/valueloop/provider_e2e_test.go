package main

import (
	"context"
	"testing"
	"time"

	"github.com/open-feature/go-sdk/openfeature"

	"github.com/valueloop/valueloop/provider"
)

// TestInProcessProviderSeesCLIChange: the in-process provider follows the
// real `valueloop serve`; a flag disabled and enabled again with the CLI is
// reported (PROVIDER_CONFIGURATION_CHANGED naming the flag) and served. The
// time from the CLI command to the provider serving the change is logged
// (the target is under a second), not asserted.
func TestInProcessProviderSeesCLIChange(t *testing.T) {
	srv := MustServe(t, "", "--demo")
	token := srv.mustToken(t, "--env", "production", "--scope", "evaluate")
	p := provider.New(srv.URL, "production", token)
	p.NoExposures = true
	if err := openfeature.SetNamedProviderAndWait(t.Name(), p); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Shutdown)
	client := openfeature.NewClient(t.Name())
	changed := make(chan openfeature.EventDetails, 8)
	handler := func(d openfeature.EventDetails) { changed <- d }
	client.AddHandler(openfeature.ProviderConfigChange, &handler)
	ctx := context.Background()
	user := openfeature.NewEvaluationContext("u1", nil)

	tests := []struct {
		command     string
		value       bool
		reason      openfeature.Reason
		wantVariant string
	}{
		{"disable", false, openfeature.DisabledReason, ""},
		{"enable", true, openfeature.StaticReason, "on"},
	}
	for _, tt := range tests {
		t.Run(tt.command, func(t *testing.T) {
			start := time.Now()
			if code, _, stderr := srv.cli(t, srv.Admin, "flags", tt.command, "kill-switch-payments", "--env", "production"); code != 0 {
				t.Fatalf("flags %s: exit %d: %s", tt.command, code, stderr)
			}
			select {
			case d := <-changed:
				t.Logf("%s seen by the provider %s after the CLI command started", tt.command, time.Since(start).Round(time.Millisecond))
				if len(d.FlagChanges) != 1 || d.FlagChanges[0] != "kill-switch-payments" {
					t.Errorf("FlagChanges = %v, want [kill-switch-payments]", d.FlagChanges)
				}
			case <-time.After(15 * time.Second):
				t.Fatal("no PROVIDER_CONFIGURATION_CHANGED within 15s")
			}
			d, _ := client.BooleanValueDetails(ctx, "kill-switch-payments", false, user)
			if d.Value != tt.value || d.Reason != tt.reason || d.Variant != tt.wantVariant {
				t.Errorf("got %v (%s, %q), want %v (%s, %q)", d.Value, d.Reason, d.Variant, tt.value, tt.reason, tt.wantVariant)
			}
		})
	}
}
