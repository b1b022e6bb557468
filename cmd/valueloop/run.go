package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/valueloop/valueloop"
)

// Exit codes that scripts can rely on.
const (
	exitOK           = 0
	exitError        = 1 // anything else, including the server's internal errors
	exitUsage        = 2 // wrong command line
	exitInvalid      = 3 // the server rejected the input
	exitNotFound     = 4
	exitConflict     = 5
	exitUnauthorized = 6 // missing, wrong or insufficient token
)

// Run runs the valueloop command with args (without the program name) in
// environ, the environment as os.Environ lists it, and returns its exit
// code. Tests call it directly.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, environ []string) int {
	env := newCLIEnv(stdin, stdout, stderr, lookupIn(environ))
	defer env.flush()
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	case "--version", "-version":
		args = []string{"version"}
	}
	root := commandTree()
	c := root.find(args[0])
	if c == nil {
		return env.exit(usageErrorf("unknown command %q%s", args[0], root.didYouMean(args[0], "")))
	}
	// Help, version and completion read no variable: a misspelt one
	// does not stand in the way of reading how to spell it.
	if !slices.Contains([]string{"help", "version", "completion"}, c.name) {
		warnings, err := checkEnviron(environ)
		for _, w := range warnings {
			fmt.Fprintf(env.stderr, "valueloop: %s\n", w)
		}
		if err != nil {
			return env.exit(err)
		}
	}
	return env.exit(c.dispatch(ctx, env, args[1:]))
}

const usage = `valueloop: feature flags, rollouts, experiments and delivery metrics in one loop.

Usage:
  valueloop serve [--addr 127.0.0.1:8080] [--data DIR | --database postgres://...] [--demo] [--flags-file ENV=PATH ...]
  valueloop token create [--env ENV] [--scope evaluate|viewer|admin | --client [--origin URL]...] [--no-exposures] [--name NAME]
  valueloop token list
  valueloop token revoke ID
  valueloop token recover [--data DIR | --database postgres://...] (a new admin token, server running or not)
  valueloop flags list|get|set|enable|disable|delete|apply|export ... (see 'valueloop help flags')
  valueloop audit [--env ENV] [--flag KEY] [--actor NAME] [--limit N] [--before ID]
  valueloop events send|import FILE.ndjson|rebuild|load ... (see docs/events.md)
  valueloop metrics create|list|get|delete --env ENV ...
  valueloop rollout start|status|list|pause|resume|advance|rollback FLAG --env ENV ... (see 'valueloop help rollout')
  valueloop experiment results FLAG --env ENV | hypothesis get|set|delete FLAG --env ENV ... (see 'valueloop help experiment')
  valueloop dora [--since 30d | --from TIME --to TIME] [--service S ...] [--team T ...] [--bucket day|week|month|none] [--tz ZONE|local]
  valueloop deploy record|list, change record, incident open|resolve ... (see 'valueloop delivery help')
  valueloop delivery source|service|record|import|deliveries|loop ... (webhooks, catalog, corrections, history, loop figures; see docs/delivery.md)
  valueloop objective list|show|set|delete ..., feature list|show|set|move|delete ... (see docs/value.md)
  valueloop next [--method wsjf|rice] [--objective O] [--cleanup-after 14d]
  valueloop flow [--objective O] [--since 90d]
  valueloop value apply -f FILE [--dry-run] [--prune] | value export [--format yaml|json]
  valueloop backup FILE [--data DIR], restore FILE [--data DIR] [--force]
  valueloop health [--server URL]

Client commands talk to a server: --server URL (or VALUELOOP_SERVER, default
http://127.0.0.1:8080) with --token TOKEN (or VALUELOOP_TOKEN), and print
--output table (default) or json.

  valueloop help [COMMAND [SUBCOMMAND]]
  valueloop version (or --version)
  valueloop completion bash|zsh|fish

Run 'valueloop COMMAND -h' or 'valueloop help COMMAND' for the arguments and
flags of a command.

Exit codes: 0 done, 1 error (the server unreachable, or failing), 2 wrong
command line, 3 input refused as invalid, 4 not found, 5 conflict (changed
meanwhile, or a state that forbids it), 6 token missing, wrong or not allowed.
`

