package httpapi

import "testing"

func TestExposureFilter(t *testing.T) {
	f := newExposureFilter(3)
	steps := []struct {
		env, flag, variant, key string
		want                    bool
	}{
		{"prod", "f", "on", "u1", true},
		{"prod", "f", "on", "u1", false}, // a repeat
		{"prod", "f", "off", "u1", true}, // another variant matters
		{"dev", "f", "on", "u1", true},   // another environment
		{"prod", "f", "on", "u2", true},  // the set is full: cleared, then u2 kept
		{"prod", "f", "on", "u1", true},  // forgotten by the clearing
		{"prod", "fo", "n", "u1", true},  // field boundaries count
		{"prod", "f", "on", "u1", false},
		{"prod", "f", "on", "u2", false},
	}
	for i, s := range steps {
		if got := f.first(s.env, s.flag, s.variant, s.key); got != s.want {
			t.Errorf("step %d %+v: first = %v, want %v", i, s, got, s.want)
		}
	}
}
