package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/delivery"
	"github.com/valueloop/valueloop/deliverysvc"
	"github.com/valueloop/valueloop/demo"
	"github.com/valueloop/valueloop/flags"
	"github.com/valueloop/valueloop/rollout"
)

const deliveryUsage = `valueloop delivery: webhook sources, the service catalog and the loop figures.

  delivery source add|set NAME --kind github|gitlab [--secret-file FILE|-] [--incident-label LABEL] [--release-env ENV]
  delivery source list
  delivery source delete NAME
  delivery service set NAME [--team TEAM] --repo OWNER/NAME[:PATH] ...
  delivery service list
  delivery service delete NAME
  delivery deliveries [--source NAME|api] [--limit N]
  delivery loop FLAG --env ENV

Records and metrics:

  dora [--since 30d | --from TIME --to TIME] [--service S ...] [--team T ...] [--bucket day|week|month|none]
  deploy record --service S --env E --status success|failure|pending|canceled [--sha SHA] [--at TIME]
                [--id ID] [--version V] [--repo R] [--rollback] [--production true|false] [--key KEY]
  deploy list --service S [--since 30d | --from TIME --to TIME]
  change record (--service S | --repo R) --sha SHA [--authored-at TIME] [--merged-at TIME] [--pr N]
                [--branch B] [--path P ...] [--flag KEY ...] [--key KEY]
  incident open --service S [--id ID] [--title TEXT] [--at TIME] [--deployment ID] [--cause-sha SHA] [--key KEY]
  incident resolve ID [--at TIME] [--key KEY]

TIME is RFC 3339 with any offset (2026-03-01T14:30:00+01:00) or a date (midnight UTC);
it is stored in UTC. --key makes a record idempotent: sending it again stores nothing.
Webhooks: point GitHub at SERVER/hooks/github and GitLab at SERVER/hooks/gitlab (docs/delivery.md).
`

// listFlag collects a repeatable flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error {
	*l = append(*l, v)
	return nil
}

// timeFlag is an optional time on the command line.
type timeFlag struct {
	name string
	t    *time.Time
}

func (f *timeFlag) String() string {
	if f.t == nil {
		return ""
	}
	return f.t.Format(time.RFC3339)
}

func (f *timeFlag) Set(v string) error {
	t, err := deliverysvc.ParseTime(f.name, v)
	if err != nil {
		return fmt.Errorf("%s", valueloop.ErrorMessage(err))
	}
	f.t = &t
	return nil
}

func addTime(fs *flag.FlagSet, name, usage string) *timeFlag {
	f := &timeFlag{name: name}
	fs.Var(f, name, usage)
	return f
}

