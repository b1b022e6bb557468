package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/valueloop/valueloop/backfill"
	"github.com/valueloop/valueloop/sqlite"
)

// gitRepo builds a repository with a pull request merged and tagged v1.0,
// and a commit made on main after it.
func gitRepo(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	dir := t.TempDir()
	run := func(at string, args ...string) {
		cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=T", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_DATE="+at, "GIT_COMMITTER_DATE="+at, "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_SYSTEM=/dev/null")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	commit := func(at, file string) {
		if err := os.WriteFile(filepath.Join(dir, file), []byte(file), 0o644); err != nil {
			t.Fatal(err)
		}
		run(at, "add", file)
		run(at, "commit", "-q", "-m", "add "+file)
	}
	run("2026-03-01T09:00:00Z", "init", "-q", "-b", "main")
	commit("2026-03-01T09:00:00Z", "README")
	run("2026-03-02T09:00:00Z", "checkout", "-q", "-b", "feature")
	commit("2026-03-02T10:00:00Z", "a.go")
	run("2026-03-02T12:00:00Z", "checkout", "-q", "main")
	run("2026-03-02T12:00:00Z", "merge", "-q", "--no-ff", "feature", "-m", "Merge pull request #3 from acme/feature")
	run("2026-03-02T14:00:00Z", "tag", "-a", "v1.0", "-m", "release 1.0") // annotated: a lightweight tag has its commit's date
	commit("2026-03-03T09:00:00Z", "b.go")
	return dir
}

// TestDeliveryImportGit: importing a repository into a running server's
// data directory stores its changes and tags, the server's dora report
// shows them, and a second import stores nothing.
func TestDeliveryImportGit(t *testing.T) {
	repo := gitRepo(t)
	srv := MustServe(t, "")
	args := []string{"delivery", "import", "git", repo, "--repo", "acme/shop", "--tags", "v*", "--data", srv.DataDir}
	code, stdout, stderr := offline(t, nil, args...)
	if code != exitOK || !strings.Contains(stdout, "Imported acme/shop: 5 records read, 5 new stored (4 changes, 0 reviews, 1 deployment record, 0 incidents).\n") {
		t.Fatalf("import: exit %d\n%s%s", code, stdout, stderr)
	}
	code, stdout, stderr = offline(t, nil, args...)
	if code != exitOK || !strings.Contains(stdout, "5 records read, 0 new stored") {
		t.Errorf("second import: exit %d\n%s%s", code, stdout, stderr)
	}
	code, stdout, stderr = srv.cli(t, srv.Admin, "dora", "--from", "2026-03-01", "--to", "2026-03-05", "--bucket", "none")
	// The tag delivered the first commit, the merge and its commit (3
	// changes, lead times 29h, 4h, 2h), merged 2h before it (the first
	// commit 29h).
	if code != exitOK || !strings.Contains(stdout, "1 deployment") || !strings.Contains(stdout, "4h00m") || !strings.Contains(stdout, "3 changes, 1 not yet deployed") ||
		!regexp.MustCompile(`deploy \(→ production\) +2h00m`).MatchString(stdout) {
		t.Errorf("dora after the import: exit %d\n%s%s", code, stdout, stderr)
	}
}

// TestDeliveryImportGitHub: the token comes from the environment, goes to
// the --base-url host (GitHub Enterprise: /api/v3 added) in the
// Authorization header and nowhere else; the pull request and its review
// are stored.
func TestDeliveryImportGitHub(t *testing.T) {
	const token = "ghp_cli-test-token"
	pages := map[string]string{
		"/api/v3/repos/acme/shop": `{"full_name":"acme/shop","default_branch":"main"}`,
		"/api/v3/repos/acme/shop/pulls": `[{"number":3,"state":"closed","created_at":"2026-03-02T09:00:00Z","merged_at":"2026-03-02T12:00:00Z",` +
			`"merge_commit_sha":"e5bd3914e2e596debea16f433f57875b5b90bcd6","head":{"ref":"feature"},"base":{"ref":"main"}}]`,
		"/api/v3/repos/acme/shop/pulls/3/reviews": `[{"id":1,"state":"APPROVED","submitted_at":"2026-03-02T10:00:00Z"}]`,
		"/api/v3/repos/acme/shop/deployments":     `[]`,
		"/api/v3/repos/acme/shop/issues":          `[]`,
	}
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := pages[r.URL.Path]
		if !ok || r.Header.Get("Authorization") != "Bearer "+token {
			t.Errorf("%s with Authorization %q", r.URL, r.Header.Get("Authorization"))
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(body))
	}))
	defer api.Close()
	data := t.TempDir()
	db := sqlite.NewDB(filepath.Join(data, "valueloop.db"))
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	db.Close()
	code, stdout, stderr := offline(t, map[string]string{"GITHUB_TOKEN": token},
		"delivery", "import", "github", "acme/shop", "--base-url", api.URL, "--data", data, "--output", "json")
	if code != exitOK || !strings.Contains(stdout, `"changes": 1`) || !strings.Contains(stdout, `"reviews": 1`) || !strings.Contains(stdout, `"complete": true`) {
		t.Fatalf("import: exit %d\n%s%s", code, stdout, stderr)
	}
	if strings.Contains(stdout+stderr, token) {
		t.Errorf("the token was printed:\n%s%s", stdout, stderr)
	}
}

