package ingest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
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
)

// EncodeLog encodes events (which must not be empty) as one record.
func EncodeLog(events []Event) LogRecord {
	rec := LogRecord{MinTime: math.MaxInt64, MaxTime: math.MinInt64, Count: len(events)}
	buf := make([]byte, 0, 64*len(events)+8)
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

var errCorrupt = errors.New("ingest: corrupt event log record")

// DecodeLog calls fn with each event of a record, in order. The Event passed
// is reused between calls: copy it to keep it. Strings that repeat within a
// record (names, flags, variants) share one allocation.
func DecodeLog(data []byte, fn func(*Event) error) error {
	if len(data) == 0 || data[0] != logVersion {
		return fmt.Errorf("%w: unknown version", errCorrupt)
	}
	d := data[1:]
	n, k := binary.Uvarint(d)
	if k <= 0 {
		return errCorrupt
	}
	d = d[k:]
	intern := map[string]string{}
	var prev int64
	var ev Event
	bytesOf := func() ([]byte, bool) {
		l, k := binary.Uvarint(d)
		if k <= 0 || uint64(len(d)-k) < l {
			return nil, false
		}
		b := d[k : k+int(l)]
		d = d[k+int(l):]
		return b, true
	}
	str := func(shared bool) (string, bool) {
		b, ok := bytesOf()
		if !ok {
			return "", false
		}
		if len(b) == 0 {
			return "", true
		}
		if !shared {
			return string(b), true
		}
		if s, ok := intern[string(b)]; ok {
			return s, true
		}
		s := string(b)
		intern[s] = s
		return s, true
	}
	for i := uint64(0); i < n; i++ {
		if len(d) < 2 {
			return errCorrupt
		}
		ev = Event{Type: EventType(d[0])}
		f := d[1]
		d = d[2:]
		dt, k := binary.Varint(d)
		if k <= 0 {
			return errCorrupt
		}
		d = d[k:]
		prev += dt
		ev.Time, ev.TimeSet = prev, f&flagTimeSet != 0
		var ok1, ok2, ok3, ok4 bool
		ev.ID, ok1 = str(false)
		ev.TargetingKey, ok2 = str(false)
		switch ev.Type {
		case Exposure:
			ev.Flag, ok3 = str(true)
			ev.Variant, ok4 = str(true)
		case Tracking:
			ev.Name, ok3 = str(true)
			ok4 = true
		}
		if !(ok1 && ok2 && ok3 && ok4) {
			return errCorrupt
		}
		if f&flagHasValue != 0 {
			v, k := binary.Varint(d)
			if k <= 0 {
				return errCorrupt
			}
			d = d[k:]
			ev.Value, ev.HasValue = v, true
		}
		if f&flagAttributes != 0 {
			b, ok := bytesOf()
			if !ok {
				return errCorrupt
			}
			ev.Attributes = b
		}
		if err := fn(&ev); err != nil {
			return err
		}
	}
	return nil
}
