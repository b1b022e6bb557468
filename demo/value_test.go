package demo_test

import (
	"strings"
	"testing"

	"github.com/valueloop/valueloop/demo"
)

// TestValueHypothesesRead: a hypothesis is shown as one sentence, "We
// believe CHANGE for FOR will result in OUTCOME"; the dark theme's change
// named its audience too, and its page read "a dark theme for visitors who
// prefer it for evening visitors". A change that has a "for" beside it
// names no audience of its own.
func TestValueHypothesesRead(t *testing.T) {
	f, err := demo.ValueFile()
	if err != nil {
		t.Fatal(err)
	}
	for _, ft := range f.Features {
		if h := ft.Hypothesis; h.For != "" && strings.Contains(" "+h.Change+" ", " for ") {
			t.Errorf("%s: change %q and for %q say for twice", ft.Key, h.Change, h.For)
		}
	}
}
