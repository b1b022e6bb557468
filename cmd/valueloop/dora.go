package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/delivery"
	"github.com/valueloop/valueloop/dora"
	"github.com/valueloop/valueloop/termchart"
)

func doraCommand() *command {
	return &command{name: "dora", args: "[--since 30d | --from TIME --to TIME] [--service S ...] [--team T ...] [--bucket day|week|month|none] [--tz ZONE|local]",
		summary: "show the DORA delivery metrics with their levels and trends", more: doraHelp, run: runDORA}
}

const doraHelp = `TIME is RFC 3339 with any offset (2026-03-01T14:30:00+01:00) or a date: midnight in the
report's zone, which also cuts its days, weeks (from Monday) and months: --tz, else the
server's (its delivery-time-zone setting, UTC unless set), so that without --tz the figures are
the dashboard's wherever the CLI runs.
`

func runDORA(ctx context.Context, e *cliEnv, args []string) error {
	fs := newFlagSet(e, "dora")
	cf := addClientFlags(e, fs)
	span := addTimeRange(fs)
	bucket := choice(fs, "bucket", "", "`BUCKET`: day, week, month or none (default: by the length of the range)", "day", "week", "month", "none")
	tz := fs.String("tz", "", "IANA `ZONE` whose midnights cut the days and weeks (Pacific/Auckland), or local for this machine's (default: the server's, as on the dashboard)")
	var services, teams listFlag
	fs.Var(&services, "service", "only this service (repeatable)")
	fs.Var(&teams, "team", "only the services of this team (repeatable)")
	pos, err := e.parseArgs(fs, args)
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
	q, err := span.query(true)
	if err != nil {
		return err
	}
	if *bucket == "" {
		*bucket = autoBucket(span.since, span.from, span.to)
	}
	q.Set("bucket", *bucket)
	if *tz != "" {
		name, err := zoneName(e, *tz)
		if err != nil {
			return err
		}
		q.Set("tz", name)
	}
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
	return writeOut(e, cf, rep, writeDORA)
}

// timeRange is the time range a command reads: --since, or --from and --to.
type timeRange struct{ since, from, to string }

// addTimeRange declares the flags of a time range on fs.
func addTimeRange(fs *flag.FlagSet) *timeRange {
	r := &timeRange{}
	fs.StringVar(&r.since, "since", "", "look back this far: 30d, 12w, 36h (default 30d)")
	fs.StringVar(&r.from, "from", "", "start of the range (TIME), instead of --since")
	fs.StringVar(&r.to, "to", "", "end of the range (TIME, default now)")
	return r
}

