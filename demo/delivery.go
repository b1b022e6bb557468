package demo

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/valueloop/valueloop/delivery"
	"github.com/valueloop/valueloop/dora"
)

// DeliveryRecorder is how LoadDelivery records (delivery.Service).
type DeliveryRecorder interface {
	PutService(ctx context.Context, s dora.Service, actor string) error
	RecordChange(ctx context.Context, in delivery.ChangeInput, key string) (dora.Change, delivery.Receipt, error)
	RecordDeployment(ctx context.Context, in delivery.DeploymentInput, key string) (dora.Deployment, delivery.Receipt, error)
	OpenIncident(ctx context.Context, in delivery.IncidentInput, key string) (dora.Incident, delivery.Receipt, error)
	ResolveIncident(ctx context.Context, id string, at *time.Time, key string) (dora.Incident, delivery.Receipt, error)
}

// DeliveryServices are the demo's catalog: checkout lives in a directory of
// the shop monorepo, search in a repository of its own.
func DeliveryServices() []dora.Service {
	return []dora.Service{
		{Name: "checkout", Team: "payments", Sources: []dora.Source{{Repo: "valueloop-demo/shop", Path: "services/checkout"}}},
		{Name: "search", Team: "discovery", Sources: []dora.Source{{Repo: "valueloop-demo/search"}}},
	}
}

// LoadDelivery records five weeks of delivery history up to now, through
// the same API the CLI uses, so that `valueloop dora` has figures to show:
// checkout deploys once or twice every working day, a few hours after the
// commits, with one incident and one failed deployment; search deploys
// once a week, days after the commits, with an incident and a rollback.
// Each change merges a pull request, opened and first reviewed between its
// commit and its merge (a repository's numbered in the order opened), so
// that the lead time's coding, pickup and review show (delivery.ChangeInput's PR, OpenedAt and ReviewedAt, as an import
// from a forge records them).
// The last changes of checkout ship behind RolloutFlag, so the loop
// figures of the demo rollout have a first commit and a production date.
// Every record carries a fixed idempotency key: loading again (a restart
// with --demo) stores nothing. It returns the number of records stored.
func LoadDelivery(ctx context.Context, r DeliveryRecorder, now time.Time) (int, error) {
	first := now.UTC().Add(-35 * 24 * time.Hour).Truncate(24 * time.Hour)
	// A forge numbers pull requests in the order they are opened, not in
	// the order drawn here: a dry run, with the same draws, finds it.
	dry := newDeliveryGen(discard{}, now, nil)
	dry.sha() // the first record's
	if err := dry.checkout(ctx, first); err != nil {
		return 0, err
	}
	if err := dry.search(ctx, first); err != nil {
		return 0, err
	}
	g := newDeliveryGen(r, now, dry.numbered())
	// A first record that says whether the history is already there.
	_, rec, err := r.RecordChange(ctx, delivery.ChangeInput{Repo: "valueloop-demo/shop", SHA: g.sha(), Paths: []string{"README.md"},
		AuthoredAt: &first, MergedAt: &first}, "demo-delivery-start")
	if err != nil {
		return 0, err
	}
	if rec.Duplicate {
		return 0, nil
	}
	for _, s := range DeliveryServices() {
		if err := r.PutService(ctx, s, "demo"); err != nil {
			return 0, err
		}
	}
	g.stored = 1
	if err := g.checkout(ctx, first); err != nil {
		return g.stored, err
	}
	if err := g.search(ctx, first); err != nil {
		return g.stored, err
	}
	return g.stored, nil
}

type deliveryGen struct {
	r   DeliveryRecorder
	rng *rand.Rand
	// prs draws the pull requests' times apart from rng, so that adding
	// them moved none of the commits, deployments and incidents.
	prs *rand.Rand
	// opened lists the pull requests as drawn; number, when set, is the
	// number of each (by its index there), in the order opened.
	opened []pullRequest
	number []int
	now    time.Time
	n      int // keys
	stored int
}

// pullRequest is one drawn by change: its repository and opening.
type pullRequest struct {
	repo   string
	opened time.Time
}

