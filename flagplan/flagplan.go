// Package flagplan computes what replacing one flag set by another writes:
// the canonical encoding of flags, so equal definitions compare equal
// whatever their key order or whitespace, and the plan of creations,
// updates and deletions that stores carry out in one transaction; and which
// flags' evaluations it may change, which streams tell their clients.
package flagplan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"

	"github.com/valueloop/valueloop"
)

// EncodeFlag gives the stored and compared form of a flag definition:
// canonical JSON, so that equal definitions have equal bytes whatever key
// order or whitespace they came with. Every store uses it, so a flag set
// moved between stores compares equal.
func EncodeFlag(f *valueloop.Flag) ([]byte, error) {
	return CanonicalJSON(f, "null")
}

// CanonicalJSON encodes v with sorted keys and no insignificant whitespace,
// including inside raw JSON fragments (targeting rules); numbers are kept as
// written. A nil value encodes as empty.
func CanonicalJSON(v any, empty string) ([]byte, error) {
	buf, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	if string(buf) == "null" {
		return []byte(empty), nil
	}
	// Round-trip through a generic value to sort keys inside RawMessages too.
	dec := json.NewDecoder(bytes.NewReader(buf))
	dec.UseNumber()
	var x any
	if err := dec.Decode(&x); err != nil {
		return nil, err
	}
	// Without HTML escaping: a rule's ">=" stays ">=" in storage and in
	// every file exported from it, not "\u003e=".
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(x); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(out.Bytes(), []byte("\n")), nil
}

// Write is one flag that replacing a flag set writes, in canonical JSON:
// Before nil creates the flag, After nil deletes it, both set update it.
type Write struct {
	Key           string
	Before, After []byte
}

// Plan is what replacing one flag set by another writes. Stores carry
// it out in one transaction; package flags uses it to show a diff first.
type Plan struct {
	// Writes: creations and updates in key order, then deletions in key
	// order. Flags whose definitions are equal are not written.
	Writes []Write
	// Evaluators and Metadata are the canonical encodings of the new set's.
	Evaluators, Metadata []byte
	// SetBefore and SetAfter are set when $evaluators or the set metadata
	// change: the audit trail's before and after.
	SetBefore, SetAfter []byte
}

// Compare compares old and next and says what replacing old by next
// writes.
func Compare(old, next *valueloop.FlagSet) (Plan, error) {
	var p Plan
	keys := make([]string, 0, len(next.Flags))
	for k := range next.Flags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		after, err := EncodeFlag(next.Flags[key])
		if err != nil {
			return p, fmt.Errorf("flag %s: %w", key, err)
		}
		var before []byte
		if prev, ok := old.Flags[key]; ok {
			if before, err = EncodeFlag(prev); err != nil {
				return p, fmt.Errorf("flag %s: %w", key, err)
			}
			if bytes.Equal(before, after) {
				continue
			}
		}
		p.Writes = append(p.Writes, Write{Key: key, Before: before, After: after})
	}
	var removed []string
	for key := range old.Flags {
		if _, ok := next.Flags[key]; !ok {
			removed = append(removed, key)
		}
	}
	sort.Strings(removed)
	for _, key := range removed {
		before, err := EncodeFlag(old.Flags[key])
		if err != nil {
			return p, fmt.Errorf("flag %s: %w", key, err)
		}
		p.Writes = append(p.Writes, Write{Key: key, Before: before})
	}
	var err error
	if p.Evaluators, err = CanonicalJSON(next.Evaluators, "{}"); err != nil {
		return p, fmt.Errorf("$evaluators: %w", err)
	}
	if p.Metadata, err = CanonicalJSON(next.Metadata, "{}"); err != nil {
		return p, fmt.Errorf("metadata: %w", err)
	}
	oldEvaluators, err := CanonicalJSON(old.Evaluators, "{}")
	if err != nil {
		return p, fmt.Errorf("$evaluators: %w", err)
	}
	oldMetadata, err := CanonicalJSON(old.Metadata, "{}")
	if err != nil {
		return p, fmt.Errorf("metadata: %w", err)
	}
	if !bytes.Equal(p.Evaluators, oldEvaluators) || !bytes.Equal(p.Metadata, oldMetadata) {
		p.SetBefore = setJSON(oldEvaluators, oldMetadata)
		p.SetAfter = setJSON(p.Evaluators, p.Metadata)
	}
	return p, nil
}

func setJSON(evaluators, metadata []byte) []byte {
	buf, _ := json.Marshal(map[string]json.RawMessage{"$evaluators": evaluators, "metadata": metadata})
	return buf
}

// Empty reports whether the plan writes nothing at all.
func (p Plan) Empty() bool {
	return len(p.Writes) == 0 && p.SetAfter == nil
}

// Change lists the flags the plan adds, changes and removes; version is the
// environment's version to report.
func (p Plan) Change(version int64) valueloop.FlagSetChange {
	c := valueloop.FlagSetChange{Version: version}
	for _, w := range p.Writes {
		switch {
		case w.Before == nil:
			c.Added = append(c.Added, w.Key)
		case w.After == nil:
			c.Removed = append(c.Removed, w.Key)
		default:
			c.Changed = append(c.Changed, w.Key)
		}
	}
	return c
}

// ChangedFlags returns the keys of the flags whose evaluation may differ
// between two sets, sorted: added, removed and changed flags; every flag
// when the set's metadata changed (flags carry it); every flag with
// targeting when the shared evaluators changed (a rule may $ref any of
// them, as flagd substitutes them into the rules). A nil old set names
// every flag of cur. Targeting is compared as bytes: sets parsed by package
// flagd keep it as compact JSON, so equal rules are equal bytes.
func ChangedFlags(old, cur *valueloop.FlagSet) []string {
	if old == nil {
		old = &valueloop.FlagSet{}
	}
	allFlags := !sameMap(old.Metadata, cur.Metadata)
	targeted := !sameMap(old.Evaluators, cur.Evaluators)
	var keys []string
	for k, f := range cur.Flags {
		o := old.Flags[k]
		if o == nil || allFlags || (targeted && len(f.Targeting) > 0) || !sameFlag(o, f) {
			keys = append(keys, k)
		}
	}
	for k := range old.Flags {
		if cur.Flags[k] == nil {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// sameMap is reflect.DeepEqual, but for which an empty map and a nil one
// are the same.
func sameMap[V any](a, b map[string]V) bool {
	return len(a) == 0 && len(b) == 0 || reflect.DeepEqual(a, b)
}

func sameFlag(a, b *valueloop.Flag) bool {
	if a.State != b.State || (a.DefaultVariant == nil) != (b.DefaultVariant == nil) ||
		(a.DefaultVariant != nil && *a.DefaultVariant != *b.DefaultVariant) {
		return false
	}
	return bytes.Equal(a.Targeting, b.Targeting) && reflect.DeepEqual(a.Variants, b.Variants) &&
		reflect.DeepEqual(a.Metadata, b.Metadata)
}
