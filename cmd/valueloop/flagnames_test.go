package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCommandsNameFlags: commands that build the API's request from their
// flags name the flag the user typed when the server refuses a value, not
// the field of the request: deploy record said "deployments[0].status",
// delivery source add "secret" for --secret-file and "repos[1]" for the
// second --repo, feature move "stage" for --to, next "method". A
// repository no webhook can send is refused by delivery service set,
// change record, deploy record and incident open as by source add, each
// naming --repo: the first three stored it. (--status, --kind, --to and
// --method take one of a list of words, refused before asking:
// TestEnumeratedFlagValues.)
func TestCommandsNameFlags(t *testing.T) {
	s := MustServe(t, "", "--demo")
	short := filepath.Join(t.TempDir(), "secret.txt")
	if err := os.WriteFile(short, []byte("too-short\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args      []string
		want, not string
	}{
		{[]string{"change", "record", "--service", "checkout", "--sha", "zz"}, `--sha: want a commit SHA`, "valueloop: sha:"},
		{[]string{"delivery", "source", "add", "acme-pd", "--kind", "pagerduty", "--secret-file", short}, "--secret-file: must be at least 16 characters", "valueloop: secret:"},
		{[]string{"delivery", "source", "add", "acme", "--kind", "github", "--repo", "acme/shop", "--repo", "bad repo"}, `--repo bad repo: "bad repo" names no repository`, "repos["},
		{[]string{"delivery", "service", "set", "shop", "--repo", "acme/shop", "--repo", "nope"}, `--repo nope: "nope" names no owner: want "owner/name"`, "sources["},
		{[]string{"delivery", "service", "set", "shop", "--repo", "acme/shop :app"}, `--repo acme/shop :app: "acme/shop " is not a repository name`, "sources["},
		{[]string{"change", "record", "--repo", "bad", "--sha", "4c1e9a0"}, `--repo: "bad" names no owner`, "changes["},
		{[]string{"deploy", "record", "--service", "checkout", "--repo", "acme/*", "--env", "production", "--sha", "4c1e9a0", "--status", "success"}, `--repo: "acme/*" is a pattern`, "deployments["},
		{[]string{"incident", "open", "--service", "checkout", "--repo", "acme", "--title", "down"}, `--repo: "acme" names no owner`, "incidents["},
		{[]string{"feature", "list", "--stage", "ideas"}, `--stage: no stage "ideas"`, "valueloop: stage:"},
		{[]string{"feature", "list", "--objective", "activaton"}, `--objective: there is no objective "activaton"`, "valueloop: objective:"},
		{[]string{"flow", "--objective", "nope"}, `--objective: there is no objective "nope"`, "valueloop: objective:"},
	} {
		code, _, errOut := s.cli(t, s.Admin, tc.args...)
		if code != exitInvalid || !strings.Contains(errOut, tc.want) || strings.Contains(errOut, tc.not) {
			t.Errorf("valueloop %s: exit %d, %q; want %d with %q, without %q", strings.Join(tc.args, " "), code, errOut, exitInvalid, tc.want, tc.not)
		}
	}
}
