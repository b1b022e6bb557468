// Package forge holds what the readers of the code forges (packages github
// and gitlab) share: decoding a payload so that its errors name the field,
// the branch and changes a push brings and the paths a commit touched, when
// a closed issue was resolved, and quoting what a sender wrote in a reason.
// Each forge's own formats (its time stamps, its event types, its IDs) stay
// in its package.
package forge

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/dora"
	"github.com/valueloop/valueloop/jsondecode"
)

// Decode unmarshals a payload; a malformed one is an EINVALID error naming
// the field at fault. Unknown fields are fine (forges add them); a repeated
// key is not (two readers could disagree on its value).
//
// An error about the document as a whole names the field "payload": a
// delivery refused should say where to look, even when the body is not an
// object at all (found by FuzzGitHub).
func Decode(body []byte, v any) error {
	err := jsondecode.Decode(body, v, jsondecode.Options{})
	var e *valueloop.Error
	if errors.As(err, &e) && e.Field == "" {
		e.Field = "payload"
	}
	return err
}

// Truncate shortens a value a sender wrote to 40 bytes for a reason or an
// error message, so that a hostile payload cannot make either large. The
// result is valid UTF-8 without NUL (what a store can hold as text): it is
// cut between characters, and invalid bytes (a header's) and NULs become
// U+FFFD.
func Truncate(s string) string {
	s = RepairText(s)
	if len(s) <= 40 {
		return s
	}
	n := 40
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// RepairText replaces what a store cannot hold as text (NUL, invalid
// UTF-8) with U+FFFD.
func RepairText(s string) string {
	if strings.IndexByte(s, 0) < 0 && utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", "\uFFFD"), "\uFFFD")
}

// Paths is the paths of a commit's added, modified and removed lists, each
// once, in the order first named.
func Paths(lists ...[]string) []string {
	n := 0
	for _, l := range lists {
		n += len(l)
	}
	if n == 0 {
		return nil
	}
	// A set, not a scan of out per path: a commit that adds a vendored tree
	// lists 100,000 paths, and the scan took 38 s of CPU for them.
	seen := make(map[string]struct{}, n)
	out := make([]string, 0, n)
	for _, l := range lists {
		for _, p := range l {
			if _, ok := seen[p]; !ok {
				seen[p] = struct{}{}
				out = append(out, p)
			}
		}
	}
	return out
}

// Stamp is a forge's time stamp, read with its field's name so that an
// error names the field.
type Stamp interface {
	// Required returns the time in UTC, or an error when it is absent.
	Required(field string) (time.Time, error)
}

// Commit is one commit of a push event, as GitHub and GitLab both send it;
// S is the forge's time stamp.
type Commit[S Stamp] struct {
	ID        string   `json:"id"`
	Timestamp S        `json:"timestamp"`
	Added     []string `json:"added"`
	Modified  []string `json:"modified"`
	Removed   []string `json:"removed"`
}

// PushBranch reads a push of ref to a repository whose default branch is
// defaultBranch: the branch it updated, or why it says nothing about
// changes (it deleted the ref, the ref is not a branch, it brought no
// commits). A push without a ref, or whose repository names no default
// branch, is refused; defaultField names the latter's field.
func PushBranch(ref string, deleted bool, commits int, defaultBranch, defaultField string) (branch, ignored string, err error) {
	if ref == "" {
		return "", "", valueloop.FieldErrorf("ref", "is required")
	}
	branch, ok := strings.CutPrefix(ref, "refs/heads/")
	switch {
	case deleted:
		return "", "push deleted " + Truncate(ref), nil
	case !ok:
		return "", "push to " + Truncate(ref) + ", not a branch", nil
	case commits == 0:
		return "", "push without new commits", nil
	case defaultBranch == "":
		return "", "", valueloop.FieldErrorf(defaultField, "is required")
	}
	return branch, "", nil
}

// PushChanges returns the changes of repo that a push of commits to branch
// brings, each authored at its commit's time stamp (both required), and
// the newest of those times. Whether and when they were merged is the
// forge's to say.
func PushChanges[S Stamp](repo, branch string, commits []Commit[S]) ([]dora.Change, time.Time, error) {
	changes := make([]dora.Change, len(commits))
	var newest time.Time
	for i, c := range commits {
		field := fmt.Sprintf("commits[%d]", i)
		if c.ID == "" {
			return nil, time.Time{}, valueloop.FieldErrorf(field+".id", "is required")
		}
		at, err := c.Timestamp.Required(field + ".timestamp")
		if err != nil {
			return nil, time.Time{}, err
		}
		if at.After(newest) {
			newest = at
		}
		changes[i] = dora.Change{
			Repo: repo, SHA: strings.ToLower(c.ID), Branch: branch,
			Paths: Paths(c.Added, c.Modified, c.Removed), AuthoredAt: at,
		}
	}
	return changes, newest, nil
}

// Resolve marks inc resolved when its issue was closed at closed: at its
// last update when the forge sent no close time, and never before it
// opened. A closed issue with neither time is refused naming field.
func Resolve(inc *dora.Incident, closed time.Time, field string) error {
	if closed.IsZero() {
		closed = inc.UpdatedAt
	}
	if closed.IsZero() {
		return valueloop.FieldErrorf(field, "is required for a closed issue")
	}
	if closed.Before(inc.OpenedAt) {
		closed = inc.OpenedAt
	}
	inc.ResolvedAt = &closed
	return nil
}

// DefaultIncidentLabel marks incident issues when Config.IncidentLabel is
// empty.
const DefaultIncidentLabel = "incident"

// Config says how to read one source on a forge.
type Config struct {
	// IncidentLabel marks the issues that are incidents (compared without
	// regard to case); DefaultIncidentLabel when empty.
	IncidentLabel string
	// Production lists environments by name with whether they are
	// production (valueloop.Environment.Production). For an environment not
	// listed, the forge's own mark decides (GitHub's production_environment
	// flag, GitLab's deployment tier "production"), when the payload carries
	// one; otherwise it is not production: the name alone never makes an
	// environment production.
	Production map[string]bool
	// ReleaseEnvironment names the environment a published release deploys
	// to, for repositories whose releases are their deployments (a library,
	// a mobile app). When empty, release events are ignored.
	ReleaseEnvironment string
	// Now is when the delivery is read, for what a payload dates after it
	// (a GitLab upcoming release); the wall clock when zero.
	Now time.Time
}

// Clock returns Now, or the wall clock when Now is zero.
func (c *Config) Clock() time.Time {
	if c.Now.IsZero() {
		return time.Now()
	}
	return c.Now
}

// Label is the label that marks incidents: IncidentLabel, or
// DefaultIncidentLabel when that is empty.
func (c *Config) Label() string {
	if c.IncidentLabel == "" {
		return DefaultIncidentLabel
	}
	return c.IncidentLabel
}

// IsProduction reports whether env is production: as Production lists it,
// else as the forge marked it.
func (c *Config) IsProduction(env string, marked bool) bool {
	if p, ok := c.Production[env]; ok {
		return p
	}
	return marked
}
