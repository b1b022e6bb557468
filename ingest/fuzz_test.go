package ingest

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/valueloop/valueloop/metric"
)

// FuzzDecode holds the hand-written event decoder to encoding/json on any
// body. Decode must never panic; its counts must add up; an array body is
// accepted exactly when it is valid JSON in UTF-8 nested no deeper than the
// decoder allows; and every event it accepts has the fields encoding/json
// reads from the same element or line, each one a store can keep.
func FuzzDecode(f *testing.F) {
	for _, seed := range []string{
		`[{"type":"tracking","id":"a","name":"buy","targetingKey":"u","value":19.99,"time":"2026-06-01T11:00:00Z"}]`,
		`[{"type":"exposure","id":"e1","flag":"checkout","variant":"on","targetingKey":"u-1","time":"2026-06-01T11:59:59.123+02:00"}]`,
		"{\"type\":\"tracking\",\"name\":\"a\",\"targetingKey\":\"u\"}\n\n{\"type\":\"tracking\"\n{\"type\":\"exposure\",\"flag\":\"f\",\"variant\":\"v\",\"targetingKey\":\"k\"}\r\n",
		`[{"type":"tracking","id":"a\u00e9\n\"q\"","name":"b\ud83d\ude00","targetingKey":"u\/1","value":-12.3456789,"attributes": {"k":[1,{"x":null}]}}]`,
		`[{"type":"tracking","name":"\ud800\u0041","targetingKey":"\udc00"}]`,
		`[{"type":"tracking","name":"n","targetingKey":"u","value":1e999}, 42, "x", null, [], {}]`,
		`[{"type":"tracking","name":"n","targetingKey":"u","id":null,"time":null,"value":null,"attributes":null}]`,
		`[{"type":"tracking","name":"n","targetingKey":"u","name":"m","value":1,"value":2.5}]`,
		`[{"type":"exposure","flag":"f","variant":"a","variant":null,"targetingKey":"u"}]`,
		`[{"type":"tracking","name":"n","targetingKey":"u","colour":"red"}] x`,
		` [ ] `,
		`[{"TYPE":"tracking","name":"n","targetingKey":"u"}]`,
		"[{\"type\":\"tracking\",\"name\":\"n\xff\",\"targetingKey\":\"u\"}]",
		`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`,
		`[{"type":"tracking","name":"n","targetingKey":"u","value":-0,"time":"2026-05-20T10:11:12.123456789Z"}]`,
		`[{"type":"exposure","flag":"f","variant":"a","targetingKey":"u","reason":"STATIC"},{"type":"exposure","flag":"f","variant":"a","targetingKey":"v","reason":"TARGETING_MATCH"},{"type":"exposure","flag":"f","variant":"a","targetingKey":"w","reason":"D\u0045FAULT"},{"type":"tracking","name":"n","targetingKey":"u","reason":null}]`,
		`[{"type":"exposure","flag":"f","variant":"a","targetingKey":"u","reason":"TARGETING_MATCH","split":false},{"type":"exposure","flag":"f","variant":"a","targetingKey":"v","split":true},{"type":"exposure","flag":"f","variant":"a","targetingKey":"w","split":null},{"type":"exposure","flag":"f","variant":"a","targetingKey":"x","split":1}]`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		b, err := Decode(body, now, Limits{})
		trimmed := bytes.TrimLeft(body, " \t\r\n")
		isArray := len(trimmed) > 0 && trimmed[0] == '['
		if isArray {
			want := json.Valid(body) && utf8.Valid(body) && nesting(body) <= maxDepth+2
			if (err == nil) != want {
				t.Fatalf("Decode error %v; want an error: %v (encoding/json valid %v, UTF-8 %v, nesting %d)", err, !want, json.Valid(body), utf8.Valid(body), nesting(body))
			}
		}
		if err != nil {
			return
		}
		if b.Received != len(b.Events)+len(b.Rejected) || len(b.Index) != len(b.Events) {
			t.Fatalf("received %d, kept %d (%d indexes), rejected %d", b.Received, len(b.Events), len(b.Index), len(b.Rejected))
		}
		var elems [][]byte
		if isArray {
			var raw []json.RawMessage
			if err := json.Unmarshal(body, &raw); err != nil {
				t.Fatalf("encoding/json cannot read an array Decode accepted: %v", err)
			}
			for _, r := range raw {
				elems = append(elems, r)
			}
		} else {
			for _, line := range bytes.Split(body, []byte{'\n'}) {
				if line = bytes.TrimSpace(line); len(line) > 0 {
					elems = append(elems, line)
				}
			}
		}
		for i, ev := range b.Events {
			idx := b.Index[i]
			if idx >= len(elems) {
				t.Fatalf("event %d has index %d of %d elements", i, idx, len(elems))
			}
			checkAgainstEncodingJSON(t, elems[idx], &ev)
			// What Decode accepts every store can keep (PostgreSQL's text
			// holds no U+0000).
			if field, reason := ev.badText(MaxKeyBytes); field != "" {
				t.Fatalf("event %d accepted with %s: %s", i, field, reason)
			}
		}
	})
}

