package ingest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
)

// LogRecord is a batch of stored events in the compact binary form the store
// keeps: one record per environment per transaction. MinTime and MaxTime
// bound the event times inside, so that a history scan for events newer than
// t reads only the records that can hold one.
type LogRecord struct {
	MinTime, MaxTime int64
	Count            int
	Data             []byte
}

const logVersion = 1

const (
	flagTimeSet = 1 << iota
	flagHasValue
	flagAttributes
	// flagOutside is Event.OutsideSplit. Records written before it have
	// the bit clear, which reads as in the split: what they were counted
	// as when written, so stored logs need no migration.
	flagOutside
)

// EncodeLog encodes events (which must not be empty) as one record.
func EncodeLog(events []Event) LogRecord {
	rec := LogRecord{MinTime: math.MaxInt64, MaxTime: math.MinInt64, Count: len(events)}
	buf := make([]byte, 0, logSize(events))
	buf = append(buf, logVersion)
	buf = binary.AppendUvarint(buf, uint64(len(events)))
	var prev int64
	str := func(s string) {
		buf = binary.AppendUvarint(buf, uint64(len(s)))
		buf = append(buf, s...)
	}
	for i := range events {
		e := &events[i]
		rec.MinTime = min(rec.MinTime, e.Time)
		rec.MaxTime = max(rec.MaxTime, e.Time)
		var f byte
		if e.TimeSet {
			f |= flagTimeSet
		}
		if e.HasValue {
			f |= flagHasValue
		}
		if e.Attributes != nil {
			f |= flagAttributes
		}
		if e.OutsideSplit && e.Type == Exposure {
			f |= flagOutside
		}
		buf = append(buf, byte(e.Type), f)
		buf = binary.AppendVarint(buf, e.Time-prev)
		prev = e.Time
		str(e.ID)
		str(e.TargetingKey)
		if e.Type == Exposure {
			str(e.Flag)
			str(e.Variant)
		} else {
			str(e.Name)
		}
		if e.HasValue {
			buf = binary.AppendVarint(buf, e.Value)
		}
		if e.Attributes != nil {
			buf = binary.AppendUvarint(buf, uint64(len(e.Attributes)))
			buf = append(buf, e.Attributes...)
		}
	}
	rec.Data = buf
	return rec
}

// logSize is at least the length of events' record, so that EncodeLog
// allocates once: a guess per event grew the buffer by doubling when the
// events carried attributes, which an event upload may fill up to
// max-event-body — 88 MB allocated for a 17 MB upload, five times the
// record's size, on top of the body and its decoding.
func logSize(events []Event) int {
	str := func(s int) int { return (bits.Len64(uint64(s)|1)+6)/7 + s } // a uvarint length and its bytes
	n := 1 + binary.MaxVarintLen64
	for i := range events {
		e := &events[i]
		// Type, flags, time and value (at most), then the strings.
		n += 2 + 2*binary.MaxVarintLen64 + str(len(e.ID)) + str(len(e.TargetingKey)) + str(len(e.Attributes))
		n += str(len(e.Flag)) + str(len(e.Variant)) + str(len(e.Name))
	}
	return n
}

var errCorrupt = errors.New("ingest: corrupt event log record")

// DecodeLog calls fn with each event of a record, in order. The Event passed
// is reused between calls: copy it to keep it. Strings that repeat within a
// record (names, flags, variants) share one allocation.
func DecodeLog(data []byte, fn func(*Event) error) error {
	var intern map[string]string
	shared := func(b []byte) string {
		if len(b) == 0 {
			return ""
		}
		if s, ok := intern[string(b)]; ok {
			return s
		}
		if intern == nil {
			intern = map[string]string{}
		}
		s := string(b)
		intern[s] = s
		return s
	}
	var ev Event
	return decodeRecord(data, func(r *rawEvent) error {
		ev = Event{Type: r.typ, Time: r.time, TimeSet: r.timeSet, Value: r.value, HasValue: r.hasValue, Attributes: r.attrs, OutsideSplit: r.outside}
		if len(r.id) > 0 {
			ev.ID = string(r.id)
		}
		if len(r.key) > 0 {
			ev.TargetingKey = string(r.key)
		}
		if r.typ == Exposure {
			ev.Flag, ev.Variant = shared(r.flag), shared(r.variant)
		} else {
			ev.Name = shared(r.name)
		}
		return fn(&ev)
	})
}

// ScanExposures calls fn with the flag, variant and time of each exposure
// of a record, without allocating: flag and variant alias data and are
// valid only during the call. Counting exposures over a whole log this way
// leaves the collector nothing to do.
func ScanExposures(data []byte, fn func(flag, variant []byte, time int64)) error {
	return scanRecord(data, func(r *rawEvent) {
		if r.typ == Exposure {
			fn(r.flag, r.variant, r.time)
		}
	})
}

// rawEvent is an event of a log record whose strings alias the record.
type rawEvent struct {
	typ                    EventType
	time                   int64
	timeSet, hasValue      bool
	outside                bool // Event.OutsideSplit
	value                  int64
	id, key, flag, variant []byte
	name, attrs            []byte
}

// scanRecord is decodeRecord for a function that cannot fail.
func scanRecord(data []byte, fn func(*rawEvent)) error {
	return decodeRecord(data, func(r *rawEvent) error { fn(r); return nil })
}

// decodeRecord calls fn with each event of a record, in order, without
// allocating: the event and its byte slices are valid only during the call.
func decodeRecord(data []byte, fn func(*rawEvent) error) error {
	if len(data) == 0 || data[0] != logVersion {
		return fmt.Errorf("%w: unknown version", errCorrupt)
	}
	d := data[1:]
	n, k := binary.Uvarint(d)
	if k <= 0 {
		return errCorrupt
	}
	d = d[k:]
	var prev int64
	var r rawEvent
	ok := true
	bytesOf := func() []byte {
		l, k := binary.Uvarint(d)
		if k <= 0 || uint64(len(d)-k) < l {
			ok = false
			return nil
		}
		b := d[k : k+int(l)]
		d = d[k+int(l):]
		return b
	}
	for i := uint64(0); i < n; i++ {
		if len(d) < 2 {
			return errCorrupt
		}
		r = rawEvent{typ: EventType(d[0])}
		f := d[1]
		d = d[2:]
		dt, k := binary.Varint(d)
		if k <= 0 {
			return errCorrupt
		}
		d = d[k:]
		prev += dt
		r.time, r.timeSet = prev, f&flagTimeSet != 0
		r.outside = f&flagOutside != 0 && r.typ == Exposure
		r.id = bytesOf()
		r.key = bytesOf()
		switch r.typ {
		case Exposure:
			r.flag = bytesOf()
			r.variant = bytesOf()
		case Tracking:
			r.name = bytesOf()
		default:
			return fmt.Errorf("%w: event of unknown type %d", errCorrupt, r.typ)
		}
		if !ok {
			return errCorrupt
		}
		if f&flagHasValue != 0 {
			v, k := binary.Varint(d)
			if k <= 0 {
				return errCorrupt
			}
			d = d[k:]
			r.value, r.hasValue = v, true
		}
		if f&flagAttributes != 0 {
			if r.attrs = bytesOf(); !ok {
				return errCorrupt
			}
		}
		if err := fn(&r); err != nil {
			return err
		}
	}
	if len(d) != 0 {
		return fmt.Errorf("%w: %d bytes after the last event", errCorrupt, len(d))
	}
	return nil
}
