package demo

import (
	"context"
	"crypto/sha1"
	_ "embed"
	"encoding/hex"
	"fmt"
	"slices"
	"time"

	"github.com/valueloop/valueloop/delivery"
	"github.com/valueloop/valueloop/dora"
	"github.com/valueloop/valueloop/features"
	"github.com/valueloop/valueloop/value"
)

//go:embed value.yaml
var valueFile []byte

// ValueFile returns the demo's objectives and features, as the team would
// keep them in its repository.
func ValueFile() (*value.File, error) {
	return value.DecodeFile(valueFile)
}

// ValueLoop is the value loop the demo loads through (features.Service).
type ValueLoop interface {
	Export(ctx context.Context) (*value.File, error)
	Apply(ctx context.Context, f *value.File, prune, dryRun bool, actor string) ([]value.Op, error)
	Sync(ctx context.Context, keys ...string) (int, error)
}

// ValueStore is where the demo backdates what has no record of its own
// with a time: moves by hand, and when flags were first seen serving users.
type ValueStore interface {
	MoveFeature(ctx context.Context, key string, stage value.Stage, reason, actor string, at time.Time) (value.Event, error)
	SeeFlags(ctx context.Context, seen []features.Sighting) error
}

// ChangeRecorder records changes and deployments (delivery.Service).
type ChangeRecorder interface {
	RecordChange(ctx context.Context, in delivery.ChangeInput, key string) (dora.Change, delivery.Receipt, error)
	RecordDeployment(ctx context.Context, in delivery.DeploymentInput, key string) (dora.Deployment, delivery.Receipt, error)
}

// created is how many days ago each demo feature was written down.
var created = map[string]float64{
	"new-onboarding": 30, "dark-mode": 28, "guided-search": 20, "onboarding-checklist": 6, "one-page-checkout": 40,
	"winter-banner": 25, "twenty-results": 60, "saved-carts": 12, "wishlist": 9, "one-click-reorder": 4,
	"express-shipping": 70, "gift-cards": 50,
}