type cliEnv struct {
	stdin io.Reader
	// stdout and stderr take text (see textWriter); data and logs are the
	// same streams as they are (dataOut, rawErr). A cliEnv built without
	// them (tests) writes those to stdout and stderr.
	stdout, stderr io.Writer
	data, logs     io.Writer
	getenv         func(string) string
	// onHelp, when set, receives the flag set of a leaf asked for -h
	// instead of its help being printed: the completion scripts collect
	// the flags of every leaf this way.
	onHelp func(fs *flag.FlagSet)
}

// newCLIEnv is the environment of a command writing to stdout and stderr.
func newCLIEnv(stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) *cliEnv {
	return &cliEnv{stdin: stdin, stdout: &textWriter{w: stdout}, stderr: &textWriter{w: stderr},
		data: stdout, logs: stderr, getenv: getenv}
}

// flush writes what the text writers hold.
func (e *cliEnv) flush() {
	for _, w := range []io.Writer{e.stdout, e.stderr} {
		if t, ok := w.(*textWriter); ok {
			t.Flush()
		}
	}
}

// dataOut is where JSON and exported files go: stdout, bytes unchanged.
func (e *cliEnv) dataOut() io.Writer { return cmp.Or[io.Writer](e.data, e.stdout) }

// rawErr is stderr, bytes unchanged: for the server's logs (a log handler
// quotes or escapes what it writes) and the CLI's own progress bars, whose
// carriage returns redraw their line and which ask whether it is a
// terminal.
func (e *cliEnv) rawErr() io.Writer { return cmp.Or[io.Writer](e.logs, e.stderr) }

// usageError is a mistake on the command line.
type usageError struct {
	msg  string
	help string // the command whose help to read: "flags list"; "" for all
}

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// exit prints err with a hint of what to try next and returns the exit code.
func (e *cliEnv) exit(err error) int {
	if err == nil {
		return exitOK
	}
	var ue *usageError
	if errors.As(err, &ue) || errors.Is(err, flag.ErrHelp) {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		fmt.Fprintf(e.stderr, "valueloop: %s\nRun '%s' for usage.\n", ue.msg, strings.TrimSpace("valueloop help "+ue.help))
		return exitUsage
	}
	var ve *valueloop.ValidationError
	if errors.As(err, &ve) {
		fmt.Fprintln(e.stderr, "valueloop: the definition is invalid; nothing was changed:")
		for _, p := range ve.Problems {
			fmt.Fprintf(e.stderr, "  - %s\n", p)
		}
		return exitInvalid
	}
	msg := err.Error()
	var ae *valueloop.Error
	if errors.As(err, &ae) {
		msg = valueloop.ErrorMessage(err)
	}
	fmt.Fprintf(e.stderr, "valueloop: %s\n", msg)
	switch valueloop.ErrorCode(err) {
	case valueloop.EINVALID, valueloop.ETOOLARGE, valueloop.EUNSUPPORTED:
		return exitInvalid
	case valueloop.ENOTFOUND:
		return exitNotFound
	case valueloop.ECONFLICT:
		// The message says what the conflict is (a version changed
		// meanwhile, a rollout in a state that forbids the action, a
		// read-only environment): no generic guess added.
		return exitConflict
	case valueloop.EUNAUTHORIZED:
		fmt.Fprintln(e.stderr, "Pass an admin token with --token or VALUELOOP_TOKEN (serve prints one at first start).")
		return exitUnauthorized
	case valueloop.EFORBIDDEN:
		fmt.Fprintln(e.stderr, "This token's scope or environment does not allow that: use an admin token for it.")
		return exitUnauthorized
	}
	if strings.Contains(msg, "cannot reach the Valueloop server") {
		fmt.Fprintln(e.stderr, "Is the server running? Start it with 'valueloop serve', or point --server (VALUELOOP_SERVER) at it.")
	}
	return exitError
}

