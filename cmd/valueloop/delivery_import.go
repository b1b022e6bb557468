package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/backfill"
	"github.com/valueloop/valueloop/delivery"
	"github.com/valueloop/valueloop/dora"
	"github.com/valueloop/valueloop/git"
	"github.com/valueloop/valueloop/github"
	"github.com/valueloop/valueloop/gitlab"
	"github.com/valueloop/valueloop/sqlite"
)

// deliveryImportCommand is `valueloop delivery import`: history from before
// the webhooks, from a forge's REST API or a local git repository, written
// directly into the store (as token recover does; SQLite serialises the
// writes with a running server's).
func deliveryImportCommand() *command {
	return &command{name: "import", summary: "backfill delivery history from GitHub, GitLab or a local git repository", subs: []*command{
		{name: "github", args: "OWNER/NAME [--base-url URL] [--token-file FILE] [--source NAME] [--since TIME] [--incident-label L] [--release-env ENV|none] [--checkpoint FILE] [--data DIR]",
			summary: "import merged pull requests, reviews, deployments, releases and incident issues", more: importForgeMore, run: runImportForge(delivery.KindGitHub)},
		{name: "gitlab", args: "GROUP/NAME [--base-url URL] [--token-file FILE] [--source NAME] [--since TIME] [--incident-label L] [--release-env ENV|none] [--checkpoint FILE] [--data DIR]",
			summary: "import merged merge requests, approvals, deployments, releases and incidents", more: importForgeMore, run: runImportForge(delivery.KindGitLab)},
		{name: "git", args: "DIR --repo OWNER/NAME [--branch B] [--tags GLOB] [--release-branches GLOB] [--env ENV] [--since TIME] [--checkpoint FILE] [--data DIR]",
			summary: "import the commits of the main branch, and tags or release branches as deployments", more: importGitMore, run: runImportGit},
	}}
}

const importForgeMore = `The token comes from --token-file or the environment (GITHUB_TOKEN, GITLAB_TOKEN);
it is sent only to the API's host and never printed. The import waits out rate
limits, keeps its place in --checkpoint after every page, and resumes there when
run again after a failure; records already stored (by webhooks or an earlier
import) are not stored again. Progress goes to stderr, the summary to stdout.

  valueloop delivery import github acme/shop --source acme-github
  valueloop delivery import github acme/shop --base-url https://github.example.com
  valueloop delivery import gitlab acme/search --base-url https://gitlab.example.com
`

const importGitMore = `Each commit that reached the main branch is a change; a merge commit's commits
land when it does. With --tags or --release-branches, tags or release branches are
successful deployments to --env.

  valueloop delivery import git ~/src/shop --repo acme/shop --tags 'v*'
  valueloop delivery import git . --repo acme/shop --release-branches 'release/*' --env production
`

// importFlags are the flags every import takes.
type importFlags struct {
	data, checkpoint, output, since string
}

func addImportFlags(e *cliEnv, fs *flag.FlagSet) *importFlags {
	f := &importFlags{}
	fs.StringVar(&f.data, "data", envOr(e, "VALUELOOP_DATA", "valueloop-data"), "data directory of the store (VALUELOOP_DATA)")
	fs.StringVar(&f.checkpoint, "checkpoint", "", "file keeping the import's place (default DATA/delivery-import.json)")
	choiceVar(fs, &f.output, "output", "table", "output `FORMAT`: table or json", "table", "json")
	fs.StringVar(&f.since, "since", "", "only what happened since this time (RFC 3339, a date, or back from now: 90d, 12w)")
	return f
}

// open opens the store and the delivery service on it.
func (f *importFlags) open(ctx context.Context) (*delivery.Service, func(), error) {
	path := filepath.Join(f.data, "valueloop.db")
	if _, err := os.Stat(path); err != nil {
		return nil, nil, usageErrorf("--data %s: no Valueloop store there (%v); give the --data directory the server uses", f.data, err)
	}
	if f.checkpoint == "" {
		f.checkpoint = filepath.Join(f.data, "delivery-import.json")
	}
	db := sqlite.NewDB(path)
	if err := db.Open(); err != nil {
		return nil, nil, err
	}
	envs, err := db.Environments(ctx)
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	s := delivery.New(db)
	s.Environments = func() []valueloop.Environment { return envs }
	return s, func() { db.Close() }, nil
}

// forgeImport is what an import from a forge's API reads.
type forgeImport struct {
	kind, repo, base, tokenFile, source, incidentLabel, releaseEnv string
	since                                                          time.Time
}