// prBase is the number of each repository's last pull request before the
// history.
var prBase = map[string]int{"valueloop-demo/shop": 1840, "valueloop-demo/search": 311}

func newDeliveryGen(r DeliveryRecorder, now time.Time, number []int) *deliveryGen {
	return &deliveryGen{r: r, rng: rand.New(rand.NewPCG(2026, 6)), prs: rand.New(rand.NewPCG(2026, 12)), now: now.UTC(), number: number}
}

// numbered is the number of each pull request g drew, in the order drawn:
// each repository's numbered from prBase on in the order they were opened.
func (g *deliveryGen) numbered() []int {
	order := make([]int, len(g.opened))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return g.opened[a].opened.Compare(g.opened[b].opened) })
	next := maps.Clone(prBase)
	number := make([]int, len(g.opened))
	for _, i := range order {
		next[g.opened[i].repo]++
		number[i] = next[g.opened[i].repo]
	}
	return number
}

// discard is the recorder of a dry run: it stores nothing.
type discard struct{}

func (discard) PutService(context.Context, dora.Service, string) error { return nil }
func (discard) RecordChange(context.Context, delivery.ChangeInput, string) (dora.Change, delivery.Receipt, error) {
	return dora.Change{}, delivery.Receipt{}, nil
}
func (discard) RecordDeployment(context.Context, delivery.DeploymentInput, string) (dora.Deployment, delivery.Receipt, error) {
	return dora.Deployment{}, delivery.Receipt{}, nil
}
func (discard) OpenIncident(context.Context, delivery.IncidentInput, string) (dora.Incident, delivery.Receipt, error) {
	return dora.Incident{}, delivery.Receipt{}, nil
}
func (discard) ResolveIncident(context.Context, string, *time.Time, string) (dora.Incident, delivery.Receipt, error) {
	return dora.Incident{}, delivery.Receipt{}, nil
}

func (g *deliveryGen) key() string {
	g.n++
	return fmt.Sprintf("demo-delivery-%d", g.n)
}

func (g *deliveryGen) sha() string {
	return fmt.Sprintf("%016x%016x%08x", g.rng.Uint64(), g.rng.Uint64(), g.rng.Uint32())
}

func (g *deliveryGen) minutes(lo, hi int) time.Duration {
	return time.Duration(lo+g.rng.IntN(hi-lo+1)) * time.Minute
}

// change records a change merged by a pull request and returns its SHA.
// Between its first commit and its merge, the request is opened after
// 35–65% of the time (coding) and first reviewed a fifth to seven tenths
// of the way from its opening to its merge (pickup, then review), from a
// branch named after the file it changes and its number (g.number's).
func (g *deliveryGen) change(ctx context.Context, repo, file string, authored, merged time.Time, flags ...string) (string, error) {
	sha := g.sha()
	span := float64(merged.Sub(authored))
	opened := authored.Add(time.Duration(span * (0.35 + 0.3*g.prs.Float64()))).Truncate(time.Second)
	reviewed := opened.Add(time.Duration(float64(merged.Sub(opened)) * (0.2 + 0.5*g.prs.Float64()))).Truncate(time.Second)
	pr := prBase[repo] + len(g.opened) + 1 // a dry run's
	if len(g.opened) < len(g.number) {
		pr = g.number[len(g.opened)]
	}
	g.opened = append(g.opened, pullRequest{repo, opened})
	_, _, err := g.r.RecordChange(ctx, delivery.ChangeInput{Repo: repo, SHA: sha, PR: strconv.Itoa(pr),
		Branch: strings.TrimSuffix(path.Base(file), path.Ext(file)) + "-" + strconv.Itoa(pr), Paths: []string{file},
		AuthoredAt: &authored, MergedAt: &merged, OpenedAt: &opened, ReviewedAt: &reviewed, Flags: flags}, g.key())
	g.stored++
	return sha, err
}

func (g *deliveryGen) deploy(ctx context.Context, service, env, sha, status string, at time.Time, rollback bool) (string, error) {
	if at.After(g.now) { // not yet: the API refuses times ahead of its clock
		return "", nil
	}
	d, _, err := g.r.RecordDeployment(ctx, delivery.DeploymentInput{Service: service, Environment: env, SHA: sha, Status: status,
		At: &at, Rollback: rollback}, g.key())
	g.stored++
	return d.ID, err
}

