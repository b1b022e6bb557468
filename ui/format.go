package ui

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/experiment"
	"github.com/valueloop/valueloop/jsondiff"
	"github.com/valueloop/valueloop/stats"
	"github.com/valueloop/valueloop/termchart"
	"github.com/valueloop/valueloop/value"
)

// The layouts the dashboard writes a time in, each written once so that a
// table, a chart's axis and its tooltips say a moment alike.
const (
	dayLayout   = "Jan 2"                // a chart's day or week
	shortLayout = "Jan 2 15:04"          // a moment on a chart or in a short list
	whenLayout  = "2006-01-02 15:04 UTC" // a moment in full, for the record
)

// funcs are the helpers templates may call.
func (u *UI) funcs() template.FuncMap {
	return template.FuncMap{
		"asset": func(name string) string { return u.assetURL[name] },
		// root starts every link and form action of a template
		// (href="{{root}}/flags"): the path the dashboard is mounted
		// under behind a proxy, empty at the root.
		"root":     func() string { return u.PathPrefix },
		"pct":      pct,
		"p100":     func(x float64) string { return pct(x / 100) },
		"inc":      func(i int) int { return i + 1 },
		"title":    func(s string) string { return strings.ToUpper(s[:1]) + s[1:] },
		"weeks":    func() int { return weeks },
		"lift":     lift,
		"ivl":      intervalText,
		"deciding": experiment.Inference.Deciding,
		"shown":    shownEffect,
		"pval":     valueloop.FormatP,
		"chance":   valueloop.FormatChance,
		"num":      num,
		"fig":      fig,
		"score":    score,
		"thous":    valueloop.GroupDigits,
		"count":    count,
		"dur":      humanDuration,
		"when":     func(t time.Time) string { return t.UTC().Format(whenLayout) },
		"at":       at,
		"day":      dayTime,
		"ago":      func(t time.Time) template.HTML { return ago(t, u.Now()) },
		"label":    label,
		"jsonval":  jsonValue,
		"cmd":      command,
		// credited: a cause that already says who (an audited flag
		// change, "stated by ana") needs no byline after it.
		"credited": func(cause, actor string) bool { return strings.Contains(cause, " by "+actor) },
	}
}

// command writes a command to type as the sign-in hint does, in a
// <code class="cmd">, each option with its value kept whole (.nw) where a
// phone's screen breaks it between words: "--size" and its "N" stay
// together.
func command(c string) template.HTML {
	parts := strings.Split(c, " --")
	var b strings.Builder
	b.WriteString(`<code class="cmd">`)
	b.WriteString(template.HTMLEscapeString(parts[0]))
	for _, p := range parts[1:] {
		b.WriteString(` <span class="nw">--` + template.HTMLEscapeString(p) + `</span>`)
	}
	b.WriteString(`</code>`)
	return template.HTML(b.String())
}

// at writes a moment as every page writes it, the date, time and zone
// ("2026-12-04 16:23 UTC"), in a <time> that gives it to a machine too.
// Before, the deployments and incidents said "Dec 4 16:23" with no zone
// and no year beside tables that said "2026-12-04 16:23 UTC".
func at(t time.Time) template.HTML {
	return template.HTML(fmt.Sprintf(`<time datetime="%s">%s</time>`, t.UTC().Format(time.RFC3339), t.UTC().Format(whenLayout)))
}

// dayTime writes a day as a chart's table does ("2026-12-04"), in its own
// zone, in a <time>. The delivery and value pages wrote their ranges
// "Mon 26 Oct" and "Oct 26, 2026".
func dayTime(t time.Time) template.HTML {
	d := t.Format(time.DateOnly)
	return template.HTML(fmt.Sprintf(`<time datetime="%s">%s</time>`, d, d))
}

// ago writes how long ago a moment was ("3h10m ago", "6h ago"; past a day
// in whole days, "35 days ago", where it said "35d0h ago"), where how recent it is
// matters more than when, with the moment as at writes it in its title. A
// moment ahead of the clock (another source's clock) is "in 5m".
func ago(t, now time.Time) template.HTML {
	return template.HTML(fmt.Sprintf(`<time datetime="%s" title="%s">%s</time>`, t.UTC().Format(time.RFC3339), t.UTC().Format(whenLayout), sinceText(now.Sub(t))))
}

func sinceText(d time.Duration) string {
	s := humanDuration(d)
	if h, ok := strings.CutSuffix(s, "h00m"); ok {
		s = h + "h" // "6h ago", not "6h00m ago"
	}
	if days := d.Abs() / (24 * time.Hour); days >= 1 {
		s = valueloop.Count(int64(days), "day")
	}
	if d.Round(time.Second) < 0 {
		return "in " + s
	}
	return s + " ago"
}

func itoa(n int) string { return strconv.Itoa(n) }

