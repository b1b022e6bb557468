package gitlab

import "testing"

// TestForkSourceBranch: a merge request from a fork names its branch by
// the fork (its path in the webhook, its project ID in the REST list);
// one within the project keeps its plain branch.
func TestForkSourceBranch(t *testing.T) {
	ev, err := Parse("Merge Request Hook", "d", readFixture(t, "merge_request.merge.fork.json"), Config{})
	if err != nil || len(ev.Changes) != 1 || ev.Changes[0].Branch != "octo-fork/hello-world:feature" {
		t.Errorf("webhook: %+v, %v; want branch octo-fork/hello-world:feature", ev.Changes, err)
	}
	page := []byte(`[{"iid": 4, "state": "merged", "source_branch": "patch-1", "target_branch": "main", "source_project_id": 77, "target_project_id": 12,
		"merge_commit_sha": "78a76ee6b4992a6baf64c59fc4c44c7323d60438", "created_at": "2025-05-10T08:00:00Z", "merged_at": "2025-05-11T08:00:00Z"},
		{"iid": 5, "state": "merged", "source_branch": "patch-1", "target_branch": "main", "source_project_id": 12, "target_project_id": 12,
		"merge_commit_sha": "88a76ee6b4992a6baf64c59fc4c44c7323d60438", "created_at": "2025-05-10T08:00:00Z", "merged_at": "2025-05-11T08:00:00Z"}]`)
	cs, _, err := MergeRequestsPage(page, "acme/shop", "main")
	if err != nil || len(cs) != 2 || cs[0].Branch != "project 77:patch-1" || cs[1].Branch != "patch-1" {
		t.Errorf("REST list: %+v, %v; want branches project 77:patch-1 and patch-1", cs, err)
	}
}
