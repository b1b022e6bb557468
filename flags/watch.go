package flags

import (
	"bytes"
	"context"
	"errors"
	"os"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/flagd"
)

// ApplyFile reads a flagd file and applies it to env; the actor recorded in
// the audit trail is "file:PATH". From then on env is read-only to every
// change but the file's own (Apply, PutFlag, DeleteFlag refuse with
// ECONFLICT, naming the file).
func (s *Service) ApplyFile(ctx context.Context, env, path string) error {
	s.files.Store(env, path) // from now on the file is env's only source
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	// WatchFile compares against what was read here, not against what the
	// file holds when its goroutine first runs: an edit made in between would
	// otherwise be taken as the baseline and never applied.
	s.fileData.Store(env, data)
	return s.applyFileData(ctx, env, path, data)
}

func (s *Service) applyFileData(ctx context.Context, env, path string, data []byte) error {
	set, err := flagd.Parse(path, data)
	if err != nil {
		return err
	}
	change, err := s.apply(ctx, env, set, "file:"+path, "flag file changed", time.Time{})
	if err != nil {
		return err
	}
	if !change.Empty() {
		s.logger.Info("flag file applied", "environment", env, "file", path,
			"added", change.Added, "changed", change.Changed, "removed", change.Removed, "version", change.Version)
	}
	return nil
}

// WatchFile re-reads path whenever its content changes, until ctx ends. It
// polls (every interval) rather than relying on inotify: editors replace files
// by rename, and network or container mounts often deliver no events. An
// invalid file is reported once per distinct content and the last good set
// keeps serving. A content that failed for another reason (the store could
// not take it) is tried again at every tick until it is applied, reported
// once per distinct error. It starts from the content ApplyFile read, if it
// ran.
func (s *Service) WatchFile(ctx context.Context, env, path string, interval time.Duration) {
	s.files.Store(env, path)
	var last []byte
	if v, ok := s.fileData.Load(env); ok {
		last = v.([]byte)
	} else {
		last, _ = os.ReadFile(path)
	}
	var lastErr string
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		data, err := os.ReadFile(path)
		if err != nil || bytes.Equal(data, last) {
			continue
		}
		err = s.applyFileData(ctx, env, path, data)
		var invalid *valueloop.ValidationError
		if err == nil || errors.As(err, &invalid) {
			// Done with this content: applied, or refused for what it says.
			last = data
		}
		if err != nil && err.Error() != lastErr {
			msg := "flag file rejected; the last good set keeps serving"
			if invalid == nil {
				msg = "flag file not applied, tried again at each poll; the last good set keeps serving"
			}
			s.logger.Error(msg, "environment", env, "file", path, "err", err)
		}
		lastErr = ""
		if err != nil {
			lastErr = err.Error()
		}
	}
}
