package value

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/experiment"
)

// Objective is an outcome a team wants: the business metric it moves (one
// of the environment's metric definitions), by how much and by when.
// Features are bets on objectives.
type Objective struct {
	Key         string `json:"key"`
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
	// Environment whose metric definitions Metric names; the production
	// environment where empty.
	Environment string `json:"environment,omitempty"`
	Metric      string `json:"metric"`
	Target      Target `json:"target"`
	// Horizon is the date by which the target should be reached. The
	// stop list measures experiments against it.
	Horizon Date `json:"horizon"`

	CreatedAt time.Time `json:"createdAt,omitzero"`
	UpdatedAt time.Time `json:"updatedAt,omitzero"`
}

// Target is the move of an objective's metric aimed at: relative to today's
// level (0.10 is 10 %) unless Absolute.
type Target struct {
	Direction experiment.Direction `json:"direction"`
	Value     float64              `json:"value"`
	Absolute  bool                 `json:"absolute,omitempty"`
}

// Feature is one bet on an objective: what would be built, why it should
// move the objective's metric, what it is worth and costs, and how the
// evidence about it is recognised.
type Feature struct {
	Key        string     `json:"key"`
	Title      string     `json:"title"`
	Objective  string     `json:"objective"`
	Hypothesis Hypothesis `json:"hypothesis"`
	// Estimate is the team's guess of value and size; nil while nobody has
	// estimated it (the feature is then listed as unranked).
	Estimate *Estimate `json:"estimate,omitempty"`
	Links    Links     `json:"links"`
	// DependsOn names features that must be done first. Cycles are refused.
	DependsOn []string `json:"dependsOn,omitempty"`

	CreatedAt time.Time `json:"createdAt,omitzero"`
	UpdatedAt time.Time `json:"updatedAt,omitzero"`
}

// Hypothesis is the feature's bet in the usual form: "We believe <Change>
// for <For> will result in <Outcome>; we will know when <Metric> moves by
// <MinimumEffect signed by Direction>". Metric, MinimumEffect and Direction mean
// what they mean in a flag's experiment.Hypothesis, which a linked flag's
// experiment uses to decide (see Experiment).
type Hypothesis struct {
	Change        string               `json:"change"`
	For           string               `json:"for,omitempty"`
	Outcome       string               `json:"outcome,omitempty"`
	Metric        string               `json:"metric,omitempty"`
	MinimumEffect float64              `json:"minimumEffect,omitempty"`
	Direction     experiment.Direction `json:"direction,omitempty"`
	Absolute      bool                 `json:"absolute,omitempty"`
}

// Statement writes the hypothesis in its usual form.
func (h Hypothesis) Statement() string {
	var b strings.Builder
	b.WriteString("We believe " + h.Change)
	if h.For != "" {
		b.WriteString(" for " + h.For)
	}
	if h.Outcome != "" {
		b.WriteString(" will result in " + h.Outcome)
	}
	if h.Metric != "" {
		// Signed by its direction: a decrease of 10 % reads "-10%", not
		// "+10% in the decrease direction".
		fmt.Fprintf(&b, "; we will know when %s moves by %s", h.Metric, fmtEffect(h.Direction.Sign()*h.MinimumEffect, !h.Absolute))
	}
	return b.String()
}

// FromExperiment gives the feature hypothesis a flag's experiment hypothesis
// states, so that a flag hypothesis stored before features existed is
// reached through the feature that links the flag.
func FromExperiment(h *experiment.Hypothesis) Hypothesis {
	return Hypothesis{Change: h.Statement, Metric: h.PrimaryMetric, MinimumEffect: h.MinimumEffect,
		Direction: h.Direction, Absolute: h.Absolute}
}

// Experiment returns the experiment hypothesis of a flag that tests the
// feature: base (the flag's own, with its guardrails and settings, or nil)
// with the primary metric, minimum effect, direction and statement taken
// from the feature when it states them.
func (h Hypothesis) Experiment(base *experiment.Hypothesis) *experiment.Hypothesis {
	out := experiment.NewHypothesis()
	if base != nil {
		c := *base
		out = &c
	}
	if h.Metric != "" {
		out.PrimaryMetric, out.MinimumEffect, out.Direction, out.Absolute = h.Metric, h.MinimumEffect, h.Direction, h.Absolute
	}
	if s := h.Statement(); h.Change != "" && out.Statement == "" {
		out.Statement = s
	}
	return out
}

