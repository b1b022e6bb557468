package ui

import (
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/flagd"
	"github.com/valueloop/valueloop/flags"
)

// envTab is one environment in the flags page's tabs.
type envTab struct {
	Key, Name string
	Current   bool
	File      string // the flagd file it is served from; read-only
}

// envTabs lists the environments the session of r may read, by key.
func (u *UI) envTabs(r *http.Request, current string) []envTab {
	var tabs []envTab
	for k, l := range u.Flags.Environments() {
		if !sessionOf(r).Token.CanRead(k) {
			continue
		}
		tabs = append(tabs, envTab{Key: k, Name: l.Environment.Name, Current: k == current, File: u.FlagFiles[k]})
	}
	sort.Slice(tabs, func(i, j int) bool { return tabs[i].Key < tabs[j].Key })
	return tabs
}

// liveEnv returns the environment of the path, checking the session may
// read it.
func (u *UI) liveEnv(r *http.Request) (*flags.Live, error) {
	env := r.PathValue("env")
	if !sessionOf(r).Token.CanRead(env) {
		return nil, valueloop.Errorf(valueloop.EFORBIDDEN, "your token may not read environment %q", env)
	}
	live := u.Flags.Live(env)
	if live == nil {
		return nil, valueloop.Errorf(valueloop.ENOTFOUND, "there is no environment %q", env)
	}
	return live, nil
}

func (u *UI) handleFlagsIndex(w http.ResponseWriter, r *http.Request) error {
	tabs := u.envTabs(r, "")
	for _, t := range tabs {
		if t.Key == "production" {
			u.redirect(w, r, "/flags/production")
			return nil
		}
	}
	if len(tabs) == 0 {
		u.renderError(w, r, nil, http.StatusNotFound, "There are no environments yet.")
		return nil
	}
	u.redirect(w, r, "/flags/"+url.PathEscape(tabs[0].Key))
	return nil
}

type flagRow struct {
	Key, State, Default, Type string
	Variants                  int
	Targeted                  bool
	Rollout                   string
	Experiment                bool
}

type flagListData struct {
	Env      *flags.Live
	Tabs     []envTab
	File     string
	Query    string
	Flags    []flagRow
	Total    int
	Pager    pager
	CanWrite bool
}

func (u *UI) handleFlagList(w http.ResponseWriter, r *http.Request) error {
	live, err := u.liveEnv(r)
	if err != nil {
		return err
	}
	env := live.Environment.Key
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	rollouts := map[string]string{}
	if u.Rollouts != nil {
		if list, err := u.Rollouts.List(r.Context(), rolloutFilter(env)); err == nil {
			for _, ro := range list {
				rollouts[ro.Plan.Flag] = pct(ro.Percent/100) + " " + label(string(ro.State))
			}
		}
	}
	experiments := map[string]bool{}
	if u.Experiments != nil {
		if refs, err := u.Experiments.HypothesisFlags(r.Context()); err == nil {
			for _, ref := range refs {
				if ref.Environment == env {
					experiments[ref.Flag] = true
				}
			}
		}
	}
	set := live.Snapshot.Set()
	d := flagListData{Env: live, Tabs: u.envTabs(r, env), File: u.FlagFiles[env], Query: q, Total: len(set.Flags),
		CanWrite: u.FlagFiles[env] == "" && sessionOf(r).CanChange(env)}
	for _, k := range slices.Sorted(maps.Keys(set.Flags)) {
		f := set.Flags[k]
		if q != "" && !strings.Contains(strings.ToLower(k), strings.ToLower(q)) {
			continue
		}
		row := flagRow{Key: k, State: f.State, Variants: len(f.Variants), Targeted: len(f.Targeting) > 0 && string(f.Targeting) != "{}",
			Rollout: rollouts[k], Experiment: experiments[k], Type: variantType(f)}
		if f.DefaultVariant != nil {
			row.Default = *f.DefaultVariant
		}
		d.Flags = append(d.Flags, row)
	}
	pg, lo, hi, err := paginate(r, len(d.Flags), flagsPage, "flag")
	if err != nil {
		return err
	}
	d.Pager, d.Flags = pg, d.Flags[lo:hi]
	u.render(w, r, http.StatusOK, "flags", page{Title: "Flags · " + live.Environment.Name, Nav: "flags", Data: d})
	return nil
}