func runDORA(ctx context.Context, e *cliEnv, args []string) error {
	fs := newFlagSet(e, "dora")
	cf := addClientFlags(e, fs)
	since := fs.String("since", "", "look back this far: 30d, 12w, 36h (default 30d)")
	from := fs.String("from", "", "start of the range (TIME), instead of --since")
	to := fs.String("to", "", "end of the range (TIME, default now)")
	bucket := fs.String("bucket", "", "day, week, month or none (default: by the length of the range)")
	var services, teams listFlag
	fs.Var(&services, "service", "only this service (repeatable)")
	fs.Var(&teams, "team", "only the services of this team (repeatable)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErrorf("dora takes no arguments: name services with --service, e.g. 'valueloop dora --service checkout --since 30d'")
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	q := url.Values{}
	for k, v := range map[string]string{"since": *since, "from": *from, "to": *to} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if *bucket == "" {
		*bucket = autoBucket(*since, *from, *to)
	}
	q.Set("bucket", *bucket)
	for _, s := range services {
		q.Add("service", s)
	}
	for _, t := range teams {
		q.Add("team", t)
	}
	rep, err := c.DORA(ctx, q)
	if err != nil {
		return err
	}
	if cf.output == "json" {
		return writeJSONOut(e, rep)
	}
	writeDORA(e.stdout, rep)
	return nil
}

// autoBucket picks a bucket that gives a trend of a few to a few dozen
// points: days up to two weeks, weeks up to half a year, months beyond.
func autoBucket(since, from, to string) string {
	now := time.Now()
	start, end, err := deliverysvc.ParseRange(since, from, to, now)
	if err != nil {
		return "week" // the server reports the error
	}
	switch d := end.Sub(start); {
	case d <= 14*24*time.Hour:
		return "day"
	case d <= 183*24*time.Hour:
		return "week"
	}
	return "month"
}

// writeDORA prints a report: a block per service (then per team and
// overall when there are several), a line per key with its level and a
// trend over the buckets.
func writeDORA(w io.Writer, r *deliverysvc.Report) {
	days := r.To.Sub(r.From).Hours() / 24
	fmt.Fprintf(w, "DORA metrics %s to %s (%s)", r.From.Format("2006-01-02 15:04"), r.To.Format("2006-01-02 15:04 UTC"), plural(int(math.Round(days)), "day"))
	if r.Bucket != "" && len(r.Overall.Buckets) > 0 {
		fmt.Fprintf(w, ", trend by %s (%d, oldest first)", r.Bucket, len(r.Overall.Buckets))
	}
	fmt.Fprintln(w)
	if len(r.Services) == 0 {
		fmt.Fprintln(w, "\nNo deployments, changes or incidents in this range. Record them with 'valueloop deploy record',\n'valueloop change record' and 'valueloop incident open', or connect a GitHub or GitLab webhook (docs/delivery.md).")
		return
	}
	for _, s := range r.Services {
		title := s.Name
		if s.Team != "" {
			title += " · team " + s.Team
		}
		writeSeries(w, title, s)
	}
	// A team of one service would repeat its service's block.
	perTeam := map[string]int{}
	for _, s := range r.Services {
		perTeam[s.Team]++
	}
	for _, t := range r.Teams {
		if perTeam[t.Name] > 1 {
			writeSeries(w, fmt.Sprintf("team %s (%d services)", t.Name, perTeam[t.Name]), t)
		}
	}
	if len(r.Services) > 1 {
		writeSeries(w, fmt.Sprintf("overall (%d services)", len(r.Services)), r.Overall)
	}
	if r.Skipped > 0 {
		fmt.Fprintf(w, "\n%s could not be used (missing times or services).\n", plural(r.Skipped, "stored record"))
	}
}

func writeSeries(w io.Writer, title string, s delivery.Series) {
	fmt.Fprintf(w, "\n%s\n", title)
	m := s.Total
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	trend := func(f func(m *delivery.Metrics) (float64, bool)) string {
		if len(s.Buckets) == 0 {
			return ""
		}
		return sparkline(s.Buckets, f)
	}
	rate := func(r delivery.Rate) string {
		if v, ok := r.Value(); ok {
			return fmt.Sprintf("%.1f%%", 100*v)
		}
		return "–"
	}
	durations := func(d delivery.Durations) string {
		if d.Count == 0 {
			return "–"
		}
		return fmtDuration(d.Median)
	}
	fmt.Fprintf(tw, "  deployment frequency\t%s\t%s\t%s\t%s\n", perDay(m.DeploymentsPerDay), level(m.Levels.DeploymentFrequency),
		trend(func(b *delivery.Metrics) (float64, bool) { return float64(b.Deployments), true }), plural(m.Deployments, "deployment"))
	lead := plural(m.LeadTime.Count, "change")
	if m.LeadTime.Count > 0 {
		lead = "p90 " + fmtDuration(m.LeadTime.P90) + ", " + lead
	}
	if m.Undeployed > 0 {
		lead += fmt.Sprintf(", %d not yet deployed", m.Undeployed)
	}
	fmt.Fprintf(tw, "  lead time (median)\t%s\t%s\t%s\t%s\n", durations(m.LeadTime), level(m.Levels.LeadTime),
		trend(func(b *delivery.Metrics) (float64, bool) { return b.LeadTime.Median.Hours(), b.LeadTime.Count > 0 }), lead)
	fmt.Fprintf(tw, "  change failure rate\t%s\t%s\t%s\t%d of %s failed\n", rate(m.ChangeFailureRate), level(m.Levels.ChangeFailureRate),
		trend(func(b *delivery.Metrics) (float64, bool) { return b.ChangeFailureRate.Value() }), m.Failed, plural(m.Attempts, "attempt"))
	fmt.Fprintf(tw, "  recovery time (median)\t%s\t%s\t%s\t%d recovered, %d not yet\n", durations(m.Recovery), level(m.Levels.RecoveryTime),
		trend(func(b *delivery.Metrics) (float64, bool) { return b.Recovery.Median.Hours(), b.Recovery.Count > 0 }), m.Recovery.Count, m.Unrecovered)
	fmt.Fprintf(tw, "  rework rate\t%s\t%s\t%s\t%d of %s\n", rate(m.ReworkRate), "",
		trend(func(b *delivery.Metrics) (float64, bool) { return b.ReworkRate.Value() }), m.Rework, plural(m.Deployments, "deployment"))
	if m.Incidents > 0 {
		fmt.Fprintf(tw, "  incidents\t%d\t\t%s\t%d linked to no deployment\n", m.Incidents,
			trend(func(b *delivery.Metrics) (float64, bool) { return float64(b.Incidents), true }), m.Unlinked)
	}
	tw.Flush()
}

func level(l delivery.Level) string {
	if l == "" {
		return "–"
	}
	return string(l)
}

func perDay(v float64) string {
	switch {
	case v == 0:
		return "0/day"
	case v >= 1:
		return fmt.Sprintf("%.1f/day", v)
	case v >= 1.0/7:
		return fmt.Sprintf("%.1f/week", v*7)
	}
	return fmt.Sprintf("%.1f/month", v*30)
}

func plural(n int, one string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %ss", n, one)
}

// sparkMax is the most buckets a trend shows: the latest ones.
const sparkMax = 60

// sparkline draws one character per bucket: '·' where the figure is
// undefined, '▁' for zero, and ▂ to █ in proportion to the largest value.
func sparkline(buckets []delivery.Metrics, f func(*delivery.Metrics) (float64, bool)) string {
	prefix := ""
	if len(buckets) > sparkMax {
		buckets, prefix = buckets[len(buckets)-sparkMax:], "…"
	}
	vals := make([]float64, len(buckets))
	ok := make([]bool, len(buckets))
	top := 0.0
	for i := range buckets {
		vals[i], ok[i] = f(&buckets[i])
		if ok[i] {
			top = math.Max(top, vals[i])
		}
	}
	const bars = "▂▃▄▅▆▇█"
	levels := []rune(bars)
	var b strings.Builder
	b.WriteString(prefix)
	for i, v := range vals {
		switch {
		case !ok[i]:
			b.WriteRune('·')
		case v <= 0 || top == 0:
			b.WriteRune('▁')
		default:
			k := int(math.Ceil(v/top*float64(len(levels)))) - 1
			b.WriteRune(levels[min(max(k, 0), len(levels)-1)])
		}
	}
	return b.String()
}

// fmtDuration writes a duration with its two largest units: 45s, 12m,
// 5h12m, 3d4h.
func fmtDuration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 24*time.Hour:
		h := int(d.Hours())
		return fmt.Sprintf("%dh%02dm", h, int(d.Minutes())-60*h)
	}
	days := int(d.Hours() / 24)
	return fmt.Sprintf("%dd%dh", days, int(d.Hours())-24*days)
}

