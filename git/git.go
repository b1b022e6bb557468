// Package git reads delivery history from a local git repository through
// the git command: the commits that reached the main branch (directly, or
// merged with the commits of their branch) become changes, and, where
// configured, tags matching a pattern or branches matching a release
// branch pattern become production deployments. It runs git and parses its
// output; nothing is stored here (package backfill and the CLI store the
// records).
package git

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/valueloop/valueloop/dora"
)

// Options says what to read.
type Options struct {
	// Dir is the repository (a work tree or a bare repository).
	Dir string
	// Repo is the repository's name in the records ("acme/shop"), as the
	// catalog and the forge's webhooks name it.
	Repo string
	// Branch is the main branch; empty: the branch HEAD names.
	Branch string
	// Since skips commits committed before it; zero: all history.
	Since time.Time
	// Tags is a glob (git's, as for-each-ref reads it: "v*"); each tag
	// matching it is a successful deployment of the commit it tags, at
	// the tag's date (an annotated tag's; a lightweight tag has only its
	// commit's). Empty: tags are not deployments.
	Tags string
	// ReleaseBranches is a glob ("release/*"); each commit made on a
	// matching branch (local, or a remote's) deploys the main branch's
	// commits the branch started from, at the commit's time; a branch
	// without commits of its own deploys its tip. Empty: none.
	ReleaseBranches string
	// Environment the tags and release branches deploy to, and whether it
	// is production.
	Environment string
	Production  bool
}

// Git runs the git command; "git" on the PATH by default.
type Git struct {
	Path string
}

func (g Git) run(ctx context.Context, dir string, args ...string) ([]byte, error) {
	path := g.Path
	if path == "" {
		path = "git"
	}
	cmd := exec.CommandContext(ctx, path, append([]string{"-C", dir, "-c", "core.quotePath=false"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return nil, fmt.Errorf("git %s: %s", args[0], strings.TrimSpace(stderr.String()))
		}
		return nil, fmt.Errorf("git %s: %w", args[0], err)
	}
	return out, nil
}

// Read reads the history opts selects.
func (g Git) Read(ctx context.Context, opts Options) (dora.Event, error) {
	var ev dora.Event
	if opts.Repo == "" {
		return ev, errors.New("git: the repository's name is required (--repo OWNER/NAME)")
	}
	if opts.Branch == "" {
		out, err := g.run(ctx, opts.Dir, "symbolic-ref", "--short", "HEAD")
		if err != nil {
			return ev, fmt.Errorf("%w (name the main branch with --branch)", err)
		}
		opts.Branch = strings.TrimSpace(string(out))
	}
	tip, err := g.run(ctx, opts.Dir, "rev-parse", "--verify", opts.Branch+"^{commit}")
	if err != nil {
		return ev, err
	}
	commits, err := g.log(ctx, opts)
	if err != nil {
		return ev, err
	}
	ev.Changes = mainChanges(commits, strings.TrimSpace(string(tip)), opts)
	if opts.Tags != "" {
		if ev.Deployments, err = g.tags(ctx, opts); err != nil {
			return ev, err
		}
	}
	if opts.ReleaseBranches != "" {
		ds, err := g.releaseBranches(ctx, opts)
		if err != nil {
			return ev, err
		}
		ev.Deployments = append(ev.Deployments, ds...)
	}
	return ev, nil
}

// commit is one commit as git log gives it.
type commit struct {
	sha              string
	parents          []string
	authored, commit time.Time
	subject, body    string
	paths            []string
}

const logFormat = "--format=%x1e%H%x1f%P%x1f%at%x1f%ct%x1f%s%x1f%b%x1f"

// log reads every commit reachable from the main branch.
func (g Git) log(ctx context.Context, opts Options) (map[string]*commit, error) {
	args := []string{"log", logFormat, "--name-only", "--no-renames"}
	if !opts.Since.IsZero() {
		args = append(args, "--since="+strconv.FormatInt(opts.Since.Unix(), 10))
	}
	out, err := g.run(ctx, opts.Dir, append(args, opts.Branch, "--")...)
	if err != nil {
		return nil, err
	}
	commits := map[string]*commit{}
	for _, rec := range bytes.Split(out, []byte{0x1e}) {
		if len(bytes.TrimSpace(rec)) == 0 {
			continue
		}
		f := strings.SplitN(string(rec), "\x1f", 7)
		if len(f) != 7 {
			return nil, fmt.Errorf("git log: unexpected output %.80q", rec)
		}
		c := &commit{sha: f[0], parents: strings.Fields(f[1]), subject: f[4], body: f[5]}
		c.authored, err = unixTime(f[2])
		if err == nil {
			c.commit, err = unixTime(f[3])
		}
		if err != nil {
			return nil, fmt.Errorf("git log %s: %w", c.sha, err)
		}
		sc := bufio.NewScanner(strings.NewReader(f[6]))
		for sc.Scan() {
			if p := strings.TrimSpace(sc.Text()); p != "" {
				c.paths = append(c.paths, p)
			}
		}
		commits[c.sha] = c
	}
	return commits, nil
}

func unixTime(s string) (time.Time, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("time %q: %w", s, err)
	}
	return time.Unix(n, 0).UTC(), nil
}