// count is valueloop.Count for a template's integers, whatever their type:
// {{count .Users "user"}} is "1 user" or "12,345 users".
func count(n any, noun string) (string, error) {
	v := reflect.ValueOf(n)
	for v.Kind() == reflect.Pointer && !v.IsNil() {
		v = v.Elem()
	}
	switch {
	case v.CanInt():
		return valueloop.Count(v.Int(), noun), nil
	case v.CanUint() && v.Uint() <= math.MaxInt64:
		return valueloop.Count(int64(v.Uint()), noun), nil
	}
	return "", fmt.Errorf("count: %v (%T) is not an integer", n, n)
}

func pct(x float64) string {
	v := math.Round(x*1000) / 10
	if v == 0 {
		v = 0 // no "-0%"
	}
	return strconv.FormatFloat(v, 'f', -1, 64) + "%"
}

func signedPct(x float64) string {
	s := pct(x)
	if math.Round(x*1000) > 0 {
		s = "+" + s
	}
	return s
}

// lift writes a measured relative change (a lift, a guardrail's change,
// their intervals' bounds) as the CLI writes it ('experiment results'
// LIFT, 'rollout status' CHANGE), with the same termchart.Lift: signed, to
// one decimal whatever the figure, so that a column reads alike (+1.0% and
// +0.0% beside +21.9%, where signedPct wrote +1% and 0%). Axis ticks keep
// signedPct's +10%.
var lift = termchart.Lift

// figures are how a figure is written, a relative one (a lift) or one in
// the metric's units: tick on an axis (+10%), fig in tables and tooltips
// (+1.0%).
func figures(relative bool) (tick, fig func(float64) string) {
	if relative {
		return signedPct, lift
	}
	return num, num
}

// intervalText writes an interval as "lower to upper", relative ones as
// lifts; an unbounded side (a one-sided test's, held as 0
// and a flag) is -∞ or +∞, as the CLI writes it.
func intervalText(iv stats.Interval, relative bool) string {
	_, f := figures(relative)
	return intervalSide(iv.LowerUnbounded, "-∞", iv.Lower, f) + " to " + intervalSide(iv.UpperUnbounded, "+∞", iv.Upper, f)
}

// score writes a rank's score, or its confidence or effect, as its
// arithmetic and 'valueloop next' do: at most two decimals (1.97, not num's
// 1.969), and a figure too small for them with two significant digits
// (0.0005, not 0).
func score(x float64) string { return value.Figure(x) }

func num(x float64) string { return strconv.FormatFloat(x, 'g', 4, 64) }

