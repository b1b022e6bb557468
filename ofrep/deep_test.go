package ofrep

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestDeepBodyBlamesWhatIsDeep: nesting beyond maxDepth is refused
// wherever it is, but only nesting within the context is the context's
// fault (INVALID_CONTEXT). A member the evaluation ignores nested as deep
// was answered "context nested more than 200 levels deep" of a context
// one level deep.
func TestDeepBodyBlamesWhatIsDeep(t *testing.T) {
	deep := strings.Repeat("[", 300) + strings.Repeat("]", 300)
	for _, tc := range []struct {
		name, body, code, details string
	}{
		{"in the context", `{"context":{"targetingKey":"u","a":` + deep + `}}`, "INVALID_CONTEXT", "context nested more than 200 levels deep"},
		{"beside the context", `{"other":` + deep + `,"context":{"targetingKey":"u"}}`, "GENERAL", "request body nested more than 200 levels deep"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc := getScratch()
			defer sc.put()
			r := httptest.NewRequest(http.MethodPost, "/ofrep/v1/evaluate/flags", strings.NewReader(tc.body))
			_, status, code, details, err := readContext(r, sc)
			if err != nil || status != http.StatusBadRequest || code != tc.code || details != tc.details {
				t.Errorf("readContext = %d %s %q, %v; want 400 %s %q", status, code, details, err, tc.code, tc.details)
			}
		})
	}
}
