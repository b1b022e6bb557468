package delivery

import (
	"context"
	"time"

	"github.com/valueloop/valueloop/dora"
)

// GaugeSet is the figures of every service over the GaugeWindow that ended
// at ComputedAt, recomputed every GaugeInterval (never per scrape).
type GaugeSet struct {
	ComputedAt time.Time
	Window     time.Duration
	Services   []dora.Series
}

// Gauges returns the latest figures; nil before the first computation.
func (s *Service) Gauges() *GaugeSet { return s.gauges.Load() }

// refreshGauges recomputes the figures of the last GaugeWindow.
func (s *Service) refreshGauges(ctx context.Context) error {
	snap, err := s.timeline(ctx)
	if err != nil {
		return err
	}
	now := s.Now().UTC()
	r, err := snap.tl.Report(dora.Query{From: now.Add(-s.GaugeWindow), To: now})
	if err != nil {
		return err
	}
	s.gauges.Store(&GaugeSet{ComputedAt: now, Window: s.GaugeWindow, Services: r.Services})
	return nil
}
