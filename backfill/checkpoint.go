package backfill

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Checkpoint keeps the place of an import in a file: after each page
// stored, the URL of the next page of its stream. An import that stopped
// half-way (an error, a rate limit longer than it would wait, Ctrl-C) runs
// again from there; a finished one removes its place, so the next import
// reads everything again and stores only what is new. One file holds the
// places of several imports, by scope (forge, API and repository).
type Checkpoint struct {
	// Path is the file; empty: the place is kept in memory only.
	Path  string
	Scope string
	all   map[string]map[string]Cursor
}

// Cursor is the place in one stream of pages.
type Cursor struct {
	// Next is the first page not stored yet; empty: the stream's first.
	Next string `json:"next,omitempty"`
	Done bool   `json:"done,omitempty"`
	// Pages counts the pages stored, for progress.
	Pages int `json:"pages,omitempty"`
}

// OpenCheckpoint reads the places kept in path (none when it does not
// exist yet) for scope.
func OpenCheckpoint(path, scope string) (*Checkpoint, error) {
	c := &Checkpoint{Path: path, Scope: scope, all: map[string]map[string]Cursor{}}
	if path == "" {
		return c, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	if err := json.Unmarshal(b, &c.all); err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w (delete it to start over)", path, err)
	}
	if c.all == nil {
		c.all = map[string]map[string]Cursor{}
	}
	return c, nil
}

// Resuming reports whether an earlier import of the scope stopped half-way.
func (c *Checkpoint) Resuming() bool { return len(c.all[c.Scope]) > 0 }

// Cursor is the place kept for stream.
func (c *Checkpoint) Cursor(stream string) Cursor { return c.all[c.Scope][stream] }

// Set keeps cur as the place of stream, in the file before it returns.
func (c *Checkpoint) Set(stream string, cur Cursor) error {
	if c.all[c.Scope] == nil {
		c.all[c.Scope] = map[string]Cursor{}
	}
	c.all[c.Scope][stream] = cur
	return c.save()
}

// Finish forgets the places of the scope: the import is complete.
func (c *Checkpoint) Finish() error {
	delete(c.all, c.Scope)
	return c.save()
}

// save writes the file whole, through a rename, so that a crash leaves the
// old places or the new ones.
func (c *Checkpoint) save() error {
	if c.Path == "" {
		return nil
	}
	if len(c.all) == 0 {
		if err := os.Remove(c.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("checkpoint: %w", err)
		}
		return nil
	}
	b, err := json.MarshalIndent(c.all, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(c.Path), ".checkpoint-*")
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("checkpoint: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if err := os.Rename(tmp.Name(), c.Path); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
}
