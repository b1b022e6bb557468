// Package ingest turns feedback into the sufficient statistics that
// experiment analysis reads: it validates batches of exposure and tracking
// events, keeps per-user state (first exposure per flag, per-user counts and
// sums) and updates per (flag, variant, metric) sums by delta as events
// arrive, in any order — and once more per value of each configured
// dimension (Pipeline.Dimensions), read from the first exposure's
// attributes. Recompute gives the same figures from the raw events,
// exactly: per-user values are fixed-point integers and the sums are exact
// 192-bit integers, so order, duplicates and restarts cannot change a bit.
//
// What is here: the event type, the batch decoder, the
// aggregation engine and the Pipeline that serialises writes, groups them
// into transactions and acknowledges only durable events. The per-user state
// is kept by the store when it is a StateStore (package sqlite), in memory
// otherwise. What is not: HTTP (package httpapi decodes requests with Decode
// and calls Pipeline.Ingest), storage (packages sqlite and postgres implement
// Store), the metric definitions and the Sums kept per cell (package
// metric, which the analysis packages read without importing this one) and
// statistics (package stats).
package ingest

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/valueloop/valueloop/metric"
)

// EventType says what an event records.
type EventType uint8

const (
	// Exposure: a user (targeting key) was served a variant of a flag.
	Exposure EventType = 1
	// Tracking: a user did something (name), with an optional value.
	Tracking EventType = 2
)

func (t EventType) String() string {
	switch t {
	case Exposure:
		return "exposure"
	case Tracking:
		return "tracking"
	}
	return fmt.Sprintf("EventType(%d)", t)
}

// Scale and MaxValue are package metric's: values are kept as integers of
// millionths within ±MaxValue (package metric says why).
const (
	Scale    = metric.Scale
	MaxValue = metric.MaxValue
)

// Event is one validated event. Times are Unix milliseconds.
type Event struct {
	Type EventType
	// ID identifies the event for deduplication; empty for none.
	ID string
	// Public marks an event sent by a public sender (a token shipped in web
	// pages, which anyone can read). Its ID is deduplicated only against the
	// IDs of other public events: a public sender could otherwise send an ID
	// a back end is about to send (an order number, say) and have the back
	// end's event dropped as its duplicate. Not stored: it matters only
	// when the event is claimed.
	Public bool
	// Time is when the event happened (Unix ms). TimeSet is false when the
	// sender gave no time and the server's receive time was used.
	Time    int64
	TimeSet bool
	// TargetingKey identifies the unit (user) of analysis.
	TargetingKey string
	// Flag and Variant of an exposure.
	Flag, Variant string
	// Name of a tracking event; Value in millionths when HasValue.
	Name     string
	Value    int64
	HasValue bool
	// Attributes of the event (for an exposure: the context it was served
	// in, where dimensions are read): a raw JSON object, or nil.
	Attributes []byte
	// OutsideSplit marks an exposure whose variant was not drawn by the
	// flag's split: a targeting rule, the default variant, a static or a
	// disabled flag chose it. A user whose first exposure to a flag was
	// outside the split was never randomised, so the engine counts them
	// apart from the variant's cells that experiments read (see
	// metric.OutsideDimension). False when unknown (older records, SDKs
	// that send no reason): counted as in the split, as before the bit.
	OutsideSplit bool
}

// DedupKey is the identity of an event that carries an ID: its time as sent
// (0 when it sent none) and a 64-bit hash of the ID. Keying by time first
// keeps the store's index append-mostly, which is what makes deduplication
// affordable at hundreds of thousands of events per second.
type DedupKey struct{ Time, Hash int64 }

// publicIDs prefixes the IDs of public events in their hash (see
// Event.Public). What keeps them apart from server-side IDs is the other
// hash, not the prefix (an ID may hold a NUL, sent as \u0000); the prefix
// is part of the keys the store holds, so it stays.
const publicIDs = "public\x00"

// Key returns the identity of an event with an ID.
func (e *Event) Key() DedupKey {
	var h uint64
	if e.Public {
		// SHA-256, not FNV: FNV is no defence against a sender who
		// crafts an ID whose hash is that of an ID a back end sends
		// (its preimages can be computed), and public senders are
		// anyone. Server-side IDs keep the FNV hash the store holds.
		var buf [len(publicIDs) + MaxKeyBytes]byte // on the stack: IDs are at most MaxKeyBytes
		sum := sha256.Sum256(append(append(buf[:0], publicIDs...), e.ID...))
		h = binary.BigEndian.Uint64(sum[:8])
	} else {
		// FNV-1a, 64 bits (hash/fnv), without its allocations.
		h = 14695981039346656037
		for i := 0; i < len(e.ID); i++ {
			h ^= uint64(e.ID[i])
			h *= 1099511628211
		}
	}
	k := DedupKey{Hash: int64(h)}
	if e.TimeSet {
		k.Time = e.Time
	}
	return k
}

// missing names a field the event cannot do without and why, or returns
// "": the checks of Decode that events given in Go need too.
func (e *Event) missing() (field, reason string) {
	switch {
	case e.Type != Exposure && e.Type != Tracking:
		return "type", `required: "exposure" or "tracking"`
	case e.TargetingKey == "":
		return "targetingKey", "required: the targeting key of the user the event is about"
	case e.Type == Exposure && e.Flag == "":
		return "flag", "required for an exposure: the key of the flag evaluated"
	case e.Type == Exposure && e.Variant == "":
		return "variant", "required for an exposure: the variant served"
	case e.Type == Tracking && e.Name == "":
		return "name", "required for a tracking event: what the user did"
	}
	return "", ""
}

// MaxKeyBytes bounds the id, targeting key, flag, variant and name of any
// event a pipeline stores (Limits.MaxKeyBytes may only lower it for a
// request). The stores index targeting keys, flags and variants, and
// PostgreSQL's index entries hold about 2.7 kB at most: one longer key,
// once in the user log, failed every compaction of it and with that every
// later write of its environment.
const MaxKeyBytes = 256

// badText names the first text field of the event that no store can keep,
// and why, or returns "": longer than max bytes, or holding U+0000, which
// PostgreSQL's text refuses (SQLite's does not: the two stores must judge
// an event alike, and the user log of a store that took it would fail
// later, at compaction, for every write of the environment).
func (e *Event) badText(max int) (field, reason string) {
	for _, f := range [...]struct{ name, v string }{{"id", e.ID}, {"targetingKey", e.TargetingKey}, {"flag", e.Flag}, {"variant", e.Variant}, {"name", e.Name}} {
		if reason := textProblem(f.v, max); reason != "" {
			return f.name, reason
		}
	}
	return "", ""
}

// textProblem says why s cannot be stored as an event's text field, or
// returns "".
func textProblem(s string, max int) string {
	if len(s) > max {
		return fmt.Sprintf("longer than %d bytes", max)
	}
	if strings.IndexByte(s, 0) >= 0 {
		return `must not contain the NUL character (\u0000)`
	}
	return ""
}

// TimeOf returns the event time as a time.Time in UTC.
func (e *Event) TimeOf() time.Time { return time.UnixMilli(e.Time).UTC() }

// FloatValue returns the value as a float64.
func (e *Event) FloatValue() float64 { return float64(e.Value) / Scale }

// toFixed converts a value to millionths, rounding half away from zero.
func toFixed(v float64) (int64, error) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("must be a finite number")
	}
	if math.Abs(v) > MaxValue {
		return 0, fmt.Errorf("must lie within ±%g, got %g", MaxValue, v)
	}
	return int64(math.Round(v * Scale)), nil
}