// newFlagSet returns a flag set that reports errors instead of exiting.
// name is the command's path in the tree ("flags list"): -h prints that
// command's help.
func newFlagSet(e *cliEnv, name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	// parseFlags prints the help, to stdout when asked for, and the error
	// once after it: the flag package's own printing of both is silenced.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// parseFlags parses args, turning flag errors into usage errors; -h prints
// the command's help on stdout and returns flag.ErrHelp (exit 0).
func (e *cliEnv) parseFlags(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	if err == nil {
		return nil
	}
	help := errors.Is(err, flag.ErrHelp)
	if err := choiceError(fs); err != nil {
		return err // it lists the words the option takes: no help needed
	}
	switch {
	case help && e.onHelp != nil:
		e.onHelp(fs)
	case help:
		e.writeHelp(e.stdout, fs)
	default:
		e.writeHelp(e.stderr, fs)
	}
	if help {
		return err
	}
	return &usageError{msg: fmt.Sprintf("%s: %v%s", fs.Name(), err, flagSuggestion(fs, err)), help: fs.Name()}
}

// writeHelp writes the help of the command fs belongs to.
func (e *cliEnv) writeHelp(w io.Writer, fs *flag.FlagSet) {
	if c := commandTree().lookup(fs.Name()); c != nil && c.run != nil {
		c.writeHelp(w, fs)
		return
	}
	fmt.Fprintf(w, "Usage of valueloop %s:\n", fs.Name())
	out := fs.Output()
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(out)
}

// parseArgs parses flags that may stand before, between or after positional
// arguments (`flags get KEY --env prod`), and returns the positionals.
func (e *cliEnv) parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := e.parseFlags(fs, args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, optionAsValue(fs)
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// optionAsValue refuses an option that took another option of the command
// as its value (`--cuped --alpha 0.1`: cuped = "--alpha"), which would
// otherwise be reported as the value left over, an argument too many. Each
// value of a repeatable option is checked: its String joins them.
func optionAsValue(fs *flag.FlagSet) error {
	var err error
	fs.Visit(func(f *flag.Flag) {
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); err != nil || (ok && b.IsBoolFlag()) {
			return
		}
		values := []string{f.Value.String()}
		if l, ok := f.Value.(*listFlag); ok {
			values = *l
		}
		for _, v := range values {
			if !strings.HasPrefix(v, "-") {
				continue
			}
			if name, _, _ := strings.Cut(strings.TrimLeft(v, "-"), "="); fs.Lookup(name) != nil {
				err = usageErrorf("%s: --%s took %q as its value: give it one (%s)", fs.Name(), f.Name, v, f.Usage)
				return
			}
		}
	})
	return err
}

// parseNoArgs parses flags and refuses positional arguments.
func (e *cliEnv) parseNoArgs(fs *flag.FlagSet, args []string) error {
	pos, err := e.parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		if err := boolValueError(fs, args, pos[0]); err != nil {
			return err
		}
		return noArgsError(fs.Name(), pos)
	}
	return nil
}

// boolValueError explains the argument word left over by a boolean flag
// given its value after a space (--production false): such a flag stands
// alone for true and takes its value after "=", so the word was not its
// value; nil when word follows no boolean flag.
func boolValueError(fs *flag.FlagSet, args []string, word string) error {
	if _, err := strconv.ParseBool(word); err != nil {
		return nil
	}
	for i := 1; i < len(args); i++ {
		name := strings.TrimLeft(args[i-1], "-")
		if args[i] != word || name == args[i-1] || strings.Contains(name, "=") {
			continue
		}
		if f := fs.Lookup(name); f != nil {
			if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
				return usageErrorf("%s: --%s takes its value after '=' (--%s=%s); alone it means true", fs.Name(), name, name, word)
			}
		}
	}
	return nil
}

// noArgsError refuses the words pos given to the command at path, which
// takes options only. "Options", not "flags": of 'flags list production'
// that would read as if the command took feature flags. The line that
// follows every usage error says where the command's help is.
func noArgsError(path string, pos []string) error {
	return usageErrorf("%s takes no arguments, only options, got %q", path, pos)
}
