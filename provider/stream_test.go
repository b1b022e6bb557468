package provider

import (
	"bufio"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestSSEReader(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  []sseEvent
	}{
		{"one event", "id: 7\nevent: flags\ndata: {}\n\n", []sseEvent{{id: "7", typ: "flags", data: []byte("{}")}}},
		{"data lines joined with newline", "event: flags\ndata: {\ndata:   \"a\": 1\ndata: }\n\n",
			[]sseEvent{{typ: "flags", data: []byte("{\n  \"a\": 1\n}")}}},
		{"CRLF and no space after colon", "id:3\r\nevent:flags\r\ndata:x\r\n\r\n", []sseEvent{{id: "3", typ: "flags", data: []byte("x")}}},
		{"comments and heartbeats are skipped", ": heartbeat\n\n: hi\nevent: flags\ndata: a\n\n: heartbeat\n\n",
			[]sseEvent{{typ: "flags", data: []byte("a")}}},
		{"id carries over to later events", "id: 1\nevent: flags\ndata: a\n\nevent: flags\ndata: b\n\n",
			[]sseEvent{{id: "1", typ: "flags", data: []byte("a")}, {id: "1", typ: "flags", data: []byte("b")}}},
		{"event without data is not dispatched", "id: 2\nevent: flags\n\nevent: flags\ndata: c\n\n",
			[]sseEvent{{id: "2", typ: "flags", data: []byte("c")}}},
		{"missing type is message", "data: d\n\n", []sseEvent{{typ: "message", data: []byte("d")}}},
		{"empty data field", "event: flags\ndata\n\n", []sseEvent{{typ: "flags", data: []byte("")}}},
		{"unknown fields and retry ignored", "retry: 10\nfoo: bar\nevent: flags\ndata: e\n\n",
			[]sseEvent{{typ: "flags", data: []byte("e")}}},
		{"event cut short by EOF is discarded", "event: flags\ndata: a\n\nevent: flags\ndata: partial\n",
			[]sseEvent{{typ: "flags", data: []byte("a")}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lines := 0
			// A small buffer makes long lines arrive in pieces.
			r := &sseReader{br: bufio.NewReaderSize(strings.NewReader(tt.input), 16), onLine: func() { lines++ }}
			var got []sseEvent
			for {
				ev, err := r.next()
				if errors.Is(err, io.EOF) {
					break
				} else if err != nil {
					t.Fatal(err)
				}
				got = append(got, ev)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q,\nwant %q", got, tt.want)
			}
			if want := strings.Count(tt.input, "\n"); lines != want {
				t.Errorf("onLine called %d times, want %d", lines, want)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	min, max := 100*time.Millisecond, 2*time.Second
	tests := []struct {
		failures int
		lo, hi   time.Duration
	}{
		{0, 50 * time.Millisecond, 100 * time.Millisecond},
		{1, 100 * time.Millisecond, 200 * time.Millisecond},
		{3, 400 * time.Millisecond, 800 * time.Millisecond},
		{5, time.Second, 2 * time.Second}, // 3.2s capped
		{63, time.Second, 2 * time.Second},
		{1000, time.Second, 2 * time.Second},
	}
	for _, tt := range tests {
		for range 100 {
			if got := backoff(min, max, tt.failures); got < tt.lo || got > tt.hi {
				t.Fatalf("backoff(%s, %s, %d) = %s, want within [%s, %s]", min, max, tt.failures, got, tt.lo, tt.hi)
			}
		}
	}
}
