package provider

import (
	"reflect"
	"testing"
	"time"
)

func TestQueueExposures(t *testing.T) {
	clock := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	q := newQueue(3, 10, func() time.Time { return clock })
	steps := []struct {
		name    string
		do      func()
		queued  int
		dropped uint64
	}{
		{"first exposure", func() { q.expose("f", "a", "u1", "") }, 1, 0},
		{"same again: nothing", func() { q.expose("f", "a", "u1", ""); q.expose("f", "a", "u1", "") }, 1, 0},
		{"other flag or user", func() { q.expose("g", "a", "u1", ""); q.expose("f", "a", "u2", "") }, 3, 0},
		{"queue full: dropped and counted", func() { q.expose("f", "a", "u3", ""); q.expose("f", "a", "u4", "") }, 3, 2},
		{"full and seen: no recount", func() { q.expose("f", "a", "u3", "") }, 3, 2},
		{"after sending, in the same interval: nothing", func() { q.remove(3, tally{sent: 3}); q.expose("f", "a", "u1", "") }, 0, 2},
		{"another variant: reported", func() { q.expose("f", "b", "u1", "") }, 1, 2},
		{"new interval: reported again", func() { q.newInterval(); q.expose("g", "a", "u1", "") }, 2, 2},
	}
	for _, s := range steps {
		s.do()
		queued, _, dropped, _ := q.counts()
		if queued != s.queued || dropped != s.dropped {
			t.Fatalf("%s: queued %d, dropped %d; want %d, %d", s.name, queued, dropped, s.queued, s.dropped)
		}
	}
	want := []event{
		{Type: typeExposure, Time: clock, TargetingKey: "u1", Flag: "f", Variant: "b", Split: &outsideSplit},
		{Type: typeExposure, Time: clock, TargetingKey: "u1", Flag: "g", Variant: "a", Split: &outsideSplit},
	}
	if got := q.peek(10); !reflect.DeepEqual(got, want) {
		t.Errorf("queued %+v,\nwant %+v", got, want)
	}
}

func TestQueueWakesOnFullBatch(t *testing.T) {
	q := newQueue(100, 2, time.Now)
	q.push(event{Name: "a"})
	select {
	case <-q.wake:
		t.Fatal("woken before a batch was full")
	default:
	}
	q.push(event{Name: "b"})
	select {
	case <-q.wake:
	default:
		t.Fatal("not woken with a full batch")
	}
}
