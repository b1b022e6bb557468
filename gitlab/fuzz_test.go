package gitlab

import (
	"path/filepath"
	"testing"

	"github.com/valueloop/valueloop/forge/forgetest"
)

// FuzzGitLab feeds the parser arbitrary bodies under every hook name. It
// must never panic; it either fails with an EINVALID error naming a field or
// returns records the delivery package accepts. The committed fixtures are
// the seed corpus.
func FuzzGitLab(f *testing.F) {
	forgetest.Seed(f, filepath.Join("testdata", "*.json"), func(file string, body []byte) {
		f.Add(header(file), body)
		f.Add("", body)
	})
	f.Add("Issue Hook", []byte(`{"object_kind":"work_item","project":{"path_with_namespace":"o/r"},"object_attributes":{"id":1,"type":"Incident","state":"closed","created_at":"2025-05-12 14:00:00 UTC","closed_at":"2025-05-12 13:00:00 +0900"}}`))
	f.Fuzz(func(t *testing.T, hook string, body []byte) {
		ev, err := Parse(hook, "fuzz", body, testConfig)
		forgetest.CheckFuzzed(t, ev, err, true)
	})
}