// flagsPage is how many flags a page of the list shows.
const flagsPage = 50

func label(s string) string { return strings.ReplaceAll(s, "_", " ") }

func variantType(f *valueloop.Flag) string {
	for _, v := range f.Variants {
		switch v.(type) {
		case bool:
			return "boolean"
		case string:
			return "string"
		case float64, int, int64:
			return "number"
		default:
			return "object"
		}
	}
	return ""
}

type variantRow struct {
	Name, Value string
	Default     bool
	Exposures   int64
}

// auditPage is how many changes a page of a flag's audit trail lists, the
// latest first.
const auditPage = 20

type auditRow struct {
	valueloop.AuditEntry
	Diff []diffLine
}

// Record names what a change of the whole entry changed: the flag, its
// rollout, its hypothesis (the action's first word).
func (a auditRow) Record() string {
	kind, _, _ := strings.Cut(a.Action, ".")
	return kind
}

type flagData struct {
	Env       *flags.Live
	Key       string
	Flag      *valueloop.Flag
	File      string
	Variants  []variantRow
	Targeting []string
	RawTarget string
	// Counted: the exposures are counted (false while the first count
	// from the event log runs: the figures would read 0).
	Counted    bool
	Chart      template.HTML
	ChartNote  string
	ChartTable []dayRow
	Audit      []auditRow
	AuditPager pager
	CanWrite   bool
	Rollout    bool
	Experiment bool
}

type dayRow struct {
	Day    time.Time
	Counts []int64
}

func (u *UI) handleFlag(w http.ResponseWriter, r *http.Request) error {
	live, err := u.liveEnv(r)
	if err != nil {
		return err
	}
	env, key := live.Environment.Key, r.PathValue("key")
	f, ok := live.Snapshot.Set().Flags[key]
	if !ok {
		return valueloop.Errorf(valueloop.ENOTFOUND, "there is no flag %q in %s", key, env)
	}
	ctx := r.Context()
	d := flagData{Env: live, Key: key, Flag: f, File: u.FlagFiles[env], RawTarget: prettyJSON(f.Targeting),
		Targeting: readableTargeting(f.Targeting), CanWrite: u.FlagFiles[env] == "" && sessionOf(r).CanChange(env)}
	byDay, complete, err := u.exposuresByDay(ctx, env, key)
	if err != nil {
		return err
	}
	names := slices.Sorted(maps.Keys(f.Variants))
	for _, n := range names {
		row := variantRow{Name: n, Value: jsonValue(f.Variants[n]), Default: f.DefaultVariant != nil && *f.DefaultVariant == n}
		for _, c := range byDay[n] {
			row.Exposures += c
		}
		d.Variants = append(d.Variants, row)
	}
	d.Chart, d.ChartTable = exposureChart(key, names, byDay)
	d.Counted = complete || u.Events == nil
	if !d.Counted {
		d.ChartNote = "The exposures are being counted from the event log; they show on the next refresh."
	}
	if u.Rollouts != nil {
		if _, err := u.Rollouts.Status(ctx, env, key); err == nil {
			d.Rollout = true
		}
	}
	if u.Experiments != nil {
		if h, err := u.Experiments.Hypothesis(ctx, env, key); err == nil && h != nil {
			d.Experiment = true
		}
	}
	trail := valueloop.AuditFilter{Environment: env, Target: key}
	pg, lo, hi, err := storePage(r, func(upTo int) (int, error) { return u.Audit.CountAudit(ctx, trail, upTo) }, auditPage, "change")
	if err != nil {
		return err
	}
	d.AuditPager = pg
	trail.Offset, trail.Limit = lo, hi-lo
	var entries []valueloop.AuditEntry
	if hi > lo { // a Limit of 0 is the store's default
		if entries, err = u.Audit.Audit(ctx, trail); err != nil {
			return err
		}
	}
	for _, e := range entries {
		d.Audit = append(d.Audit, auditRow{AuditEntry: e, Diff: auditDiff(e.Before, e.After)})
	}
	u.render(w, r, http.StatusOK, "flag", page{Title: key + " · " + live.Environment.Name, Nav: "flags", Refresh: 60, Data: d})
	return nil
}