func runImportForge(kind string) func(ctx context.Context, e *cliEnv, args []string) error {
	return func(ctx context.Context, e *cliEnv, args []string) error {
		fs := newFlagSet(e, "delivery import "+kind)
		f := addImportFlags(e, fs)
		in := forgeImport{kind: kind}
		fs.StringVar(&in.base, "base-url", "", "API root of GitHub Enterprise Server or self-managed GitLab (the host alone is enough)")
		fs.StringVar(&in.tokenFile, "token-file", "", "file holding the access token (default: $"+strings.ToUpper(kind)+"_TOKEN)")
		fs.StringVar(&in.source, "source", "", "webhook source whose incident label and release environment to use")
		fs.StringVar(&in.incidentLabel, "incident-label", "", "label that marks incident issues (default: the source's, else incident)")
		fs.StringVar(&in.releaseEnv, "release-env", "", "environment a release deploys to (default: the source's; none: releases are skipped)")
		pos, err := e.parseArgs(fs, args)
		if err != nil {
			return err
		}
		if in.since, err = parseSince(f.since); err != nil {
			return err
		}
		if len(pos) != 1 || !strings.Contains(pos[0], "/") {
			return usageErrorf("delivery import %s: want the repository, e.g. 'valueloop delivery import %s acme/shop'", kind, kind)
		}
		// Checked as the records' repository will be, before the token is
		// read or a request made: the name is a part of every URL.
		if err := dora.CheckRepo("repository", pos[0], false); err != nil {
			return err
		}
		in.repo = pos[0]
		token, err := in.token(e)
		if err != nil {
			return err
		}
		s, closeStore, err := f.open(ctx)
		if err != nil {
			return err
		}
		defer closeStore()
		im, err := in.run(ctx, e, s, f, token)
		if im != nil {
			writeImportSummary(e, f.output, in.repo, im.Summary, err == nil)
		}
		if de := (*net.DNSError)(nil); errors.As(err, &de) && de.IsNotFound {
			err = fmt.Errorf("%w; check --base-url", err) // the one part of the URL that is the user's
		}
		return err
	}
}

// token reads the access token; an import without one reads public
// repositories only, within a small rate limit.
func (in *forgeImport) token(e *cliEnv) (string, error) {
	if in.tokenFile != "" {
		b, err := readInput(e, "--token-file", in.tokenFile)
		return strings.TrimSpace(string(b)), err
	}
	t := e.getenv(strings.ToUpper(in.kind) + "_TOKEN")
	if t == "" {
		fmt.Fprintf(e.stderr, "No token (--token-file or $%s_TOKEN): reading as an anonymous user.\n", strings.ToUpper(in.kind))
	}
	return t, nil
}

// config reads the incident label and release environment: the flags,
// else the named webhook source's.
func (in *forgeImport) config(ctx context.Context, s *delivery.Service) error {
	if in.source == "" {
		return nil
	}
	sources, err := s.Sources(ctx)
	if err != nil {
		return err
	}
	for _, src := range sources {
		if src.Name == in.source && src.Kind == in.kind {
			in.incidentLabel = orElse(in.incidentLabel, src.IncidentLabel)
			in.releaseEnv = orElse(in.releaseEnv, src.ReleaseEnvironment)
			return nil
		}
	}
	return usageErrorf("--source %s: no %s webhook source of that name ('valueloop delivery source list')", in.source, in.kind)
}

