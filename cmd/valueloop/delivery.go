package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/client"
	"github.com/valueloop/valueloop/delivery"
	"github.com/valueloop/valueloop/demo"
	"github.com/valueloop/valueloop/dora"
	"github.com/valueloop/valueloop/flags"
	"github.com/valueloop/valueloop/opsgenie"
	"github.com/valueloop/valueloop/termchart"
)

func deliveryCommand() *command {
	return &command{name: "delivery", summary: "webhook sources, the service catalog and the loop figures (docs/delivery.md)", more: deliveryMore, subs: []*command{
		{name: "source", summary: "the GitHub and GitLab webhooks that send delivery records", subs: []*command{
			{name: "add", args: sourceArgs, summary: "add a webhook source and print its secret once", run: runSourcePut("add")},
			{name: "set", args: sourceArgs, summary: "change a webhook source", run: runSourcePut("set")},
			{name: "list", summary: "list the webhook sources", run: runSourceList},
			{name: "delete", args: "NAME", summary: "delete a webhook source; what it delivered stays", run: runDelete("delivery source delete", deliveryName, (*client.Client).DeleteDeliverySource, "Deleted webhook source %s; what it delivered stays.")},
		}},
		{name: "service", summary: "the service catalog: which repositories make a service", subs: []*command{
			{name: "set", args: "NAME [--team TEAM] --repo OWNER/NAME[:PATH] ...", summary: "add or change a service", run: runServiceSet},
			{name: "list", summary: "list the services, and the names records use outside the catalog", run: runServiceList},
			{name: "delete", args: "NAME", summary: "remove a service from the catalog; its records stay", run: runDelete("delivery service delete", deliveryName, (*client.Client).DeleteDeliveryService, "Removed %s from the catalog; its records stay.")},
		}},
		deliveryRecordCommand(),
		deliveryImportCommand(),
		{name: "deliveries", args: "[--source NAME|api] [--limit N]", summary: "list the latest webhook deliveries received", run: runDeliveries},
		{name: "loop", args: "FLAG --env ENV", summary: "show the loop of a flag: commit to production to 100% of users to a verdict", run: runLoop},
	}}
}

const sourceArgs = "NAME --kind github|gitlab|pagerduty|opsgenie [--secret-file FILE|-] [--repo OWNER/NAME|OWNER/*]... [--incident-label LABEL] [--release-env ENV]"

const deliveryMore = `Records and metrics:

  dora [--since 30d | --from TIME --to TIME] [--service S ...] [--team T ...] [--bucket day|week|month|none] [--tz ZONE|local]
  deploy record --service S --env E --status success|failure|pending|canceled [--sha SHA] [--at TIME]
                [--id ID] [--version V] [--repo R] [--rollback [--force]] [--production[=false]] [--key KEY]
  deploy list --service S [--since 30d | --from TIME --to TIME]
  change record (--service S | --repo R) --sha SHA [--authored-at TIME] [--merged-at TIME] [--pr N]
                [--opened-at TIME] [--reviewed-at TIME]
                [--branch B] [--path P ...] [--flag KEY ...] [--message TEXT] [--label L ...] [--key KEY]
  incident open --service S [--id ID] [--title TEXT] [--at TIME] [--deployment ID] [--cause-sha SHA] [--key KEY]
  incident resolve ID [--at TIME] [--key KEY]

TIME is RFC 3339 with any offset (2026-03-01T14:30:00+01:00) or a date (midnight UTC);
it is stored in UTC. --key makes a record idempotent: sending it again stores nothing.
Webhooks: point GitHub at SERVER/hooks/github and GitLab at SERVER/hooks/gitlab, PagerDuty and
Opsgenie at SERVER/hooks/pagerduty and SERVER/hooks/opsgenie (docs/delivery.md).
`

