package features

import "context"

// SyncLocked reports whether a sync (or a move) holds s's sync lock now.
func SyncLocked(s *Service) bool {
	if s.syncMu.TryLock() {
		s.syncMu.Unlock()
		return false
	}
	return true
}

// WritesLocked reports whether a write of objectives or features holds
// s's write lock now.
func WritesLocked(s *Service) bool {
	if s.writeMu.TryLock() {
		s.writeMu.Unlock()
		return false
	}
	return true
}

// Mismatch is what Next reads of flag's experiment in env for the record
// of bets: whether it shows a sample ratio mismatch, by the check of its
// users alone, or with analysed by the analysis of every cell (what a
// releasing feature's flag gets, and what the check read before).
func Mismatch(s *Service, ctx context.Context, env, flag string, analysed bool) (bool, error) {
	n := needSRM
	if analysed {
		n = needAnalysis
	}
	ev := s.newRequestEvidence(nil)
	x, err := s.readFacts(ctx, ev, flagKey{env, flag}, n)
	if err != nil {
		return false, err
	}
	return x.srm(), nil
}

// AnalyseVerdicts reads into s's facts what next reads of every flag, but
// a verdict's experiment analysed in full, as next checked it for a sample
// ratio mismatch before the check read users only: followed by the first
// next (which then finds every flag read), BenchmarkService's baseline.
// The old path lives here, not in the service.
func AnalyseVerdicts(s *Service, ctx context.Context) error {
	c, err := s.read(ctx)
	if err != nil {
		return err
	}
	_, items, err := c.items("")
	if err != nil {
		return err
	}
	_, err = s.factsOf(ctx, needs(items, s.production(), needAnalysis))
	return err
}
