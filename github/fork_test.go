package github

import (
	"bytes"
	"testing"
)

// TestForkBranch: a pull request from a fork names its branch by the fork,
// so that it borrows no commits of a same-named branch of the base
// repository; one from the repository itself keeps its plain ref. The REST
// list reads the same fields. The fork payload is the captured
// pull_request.closed.merged.2.json with its head moved to a fork.
func TestForkBranch(t *testing.T) {
	fork := readFixture(t, "pull_request.closed.merged.fork.json")
	deleted := bytes.Replace(fork, []byte(`"full_name": "octo-fork/codinasion-bot-try"`), []byte(`"full_name": null`), 1)
	same := bytes.ReplaceAll(bytes.ReplaceAll(fork, []byte("octo-fork/codinasion-bot-try"), []byte("codinasion/codinasion-bot-try")),
		[]byte(`"label": "octo-fork:2"`), []byte(`"label": "codinasion:2"`))
	for _, c := range []struct {
		name string
		body []byte
		want string
	}{
		{"fork", fork, "octo-fork/codinasion-bot-try:2"},
		{"deleted fork", deleted, "octo-fork:2"},
		{"same repository", same, "2"},
	} {
		ev, err := Parse("pull_request", "d", c.body, testConfig)
		if err != nil || len(ev.Changes) != 1 || ev.Changes[0].Branch != c.want {
			t.Errorf("%s: %+v, %v; want branch %q", c.name, ev.Changes, err, c.want)
		}
	}
	page := []byte(`[{"number": 3, "merged_at": "2022-07-09T02:55:19Z", "created_at": "2022-07-09T02:19:53Z",
		"merge_commit_sha": "bcb954310e04baa5a7974eb201a433be35488351",
		"head": {"ref": "patch-1", "label": "octo-fork:patch-1", "repo": {"full_name": "octo-fork/shop"}},
		"base": {"ref": "main", "label": "acme:main", "repo": {"full_name": "acme/shop"}}}]`)
	cs, _, err := PullsPage(page, "acme/shop", "main")
	if err != nil || len(cs) != 1 || cs[0].Branch != "octo-fork/shop:patch-1" {
		t.Errorf("REST list: %+v, %v; want branch octo-fork/shop:patch-1", cs, err)
	}
}
