package rollout_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoIODependencies keeps the rollout logic pure: nothing it links may
// reach a database or the network (webhooks live in package webhook,
// storage in sqlite).
func TestNoIODependencies(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list dependencies: %v", err)
	}
	out, err := exec.Command(gobin, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 5 {
		t.Fatalf("go list -deps listed only %v", deps)
	}
	for _, d := range deps {
		for _, banned := range []string{"database/sql", "net/http", "net"} {
			if d == banned || strings.HasPrefix(d, banned+"/") {
				t.Errorf("rollout depends on %s", d)
			}
		}
	}
}