// checkAgainstEncodingJSON compares an accepted event with what
// encoding/json reads from its element.
func checkAgainstEncodingJSON(t *testing.T, raw []byte, ev *Event) {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("encoding/json cannot read an accepted event %q: %v", raw, err)
	}
	str := func(key string) (string, bool) {
		v, ok := m[key]
		if !ok || string(v) == "null" {
			return "", false
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			t.Fatalf("%s of an accepted event: encoding/json: %v", key, err)
		}
		return s, true
	}
	typ, _ := str("type")
	if want := map[string]EventType{"exposure": Exposure, "tracking": Tracking}[typ]; ev.Type != want {
		t.Errorf("type %v, encoding/json read %q", ev.Type, typ)
	}
	for _, f := range []struct {
		key, got string
	}{{"id", ev.ID}, {"targetingKey", ev.TargetingKey}, {"flag", ev.Flag}, {"variant", ev.Variant}, {"name", ev.Name}} {
		if want, _ := str(f.key); f.got != want {
			t.Errorf("%s %q, encoding/json read %q", f.key, f.got, want)
		}
	}
	if s, ok := str("time"); ok {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil || !ev.TimeSet || ev.Time != tm.UnixMilli() {
			t.Errorf("time %d (set %v), time.Parse(%q) = %v, %v", ev.Time, ev.TimeSet, s, tm, err)
		}
	} else if ev.TimeSet || ev.Time != now.UnixMilli() {
		t.Errorf("time %d (set %v) without a time sent, want the server's", ev.Time, ev.TimeSet)
	}
	reason, _ := str("reason")
	outside := reason == "DEFAULT" || reason == "STATIC" || reason == "DISABLED"
	if v, ok := m["split"]; ok && string(v) != "null" {
		var split bool
		if err := json.Unmarshal(v, &split); err != nil {
			t.Fatalf("split of an accepted event: encoding/json: %v", err)
		}
		outside = !split
	}
	if ev.OutsideSplit != outside {
		t.Errorf("outside the split %v, encoding/json read reason %q and split %s", ev.OutsideSplit, reason, m["split"])
	}
	if v, ok := m["value"]; ok && string(v) != "null" {
		var f float64
		if err := json.Unmarshal(v, &f); err != nil {
			t.Fatalf("value of an accepted event: encoding/json: %v", err)
		}
		if want, err := toFixed(f); err != nil || !ev.HasValue || ev.Value != want {
			t.Errorf("value %d (has %v), encoding/json read %v", ev.Value, ev.HasValue, f)
		}
	} else if ev.HasValue {
		t.Errorf("value %d without a value sent", ev.Value)
	}
	if a, ok := m["attributes"]; ok && string(a) != "null" {
		if !bytes.Equal(ev.Attributes, a) {
			t.Errorf("attributes %s, encoding/json read %s", ev.Attributes, a)
		}
	} else if ev.Attributes != nil {
		t.Errorf("attributes %s without attributes sent", ev.Attributes)
	}
}

// nesting returns the deepest nesting of arrays and objects in valid JSON.
func nesting(b []byte) int {
	depth, deepest, inString := 0, 0, false
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case inString:
		case c == '[' || c == '{':
			depth++
			deepest = max(deepest, depth)
		case c == ']' || c == '}':
			depth--
		}
	}
	return deepest
}

