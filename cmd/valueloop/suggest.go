package main

import (
	"flag"
	"fmt"
	"slices"
	"strings"
)

// suggest returns the candidate closest to typed, a likely typo of it, or
// "": closest by edits (a swap of two neighbours counts as one), within one
// edit for a short word and two for a longer one; or, failing that, the
// only candidate typed begins.
func suggest(typed string, candidates []string) string {
	best, bestD := "", 3
	if len([]rune(typed)) <= 4 {
		bestD = 2
	}
	var prefixed []string
	for _, c := range candidates {
		if d := editDistance(typed, c); d < bestD {
			best, bestD = c, d
		}
		if len(typed) >= 2 && strings.HasPrefix(c, typed) {
			prefixed = append(prefixed, c)
		}
	}
	if best == "" && len(prefixed) == 1 {
		best = prefixed[0]
	}
	return best
}

// editDistance is the optimal string alignment distance of a and b:
// insertions, deletions, substitutions and swaps of neighbours.
func editDistance(a, b string) int {
	s, t := []rune(a), []rune(b)
	d := make([][]int, len(s)+1)
	for i := range d {
		d[i] = make([]int, len(t)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(s); i++ {
		for j := 1; j <= len(t); j++ {
			cost := 1
			if s[i-1] == t[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && s[i-1] == t[j-2] && s[i-2] == t[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(s)][len(t)]
}

// didYouMean is "; did you mean "flags"?" when typed is close to the name
// of one of c's subcommands (prefix before the name: "flags "), else "".
func (c *command) didYouMean(typed, prefix string) string {
	var names []string
	for _, s := range c.subs {
		names = append(names, s.name)
	}
	return suggestion(typed, prefix, names)
}

// suggestion is "; did you mean "week"?" when typed is close to one of
// candidates (prefix before it), else "".
func suggestion(typed, prefix string, candidates []string) string {
	if s := suggest(typed, candidates); s != "" {
		return fmt.Sprintf("; did you mean %q?", prefix+s)
	}
	return ""
}

// notOneOf is the problem of v, a setting's value that is none of values:
// "want text or json, not "jsno"; did you mean "json"?".
func notOneOf(v string, values ...string) error {
	return fmt.Errorf("want %s, not %q%s", orList(values), v, suggestion(v, "", values))
}

// choiceFlag is the value of an option that takes one of a fixed list of
// words (--output table|json). Set refuses any other with notOneOf, and
// parseFlags writes the refusal after the option's name, so that every such
// option's error reads alike: the option, the values it takes, the value
// given and the one likely meant. Each command checked its own before,
// some with a suggestion, some without, some only on the server.
type choiceFlag struct {
	value   *string
	allowed []string
	err     error // Set's refusal, for parseFlags
}

func (c *choiceFlag) String() string {
	if c == nil || c.value == nil {
		return ""
	}
	return *c.value
}

func (c *choiceFlag) Set(v string) error {
	if !slices.Contains(c.allowed, v) {
		c.err = notOneOf(v, c.allowed...)
		return c.err
	}
	*c.value = v
	return nil
}

// choiceVar defines on fs the option name, stored in p, that takes one of
// allowed; def when it is not given ("": the command or the server
// decides). usage should name the value in backquotes (`FORMAT`).
func choiceVar(fs *flag.FlagSet, p *string, name, def, usage string, allowed ...string) {
	*p = def
	fs.Var(&choiceFlag{value: p, allowed: allowed}, name, usage)
}

// choice is choiceVar that returns where the value is stored.
func choice(fs *flag.FlagSet, name, def, usage string, allowed ...string) *string {
	p := new(string)
	choiceVar(fs, p, name, def, usage, allowed...)
	return p
}

// choiceError is the refusal of the value of fs's choice option, written
// after its name, or nil when no choice option refused its value.
func choiceError(fs *flag.FlagSet) error {
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if c, ok := f.Value.(*choiceFlag); ok && c.err != nil && err == nil {
			err = usageErrorf("%s: --%s: %v", fs.Name(), f.Name, c.err)
		}
	})
	return err
}

// flagSuggestion is "; did you mean --env?" when err is the flag package's
// refusal of an undefined flag close to one of fs's, else "".
func flagSuggestion(fs *flag.FlagSet, err error) string {
	typed, ok := strings.CutPrefix(err.Error(), "flag provided but not defined: -")
	if !ok {
		return ""
	}
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	if s := suggest(strings.TrimPrefix(typed, "-"), names); s != "" {
		return "; did you mean --" + s + "?"
	}
	return ""
}
