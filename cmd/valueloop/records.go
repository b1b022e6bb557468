package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/valueloop/valueloop/delivery"
	"github.com/valueloop/valueloop/dora"
	"github.com/valueloop/valueloop/termchart"
)

func deployCommand() *command {
	return &command{name: "deploy", summary: "record and list deployments", more: timeHelp, subs: []*command{
		{name: "record", args: "--service S --env E --status success|failure|pending|canceled [--sha SHA] [--at TIME] [--id ID] [--version V] [--repo R] [--rollback [--force]] [--production[=false]] [--key KEY]",
			summary: "record a deployment or a change of its status", more: timeHelp, run: runDeployRecord},
		{name: "list", args: "--service S [--since 30d | --from TIME --to TIME]", summary: "list a service's production deployments with their changes and incidents", more: timeHelp, run: runDeployList},
	}}
}

func changeCommand() *command {
	return &command{name: "change", summary: "record changes (commits) for lead time", more: timeHelp, subs: []*command{
		{name: "record", args: "(--service S | --repo R) --sha SHA [--authored-at TIME] [--merged-at TIME] [--pr N] [--opened-at TIME] [--reviewed-at TIME] [--branch B] [--path P ...] [--flag KEY ...] [--message TEXT] [--label L ...] [--key KEY]",
			summary: "record a change, optionally linked to the flags it ships behind", more: timeHelp, run: runChangeRecord},
	}}
}

func incidentCommand() *command {
	return &command{name: "incident", summary: "open and resolve incidents for change failure and recovery time", more: timeHelp, subs: []*command{
		{name: "open", args: "--service S [--id ID] [--title TEXT] [--repo OWNER/NAME] [--at TIME] [--deployment ID] [--cause-sha SHA] [--key KEY]", summary: "open an incident", more: timeHelp, run: runIncident("open")},
		{name: "resolve", args: "ID [--at TIME] [--key KEY]", summary: "resolve an incident", more: timeHelp, run: runIncident("resolve")},
	}}
}

// timeHelp explains the TIME of the delivery records' flags, and their
// --key.
const timeHelp = timeIs + ` --key makes a record idempotent: sending it again stores nothing.
`

const timeIs = `TIME is RFC 3339 with any offset (2026-03-01T14:30:00+01:00) or a date (midnight UTC);
it is stored in UTC.`

