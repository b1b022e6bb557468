package main

import (
	"bytes"
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"
)

// runCLI runs valueloop with args and no server, returning the exit code
// and the output.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = Run(context.Background(), args, strings.NewReader(""), &out, &errOut, environ(nil))
	return code, out.String(), errOut.String()
}

// TestHelpWalk walks the whole command tree: every command and subcommand
// answers -h, --help and 'valueloop help PATH' with its own help on
// stdout, exit 0.
func TestHelpWalk(t *testing.T) {
	var walk func(c *command)
	n := 0
	walk = func(c *command) {
		for _, s := range c.subs {
			walk(s)
		}
		if c.path == "" {
			return
		}
		n++
		path := strings.Fields(c.path)
		for _, args := range [][]string{append(path, "-h"), append(path, "--help"), append([]string{"help"}, path...)} {
			code, stdout, stderr := runCLI(t, args...)
			want := "Usage: valueloop " + c.path + " "
			if code != exitOK || !strings.HasPrefix(stdout, want) || strings.Contains(stdout+stderr, "unknown") {
				t.Errorf("valueloop %s: exit %d, stdout %q, stderr %q; want exit 0 and help starting %q", strings.Join(args, " "), code, stdout, stderr, want)
				continue
			}
			if c.run != nil && c.name != "help" && c.name != "completion" && !strings.Contains(stdout, "\nFlags:\n") {
				t.Errorf("valueloop %s: no flags listed:\n%s", strings.Join(args, " "), stdout)
			}
			for _, s := range c.subs {
				if !strings.Contains(stdout, "\n  "+s.name+" ") {
					t.Errorf("valueloop %s: subcommand %s not listed:\n%s", strings.Join(args, " "), s.name, stdout)
				}
			}
		}
	}
	walk(commandTree())
	if n < 40 {
		t.Errorf("walked %d commands, want the whole tree (40 or more)", n)
	}
}

// TestUsageListsEveryCommand: the overview 'valueloop help' prints is
// written by hand; it names every command of the tree, every subcommand
// of token (the one group it lists line by line) and of delivery, so a
// new command cannot be left out of it.
func TestUsageListsEveryCommand(t *testing.T) {
	words := map[string]bool{}
	for _, w := range strings.FieldsFunc(usage, func(r rune) bool { return !(r == '-' || r == '_' || unicode.IsLetter(r)) }) {
		words[w] = true
	}
	for _, c := range commandTree().subs {
		if !words[c.name] {
			t.Errorf("usage does not name command %q", c.name)
		}
	}
	for _, c := range commandTree().find("token").subs {
		if !strings.Contains(usage, "valueloop token "+c.name) {
			t.Errorf("usage does not name 'valueloop token %s'", c.name)
		}
	}
	for _, c := range commandTree().find("delivery").subs {
		if !strings.Contains(usage, "|"+c.name+"|") && !strings.Contains(usage, " delivery "+c.name+"|") && !strings.Contains(usage, "|"+c.name+" ...") {
			t.Errorf("usage's delivery line does not name %q", c.name)
		}
	}
	// Its token create line shows every kind of token the command makes.
	line := ""
	for l := range strings.Lines(usage) {
		if strings.HasPrefix(l, "  valueloop token create ") {
			line = l
		}
	}
	for _, s := range []string{"viewer", "admin", "--client"} {
		if !strings.Contains(line, s) {
			t.Errorf("usage's token create line %q lacks %s", line, s)
		}
	}
}

// TestUsagePointersRun: every "(see 'valueloop ...')" of the usage is a
// command that shows help, exit 0; "see 'valueloop flags'" answered "want a
// subcommand" with exit 2.
func TestUsagePointersRun(t *testing.T) {
	ptrs := regexp.MustCompile(`see '(valueloop [^']+)'`).FindAllStringSubmatch(usage, -1)
	if len(ptrs) == 0 {
		t.Fatal("the usage points to no command")
	}
	for _, m := range ptrs {
		code, stdout, stderr := runCLI(t, strings.Fields(m[1])[1:]...)
		if code != 0 || !strings.HasPrefix(stdout, "Usage: ") {
			t.Errorf("the usage says see %q: exit %d, %.200s%.200s", m[1], code, stdout, stderr)
		}
	}
}

