package metric

import (
	"errors"
	"testing"

	"github.com/valueloop/valueloop"
)

// TestNormalizeQuantile: what a quantile metric must say, and that the
// problems name the field.
func TestNormalizeQuantile(t *testing.T) {
	capv := 500.0
	for _, c := range []struct {
		name     string
		m        Metric
		path     string // "" when valid
		wantOver string
	}{
		{"over defaults to users", Metric{Kind: Quantile, Quantile: 0.99}, "", OverUser},
		{"over events", Metric{Kind: Quantile, Quantile: 0.99, Over: OverEvent}, "", OverEvent},
		{"over users capped", Metric{Kind: Quantile, Quantile: 0.5, Cap: &capv}, "", OverUser},
		{"over what", Metric{Kind: Quantile, Quantile: 0.99, Over: "session"}, "/over", ""},
		{"over events capped", Metric{Kind: Quantile, Quantile: 0.99, Over: OverEvent, Cap: &capv}, "/cap", ""},
		{"over on a mean", Metric{Kind: Mean, Over: OverEvent}, "/over", ""},
		{"no quantile", Metric{Kind: Quantile, Over: OverEvent}, "/quantile", ""},
		{"quantile on a sum", Metric{Kind: Sum, Quantile: 0.5}, "/quantile", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := c.m
			m.Key, m.Event = "latency", "load"
			err := m.Normalize()
			if c.path == "" {
				if err != nil {
					t.Fatal(err)
				}
				if m.Over != c.wantOver {
					t.Errorf("over = %q, want %q", m.Over, c.wantOver)
				}
				return
			}
			var ve *valueloop.ValidationError
			if !errors.As(err, &ve) || len(ve.Problems) != 1 || ve.Problems[0].Path != c.path {
				t.Fatalf("err = %v, want one problem at %s", err, c.path)
			}
			if p := ve.Problems[0]; p.Source != "metric latency" || p.Message == "" {
				t.Errorf("problem %+v: want it to name the metric and say what is wrong", p)
			}
		})
	}
}

// TestNormalizeText: a metric's name and description are printed in lists
// and results through every client: a control character (a line break or a
// tab only in the description) or a bidirectional one is refused naming
// the field. Both were stored unchecked, an override reordering the
// metrics list in the reader's terminal.
func TestNormalizeText(t *testing.T) {
	for _, c := range []struct {
		name, mname, desc, path string
	}{
		{"plain", "Checkout rate", "Share of users\nwho\tpay", ""},
		{"override in name", "rate \u202Etuokcehc", "", "/name"},
		{"isolate in description", "", "a \u2067b\u2069", "/description"},
		{"escape in name", "rate\x1b[2J", "", "/name"},
		{"line break in name", "two\nlines", "", "/name"},
		{"bell in description", "", "ding\x07", "/description"},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := Metric{Key: "k", Event: "e", Kind: Conversion, Name: c.mname, Description: c.desc}
			err := m.Normalize()
			var e *valueloop.ValidationError
			switch {
			case c.path == "" && err != nil:
				t.Errorf("refused: %v", err)
			case c.path != "" && (!errors.As(err, &e) || len(e.Problems) != 1 || e.Problems[0].Path != c.path):
				t.Errorf("got %v, want one problem at %s", err, c.path)
			}
		})
	}
}
