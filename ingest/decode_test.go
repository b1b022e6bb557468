package ingest

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/valueloop/valueloop"
)

var now = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func TestDecodeRejectsBadEventsOneByOne(t *testing.T) {
	good := `{"type":"tracking","id":"ok","name":"buy","targetingKey":"u","value":1.5,"time":"2026-06-01T11:00:00Z"}`
	tests := []struct {
		name, event, field, reason string
	}{
		{"missing targeting key", `{"type":"tracking","name":"buy"}`, "targetingKey", "required"},
		{"wrong type of field", `{"type":"tracking","name":"buy","targetingKey":7}`, "targetingKey", "must be a string"},
		{"unknown field", `{"type":"tracking","name":"buy","targetingKey":"u","colour":"red"}`, "colour", "unknown field"},
		{"value as string", `{"type":"tracking","name":"buy","targetingKey":"u","value":"1"}`, "value", "must be a number"},
		{"non-finite value", `{"type":"tracking","name":"buy","targetingKey":"u","value":1e999}`, "value", "finite"},
		{"value out of range", `{"type":"tracking","name":"buy","targetingKey":"u","value":1e13}`, "value", "within"},
		{"future time", `{"type":"tracking","name":"buy","targetingKey":"u","time":"2026-06-01T13:00:00Z"}`, "time", "ahead of the server clock"},
		{"ancient time", `{"type":"tracking","name":"buy","targetingKey":"u","time":"1999-06-01T13:00:00Z"}`, "time", "before 2000"},
		{"bad time", `{"type":"tracking","name":"buy","targetingKey":"u","time":"yesterday"}`, "time", "RFC 3339"},
		{"unknown type", `{"type":"click","targetingKey":"u"}`, "type", `not "click"`},
		{"exposure without variant", `{"type":"exposure","flag":"f","targetingKey":"u"}`, "variant", "required"},
		{"exposure with value", `{"type":"exposure","flag":"f","variant":"a","targetingKey":"u","value":1}`, "value", "no name or value"},
		{"exposure with name", `{"type":"exposure","flag":"f","variant":"a","targetingKey":"u","name":"buy"}`, "name", "no name or value"},
		{"tracking with flag", `{"type":"tracking","name":"buy","targetingKey":"u","flag":"f"}`, "flag", "no flag or variant"},
		{"tracking with variant", `{"type":"tracking","name":"buy","targetingKey":"u","variant":"a"}`, "variant", "no flag or variant"},
		{"attributes not an object", `{"type":"tracking","name":"buy","targetingKey":"u","attributes":[1]}`, "attributes", "JSON object"},
		{"reason not a string", `{"type":"exposure","flag":"f","variant":"a","targetingKey":"u","reason":3}`, "reason", "must be a string"},
		{"tracking with reason", `{"type":"tracking","name":"buy","targetingKey":"u","reason":"SPLIT"}`, "reason", "no reason"},
		{"split not a boolean", `{"type":"exposure","flag":"f","variant":"a","targetingKey":"u","split":"yes"}`, "split", "true or false"},
		{"tracking with split", `{"type":"tracking","name":"buy","targetingKey":"u","split":true}`, "split", "no split"},
		{"reason given twice", `{"type":"exposure","flag":"f","variant":"a","targetingKey":"u","reason":"SPLIT","reason":"STATIC"}`, "reason", "more than once"},
		{"not an object", `42`, "", "must be a JSON object"},
		{"variant given twice", `{"type":"exposure","flag":"f","variant":"a","variant":"b","targetingKey":"u"}`, "variant", "more than once"},
		{"variant given, then null", `{"type":"exposure","flag":"f","variant":"a","variant":null,"targetingKey":"u"}`, "variant", "more than once"},
		{"value given twice", `{"type":"tracking","name":"buy","targetingKey":"u","value":1,"value":2.5}`, "value", "more than once"},
		{"type given twice", `{"type":"tracking","name":"buy","targetingKey":"u","type":"exposure"}`, "type", "more than once"},
		{"long key", `{"type":"tracking","name":"buy","targetingKey":"` + strings.Repeat("k", 300) + `"}`, "targetingKey", "longer than 256"},
		// PostgreSQL's text refuses U+0000: both stores must refuse it alike.
		{"NUL in targeting key", `{"type":"tracking","name":"buy","targetingKey":"u\u0000"}`, "targetingKey", "NUL"},
		{"NUL in name", `{"type":"tracking","name":"b\u0000uy","targetingKey":"u"}`, "name", "NUL"},
		{"NUL in flag", `{"type":"exposure","flag":"\u0000","variant":"a","targetingKey":"u"}`, "flag", "NUL"},
		{"NUL in variant", `{"type":"exposure","flag":"f","variant":"a\u0000","targetingKey":"u"}`, "variant", "NUL"},
		{"NUL in id", `{"type":"tracking","id":"\u0000","name":"buy","targetingKey":"u"}`, "id", "NUL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, format := range []string{"array", "ndjson"} {
				body := "[" + good + "," + tt.event + "," + good + "]"
				if format == "ndjson" {
					body = good + "\n" + tt.event + "\n" + good + "\n"
				}
				b, err := Decode([]byte(body), now, Limits{})
				if err != nil {
					t.Fatalf("%s: Decode: %v", format, err)
				}
				if len(b.Events) != 2 || b.Index[0] != 0 || b.Index[1] != 2 {
					t.Errorf("%s: kept %d events at %v, want the two good ones at 0 and 2", format, len(b.Events), b.Index)
				}
				if len(b.Rejected) != 1 {
					t.Fatalf("%s: rejected %+v, want one", format, b.Rejected)
				}
				r := b.Rejected[0]
				if r.Index != 1 || r.Field != tt.field || !strings.Contains(r.Reason, tt.reason) || r.Status != StatusRejected {
					t.Errorf("%s: got %+v, want index 1, field %q, reason containing %q", format, r, tt.field, tt.reason)
				}
			}
		})
	}
}