// runSourcePut returns delivery source add or set (sub). Set changes what
// its flags name and keeps the rest of the source (the API's PUT replaces
// it whole), so rotating a secret keeps its labels and repositories.
func runSourcePut(sub string) func(ctx context.Context, e *cliEnv, args []string) error {
	return func(ctx context.Context, e *cliEnv, args []string) error {
		fs := newFlagSet(e, "delivery source "+sub)
		cf := addClientFlags(e, fs)
		var src delivery.Source
		choiceVar(fs, &src.Kind, "kind", "", "`KIND`: github, gitlab, pagerduty or opsgenie", "github", "gitlab", "pagerduty", "opsgenie")
		secretFile := fs.String("secret-file", "", "file holding the webhook secret (- for standard input); default: keep the secret, or generate one for a new source")
		fs.StringVar(&src.IncidentLabel, "incident-label", "", "label that marks incident issues (default incident); for opsgenie, a tag that marks incident alerts (default: every alert)")
		fs.StringVar(&src.ReleaseEnvironment, "release-env", "", "environment a published release deploys to (default: releases are ignored)")
		var repos listFlag
		fs.Var(&repos, "repo", "OWNER/NAME, or OWNER/* for all of an owner's, that the source may post for (repeatable; default: every repository; with set, --repo '' clears)")
		pos, c, err := cf.parse(e, fs, args)
		if err != nil {
			return err
		}
		if len(pos) != 1 || src.Kind == "" {
			return usageErrorf("delivery source %s: want a name and --kind, e.g. 'valueloop delivery source add acme-github --kind github'", sub)
		}
		src.Name = pos[0]
		for _, r := range repos {
			if r != "" {
				src.Repos = append(src.Repos, r)
			}
		}
		if sub == "set" {
			if src, err = keepUnnamed(ctx, c, fs, src); err != nil {
				return err
			}
		}
		if *secretFile != "" {
			b, err := readInput(e, "--secret-file", *secretFile)
			if err != nil {
				return err
			}
			src.Secret = []byte(strings.TrimSpace(string(b)))
		}
		out, secret, err := c.PutDeliverySource(ctx, src)
		if err != nil {
			return sourceFlags(src.Repos).rename(err)
		}
		if cf.output == "json" {
			v := map[string]any{"source": out}
			if secret != "" {
				v["secret"] = secret
			}
			return writeJSONOut(e, v)
		}
		writeSourceSaved(e.stdout, cf.server, out, secret)
		return nil
	}
}

// sourceFlags are the flags of delivery source add and set by the field
// each sets; repos as typed, so that a refused repository is quoted.
func sourceFlags(repos []string) flagFields {
	return flagFields{fields: map[string]string{"kind": "--kind", "secret": "--secret-file", "repos": "--repo",
		"incidentLabel": "--incident-label", "releaseEnvironment": "--release-env"}, lists: map[string][]string{"repos": typed("--repo", repos)}}
}

// keepUnnamed returns the stored source src.Name with the fields fs set
// replaced by src's.
func keepUnnamed(ctx context.Context, c *client.Client, fs *flag.FlagSet, src delivery.Source) (delivery.Source, error) {
	list, err := c.DeliverySources(ctx)
	if err != nil {
		return src, err
	}
	i := slices.IndexFunc(list, func(s delivery.Source) bool { return s.Name == src.Name })
	if i < 0 {
		return src, usageErrorf("delivery source set: there is no source named %q; add it with 'valueloop delivery source add %s --kind %s'", src.Name, src.Name, src.Kind)
	}
	out := list[i]
	out.Kind = src.Kind // a change of kind is the server's to refuse
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "incident-label":
			out.IncidentLabel = src.IncidentLabel
		case "release-env":
			out.ReleaseEnvironment = src.ReleaseEnvironment
		case "repo":
			out.Repos = src.Repos
		}
	})
	return out, nil
}

