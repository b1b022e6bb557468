package delivery_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/valueloop/valueloop/delivery"
)

// TestCommitWithManyPaths: a commit that adds a vendored tree lists its
// 100,000 paths in the push event; pushed to a branch, then to the
// default branch, it is two records of one commit. Both are read, stored
// and merged with every path once. Before the fix each path was looked
// for in the paths before it, when reading each push and again when the
// timeline merged the two records: 38 s of CPU per step here (the test
// ran past a 60 s -timeout), hours for the 25 MB a webhook may send.
func TestCommitWithManyPaths(t *testing.T) {
	ctx := t.Context()
	s, db, c := mustService(t)
	const sha = "0a0b0c0d0e0f00010203040506070809aabbccdd"
	var added strings.Builder
	for i := range 100_000 {
		if i > 0 {
			added.WriteByte(',')
		}
		fmt.Fprintf(&added, `"vendor/pkg%06d/file.go"`, i)
	}
	at := c.t.Add(-time.Hour).Format(time.RFC3339)
	push := func(branch string) []byte {
		return []byte(`{"ref": "refs/heads/` + branch + `", "after": "` + sha + `", "deleted": false,
			"repository": {"full_name": "acme-shop/vendor", "default_branch": "main", "pushed_at": "` + at + `"},
			"commits": [{"id": "` + sha + `", "timestamp": "` + at + `",
				"added": [` + added.String() + `], "modified": ["vendor/pkg000000/file.go"], "removed": []}]}`)
	}
	for i, branch := range []string{"vendor-update", "main"} {
		r, err := s.Receive(ctx, delivery.KindGitHub, ghHook(push(branch), "push", fmt.Sprint("m-", i)))
		if err != nil || r.Changes != 1 {
			t.Fatalf("push to %s: %+v, %v", branch, r, err)
		}
	}
	data, _, err := db.DeliveryData(ctx)
	if err != nil || len(data.Changes) != 2 || len(data.Changes[0].Paths) != 100_000 {
		t.Fatalf("stored %d changes, %v", len(data.Changes), err)
	}
	dep := c.t.Add(-time.Minute)
	if _, _, err := s.RecordDeployment(ctx, delivery.DeploymentInput{Service: "acme-shop/vendor", Repo: "acme-shop/vendor", Environment: "prod-eu", SHA: sha, Status: "success", At: &dep}, ""); err != nil {
		t.Fatal(err)
	}
	facts, err := s.Deployments(ctx, "acme-shop/vendor", dep.Add(-time.Hour), dep.Add(time.Hour))
	if err != nil || len(facts) != 1 || len(facts[0].Changes) != 1 || len(facts[0].Changes[0].Paths) != 100_000 {
		t.Errorf("deployments: %d, %v; want one deployment of the change with its 100000 paths", len(facts), err)
	}
}