// exposureChart draws exposures per day per variant, and the same figures
// as a table.
func exposureChart(flag string, variants []string, byDay map[string]map[time.Time]int64) (template.HTML, []dayRow) {
	daySet := map[time.Time]bool{}
	for _, m := range byDay {
		for d := range m {
			daySet[d] = true
		}
	}
	days := slices.SortedFunc(maps.Keys(daySet), func(a, b time.Time) int { return a.Compare(b) })
	var ss []series
	for _, v := range variants {
		s := series{Name: v}
		for _, d := range days {
			s.Points = append(s.Points, point{T: d, Y: float64(byDay[v][d])})
		}
		ss = append(ss, s)
	}
	var rows []dayRow
	for _, d := range days {
		row := dayRow{Day: d}
		for _, v := range variants {
			row.Counts = append(row.Counts, byDay[v][d])
		}
		rows = append(rows, row)
	}
	chart := lineChart(chartSpec{Title: "Exposures of " + flag + " per day, by variant (" + strings.Join(variants, ", ") + ")",
		YTitle: "exposures per day", Series: ss, Days: true, YFmt: func(y float64) string { return valueloop.GroupDigits(int64(y)) }})
	return chart, rows
}

// editData is the flag edit form: the values as typed and the problems
// found, by field.
type editData struct {
	Env      *flags.Live
	Key      string
	Version  int64
	State    string
	Default  string
	Variants string
	Target   string
	Reason   string
	Errors   map[string]string
	Other    []string
}

func (u *UI) writableEnv(r *http.Request) (*flags.Live, error) {
	live, err := u.liveEnv(r)
	if err != nil {
		return nil, err
	}
	if file := u.FlagFiles[live.Environment.Key]; file != "" {
		return nil, valueloop.Errorf(valueloop.ECONFLICT, "environment %q is served from the flags file %s: change the file, not the dashboard", live.Environment.Key, file)
	}
	return live, nil
}

func (u *UI) handleEditFlagPage(w http.ResponseWriter, r *http.Request) error {
	live, err := u.writableEnv(r)
	if err != nil {
		return err
	}
	key := r.PathValue("key")
	f, ok := live.Snapshot.Set().Flags[key]
	if !ok {
		return valueloop.Errorf(valueloop.ENOTFOUND, "there is no flag %q", key)
	}
	d := editData{Env: live, Key: key, Version: f.Version, State: f.State, Variants: indentJSON(f.Variants), Target: prettyJSON(f.Targeting)}
	if f.DefaultVariant != nil {
		d.Default = *f.DefaultVariant
	}
	u.render(w, r, http.StatusOK, "edit", page{Title: "Edit " + key, Nav: "flags", Data: d})
	return nil
}