func runDeploy(ctx context.Context, e *cliEnv, args []string) error {
	if len(args) == 0 {
		return usageErrorf("deploy: want record or list, e.g. 'valueloop deploy record --service checkout --env production --sha 4c1e9a0 --status success'")
	}
	switch args[0] {
	case "record":
		return runDeployRecord(ctx, e, args[1:])
	case "list":
		return runDeployList(ctx, e, args[1:])
	}
	return usageErrorf("deploy: unknown subcommand %q: want record or list", args[0])
}

func runDeployRecord(ctx context.Context, e *cliEnv, args []string) error {
	fs := newFlagSet(e, "deploy record")
	cf := addClientFlags(e, fs)
	var in deliverysvc.DeploymentInput
	fs.StringVar(&in.Service, "service", "", "service deployed (required)")
	fs.StringVar(&in.Environment, "env", "", "environment deployed to (required)")
	fs.StringVar(&in.SHA, "sha", "", "commit deployed")
	fs.StringVar(&in.Status, "status", "", "success, failure, pending or canceled (required)")
	at := addTime(fs, "at", "when the deployment reached --status (TIME, default now)")
	fs.StringVar(&in.ID, "id", "", "deployment ID: successive statuses of one deployment share it (default: a new one)")
	fs.StringVar(&in.Version, "version", "", "version deployed")
	fs.StringVar(&in.Repo, "repo", "", "repository (OWNER/NAME)")
	fs.BoolVar(&in.Rollback, "rollback", false, "the deployment restores an earlier version")
	prod := fs.String("production", "", "true or false: whether --env is production, for an environment Valueloop does not know")
	key := fs.String("key", "", "idempotency key: recording again with it stores nothing")
	if err := parseNoArgs(fs, args, "deploy record"); err != nil {
		return err
	}
	if in.Service == "" || in.Environment == "" || in.Status == "" {
		return usageErrorf("deploy record: want --service, --env and --status, e.g. 'valueloop deploy record --service checkout --env production --sha 4c1e9a0 --status success'")
	}
	switch *prod {
	case "":
	case "true", "false":
		p := *prod == "true"
		in.Production = &p
	default:
		return usageErrorf("deploy record: --production must be true or false, not %q", *prod)
	}
	in.At = at.t
	c, err := cf.client()
	if err != nil {
		return err
	}
	d, rec, err := c.RecordDeployment(ctx, in, *key)
	if err != nil {
		return err
	}
	if cf.output == "json" {
		return writeJSONOut(e, map[string]any{"deployment": d, "receipt": rec})
	}
	counts := "does not count for the metrics: " + d.Environment + " is not production"
	if d.Production {
		counts = "production"
	}
	fmt.Fprintf(e.stdout, "Recorded deployment %s of %s to %s at %s: %s (%s).%s\n", d.ID, d.Service, d.Environment,
		d.At.Format(time.RFC3339), d.Status, counts, duplicateNote(rec))
	return nil
}