func TestDecodeMalformedLinesAndBodies(t *testing.T) {
	b, err := Decode([]byte("{\"type\":\"tracking\",\"name\":\"a\",\"targetingKey\":\"u\"}\n{\"type\":\n\n{\"type\":\"tracking\",\"name\":\"a\",\"targetingKey\":\"u\"} x\n"), now, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if b.Received != 3 || len(b.Events) != 1 || len(b.Rejected) != 2 || !strings.Contains(b.Rejected[0].Reason, "malformed JSON") || b.Rejected[1].Index != 2 {
		t.Errorf("NDJSON with broken lines: %+v", b)
	}
	for _, body := range []string{"", "  ", "42", `[{"type":"tracking"`, `[{}] x`} {
		if _, err := Decode([]byte(body), now, Limits{}); err == nil {
			t.Errorf("Decode(%q) = nil error, want the body rejected", body)
		}
	}
}

func TestDecodeOversizedBatch(t *testing.T) {
	// A body over the cap is refused as a whole, before the events beyond
	// the cap are judged: an 8 MiB body of "1" lines once produced one
	// rejection entry per line and ran the server out of memory.
	ev := `{"type":"tracking","name":"a","targetingKey":"u"}`
	tests := []struct {
		name string
		body string
	}{
		{"array of 4 events", "[" + strings.Repeat(ev+",", 3) + ev + "]"},
		{"ndjson of 4 events", strings.Repeat(ev+"\n", 4)},
		{"ndjson of 4 lines that are no events", "{}\n" + strings.Repeat("1\n", 3)},
		{"ndjson of 200,000 lines that are no events", "{}\n" + strings.Repeat("1\n", 200_000)},
		{"array of 200,000 numbers", "[" + strings.Repeat("1,", 199_999) + "1]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Decode([]byte(tt.body), now, Limits{MaxEvents: 3})
			if valueloop.ErrorCode(err) != valueloop.ETOOLARGE || !strings.Contains(err.Error(), "at most 3 events") {
				t.Fatalf("Decode = %v, %v; want a too_large error naming the cap", b, err)
			}
		})
	}
	for _, body := range []string{"[" + strings.Repeat(ev+",", 2) + ev + "]", strings.Repeat(ev+"\n\n", 3)} {
		b, err := Decode([]byte(body), now, Limits{MaxEvents: 3})
		if err != nil || len(b.Events) != 3 || len(b.Rejected) != 0 {
			t.Errorf("Decode of 3 events with a cap of 3 = %+v, %v; want 3 events", b, err)
		}
	}
}

