package features

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
