package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/client"
	"github.com/valueloop/valueloop/delivery"
	"github.com/valueloop/valueloop/dora"
	"github.com/valueloop/valueloop/termchart"
)

// deliveryRecordCommand is `valueloop delivery record`: corrections of
// stored changes, deployments, incident snapshots and reviews.
func deliveryRecordCommand() *command {
	return &command{name: "record", summary: "list, show, edit and delete stored changes, deployments, incidents and reviews (corrections, audited)", more: recordHelp, subs: []*command{
		{name: "list", args: "changes|deployments|incidents|reviews [--service S] [--repo R] [--id ID] [--limit N] [--cursor C]", summary: "list stored records, newest first, with their numbers, a page at a time", more: recordHelp, run: runRecordList},
		{name: "show", args: "KIND NUMBER", summary: "show one stored record as JSON", more: recordHelp, run: runRecordShow},
		{name: "edit", args: "KIND NUMBER --set FIELD=VALUE ... [--force] [--reason TEXT]", summary: "correct fields of a stored record", more: recordHelp, run: runRecordEdit},
		{name: "delete", args: "KIND NUMBER [--reason TEXT]", summary: "delete a stored record", more: recordHelp, run: runRecordDelete},
	}}
}

const recordHelp = `KIND is changes, deployments, incidents or reviews; NUMBER is the record's number from 'list'.
A deployment or incident ID has one record per status or snapshot: correct the one that is wrong.
Reviews (pull request reviews, merge request approvals: the first of a request ends its pickup
stage) name a repository and a pull request, not a service: list them with --repo and --id PR.
--set takes the record's JSON field names (see 'show'): --set authoredAt=2026-03-01T09:00:00Z,
--set rollback=false, --set resolvedAt=null. A value that is JSON (a number, true, false, null)
is taken as such; anything else as a string. Times are RFC 3339 or a date (midnight UTC).
A deployment marked rollback must restore an earlier successful production deployment of its
service (its sha or version); --force stores it anyway. Edits and deletions are in the audit
trail with --reason.
`

// checkRecordKind refuses a kind of record there is not, with the one
// meant when one is close.
func checkRecordKind(path, kind string) error {
	err := delivery.CheckRecordKind(kind)
	if err == nil {
		return nil
	}
	kinds := []string{delivery.RecordChanges, delivery.RecordDeployments, delivery.RecordIncidents, delivery.RecordReviews}
	return usageErrorf("%s: %s%s", path, valueloop.ErrorMessage(err), suggestion(kind, "", kinds))
}

// recordArgs reads KIND NUMBER.
func recordArgs(path string, pos []string) (string, int64, error) {
	if len(pos) != 2 {
		return "", 0, usageErrorf("%s: want a kind and a record number, e.g. 'valueloop %s deployments 12'", path, path)
	}
	if err := checkRecordKind(path, pos[0]); err != nil {
		return "", 0, err
	}
	n, err := strconv.ParseInt(pos[1], 10, 64)
	if err != nil || n < 1 {
		return "", 0, usageErrorf("%s: record number %q is not a positive integer", path, pos[1])
	}
	return pos[0], n, nil
}

// recordTarget parses the flags and KIND NUMBER of a command on one record,
// runs check (when given) on the parsed flags, and only then opens the client,
// so that usage errors come before connection errors.
func recordTarget(e *cliEnv, fs *flag.FlagSet, cf *clientFlags, path string, args []string, check func() error) (string, int64, *client.Client, error) {
	pos, err := e.parseArgs(fs, args)
	if err != nil {
		return "", 0, nil, err
	}
	kind, n, err := recordArgs(path, pos)
	if err != nil {
		return "", 0, nil, err
	}
	if check != nil {
		if err := check(); err != nil {
			return "", 0, nil, err
		}
	}
	c, err := cf.client()
	if err != nil {
		return "", 0, nil, err
	}
	return kind, n, c, nil
}

