package main

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/valueloop/valueloop/httpapi"
)

// apiRollouts is a rollout engine with the API's methods only (a wrapper
// of the engine, say), which cannot count the dashboard's pages.
type apiRollouts struct{ httpapi.RolloutEngine }

// TestDashboardNeedsTheCountingEngine: the dashboard took the rollout
// engine from the API's by a type assertion, and when it failed (the API
// given a wrapper of the engine) served rollouts pages without any
// rollout, saying nothing. It refuses to open, naming what is missing.
func TestDashboardNeedsTheCountingEngine(t *testing.T) {
	srv := &httpapi.Server{Rollouts: apiRollouts{}}
	err := openDashboard(serveConfig{}, nil, srv, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "rollout engine main.apiRollouts") {
		t.Fatalf("openDashboard with an engine that does not count: %v; want it refused, naming the engine's type", err)
	}
}
