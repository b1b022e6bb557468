package delivery

import (
	"context"

	"github.com/valueloop/valueloop/dora"
)

// ImportSource prefixes the source of deliveries that imported history
// (package backfill): "import:github", "import:git". No webhook source can
// take such a name (':' is not allowed in one).
const ImportSource = "import:"

// Import stores a batch of imported history as one delivery, validated and
// stored whole like a webhook delivery: d.Source should start with
// ImportSource and d.ID name the batch, so that importing the same batch
// again stores nothing. ReceivedAt defaults to now.
func (s *Service) Import(ctx context.Context, d *Delivery) (Receipt, error) {
	if d.ReceivedAt.IsZero() {
		d.ReceivedAt = s.Now().UTC()
	}
	return s.record(ctx, d)
}

// Stored reads every stored record, for an import to skip what webhooks
// or an earlier import already stored.
func (s *Service) Stored(ctx context.Context) (dora.Data, error) {
	data, _, err := s.Store.DeliveryData(ctx)
	return data, err
}

// ProductionEnvironments maps the environments Valueloop knows, by key and
// by name, to whether they are production, as webhooks read them.
func (s *Service) ProductionEnvironments() map[string]bool { return s.production() }
