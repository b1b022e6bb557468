package httpstatus

import (
	"net/http"
	"testing"

	"github.com/valueloop/valueloop"
)

// Every error kind has its own status and comes back from it; EINTERNAL and
// unknown kinds and statuses are 500 and EINTERNAL.
func TestRoundTrip(t *testing.T) {
	seen := map[int]string{}
	for _, k := range kinds {
		if other, ok := seen[k.status]; ok {
			t.Errorf("%s and %s share status %d: Code cannot tell them apart", other, k.code, k.status)
		}
		seen[k.status] = k.code
		if got := Code(Of(k.code)); got != k.code {
			t.Errorf("Code(Of(%s)) = %s", k.code, got)
		}
	}
	if got := Of(valueloop.EINTERNAL); got != http.StatusInternalServerError {
		t.Errorf("Of(EINTERNAL) = %d, want 500", got)
	}
	if got := Of("no-such-kind"); got != http.StatusInternalServerError {
		t.Errorf("Of(unknown) = %d, want 500", got)
	}
	if got := Code(http.StatusBadGateway); got != valueloop.EINTERNAL {
		t.Errorf("Code(502) = %s, want EINTERNAL", got)
	}
	if got := Of(valueloop.ETOOMANY); got != http.StatusTooManyRequests {
		t.Errorf("Of(ETOOMANY) = %d, want 429", got)
	}
}
