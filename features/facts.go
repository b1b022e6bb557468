package features

import (
	"context"
	"time"

	"github.com/valueloop/valueloop/experiment"
	"github.com/valueloop/valueloop/value"
)

// flagFacts is what Next knows of one linked flag, as read at a time: its
// experiment hypothesis (nil when none), with checked (read) whether its
// experiment shows a sample ratio mismatch and, when analysed, its
// experiment's users and the users it still needs (nil when it has no
// verdict).
type flagFacts struct {
	at         time.Time
	read       need
	hypothesis *experiment.Hypothesis
	users      int64
	remaining  *int64
	// inconclusive: the analysis reached its planned sample without a
	// verdict (see value.ExperimentState.Inconclusive).
	inconclusive bool
	// mismatch: the check found a sample ratio mismatch, so the
	// verdict on the flag counts in no record of bets
	// (value.Item.SampleRatioMismatch).
	mismatch bool
	// used says whether a Next read it since it was last refreshed: an
	// entry nobody reads is dropped instead of refreshed.
	used bool
}

// factCache holds the flag facts and the sightings Next reads. Reading and
// analysing the experiments of thousands of flags costs far more than
// ranking, and their figures move by the minute, not by the request: each
// entry is served for the sync interval, then served while a background
// refresh reads it again. A touched flag (its rollout moved, a verdict was
// recorded) is read again at the next request.
type factCache struct {
	flags       map[flagKey]*flagFacts
	sightings   map[flagKey]Sighting
	sightingsAt time.Time
	// gen moves with every Forget: what was read before it is not kept.
	gen int
	// changes moves with every change of what is cached: next's result
	// is kept while it stands (see memo).
	changes int
}

func (s *Service) factsTTL() time.Duration {
	if s.Interval > 0 {
		return s.Interval
	}
	return DefaultInterval
}

// flagFacts returns the facts of the flags items need and the sightings of
// every flag. Flags never read are read now; with the service open, stale
// ones are served and refreshed behind the request, else read now too.
func (s *Service) flagFacts(ctx context.Context, items []value.Item) (map[flagKey]*flagFacts, map[flagKey]Sighting, error) {
	facts, err := s.factsOf(ctx, needs(items, s.production(), needSRM))
	if err != nil {
		return nil, nil, err
	}
	seen, err := s.sightings(ctx)
	if err != nil {
		return nil, nil, err
	}
	return facts, seen, nil
}

// factsOf is flagFacts of the flags wanted, as much as each is wanted,
// without the sightings: the progress and flow that only mark mismatches
// (markMismatches) have no use for every flag's.
func (s *Service) factsOf(ctx context.Context, wanted map[flagKey]need) (map[flagKey]*flagFacts, error) {
	now, ttl := s.Now(), s.factsTTL()
	background := s.cancel != nil
	out := make(map[flagKey]*flagFacts, len(wanted))
	var missing []flagKey
	stale := false
	s.factsMu.Lock()
	for k, want := range wanted {
		x := s.facts.flags[k]
		old := x != nil && now.Sub(x.at) > ttl
		if x == nil || x.read < want || (old && !background) {
			missing = append(missing, k)
			continue
		}
		x.used, out[k] = true, x
		stale = stale || old
	}
	gen := s.facts.gen
	s.factsMu.Unlock()
	ev := s.newRequestEvidence(needOf(wanted, missing))
	for _, k := range missing {
		x, err := s.readFacts(ctx, ev, k, wanted[k])
		if err != nil {
			return nil, err
		}
		x.used, out[k] = true, x
		s.keepFacts(gen, k, x)
	}
	if stale {
		s.refreshSoon()
	}
	return out, nil
}

// sightings is every flag's sighting, as factsOf serves facts: read now
// when never read (or stale with no service to refresh it), else served
// and, when stale, refreshed behind the request.
func (s *Service) sightings(ctx context.Context) (map[flagKey]Sighting, error) {
	now, ttl := s.Now(), s.factsTTL()
	s.factsMu.Lock()
	seen, gen := s.facts.sightings, s.facts.gen
	old := seen == nil || now.Sub(s.facts.sightingsAt) > ttl
	s.factsMu.Unlock()
	if seen == nil || (old && s.cancel == nil) {
		return s.readSightings(ctx, gen)
	}
	if old {
		s.refreshSoon()
	}
	return seen, nil
}