// handleEditFlag validates the form as the API validates a definition
// (flagd.ParseFlag) and stores it; problems go back next to their fields
// and nothing is changed.
func (u *UI) handleEditFlag(w http.ResponseWriter, r *http.Request) error {
	live, err := u.writableEnv(r)
	if err != nil {
		return err
	}
	key := r.PathValue("key")
	d := editData{Env: live, Key: key, State: r.PostFormValue("state"), Default: strings.TrimSpace(r.PostFormValue("defaultVariant")),
		Variants: r.PostFormValue("variants"), Target: r.PostFormValue("targeting"), Reason: r.PostFormValue("reason"), Errors: map[string]string{}}
	d.Version, _ = strconv.ParseInt(r.PostFormValue("version"), 10, 64)
	if d.Version < 1 {
		d.Version = -1 // any version: the form came without one
	}
	def := map[string]json.RawMessage{"state": mustJSON(d.State)}
	if d.Default != "" {
		def["defaultVariant"] = mustJSON(d.Default)
	}
	if !json.Valid([]byte(d.Variants)) {
		d.Errors["variants"] = "must be a JSON object of variant names and values, such as {\"on\": true, \"off\": false}"
	} else {
		def["variants"] = json.RawMessage(d.Variants)
	}
	if t := strings.TrimSpace(d.Target); t != "" {
		if !json.Valid([]byte(t)) {
			d.Errors["targeting"] = "must be a JsonLogic rule in JSON, or empty for none"
		} else {
			def["targeting"] = json.RawMessage(t)
		}
	}
	// The form shows no metadata: the flag keeps its own (a change since
	// the form was loaded is refused by the version).
	if cur := live.Snapshot.Set().Flags[key]; cur != nil && len(cur.Metadata) > 0 {
		def["metadata"] = mustJSON(cur.Metadata)
	}
	if len(d.Errors) == 0 {
		f, err := flagd.ParseFlag("form", key, mustJSON(def))
		if err == nil {
			err = valueloop.CheckReason("reason", d.Reason) // one line of the audit trail, as over the API
		}
		if err == nil {
			f.Key = key
			_, err = u.Flags.PutFlag(r.Context(), live.Environment.Key, f, d.Version, sessionOf(r).Token.Name, d.Reason)
		}
		if err == nil {
			u.redirectDone(w, r, flagURL(live.Environment.Key, key), "Saved "+key+".")
			return nil
		}
		if code := valueloop.ErrorCode(err); code != valueloop.EINVALID && code != valueloop.ECONFLICT {
			return err
		}
		// Changed since the form was loaded: what changed, and the form
		// again at the version now, so that saving again replaces it.
		if valueloop.ErrorCode(err) == valueloop.ECONFLICT && d.Version > 0 {
			if msg, now, ok := u.changedMeanwhile(r, live.Environment.Key, key, d.Version, "Not saved"); ok {
				d.Version, err = now.Version, valueloop.Errorf(valueloop.ECONFLICT, "%s Save again to replace it with the values below, or open the flag's page to see it as it is.", msg)
			}
		}
		fieldErrors(err, d.Errors, &d.Other)
	}
	u.render(w, r, http.StatusUnprocessableEntity, "edit", page{Title: "Edit " + key, Nav: "flags", Data: d})
	return nil
}

// formFields are the edit form's fields, as validation paths name them.
var formFields = []string{"defaultVariant", "variants", "targeting", "state", "reason"}

// fieldErrors sorts the problems of a validation error to the form fields
// they concern; the rest go to other.
func fieldErrors(err error, byField map[string]string, other *[]string) {
	add := func(path, msg string) {
		for _, f := range formFields {
			if strings.Contains(path, f) {
				if byField[f] != "" {
					byField[f] += "; "
				}
				byField[f] += msg
				return
			}
		}
		*other = append(*other, msg)
	}
	var ve *valueloop.ValidationError
	var e *valueloop.Error
	switch {
	case errors.As(err, &ve):
		for _, p := range ve.Problems {
			add(p.Path, p.Message)
		}
	case errors.As(err, &e):
		add(e.Field, valueloop.ErrorMessage(err))
	default:
		*other = append(*other, valueloop.ErrorMessage(err))
	}
}

func flagURL(env, key string) string {
	return "/flags/" + url.PathEscape(env) + "/" + url.PathEscape(key)
}

type stateData struct {
	Env     *flags.Live
	Key     string
	To      string
	Version int64
	// Reason and ReasonError: the reason as typed and what is wrong with
	// it, when the change was refused for it.
	Reason, ReasonError string
}

// title names the change the confirm step asks for, as its heading does.
func (d stateData) title() string {
	verb := "Enable "
	if d.To == valueloop.StateDisabled {
		verb = "Disable "
	}
	return verb + d.Key + " in " + d.Env.Environment.Name + "?"
}

// handleStatePage is the kill switch's confirm step: it names the flag,
// the environment and the new state, and posts the change.
func (u *UI) handleStatePage(w http.ResponseWriter, r *http.Request) error {
	live, err := u.writableEnv(r)
	if err != nil {
		return err
	}
	key, to := r.PathValue("key"), r.URL.Query().Get("to")
	f, ok := live.Snapshot.Set().Flags[key]
	if !ok {
		return valueloop.Errorf(valueloop.ENOTFOUND, "there is no flag %q", key)
	}
	if to != valueloop.StateEnabled && to != valueloop.StateDisabled {
		return valueloop.FieldErrorf("to", "must be ENABLED or DISABLED")
	}
	d := stateData{Env: live, Key: key, To: to, Version: f.Version}
	u.render(w, r, http.StatusOK, "state", page{Title: d.title(), Nav: "flags", Data: d})
	return nil
}

