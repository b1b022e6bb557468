package git

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/valueloop/valueloop/dora"
)

// repo builds a repository in a temporary directory by running git with
// fixed dates, so the test asserts exact times.
type repo struct {
	t   testing.TB
	dir string
}

func newRepo(t testing.TB) *repo {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	r := &repo{t: t, dir: t.TempDir()}
	r.git("2026-03-01T09:00:00Z", "init", "-q", "-b", "main")
	return r
}

// git runs git with author and committer dates at.
func (r *repo) git(at string, args ...string) string {
	r.t.Helper()
	cmd := exec.Command("git", append([]string{"-C", r.dir, "-c", "user.name=T", "-c", "user.email=t@example.com",
		"-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false"}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_DATE="+at, "GIT_COMMITTER_DATE="+at, "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_SYSTEM=/dev/null")
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// commit writes file and commits it at at, returning the SHA.
func (r *repo) commit(at, file, msg string) string {
	r.t.Helper()
	if err := os.WriteFile(r.dir+"/"+file, []byte(msg+"\n"), 0o644); err != nil {
		r.t.Fatal(err)
	}
	r.git(at, "add", file)
	r.git(at, "commit", "-q", "-m", msg)
	return r.git(at, "rev-parse", "HEAD")
}

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

// TestRead: a direct commit, a pull request merged with a merge commit
// (its two commits land with it), a GitLab merge, tags as deployments and
// a release branch with a hotfix.
func TestRead(t *testing.T) {
	r := newRepo(t)
	root := r.commit("2026-03-01T09:00:00Z", "README", "initial")
	r.git("2026-03-02T09:00:00Z", "checkout", "-q", "-b", "feature")
	f1 := r.commit("2026-03-02T10:00:00Z", "a.go", "feature one")
	f2 := r.commit("2026-03-02T11:00:00Z", "b.go", "feature two")
	r.git("2026-03-03T09:00:00Z", "checkout", "-q", "main")
	direct := r.commit("2026-03-03T09:30:00Z", "c.go", "direct fix")
	r.git("2026-03-03T12:00:00Z", "merge", "-q", "--no-ff", "feature", "-m", "Merge pull request #12 from acme/feature")
	merge := r.git("2026-03-03T12:00:00Z", "rev-parse", "HEAD")
	r.git("2026-03-03T13:00:00Z", "tag", "-a", "v1.0.0", "-m", "release")
	r.git("2026-03-04T09:00:00Z", "checkout", "-q", "-b", "other")
	g1 := r.commit("2026-03-04T10:00:00Z", "d.go", "other work")
	r.git("2026-03-05T09:00:00Z", "checkout", "-q", "main")
	r.git("2026-03-05T12:00:00Z", "merge", "-q", "--no-ff", "other", "-m", "Merge branch 'other' into 'main'\n\nSee merge request acme/shop!7")
	merge2 := r.git("2026-03-05T12:00:00Z", "rev-parse", "HEAD")
	r.git("2026-03-05T13:00:00Z", "tag", "v1.1.0")
	r.git("2026-03-05T13:00:00Z", "tag", "nightly") // not matching v*
	r.git("2026-03-06T09:00:00Z", "checkout", "-q", "-b", "release/1.1")
	hot := r.commit("2026-03-06T10:00:00Z", "e.go", "hotfix")
	r.git("2026-03-06T11:00:00Z", "checkout", "-q", "main")

	ev, err := Git{}.Read(context.Background(), Options{Dir: r.dir, Repo: "acme/shop", Tags: "v*", ReleaseBranches: "release/*",
		Environment: "production", Production: true})
	if err != nil {
		t.Fatal(err)
	}
	want := []dora.Change{
		{Repo: "acme/shop", SHA: root, Branch: "main", Paths: []string{"README"}, AuthoredAt: ts("2026-03-01T09:00:00Z"), MergedAt: ts("2026-03-01T09:00:00Z")},
		{Repo: "acme/shop", SHA: direct, Branch: "main", Paths: []string{"c.go"}, AuthoredAt: ts("2026-03-03T09:30:00Z"), MergedAt: ts("2026-03-03T09:30:00Z")},
		{Repo: "acme/shop", SHA: merge, PR: "12", Branch: "feature", Paths: []string{"b.go", "a.go"}, AuthoredAt: ts("2026-03-03T12:00:00Z"), MergedAt: ts("2026-03-03T12:00:00Z")},
		{Repo: "acme/shop", SHA: f1, Branch: "feature", Paths: []string{"a.go"}, AuthoredAt: ts("2026-03-02T10:00:00Z"), MergedAt: ts("2026-03-03T12:00:00Z")},
		{Repo: "acme/shop", SHA: f2, Branch: "feature", Paths: []string{"b.go"}, AuthoredAt: ts("2026-03-02T11:00:00Z"), MergedAt: ts("2026-03-03T12:00:00Z")},
		{Repo: "acme/shop", SHA: merge2, PR: "7", Branch: "other", Paths: []string{"d.go"}, AuthoredAt: ts("2026-03-05T12:00:00Z"), MergedAt: ts("2026-03-05T12:00:00Z")},
		{Repo: "acme/shop", SHA: g1, Branch: "other", Paths: []string{"d.go"}, AuthoredAt: ts("2026-03-04T10:00:00Z"), MergedAt: ts("2026-03-05T12:00:00Z")},
	}
	if len(ev.Changes) != len(want) {
		t.Fatalf("got %d changes, want %d:\n%+v", len(ev.Changes), len(want), ev.Changes)
	}
	for i := range want {
		if g, w := ev.Changes[i], want[i]; !equalChange(g, w) {
			t.Errorf("change %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
	wantDeps := []dora.Deployment{
		{ID: "git:tag:acme/shop:v1.0.0", Repo: "acme/shop", Environment: "production", Production: true, SHA: merge, Version: "v1.0.0", Status: "success", At: ts("2026-03-03T13:00:00Z")},
		{ID: "git:tag:acme/shop:v1.1.0", Repo: "acme/shop", Environment: "production", Production: true, SHA: merge2, Version: "v1.1.0", Status: "success", At: ts("2026-03-05T12:00:00Z")},
		{ID: "git:branch:acme/shop:release/1.1:" + hot, Repo: "acme/shop", Environment: "production", Production: true, SHA: merge2, Version: "release/1.1@" + hot[:12], Status: "success", At: ts("2026-03-06T10:00:00Z")},
	}
	if len(ev.Deployments) != len(wantDeps) {
		t.Fatalf("got %d deployments, want %d:\n%+v", len(ev.Deployments), len(wantDeps), ev.Deployments)
	}
	for i := range wantDeps {
		if g, w := ev.Deployments[i], wantDeps[i]; g != w {
			t.Errorf("deployment %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
}

func equalChange(a, b dora.Change) bool {
	return a.Repo == b.Repo && a.SHA == b.SHA && a.PR == b.PR && a.Branch == b.Branch && strings.Join(a.Paths, ",") == strings.Join(b.Paths, ",") &&
		a.AuthoredAt.Equal(b.AuthoredAt) && a.MergedAt.Equal(b.MergedAt) && a.OpenedAt.Equal(b.OpenedAt)
}

// TestReadErrors: a missing repository or branch is a git error that says
// so; no repository name is refused before git runs.
func TestReadErrors(t *testing.T) {
	r := newRepo(t)
	r.commit("2026-03-01T09:00:00Z", "README", "initial")
	ctx := context.Background()
	if _, err := (Git{}).Read(ctx, Options{Dir: r.dir}); err == nil || !strings.Contains(err.Error(), "--repo") {
		t.Errorf("no repo name: %v, want an error naming --repo", err)
	}
	if _, err := (Git{}).Read(ctx, Options{Dir: r.dir, Repo: "a/b", Branch: "nope"}); err == nil || !strings.Contains(err.Error(), "rev-parse") {
		t.Errorf("unknown branch: %v, want git's error", err)
	}
	if _, err := (Git{}).Read(ctx, Options{Dir: t.TempDir(), Repo: "a/b"}); err == nil {
		t.Error("not a repository: no error")
	}
}
