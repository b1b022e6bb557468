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

// AnalyseVerdicts makes s check a verdict's experiment for a sample ratio
// mismatch by analysing it in full, as before the check read users only:
// BenchmarkService's baseline.
func AnalyseVerdicts(s *Service) { s.analyseVerdicts = true }