func (u *UI) handleSetState(w http.ResponseWriter, r *http.Request) error {
	live, err := u.writableEnv(r)
	if err != nil {
		return err
	}
	key, to := r.PathValue("key"), r.PostFormValue("to")
	if to != valueloop.StateEnabled && to != valueloop.StateDisabled {
		return valueloop.FieldErrorf("to", "must be ENABLED or DISABLED")
	}
	version, _ := strconv.ParseInt(r.PostFormValue("version"), 10, 64)
	if version == 0 {
		version = -1
	}
	if err := valueloop.CheckReason("reason", r.PostFormValue("reason")); err != nil {
		// One line of the audit trail, as over the API. The confirm step
		// again, with the problem next to the field and the reason as
		// typed: a kill switch refused for a tab pasted in its reason must
		// not leave the person on an error page. A flag this node does not
		// have has no confirm step (404, as handleStatePage answers).
		if _, ok := live.Snapshot.Set().Flags[key]; !ok {
			return valueloop.Errorf(valueloop.ENOTFOUND, "there is no flag %q", key)
		}
		d := stateData{Env: live, Key: key, To: to, Version: version, Reason: r.PostFormValue("reason"), ReasonError: valueloop.ErrorMessage(err)}
		u.render(w, r, http.StatusUnprocessableEntity, "state", page{Title: d.title(), Nav: "flags", Data: d})
		return nil
	}
	verb := "Enabled"
	if to == valueloop.StateDisabled {
		verb = "Disabled"
	}
	if _, err := u.Flags.SetState(r.Context(), live.Environment.Key, key, to, version, sessionOf(r).Token.Name, r.PostFormValue("reason")); err != nil {
		if valueloop.ErrorCode(err) == valueloop.ECONFLICT && version > 0 {
			if msg, now, ok := u.changedMeanwhile(r, live.Environment.Key, key, version, "Not "+strings.ToLower(verb)); ok {
				msg += " It is " + now.State + " now, as shown below: make your change again if it still applies."
				u.redirectNotice(w, r, flagURL(live.Environment.Key, key), msg)
				return nil
			}
		}
		return err
	}
	u.redirectDone(w, r, flagURL(live.Environment.Key, key), verb+" "+key+" in "+live.Environment.Key+".")
	return nil
}

// changedMeanwhile says, for a change of flag key posted from a page that
// showed version seen, that it was not made (not, "Not disabled") and what
// changed since: the changes the audit trail holds (up to three, newest
// first, who, how, why, what); now is the flag as it is. ok is false when
// the flag is not at another version (the conflict is of another kind, a
// read-only environment) or gone.
func (u *UI) changedMeanwhile(r *http.Request, env, key string, seen int64, not string) (msg string, now *valueloop.Flag, ok bool) {
	live := u.Flags.Live(env)
	if live == nil {
		return "", nil, false
	}
	cur := live.Snapshot.Set().Flags[key]
	if cur == nil || cur.Version == seen {
		return "", nil, false
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s changed since you loaded the page (version %d then, %d now).", not, key, seen, cur.Version)
	entries, err := u.Audit.Audit(r.Context(), valueloop.AuditFilter{Environment: env, Target: key, Limit: int(max(min(cur.Version-seen, 3), 1))})
	if err == nil {
		for _, e := range entries {
			fmt.Fprintf(&b, " %s by %s at %s", e.Action, e.Actor, e.At.UTC().Format(whenLayout))
			if e.Reason != "" {
				fmt.Fprintf(&b, " (“%s”)", valueloop.Clip(e.Reason))
			}
			var what []string
			for _, d := range auditDiff(e.Before, e.After) {
				if d.Path != "" && len(what) < 3 {
					what = append(what, fmt.Sprintf("%s %s → %s", strings.TrimPrefix(d.Path, "/"), valueloop.Clip(d.From), valueloop.Clip(d.Value)))
				}
			}
			if len(what) > 0 {
				fmt.Fprintf(&b, ": %s", strings.Join(what, ", "))
			}
			b.WriteString(".")
		}
	}
	return b.String(), cur, true
}