func runRecordList(ctx context.Context, e *cliEnv, args []string) error {
	fs := newFlagSet(e, "delivery record list")
	cf := addClientFlags(e, fs)
	service := fs.String("service", "", "only records naming this service")
	repo := fs.String("repo", "", "only records of this repository")
	id := fs.String("id", "", "a change's sha, a deployment's or an incident's ID, a review's pull request")
	limit := fs.Int("limit", delivery.DefaultRecordPage, fmt.Sprintf("at most this many (1 to %d)", delivery.MaxRecordPage))
	cursor := fs.String("cursor", "", "the page after the one that printed this cursor")
	pos, err := e.parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageErrorf("delivery record list: want a kind, e.g. 'valueloop delivery record list deployments --service shop'")
	}
	if err := checkRecordKind("delivery record list", pos[0]); err != nil {
		return err
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	q := url.Values{"limit": {strconv.Itoa(*limit)}}
	for k, v := range map[string]string{"service": *service, "repo": *repo, "id": *id, "cursor": *cursor} {
		if v != "" {
			q.Set(k, v)
		}
	}
	page, err := c.DeliveryRecords(ctx, pos[0], q)
	if err != nil {
		return err
	}
	if cf.output == "json" {
		err = writeJSONOut(e, page.Records)
	} else {
		writeRecords(e, pos[0], page.Records)
	}
	if page.NextCursor != "" {
		// On stderr: the records on stdout stay a list (or a table) alone.
		fmt.Fprintf(e.stderr, "More records: add --cursor %s for the next page.\n", page.NextCursor)
	}
	return err
}

// writeRecords prints records as a table of the fields that matter for
// their kind.
func writeRecords(e *cliEnv, kind string, list []delivery.Record) {
	tw := termchart.NewTable(e.stdout)
	ts := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return utcTime(t)
	}
	from := func(r delivery.Record) string { return r.Source + "/" + r.Delivery }
	switch kind {
	case delivery.RecordChanges:
		fmt.Fprintln(tw, "RECORD\tSERVICE\tREPO\tSHA\tPR\tAUTHORED (UTC)\tMERGED (UTC)\tFROM")
		for _, r := range list {
			c := r.Change
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Record, orDash(c.Service), orDash(c.Repo), dora.ShortSHA(c.SHA), orDash(c.PR), ts(c.AuthoredAt), ts(c.MergedAt), from(r))
		}
	case delivery.RecordDeployments:
		fmt.Fprintln(tw, "RECORD\tSERVICE\tID\tENVIRONMENT\tSHA\tSTATUS\tAT (UTC)\tROLLBACK\tFROM")
		for _, r := range list {
			d := r.Deployment
			env := d.Environment
			if d.Production {
				env += " (production)"
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%v\t%s\n", r.Record, orDash(cmp.Or(d.Service, d.Repo)), d.ID, env, orDash(dora.ShortSHA(d.SHA)), d.Status, ts(d.At), d.Rollback, from(r))
		}
	case delivery.RecordReviews:
		fmt.Fprintln(tw, "RECORD\tREPO\tPR\tAT (UTC)\tFROM")
		for _, r := range list {
			v := r.Review
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", r.Record, v.Repo, v.PR, ts(v.At), from(r))
		}
	default:
		fmt.Fprintln(tw, "RECORD\tSERVICE\tID\tOPENED (UTC)\tRESOLVED (UTC)\tVOID\tTITLE\tFROM")
		for _, r := range list {
			i := r.Incident
			resolved := "-"
			if i.ResolvedAt != nil {
				resolved = ts(*i.ResolvedAt)
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%v\t%s\t%s\n", r.Record, orDash(cmp.Or(i.Service, i.Repo)), i.ID, ts(i.OpenedAt), resolved, i.Void, orDash(i.Title), from(r))
		}
	}
	tw.Flush()
}

func runRecordShow(ctx context.Context, e *cliEnv, args []string) error {
	fs := newFlagSet(e, "delivery record show")
	cf := addClientFlags(e, fs)
	kind, n, c, err := recordTarget(e, fs, cf, "delivery record show", args, nil)
	if err != nil {
		return err
	}
	r, err := c.DeliveryRecord(ctx, kind, n)
	if err != nil {
		return err
	}
	return writeJSONOut(e, r)
}

// editFlags names an edit's fields as 'delivery record edit' sets them.
var editFlags = flagFields{fields: map[string]string{
	"change.sha": "--set sha", "deployment.sha": "--set sha", "incident.causeSha": "--set causeSha",
}}