func TestDecodeAgreesWithEncodingJSON(t *testing.T) {
	body := `[{"type":"tracking","id":"a\u00e9\n\"q\"","name":"b\ud83d\ude00","targetingKey":"u\/1","value":-12.3456789,"time":"2026-05-01T00:00:00.123456Z","attributes":{"k":[1,{"x":null}]}}]`
	b, err := Decode([]byte(body), now, Limits{})
	if err != nil || len(b.Events) != 1 {
		t.Fatalf("Decode: %+v, %v", b, err)
	}
	var want []struct {
		ID, Name, TargetingKey string
		Attributes             json.RawMessage
	}
	if err := json.Unmarshal([]byte(body), &want); err != nil {
		t.Fatal(err)
	}
	ev := b.Events[0]
	if ev.ID != want[0].ID || ev.Name != want[0].Name || ev.TargetingKey != want[0].TargetingKey || string(ev.Attributes) != string(want[0].Attributes) {
		t.Errorf("got %q %q %q %s, want %q %q %q %s", ev.ID, ev.Name, ev.TargetingKey, ev.Attributes, want[0].ID, want[0].Name, want[0].TargetingKey, want[0].Attributes)
	}
	if ev.Value != -12345679 || ev.Time != time.Date(2026, 5, 1, 0, 0, 0, 123e6, time.UTC).UnixMilli() || !ev.TimeSet {
		t.Errorf("value %d time %d", ev.Value, ev.Time)
	}
}

// TestDecodeReason: only the reasons that say the split did not draw the
// variant mark an exposure outside it; TARGETING_MATCH (a fractional split
// of flagd answers it), SPLIT, other strings, null and none count as in.
func TestDecodeReason(t *testing.T) {
	for _, tc := range []struct {
		reason  string // JSON, "" for none
		outside bool
	}{
		{"", false}, {`null`, false}, {`"SPLIT"`, false}, {`"TARGETING_MATCH"`, false}, {`"CACHED"`, false}, {`"my-own"`, false},
		{`"DEFAULT"`, true}, {`"STATIC"`, true}, {`"DISABLED"`, true},
		// split, when given, says it outright, whatever the reason.
		{`"TARGETING_MATCH","split":false`, true}, {`"SPLIT","split":false`, true}, {`"DEFAULT","split":true`, false},
		{`"TARGETING_MATCH","split":null`, false}, {`null,"split":false`, true},
	} {
		t.Run(tc.reason, func(t *testing.T) {
			ev := `{"type":"exposure","flag":"f","variant":"a","targetingKey":"u"`
			if tc.reason != "" {
				ev += `,"reason":` + tc.reason
			}
			b, err := Decode([]byte("["+ev+"}]"), now, Limits{})
			if err != nil || len(b.Events) != 1 {
				t.Fatalf("Decode: %+v, %v", b, err)
			}
			if got := b.Events[0].OutsideSplit; got != tc.outside {
				t.Errorf("OutsideSplit = %v, want %v", got, tc.outside)
			}
		})
	}
}

func TestLogRoundTrip(t *testing.T) {
	in := []Event{
		{Type: Exposure, ID: "x", Flag: "f", Variant: "a", TargetingKey: "u", Time: 5, TimeSet: true},
		{Type: Exposure, Flag: "f", Variant: "b", TargetingKey: "w", Time: 4, OutsideSplit: true},
		{Type: Tracking, Name: "n", TargetingKey: "v", Time: 3, Value: -7, HasValue: true, Attributes: []byte(`{"a":1}`)},
	}
	rec := EncodeLog(in)
	if rec.MinTime != 3 || rec.MaxTime != 5 || rec.Count != 3 {
		t.Errorf("record bounds %+v", rec)
	}
	var out []Event
	if err := DecodeLog(rec.Data, func(e *Event) error { out = append(out, *e); return nil }); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(out) != fmt.Sprint(in) {
		t.Errorf("round trip:\n got %+v\nwant %+v", out, in)
	}
	if err := DecodeLog(rec.Data[:len(rec.Data)-3], func(*Event) error { return nil }); err == nil {
		t.Error("truncated record decoded without error")
	}
	if err := DecodeLog(append(bytes.Clone(rec.Data), 0), func(*Event) error { return nil }); err == nil {
		t.Error("record with a byte after its last event decoded without error")
	}
}