// query checks the range with the parser the server uses
// (delivery.ParseRange, whose --since is flow's) and returns its query: a
// bad --since, --from or --to is a usage error here, exit 2, as flow's is.
// zoned: the server reads a date as midnight in the report's zone (its
// default, unknown here, without --tz), so the order of a date and a time
// (now, when --to is left out: --from today, in Auckland's morning) is
// the server's to check, not midnight UTC's; two dates keep their order
// in every zone.
func (r *timeRange) query(zoned bool) (url.Values, error) {
	from, to, err := delivery.ParseRange(r.since, r.from, r.to, time.Now())
	if err != nil {
		return nil, flagError(err)
	}
	if !to.After(from) && !(zoned && isDate(r.from) != isDate(r.to)) {
		return nil, usageErrorf("--to: must be after --from (%s), got %s", from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	q := url.Values{}
	for k, v := range map[string]string{"since": r.since, "from": r.from, "to": r.to} {
		if v != "" {
			q.Set(k, v)
		}
	}
	return q, nil
}

// isDate reports whether v is a date alone (2026-03-02), not a time.
func isDate(v string) bool {
	_, err := time.Parse(time.DateOnly, v)
	return err == nil
}

// zoneName checks --tz and returns the zone's IANA name; "local" is this
// machine's zone, by name (TZ, else where /etc/localtime links to): the
// server has no other way to know it. The default, no --tz, leaves the
// zone to the server so that everyone's CLI, wherever it runs, gives the
// dashboard's figures.
func zoneName(e *cliEnv, tz string) (string, error) {
	if tz == "local" {
		tz = strings.TrimPrefix(e.getenv("TZ"), ":")
		if target, err := os.Readlink("/etc/localtime"); tz == "" && err == nil {
			_, tz, _ = strings.Cut(target, "zoneinfo/")
		}
		if tz == "" {
			return "", usageErrorf("--tz local: this machine's zone has no name (TZ is unset, /etc/localtime names none): give one, e.g. --tz Europe/Berlin")
		}
	}
	if _, err := delivery.ParseZone("tz", tz); err != nil {
		return "", flagError(err)
	}
	return tz, nil
}

// flagError turns a field error of a parser into a usage error naming the
// flag, which has the field's name: "--since: want a duration ...".
func flagError(err error) error {
	var e *valueloop.Error
	if errors.As(err, &e) && e.Field != "" {
		return usageErrorf("--%s: %s", e.Field, e.Message)
	}
	return err
}

// autoBucket picks a bucket that gives a trend of a few to a few dozen
// points: days up to two weeks, weeks up to half a year, months beyond.
func autoBucket(since, from, to string) string {
	now := time.Now()
	start, end, err := delivery.ParseRange(since, from, to, now)
	if err != nil {
		return "week" // not reached: timeRange.query checked the range
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
func writeDORA(w io.Writer, r *delivery.Report) {
	days := r.To.Sub(r.From).Hours() / 24
	zone := r.TimeZone
	if zone == "" {
		zone = "UTC" // a server from before time zones
	}
	fmt.Fprintf(w, "DORA metrics %s to %s %s (%s)", r.From.Format("2006-01-02 15:04"), r.To.Format("2006-01-02 15:04"), zone, plural(int(math.Round(days)), "day"))
	if r.Bucket != "" && len(r.Overall.Buckets) > 0 {
		n := strconv.Itoa(len(r.Overall.Buckets))
		if len(r.Overall.Buckets) > sparkMax {
			n = fmt.Sprintf("the latest %d of %s", sparkMax, n)
		}
		fmt.Fprintf(w, ", trend by %s (%s, oldest first)", r.Bucket, n)
	}
	fmt.Fprintln(w)
	if len(r.Services) == 0 {
		fmt.Fprintln(w, "\nNo deployments, changes or incidents in this range. Record them with 'valueloop deploy record',\n'valueloop change record' and 'valueloop incident open', or connect a GitHub or GitLab webhook (docs/delivery.md).")
		return
	}
	// One unit for every block's deployment frequency, as the dashboard
	// has: read down the blocks, 3.3/week over 2.3/month looked smaller.
	perDay := termchart.RateUnitFor(r.DeploymentsPerDay()...).Format
	for _, s := range r.Services {
		title := s.Name
		if s.Team != "" {
			title += " · team " + s.Team
		}
		writeSeries(w, title, s, perDay)
	}
	// A team of one service would repeat its service's block.
	perTeam := map[string]int{}
	for _, s := range r.Services {
		perTeam[s.Team]++
	}
	for _, t := range r.Teams {
		if perTeam[t.Name] > 1 {
			writeSeries(w, fmt.Sprintf("team %s (%d services)", t.Name, perTeam[t.Name]), t, perDay)
		}
	}
	if len(r.Services) > 1 {
		writeSeries(w, fmt.Sprintf("overall (%d services)", len(r.Services)), r.Overall, perDay)
	}
	if r.Skipped > 0 {
		fmt.Fprintf(w, "\n%s could not be used (missing times or services).\n", plural(r.Skipped, "stored record"))
	}
}

// writeSeries writes one block of a report, its deployment frequency by
// perDay.
func writeSeries(w io.Writer, title string, s dora.Series, perDay func(float64) string) {
	fmt.Fprintf(w, "\n%s\n", title)
	m := s.Total
	tw := termchart.NewTable(w)
	trend := func(f func(m *dora.Metrics) (float64, bool)) string {
		if len(s.Buckets) == 0 {
			return ""
		}
		return sparkline(s.Buckets, f)
	}
	rate := func(r dora.Rate) string {
		if v, ok := r.Value(); ok {
			return fmt.Sprintf("%.1f%%", 100*v)
		}
		return "–"
	}
	durations := func(d dora.Durations) string {
		if d.Count == 0 {
			return "–"
		}
		return termchart.Duration(d.Median)
	}
	fmt.Fprintf(tw, "  deployment frequency\t%s\t%s\t%s\t%s\n", perDay(m.DeploymentsPerDay), level(m.Levels.DeploymentFrequency),
		trend(func(b *dora.Metrics) (float64, bool) { return float64(b.Deployments), true }), plural(m.Deployments, "deployment"))
	lead := plural(m.LeadTime.Count, "change")
	if m.LeadTime.Count > 0 {
		lead = "p90 " + termchart.Duration(m.LeadTime.P90) + ", " + lead
	}
	if m.Undeployed > 0 {
		lead += fmt.Sprintf(", %d not yet deployed", m.Undeployed)
	}
	fmt.Fprintf(tw, "  lead time (median)\t%s\t%s\t%s\t%s\n", durations(m.LeadTime), level(m.Levels.LeadTime),
		trend(func(b *dora.Metrics) (float64, bool) { return b.LeadTime.Median.Hours(), b.LeadTime.Count > 0 }), lead)
	if m.LeadTime.Count > 0 {
		b := &m.LeadTimeBreakdown
		for _, st := range []struct {
			name  string
			stage func(b *dora.Breakdown) dora.Stage
		}{
			{"coding (commit → opened)", func(b *dora.Breakdown) dora.Stage { return b.Coding }},
			{"pickup (→ first review)", func(b *dora.Breakdown) dora.Stage { return b.Pickup }},
			{"review (→ merged)", func(b *dora.Breakdown) dora.Stage { return b.Review }},
			{"deploy (→ production)", func(b *dora.Breakdown) dora.Stage { return b.Deploy }},
		} {
			v := st.stage(b)
			median, detail := "–", "no pull request data"
			if v.Count > 0 {
				median, detail = termchart.Duration(v.Median), "p85 "+termchart.Duration(v.P85)+", "+plural(v.Count, "change")
			}
			fmt.Fprintf(tw, "    %s\t%s\t\t%s\t%s\n", st.name, median,
				trend(func(bm *dora.Metrics) (float64, bool) {
					x := st.stage(&bm.LeadTimeBreakdown)
					return x.Median.Hours(), x.Count > 0
				}), detail)
		}
	}
	fmt.Fprintf(tw, "  change failure rate\t%s\t%s\t%s\t%d of %s failed\n", rate(m.ChangeFailureRate), level(m.Levels.ChangeFailureRate),
		trend(func(b *dora.Metrics) (float64, bool) { return b.ChangeFailureRate.Value() }), m.Failed, plural(m.Attempts, "attempt"))
	fmt.Fprintf(tw, "    as Four Keys counts it\t%s\t%s\t%s\t%d of %s failed; failed runs not counted\n", rate(m.ChangeFailureRateFourKeys), level(m.Levels.ChangeFailureRateFourKeys),
		trend(func(b *dora.Metrics) (float64, bool) { return b.ChangeFailureRateFourKeys.Value() }), m.FailedDeployments, plural(m.Deployments, "deployment"))
	fmt.Fprintf(tw, "  recovery time (median)\t%s\t%s\t%s\t%d recovered, %d not yet\n", durations(m.Recovery), level(m.Levels.RecoveryTime),
		trend(func(b *dora.Metrics) (float64, bool) { return b.Recovery.Median.Hours(), b.Recovery.Count > 0 }), m.Recovery.Count, m.Unrecovered)
	fmt.Fprintf(tw, "  rework rate\t%s\t%s\t%s\t%d of %s\n", rate(m.ReworkRate), "",
		trend(func(b *dora.Metrics) (float64, bool) { return b.ReworkRate.Value() }), m.Rework, plural(m.Deployments, "deployment"))
	if m.Incidents > 0 {
		fmt.Fprintf(tw, "  incidents\t%d\t\t%s\t%d linked to no deployment\n", m.Incidents,
			trend(func(b *dora.Metrics) (float64, bool) { return float64(b.Incidents), true }), m.Unlinked)
	}
	tw.Flush()
}

func level(l dora.Level) string {
	if l == "" {
		return "–"
	}
	return string(l)
}

func plural(n int, one string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %ss", n, one)
}

// sparkMax is the most buckets a trend shows: the latest ones.
const sparkMax = 60

// sparkline draws one character per bucket of the figure f reads.
func sparkline(buckets []dora.Metrics, f func(*dora.Metrics) (float64, bool)) string {
	vals := make([]float64, len(buckets))
	ok := make([]bool, len(buckets))
	for i := range buckets {
		vals[i], ok[i] = f(&buckets[i])
	}
	return termchart.Sparkline(vals, ok, sparkMax)
}
