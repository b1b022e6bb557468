package main

import (
	"context"
	"flag"
	"io"
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
		probe := &cliEnv{stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard, getenv: envMap(nil)}
		probe.onHelp = func(fs *flag.FlagSet) {
			fs.VisitAll(func(f *flag.Flag) { flags = append(flags, f.Name) })
		}
		c.run(context.Background(), probe, []string{"-h"})
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
