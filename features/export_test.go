package features

// SyncLocked reports whether a sync (or a move) holds s's sync lock now.
func SyncLocked(s *Service) bool {
	if s.syncMu.TryLock() {
		s.syncMu.Unlock()
		return false
	}
	return true
}