// fig writes a figure people set (an estimate: a reach of 12000 users, a
// size of 0.001) or one made of them: in full, never in exponent notation
// as num does past four digits ("1.2e+04"), and without a product's float
// noise (four decimals at most; below one, four significant digits, so
// that a valid confidence or reach of 0.00001 does not read 0). It agrees
// with next's arithmetic beside it (value's num) on whole numbers and up
// to two decimals; past those it writes more digits than that line does
// (a size of 1.2345 there reads 1.23), and never its exponent (1.5e-07).
func fig(x float64) string {
	if a := math.Abs(x); a != 0 && a < 1 {
		x, _ = strconv.ParseFloat(strconv.FormatFloat(x, 'g', 4, 64), 64)
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return strconv.FormatFloat(math.Round(x*1e4)/1e4+0, 'f', -1, 64)
}

// humanDuration says a duration the way the terminal views do (3d4h,
// 2h10m, 45s), whichever way it points.
func humanDuration(d time.Duration) string {
	return termchart.Duration(d.Abs())
}

// jsonText writes v as JSON the way it was typed: not escaped for HTML
// (json.Marshal writes & < > as \u0026 \u003c \u003e), since the
// templates escape what they show; indent "" writes one line.
func jsonText(v any, indent string) (string, error) {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", indent)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

func jsonValue(v any) string {
	s, err := jsonText(v, "")
	if err != nil {
		return fmt.Sprint(v)
	}
	return s
}

func indentJSON(v any) string {
	s, _ := jsonText(v, "  ")
	return s
}

// prettyJSON indents stored JSON as it is, numbers and key order
// included: decoded, a number beyond float64's 53 bits (a user id in a
// rule) would be shown rounded, and an edit form saved so.
func prettyJSON(raw []byte) string {
	var b bytes.Buffer
	if json.Indent(&b, raw, "", "  ") != nil {
		return string(raw)
	}
	return b.String()
}

// diffLine is one operation of an audit entry's diff, for people.
type diffLine struct {
	Op, Path, From, Value string
}

// auditDiff says what an audit entry changed, as JSON Pointer operations.
func auditDiff(before, after []byte) []diffLine {
	ops, err := jsondiff.Diff(before, after)
	if err != nil {
		return nil
	}
	out := make([]diffLine, 0, len(ops))
	for _, op := range ops {
		line := diffLine{Op: op.Op, Path: op.Path}
		if op.Op != "add" {
			line.From = clip(jsonValue(op.From))
		}
		if op.Op != "remove" {
			line.Value = clip(jsonValue(op.Value))
		}
		out = append(out, line)
	}
	return out
}

// clip shortens s to about 160 bytes, never within a character.
func clip(s string) string { return clipTo(s, 160) }

// clipTo cuts s to at most n bytes, "…" included, between characters.
func clipTo(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// readableTargeting says a JsonLogic targeting rule in words, one line per
// branch: "if email ends with "@valueloop.dev" → serve "on"".
func readableTargeting(raw []byte) []string {
	if len(raw) == 0 || string(raw) == "null" || string(raw) == "{}" {
		return nil
	}
	// Numbers are kept as written (json.Number): a float64 would say a
	// user id beyond 53 bits rounded, and a million as 1e+06.
	var rule any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&rule); err != nil {
		return []string{string(raw)}
	}
	m, ok := rule.(map[string]any)
	if ok {
		if args, ok := m["if"].([]any); ok {
			var out []string
			for len(args) >= 2 {
				out = append(out, "if "+logic(args[0])+" → serve "+serve(args[1]))
				args = args[2:]
			}
			if len(args) == 1 {
				out = append(out, "otherwise → serve "+serve(args[0]))
			} else {
				out = append(out, "otherwise → the default variant")
			}
			return out
		}
	}
	return []string{"serve " + serve(rule)}
}

func serve(v any) string {
	if v == nil {
		return "the default variant"
	}
	if m, ok := v.(map[string]any); ok {
		if _, ok := m["fractional"]; ok {
			return logic(v)
		}
		if _, ok := m["if"]; ok {
			return "(" + strings.Join(readableTargeting(mustJSON(v)), "; ") + ")"
		}
	}
	return logic(v)
}

func mustJSON(v any) []byte { b, _ := json.Marshal(v); return b }

var infix = map[string]string{
	"==": "is", "===": "is", "!=": "is not", "!==": "is not", "<": "<", "<=": "≤", ">": ">", ">=": "≥",
	"in": "in", "starts_with": "starts with", "ends_with": "ends with",
}

// logic renders one JsonLogic expression.
func logic(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return strconv.Quote(x)
	case json.Number:
		return x.String()
	case float64, bool:
		return fmt.Sprint(x)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = logic(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any:
		if len(x) != 1 {
			return jsonValue(x)
		}
		for op, a := range x {
			args, _ := a.([]any)
			if args == nil {
				args = []any{a}
			}
			switch op {
			case "var":
				return fmt.Sprint(args[0])
			case "and", "or":
				parts := make([]string, len(args))
				for i, e := range args {
					parts[i] = logic(e)
				}
				return "(" + strings.Join(parts, " "+op+" ") + ")"
			case "!":
				return "not " + logic(args[0])
			case "sem_ver":
				if len(args) == 3 {
					return logic(args[0]) + " " + fmt.Sprint(args[1]) + " version " + logic(args[2])
				}
			case "fractional":
				return fractional(args)
			case "$ref":
				return "the shared rule " + logic(args[0])
			}
			if word, ok := infix[op]; ok && len(args) == 2 {
				if op == "in" {
					if _, isList := args[1].([]any); !isList {
						return logic(args[1]) + " contains " + logic(args[0])
					}
				}
				return logic(args[0]) + " " + word + " " + logic(args[1])
			}
			return op + jsonValue(a)
		}
	}
	return jsonValue(v)
}

// floats turns the json.Numbers in v into float64s, as encoding/json
// decodes them by default (what experiment.StaticSplit reads).
func floats(v any) any {
	switch x := v.(type) {
	case json.Number:
		f, _ := x.Float64()
		return f
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = floats(e)
		}
		return out
	}
	return v
}

// fractional says a fractional split in words, largest share first, with
// the weights read as the evaluator and the experiment analysis read them.
func fractional(args []any) string {
	by := "targetingKey"
	if len(args) > 0 {
		if _, isBucket := args[0].([]any); !isBucket {
			by = logic(args[0])
		}
	}
	weights, ok := experiment.StaticSplit(floats(args).([]any))
	total := 0.0
	for _, w := range weights {
		total += w
	}
	if !ok || total == 0 {
		return "a fractional split"
	}
	names := make([]string, 0, len(weights))
	for n := range weights {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		if weights[names[i]] != weights[names[j]] {
			return weights[names[i]] > weights[names[j]]
		}
		return names[i] < names[j]
	})
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = fmt.Sprintf("%q %s", n, pct(weights[n]/total))
	}
	return "split by " + by + ": " + strings.Join(out, ", ")
}
