package github

import (
	"path/filepath"
	"testing"

	"github.com/valueloop/valueloop/forge/forgetest"
)

// FuzzGitHub feeds the parser arbitrary bodies under every event type. It
// must never panic; it either fails with an EINVALID error naming a field or
// returns records the delivery package accepts. The committed fixtures are
// the seed corpus.
func FuzzGitHub(f *testing.F) {
	forgetest.Seed(f, filepath.Join("testdata", "*.json"), func(file string, body []byte) {
		f.Add(eventType(file), body)
	})
	f.Add("push", []byte(`{"ref":"refs/heads/main","repository":{"full_name":"o/r","default_branch":"main","pushed_at":99999999999},"commits":[{"id":"a","timestamp":"2025-01-01T00:00:00Z"}]}`))
	f.Add("issues", []byte(`{"action":"closed","repository":{"full_name":"o/r"},"issue":{"id":1,"state":"closed","labels":[{"name":"incident"}],"created_at":"2025-01-02T00:00:00Z","closed_at":"2025-01-01T00:00:00Z"}}`))
	f.Fuzz(func(t *testing.T, event string, body []byte) {
		ev, err := Parse(event, "fuzz", body, testConfig)
		forgetest.CheckFuzzed(t, ev, err, true)
	})
}
