package main

import (
	"context"
	"flag"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestHelpNamesOwnFlags: every --flag a leaf's help names, in its usage
// line or its further text, is a flag of that leaf, unless the text names
// it as another command's ('valueloop token create --scope ...'). dora's
// help once ended saying "--key makes a record idempotent", a flag dora
// does not have. Text a leaf shares with its group speaks of the whole
// group's flags.
func TestHelpNamesOwnFlags(t *testing.T) {
	mention := regexp.MustCompile(`--([a-z][a-z0-9-]*)`)
	other := regexp.MustCompile(`(valueloop|pg_dump) [a-z-][^'\n]*`)
	var walk func(c *command, group string)
	walk = func(c *command, group string) {
		for _, s := range c.subs {
			walk(s, c.more)
		}
		if c.run == nil || c.path == "help" {
			return
		}
		var flags []string
		for _, f := range leafFlags(context.Background(), c, envMap(nil)) {
			flags = append(flags, f.Name)
		}
		more := c.more
		if more == group {
			more = "" // the group's text, of all its subcommands' flags
		}
		text := other.ReplaceAllString(c.args+"\n"+more, "")
		for _, m := range mention.FindAllStringSubmatch(text, -1) {
			if !slices.Contains(flags, m[1]) && m[1] != "help" {
				t.Errorf("valueloop %s: the help names --%s, not a flag of it", c.path, m[1])
			}
		}
	}
	walk(commandTree(), "")
}

// TestUsageNamesRealFlags: every --flag and |-separated choice the summary
// of 'valueloop help' gives a command is a flag of that command or of one
// of its subcommands; dora's line offered --bucket day|week|month, without
// none and without --from and --to.
func TestUsageNamesRealFlags(t *testing.T) {
	mention := regexp.MustCompile(`--([a-z][a-z0-9-]*)`)
	flagsOf := func(c *command) map[string]bool {
		all := map[string]bool{}
		var walk func(c *command)
		walk = func(c *command) {
			for _, s := range c.subs {
				walk(s)
			}
			if c.run == nil {
				return
			}
			for _, f := range leafFlags(context.Background(), c, envMap(nil)) {
				all[f.Name] = true
			}
		}
		walk(c)
		return all
	}
	root := commandTree()
	for _, line := range strings.Split(usage, "\n") {
		fields := strings.Fields(line)
		if len(fields) < 2 || fields[0] != "valueloop" {
			continue
		}
		c := root.find(fields[1])
		if c == nil {
			continue
		}
		flags := flagsOf(c)
		// A line may name a second command after a comma: "backup ..., restore ...".
		for _, part := range strings.Split(line, ", ") {
			if f := strings.Fields(part); len(f) > 0 && root.find(f[0]) != nil {
				for k := range flagsOf(root.find(f[0])) {
					flags[k] = true
				}
			}
		}
		for _, m := range mention.FindAllStringSubmatch(line, -1) {
			if !flags[m[1]] && m[1] != "version" { // --version: valueloop's own
				t.Errorf("valueloop help: %q names --%s, not a flag of %s", strings.TrimSpace(line), m[1], c.name)
			}
		}
	}
	// Both overviews give dora's own usage line whole: they lacked --tz,
	// which docs/delivery.md and README show.
	dora := root.find("dora").args
	if !strings.Contains(usage, "valueloop dora "+dora+"\n") {
		t.Errorf("valueloop help: the dora line is not dora's usage line %q", dora)
	}
	if !strings.Contains(deliveryMore, "  dora "+dora+"\n") {
		t.Errorf("valueloop help delivery: the dora line is not dora's usage line %q", dora)
	}
}

// TestUsageNamesEveryFlag: every flag a leaf accepts, beyond the ones
// every client command shares (--server, --token, --output), is named in
// its usage line, the converse of TestHelpNamesOwnFlags; 'events load'
// accepted --env and its usage did not say so, nor did the forge imports'
// say --since. The rule: a flag a user can pass appears in the usage line
// (the first line 'valueloop help CMD' shows), or the usage line defers
// to an explicit list: "[flags]" (serve's thirty limits) to the Flags list
// the help prints, "[settings as for results]" to experiment results'
// flags. Help prose after the flags does not count: a flag mentioned only
// there ("--key makes a record idempotent") is one a reader of the usage
// line does not know of. A flag is named by its exact token, bounded by
// characters no flag name holds, so --at is not named by --at-time; a
// second name of a flag (-f and --file) is covered by the first.
func TestUsageNamesEveryFlag(t *testing.T) {
	shared := map[string]bool{"server": true, "token": true, "output": true}
	results := map[string]bool{}
	for _, f := range leafFlags(context.Background(), commandTree().find("experiment").find("results"), envMap(nil)) {
		results[f.Name] = true
	}
	var walk func(c *command)
	walk = func(c *command) {
		for _, s := range c.subs {
			walk(s)
		}
		if c.run == nil || c.path == "help" || strings.Contains(c.args, "[flags]") {
			return
		}
		text := c.args
		flags := leafFlags(context.Background(), c, envMap(nil))
		named := func(f *flag.Flag) bool {
			dashes := "--"
			if len(f.Name) == 1 {
				dashes = "-"
			}
			return regexp.MustCompile(`(^|[^A-Za-z0-9-])` + regexp.QuoteMeta(dashes+f.Name) + `($|[^A-Za-z0-9-])`).MatchString(text)
		}
		for _, f := range flags {
			alias := slices.ContainsFunc(flags, func(g *flag.Flag) bool { return g != f && g.Value == f.Value && named(g) })
			if shared[f.Name] || alias || named(f) ||
				strings.Contains(c.args, "[settings as for results]") && results[f.Name] {
				continue
			}
			t.Errorf("valueloop %s: accepts --%s, and its usage %q does not name it", c.path, f.Name, c.args)
		}
	}
	walk(commandTree())
}