// TestEncodeLogAllocatesOnce: a record is encoded in one allocation of
// no more than it needs, whatever its events carry. Upload events whose
// attributes hold kilobytes each (an event upload may fill max-event-body
// with them) grew the buffer by doubling: 88 MB allocated for a 17 MB
// upload.
func TestEncodeLogAllocatesOnce(t *testing.T) {
	attrs := []byte(`{"k":"` + strings.Repeat("x", 4000) + `"}`)
	in := make([]Event, 500)
	for i := range in {
		in[i] = Event{Type: Tracking, Name: "purchase", TargetingKey: "user-" + strconv.Itoa(i), Time: int64(i), Value: 1, HasValue: true, Attributes: attrs}
	}
	in[0] = Event{Type: Exposure, ID: strings.Repeat("i", 256), Flag: "f", Variant: "v", TargetingKey: strings.Repeat("u", 256), Time: -1 << 62, TimeSet: true}
	var rec LogRecord
	if n := testing.AllocsPerRun(3, func() { rec = EncodeLog(in) }); n != 1 {
		t.Errorf("EncodeLog made %v allocations, want 1", n)
	}
	if c := cap(rec.Data); c > 2*len(rec.Data) {
		t.Errorf("record of %d bytes in a buffer of %d: want at most twice its size", len(rec.Data), c)
	}
	n := 0
	if err := DecodeLog(rec.Data, func(*Event) error { n++; return nil }); err != nil || n != len(in) {
		t.Errorf("decoded %d events, %v; want %d", n, err, len(in))
	}
}

func TestDedupKeyIsFNV1a(t *testing.T) {
	for _, id := range []string{"", "a", "order-1", "3f1c9a0b-ünï"} {
		h := fnv.New64a()
		h.Write([]byte(id))
		ev := Event{ID: id, Time: 7, TimeSet: true}
		if got, want := ev.Key(), (DedupKey{Time: 7, Hash: int64(h.Sum64())}); got != want {
			t.Errorf("Key(%q) = %+v, want %+v (stored keys must not change)", id, got, want)
		}
	}
}

// TestPublicDedupKeyIsSHA256 pins the key of an ID sent with a public
// client token: the first 8 bytes (big-endian) of SHA-256("public\x00"+ID).
// The store holds these keys as it holds the FNV ones, so a change would
// store a page's retry across it twice; and the key must differ from the
// same ID's server-side one (TestEventIDSpaces in httpapi).
func TestPublicDedupKeyIsSHA256(t *testing.T) {
	for _, id := range []string{"a", "order-1", "3f1c9a0b-ünï", "nul\x00inside", strings.Repeat("x", 300)} {
		sum := sha256.Sum256([]byte("public\x00" + id))
		ev := Event{ID: id, Public: true, Time: 7, TimeSet: true}
		if got, want := ev.Key(), (DedupKey{Time: 7, Hash: int64(binary.BigEndian.Uint64(sum[:8]))}); got != want {
			t.Errorf("Key(%.20q, public) = %+v, want %+v (stored keys must not change)", id, got, want)
		}
		server := Event{ID: id, Time: 7, TimeSet: true}
		if ev.Key() == server.Key() {
			t.Errorf("Key(%.20q) is the same for a public and a server-side sender", id)
		}
	}
}

