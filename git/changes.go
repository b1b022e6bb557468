package git

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/valueloop/valueloop/dora"
)

// mainChanges turns the history of the main branch into changes, oldest
// first. The first-parent line of the branch is what landed on it, each at
// its commit time: a commit made on the branch is a change of its own; a
// merge commit is a change, and so is every commit it brought in (those
// reachable from its other parents and from nothing that landed before),
// each landed when the merge did. That is what a push webhook records for
// the same push.
func mainChanges(commits map[string]*commit, tip string, opts Options) []dora.Change {
	var line []*commit
	for c := commits[tip]; c != nil; {
		line = append(line, c)
		if len(c.parents) == 0 {
			break
		}
		c = commits[c.parents[0]]
	}
	slices.Reverse(line)
	landed := make(map[string]bool, len(commits))
	var out []dora.Change
	for _, c := range line {
		landed[c.sha] = true
		pr, branch := mergeOrigin(c)
		at := c.commit
		if len(c.parents) < 2 {
			out = append(out, change(c, opts, pr, opts.Branch, at))
			continue
		}
		// Walk what the merge brought in, stopping at what landed before:
		// by induction, everything reachable from the first parent did.
		var brought []*commit
		queue := append([]string(nil), c.parents[1:]...)
		for len(queue) > 0 {
			sha := queue[0]
			queue = queue[1:]
			b := commits[sha]
			if b == nil || landed[sha] { // before --since, or landed
				continue
			}
			landed[sha] = true
			brought = append(brought, b)
			queue = append(queue, b.parents...)
		}
		m := change(c, opts, pr, branch, at)
		for _, b := range brought {
			m.Paths = union(m.Paths, b.paths)
		}
		out = append(out, m)
		for i := len(brought) - 1; i >= 0; i-- {
			out = append(out, change(brought[i], opts, "", branch, at))
		}
	}
	return out
}

// change is commit c, landed on the main branch at merged.
func change(c *commit, opts Options, pr, branch string, merged time.Time) dora.Change {
	return dora.Change{Repo: opts.Repo, SHA: c.sha, PR: pr, Branch: branch, Paths: c.paths, AuthoredAt: c.authored, MergedAt: merged}
}

func union(a, b []string) []string {
	for _, p := range b {
		if !slices.Contains(a, p) {
			a = append(a, p)
		}
	}
	return a
}

var (
	// GitHub: "Merge pull request #12 from owner/branch".
	githubMerge = regexp.MustCompile(`^Merge pull request #(\d+) from [^/\s]+/(\S+)`)
	// GitLab: "Merge branch 'feature' into 'main'", "See merge request group/project!12".
	gitlabMerge   = regexp.MustCompile(`^Merge branch '([^']+)' into `)
	gitlabRequest = regexp.MustCompile(`(?m)^See merge request \S*!(\d+)\s*$`)
	// A squash merge on GitHub: "Title (#12)".
	squashPR = regexp.MustCompile(`\(#(\d+)\)\s*$`)
)

// mergeOrigin reads the pull or merge request and source branch a commit's
// message names, as GitHub and GitLab write them.
func mergeOrigin(c *commit) (pr, branch string) {
	if m := githubMerge.FindStringSubmatch(c.subject); m != nil {
		return m[1], m[2]
	}
	if m := gitlabMerge.FindStringSubmatch(c.subject); m != nil {
		branch = m[1]
	}
	if m := gitlabRequest.FindStringSubmatch(c.body); m != nil {
		pr = m[1]
	}
	if pr == "" && len(c.parents) < 2 {
		if m := squashPR.FindStringSubmatch(c.subject); m != nil {
			pr = m[1]
		}
	}
	return pr, branch
}

// tags reads the tags matching opts.Tags as deployments.
func (g Git) tags(ctx context.Context, opts Options) ([]dora.Deployment, error) {
	out, err := g.run(ctx, opts.Dir, "for-each-ref", "--format=%(refname:short)%1f%(objectname)%1f%(*objectname)%1f%(creatordate:unix)",
		"refs/tags/"+opts.Tags)
	if err != nil {
		return nil, err
	}
	var ds []dora.Deployment
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if line == "" {
			continue
		}
		f := strings.Split(line, "\x1f")
		if len(f) != 4 {
			return nil, fmt.Errorf("git for-each-ref: unexpected output %.80q", line)
		}
		sha := f[2] // an annotated tag's commit
		if sha == "" {
			sha = f[1]
		}
		at, err := unixTime(f[3])
		if err != nil {
			return nil, fmt.Errorf("tag %s: %w", f[0], err)
		}
		if at.Before(opts.Since) {
			continue
		}
		ds = append(ds, dora.Deployment{ID: "git:tag:" + opts.Repo + ":" + f[0], Repo: opts.Repo, Environment: opts.Environment,
			Production: opts.Production, SHA: sha, Version: f[0], Status: dora.StatusSuccess, At: at})
	}
	return ds, nil
}

// releaseBranches reads the branches matching opts.ReleaseBranches as
// deployments: each of their own commits deploys the main branch's commits
// up to where the branch started (hotfixes made on the branch are not
// changes of the main branch).
func (g Git) releaseBranches(ctx context.Context, opts Options) ([]dora.Deployment, error) {
	out, err := g.run(ctx, opts.Dir, "for-each-ref", "--format=%(refname:short)",
		"refs/heads/"+opts.ReleaseBranches, "refs/remotes/*/"+opts.ReleaseBranches)
	if err != nil {
		return nil, err
	}
	var ds []dora.Deployment
	for _, ref := range strings.Fields(string(out)) {
		base, err := g.run(ctx, opts.Dir, "merge-base", ref, opts.Branch)
		if err != nil {
			return nil, fmt.Errorf("release branch %s: %w", ref, err)
		}
		own, err := g.run(ctx, opts.Dir, "log", "--first-parent", "--reverse", "--format=%H %ct", ref, "^"+opts.Branch, "--")
		if err != nil {
			return nil, err
		}
		lines := strings.Split(strings.TrimSpace(string(own)), "\n")
		if lines[0] == "" { // no commits of its own: it deploys its tip
			tip, err := g.run(ctx, opts.Dir, "log", "-1", "--format=%H %ct", ref, "--")
			if err != nil {
				return nil, err
			}
			lines = []string{strings.TrimSpace(string(tip))}
		}
		for _, l := range lines {
			sha, ts, _ := strings.Cut(l, " ")
			n, err := strconv.ParseInt(ts, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("release branch %s: git log: unexpected output %.80q", ref, l)
			}
			d := dora.Deployment{ID: "git:branch:" + opts.Repo + ":" + ref + ":" + sha, Repo: opts.Repo, Environment: opts.Environment,
				Production: opts.Production, SHA: strings.TrimSpace(string(base)), Version: ref + "@" + sha[:min(12, len(sha))],
				Status: dora.StatusSuccess, At: time.Unix(n, 0).UTC()}
			if !d.At.Before(opts.Since) {
				ds = append(ds, d)
			}
		}
	}
	return ds, nil
}