// TestDeliveryImportRepoChecked: the repository of an import is checked as
// the records' repository is (dora.CheckRepo), before the repository is
// read or a forge asked: git's --repo named as the flag, a forge's as the
// repository argument, and nothing stored. A git import stored "shop" in
// every record, matching no webhook; a forge import put "acme/sh op" into
// its URLs.
func TestDeliveryImportRepoChecked(t *testing.T) {
	repo := gitRepo(t)
	srv := MustServe(t, "")
	code, stdout, stderr := offline(t, nil, "delivery", "import", "git", repo, "--repo", "shop", "--data", srv.DataDir)
	if code != exitInvalid || !strings.Contains(stderr, `--repo: "shop" names no owner: want "owner/name"`) {
		t.Errorf("import git --repo shop: exit %d\n%s%s; want %d naming --repo", code, stdout, stderr, exitInvalid)
	}
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the import asked the forge for %s", r.URL)
		http.NotFound(w, r)
	}))
	defer api.Close()
	code, stdout, stderr = offline(t, map[string]string{"GITLAB_TOKEN": "glpat-cli-test-token"},
		"delivery", "import", "gitlab", "acme/sh op", "--base-url", api.URL, "--data", srv.DataDir)
	if code != exitInvalid || !strings.Contains(stderr, `repository: "acme/sh op" is not a repository name`) {
		t.Errorf("import gitlab 'acme/sh op': exit %d\n%s%s; want %d naming the repository", code, stdout, stderr, exitInvalid)
	}
	if code, stdout, stderr := srv.cli(t, srv.Admin, "delivery", "record", "list", "changes", "--output", "json"); code != exitOK || strings.Contains(stdout, `"repo"`) {
		t.Errorf("changes after refused imports: exit %d\n%s%s; want none", code, stdout, stderr)
	}
}

// TestDeliveryImportUnresolvableHost: a --base-url whose host does not
// resolve fails at once, naming the host and --base-url, without waiting
// out the retries (62 s of them before) that a 5xx or a dropped
// connection gets. .invalid never resolves (RFC 2606).
func TestDeliveryImportUnresolvableHost(t *testing.T) {
	data := t.TempDir()
	db := sqlite.NewDB(filepath.Join(data, "valueloop.db"))
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	db.Close()
	code, stdout, stderr := offline(t, map[string]string{"GITHUB_TOKEN": "ghp_cli-test-token"},
		"delivery", "import", "github", "acme/shop", "--base-url", "https://github.example.invalid", "--data", data)
	if code == exitOK || !strings.Contains(stderr, `host "github.example.invalid" does not resolve`) || !strings.Contains(stderr, "check --base-url") {
		t.Errorf("import from an unresolvable host: exit %d\n%s%s; want a failure naming the host and --base-url", code, stdout, stderr)
	}
	if strings.Contains(stderr, "waiting") {
		t.Errorf("the import waited to retry a name that does not resolve:\n%s", stderr)
	}
}

// TestImportSummaryNothingRead: an import that failed on its first request
// (a host that does not resolve, a refused token) read nothing; "Stopped
// half-way ... 0 records read" told a newcomer it had got somewhere.
func TestImportSummaryNothingRead(t *testing.T) {
	for _, c := range []struct {
		s        backfill.Summary
		complete bool
		want     string
	}{
		{backfill.Summary{Requests: 1}, false, "Stopped before anything was read from acme/shop (1 request); run the same command again once the error below is fixed.\n"},
		{backfill.Summary{Pages: 2, Requests: 3, Read: 150, Stored: 150, Changes: 150}, false, "Stopped half-way; run the same command again to resume. So far imported acme/shop: 150 records read, 150 new stored"},
		{backfill.Summary{Pages: 1, Requests: 1}, true, "Imported acme/shop: 0 records read, 0 new stored"},
	} {
		var out strings.Builder
		writeImportSummary(&cliEnv{stdout: &out}, "table", "acme/shop", c.s, c.complete)
		if !strings.HasPrefix(out.String(), c.want) {
			t.Errorf("%+v complete %v: %q, want it to start %q", c.s, c.complete, out.String(), c.want)
		}
	}
}
