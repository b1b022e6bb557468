package main

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/cluster"
	"github.com/valueloop/valueloop/delivery"
	"github.com/valueloop/valueloop/demo"
	"github.com/valueloop/valueloop/features"
	"github.com/valueloop/valueloop/flags"
	"github.com/valueloop/valueloop/verdicts"
)

// valueStore is a store that keeps the value loop, and the records it
// reads its evidence from.
type valueStore interface {
	features.Store
	features.Evidence
}

// openValue starts the value loop v (made by features.New on the store):
// features learn of their changes from deliveries (the Linked hook), and a
// periodic sync, singleton work under leader, keeps every lifecycle
// current.
func openValue(v *features.Service, svc *flags.Service, deliveries *delivery.Service, leader cluster.Singleton, logger *slog.Logger) (func(), error) {
	v.Logger, v.Leader = logger, leader
	v.Shipped, v.ShippedBy = deliveries.Shipped, deliveries.ShippedBy
	v.Environments = func() []valueloop.Environment {
		var out []valueloop.Environment
		for _, l := range svc.Environments() {
			out = append(out, l.Environment)
		}
		slices.SortFunc(out, func(a, b valueloop.Environment) int {
			if a.Key < b.Key {
				return -1
			}
			return 1
		})
		return out
	}
	v.Definition = func(env, flag string) *valueloop.Flag {
		live := svc.Live(env)
		if live == nil {
			return nil
		}
		return live.Snapshot.Set().Flags[flag]
	}
	// Each environment's store version: it moves with every change of its
	// flags or segments, on every node once it has loaded them.
	v.FlagsVersion = func() string {
		lives := svc.Environments()
		var b strings.Builder
		for _, env := range slices.Sorted(maps.Keys(lives)) {
			fmt.Fprintf(&b, "%s:%d ", env, lives[env].Version)
		}
		return b.String()
	}
	v.Flags = func(env string) []string {
		live := svc.Live(env)
		if live == nil {
			return nil
		}
		return live.Snapshot.Keys()
	}
	deliveries.Linked = func(ctx context.Context, changes []delivery.ChangeText) error {
		return v.Link(ctx, changes)
	}
	if err := v.Open(); err != nil {
		return nil, err
	}
	return v.Close, nil
}

// loadDemoValue closes the loop on the demo (demo.LoadValue). The features
// and their history are loaded first and the verdict checked after, so
// that the audit trail tells new-onboarding's story in order (written down,
// built, released, measured, then validated); the second sync records the
// verdict before serving, so that `valueloop next` shows it at once.
func loadDemoValue(ctx context.Context, loop *features.Service, recorder *verdicts.Recorder, deliveries *delivery.Service, p demo.Ingester, logger *slog.Logger) error {
	n, err := demo.LoadValue(ctx, loop, loop.Store, deliveries, p, time.Now())
	if err != nil {
		return fmt.Errorf("demo value: %w", err)
	}
	if _, err := recorder.Check(ctx); err != nil {
		return fmt.Errorf("demo value: verdicts: %w", err)
	}
	if _, err := loop.Sync(ctx); err != nil {
		return fmt.Errorf("demo value: %w", err)
	}
	loop.Forget() // the history wrote sightings through the store
	if n > 0 {
		logger.Info("demo value loop loaded", "features", n)
	}
	return nil
}
