package valueloop_test

import (
	"os/exec"
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
		"dora", "flagplan", "forge", "github", "gitlab", "delivery", "verdicts", "termchart", "jsondiff", "cluster", "auth", "value", "features"}
	forbidden := func(p string) bool {
		return p == "net" || p == "net/http" || strings.HasPrefix(p, "net/http/") ||
			p == "database/sql" || strings.HasPrefix(p, "database/sql/")
	}
	roots := make([]string, len(pure))
	for i, rel := range pure {
		roots[i] = path.Join(module, rel)
	}
	imports := importGraph(t, roots)
	for _, root := range roots {
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
				for _, imp := range imports[p] {
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

// importGraph lists, in one `go list` (go/build's Import runs one per
// package in module mode: minutes on a loaded machine), every package the
// roots reach and its non-test imports.
func importGraph(t *testing.T, roots []string) map[string][]string {
	t.Helper()
	args := append([]string{"list", "-deps", "-f", "{{.ImportPath}}{{range .Imports}} {{.}}{{end}}"}, roots...)
	out, err := exec.Command("go", args...).Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	graph := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		graph[fields[0]] = fields[1:]
	}
	return graph
}