func duplicateNote(r deliverysvc.Receipt) string {
	if r.Duplicate {
		return " It was recorded before under this --key; nothing changed."
	}
	return ""
}

// parseNoArgs parses flags and refuses positional arguments.
func parseNoArgs(fs *flag.FlagSet, args []string, name string) error {
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErrorf("%s takes flags only, got %q; run 'valueloop %s -h'", name, pos, name)
	}
	return nil
}

func runDeployList(ctx context.Context, e *cliEnv, args []string) error {
	fs := newFlagSet(e, "deploy list")
	cf := addClientFlags(e, fs)
	service := fs.String("service", "", "service (required)")
	since := fs.String("since", "", "look back this far (default 30d)")
	from := fs.String("from", "", "start of the range (TIME)")
	to := fs.String("to", "", "end of the range (TIME, default now)")
	if err := parseNoArgs(fs, args, "deploy list"); err != nil {
		return err
	}
	if *service == "" {
		return usageErrorf("deploy list: want --service, e.g. 'valueloop deploy list --service checkout --since 7d'")
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	q := url.Values{}
	for k, v := range map[string]string{"since": *since, "from": *from, "to": *to} {
		if v != "" {
			q.Set(k, v)
		}
	}
	list, err := c.DeliveryDeployments(ctx, *service, q)
	if err != nil {
		return err
	}
	if cf.output == "json" {
		return writeJSONOut(e, list)
	}
	if len(list) == 0 {
		fmt.Fprintf(e.stdout, "No production deployments of %s in this range.\n", *service)
		return nil
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "DEPLOYED (UTC)\tENVIRONMENT\tSHA\tSTATUS\tCHANGES\tLEAD TIME (MEDIAN)\tNOTES")
	for _, d := range list {
		var leads []time.Duration
		for _, ch := range d.Changes {
			leads = append(leads, max(d.At.Sub(ch.AuthoredAt), 0))
		}
		var notes []string
		if d.Rollback {
			notes = append(notes, "rollback")
		}
		if d.RolledBack {
			notes = append(notes, "rolled back")
		}
		if d.Failed && d.Status == delivery.StatusSuccess && !d.RolledBack {
			notes = append(notes, "failed")
		}
		if len(d.Incidents) > 0 {
			notes = append(notes, "incidents "+strings.Join(d.Incidents, ", "))
		}
		if !d.RecoveredAt.IsZero() {
			notes = append(notes, "recovered after "+fmtDuration(d.RecoveredAt.Sub(d.At)))
		}
		if d.Rework {
			notes = append(notes, "rework")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", d.At.Format("2006-01-02 15:04"), d.Environment, orDash(short(d.SHA)), d.Status,
			len(d.Changes), medianDuration(leads), strings.Join(notes, "; "))
	}
	return tw.Flush()
}

func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

func medianDuration(ds []time.Duration) string {
	if len(ds) == 0 {
		return "–"
	}
	s := append([]time.Duration(nil), ds...)
	for i := 1; i < len(s); i++ { // a handful: insertion sort
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return fmtDuration(m)
}

func runChange(ctx context.Context, e *cliEnv, args []string) error {
	if len(args) == 0 || args[0] != "record" {
		return usageErrorf("change: want record, e.g. 'valueloop change record --service checkout --sha 4c1e9a0 --flag new-checkout'")
	}
	fs := newFlagSet(e, "change record")
	cf := addClientFlags(e, fs)
	var in deliverysvc.ChangeInput
	fs.StringVar(&in.Service, "service", "", "service the change belongs to")
	fs.StringVar(&in.Repo, "repo", "", "repository (OWNER/NAME); the catalog maps it to services")
	fs.StringVar(&in.SHA, "sha", "", "commit (required)")
	fs.StringVar(&in.PR, "pr", "", "pull or merge request number")
	fs.StringVar(&in.Branch, "branch", "", "branch")
	authored := addTime(fs, "authored-at", "when the work was committed (TIME, default --merged-at)")
	merged := addTime(fs, "merged-at", "when it reached the default branch (TIME, default now)")
	var paths, flagKeys listFlag
	fs.Var(&paths, "path", "a file the change touches, for monorepo services (repeatable)")
	fs.Var(&flagKeys, "flag", "a feature flag the change ships behind (repeatable)")
	key := fs.String("key", "", "idempotency key: recording again with it stores nothing")
	if err := parseNoArgs(fs, args[1:], "change record"); err != nil {
		return err
	}
	if in.SHA == "" || (in.Service == "" && in.Repo == "") {
		return usageErrorf("change record: want --sha and --service or --repo, e.g. 'valueloop change record --service checkout --sha 4c1e9a0'")
	}
	in.Paths, in.Flags, in.AuthoredAt, in.MergedAt = paths, flagKeys, authored.t, merged.t
	c, err := cf.client()
	if err != nil {
		return err
	}
	ch, rec, err := c.RecordChange(ctx, in, *key)
	if err != nil {
		return err
	}
	if cf.output == "json" {
		return writeJSONOut(e, map[string]any{"change": ch, "receipt": rec})
	}
	linked := ""
	if len(in.Flags) > 0 {
		linked = ", linked to " + strings.Join(in.Flags, ", ")
	}
	fmt.Fprintf(e.stdout, "Recorded change %s of %s, authored %s, merged %s%s.%s\n", short(ch.SHA), orDash(firstNonEmpty(ch.Service, ch.Repo)),
		ch.AuthoredAt.Format(time.RFC3339), ch.MergedAt.Format(time.RFC3339), linked, duplicateNote(rec))
	return nil
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

func runIncident(ctx context.Context, e *cliEnv, args []string) error {
	if len(args) == 0 {
		return usageErrorf("incident: want open or resolve, e.g. 'valueloop incident open --service checkout --title \"502s on checkout\"'")
	}
	sub := args[0]
	fs := newFlagSet(e, "incident "+sub)
	cf := addClientFlags(e, fs)
	at := addTime(fs, "at", "when it opened or was resolved (TIME, default now)")
	key := fs.String("key", "", "idempotency key: sending again with it stores nothing")
	var in deliverysvc.IncidentInput
	if sub == "open" {
		fs.StringVar(&in.Service, "service", "", "service affected (required)")
		fs.StringVar(&in.ID, "id", "", "incident ID (default: a new one)")
		fs.StringVar(&in.Title, "title", "", "what happened")
		fs.StringVar(&in.Repo, "repo", "", "repository (OWNER/NAME)")
		fs.StringVar(&in.DeploymentID, "deployment", "", "ID of the deployment that caused it (default: the service's latest production deployment before it opened)")
		fs.StringVar(&in.CauseSHA, "cause-sha", "", "commit that caused it")
	}
	pos, err := parseArgs(fs, args[1:])
	if err != nil {
		return err
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	var inc delivery.Incident
	var rec deliverysvc.Receipt
	switch sub {
	case "open":
		if len(pos) > 0 || in.Service == "" {
			return usageErrorf("incident open: want --service and no arguments, e.g. 'valueloop incident open --service checkout --title \"502s on checkout\"'")
		}
		in.OpenedAt = at.t
		inc, rec, err = c.OpenIncident(ctx, in, *key)
	case "resolve":
		if len(pos) != 1 {
			return usageErrorf("incident resolve: want the incident ID, e.g. 'valueloop incident resolve inc-3f9a2c1b0d4e'")
		}
		inc, rec, err = c.ResolveIncident(ctx, pos[0], at.t, *key)
	default:
		return usageErrorf("incident: unknown subcommand %q: want open or resolve", sub)
	}
	if err != nil {
		return err
	}
	if cf.output == "json" {
		return writeJSONOut(e, map[string]any{"incident": inc, "receipt": rec})
	}
	if sub == "open" {
		fmt.Fprintf(e.stdout, "Opened incident %s on %s at %s.%s\nResolve it with: valueloop incident resolve %s\n", inc.ID, inc.Service,
			inc.OpenedAt.Format(time.RFC3339), duplicateNote(rec), inc.ID)
		return nil
	}
	fmt.Fprintf(e.stdout, "Resolved incident %s at %s, %s after it opened.%s\n", inc.ID, inc.ResolvedAt.Format(time.RFC3339),
		fmtDuration(inc.ResolvedAt.Sub(inc.OpenedAt)), duplicateNote(rec))
	return nil
}

func runDelivery(ctx context.Context, e *cliEnv, args []string) error {
	if len(args) == 0 {
		return usageErrorf("delivery: want a subcommand\n\n%s", deliveryUsage)
	}
	switch args[0] {
	case "source":
		return runDeliverySource(ctx, e, args[1:])
	case "service":
		return runDeliveryService(ctx, e, args[1:])
	case "deliveries":
		return runDeliveries(ctx, e, args[1:])
	case "loop":
		return runLoop(ctx, e, args[1:])
	case "-h", "--help", "help":
		fmt.Fprint(e.stdout, deliveryUsage)
		return nil
	}
	return usageErrorf("delivery: unknown subcommand %q: want source, service, deliveries or loop\n\n%s", args[0], deliveryUsage)
}

func runDeliverySource(ctx context.Context, e *cliEnv, args []string) error {
	if len(args) == 0 {
		return usageErrorf("delivery source: want add, set, list or delete")
	}
	sub := args[0]
	fs := newFlagSet(e, "delivery source "+sub)
	cf := addClientFlags(e, fs)
	var src deliverysvc.Source
	fs.StringVar(&src.Kind, "kind", "", "github or gitlab")
	secretFile := fs.String("secret-file", "", "file holding the webhook secret (- for standard input); default: keep the secret, or generate one for a new source")
	fs.StringVar(&src.IncidentLabel, "incident-label", "", "label that marks incident issues (default incident)")
	fs.StringVar(&src.ReleaseEnvironment, "release-env", "", "environment a published release deploys to (default: releases are ignored)")
	pos, err := parseArgs(fs, args[1:])
	if err != nil {
		return err
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	switch sub {
	case "list":
		list, err := c.DeliverySources(ctx)
		if err != nil {
			return err
		}
		if cf.output == "json" {
			return writeJSONOut(e, list)
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tKIND\tINCIDENT LABEL\tRELEASES DEPLOY TO\tUPDATED")
		for _, s := range list {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.Name, s.Kind, orDash(s.IncidentLabel), orDash(s.ReleaseEnvironment), s.UpdatedAt.Format(time.RFC3339))
		}
		return tw.Flush()
	case "delete":
		if len(pos) != 1 {
			return usageErrorf("delivery source delete: want the source name")
		}
		if err := c.DeleteDeliverySource(ctx, pos[0]); err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "Deleted webhook source %s; what it delivered stays.\n", pos[0])
		return nil
	case "add", "set":
	default:
		return usageErrorf("delivery source: unknown subcommand %q: want add, set, list or delete", sub)
	}
	if len(pos) != 1 || src.Kind == "" {
		return usageErrorf("delivery source %s: want a name and --kind, e.g. 'valueloop delivery source add acme-github --kind github'", sub)
	}
	src.Name = pos[0]
	if *secretFile != "" {
		b, err := readInput(e, *secretFile)
		if err != nil {
			return err
		}
		src.Secret = []byte(strings.TrimSpace(string(b)))
	}
	out, secret, err := c.PutDeliverySource(ctx, src)
	if err != nil {
		return err
	}
	if cf.output == "json" {
		v := map[string]any{"source": out}
		if secret != "" {
			v["secret"] = secret
		}
		return writeJSONOut(e, v)
	}
	path, header := "/hooks/github", "Secret"
	if out.Kind == deliverysvc.KindGitLab {
		path, header = "/hooks/gitlab", "Secret token"
	}
	fmt.Fprintf(e.stdout, "Webhook source %s (%s) saved.\n", out.Name, out.Kind)
	if secret != "" {
		fmt.Fprintf(e.stdout, "\nIts secret is shown this once; paste it into the webhook's %q field:\n\n    %s\n", header, secret)
	}
	fmt.Fprintf(e.stdout, "\nPayload URL: %s%s?source=%s (content type application/json)\n", strings.TrimRight(cf.server, "/"), path, url.QueryEscape(out.Name))
	return nil
}

func runDeliveryService(ctx context.Context, e *cliEnv, args []string) error {
	if len(args) == 0 {
		return usageErrorf("delivery service: want set, list or delete")
	}
	sub := args[0]
	fs := newFlagSet(e, "delivery service "+sub)
	cf := addClientFlags(e, fs)
	team := fs.String("team", "", "team that owns the service")
	var repos listFlag
	fs.Var(&repos, "repo", "OWNER/NAME, or OWNER/NAME:PATH for a directory of a monorepo (repeatable)")
	pos, err := parseArgs(fs, args[1:])
	if err != nil {
		return err
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	switch sub {
	case "list":
		services, uncatalogued, err := c.DeliveryServices(ctx)
		if err != nil {
			return err
		}
		if cf.output == "json" {
			return writeJSONOut(e, map[string]any{"services": services, "uncatalogued": uncatalogued})
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
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
	case "delete":
		if len(pos) != 1 {
			return usageErrorf("delivery service delete: want the service name")
		}
		if err := c.DeleteDeliveryService(ctx, pos[0]); err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "Removed %s from the catalog; its records stay.\n", pos[0])
		return nil
	case "set":
	default:
		return usageErrorf("delivery service: unknown subcommand %q: want set, list or delete", sub)
	}
	if len(pos) != 1 || len(repos) == 0 {
		return usageErrorf("delivery service set: want a name and --repo, e.g. 'valueloop delivery service set checkout --team payments --repo acme/shop:services/checkout'")
	}
	s := delivery.Service{Name: pos[0], Team: *team}
	for _, r := range repos {
		repo, path, _ := strings.Cut(r, ":")
		s.Sources = append(s.Sources, delivery.Source{Repo: repo, Path: path})
	}
	out, err := c.PutDeliveryService(ctx, s)
	if err != nil {
		return err
	}
	if cf.output == "json" {
		return writeJSONOut(e, out)
	}
	fmt.Fprintf(e.stdout, "Service %s saved with %s.\n", out.Name, plural(len(out.Sources), "source"))
	return nil
}

func runDeliveries(ctx context.Context, e *cliEnv, args []string) error {
	fs := newFlagSet(e, "delivery deliveries")
	cf := addClientFlags(e, fs)
	source := fs.String("source", "", "only this source (a source name, or api)")
	limit := fs.Int("limit", 20, "at most this many")
	if err := parseNoArgs(fs, args, "delivery deliveries"); err != nil {
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
	if cf.output == "json" {
		return writeJSONOut(e, list)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RECEIVED (UTC)\tSOURCE\tKIND\tDELIVERY\tRECORDS\tIGNORED")
	for _, d := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", d.ReceivedAt.Format("2006-01-02 15:04:05"), d.Source, d.Kind, d.ID, d.Records, orDash(d.Ignored))
	}
	return tw.Flush()
}

func runLoop(ctx context.Context, e *cliEnv, args []string) error {
	fs := newFlagSet(e, "delivery loop")
	cf := addClientFlags(e, fs)
	env := fs.String("env", e.getenv("VALUELOOP_ENV"), "environment of the rollout (VALUELOOP_ENV)")
	pos, err := parseArgs(fs, args)
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
	if cf.output == "json" {
		return writeJSONOut(e, l)
	}
	writeLoop(e.stdout, l, time.Now())
	return nil
}

// writeLoop prints the loop of a flag as a timeline: one bar per stage,
// placed on a common time axis from the first commit, open stages drawn
// up to now.
func writeLoop(w io.Writer, l *deliverysvc.Loop, now time.Time) {
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
		stages[1].figure = fmtDuration(l.FullRolloutAt.Sub(l.RolloutStartedAt))
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
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
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
	if len(l.Missing) > 0 {
		fmt.Fprintln(w, "\nNot known yet:")
		for _, m := range l.Missing {
			fmt.Fprintf(w, "  - %s\n", m)
		}
	}
}

func durPtr(d *time.Duration) string {
	if d == nil {
		return "–"
	}
	return fmtDuration(*d)
}

// openDelivery starts delivery metrics for the server, with the loop
// figures reading the rollout store when there is one, and for --demo loads
// the demo's delivery history. Every store keeps delivery records (the store
// interface in database.go requires it).
func openDelivery(ctx context.Context, cfg serveConfig, db store, svc *flags.Service, logger *slog.Logger) (*deliverysvc.Service, func(), error) {
	d := deliverysvc.New(db)
	d.Logger = logger
	d.Environments = func() []valueloop.Environment {
		var out []valueloop.Environment
		for _, l := range svc.Environments() {
			out = append(out, l.Environment)
		}
		return out
	}
	d.Rollouts = func(ctx context.Context, env, flag string) (deliverysvc.RolloutTimes, error) {
		return rolloutTimes(ctx, db, env, flag)
	}
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

// rolloutHistory is what the loop figures read of the rollout store.
type rolloutHistory interface {
	Rollouts(ctx context.Context, f rollout.Filter) ([]rollout.Rollout, error)
	RolloutEvents(ctx context.Context, id int64) ([]rollout.Event, error)
}

// rolloutTimes finds when a flag's rollout started and first served 100%
// of users: the earliest rollout that got there, or else the latest one.
func rolloutTimes(ctx context.Context, rs rolloutHistory, env, flag string) (deliverysvc.RolloutTimes, error) {
	list, err := rs.Rollouts(ctx, rollout.Filter{Environment: env, Flag: flag, Limit: 1000})
	if err != nil || len(list) == 0 {
		return deliverysvc.RolloutTimes{}, err
	}
	for i := len(list) - 1; i >= 0; i-- { // oldest first
		r := list[i]
		events, err := rs.RolloutEvents(ctx, r.ID)
		if err != nil {
			return deliverysvc.RolloutTimes{}, err
		}
		for _, ev := range events {
			if ev.Percent >= 100 && ev.State != rollout.RolledBack {
				return deliverysvc.RolloutTimes{StartedAt: r.StartedAt, FullAt: ev.At, Percent: r.Percent, State: string(r.State)}, nil
			}
		}
	}
	r := list[0]
	return deliverysvc.RolloutTimes{StartedAt: r.StartedAt, Percent: r.Percent, State: string(r.State)}, nil
}
