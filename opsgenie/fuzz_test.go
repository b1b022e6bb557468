package opsgenie

import (
	"path/filepath"
	"testing"

	"github.com/valueloop/valueloop"
)

// FuzzParse feeds the parser arbitrary bodies. It must never panic; it
// either fails with an EINVALID error naming a field, or ignores the
// delivery with a reason, or returns one incident that the store accepts
// (dora.Incident.Validate), identified by a delivery ID. The committed
// fixtures and testdata/fuzz/FuzzParse are the seed corpus.
func FuzzParse(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil || len(files) == 0 {
		f.Fatal("no fixtures in testdata")
	}
	for _, file := range files {
		f.Add(fixture(f, filepath.Base(file)), "")
	}
	f.Fuzz(func(t *testing.T, body []byte, tag string) {
		ev, err := Parse(body, Config{IncidentTag: tag})
		if err != nil {
			e, ok := err.(*valueloop.Error)
			if !ok || e.Code != valueloop.EINVALID || e.Field == "" {
				t.Fatalf("error %v: want an EINVALID *valueloop.Error naming a field", err)
			}
			return
		}
		switch {
		case ev.Ignored != "" && len(ev.Incidents) != 0:
			t.Fatalf("ignored (%s) with records: %+v", ev.Ignored, ev)
		case ev.Ignored == "" && len(ev.Incidents) != 1:
			t.Fatalf("want one incident: %+v", ev)
		case ev.Ignored == "" && ev.DeliveryID == "":
			t.Fatalf("an incident without a delivery ID: %+v", ev)
		}
		for i := range ev.Incidents {
			if err := ev.Incidents[i].Validate(); err != nil {
				t.Fatalf("incident the store would refuse: %v: %+v", err, ev.Incidents[i])
			}
		}
	})
}
