package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// command is one node of the command tree: a group of subcommands, or a
// leaf that runs. A leaf defines its flags in run, on a flag set from
// newFlagSet named for the leaf's path; -h on that flag set prints the
// leaf's help from this entry and the flags themselves.
type command struct {
	name    string
	args    string // what follows the path in the usage line, e.g. "KEY --env ENV [--reason TEXT]"
	summary string // one line: what it does
	more    string // printed after the flags or subcommands: formats, examples
	run     func(ctx context.Context, e *cliEnv, args []string) error
	subs    []*command
	path    string // "flags list"; set by commandTree
}

// commandTree is the table of contents of the CLI. Each command is defined
// in its own file by a function returning its entry; adding a command is one
// line here plus that file. Help, the help walk test and the completion
// scripts all read this tree.
func commandTree() *command {
	root := &command{name: "valueloop", summary: "feature flags, rollouts, experiments and delivery metrics in one loop", subs: []*command{
		serveCommand(),
		tokenCommand(),
		flagsCommand(),
		auditCommand(),
		eventsCommand(),
		metricsCommand(),
		rolloutCommand(),
		experimentCommand(),
		doraCommand(),
		deployCommand(),
		changeCommand(),
		incidentCommand(),
		deliveryCommand(),
		objectiveCommand(),
		featureCommand(),
		nextCommand(),
		flowCommand(),
		valueCommand(),
		backupCommand(),
		restoreCommand(),
		versionCommand(),
		healthCommand(),
		helpCommand(),
		completionCommand(),
	}}
	root.setPaths("")
	return root
}

func (c *command) setPaths(parent string) {
	for _, s := range c.subs {
		s.path = strings.TrimSpace(parent + " " + s.name)
		s.setPaths(s.path)
	}
}

// find returns the subcommand named name, or nil.
func (c *command) find(name string) *command {
	for _, s := range c.subs {
		if s.name == name {
			return s
		}
	}
	return nil
}

// lookup walks a path of names ("flags list") from c; nil if one is unknown.
func (c *command) lookup(path string) *command {
	for _, name := range strings.Fields(path) {
		if c = c.find(name); c == nil {
			return nil
		}
	}
	return c
}

// names lists the subcommands: "list, get or delete".
func (c *command) names() string {
	var ns []string
	for _, s := range c.subs {
		ns = append(ns, s.name)
	}
	return orList(ns)
}

// orList is "list, get or delete".
func orList(ns []string) string {
	if len(ns) < 2 {
		return strings.Join(ns, "")
	}
	return strings.Join(ns[:len(ns)-1], ", ") + " or " + ns[len(ns)-1]
}

// dispatch runs args against c: a leaf runs; a group answers -h or help
// with its own help, and hands the rest to the subcommand named first.
func (c *command) dispatch(ctx context.Context, e *cliEnv, args []string) error {
	if c.run != nil {
		err := c.run(ctx, e, args)
		if ue, ok := errors.AsType[*usageError](err); ok && ue.help == "" {
			ue.help = c.path // point at this command's help
		}
		return err
	}
	if len(args) == 0 {
		return &usageError{msg: fmt.Sprintf("%s: want a subcommand: %s", c.path, c.names()), help: c.path}
	}
	sub := c.find(args[0])
	switch {
	case sub != nil:
	case args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help":
		c.writeHelp(e.stdout, nil)
		return nil
	default:
		return &usageError{msg: fmt.Sprintf("%s: unknown subcommand %q: want %s%s", c.path, args[0], c.names(), c.didYouMean(args[0], "")), help: c.path}
	}
	return sub.dispatch(ctx, e, args[1:])
}

// writeHelp writes the command's usage line, summary, then its flags (fs,
// for a leaf) or its subcommands, then the further text.
func (c *command) writeHelp(w io.Writer, fs *flag.FlagSet) {
	path := strings.TrimSpace("valueloop " + c.path)
	if c.run == nil {
		fmt.Fprintf(w, "Usage: %s COMMAND\n\n%s: %s.\n\nCommands:\n", path, path, c.summary)
		width := 0
		for _, s := range c.subs {
			width = max(width, len(s.name))
		}
		for _, s := range c.subs {
			fmt.Fprintf(w, "  %-*s  %s\n", width, s.name, s.summary)
		}
		fmt.Fprintf(w, "\nRun '%s COMMAND -h' for the arguments and flags of a command.\n", path)
	} else {
		fmt.Fprintf(w, "Usage: %s %s\n\n%s: %s.\n", path, c.args, path, c.summary)
		if fs != nil && hasFlags(fs) {
			fmt.Fprintln(w, "\nFlags:")
			out := fs.Output()
			fs.SetOutput(w)
			fs.PrintDefaults()
			fs.SetOutput(out)
		}
	}
	if c.more != "" {
		fmt.Fprintf(w, "\n%s", c.more)
	}
}

func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

// helpCommand is `valueloop help [COMMAND [SUB]]`.
func helpCommand() *command {
	return &command{name: "help", args: "[COMMAND [SUBCOMMAND]]", summary: "show the help of valueloop or of one of its commands",
		run: func(ctx context.Context, e *cliEnv, args []string) error {
			for _, a := range args {
				if a == "-h" || a == "--help" || a == "-help" {
					fmt.Fprint(e.stdout, "Usage: valueloop help [COMMAND [SUBCOMMAND]]\n\nvalueloop help: show the help of valueloop or of one of its commands.\n")
					return nil
				}
			}
			if len(args) == 0 {
				fmt.Fprint(e.stdout, usage)
				return nil
			}
			c := commandTree().lookup(strings.Join(args, " "))
			if c == nil {
				return usageErrorf("help: no command %q%s", strings.Join(args, " "), helpSuggestion(args))
			}
			// A leaf knows its flags only when it defines them: ask it.
			return commandTree().dispatch(ctx, e, append(append([]string(nil), args...), "-h"))
		}}
}

// helpSuggestion is "; did you mean "flags list"?" for the first word of
// path that names no command, when one is close to it.
func helpSuggestion(path []string) string {
	c := commandTree()
	for i, name := range path {
		next := c.find(name)
		if next == nil {
			return c.didYouMean(name, strings.Join(append(path[:i:i], ""), " "))
		}
		c = next
	}
	return ""
}
