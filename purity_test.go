package valueloop_test

import (
	"go/build"
	"path"
	"strings"
	"testing"
)

// TestPurePackagesDoNoIO asserts the rule that keeps the domain and the
// capabilities testable without a network or a database: these packages,
// and everything they import, reach neither HTTP nor database/sql. Adapters
// (sqlite, postgres, httpapi, ofrep, provider, webhook, client) are where
// I/O lives.
func TestPurePackagesDoNoIO(t *testing.T) {
	const module = "github.com/valueloop/valueloop"
	pure := []string{"", "flagd", "evaluation", "flags", "stats", "metric", "experiment", "rollout", "ingest",
		"dora", "flagplan", "github", "gitlab", "delivery", "verdicts", "termchart", "jsondiff", "cluster", "auth", "value", "features"}
	forbidden := func(p string) bool {
		return p == "net" || p == "net/http" || strings.HasPrefix(p, "net/http/") ||
			p == "database/sql" || strings.HasPrefix(p, "database/sql/")
	}
	for _, rel := range pure {
		root := path.Join(module, rel)
		t.Run(root, func(t *testing.T) {
			seen := map[string]bool{}
			var walk func(p string, chain []string)
			walk = func(p string, chain []string) {
				if seen[p] {
					return
				}
				seen[p] = true
				if forbidden(p) {
					t.Errorf("imports %s via %s", p, strings.Join(chain, " → "))
					return
				}
				pkg, err := build.Import(p, ".", 0)
				if err != nil {
					t.Fatalf("%s: %v", p, err)
				}
				for _, imp := range pkg.Imports {
					walk(imp, append(chain, imp))
				}
			}
			walk(root, []string{root})
			if len(seen) < 2 {
				t.Errorf("walked only %d packages: the walk is broken", len(seen))
			}
		})
	}
}
