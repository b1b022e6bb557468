package delivery

import (
	"context"
	"slices"
	"strings"

	"github.com/valueloop/valueloop/dora"
)

// Shipment is a successful production deployment that shipped some of the
// changes asked about for the first time.
type Shipment struct {
	Deployment dora.Deployment
	// Changes counts the changes asked about that it shipped first.
	Changes int
}

// Shipped returns, for changes (a feature's, say), the production
// deployments that first shipped each of them, oldest first. A change not
// in production yet is in none. The value loop reads it: the first such
// deployment moves a feature to releasing.
func (s *Service) Shipped(ctx context.Context, changes []dora.Change) ([]Shipment, error) {
	return s.shipped(ctx, changes, nil)
}

// ShippedBy is Shipped counting only the deployments of services (a
// feature's linked services): a change is found in the first deployment of
// one of them that shipped it, whatever other services shipped it before.
func (s *Service) ShippedBy(ctx context.Context, changes []dora.Change, services []string) ([]Shipment, error) {
	if len(services) == 0 {
		return nil, nil
	}
	return s.shipped(ctx, changes, services)
}

func (s *Service) shipped(ctx context.Context, changes []dora.Change, only []string) ([]Shipment, error) {
	if len(changes) == 0 {
		return nil, nil
	}
	snap, err := s.timeline(ctx)
	if err != nil {
		return nil, err
	}
	services := only
	if services == nil {
		services = loopServices(snap, changes)
	}
	linked := newLinkedChanges(changes)
	first := map[string]*Shipment{}
	var order []string
	for _, service := range services {
		for _, d := range snap.tl.Deployments(service) {
			if d.Status != dora.StatusSuccess {
				continue
			}
			for _, c := range d.Changes {
				n := linked.deliver(c)
				if n == 0 {
					continue
				}
				sh := first[d.ID]
				if sh == nil {
					sh = &Shipment{Deployment: d.Deployment}
					first[d.ID] = sh
					order = append(order, d.ID)
				}
				sh.Changes += n
			}
		}
	}
	out := make([]Shipment, 0, len(order))
	for _, id := range order {
		out = append(out, *first[id])
	}
	for i := 1; i < len(out); i++ { // a handful: insertion sort by time
		for j := i; j > 0 && out[j].Deployment.At.Before(out[j-1].Deployment.At); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out, nil
}

// linkedChanges are the changes asked about (a flag's, a feature's), to
// find among those the timeline delivered. A change is found by its
// repository and the first 7 digits of its SHA, then compared as the
// timeline compares commits: one linked by an abbreviation ('change record
// --sha 4c1e9a0 --flag …') is the change the timeline delivers under the
// webhook's full SHA, and was missed when SHAs had to be equal.
type linkedChanges map[linkKey][]*linkedSHA

type linkKey struct{ repo, short string }

type linkedSHA struct {
	sha       string
	delivered bool
}

func newLinkedChanges(changes []dora.Change) linkedChanges {
	m := linkedChanges{}
	for _, c := range changes {
		sha := strings.ToLower(c.SHA)
		k := linkKey{strings.ToLower(c.Repo), dora.ShortSHA(sha)}
		if !slices.ContainsFunc(m[k], func(w *linkedSHA) bool { return w.sha == sha }) {
			m[k] = append(m[k], &linkedSHA{sha: sha})
		}
	}
	return m
}

// deliver notes that c was delivered and returns how many of the linked
// changes it delivered that were not delivered before.
func (m linkedChanges) deliver(c dora.Change) int {
	sha, n := strings.ToLower(c.SHA), 0
	for _, w := range m[linkKey{strings.ToLower(c.Repo), dora.ShortSHA(sha)}] {
		if !w.delivered && dora.SameCommit(w.sha, sha) {
			w.delivered = true
			n++
		}
	}
	return n
}

// undelivered counts the linked changes not delivered.
func (m linkedChanges) undelivered() int {
	n := 0
	for _, ws := range m {
		for _, w := range ws {
			if !w.delivered {
				n++
			}
		}
	}
	return n
}