func runDeployRecord(ctx context.Context, e *cliEnv, args []string) error {
	fs := newFlagSet(e, "deploy record")
	cf := addClientFlags(e, fs)
	var in delivery.DeploymentInput
	fs.StringVar(&in.Service, "service", "", "service deployed (required)")
	fs.StringVar(&in.Environment, "env", "", "environment deployed to (required)")
	fs.StringVar(&in.SHA, "sha", "", "commit deployed")
	choiceVar(fs, &in.Status, "status", "", "`STATUS`: success, failure, pending or canceled (required)", "success", "failure", "pending", "canceled")
	at := addTime(fs, "at", "when the deployment reached --status (TIME, default now)")
	fs.StringVar(&in.ID, "id", "", "deployment ID: successive statuses of one deployment share it (default: a new one)")
	fs.StringVar(&in.Version, "version", "", "version deployed")
	fs.StringVar(&in.Repo, "repo", "", "repository (OWNER/NAME)")
	fs.BoolVar(&in.Rollback, "rollback", false, "the deployment restores an earlier version (--sha or --version of an earlier production deployment)")
	fs.BoolVar(&in.Force, "force", false, "with --rollback: store it even though its target is not an earlier production deployment")
	var prod optBoolFlag
	fs.Var(&prod, "production", "whether --env is production, for an environment Valueloop does not know (--production=false: it is not)")
	key := fs.String("key", "", "idempotency key: recording again with it stores nothing")
	if err := e.parseNoArgs(fs, args); err != nil {
		return err
	}
	if in.Service == "" || in.Environment == "" || in.Status == "" {
		return usageErrorf("deploy record: want --service, --env and --status, e.g. 'valueloop deploy record --service checkout --env production --sha 4c1e9a0 --status success'")
	}
	in.Production = prod.v
	in.At = at.t
	c, err := cf.client()
	if err != nil {
		return err
	}
	d, rec, err := c.RecordDeployment(ctx, in, *key)
	if err != nil {
		return deployFlags.rename(err)
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
	warnReceipt(e, deployFlags, rec)
	return nil
}

// warnReceipt writes the receipt's warning on stderr: the record was
// stored, but the metrics cannot use it as given (an ambiguous SHA, a
// pull request a forge recorded otherwise).
func warnReceipt(e *cliEnv, ff flagFields, r delivery.Receipt) { warn(e, ff, r.Warning) }

// warn writes w, if any, on stderr, each field it names by its flag. A
// warning about an earlier record (w.Record) names its fields by the flags
// of the command that records it again, and its field as a field: the
// flag of that name in the command run holds another value
// (TestChangeRecordObscuresWarned).
func warn(e *cliEnv, ff flagFields, w *delivery.Warning) {
	if w == nil {
		return
	}
	head, again := w.Field, ""
	if cmd, ok := recordCommands[w.Record]; ok {
		ff = cmd.flags
		if len(w.Again) > 0 {
			again = ", with valueloop " + cmd.name
		}
	}
	fmt.Fprintf(e.stderr, "warning: %s%s\n", w.Text(func(field string) string {
		if flag := ff.fields[field]; flag != "" && (w.Record == "" || field != head) {
			return flag
		}
		return field
	}), again)
}

// recordCommands are the commands that record each kind of earlier record
// a warning may be about (delivery.Warning.Record), with their flags.
var recordCommands = map[string]struct {
	name  string
	flags flagFields
}{
	"deployment": {"deploy record", deployFlags},
	"incident":   {"incident open", incidentFlags},
}

func duplicateNote(r delivery.Receipt) string {
	if r.Duplicate {
		return " It was recorded before under this --key; nothing changed."
	}
	return ""
}

func runDeployList(ctx context.Context, e *cliEnv, args []string) error {
	fs := newFlagSet(e, "deploy list")
	cf := addClientFlags(e, fs)
	service := fs.String("service", "", "service (required)")
	span := addTimeRange(fs)
	if err := e.parseNoArgs(fs, args); err != nil {
		return err
	}
	if *service == "" {
		return usageErrorf("deploy list: want --service, e.g. 'valueloop deploy list --service checkout --since 7d'")
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	q, err := span.query(false) // deployments are listed in UTC days
	if err != nil {
		return err
	}
	list, err := c.DeliveryDeployments(ctx, *service, q)
	if err != nil {
		return err
	}
	return writeList(e, cf, list, fmt.Sprintf("No production deployments of %s in this range.", *service),
		"DEPLOYED (UTC)\tENVIRONMENT\tSHA\tSTATUS\tCHANGES\tLEAD TIME (MEDIAN)\tNOTES", deploymentRow)
}

// deploymentRow is a deployment's line in deploy list: its lead time and
// what became of it.
func deploymentRow(tw io.Writer, d dora.DeploymentFacts) {
	var notes []string
	if d.Rollback {
		notes = append(notes, "rollback")
	}
	if d.RolledBack {
		notes = append(notes, "rolled back")
	}
	if d.Failed && d.Status == dora.StatusSuccess && !d.RolledBack {
		notes = append(notes, "failed")
	}
	if len(d.Incidents) > 0 {
		notes = append(notes, "incidents "+strings.Join(d.Incidents, ", "))
	}
	if !d.RecoveredAt.IsZero() {
		notes = append(notes, "recovered after "+termchart.Duration(d.RecoveredAt.Sub(d.At)))
	}
	if d.Rework {
		notes = append(notes, "rework")
	}
	if d.AmbiguousSHA {
		notes = append(notes, "ambiguous sha: names no recorded commit")
	}
	fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", d.At.Format("2006-01-02 15:04"), d.Environment, orDash(dora.ShortSHA(d.SHA)), d.Status,
		len(d.Changes), medianLead(d), strings.Join(notes, "; "))
}

// medianLead writes the median lead time of the changes d delivered, "–"
// for none.
func medianLead(d dora.DeploymentFacts) string {
	m, ok := d.MedianLeadTime()
	if !ok {
		return "–"
	}
	return termchart.Duration(m)
}

func runChangeRecord(ctx context.Context, e *cliEnv, args []string) error {
	fs := newFlagSet(e, "change record")
	cf := addClientFlags(e, fs)
	var in delivery.ChangeInput
	fs.StringVar(&in.Service, "service", "", "service the change belongs to")
	fs.StringVar(&in.Repo, "repo", "", "repository (OWNER/NAME); the catalog maps it to services")
	fs.StringVar(&in.SHA, "sha", "", "commit (required)")
	fs.StringVar(&in.PR, "pr", "", "pull or merge request number")
	fs.StringVar(&in.Branch, "branch", "", "branch")
	authored := addTime(fs, "authored-at", "when the work was committed (TIME, default --merged-at)")
	merged := addTime(fs, "merged-at", "when it reached the default branch (TIME, default now)")
	opened := addTime(fs, "opened-at", "when its pull request was opened (TIME), for the lead time breakdown")
	reviewed := addTime(fs, "reviewed-at", "when its pull request was first reviewed (TIME; needs --pr and --repo)")
	var paths, flagKeys listFlag
	fs.Var(&paths, "path", "a file the change touches, for monorepo services (repeatable)")
	fs.Var(&flagKeys, "flag", "a feature flag the change ships behind (repeatable)")
	fs.StringVar(&in.Message, "message", "", "the commit message: a line 'Feature: KEY' links the change to a feature")
	var labels listFlag
	fs.Var(&labels, "label", "a pull request label (repeatable): a feature's label links the change to it")
	key := fs.String("key", "", "idempotency key: recording again with it stores nothing")
	if err := e.parseNoArgs(fs, args); err != nil {
		return err
	}
	if in.SHA == "" || (in.Service == "" && in.Repo == "") {
		return usageErrorf("change record: want --sha and --service or --repo, e.g. 'valueloop change record --service checkout --sha 4c1e9a0'")
	}
	in.Paths, in.Flags, in.Labels, in.AuthoredAt, in.MergedAt, in.OpenedAt, in.ReviewedAt = paths, flagKeys, labels, authored.t, merged.t, opened.t, reviewed.t
	c, err := cf.client()
	if err != nil {
		return err
	}
	ch, rec, err := c.RecordChange(ctx, in, *key)
	if err != nil {
		return changeFlags.rename(err)
	}
	if cf.output == "json" {
		return writeJSONOut(e, map[string]any{"change": ch, "receipt": rec})
	}
	linked := ""
	if len(in.Flags) > 0 {
		linked = ", linked to " + strings.Join(in.Flags, ", ")
	}
	fmt.Fprintf(e.stdout, "Recorded change %s of %s, authored %s, merged %s%s.%s\n", dora.ShortSHA(ch.SHA), orDash(cmp.Or(ch.Service, ch.Repo)),
		ch.AuthoredAt.Format(time.RFC3339), ch.MergedAt.Format(time.RFC3339), linked, duplicateNote(rec))
	warnReceipt(e, changeFlags, rec)
	return nil
}

// runIncident returns incident open or resolve (sub).
func runIncident(sub string) func(ctx context.Context, e *cliEnv, args []string) error {
	return func(ctx context.Context, e *cliEnv, args []string) error {
		return incident(ctx, e, sub, args)
	}
}

func incident(ctx context.Context, e *cliEnv, sub string, args []string) error {
	fs := newFlagSet(e, "incident "+sub)
	cf := addClientFlags(e, fs)
	at := addTime(fs, "at", "when it opened or was resolved (TIME, default now)")
	key := fs.String("key", "", "idempotency key: sending again with it stores nothing")
	var in delivery.IncidentInput
	if sub == "open" {
		fs.StringVar(&in.Service, "service", "", "service affected (required)")
		fs.StringVar(&in.ID, "id", "", "incident ID (default: a new one)")
		fs.StringVar(&in.Title, "title", "", "what happened")
		fs.StringVar(&in.Repo, "repo", "", "repository (OWNER/NAME)")
		fs.StringVar(&in.DeploymentID, "deployment", "", "ID of the deployment that caused it (default: the service's latest production deployment before it opened)")
		fs.StringVar(&in.CauseSHA, "cause-sha", "", "commit that caused it")
	}
	pos, c, err := cf.parse(e, fs, args)
	if err != nil {
		return err
	}
	var inc dora.Incident
	var rec delivery.Receipt
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
	}
	if err != nil {
		return incidentFlags.rename(err)
	}
	if cf.output == "json" {
		return writeJSONOut(e, map[string]any{"incident": inc, "receipt": rec})
	}
	if sub == "open" {
		fmt.Fprintf(e.stdout, "Opened incident %s on %s at %s.%s\nResolve it with: valueloop incident resolve %s\n", inc.ID, inc.Service,
			inc.OpenedAt.Format(time.RFC3339), duplicateNote(rec), inc.ID)
	} else {
		fmt.Fprintf(e.stdout, "Resolved incident %s at %s, %s after it opened.%s\n", inc.ID, inc.ResolvedAt.Format(time.RFC3339),
			termchart.Duration(inc.ResolvedAt.Sub(inc.OpenedAt)), duplicateNote(rec))
	}
	warnReceipt(e, incidentFlags, rec)
	return nil
}
