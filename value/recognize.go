package value

import (
	"regexp"
	"slices"
	"sort"
	"strings"
)

// Trailer is the commit and pull request trailer that names the feature a
// change belongs to: a line "Feature: KEY" (several lines for several
// features), in the style of git's "Co-authored-by:".
const Trailer = "Feature"

var trailerLine = regexp.MustCompile(`(?im)^[ \t]*feature:[ \t]*([a-z0-9][a-z0-9._-]{0,99})[ \t]*\r?$`)

// ChangeText is what a change says about itself: the commit message (or a
// pull request's description), its labels and its branch.
type ChangeText struct {
	Message string
	Labels  []string
	Branch  string
}

// Recognizer finds the features a change belongs to. Build it once from
// the features with NewRecognizer; it is safe for concurrent use.
type Recognizer struct {
	keys     map[string]bool
	labels   map[string]string // lower-case label → feature
	prefixes []prefixRule      // longest first
}

type prefixRule struct{ prefix, feature string }

// NewRecognizer indexes the features' keys, labels and branch prefixes.
// Where two features claim one label or overlapping prefixes (which
// ValidateAll refuses) the first feature in key order wins.
func NewRecognizer(features []Feature) *Recognizer {
	r := &Recognizer{keys: map[string]bool{}, labels: map[string]string{}}
	sorted := slices.Clone(features)
	slices.SortFunc(sorted, func(a, b Feature) int { return strings.Compare(a.Key, b.Key) })
	for _, f := range sorted {
		r.keys[f.Key] = true
		for _, l := range f.Links.Changes.Labels {
			if _, ok := r.labels[strings.ToLower(l)]; !ok {
				r.labels[strings.ToLower(l)] = f.Key
			}
		}
		for _, p := range f.Links.Changes.BranchPrefixes {
			r.prefixes = append(r.prefixes, prefixRule{p, f.Key})
		}
	}
	sort.SliceStable(r.prefixes, func(i, j int) bool { return len(r.prefixes[i].prefix) > len(r.prefixes[j].prefix) })
	return r
}

// Match returns the keys of the features c belongs to, in key order, each
// once, with how each was recognised ("trailer", "label", "branch"): a
// trailer naming a known feature, a label a feature claims, the longest
// branch prefix a feature claims. A trailer naming no known feature is
// ignored: a typo must not create work.
func (r *Recognizer) Match(c ChangeText) []Match {
	var out []Match
	add := func(key, by string) {
		for _, m := range out {
			if m.Feature == key {
				return
			}
		}
		out = append(out, Match{Feature: key, By: by})
	}
	for _, m := range trailerLine.FindAllStringSubmatch(c.Message, 16) {
		if k := strings.ToLower(m[1]); r.keys[k] {
			add(k, "trailer")
		}
	}
	for _, l := range c.Labels {
		if k, ok := r.labels[strings.ToLower(strings.TrimSpace(l))]; ok {
			add(k, "label")
		}
	}
	if c.Branch != "" {
		branch := strings.TrimPrefix(c.Branch, "refs/heads/")
		for _, p := range r.prefixes {
			if strings.HasPrefix(branch, p.prefix) {
				add(p.feature, "branch")
				break
			}
		}
	}
	slices.SortFunc(out, func(a, b Match) int { return strings.Compare(a.Feature, b.Feature) })
	return out
}

// Match is one feature a change belongs to and how it was recognised.
type Match struct {
	Feature string `json:"feature"`
	By      string `json:"by"`
}
