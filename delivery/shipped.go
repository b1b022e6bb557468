package delivery

import (
	"context"
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
	type key struct{ repo, sha string }
	want := map[key]bool{}
	for _, c := range changes {
		want[key{strings.ToLower(c.Repo), strings.ToLower(c.SHA)}] = false
	}
	first := map[string]*Shipment{}
	var order []string
	for _, service := range services {
		for _, d := range snap.tl.Deployments(service) {
			if d.Status != dora.StatusSuccess {
				continue
			}
			for _, c := range d.Changes {
				k := key{strings.ToLower(c.Repo), strings.ToLower(c.SHA)}
				if seen, ok := want[k]; !ok || seen {
					continue
				}
				want[k] = true
				sh := first[d.ID]
				if sh == nil {
					sh = &Shipment{Deployment: d.Deployment}
					first[d.ID] = sh
					order = append(order, d.ID)
				}
				sh.Changes++
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