// writeSourceSaved tells where to point the forge's webhook, with the
// secret when there is a new one.
func writeSourceSaved(w io.Writer, server string, out delivery.Source, secret string) {
	path, header := "/hooks/github", "Secret"
	switch out.Kind {
	case delivery.KindGitLab:
		path, header = "/hooks/gitlab", "Secret token"
	case delivery.KindPagerDuty:
		path, header = "/hooks/pagerduty", "Secret" // PagerDuty makes the secret: pass it with --secret-file
	case delivery.KindOpsgenie:
		// Opsgenie signs nothing: the secret travels as a custom header.
		path, header = "/hooks/opsgenie", "custom header "+opsgenie.TokenHeader
	}
	fmt.Fprintf(w, "Webhook source %s (%s) saved.\n", out.Name, out.Kind)
	if secret != "" {
		fmt.Fprintf(w, "\nIts secret is shown this once; paste it into the webhook's %q field:\n\n    %s\n", header, secret)
	}
	fmt.Fprintf(w, "\nPayload URL: %s%s?source=%s (content type application/json)\n", strings.TrimRight(server, "/"), path, url.QueryEscape(out.Name))
}

func runSourceList(ctx context.Context, e *cliEnv, args []string) error {
	fs := newFlagSet(e, "delivery source list")
	cf := addClientFlags(e, fs)
	c, err := cf.parseNoArgs(e, fs, args)
	if err != nil {
		return err
	}
	list, err := c.DeliverySources(ctx)
	if err != nil {
		return err
	}
	empty := "No webhook sources. Add one with 'valueloop delivery source add NAME --kind github' (or gitlab, pagerduty, opsgenie)."
	return writeList(e, cf, list, empty, "NAME\tKIND\tREPOSITORIES\tINCIDENT LABEL\tRELEASES DEPLOY TO\tUPDATED (UTC)", func(w io.Writer, s delivery.Source) {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", s.Name, s.Kind, sourceRepos(s), orDash(s.IncidentLabel), orDash(s.ReleaseEnvironment), utcTime(s.UpdatedAt))
	})
}

// sourceRepos says which repositories a source may post for.
func sourceRepos(s delivery.Source) string {
	switch {
	case len(s.Repos) > 0:
		return strings.Join(s.Repos, ",")
	case s.Kind == delivery.KindGitHub || s.Kind == delivery.KindGitLab:
		return "any"
	}
	return "–"
}

// deliveryName parses the args of a delete and returns the one name they
// give, and the client.
func deliveryName(e *cliEnv, path string, args []string) (string, *client.Client, *clientFlags, error) {
	fs := newFlagSet(e, path)
	cf := addClientFlags(e, fs)
	pos, err := e.parseArgs(fs, args)
	if err != nil {
		return "", nil, nil, err
	}
	c, err := cf.client()
	if err != nil {
		return "", nil, nil, err
	}
	if len(pos) != 1 {
		return "", nil, nil, usageErrorf("%s: want the %s name", path, strings.Fields(path)[1])
	}
	return pos[0], c, cf, nil
}