func (g *deliveryGen) incident(ctx context.Context, service, title string, opened, resolved time.Time) error {
	if opened.After(g.now) {
		return nil
	}
	inc, _, err := g.r.OpenIncident(ctx, delivery.IncidentInput{Service: service, Title: title, OpenedAt: &opened}, g.key())
	if err != nil {
		return err
	}
	g.stored++
	if resolved.After(g.now) {
		return nil
	}
	_, _, err = g.r.ResolveIncident(ctx, inc.ID, &resolved, g.key())
	g.stored++
	return err
}

func (g *deliveryGen) checkout(ctx context.Context, first time.Time) error {
	const repo, path = "valueloop-demo/shop", "services/checkout/cart.go"
	n := 0 // production deployments so far
	for day := range 35 {
		date := first.Add(time.Duration(day) * 24 * time.Hour)
		if wd := date.Weekday(); wd == time.Saturday || wd == time.Sunday {
			continue
		}
		deploys := 1 + g.rng.IntN(2)
		for k := range deploys {
			at := date.Add(10*time.Hour + time.Duration(k)*5*time.Hour + g.minutes(0, 90))
			if at.After(g.now) {
				return nil
			}
			var flags []string
			if at.After(g.now.Add(-6 * 24 * time.Hour)) {
				flags = []string{RolloutFlag} // the one-page checkout, behind its flag
			}
			var sha string
			for range 1 + g.rng.IntN(3) {
				authored := at.Add(-g.minutes(90, 420))
				s, err := g.change(ctx, repo, path, authored, at.Add(-g.minutes(20, 60)), flags...)
				if err != nil {
					return err
				}
				sha = s
			}
			if _, err := g.deploy(ctx, "checkout", "development", sha, dora.StatusSuccess, at.Add(-15*time.Minute), false); err != nil {
				return err
			}
			n++
			switch n {
			case 14: // a deployment that broke payments for a while
				if _, err := g.deploy(ctx, "checkout", "production", sha, dora.StatusSuccess, at, false); err != nil {
					return err
				}
				if err := g.incident(ctx, "checkout", "Card payments declined for 3-D Secure cards", at.Add(20*time.Minute), at.Add(65*time.Minute)); err != nil {
					return err
				}
			case 30: // a failed deployment, fixed forward
				if _, err := g.deploy(ctx, "checkout", "production", sha, dora.StatusFailure, at, false); err != nil {
					return err
				}
				if _, err := g.deploy(ctx, "checkout", "production", sha, dora.StatusSuccess, at.Add(35*time.Minute), false); err != nil {
					return err
				}
			default:
				if _, err := g.deploy(ctx, "checkout", "production", sha, dora.StatusSuccess, at, false); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (g *deliveryGen) search(ctx context.Context, first time.Time) error {
	const repo, path = "valueloop-demo/search", "index/ranker.go"
	var previous string
	for week := range 5 {
		at := first.Add(time.Duration(week*7+2)*24*time.Hour + 14*time.Hour + g.minutes(0, 120))
		if at.After(g.now) {
			return nil
		}
		var sha string
		for range 3 + g.rng.IntN(3) {
			authored := at.Add(-time.Duration(2+g.rng.IntN(5))*24*time.Hour - g.minutes(0, 600))
			s, err := g.change(ctx, repo, path, authored, authored.Add(g.minutes(60, 1440)))
			if err != nil {
				return err
			}
			sha = s
		}
		if _, err := g.deploy(ctx, "search", "production", sha, dora.StatusSuccess, at, false); err != nil {
			return err
		}
		switch week {
		case 1:
			if err := g.incident(ctx, "search", "Search results empty for queries with accents", at.Add(2*time.Hour), at.Add(8*time.Hour)); err != nil {
				return err
			}
		case 3: // rolled back to last week's version an hour later
			if _, err := g.deploy(ctx, "search", "production", previous, dora.StatusSuccess, at.Add(time.Hour), true); err != nil {
				return err
			}
		}
		previous = sha
	}
	return nil
}