// refreshSoon asks the refresher to run unless it has been asked already.
func (s *Service) refreshSoon() {
	select {
	case s.refresh <- struct{}{}:
	default:
	}
}

// needOf is wanted of the keys given only.
func needOf(wanted map[flagKey]need, keys []flagKey) map[flagKey]need {
	out := make(map[flagKey]need, len(keys))
	for _, k := range keys {
		out[k] = wanted[k]
	}
	return out
}

// keepFacts caches x unless Forget was called since gen.
func (s *Service) keepFacts(gen int, k flagKey, x *flagFacts) {
	s.factsMu.Lock()
	if s.facts.gen == gen {
		s.facts.flags[k] = x
		s.facts.changes++
	}
	s.factsMu.Unlock()
}

// readSightings reads every flag sighting into the cache unless Forget was
// called since gen.
func (s *Service) readSightings(ctx context.Context, gen int) (map[flagKey]Sighting, error) {
	at := s.Now()
	xs, err := s.Store.Sightings(ctx)
	if err != nil {
		return nil, err
	}
	seen := make(map[flagKey]Sighting, len(xs))
	for _, x := range xs {
		seen[flagKey{x.Environment, x.Flag}] = x
	}
	s.factsMu.Lock()
	if s.facts.gen == gen {
		s.facts.sightings, s.facts.sightingsAt = seen, at
		s.facts.changes++
	}
	s.factsMu.Unlock()
	return seen, nil
}

// refreshFacts reads again the stale entries read since their last
// refresh, drops the others, and reads the sightings when stale.
func (s *Service) refreshFacts(ctx context.Context) error {
	now, ttl := s.Now(), s.factsTTL()
	type job struct {
		k    flagKey
		read need
	}
	var jobs []job
	s.factsMu.Lock()
	for k, x := range s.facts.flags {
		switch {
		case now.Sub(x.at) <= ttl:
		case x.used:
			jobs = append(jobs, job{k, x.read})
		default:
			delete(s.facts.flags, k)
			s.facts.changes++
		}
	}
	oldSightings, gen := now.Sub(s.facts.sightingsAt) > ttl, s.facts.gen
	s.factsMu.Unlock()
	if oldSightings {
		if _, err := s.readSightings(ctx, gen); err != nil {
			return err
		}
	}
	reads := make(map[flagKey]need, len(jobs))
	for _, j := range jobs {
		reads[j.k] = j.read
	}
	ev := s.newRequestEvidence(reads)
	for _, j := range jobs {
		x, err := s.readFacts(ctx, ev, j.k, j.read)
		if err != nil {
			return err
		}
		x.used = false
		s.keepFacts(gen, j.k, x)
	}
	return nil
}

// forgetFlag drops a flag's facts: its rollout moved or a verdict on it was
// recorded, so the next request reads it again.
func (s *Service) forgetFlag(k flagKey) {
	s.factsMu.Lock()
	delete(s.facts.flags, k)
	s.facts.gen++ // a read under way may hold the flag as it was
	s.facts.changes++
	s.factsMu.Unlock()
}

// noteSightings puts sightings this node stored into the cache: the
// node that syncs sees its own news at once, the others within the sync
// interval.
func (s *Service) noteSightings(seen []Sighting) {
	s.factsMu.Lock()
	defer s.factsMu.Unlock()
	if s.facts.sightings == nil {
		return
	}
	m := make(map[flagKey]Sighting, len(s.facts.sightings)+len(seen))
	for k, x := range s.facts.sightings {
		m[k] = x
	}
	for _, x := range seen {
		m[flagKey{x.Environment, x.Flag}] = x
	}
	s.facts.sightings = m
	s.facts.changes++
}

// Forget drops what Next cached of the linked flags (their hypotheses,
// analyses and sightings), so that the next request reads them again: for
// a caller that wrote them through the store directly (the demo's
// history).
func (s *Service) Forget() {
	s.factsMu.Lock()
	s.facts = factCache{flags: map[flagKey]*flagFacts{}, gen: s.facts.gen + 1, changes: s.facts.changes + 1}
	s.factsMu.Unlock()
}