func runServiceSet(ctx context.Context, e *cliEnv, args []string) error {
	fs := newFlagSet(e, "delivery service set")
	cf := addClientFlags(e, fs)
	team := fs.String("team", "", "team that owns the service")
	var repos listFlag
	fs.Var(&repos, "repo", "OWNER/NAME, or OWNER/NAME:PATH for a directory of a monorepo (repeatable)")
	pos, c, err := cf.parse(e, fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || len(repos) == 0 {
		return usageErrorf("delivery service set: want a name and --repo, e.g. 'valueloop delivery service set checkout --team payments --repo acme/shop:services/checkout'")
	}
	s := dora.Service{Name: pos[0], Team: *team}
	for _, r := range repos {
		repo, path, _ := strings.Cut(r, ":")
		s.Sources = append(s.Sources, dora.Source{Repo: repo, Path: path})
	}
	out, err := c.PutDeliveryService(ctx, s)
	if err != nil {
		return flagFields{fields: map[string]string{"team": "--team", "sources": "--repo"}, lists: map[string][]string{"sources": typed("--repo", repos)}}.rename(err)
	}
	if cf.output == "json" {
		return writeJSONOut(e, out)
	}
	fmt.Fprintf(e.stdout, "Service %s saved with %s.\n", out.Name, plural(len(out.Sources), "source"))
	return nil
}

func runServiceList(ctx context.Context, e *cliEnv, args []string) error {
	fs := newFlagSet(e, "delivery service list")
	cf := addClientFlags(e, fs)
	c, err := cf.parseNoArgs(e, fs, args)
	if err != nil {
		return err
	}
	services, uncatalogued, err := c.DeliveryServices(ctx)
	if err != nil {
		return err
	}
	if cf.output == "json" {
		return writeJSONOut(e, map[string]any{"services": services, "uncatalogued": uncatalogued})
	}
	tw := termchart.NewTable(e.stdout)
	fmt.Fprintln(tw, "SERVICE\tTEAM\tREPOSITORIES")
	for _, s := range services {
		var srcs []string
		for _, src := range s.Sources {
			srcs = append(srcs, strings.TrimSuffix(src.Repo+":"+src.Path, ":"))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", s.Name, orDash(s.Team), strings.Join(srcs, ", "))
	}
	for _, name := range uncatalogued {
		fmt.Fprintf(tw, "%s\t-\t(not in the catalog: records name it)\n", name)
	}
	return tw.Flush()
}

func runDeliveries(ctx context.Context, e *cliEnv, args []string) error {
	fs := newFlagSet(e, "delivery deliveries")
	cf := addClientFlags(e, fs)
	source := fs.String("source", "", "only this source (a source name, or api)")
	limit := fs.Int("limit", 20, "at most this many (1-1000)")
	if err := e.parseNoArgs(fs, args); err != nil {
		return err
	}
	if err := checkLimit(*limit); err != nil {
		return err
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	list, err := c.Deliveries(ctx, *source, *limit)
	if err != nil {
		return err
	}
	empty := "No webhook deliveries received" + expIf(*source != "", " from "+*source, "") + " yet."
	return writeList(e, cf, list, empty, "RECEIVED (UTC)\tSOURCE\tKIND\tDELIVERY\tRECORDS\tIGNORED", func(w io.Writer, d delivery.DeliveryInfo) {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%s\n", utcTime(d.ReceivedAt), d.Source, d.Kind, d.ID, d.Records, orDash(d.Ignored))
	})
}

func runLoop(ctx context.Context, e *cliEnv, args []string) error {
	fs := newFlagSet(e, "delivery loop")
	cf := addClientFlags(e, fs)
	env := fs.String("env", e.getenv("VALUELOOP_ENV"), "environment of the rollout (VALUELOOP_ENV)")
	pos, err := e.parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || *env == "" {
		return usageErrorf("delivery loop: want one flag key and --env, e.g. 'valueloop delivery loop checkout-flow --env production'")
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	l, err := c.Loop(ctx, *env, pos[0])
	if err != nil {
		return err
	}
	return writeOut(e, cf, l, func(w io.Writer, l *delivery.Loop) { writeLoop(w, l, time.Now()) })
}

// writeMissing lists what a loop or a release record does not know yet,
// when anything.
func writeMissing(w io.Writer, missing []string) {
	if len(missing) > 0 {
		fmt.Fprintln(w, "\nNot known yet:")
		for _, m := range missing {
			fmt.Fprintf(w, "  - %s\n", m)
		}
	}
}

// writeLoop prints the loop of a flag as a timeline: one bar per stage,
// placed on a common time axis from the first commit, open stages drawn
// up to now.
func writeLoop(w io.Writer, l *delivery.Loop, now time.Time) {
	fmt.Fprintf(w, "The loop of %s in %s (%s linked)\n\n", l.Flag, l.Environment, plural(len(l.Changes), "change"))
	type stage struct {
		name        string
		from, to    time.Time
		open        bool // not finished: drawn to now
		figure      string
		waitingNote string
	}
	first := l.FirstCommit
	prodOpen := l.InProductionAt.IsZero() && !first.IsZero()
	fullOpen := l.FullRolloutAt.IsZero() && !l.RolloutStartedAt.IsZero()
	verdictStart := l.RolloutStartedAt
	stages := []stage{
		{name: "commit → production", from: first, to: l.InProductionAt, open: prodOpen, figure: durPtr(l.CommitToProduction)},
		{name: "rollout → 100% of users", from: l.RolloutStartedAt, to: l.FullRolloutAt, open: fullOpen},
		{name: "rollout → verdict", from: verdictStart, to: l.VerdictAt, open: l.VerdictAt.IsZero() && !verdictStart.IsZero()},
	}
	if fullOpen && l.RolloutPercent != nil {
		stages[1].waitingNote = fmt.Sprintf("at %g%% now (%s)", *l.RolloutPercent, l.RolloutState)
	} else if !l.FullRolloutAt.IsZero() {
		stages[1].figure = termchart.Duration(l.FullRolloutAt.Sub(l.RolloutStartedAt))
	}
	stages[2].figure = durPtr(l.TimeToValidatedLearning)
	if prodOpen {
		stages[0].waitingNote = plural(l.Undeployed, "change") + " not in production yet"
	}
	start, end := first, first
	for _, s := range stages {
		for _, t := range []time.Time{s.from, s.to} {
			if t.IsZero() {
				continue
			}
			if start.IsZero() || t.Before(start) {
				start = t
			}
			if t.After(end) {
				end = t
			}
		}
		if s.open && now.After(end) {
			end = now
		}
	}
	const width = 40
	tw := termchart.NewTable(w)
	for _, s := range stages {
		bar := ""
		if !s.from.IsZero() && end.After(start) {
			to, fill := s.to, "█"
			if s.open {
				to, fill = now, "░"
			}
			a := int(math.Round(float64(s.from.Sub(start)) / float64(end.Sub(start)) * width))
			b := int(math.Round(float64(to.Sub(start)) / float64(end.Sub(start)) * width))
			a, b = min(max(a, 0), width-1), min(max(b, a+1), width)
			bar = strings.Repeat(" ", a) + strings.Repeat(fill, b-a) + strings.Repeat(" ", width-b)
		} else {
			bar = strings.Repeat(" ", width)
		}
		fig := s.figure
		if fig == "" {
			fig = "–"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", s.name, bar, fig, s.waitingNote)
	}
	tw.Flush()
	if !start.IsZero() {
		fmt.Fprintf(w, "  (bars on one axis from %s to %s; ░ still under way)\n", start.Format("2006-01-02 15:04"), end.Format("2006-01-02 15:04 UTC"))
	}
	fmt.Fprintf(w, "\n  lead time to customer (first commit → 100%% of users)   %s\n", durPtr(l.LeadTimeToCustomer))
	fmt.Fprintf(w, "  time to validated learning (rollout start → verdict)    %s\n", durPtr(l.TimeToValidatedLearning))
	writeMissing(w, l.Missing)
}

func durPtr(d *time.Duration) string {
	if d == nil {
		return "–"
	}
	return termchart.Duration(*d)
}

// openDelivery starts delivery metrics for the server, with the loop
// figures reading the rollout store when there is one, and for --demo loads
// the demo's delivery history. Every store keeps delivery records (the store
// interface in database.go requires it).
func openDelivery(ctx context.Context, cfg serveConfig, db store, svc *flags.Service, logger *slog.Logger) (*delivery.Service, func(), error) {
	d := delivery.New(db)
	d.Logger = logger
	d.Environments = func() []valueloop.Environment {
		var out []valueloop.Environment
		for _, l := range svc.Environments() {
			out = append(out, l.Environment)
		}
		return out
	}
	d.Rollouts = delivery.RolloutTimesFrom(db)
	d.TimeZone = cfg.DeliveryZone
	if cfg.Demo {
		n, err := demo.LoadDelivery(ctx, d, time.Now())
		if err != nil {
			return nil, nil, fmt.Errorf("demo delivery data: %w", err)
		}
		if n > 0 {
			logger.Info("demo delivery history loaded", "records", n)
		}
	}
	if err := d.Open(); err != nil {
		return nil, nil, err
	}
	return d, func() { d.Close() }, nil
}
