package valueloop

import (
	"encoding/json"
	"regexp"
)

// flagKeyPattern is the grammar of flag keys, and of every key of the API
// that names a flag (rollouts, hypotheses, delivery links): the characters
// flagd and OpenFeature users put in keys ("new-checkout", "ui.banner_v2",
// "team:feature"), nothing that breaks a URL path segment, a log line or a
// file ('/', whitespace, control characters, NUL), no "." or "..", and a
// bounded length. Letters and digits are Unicode ones ("größe").
var flagKeyPattern = regexp.MustCompile(`^[\p{L}\p{N}_][\p{L}\p{N}_.:-]{0,199}$`)

// FlagKeyRule says what a flag key may be, for error messages.
const FlagKeyRule = "must be 1-200 letters, digits, '_', '-', '.' or ':', starting with a letter, digit or '_'"

// ValidFlagKey reports whether key follows the grammar of flag keys.
func ValidFlagKey(key string) bool { return flagKeyPattern.MatchString(key) }

// Flag states as flagd spells them.
const (
	StateEnabled  = "ENABLED"
	StateDisabled = "DISABLED"
)

// Flag is one feature flag in the flagd model. Variant values are JSON values
// decoded with encoding/json conventions (bool, float64, string,
// map[string]any, []any). Targeting is the raw JsonLogic rule, kept verbatim so
// that an exported file is what was imported; it is compiled by the evaluation
// package, never interpreted from here.
type Flag struct {
	Key            string          `json:"-"`
	State          string          `json:"state"`
	Variants       map[string]any  `json:"variants"`
	DefaultVariant *string         `json:"defaultVariant"`
	Targeting      json.RawMessage `json:"targeting,omitempty"`
	Metadata       map[string]any  `json:"metadata,omitempty"`
	// Version increases by one with every committed change; 0 for a flag that
	// has never been stored. A flag made starts at its environment's version
	// then (1 in a new environment), so one deleted and made again never has
	// a version a client read before the delete.
	Version int64 `json:"-"`
}

// IfFlagExists is the expected version of a flag write that only asks that
// the flag exist, whatever its version (If-Match: *): a write over a missing
// flag is refused as with an expected version, rather than creating it.
const IfFlagExists int64 = -2

// FlagSet is the complete flag configuration of one environment: what one flagd
// file holds.
type FlagSet struct {
	Flags map[string]*Flag
	// Evaluators are the shared JsonLogic fragments that targeting rules use
	// through {"$ref": "name"}.
	Evaluators map[string]json.RawMessage
	Metadata   map[string]any
}

// Environment is a named set of flags (development, production, ...).
// Production marks environments whose deployments count for delivery metrics.
type Environment struct {
	Key        string `json:"key"`
	Name       string `json:"name"`
	Production bool   `json:"production"`
}

// FlagSetChange says what a change to an environment's flag set did.
type FlagSetChange struct {
	Added   []string `json:"added,omitempty"`
	Changed []string `json:"changed,omitempty"`
	Removed []string `json:"removed,omitempty"`
	// Version is the environment's version after the change.
	Version int64 `json:"version"`
}

// Empty reports whether no flag was added, changed or removed.
func (c FlagSetChange) Empty() bool {
	return len(c.Added)+len(c.Changed)+len(c.Removed) == 0
}