// FuzzStoredData feeds damaged bytes to the decoders of what the stores
// keep, log records and per-user states: a damaged database must give an
// error, never a panic, and whatever decodes must encode back to bytes that
// decode to the same again.
func FuzzStoredData(f *testing.F) {
	metrics := testMetrics()
	seedEngine := newEngine(metrics)
	seedEngine.persistent = true
	evs := []Event{
		{Type: Exposure, ID: "x", Flag: "f", Variant: "a", TargetingKey: "u", Time: 5, TimeSet: true},
		// a unit first exposed outside the split (its mark in the state)
		{Type: Exposure, Flag: "g", Variant: "b", TargetingKey: "u", Time: 4, OutsideSplit: true},
		{Type: Tracking, Name: "purchase", TargetingKey: "u", Time: 9, Value: -7, HasValue: true, Attributes: []byte(`{"a":1}`)},
		// a value in the bucket counts of the quantile over events
		{Type: Tracking, Name: "load", TargetingKey: "u", Time: 6, Value: 2_500_000, HasValue: true},
		{Type: Tracking, Name: "click", TargetingKey: "v", Time: 3},
	}
	if err := seedEngine.apply(evs, func(int64, func([]byte) error) error { return nil }); err != nil {
		f.Fatal(err)
	}
	seedEngine.finish()
	f.Add(EncodeLog(evs).Data, seedEngine.encodeUser(nil, seedEngine.users["u"]))
	f.Add([]byte{logVersion, 1, 1, 0, 0}, []byte{stateFormat, 0, 0, 0})
	// Sums past an int64 (two words in the state).
	wideEngine := newEngine(metrics)
	wideEngine.persistent = true
	wide := evs[:1:1]
	for i := range 12 {
		wide = append(wide, Event{Type: Tracking, Name: "purchase", TargetingKey: "u", Time: 6 + int64(i), Value: MaxValue * Scale, HasValue: true})
	}
	if err := wideEngine.apply(wide, func(int64, func([]byte) error) error { return nil }); err != nil {
		f.Fatal(err)
	}
	wideEngine.finish()
	f.Add(EncodeLog(wide).Data, wideEngine.encodeUser(nil, wideEngine.users["u"]))
	// A state with dimension values (the engine with testDims reads it).
	dimEngine := newEngine(metrics, testDims...)
	dimEngine.persistent = true
	evs[0].Attributes = []byte(`{"country":"GB","platform":3}`)
	if err := dimEngine.apply(evs, func(int64, func([]byte) error) error { return nil }); err != nil {
		f.Fatal(err)
	}
	dimEngine.finish()
	f.Add(EncodeLog(evs).Data, dimEngine.encodeUser(nil, dimEngine.users["u"]))
	f.Fuzz(func(t *testing.T, record, state []byte) {
		var got []Event
		if err := DecodeLog(record, func(e *Event) error {
			c := *e
			c.ID, c.TargetingKey, c.Flag, c.Variant, c.Name = strings.Clone(c.ID), strings.Clone(c.TargetingKey), strings.Clone(c.Flag), strings.Clone(c.Variant), strings.Clone(c.Name)
			c.Attributes = bytes.Clone(c.Attributes)
			got = append(got, c)
			return nil
		}); err == nil {
			var again []Event
			if err := DecodeLog(EncodeLog(got).Data, func(e *Event) error { again = append(again, *e); return nil }); err != nil || len(again) != len(got) {
				t.Fatalf("re-encoded record: %d events, %v; want %d", len(again), err, len(got))
			}
			for i := range got {
				if !sameEvent(&got[i], &again[i]) {
					t.Fatalf("event %d: %+v, re-encoded %+v", i, got[i], again[i])
				}
			}
		}
		for _, dims := range [][]metric.Dimension{nil, testDims} {
			e := newEngine(metrics, dims...)
			if err := e.load("k", state); err != nil {
				continue
			}
			enc := e.encodeUser(nil, e.users["k"])
			f := newEngine(metrics, dims...)
			if err := f.load("k", enc); err != nil {
				t.Fatalf("a re-encoded state does not load (%d dimensions): %v", len(dims), err)
			}
			if again := f.encodeUser(nil, f.users["k"]); !bytes.Equal(again, enc) {
				t.Fatalf("state re-encoded twice differs (%d dimensions):\n%x\n%x", len(dims), enc, again)
			}
		}
	})
}

func sameEvent(a, b *Event) bool {
	return a.Type == b.Type && a.ID == b.ID && a.Time == b.Time && a.TimeSet == b.TimeSet && a.TargetingKey == b.TargetingKey &&
		a.Flag == b.Flag && a.Variant == b.Variant && a.Name == b.Name && a.Value == b.Value && a.HasValue == b.HasValue &&
		bytes.Equal(a.Attributes, b.Attributes)
}