// TestHelpOwnFlags checks that a subcommand's help lists its own flags and
// not a sibling's (flags list once listed apply's --prune).
func TestHelpOwnFlags(t *testing.T) {
	cases := []struct {
		args      []string
		has, lack []string
	}{
		{[]string{"flags", "list", "-h"}, []string{"-env", "-server"}, []string{"-prune", "-dry-run", "-if-version"}},
		{[]string{"flags", "apply", "-h"}, []string{"-prune", "-dry-run", "-f "}, []string{"-if-version"}},
		{[]string{"experiment", "hypothesis", "get", "-h"}, []string{"-env"}, []string{"-primary", "-guardrail"}},
		{[]string{"rollout", "status", "-h"}, []string{"-env", "-reason"}, []string{"-steps", "-active"}},
	}
	for _, c := range cases {
		_, stdout, _ := runCLI(t, c.args...)
		for _, f := range c.has {
			if !strings.Contains(stdout, "\n  "+f) {
				t.Errorf("%v: help lacks %s:\n%s", c.args, f, stdout)
			}
		}
		for _, f := range c.lack {
			if strings.Contains(stdout, "\n  "+f) {
				t.Errorf("%v: help lists %s, a flag of another subcommand:\n%s", c.args, f, stdout)
			}
		}
	}
}

// TestUsageErrors checks the answers to a wrong command line: exit 2 and a
// message naming what is wrong.
func TestUsageErrors(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"token"}, "token: want a subcommand: create, list, revoke or recover\nRun 'valueloop help token' for usage."},
		{[]string{"delivery", "source", "frob"}, `delivery source: unknown subcommand "frob": want add, set, list or delete`},
		{[]string{"help", "flags", "frob"}, `help: no command "flags frob"`},
		{[]string{"flags", "list", "--frob"}, "flags list: flag provided but not defined: -frob\nRun 'valueloop help flags list' for usage."},
		{[]string{"completion", "tcsh"}, `unknown shell "tcsh"`},
		{[]string{"delivery", "service", "delete"}, "want the service name\nRun 'valueloop help delivery service delete' for usage."},
		// An option given no value takes the next option as its value: said
		// so, not "want one flag key" of the value left over.
		{[]string{"experiment", "results", "x", "--env", "production", "--cuped", "--alpha", "0.1"}, `experiment results: --cuped took "--alpha" as its value: give it one`},
		{[]string{"deploy", "record", "--service", "s", "--env", "e", "--status", "success", "--production", "false"}, "--production takes its value after '=' (--production=false)"},
		// A repeatable option's values are each checked, not their list.
		{[]string{"experiment", "results", "x", "--env", "production", "--metric", "m", "--metric", "--alpha", "0.1"}, `experiment results: --metric took "--alpha" as its value: give it one`},
	}
	for _, c := range cases {
		code, _, stderr := runCLI(t, c.args...)
		if code != exitUsage || !strings.Contains(stderr, c.want) {
			t.Errorf("valueloop %s: exit %d, stderr %q; want %d with %q", strings.Join(c.args, " "), code, stderr, exitUsage, c.want)
		}
		if !strings.HasSuffix(stderr, "for usage.\n") {
			t.Errorf("valueloop %s: stderr %q does not end saying where the usage is", strings.Join(c.args, " "), stderr)
		}
	}
	// A bad flag value is said once, after the help, not also before it by
	// the flag package.
	_, _, stderr := runCLI(t, "metrics", "create", "--env", "e", "--quantile", "abc")
	if n := strings.Count(stderr, `invalid value "abc"`); n != 1 {
		t.Errorf("metrics create --quantile abc: the error is said %d times, want once:\n%s", n, stderr)
	}
}

// TestHelpHidesSecrets: the token and the database URL taken from the
// environment are not printed as flag defaults, neither in a command's help
// nor in the usage shown on a mistake (help is pasted into issues and
// screen-shared).
func TestHelpHidesSecrets(t *testing.T) {
	env := map[string]string{
		"VALUELOOP_TOKEN":    "vl_admin_s3cretTOKENvalue",
		"VALUELOOP_DATABASE": "postgres://valueloop:s3cretPASSWORD@db.example/valueloop",
	}
	for _, args := range [][]string{
		{"flags", "list", "-h"},
		{"flags", "list", "--frob"},
		{"help", "metrics", "create"},
		{"token", "recover", "-h"},
		{"token", "recover", "--frob"},
	} {
		_, stdout, stderr := runCLIEnv(t, env, args...)
		for _, secret := range []string{"s3cretTOKEN", "s3cretPASSWORD"} {
			if strings.Contains(stdout+stderr, secret) {
				t.Errorf("valueloop %s prints the secret %s:\n%s%s", strings.Join(args, " "), secret, stdout, stderr)
			}
		}
	}
}