// Version identifies f's definition, its times aside: the ETag of GET
// /api/v1/features/{key}, which a PUT's If-Match names to write only over
// what it read (two people editing one feature would otherwise each write
// back the other's field as they read it). A hash of the definition, so it
// needs no column and a write that changes nothing keeps it.
func (f *Feature) Version() string {
	c := *f
	c.CreatedAt, c.UpdatedAt = time.Time{}, time.Time{}
	return versionOf(c)
}

// Version identifies o's definition, its times aside, as Feature.Version
// does a feature's: the ETag of GET /api/v1/objectives/{key}.
func (o *Objective) Version() string {
	c := *o
	c.CreatedAt, c.UpdatedAt = time.Time{}, time.Time{}
	return versionOf(c)
}

func versionOf(definition any) string {
	b, _ := json.Marshal(definition) // objectives and features always encode: their fields are plain data
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// ValidVersion reports whether v has the form of a Version.
func ValidVersion(v string) bool {
	_, err := hex.DecodeString(v)
	return len(v) == 16 && err == nil
}

// AnyVersion is the version condition of If-Match: *, which any stored
// version meets (and no version when nothing is stored).
const AnyVersion = "*"

// VersionMatches reports whether a definition at version now meets cond,
// the versions a write expects as If-Match lists them: AnyVersion, or one
// or more versions joined by "," (any of which matches).
func VersionMatches(cond, now string) bool {
	return cond == AnyVersion || slices.Contains(strings.Split(cond, ","), now)
}

// Estimate is the team's estimate of a feature's value and size. WSJF reads
// CostOfDelay and Size; RICE reads Reach, Impact and Size (as effort). Both
// read Confidence, the team's own belief that the bet pays off, which the
// objective's record of verdicts then corrects (see Rank).
type Estimate struct {
	CostOfDelay *CostOfDelay `json:"costOfDelay,omitempty"`
	// Size is the job size (or effort, for RICE) in the team's unit: story
	// points, person-weeks. 0 means not estimated.
	Size float64 `json:"size,omitempty"`
	// Confidence is the prior probability that the hypothesis will be
	// validated, in (0, 1]; nil means not given (0.5: no opinion). A
	// pointer, so that a confidence of 0 is refused rather than read as
	// not given.
	Confidence *float64 `json:"confidence,omitempty"`
	// Reach: users affected per period, for RICE. Impact: 0.25 (minimal),
	// 0.5, 1, 2 or 3 (massive), for RICE.
	Reach  float64 `json:"reach,omitempty"`
	Impact float64 `json:"impact,omitempty"`
}

// CostOfDelay is SAFe's cost of delay, each part on the team's relative
// scale (1–20 in SAFe's modified Fibonacci; anything from 0 to MaxScore).
type CostOfDelay struct {
	UserValue       float64 `json:"userValue"`
	TimeCriticality float64 `json:"timeCriticality"`
	// RiskReduction is risk reduction and/or opportunity enablement.
	RiskReduction float64 `json:"riskReduction"`
}

// Total is the cost of delay: the sum of its parts.
func (c CostOfDelay) Total() float64 { return c.UserValue + c.TimeCriticality + c.RiskReduction }

// Limits of estimates. MinSize and MaxReach keep next's score, value ×
// confidence × effect / size, finite: at most 1e12 × 3 × 1 × 3 / 0.001 for
// RICE. Beyond them it overflowed to +Inf, which JSON cannot write.
const (
	MaxScore = 100   // largest part of a cost of delay
	MaxSize  = 1000  // largest size
	MinSize  = 0.001 // smallest size other than 0 (not estimated)
	MaxReach = 1e12  // largest RICE reach: users per period, more than there are
)

// DefaultConfidence is the prior probability of validation when the team
// gives none: no opinion either way.
const DefaultConfidence = 0.5

// Links say where a feature's evidence comes from.
type Links struct {
	Flags    []FlagLink `json:"flags,omitempty"`
	Services []string   `json:"services,omitempty"`
	// Changes say how a change is recognised as the feature's: a commit or
	// pull request trailer "Feature: KEY" always; a pull request label and
	// branch prefixes when given.
	Changes ChangeRule `json:"changes,omitzero"`
}

// FlagLink is a flag that ships the feature in one environment. Variant is
// the treatment that carries the feature; empty means every variant but
// the flag's default.
type FlagLink struct {
	Environment string `json:"environment"`
	Flag        string `json:"flag"`
	Variant     string `json:"variant,omitempty"`
}

// ChangeRule recognises a feature's changes beyond the "Feature: KEY"
// trailer.
type ChangeRule struct {
	Labels         []string `json:"labels,omitempty"`
	BranchPrefixes []string `json:"branchPrefixes,omitempty"`
}

// Date is a calendar day, written "2027-03-31" in JSON and YAML.
type Date struct{ time.Time }

// ParseDate reads "2006-01-02".
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(time.DateOnly, s)
	return Date{t}, err
}

