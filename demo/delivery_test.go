package demo

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/valueloop/valueloop/delivery"
	"github.com/valueloop/valueloop/dora"
)

// changesKept keeps the changes LoadDelivery records and stores nothing.
type changesKept struct{ changes []delivery.ChangeInput }

func (k *changesKept) PutService(context.Context, dora.Service, string) error { return nil }
func (k *changesKept) RecordChange(_ context.Context, in delivery.ChangeInput, _ string) (dora.Change, delivery.Receipt, error) {
	k.changes = append(k.changes, in)
	return dora.Change{}, delivery.Receipt{}, nil
}
func (k *changesKept) RecordDeployment(context.Context, delivery.DeploymentInput, string) (dora.Deployment, delivery.Receipt, error) {
	return dora.Deployment{}, delivery.Receipt{}, nil
}
func (k *changesKept) OpenIncident(context.Context, delivery.IncidentInput, string) (dora.Incident, delivery.Receipt, error) {
	return dora.Incident{ID: "incident"}, delivery.Receipt{}, nil
}
func (k *changesKept) ResolveIncident(context.Context, string, *time.Time, string) (dora.Incident, delivery.Receipt, error) {
	return dora.Incident{}, delivery.Receipt{}, nil
}

// TestDemoPullRequestsAsAForgeHasThem: each of the demo's pull requests is
// opened after its first commit, first reviewed after its opening and
// merged after that; and a repository's are numbered in the order they
// were opened, as a forge numbers them (they were numbered in the order
// generated, so that search's #316 was opened days after #319, and the
// delivery page listed a deployment's #1843 before #1842).
func TestDemoPullRequestsAsAForgeHasThem(t *testing.T) {
	kept := &changesKept{}
	if _, err := LoadDelivery(context.Background(), kept, time.Date(2026, 12, 7, 13, 30, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	byRepo := map[string][]delivery.ChangeInput{}
	for _, c := range kept.changes {
		if c.PR == "" {
			continue
		}
		if c.AuthoredAt == nil || c.OpenedAt == nil || c.ReviewedAt == nil || c.MergedAt == nil ||
			c.OpenedAt.Before(*c.AuthoredAt) || c.ReviewedAt.Before(*c.OpenedAt) || c.MergedAt.Before(*c.ReviewedAt) {
			t.Errorf("%s #%s: committed %v, opened %v, reviewed %v, merged %v: want them in that order", c.Repo, c.PR, c.AuthoredAt, c.OpenedAt, c.ReviewedAt, c.MergedAt)
			continue
		}
		byRepo[c.Repo] = append(byRepo[c.Repo], c)
	}
	if len(byRepo) != 2 {
		t.Fatalf("pull requests in %d repositories, want 2 (shop and search)", len(byRepo))
	}
	for repo, prs := range byRepo {
		slices.SortStableFunc(prs, func(a, b delivery.ChangeInput) int { return a.OpenedAt.Compare(*b.OpenedAt) })
		for i := 1; i < len(prs); i++ {
			a, _ := strconv.Atoi(prs[i-1].PR)
			b, _ := strconv.Atoi(prs[i].PR)
			if b != a+1 {
				t.Errorf("%s: #%d opened %s, then #%d opened %s: want #%d", repo, a, prs[i-1].OpenedAt.Format(time.DateTime), b, prs[i].OpenedAt.Format(time.DateTime), a+1)
			}
		}
	}
}
