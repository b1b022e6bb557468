package ingest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strconv"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"

	"github.com/valueloop/valueloop"
)

// Statuses of an event in a batch.
const (
	// StatusStored: the event is durable and counted.
	StatusStored = "stored"
	// StatusDuplicate: an event with the same identity (environment, id and
	// time as sent) was stored before, by this batch or an earlier one.
	// Nothing changed; for a client that retries this is as good as stored.
	StatusDuplicate = "duplicate"
	// StatusRejected: the event is invalid and was not stored; Field and
	// Reason say why. Resending it unchanged will fail again.
	StatusRejected = "rejected"
)

// Outcome is what happened to one event of a batch. Index is its position in
// the request: the array index, or for NDJSON the number of the non-blank
// line, both counted from 0.
type Outcome struct {
	Index  int    `json:"index"`
	ID     string `json:"id,omitempty"`
	Status string `json:"status"`
	Field  string `json:"field,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// Limits bound what one request may hold. The zero value of a field means its
// default.
type Limits struct {
	MaxEvents     int           // events per batch; default 10,000
	MaxEventBytes int           // bytes of one encoded event; default 32 KiB
	MaxKeyBytes   int           // bytes of an id, key, name, flag or variant; default and at most MaxKeyBytes
	MaxFuture     time.Duration // how far ahead of the server clock a time may be; default 5 minutes
	MinTime       time.Time     // earliest time accepted; default 2000-01-01
}

func (l Limits) withDefaults() Limits {
	if l.MaxEvents <= 0 {
		l.MaxEvents = 10_000
	}
	if l.MaxEventBytes <= 0 {
		l.MaxEventBytes = 32 << 10
	}
	if l.MaxKeyBytes <= 0 || l.MaxKeyBytes > MaxKeyBytes {
		l.MaxKeyBytes = MaxKeyBytes
	}
	if l.MaxFuture <= 0 {
		l.MaxFuture = 5 * time.Minute
	}
	if l.MinTime.IsZero() {
		l.MinTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	return l
}

// Batch is a decoded request: its valid events and the rejected ones.
type Batch struct {
	// Received counts every event in the request, valid or not.
	Received int
	Events   []Event
	// Index[i] is the position of Events[i] in the request.
	Index []int
	// Rejected lists the invalid events, in request order.
	Rejected []Outcome
}

// Decode parses a batch: a JSON array of event objects, or NDJSON (one event
// object per line; a body holding a single object is NDJSON of one line).
// Every event is judged on its own: an invalid one is listed in
// Batch.Rejected with the field and the reason, and the others are kept.
// Events without a time get now. Decode returns an EINVALID error only when
// the body as a whole is unusable: empty, neither an array nor objects, or an
// array whose JSON syntax breaks (a broken array cannot be split into events
// safely, so nothing of it is kept). A body of more than MaxEvents events is
// refused as a whole with ETOOLARGE before the events beyond the cap are
// judged: rejecting each of them would make the answer (and the memory to
// build it) grow with the body instead of with the cap.
func Decode(data []byte, now time.Time, lim Limits) (*Batch, error) {
	lim = lim.withDefaults()
	d := decoder{lim: lim, now: now.UnixMilli(), b: &Batch{}}
	// Ids, targeting keys and attributes are copied into one buffer per
	// request: three allocations per event fewer. It never grows (they are
	// parts of the body, which hold no part twice, and unescaped a string
	// is no longer than it was), so strings made from it stay valid.
	d.arena = make([]byte, 0, len(data))
	// Every event is an object: the braces bound their number.
	if n := min(bytes.Count(data, []byte{'{'}), lim.MaxEvents); n > 0 {
		d.b.Events = make([]Event, 0, n)
		d.b.Index = make([]int, 0, n)
	}
	body := bytes.TrimLeft(data, " \t\r\n")
	if len(body) == 0 {
		return nil, valueloop.Errorf(valueloop.EINVALID, "request body is empty: send a JSON array of events or NDJSON")
	}
	switch body[0] {
	case '[':
		if err := d.array(data); err != nil {
			return nil, err
		}
	case '{':
		if n := lines(data, lim.MaxEvents+1); n > lim.MaxEvents {
			return nil, tooMany(lim.MaxEvents)
		}
		d.ndjson(data)
	default:
		return nil, valueloop.Errorf(valueloop.EINVALID, "request body must be a JSON array of event objects or NDJSON (one object per line)")
	}
	return d.b, nil
}

// DecodeCost is the memory that decoding a body (Decode) and
// storing its events (the log record, EncodeLog) hold beside the body, at
// most: the arena and the record, each no more than the body, and per
// event its Event, its index and its record's header, for as many events
// as such a body can hold. Measured for a 17 MB upload of 3,000 events with
// 300 attributes each: 2.0 times its size; a server counts it against its
// memory budget before decoding.
func DecodeCost(data []byte, lim Limits) int64 {
	lim = lim.withDefaults()
	// Every event is an object: the braces bound their number, as Decode
	// sizes its events by them.
	events := int64(min(bytes.Count(data, []byte{'{'}), lim.MaxEvents))
	return 2*int64(len(data)) + events*int64(unsafe.Sizeof(Event{})+8+2+2*binary.MaxVarintLen64)
}

type decoder struct {
	lim    Limits
	now    int64
	b      *Batch
	arena  []byte            // see Decode
	shared map[string]string // names, flags and variants: few, repeated
}

// str returns b as a string whose bytes live in the request's arena.
func (d *decoder) str(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if len(d.arena)+len(b) > cap(d.arena) {
		return string(b) // cannot happen: the arena holds the whole body
	}
	start := len(d.arena)
	d.arena = append(d.arena, b...)
	return unsafe.String(&d.arena[start], len(b))
}

// raw returns a copy of b in the request's arena (an event's attributes:
// in the arena, a body's attributes cost one allocation, not one each, and
// the body's size once in all, which handlers can count on).
func (d *decoder) raw(b []byte) []byte {
	if len(d.arena)+len(b) > cap(d.arena) {
		return append([]byte(nil), b...) // cannot happen, as in str
	}
	start := len(d.arena)
	d.arena = append(d.arena, b...)
	return d.arena[start:len(d.arena):len(d.arena)]
}

// intern returns b as a string shared by every event of the request that
// has the same one.
func (d *decoder) intern(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if s, ok := d.shared[string(b)]; ok {
		return s
	}
	s := string(b)
	if d.shared == nil {
		d.shared = map[string]string{}
	}
	if len(d.shared) < 256 {
		d.shared[s] = s
	}
	return s
}

// add judges one event value (the raw bytes of one array element or line).
func (d *decoder) add(raw []byte) {
	idx := d.b.Received
	d.b.Received++
	if len(raw) > d.lim.MaxEventBytes {
		d.reject(idx, "", "", fmt.Sprintf("event is %d bytes, more than the limit of %d", len(raw), d.lim.MaxEventBytes))
		return
	}
	p := parser{b: raw}
	p.ws()
	if p.i >= len(p.b) || p.b[p.i] != '{' {
		if _, err := p.value(0); err != nil {
			d.reject(idx, "", "", "malformed JSON: "+err.Error())
			return
		}
		d.reject(idx, "", "", "an event must be a JSON object")
		return
	}
	ev, field, reason, err := d.event(&p)
	if err == nil {
		p.ws()
		if p.i != len(p.b) {
			err = p.errorf("unexpected %q after the event object", p.b[p.i])
		}
	}
	if err != nil {
		d.reject(idx, ev.ID, "", "malformed JSON: "+err.Error())
		return
	}
	if reason == "" {
		field, reason = d.validate(&ev)
	}
	if reason != "" {
		d.reject(idx, ev.ID, field, reason)
		return
	}
	d.b.Events = append(d.b.Events, ev)
	d.b.Index = append(d.b.Index, idx)
}

// reject records event idx as rejected. Its id is repeated only within
// MaxKeyBytes: ids of up to an event's size made the answer as large as
// the body. One over the limit is left out, not cut, which would name
// another id; the index says which event it was.
func (d *decoder) reject(idx int, id, field, reason string) {
	if len(id) > d.lim.MaxKeyBytes {
		id = ""
	}
	d.b.Rejected = append(d.b.Rejected, Outcome{Index: idx, ID: id, Status: StatusRejected, Field: field, Reason: reason})
}

func (d *decoder) array(data []byte) error {
	p := parser{b: data}
	p.ws()
	p.i++ // '['
	p.ws()
	if p.i < len(p.b) && p.b[p.i] == ']' {
		p.i++
	} else {
		for {
			p.ws()
			if d.b.Received == d.lim.MaxEvents {
				return tooMany(d.lim.MaxEvents)
			}
			start := p.i
			if _, err := p.value(0); err != nil {
				return arrayError(d.b.Received, err)
			}
			d.add(p.b[start:p.i])
			p.ws()
			if p.i >= len(p.b) {
				return arrayError(d.b.Received, p.errorf("unexpected end of input: the array is not closed"))
			}
			c := p.b[p.i]
			p.i++
			if c == ']' {
				break
			}
			if c != ',' {
				return arrayError(d.b.Received, p.errorf("want ',' or ']' after array element, got %q", c))
			}
		}
	}
	p.ws()
	if p.i != len(p.b) {
		return valueloop.Errorf(valueloop.EINVALID, "malformed JSON: unexpected data after the array at byte %d", p.i)
	}
	return nil
}

// tooMany is the error for a body of more than max events.
func tooMany(max int) error {
	return valueloop.Errorf(valueloop.ETOOLARGE, "batch too large: at most %d events per request; split it into smaller requests; nothing was stored", max)
}

// lines counts the non-blank lines of data, stopping at limit: a count made
// without judging any line, so that an oversized body costs one scan.
func lines(data []byte, limit int) int {
	n := 0
	for len(data) > 0 && n < limit {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		if len(bytes.TrimSpace(line)) > 0 {
			n++
		}
	}
	return n
}

func arrayError(idx int, err error) error {
	return valueloop.Errorf(valueloop.EINVALID, "malformed JSON in the array at event %d: %v; nothing was stored", idx, err)
}

func (d *decoder) ndjson(data []byte) {
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		d.add(line)
	}
}

// event parses an event object. It reports the first field problem as
// (field, reason) and keeps scanning; err is a syntax error.
func (d *decoder) event(p *parser) (ev Event, field, reason string, err error) {
	bad := func(f, r string) {
		if reason == "" {
			field, reason = f, r
		}
	}
	var typ, tm []byte
	var hasTime, hasReason bool
	split := byte(0) // 't' or 'f' when the event says whether its split chose it
	var value float64
	var given uint16 // the fields already read (eventField)
	err = p.object(func(key []byte) error {
		// A field given twice would be read as one of its values (and a
		// later null as none): refuse it, as API bodies are refused.
		f := eventField(key)
		if given&f != 0 {
			bad(string(key), "appears more than once in the event")
		}
		given |= f
		switch f {
		case fType, fID, fFlag, fVariant, fName, fTargetingKey, fTime, fReason:
			b, isNull, ok, err := p.stringOrNull()
			if err != nil {
				return err
			}
			if !ok {
				bad(string(key), "must be a string")
				return nil
			}
			if isNull {
				return nil
			}
			switch f {
			case fType:
				typ = b
			case fID:
				// "" is taken as no id, like null: many serializers
				// write an unset string field as "" (Go without
				// omitempty, Jackson and System.Text.Json defaults,
				// proto3 JSON), and refusing it would reject every event
				// of such a client, where accepting it costs only the
				// deduplication its events never had (docs/events.md).
				ev.ID = d.str(b)
			case fFlag:
				ev.Flag = d.intern(b)
			case fVariant:
				ev.Variant = d.intern(b)
			case fName:
				ev.Name = d.intern(b)
			case fTargetingKey:
				ev.TargetingKey = d.str(b)
			case fTime:
				tm, hasTime = b, true
			case fReason:
				ev.OutsideSplit, hasReason = outsideReason(b), true
			}
		case fValue:
			start := p.i
			kind, err := p.value(0)
			if err != nil {
				return err
			}
			switch kind {
			case 'n':
			case '0':
				v, perr := strconv.ParseFloat(string(p.b[start:p.i]), 64)
				if perr != nil || v != v {
					bad("value", "must be a finite number")
					return nil
				}
				value, ev.HasValue = v, true
			default:
				bad("value", "must be a number")
			}
		case fSplit:
			kind, err := p.value(0)
			if err != nil {
				return err
			}
			switch kind {
			case 'n':
			case 't', 'f':
				split = kind
			default:
				bad("split", "must be true or false")
			}
		case fAttributes:
			start := p.i
			kind, err := p.value(0)
			if err != nil {
				return err
			}
			switch kind {
			case 'n':
			case '{':
				ev.Attributes = d.raw(p.b[start:p.i])
			default:
				bad("attributes", "must be a JSON object")
			}
		default:
			if _, err := p.value(0); err != nil {
				return err
			}
			k := string(key)
			bad(k, fmt.Sprintf("unknown field %q (an event has type, id, time, targetingKey, flag, variant, reason, split, name, value and attributes; put anything else in attributes)", k))
		}
		return nil
	})
	if err != nil || reason != "" {
		return ev, field, reason, err
	}
	switch string(typ) {
	case "exposure":
		ev.Type = Exposure
		if split != 0 {
			// Said outright, it overrides what the reason suggests.
			ev.OutsideSplit = split == 'f'
		}
	case "tracking":
		ev.Type = Tracking
		if hasReason {
			return ev, "reason", "a tracking event has no reason (the reason of an evaluation belongs to its exposure)", nil
		}
		if split != 0 {
			return ev, "split", "a tracking event has no split (whether the split chose the variant belongs to its exposure)", nil
		}
	case "":
		return ev, "type", `required: "exposure" or "tracking"`, nil
	default:
		return ev, "type", fmt.Sprintf(`must be "exposure" or "tracking", not %q`, typ), nil
	}
	if hasTime {
		ms, ok := parseTime(tm)
		if !ok {
			return ev, "time", fmt.Sprintf("must be an RFC 3339 time such as 2026-01-02T15:04:05.000Z, got %q", tm), nil
		}
		ev.Time, ev.TimeSet = ms, true
	} else {
		ev.Time = d.now
	}
	if ev.HasValue {
		v, verr := toFixed(value)
		if verr != nil {
			return ev, "value", verr.Error(), nil
		}
		ev.Value = v
	}
	return ev, "", "", nil
}

// The known fields of an event, as bits: eventField finds a key's once,
// and both the check of repeated fields and the reading go by it.
const (
	fType uint16 = 1 << iota
	fID
	fFlag
	fVariant
	fName
	fTargetingKey
	fTime
	fValue
	fAttributes
	fReason
	fSplit
)

// outsideReason reports whether an exposure's reason (the OpenFeature
// reason of the evaluation that served it) says that the variant was not
// drawn by the flag's split: DEFAULT, STATIC and DISABLED. SPLIT is in the
// split. TARGETING_MATCH is not sure either way (flagd's in-process
// providers give it for a fractional split too: counted outside, every
// user of such a split would leave the experiment) and counts as in, as
// does any other reason (UNKNOWN, CACHED, a provider's own), which is what
// an exposure without a reason gets too. An exposure's `split` (true or
// false), sent by an SDK whose evaluator knows (Valueloop's Go provider,
// an OFREP client reading Valueloop's SPLIT), overrides the reason.
func outsideReason(b []byte) bool {
	switch string(b) {
	case "DEFAULT", "STATIC", "DISABLED":
		return true
	}
	return false
}

// eventField returns the bit of a known event field, 0 for any other key.
func eventField(key []byte) uint16 {
	switch string(key) {
	case "type":
		return fType
	case "id":
		return fID
	case "flag":
		return fFlag
	case "variant":
		return fVariant
	case "name":
		return fName
	case "targetingKey":
		return fTargetingKey
	case "time":
		return fTime
	case "value":
		return fValue
	case "attributes":
		return fAttributes
	case "reason":
		return fReason
	case "split":
		return fSplit
	}
	return 0
}

// parseTime parses an RFC 3339 time to Unix milliseconds (truncating finer
// digits, as time.Time.UnixMilli does). A hand-written parser of the usual
// form was measured to save under 1% of ingestion CPU, so time.Parse it is.
func parseTime(b []byte) (int64, bool) {
	t, err := time.Parse(time.RFC3339Nano, string(b))
	if err != nil {
		return 0, false
	}
	return t.UnixMilli(), true
}

// validate checks the rules that do not depend on JSON syntax.
func (d *decoder) validate(ev *Event) (field, reason string) {
	if field, reason := ev.missing(); field != "" {
		return field, reason
	}
	if field, reason := ev.badText(d.lim.MaxKeyBytes); field != "" {
		return field, reason
	}
	switch ev.Type {
	case Exposure:
		// Attributes of an exposure are the context the variant was served
		// in; the configured dimensions (metric.Dimension) are read there.
		// The field named is the one given: a client that sent a value
		// and no name must not be told to remove a name.
		if ev.Name != "" {
			return "name", "an exposure has no name or value (those belong to tracking events)"
		}
		if ev.HasValue {
			return "value", "an exposure has no name or value (those belong to tracking events)"
		}
	case Tracking:
		if ev.Flag != "" {
			return "flag", "a tracking event has no flag or variant (send an exposure for those)"
		}
		if ev.Variant != "" {
			return "variant", "a tracking event has no flag or variant (send an exposure for those)"
		}
	}
	if ev.TimeSet {
		if limit := d.now + d.lim.MaxFuture.Milliseconds(); ev.Time > limit {
			return "time", fmt.Sprintf("%s is more than %s ahead of the server clock (%s)", ev.TimeOf().Format(time.RFC3339Nano), d.lim.MaxFuture, time.UnixMilli(d.now).UTC().Format(time.RFC3339))
		}
		if ev.Time < d.lim.MinTime.UnixMilli() {
			return "time", fmt.Sprintf("%s is before %s", ev.TimeOf().Format(time.RFC3339Nano), d.lim.MinTime.Format(time.RFC3339))
		}
	}
	return "", ""
}

// parser is a small strict JSON scanner. It is several times faster than
// encoding/json on event objects, and event decoding is the largest cost of
// ingestion after storage.
type parser struct {
	b []byte
	i int
}

func (p *parser) errorf(format string, args ...any) error {
	return fmt.Errorf("at byte %d: %s", p.i, fmt.Sprintf(format, args...))
}

func (p *parser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\r', '\n':
			p.i++
		default:
			return
		}
	}
}

const maxDepth = 64

// value skips one JSON value and reports its kind: '{', '[', '"', '0'
// (number), 't', 'f' or 'n'.
func (p *parser) value(depth int) (byte, error) {
	p.ws()
	if p.i >= len(p.b) {
		return 0, p.errorf("unexpected end of input")
	}
	if depth > maxDepth {
		return 0, p.errorf("nested deeper than %d levels", maxDepth)
	}
	switch c := p.b[p.i]; {
	case c == '{':
		return '{', p.object(func([]byte) error { _, err := p.value(depth + 1); return err })
	case c == '[':
		p.i++
		p.ws()
		if p.i < len(p.b) && p.b[p.i] == ']' {
			p.i++
			return '[', nil
		}
		for {
			if _, err := p.value(depth + 1); err != nil {
				return 0, err
			}
			p.ws()
			if p.i >= len(p.b) {
				return 0, p.errorf("unexpected end of input in array")
			}
			c := p.b[p.i]
			p.i++
			if c == ']' {
				return '[', nil
			}
			if c != ',' {
				return 0, p.errorf("want ',' or ']' in array, got %q", c)
			}
		}
	case c == '"':
		_, err := p.str()
		return '"', err
	case c == '-' || (c >= '0' && c <= '9'):
		return '0', p.number()
	case c == 't':
		return 't', p.literal("true")
	case c == 'f':
		return 'f', p.literal("false")
	case c == 'n':
		return 'n', p.literal("null")
	default:
		return 0, p.errorf("invalid character %q", c)
	}
}

func (p *parser) literal(s string) error {
	if !bytes.HasPrefix(p.b[p.i:], []byte(s)) {
		return p.errorf("invalid literal")
	}
	p.i += len(s)
	return nil
}

// object parses {"key": value, ...}, calling member with each key while the
// position is at its value; member must consume the value.
func (p *parser) object(member func(key []byte) error) error {
	p.ws()
	if p.i >= len(p.b) || p.b[p.i] != '{' {
		return p.errorf("want an object")
	}
	p.i++
	p.ws()
	if p.i < len(p.b) && p.b[p.i] == '}' {
		p.i++
		return nil
	}
	for {
		p.ws()
		if p.i >= len(p.b) || p.b[p.i] != '"' {
			return p.errorf("want a string key in object")
		}
		key, err := p.str()
		if err != nil {
			return err
		}
		p.ws()
		if p.i >= len(p.b) || p.b[p.i] != ':' {
			return p.errorf("want ':' after object key")
		}
		p.i++
		p.ws()
		if err := member(key); err != nil {
			return err
		}
		p.ws()
		if p.i >= len(p.b) {
			return p.errorf("unexpected end of input in object")
		}
		c := p.b[p.i]
		p.i++
		if c == '}' {
			return nil
		}
		if c != ',' {
			return p.errorf("want ',' or '}' in object, got %q", c)
		}
	}
}

// stringOrNull reads a string or null; ok is false (and the value skipped)
// for anything else. The bytes may alias the input.
func (p *parser) stringOrNull() (s []byte, isNull, ok bool, err error) {
	p.ws()
	if p.i < len(p.b) && p.b[p.i] == '"' {
		b, err := p.str()
		return b, false, true, err
	}
	kind, err := p.value(0)
	return nil, kind == 'n', kind == 'n', err
}

// str reads a string and returns its decoded bytes. Without escapes the
// result aliases the input.
func (p *parser) str() ([]byte, error) {
	p.i++ // opening quote
	start := p.i
	ascii := true
	for p.i < len(p.b) {
		c := p.b[p.i]
		if plain[c] {
			p.i++
			continue
		}
		switch {
		case c == '"':
			s := p.b[start:p.i]
			p.i++
			if !ascii && !utf8.Valid(s) {
				return nil, p.errorf("invalid UTF-8 in string")
			}
			return s, nil
		case c == '\\':
			return p.strSlow(start)
		case c < 0x20:
			return nil, p.errorf("control character in string")
		}
		ascii = false // c >= 0x80
		p.i++
	}
	return nil, p.errorf("unterminated string")
}

// plain marks the bytes a string holds as they are: printable ASCII but the
// quote and the backslash.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func (p *parser) strSlow(start int) ([]byte, error) {
	out := append([]byte(nil), p.b[start:p.i]...)
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			if !utf8.Valid(out) {
				return nil, p.errorf("invalid UTF-8 in string")
			}
			return out, nil
		case c < 0x20:
			return nil, p.errorf("control character in string")
		case c != '\\':
			out = append(out, c)
			p.i++
			continue
		}
		p.i++
		if p.i >= len(p.b) {
			break
		}
		e := p.b[p.i]
		p.i++
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := p.hex4()
			if !ok {
				return nil, p.errorf("invalid \\u escape")
			}
			if utf16.IsSurrogate(r) {
				// Half of a pair: with the other half in the next escape,
				// the pair; else U+FFFD, and a next escape is read on its
				// own (as encoding/json does).
				pair := unicode.ReplacementChar
				if at := p.i; at+1 < len(p.b) && p.b[at] == '\\' && p.b[at+1] == 'u' {
					p.i += 2
					r2, ok := p.hex4()
					if pair = utf16.DecodeRune(r, r2); !ok || pair == unicode.ReplacementChar {
						p.i = at
						pair = unicode.ReplacementChar
					}
				}
				r = pair
			}
			out = utf8.AppendRune(out, r)
		default:
			return nil, p.errorf("invalid escape \\%c", e)
		}
	}
	return nil, p.errorf("unterminated string")
}

func (p *parser) hex4() (rune, bool) {
	if p.i+4 > len(p.b) {
		return 0, false
	}
	var r rune
	for _, c := range p.b[p.i : p.i+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	p.i += 4
	return r, true
}

// number checks the JSON number grammar.
func (p *parser) number() error {
	digits := func() int {
		n := 0
		for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	if p.b[p.i] == '-' {
		p.i++
	}
	if p.i < len(p.b) && p.b[p.i] == '0' {
		p.i++
	} else if digits() == 0 {
		return p.errorf("invalid number")
	}
	if p.i < len(p.b) && p.b[p.i] == '.' {
		p.i++
		if digits() == 0 {
			return p.errorf("invalid number: digits required after '.'")
		}
	}
	if p.i < len(p.b) && (p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		p.i++
		if p.i < len(p.b) && (p.b[p.i] == '+' || p.b[p.i] == '-') {
			p.i++
		}
		if digits() == 0 {
			return p.errorf("invalid number: digits required in exponent")
		}
	}
	return nil
}
