//go:build unix

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// lockDataDir takes the lock on dir of a process that owns the store (a
// server, a restore, a token recover on a stopped server): an exclusive
// flock on dir/valueloop.lock, held until release (or the process ends, so
// a crash leaves no stale lock). The file says who holds it ("PID
// COMMAND"). A second server on the same directory would run a second
// rollout engine and singleton work beside the first: it is refused, with
// a *dataDirBusy.
func lockDataDir(dir, command string) (release func(), err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("--data %s: %w", dir, err)
	}
	path := filepath.Join(dir, "valueloop.lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("--data %s: %w", dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		b, _ := os.ReadFile(path)
		f.Close()
		busy := &dataDirBusy{dir: dir, lock: path, command: command}
		// A server of an earlier version wrote its pid alone.
		busy.pid, busy.holder, _ = strings.Cut(strings.TrimSpace(string(b)), " ")
		if busy.holder == "" {
			busy.holder = "serve"
		}
		return nil, busy
	}
	f.Truncate(0)
	f.WriteAt([]byte(strconv.Itoa(os.Getpid())+" "+command+"\n"), 0)
	return func() {
		f.Truncate(0)
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
