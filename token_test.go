package valueloop_test

import (
	"testing"

	"github.com/valueloop/valueloop"
)

// TestRecordsExposures: only tokens that may change data record the
// exposures of their evaluations; a viewer's are previews.
func TestRecordsExposures(t *testing.T) {
	for _, c := range []struct {
		tok  valueloop.Token
		want bool
	}{
		{valueloop.Token{Scope: valueloop.ScopeEvaluate}, true},
		{valueloop.Token{Scope: valueloop.ScopeEvaluate, Client: true}, true},
		{valueloop.Token{Scope: valueloop.ScopeAdmin}, true},
		{valueloop.Token{Scope: valueloop.ScopeEvaluate, NoExposures: true}, false},
		{valueloop.Token{Scope: valueloop.ScopeViewer}, false},
		{valueloop.Token{Scope: valueloop.ScopeViewer, Environment: "production"}, false},
	} {
		if got := c.tok.RecordsExposures(); got != c.want {
			t.Errorf("%+v: RecordsExposures() = %v, want %v", c.tok, got, c.want)
		}
	}
}