// TestParseTime lists the times accepted and refused: RFC 3339 as
// time.Parse reads it, to the millisecond (finer digits truncated).
func TestParseTime(t *testing.T) {
	cases := []struct {
		in     string
		wantMs int64
		ok     bool
	}{
		{"2026-05-20T10:11:12Z", 1779271872000, true},
		{"2026-05-20T10:11:12.1Z", 1779271872100, true},
		{"2026-05-20T10:11:12.123Z", 1779271872123, true},
		{"2026-05-20T10:11:12.123456789Z", 1779271872123, true},
		{"2026-05-20T10:11:12.1234567890Z", 1779271872123, true},
		{"2026-05-20T10:11:12.9999Z", 1779271872999, true},
		{"2024-02-29T23:59:59.999+01:00", 1709247599999, true},
		{"2026-12-31T23:59:59-12:30", 1798806599000, true},
		{"2026-05-20T10:11:12+24:00", 1779185472000, true},
		{"1970-01-01T00:00:00Z", 0, true},
		{"1969-12-31T23:59:59.5Z", -500, true},
		{"2000-01-01T00:00:00+14:00", 946634400000, true},
		{"0000-01-01T00:00:00Z", -62167219200000, true},
		{"9999-12-31T23:59:59.999Z", 253402300799999, true},
		{"2023-02-29T00:00:00Z", 0, false},
		{"2026-13-01T00:00:00Z", 0, false},
		{"2026-04-31T00:00:00Z", 0, false},
		{"2026-05-20T24:00:00Z", 0, false},
		{"2026-05-20T10:60:00Z", 0, false},
		{"2026-05-20T10:11:60Z", 0, false},
		{"2026-05-20T10:11:12", 0, false},
		{"2026-05-20 10:11:12Z", 0, false},
		{"2026-05-20T10:11:12.Z", 0, false},
		{"2026-05-20T10:11:12+0100", 0, false},
		{"2026-05-20t10:11:12z", 0, false},
		{"2026-5-20T10:11:12Z", 0, false},
		{"2026-05-20T10:11:12.123ZZ", 0, false},
		{"yesterday", 0, false},
		{"", 0, false},
	}
	for _, c := range cases {
		got, ok := parseTime([]byte(c.in))
		if ok != c.ok || got != c.wantMs {
			t.Errorf("parseTime(%q) = %d, %v; want %d, %v", c.in, got, ok, c.wantMs, c.ok)
		}
	}
	// Times written by time.Format in the three usual layouts read back to
	// the millisecond they hold.
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		tm := time.Unix(r.Int64N(5e9)-1e9, r.Int64N(1e9)).In(time.FixedZone("", (r.IntN(48)-24)*1800))
		layout, want := time.RFC3339Nano, tm.UnixMilli()
		switch r.IntN(3) {
		case 1:
			layout, want = time.RFC3339, tm.Unix()*1000
		case 2:
			layout = "2006-01-02T15:04:05.000Z07:00"
		}
		s := tm.Format(layout)
		if got, ok := parseTime([]byte(s)); !ok || got != want {
			t.Errorf("parseTime(%q) = %d, %v; want %d", s, got, ok, want)
		}
	}
}

// TestRejectedLongIDNotEchoed: a rejected event's outcome repeats its id
// only when the id is within MaxKeyBytes, so that the answer to a body of
// events with 32 KiB ids is not as large as the body. An id over the limit
// is left out (the index says which event it was); cut, it would name
// another id.
func TestRejectedLongIDNotEchoed(t *testing.T) {
	long := strings.Repeat("i", 20_000)
	ok := strings.Repeat("k", MaxKeyBytes)
	body := `{"type":"tracking","id":"` + long + `","name":"a","targetingKey":"u"}` + "\n" +
		`{"type":"tracking","id":"` + long + `","name":"a"}` + "\n" +
		`{"type":"tracking","id":"` + long + `","name":"a","targetingKey":"u","value":"x"}` + "\n" +
		`{"type":"tracking","id":"` + ok + `","name":"a"}` + "\n"
	b, err := Decode([]byte(body), now, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Rejected) != 4 {
		t.Fatalf("%d rejected, want 4: %+v", len(b.Rejected), b.Rejected)
	}
	for _, r := range b.Rejected[:3] {
		if r.ID != "" {
			t.Errorf("event %d (%s: %s): id of %d bytes repeated, want none over %d", r.Index, r.Field, r.Reason, len(r.ID), MaxKeyBytes)
		}
	}
	if b.Rejected[0].Field != "id" {
		t.Errorf("event 0 rejected for %q (%s), want for its id", b.Rejected[0].Field, b.Rejected[0].Reason)
	}
	if r := b.Rejected[3]; r.ID != ok {
		t.Errorf("event 3: id %q repeated, want its own id of %d bytes", r.ID, len(ok))
	}
}