// TestCompletion checks the scripts: each parses in its shell (those
// installed), and bash, run as the shell would, offers the commands, the
// subcommands of a group and the flags of a leaf.
func TestCompletion(t *testing.T) {
	scripts := map[string]string{}
	for _, shell := range []string{"bash", "zsh", "fish"} {
		code, stdout, stderr := runCLI(t, "completion", shell)
		if code != exitOK || stdout == "" {
			t.Fatalf("completion %s: exit %d, stderr %q", shell, code, stderr)
		}
		scripts[shell] = stdout
		if _, err := exec.LookPath(shell); err != nil {
			t.Logf("%s not installed: its script is not parsed", shell)
			continue
		}
		file := filepath.Join(t.TempDir(), "valueloop."+shell)
		if err := os.WriteFile(file, []byte(stdout), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(shell, "-n", file).CombinedOutput(); err != nil {
			t.Errorf("%s -n on the %s script: %v\n%s", shell, shell, err, out)
		}
	}
	if _, err := exec.LookPath("fish"); err == nil {
		file := filepath.Join(t.TempDir(), "valueloop.fish")
		if err := os.WriteFile(file, []byte(scripts["fish"]), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("fish", "-c", "source "+file+"; complete -C 'valueloop delivery source '; complete -C 'valueloop token create --sc'").CombinedOutput()
		if got := strings.Fields(string(out)); err != nil || strings.Join(got, " ") != "add delete list set --scope" {
			t.Errorf("fish completes %q (%v), want add delete list set --scope", got, err)
		}
	}
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash not installed")
	}
	file := filepath.Join(t.TempDir(), "valueloop.bash")
	if err := os.WriteFile(file, []byte(scripts["bash"]), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		line string // the words typed, the last one being completed
		want string
	}{
		{"valueloop ''", "serve token flags audit events metrics rollout experiment dora deploy change incident delivery objective feature next flow value backup restore version health help completion"},
		{"valueloop fl", "flags flow"},
		{"valueloop feature ''", "list show set move delete"},
		{"valueloop delivery source ''", "add set list delete"},
		{"valueloop --server http://x token ''", "create list revoke recover"},
		{"valueloop flags list --env prod --o", "--output"},
		{"valueloop token create --sc", "--scope"},
		{"valueloop help ro", "rollout"},
		// help takes a path: after a group its subcommands, after a leaf
		// nothing (both offered the top-level commands again).
		{"valueloop help flags ''", "list get set enable disable delete apply export"},
		{"valueloop help delivery record ''", "list show edit delete"},
		{"valueloop help flags list ''", ""},
	}
	for _, c := range cases {
		script := "source " + file + "\nCOMP_WORDS=(" + c.line + ")\nCOMP_CWORD=$((${#COMP_WORDS[@]} - 1))\n_valueloop\necho \"${COMPREPLY[*]}\"\n"
		out, err := exec.Command("bash", "-c", script).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", c.line, err, out)
		}
		if got := strings.TrimSpace(string(out)); got != c.want {
			t.Errorf("completing %q: got %q, want %q", c.line, got, c.want)
		}
	}
}

// TestFunctionLength keeps every function in cmd/, tests included, within
// a screen: 80 lines. A command that grows past it wants its own type or
// helpers (STYLE.md 7b); a test, helpers for its phases.
func TestFunctionLength(t *testing.T) {
	const most = 80
	files, err := filepath.Glob("../*/*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("no Go files under cmd/: %v", err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			var body *ast.BlockStmt
			what := "a function literal"
			switch fn := n.(type) {
			case *ast.FuncDecl:
				body, what = fn.Body, fn.Name.Name
			case *ast.FuncLit:
				body = fn.Body
			}
			if body == nil {
				return true
			}
			start := fset.Position(n.Pos())
			if lines := fset.Position(body.Rbrace).Line - start.Line + 1; lines > most {
				t.Errorf("%s:%d: %s is %d lines long, more than %d", name, start.Line, what, lines, most)
			}
			return true
		})
	}
}

// TestServerWithoutScheme: --server (and VALUELOOP_SERVER) given as
// HOST:PORT, the form serve's --addr takes, is refused as a usage error
// that shows the URL to give, before anything is sent; it used to fail
// with Go's parse errors ("first path segment in URL cannot contain
// colon", or "unsupported protocol scheme \"localhost\"" followed by "Is the
// server running?").
func TestServerWithoutScheme(t *testing.T) {
	for _, c := range []struct {
		env  map[string]string
		args []string
		want string
	}{
		{nil, []string{"flags", "list", "--env", "production", "--server", "127.0.0.1:8080"}, `"http://127.0.0.1:8080"`},
		{nil, []string{"flags", "list", "--env", "production", "--server", "localhost:8080"}, `"http://localhost:8080"`},
		{map[string]string{"VALUELOOP_SERVER": "127.0.0.1:8080"}, []string{"audit"}, `"http://127.0.0.1:8080"`},
		{nil, []string{"health", "--server", "localhost:8080"}, `"http://localhost:8080"`},
		{nil, []string{"flags", "list", "--env", "production", "--server", "ftp://example.com"}, "http or https"},
	} {
		code, _, errOut := runCLIEnv(t, c.env, c.args...)
		if code != exitUsage || !strings.Contains(errOut, "--server") || !strings.Contains(errOut, c.want) || strings.Contains(errOut, "Is the server running") {
			t.Errorf("%v %v: exit %d, %s; want a usage error on --server suggesting %s", c.env, c.args, code, errOut, c.want)
		}
	}
}