// orElse is a, else b.
func orElse(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (in *forgeImport) run(ctx context.Context, e *cliEnv, s *delivery.Service, f *importFlags, token string) (*backfill.Importer, error) {
	if err := in.config(ctx, s); err != nil {
		return nil, err
	}
	root, err := backfill.APIRoot(in.kind, in.base)
	if err != nil {
		return nil, usageErrorf("%v", err)
	}
	auth := backfill.GitHubAuth(token)
	if in.kind == delivery.KindGitLab {
		auth = backfill.GitLabAuth(token)
	}
	fetch := backfill.NewFetcher(auth)
	fetch.Waited = func(d time.Duration, why string) {
		fmt.Fprintf(e.stderr, "waiting %s: %s\n", d.Round(time.Second), why)
	}
	scope := in.kind + " " + root + " " + in.repo
	if !in.since.IsZero() {
		scope += " since " + in.since.Format(time.RFC3339)
	}
	im, err := newImporter(ctx, s, f, scope, in.kind, in.repo)
	if err != nil {
		return nil, err
	}
	im.Fetch, im.Progress = fetch, e.stderr
	prod := s.ProductionEnvironments()
	var streams []backfill.Stream
	if in.kind == delivery.KindGitHub {
		streams, err = backfill.GitHubStreams(ctx, fetch, backfill.Repo{Root: root, Name: in.repo, Since: in.since}, github.Config{IncidentLabel: in.incidentLabel, Production: prod, ReleaseEnvironment: in.releaseEnv})
	} else {
		streams, err = backfill.GitLabStreams(ctx, fetch, backfill.Repo{Root: root, Name: in.repo, Since: in.since}, gitlab.Config{IncidentLabel: in.incidentLabel, Production: prod, ReleaseEnvironment: in.releaseEnv})
	}
	if err == nil {
		err = im.Run(ctx, streams)
	}
	im.Summary.Requests = fetch.Requests
	return im, err
}

// newImporter returns an importer storing into s what is not stored yet,
// keeping its place under scope.
func newImporter(ctx context.Context, s *delivery.Service, f *importFlags, scope, source, repo string) (*backfill.Importer, error) {
	cp, err := backfill.OpenCheckpoint(f.checkpoint, scope)
	if err != nil {
		return nil, err
	}
	data, err := s.Stored(ctx)
	if err != nil {
		return nil, err
	}
	return &backfill.Importer{Store: s, Known: backfill.NewKnown(data), Checkpoint: cp, Source: delivery.ImportSource + source,
		Scope: repo, ProgressEvery: time.Second}, nil
}

func runImportGit(ctx context.Context, e *cliEnv, args []string) error {
	fs := newFlagSet(e, "delivery import git")
	f := addImportFlags(e, fs)
	var o git.Options
	fs.StringVar(&o.Repo, "repo", "", "the repository's name in the records and the catalog (OWNER/NAME)")
	fs.StringVar(&o.Branch, "branch", "", "the main branch (default: the branch HEAD names)")
	fs.StringVar(&o.Tags, "tags", "", "tags matching this glob ('v*') are deployments of the commit they tag")
	fs.StringVar(&o.ReleaseBranches, "release-branches", "", "each commit on a branch matching this glob ('release/*') is a deployment")
	fs.StringVar(&o.Environment, "env", "production", "environment the tags and release branches deploy to")
	pos, err := e.parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || o.Repo == "" {
		return usageErrorf("delivery import git: want the repository's directory and --repo, e.g. 'valueloop delivery import git . --repo acme/shop --tags v*'")
	}
	// Checked before the repository is read: every record carries it.
	if err := dora.CheckRepo("--repo", o.Repo, false); err != nil {
		return err
	}
	o.Dir = pos[0]
	if o.Since, err = parseSince(f.since); err != nil {
		return err
	}
	s, closeStore, err := f.open(ctx)
	if err != nil {
		return err
	}
	defer closeStore()
	o.Production = true // a tag or release branch given is a production deployment, unless the environment says otherwise
	if p, ok := s.ProductionEnvironments()[o.Environment]; ok {
		o.Production = p
	}
	ev, err := git.Git{}.Read(ctx, o)
	if err != nil {
		return err
	}
	im, err := newImporter(ctx, s, f, "git "+o.Dir, "git", o.Repo)
	if err != nil {
		return err
	}
	im.Progress = e.stderr
	err = im.StoreBatches(ctx, "git", ev, 5000)
	writeImportSummary(e, f.output, o.Repo, im.Summary, err == nil)
	return err
}

// parseSince reads --since: a time, a date, or a span back from now;
// empty: the zero time (everything).
func parseSince(since string) (time.Time, error) {
	if since == "" {
		return time.Time{}, nil
	}
	if t, err := delivery.ParseTime("since", since); err == nil {
		return t, nil
	}
	from, _, err := delivery.ParseRange(since, "", "", time.Now())
	return from, err
}

func writeImportSummary(e *cliEnv, output, repo string, s backfill.Summary, complete bool) {
	if output == "json" {
		writeJSONOut(e, map[string]any{"repo": repo, "complete": complete, "summary": s})
		return
	}
	if !complete && s.Read == 0 && s.Pages == 0 {
		// Failed on its first request (a host that does not resolve, a
		// token refused): "half-way" would promise progress there is none.
		tried := ""
		if s.Requests > 0 {
			tried = " (" + plural(s.Requests, "request") + ")"
		}
		fmt.Fprintf(e.stdout, "Stopped before anything was read from %s%s; run the same command again once the error below is fixed.\n", repo, tried)
		return
	}
	state := "Imported"
	if !complete {
		state = "Stopped half-way; run the same command again to resume. So far imported"
	}
	// A git import reads a local repository: it has no pages or requests
	// to count.
	from := ""
	if s.Requests > 0 {
		from = fmt.Sprintf(" from %s, %s", plural(s.Pages, "page"), plural(s.Requests, "request"))
	}
	fmt.Fprintf(e.stdout, "%s %s: %s read, %d new stored (%s, %s, %s, %s)%s.\n",
		state, repo, plural(s.Read, "record"), s.Stored, plural(s.Changes, "change"), plural(s.Reviews, "review"),
		plural(s.Deployments, "deployment record"), plural(s.Incidents, "incident"), from)
}