// End is the last instant of the day, UTC: a horizon includes its day.
func (d Date) End() time.Time { return d.Time.AddDate(0, 0, 1).Add(-time.Nanosecond) }

func (d Date) String() string {
	if d.IsZero() {
		return ""
	}
	return d.Format(time.DateOnly)
}

// MarshalJSON writes the day, or null.
func (d Date) MarshalJSON() ([]byte, error) {
	if d.IsZero() {
		return []byte("null"), nil
	}
	return []byte(`"` + d.String() + `"`), nil
}

// UnmarshalJSON reads "2006-01-02" (an RFC 3339 time is cut to its day).
func (d *Date) UnmarshalJSON(b []byte) error {
	s := string(b)
	if s == "null" {
		*d = Date{}
		return nil
	}
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
		return fmt.Errorf("want a date such as \"2027-03-31\", got %s", s)
	}
	s = s[1 : len(s)-1]
	if len(s) > 10 && s[10] == 'T' {
		s = s[:10]
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return fmt.Errorf("want a date such as \"2027-03-31\", got %q", s)
	}
	*d = Date{t}
	return nil
}

var keyPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,99}$`)

// ValidKey reports whether key has the form of an objective's or a
// feature's key (what a list's cursor must be).
func ValidKey(key string) bool { return keyPattern.MatchString(key) }

func checkKey(field, key string) error {
	if !keyPattern.MatchString(key) {
		return valueloop.FieldErrorf(field, "must be 1 to 100 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit; got %q", valueloop.Clip(key))
	}
	return nil
}

// checkText checks a text of up to max bytes: line breaks and tabs are
// the only control characters it may hold (see valueloop.CheckControl for
// why any are refused; the CLI escapes them as well, other clients may not).
func checkText(field, s string, required bool, max int) error {
	return valueloop.CheckControl(field, s, required, max, func(r rune) bool { return r != '\n' && r != '\t' })
}

// checkTitle checks a title: one line of up to 200 bytes, no control
// characters at all (a list prints one title per row).
func checkTitle(field, s string) error {
	return valueloop.CheckControl(field, s, true, 200, func(rune) bool { return true })
}

// Context is what validation checks names against: the environments with
// their metric keys and flag keys, and the objectives that exist.
type Context struct {
	// Production is the environment an objective without one measures in.
	Production string
	Metrics    map[string][]string // environment → metric keys
	Flags      map[string][]string // environment → flag keys
	Objectives []string
}

func (c *Context) environments() []string {
	var out []string
	for env := range c.Metrics {
		out = append(out, env)
	}
	for env := range c.Flags {
		if !slices.Contains(out, env) {
			out = append(out, env)
		}
	}
	slices.Sort(out)
	return out
}

func (c *Context) hasEnvironment(env string) bool {
	_, m := c.Metrics[env]
	_, f := c.Flags[env]
	return m || f
}

// Validate checks o against c; the error names the field and the problem.
func (o *Objective) Validate(c *Context) error {
	if err := checkKey("key", o.Key); err != nil {
		return err
	}
	if err := checkTitle("title", o.Title); err != nil {
		return err
	}
	if err := checkText("description", o.Description, false, 4000); err != nil {
		return err
	}
	env := o.Environment
	if env == "" {
		env = c.Production
	}
	if !c.hasEnvironment(env) {
		return valueloop.FieldErrorf("environment", "no environment %q (have %s)", env, list(c.environments()))
	}
	if o.Metric == "" {
		return valueloop.FieldErrorf("metric", "required: the key of the business metric the objective moves (see 'valueloop metrics list --env %s')", env)
	}
	if !slices.Contains(c.Metrics[env], o.Metric) {
		return valueloop.FieldErrorf("metric", "no metric %q in environment %s (have %s)", o.Metric, env, list(c.Metrics[env]))
	}
	if err := checkDirection("target.direction", o.Target.Direction, false); err != nil {
		return err
	}
	if !(o.Target.Value > 0) || math.IsInf(o.Target.Value, 0) {
		return valueloop.FieldErrorf("target.value", "must be a positive number (the move aimed at, in the target's direction), got %v", o.Target.Value)
	}
	if o.Horizon.IsZero() {
		return valueloop.FieldErrorf("horizon", "required: the date by which the target should be reached, such as \"2027-03-31\"")
	}
	return nil
}

func checkDirection(field string, d experiment.Direction, optional bool) error {
	switch {
	case d == experiment.Increase, d == experiment.Decrease, d == "" && optional:
		return nil
	}
	return valueloop.FieldErrorf(field, "must be %q or %q, got %q", experiment.Increase, experiment.Decrease, d)
}

// Validate checks f alone against c: its fields, that its objective exists,
// that its metric and flags exist in their environments, estimates in
// range, no duplicate in its lists. Checks across features (a flag, label
// or branch prefix claimed twice, dependency cycles) are ValidateAll's.
func (f *Feature) Validate(c *Context) error {
	if err := checkKey("key", f.Key); err != nil {
		return err
	}
	if err := checkTitle("title", f.Title); err != nil {
		return err
	}
	if f.Objective == "" {
		return valueloop.FieldErrorf("objective", "required: the key of the objective the feature is a bet on")
	}
	if !slices.Contains(c.Objectives, f.Objective) {
		return valueloop.FieldErrorf("objective", "no objective %q (have %s)", f.Objective, list(c.Objectives))
	}
	if err := f.Hypothesis.validate(c); err != nil {
		return err
	}
	if f.Estimate != nil {
		if err := f.Estimate.validate(); err != nil {
			return err
		}
	}
	for _, l := range []struct {
		field string
		n     int
	}{{"links.flags", len(f.Links.Flags)}, {"links.services", len(f.Links.Services)}, {"links.changes.labels", len(f.Links.Changes.Labels)},
		{"links.changes.branchPrefixes", len(f.Links.Changes.BranchPrefixes)}, {"dependsOn", len(f.DependsOn)}} {
		if l.n > MaxLinks {
			return valueloop.FieldErrorf(l.field, "lists %d items, want at most %d", l.n, MaxLinks)
		}
	}
	if err := f.Links.validate(c); err != nil {
		return err
	}
	seen := map[string]bool{}
	for i, d := range f.DependsOn {
		field := fmt.Sprintf("dependsOn[%d]", i)
		switch {
		case d == f.Key:
			return valueloop.FieldErrorf(field, "a feature cannot depend on itself")
		case seen[d]:
			return valueloop.FieldErrorf(field, "%q is listed twice", d)
		}
		if err := checkKey(field, d); err != nil {
			return err
		}
		seen[d] = true
	}
	return nil
}

func (h *Hypothesis) validate(c *Context) error {
	if err := checkText("hypothesis.change", h.Change, true, 1000); err != nil {
		return err
	}
	for _, t := range []struct{ field, s string }{{"hypothesis.for", h.For}, {"hypothesis.outcome", h.Outcome}} {
		if err := checkText(t.field, t.s, false, 1000); err != nil {
			return err
		}
	}
	if h.Metric == "" {
		if h.MinimumEffect != 0 {
			return valueloop.FieldErrorf("hypothesis.metric", "required when a minimum effect is given: the metric that will move")
		}
		return nil
	}
	known := false
	var all []string
	for _, env := range c.environments() {
		known = known || slices.Contains(c.Metrics[env], h.Metric)
		all = append(all, c.Metrics[env]...)
	}
	if !known {
		slices.Sort(all)
		return valueloop.FieldErrorf("hypothesis.metric", "no metric %q in any environment (have %s)", h.Metric, list(slices.Compact(all)))
	}
	if !(h.MinimumEffect > 0) || math.IsInf(h.MinimumEffect, 0) {
		return valueloop.FieldErrorf("hypothesis.minimumEffect", "must be a positive number (the smallest move worth shipping), got %v", h.MinimumEffect)
	}
	return checkDirection("hypothesis.direction", h.Direction, true)
}

func (e *Estimate) validate() error {
	if c := e.CostOfDelay; c != nil {
		parts := []struct {
			field string
			v     float64
		}{{"userValue", c.UserValue}, {"timeCriticality", c.TimeCriticality}, {"riskReduction", c.RiskReduction}}
		for _, p := range parts {
			if !(p.v >= 0 && p.v <= MaxScore) {
				return valueloop.FieldErrorf("estimate.costOfDelay."+p.field, "must be between 0 and %d, got %v", MaxScore, p.v)
			}
		}
		if c.Total() == 0 {
			return valueloop.FieldErrorf("estimate.costOfDelay", "at least one part must be positive: a feature whose delay costs nothing is not worth ranking")
		}
	}
	switch {
	case !(e.Size >= 0 && e.Size <= MaxSize):
		return valueloop.FieldErrorf("estimate.size", "must be a positive number up to %d, got %v", MaxSize, e.Size)
	case e.Size > 0 && e.Size < MinSize:
		return valueloop.FieldErrorf("estimate.size", "must be a number from %g up to %d, got %v", MinSize, MaxSize, e.Size)
	case e.Confidence != nil && *e.Confidence == 0:
		return valueloop.FieldErrorf("estimate.confidence", "must be a probability in (0, 1], got 0: leave it out for no opinion (0.5)")
	case e.Confidence != nil && !(*e.Confidence > 0 && *e.Confidence <= 1):
		return valueloop.FieldErrorf("estimate.confidence", "must be a probability in (0, 1], got %v", *e.Confidence)
	case !(e.Reach >= 0 && e.Reach <= MaxReach):
		return valueloop.FieldErrorf("estimate.reach", "must be zero or a positive number of users, at most %g, got %v", MaxReach, e.Reach)
	case !(e.Impact >= 0 && e.Impact <= 3):
		return valueloop.FieldErrorf("estimate.impact", "must be between 0.25 (minimal) and 3 (massive), got %v", e.Impact)
	case e.Impact > 0 && e.Impact < 0.25:
		return valueloop.FieldErrorf("estimate.impact", "must be between 0.25 (minimal) and 3 (massive), got %v", e.Impact)
	}
	return nil
}

var labelPattern = regexp.MustCompile(`^[^\s,][^,\n]{0,99}$`)

func (l *Links) validate(c *Context) error {
	seen := map[FlagLink]bool{}
	envFlag := map[[2]string]int{}
	for i, fl := range l.Flags {
		field := fmt.Sprintf("links.flags[%d]", i)
		if fl.Environment == "" {
			return valueloop.FieldErrorf(field+".environment", "required (have %s)", list(c.environments()))
		}
		if !c.hasEnvironment(fl.Environment) {
			return valueloop.FieldErrorf(field+".environment", "no environment %q (have %s)", fl.Environment, list(c.environments()))
		}
		if fl.Flag == "" {
			return valueloop.FieldErrorf(field+".flag", "required: the key of a flag in %s", fl.Environment)
		}
		if !slices.Contains(c.Flags[fl.Environment], fl.Flag) {
			return valueloop.FieldErrorf(field+".flag", "no flag %q in environment %s", fl.Flag, fl.Environment)
		}
		if err := valueloop.CheckLine(field+".variant", fl.Variant); err != nil {
			return err
		}
		k := [2]string{fl.Environment, fl.Flag}
		if j, ok := envFlag[k]; ok || seen[fl] {
			return valueloop.FieldErrorf(field+".flag", "flag %s in %s is already linked as links.flags[%d]", fl.Flag, fl.Environment, j)
		}
		envFlag[k] = i
		seen[fl] = true
	}
	for i, s := range l.Services {
		field := fmt.Sprintf("links.services[%d]", i)
		if strings.TrimSpace(s) == "" || len(s) > 200 {
			return valueloop.FieldErrorf(field, "must be a service name of 1 to 200 bytes, got %q", valueloop.Clip(s))
		}
		if err := valueloop.CheckLine(field, s); err != nil {
			return err
		}
		if slices.Contains(l.Services[:i], s) {
			return valueloop.FieldErrorf(field, "service %q is listed twice", s)
		}
	}
	for i, s := range l.Changes.Labels {
		field := fmt.Sprintf("links.changes.labels[%d]", i)
		if err := valueloop.CheckLine(field, s); err != nil {
			return err
		}
		if !labelPattern.MatchString(s) {
			return valueloop.FieldErrorf(field, "must be a pull request label of 1 to 100 characters without commas, got %q", valueloop.Clip(s))
		}
		if slices.ContainsFunc(l.Changes.Labels[:i], func(x string) bool { return strings.EqualFold(x, s) }) {
			return valueloop.FieldErrorf(field, "label %q is listed twice", s)
		}
	}
	for i, p := range l.Changes.BranchPrefixes {
		field := fmt.Sprintf("links.changes.branchPrefixes[%d]", i)
		if err := valueloop.CheckLine(field, p); err != nil {
			return err
		}
		if len(p) < 3 || len(p) > 200 || strings.ContainsAny(p, " \t\n~^:?*[\\") {
			return valueloop.FieldErrorf(field, "must be a branch name prefix of 3 to 200 characters (such as \"feature/onboarding-\"), got %q", valueloop.Clip(p))
		}
		for j, q := range l.Changes.BranchPrefixes[:i] {
			if strings.HasPrefix(p, q) || strings.HasPrefix(q, p) {
				return valueloop.FieldErrorf(field, "prefix %q overlaps links.changes.branchPrefixes[%d] %q", p, j, q)
			}
		}
	}
	return nil
}

// ValidateAll checks objectives and features as one set (a file to apply,
// say): each alone against c (with the set's objectives added to c's), then
// what only the set shows: keys used twice, a flag, label or branch prefix
// claimed by two features (a change or an exposure would not know which
// feature it proves), dependencies on unknown features and dependency
// cycles. Fields are named "objectives[1].metric", "features[3].links...".
func ValidateAll(c Context, objectives []Objective, features []Feature) error {
	return ValidateAmong(c, objectives, features, len(features))
}

// ValidateAmong is ValidateAll of a set whose features after the first
// written are stored ones, checked only with the set: a rule added since
// one of them was stored (a title without control characters) is its own
// problem, met when it is next written, and would otherwise refuse every
// write of every other feature.
func ValidateAmong(c Context, objectives []Objective, features []Feature, written int) error {
	c.Objectives = slices.Clone(c.Objectives)
	okeys := map[string]int{}
	for i := range objectives {
		o := &objectives[i]
		if err := o.Validate(&c); err != nil {
			return valueloop.PrefixField(fmt.Sprintf("objectives[%d].", i), err)
		}
		if j, ok := okeys[o.Key]; ok {
			return valueloop.FieldErrorf(fmt.Sprintf("objectives[%d].key", i), "objective %q is already defined as objectives[%d]", o.Key, j)
		}
		okeys[o.Key] = i
		if !slices.Contains(c.Objectives, o.Key) {
			c.Objectives = append(c.Objectives, o.Key)
		}
	}
	fkeys := map[string]int{}
	flagOwner := map[[2]string]string{}
	labelOwner := map[string]string{}
	type prefix struct{ p, owner string }
	var prefixes []prefix
	for i := range features {
		f := &features[i]
		at := fmt.Sprintf("features[%d].", i)
		if i >= written {
			// Stored: checked with the set below only.
		} else if err := f.Validate(&c); err != nil {
			return valueloop.PrefixField(at, err)
		}
		if j, ok := fkeys[f.Key]; ok {
			return valueloop.FieldErrorf(at+"key", "feature %q is already defined as features[%d]", f.Key, j)
		}
		fkeys[f.Key] = i
		for j, fl := range f.Links.Flags {
			k := [2]string{fl.Environment, fl.Flag}
			if other, ok := flagOwner[k]; ok {
				return valueloop.FieldErrorf(fmt.Sprintf("%slinks.flags[%d].flag", at, j), "flag %s in %s is already linked to feature %q", fl.Flag, fl.Environment, other)
			}
			flagOwner[k] = f.Key
		}
		for j, l := range f.Links.Changes.Labels {
			k := strings.ToLower(l)
			if other, ok := labelOwner[k]; ok {
				return valueloop.FieldErrorf(fmt.Sprintf("%slinks.changes.labels[%d]", at, j), "label %q already recognises changes of feature %q", l, other)
			}
			labelOwner[k] = f.Key
		}
		for j, p := range f.Links.Changes.BranchPrefixes {
			for _, q := range prefixes {
				if strings.HasPrefix(p, q.p) || strings.HasPrefix(q.p, p) {
					return valueloop.FieldErrorf(fmt.Sprintf("%slinks.changes.branchPrefixes[%d]", at, j), "prefix %q overlaps prefix %q of feature %q", p, q.p, q.owner)
				}
			}
			prefixes = append(prefixes, prefix{p, f.Key})
		}
	}
	for i := range features {
		for j, d := range features[i].DependsOn {
			if _, ok := fkeys[d]; !ok {
				return valueloop.FieldErrorf(fmt.Sprintf("features[%d].dependsOn[%d]", i, j), "no feature %q in the set", d)
			}
		}
	}
	if cycle := dependencyCycle(features); cycle != nil {
		i := fkeys[cycle[0]]
		return valueloop.FieldErrorf(fmt.Sprintf("features[%d].dependsOn", i), "dependency cycle: %s", strings.Join(cycle, " → "))
	}
	return nil
}

// dependencyCycle returns one cycle of the features' dependencies (its
// first key repeated at the end), or nil. Depth-first, in the features'
// order, so the cycle reported is the same for the same input.
func dependencyCycle(features []Feature) []string {
	deps := map[string][]string{}
	for _, f := range features {
		deps[f.Key] = f.DependsOn
	}
	const (
		unseen = iota
		open
		closed
	)
	state := map[string]int{}
	var stack []string
	var visit func(k string) []string
	visit = func(k string) []string {
		state[k] = open
		stack = append(stack, k)
		for _, d := range deps[k] {
			switch state[d] {
			case open:
				i := slices.Index(stack, d)
				return append(slices.Clone(stack[i:]), d)
			case unseen:
				if c := visit(d); c != nil {
					return c
				}
			}
		}
		stack = stack[:len(stack)-1]
		state[k] = closed
		return nil
	}
	for _, f := range features {
		if state[f.Key] == unseen {
			if c := visit(f.Key); c != nil {
				return c
			}
		}
	}
	return nil
}

func list(keys []string) string {
	if len(keys) == 0 {
		return "none"
	}
	if len(keys) > 12 {
		return strings.Join(keys[:12], ", ") + fmt.Sprintf(" and %d more", len(keys)-12)
	}
	return strings.Join(keys, ", ")
}

// fmtEffect writes an effect: relative as a signed percentage, absolute as
// a signed number.
func fmtEffect(x float64, relative bool) string {
	if relative {
		return fmt.Sprintf("%+.3g%%", 100*x)
	}
	return fmt.Sprintf("%+.3g", x)
}
