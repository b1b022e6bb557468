package value

import (
	"slices"
	"strings"
)

// Trailer is the commit and pull request trailer that names the feature a
// change belongs to: a line "Feature: KEY" (several lines for several
// features), in the style of git's "Co-authored-by:".
const Trailer = "Feature"

// trailers returns the keys named by "Feature: KEY" lines of text (any
// case, spaces around), lower-cased. A scan by lines rather than a regular
// expression: every change of every push goes through it.
func trailers(text string) []string {
	var out []string
	for line := range strings.Lines(text) {
		line = strings.TrimSpace(line)
		if len(line) < len(Trailer)+2 || !strings.EqualFold(line[:len(Trailer)+1], Trailer+":") {
			continue
		}
		key := strings.ToLower(strings.TrimSpace(line[len(Trailer)+1:]))
		if keyPattern.MatchString(key) {
			out = append(out, key)
		}
	}
	return out
}

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
	prefixes map[string]string // branch prefix → feature
	longest  int               // the longest prefix's length
}

// NewRecognizer indexes the features' keys, labels and branch prefixes.
// Where two features claim one label or overlapping prefixes (which
// ValidateAll refuses) the first feature in key order wins.
func NewRecognizer(features []Feature) *Recognizer {
	r := &Recognizer{keys: map[string]bool{}, labels: map[string]string{}, prefixes: map[string]string{}}
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
			if _, ok := r.prefixes[p]; !ok {
				r.prefixes[p] = f.Key
				r.longest = max(r.longest, len(p))
			}
		}
	}
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
	for _, k := range trailers(c.Message) {
		if r.keys[k] {
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
		// A fork's branch is qualified by the fork ("owner/name:ref"; a ref
		// has no ':'): the prefix is the ref's.
		if i := strings.LastIndexByte(branch, ':'); i >= 0 {
			branch = branch[i+1:]
		}
		// Each prefix of the branch, longest first: a map lookup per length,
		// whatever the number of features.
		for n := min(len(branch), r.longest); n > 0; n-- {
			if k, ok := r.prefixes[branch[:n]]; ok {
				add(k, "branch")
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