func runRecordEdit(ctx context.Context, e *cliEnv, args []string) error {
	fs := newFlagSet(e, "delivery record edit")
	cf := addClientFlags(e, fs)
	var sets listFlag
	fs.Var(&sets, "set", "FIELD=VALUE to change (repeatable)")
	force := fs.Bool("force", false, "store a rollback whose target is not an earlier production deployment")
	reason := fs.String("reason", "", "why, for the audit trail")
	kind, n, c, err := recordTarget(e, fs, cf, "delivery record edit", args, func() error {
		if len(sets) == 0 {
			return usageErrorf("delivery record edit: nothing to change: give --set FIELD=VALUE, e.g. --set authoredAt=2026-03-01T09:00:00Z")
		}
		return nil
	})
	if err != nil {
		return err
	}
	r, err := c.DeliveryRecord(ctx, kind, n)
	if err != nil {
		return err
	}
	if err := applySets(&r, sets); err != nil {
		return err
	}
	out, warning, err := c.EditDeliveryRecord(ctx, r, *force, *reason)
	if err != nil {
		return err
	}
	if cf.output == "json" {
		return writeJSONOut(e, delivery.Edited{Record: out, Warning: warning})
	}
	writeRecords(e, kind, []delivery.Record{out})
	fmt.Fprintf(e.stderr, "Corrected %s record %d.\n", strings.TrimSuffix(kind, "s"), n)
	warn(e, editFlags, warning)
	return nil
}

// applySets changes the fields of r's record that sets name (FIELD=VALUE),
// refusing a field the record does not have. A value is taken as a string
// where the field is one, else as JSON when it is JSON.
func applySets(r *delivery.Record, sets []string) error {
	var cur any
	switch {
	case r.Change != nil:
		cur = r.Change
	case r.Deployment != nil:
		cur = r.Deployment
	case r.Incident != nil:
		cur = r.Incident
	case r.Review != nil:
		cur = r.Review
	default:
		return fmt.Errorf("record %d carries no %s", r.Record, r.Kind)
	}
	b, err := json.Marshal(cur)
	if err != nil {
		return err
	}
	fields := map[string]json.RawMessage{}
	if err := json.Unmarshal(b, &fields); err != nil {
		return err
	}
	for _, s := range sets {
		name, value, ok := strings.Cut(s, "=")
		if !ok || name == "" {
			return usageErrorf("delivery record edit: --set %q: want FIELD=VALUE", s)
		}
		ft := fieldType(cur, name)
		switch {
		case ft == reflect.TypeFor[time.Time]() && value != "null":
			// Read as --at and the other time flags read theirs, so the
			// error names the field and the forms a time may take.
			t, err := delivery.ParseTime("--set "+name, value)
			if ve := (*valueloop.Error)(nil); errors.As(err, &ve) {
				return usageErrorf("delivery record edit: %s: %s", ve.Field, ve.Message)
			}
			fields[name], _ = json.Marshal(t)
		case (ft != nil && ft.Kind() == reflect.String && value != "null") || !json.Valid([]byte(value)):
			fields[name], _ = json.Marshal(value)
		default:
			fields[name] = json.RawMessage(value)
		}
	}
	b, _ = json.Marshal(fields)
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	// Decode into fresh values, so that a field set to null is cleared.
	switch {
	case r.Change != nil:
		r.Change = &dora.Change{}
		err = dec.Decode(r.Change)
	case r.Deployment != nil:
		r.Deployment = &dora.Deployment{}
		err = dec.Decode(r.Deployment)
	case r.Review != nil:
		r.Review = &dora.Review{}
		err = dec.Decode(r.Review)
	default:
		r.Incident = &dora.Incident{}
		err = dec.Decode(r.Incident)
	}
	if err != nil {
		return usageErrorf("delivery record edit: --set: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	return nil
}

// fieldType is the type (a pointer's element type) of the JSON field name
// of the struct v points to; nil when it has none.
func fieldType(v any, name string) reflect.Type {
	t := reflect.TypeOf(v).Elem()
	for i := range t.NumField() {
		f := t.Field(i)
		if tag, _, _ := strings.Cut(f.Tag.Get("json"), ","); tag == name {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			return ft
		}
	}
	return nil
}

func runRecordDelete(ctx context.Context, e *cliEnv, args []string) error {
	fs := newFlagSet(e, "delivery record delete")
	cf := addClientFlags(e, fs)
	reason := fs.String("reason", "", "why, for the audit trail")
	kind, n, c, err := recordTarget(e, fs, cf, "delivery record delete", args, nil)
	if err != nil {
		return err
	}
	if err := c.DeleteDeliveryRecord(ctx, kind, n, *reason); err != nil {
		return err
	}
	return done(e, cf, map[string]any{"deleted": n, "kind": kind}, fmt.Sprintf("Deleted %s record %d.", strings.TrimSuffix(kind, "s"), n))
}

// utcTime writes t as the lists write times, to the second in UTC under a
// column headed "(UTC)": 2026-03-01 12:00:00.
func utcTime(t time.Time) string {
	return t.UTC().Format(time.DateTime)
}
