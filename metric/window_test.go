package metric_test

import (
	"encoding/json"
	"testing"

	"github.com/valueloop/valueloop/metric"
)

// A metric's window is written as seconds and read as seconds or as the
// "7d"-style strings of definitions stored before durations became seconds.
func TestWindowJSON(t *testing.T) {
	for _, c := range []struct{ in, out string }{
		{`"7d"`, `604800`}, {`"90m"`, `5400`}, {`3600`, `3600`}, {`0.5`, `0.5`},
	} {
		var w metric.Window
		if err := json.Unmarshal([]byte(c.in), &w); err != nil {
			t.Errorf("unmarshal %s: %v", c.in, err)
			continue
		}
		if out, _ := json.Marshal(w); string(out) != c.out {
			t.Errorf("%s → %s, want %s", c.in, out, c.out)
		}
	}
	var w metric.Window
	if err := json.Unmarshal([]byte(`"soon"`), &w); err == nil {
		t.Error(`"soon": want an error`)
	}
}
