package valueloop_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/valueloop/valueloop"
)

func TestSecondsJSON(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		json string
	}{
		{18*time.Hour + 30*time.Minute, `66600`},
		{1500 * time.Millisecond, `1.5`},
		{0, `0`},
		{time.Nanosecond, `0.000000001`},
		{-2 * time.Second, `-2`},
	} {
		got, err := json.Marshal(valueloop.Seconds(c.d))
		if err != nil || string(got) != c.json {
			t.Errorf("marshal %v: got %s (%v), want %s", c.d, got, err, c.json)
		}
		var back valueloop.Seconds
		if err := json.Unmarshal([]byte(c.json), &back); err != nil || time.Duration(back) != c.d {
			t.Errorf("unmarshal %s: got %v (%v), want %v", c.json, time.Duration(back), err, c.d)
		}
	}
	for _, bad := range []string{`"90m"`, `true`, `1e300`} {
		var s valueloop.Seconds
		if err := json.Unmarshal([]byte(bad), &s); err == nil {
			t.Errorf("unmarshal %s: got %v, want an error", bad, time.Duration(s))
		}
	}
}
