package opsgenie

import (
	"path/filepath"
	"testing"

	"github.com/valueloop/valueloop/forge/forgetest"
)

// FuzzParse feeds the parser arbitrary bodies. It must never panic; it
// either fails with an EINVALID error naming a field, or ignores the
// delivery with a reason, or returns one incident that the store accepts
// (dora.Incident.Validate), identified by a delivery ID. The committed
// fixtures and testdata/fuzz/FuzzParse are the seed corpus.
func FuzzParse(f *testing.F) {
	forgetest.Seed(f, filepath.Join("testdata", "*.json"), func(_ string, body []byte) {
		f.Add(body, "")
	})
	f.Fuzz(func(t *testing.T, body []byte, tag string) {
		ev, err := Parse(body, Config{IncidentTag: tag})
		// The error's form, no records on an ignored delivery and every
		// incident valid are what every webhook reader promises.
		forgetest.CheckFuzzed(t, ev, err, true)
		if err != nil {
			return
		}
		switch {
		case ev.Ignored == "" && len(ev.Incidents) != 1:
			t.Fatalf("want one incident: %+v", ev)
		case ev.Ignored == "" && ev.DeliveryID == "":
			t.Fatalf("an incident without a delivery ID: %+v", ev)
		}
	})
}