// LoadValue closes the loop on the demo: the objectives and features of
// value.yaml, and the history that puts one or more of them in every
// stage: commits with a "Feature: KEY" trailer (or on a feature's branch)
// deployed to production, flags seen serving users, moves by hand where no
// event exists (a usability study, a survey), the demo rollout
// (one-page-checkout, releasing) and the demo experiment (new-onboarding,
// whose verdict the server records). It does nothing when an objective
// exists: the demo never overwrites someone's backlog. It runs after the
// experiment, rollout and delivery demos, and returns the number of
// features loaded.
func LoadValue(ctx context.Context, loop ValueLoop, store ValueStore, rec ChangeRecorder, p Ingester, now time.Time) (int, error) {
	cur, err := loop.Export(ctx)
	if err != nil {
		return 0, err
	}
	if len(cur.Objectives) > 0 {
		return 0, nil
	}
	f, err := ValueFile()
	if err != nil {
		return 0, fmt.Errorf("demo value file: %w", err)
	}
	now = now.UTC()
	ago := func(days float64) time.Time { return now.Add(-time.Duration(days * 24 * float64(time.Hour))) }
	for i := range f.Features {
		f.Features[i].CreatedAt = ago(created[f.Features[i].Key])
	}
	// The features are written down first without the flags they link:
	// the experiment's exposures, loaded before, would put new-onboarding
	// in measuring before the commits that built it arrive, and the audit
	// trail would show it going back to building. The flags are linked
	// once the commits, deployments and first exposures are recorded, so
	// that each stage is entered in the order it happened.
	unlinked := *f
	unlinked.Features = slices.Clone(f.Features)
	for i := range unlinked.Features {
		unlinked.Features[i].Links.Flags = nil
	}
	if _, err := loop.Apply(ctx, &unlinked, false, false, "demo"); err != nil {
		return 0, fmt.Errorf("demo value file: %w", err)
	}
	// Commits that name their feature, merged two hours later, and the
	// production deployment that shipped them.
	n := 0
	change := func(feature, repo, service, branch string, authored float64, message string) (string, error) {
		n++
		sha := changeSHA(n)
		at, merged := ago(authored), ago(authored).Add(2*time.Hour)
		if branch != "main" {
			merged = now // pushed just now, after every deployment of the history
		}
		msg := message
		if feature != "" {
			msg += "\n\nFeature: " + feature + "\n"
		}
		_, _, err := rec.RecordChange(ctx, delivery.ChangeInput{Repo: repo, Service: service, SHA: sha, Branch: branch,
			AuthoredAt: &at, MergedAt: &merged, Message: msg}, fmt.Sprintf("demo-value-change-%d", n))
		return sha, err
	}
	deploy := func(service, sha string, days float64) error {
		at := ago(days)
		_, _, err := rec.RecordDeployment(ctx, delivery.DeploymentInput{Service: service, Environment: "production", SHA: sha,
			Status: dora.StatusSuccess, At: &at}, "demo-value-deploy-"+sha[32:])
		return err
	}
	const shop, search = "valueloop-demo/shop", "valueloop-demo/search"
	type commit struct {
		feature, repo, service, branch string
		days                           float64
		message                        string
		deployDays                     float64 // 0: not deployed
	}
	for _, c := range []commit{
		{"new-onboarding", shop, "checkout", "main", 25, "Onboarding: step one asks what the user came for", 0},
		{"new-onboarding", shop, "checkout", "main", 24, "Onboarding: steps two and three", 0},
		// Checkout's commits within the delivery history are shipped by
		// its next deployment there: one of their own, days later, would
		// deploy a commit older than the ones deployed meanwhile, which is
		// a rollback (TestDemoDORA).
		{"new-onboarding", shop, "checkout", "main", 22, "Onboarding: progress bar and skip link", 0},
		{"dark-mode", shop, "checkout", "main", 20, "Theme: dark palette behind the theme flag", 0},
		{"winter-banner", shop, "checkout", "main", 15, "Banner: winter sale", 0},
		{"twenty-results", search, "search", "main", 55, "Search: page size from the flag", 50},
		{"express-shipping", shop, "checkout", "main", 65, "Checkout: express shipping option", 63},
		{"", shop, "checkout", "saved-carts/api", 2, "Saved carts: store carts per account", 0},
	} {
		// The deployment is recorded before the change it ships: the
		// change, once recorded, links its feature, which would otherwise
		// be released by the first deployment of the delivery history
		// after the merge, then again, earlier, by this one.
		sha := changeSHA(n + 1)
		if c.deployDays > 0 {
			if err := deploy(c.service, sha, c.deployDays); err != nil {
				return 0, err
			}
		}
		if _, err := change(c.feature, c.repo, c.service, c.branch, c.days, c.message); err != nil {
			return 0, err
		}
	}
	// Flags seen serving users: the experiment's two weeks of exposures,
	// from its first to its last (LoadExperiment sent them), and the
	// exposures of the dark theme, the twenty results and the winter
	// banner since their release, sent through the pipeline.
	first, last, err := experimentExposed(now)
	if err != nil {
		return 0, err
	}
	seen := []features.Sighting{{Environment: "production", Flag: ExperimentFlag, FirstSeen: first, LastSeen: last}}
	for _, x := range sightings(now) {
		users, err := loadExposures(ctx, p, x)
		if err != nil {
			return 0, err
		}
		seen = append(seen, features.Sighting{Environment: "production", Flag: x.flag, FirstSeen: x.first, LastSeen: x.last, Users: users})
	}
	if err := store.SeeFlags(ctx, seen); err != nil {
		return 0, err
	}
	if _, err := loop.Apply(ctx, f, false, false, "demo"); err != nil {
		return 0, fmt.Errorf("demo value file: %w", err)
	}
	// Moves by hand, where no event proves the stage.
	for _, m := range []struct {
		feature string
		stage   value.Stage
		days    float64
		reason  string
	}{
		{"guided-search", value.Ready, 3, "estimated and designed in planning"},
		{"dark-mode", value.Invalidated, 10, "first sessions did not lengthen (+0.2%, the +3% hoped for not reached)"},
		{"winter-banner", value.Measuring, 6, "the sale is over and its banner off: the marketing team's survey measures it, not an experiment"},
		{"twenty-results", value.Validated, 30, "usability study: 12 of 14 buyers found products faster"},
		{"express-shipping", value.Validated, 45, "orders per user up 4% after the launch"},
		{"express-shipping", value.Done, 35, "shipped to everyone: no flag to remove"},
		{"gift-cards", value.Abandoned, 38, "the payment provider cannot issue gift cards"},
	} {
		if _, err := store.MoveFeature(ctx, m.feature, m.stage, m.reason, "demo", ago(m.days)); err != nil {
			return 0, fmt.Errorf("demo move of %s: %w", m.feature, err)
		}
	}
	if _, err := loop.Sync(ctx); err != nil {
		return 0, err
	}
	return len(f.Features), nil
}

// changeSHA is the SHA of the demo's nth commit of a feature.
func changeSHA(n int) string {
	sum := sha1.Sum([]byte(fmt.Sprintf("demo-value-change-%d", n)))
	return hex.EncodeToString(sum[:])
}
