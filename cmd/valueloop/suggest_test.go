package main

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestTypoSuggestions: a mistyped command, subcommand or flag is answered
// with the name meant, when one is close; a word close to nothing gets no
// guess. Before, each was only refused ("unknown command \"flgs\"").
func TestTypoSuggestions(t *testing.T) {
	cases := []struct {
		args []string
		want string // "" for no suggestion
	}{
		{[]string{"flgs", "list"}, `unknown command "flgs"; did you mean "flags"?`},
		{[]string{"rolout", "status"}, `did you mean "rollout"?`},
		{[]string{"flags", "lst", "--env", "production"}, `unknown subcommand "lst": want list, get, set, enable, disable, delete, apply or export; did you mean "list"?`},
		{[]string{"experiment", "result", "x"}, `did you mean "results"?`},
		{[]string{"help", "dorra"}, `help: no command "dorra"; did you mean "dora"?`},
		{[]string{"help", "flags", "lsit"}, `did you mean "flags list"?`},
		{[]string{"flags", "list", "--evn", "production"}, "flags list: flag provided but not defined: -evn; did you mean --env?"},
		{[]string{"rollout", "status", "x", "--en", "production"}, "did you mean --env?"},
		{[]string{"dora", "--sinse", "30d"}, "did you mean --since?"},
		{[]string{"completion", "bsh"}, `unknown shell "bsh": want bash, zsh or fish; did you mean "bash"?`},
		{[]string{"frobnicate"}, ""},
		{[]string{"flags", "list", "--frob"}, ""},
	}
	for _, c := range cases {
		code, _, stderr := runCLI(t, c.args...)
		if code != exitUsage {
			t.Errorf("valueloop %s: exit %d, want %d", strings.Join(c.args, " "), code, exitUsage)
		}
		switch {
		case c.want == "" && strings.Contains(stderr, "did you mean"):
			t.Errorf("valueloop %s: a guess close to nothing typed:\n%s", strings.Join(c.args, " "), stderr)
		case c.want != "" && !strings.Contains(stderr, c.want):
			t.Errorf("valueloop %s: stderr lacks %q:\n%s", strings.Join(c.args, " "), c.want, stderr)
		}
	}
}

// TestHelpListsExitCodes: the exit codes scripts may rely on are written in
// 'valueloop help', each with its meaning; before, only the source said
// them.
func TestHelpListsExitCodes(t *testing.T) {
	_, stdout, _ := runCLI(t, "help")
	for code, meaning := range map[int]string{exitOK: "done", exitError: "error", exitUsage: "wrong command line", exitInvalid: "input refused as invalid",
		exitNotFound: "not found", exitConflict: "conflict", exitUnauthorized: "token missing"} {
		if want := fmt.Sprintf("%d %s", code, meaning); !strings.Contains(strings.Join(strings.Fields(stdout), " "), want) {
			t.Errorf("valueloop help lacks exit code %q:\n%s", want, stdout)
		}
	}
}

// TestCompletionShortFlags: a one-letter flag is offered as the help writes
// it, -f FILE, not as "--f"; fish declares it a short option.
func TestCompletionShortFlags(t *testing.T) {
	_, fish, _ := runCLI(t, "completion", "fish")
	if !regexp.MustCompile(`= ./flags/apply' .*-s f\b`).MatchString(fish) {
		t.Errorf("fish completion of flags apply lacks -s f:\n%s", fish)
	}
	for _, n := range completionNodes(context.Background(), &cliEnv{getenv: envMap(nil)}) {
		if n.path != "/flags/apply" {
			continue
		}
		if !slices.Contains(n.words, "-f") || slices.Contains(n.words, "--f") {
			t.Errorf("flags apply completes %v; want -f, not --f", n.words)
		}
		return
	}
	t.Fatal("no completion for flags apply")
}

// TestRecordKindSuggested: a mistyped record kind is refused before asking,
// with the kind meant; list sent it to the server (exit 3, no hint).
func TestRecordKindSuggested(t *testing.T) {
	for _, args := range [][]string{
		{"delivery", "record", "list", "deploymnets", "--service", "checkout"},
		{"delivery", "record", "show", "deployment", "3"},
	} {
		code, _, stderr := runCLI(t, args...)
		if want := `did you mean "deployments"?`; code != exitUsage || !strings.Contains(stderr, want) {
			t.Errorf("valueloop %s: exit %d, stderr %q; want %d with %q", strings.Join(args, " "), code, stderr, exitUsage, want)
		}
	}
}

// TestEnumeratedFlagValues: every option taking one of a fixed list of
// words refuses another the same way, once, before anything is sent:
// naming the option, the words it takes, the value given and the one
// likely meant. Before, --output said "must be table or json" with no
// guess, --format "got", --method and --scope went to the server (exit 3,
// quoting its field names), and only --bucket suggested.
func TestEnumeratedFlagValues(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"flags", "list", "--env", "production", "--output", "jsno"}, `flags list: --output: want table or json, not "jsno"; did you mean "json"?`},
		{[]string{"backup", "f.db", "--output", "tabel"}, `backup: --output: want table or json, not "tabel"; did you mean "table"?`},
		{[]string{"delivery", "import", "github", "acme/shop", "--output", "jsn"}, `--output: want table or json, not "jsn"; did you mean "json"?`},
		{[]string{"value", "export", "--format", "ymal"}, `value export: --format: want yaml or json, not "ymal"; did you mean "yaml"?`},
		{[]string{"next", "--method", "wsfj"}, `next: --method: want wsjf or rice, not "wsfj"; did you mean "wsjf"?`},
		{[]string{"dora", "--bucket", "weak"}, `dora: --bucket: want day, week, month or none, not "weak"; did you mean "week"?`},
		{[]string{"token", "create", "--scope", "admn"}, `token create: --scope: want evaluate, viewer or admin, not "admn"; did you mean "admin"?`},
		{[]string{"metrics", "create", "--env", "production", "--key", "k", "--event", "e", "--kind", "convrsion"}, `--kind: want conversion, count, sum, mean, ratio or quantile, not "convrsion"; did you mean "conversion"?`},
		{[]string{"metrics", "create", "--env", "production", "--over", "usr"}, `--over: want user or event, not "usr"; did you mean "user"?`},
		{[]string{"metrics", "create", "--env", "production", "--aggregate", "cnt"}, `--aggregate: want sum or count, not "cnt"`},
		{[]string{"metrics", "create", "--env", "production", "--denominator-aggregate", "sun"}, `--denominator-aggregate: want count or sum, not "sun"; did you mean "sum"?`},
		{[]string{"metrics", "create", "--env", "production", "--direction", "hgher"}, `--direction: want higher or lower, not "hgher"; did you mean "higher"?`},
		{[]string{"rollout", "start", "x", "--env", "production", "--on-breach", "rolback"}, `rollout start: --on-breach: want rollback or pause, not "rolback"; did you mean "rollback"?`},
		{[]string{"feature", "move", "x", "--to", "donee"}, `feature move: --to: want ready, measuring, validated, invalidated, done or abandoned, not "donee"; did you mean "done"?`},
		{[]string{"deploy", "record", "--service", "s", "--env", "production", "--status", "sucess"}, `--status: want success, failure, pending or canceled, not "sucess"; did you mean "success"?`},
		{[]string{"delivery", "source", "add", "x", "--kind", "githb"}, `--kind: want github, gitlab, pagerduty or opsgenie, not "githb"; did you mean "github"?`},
		{[]string{"events", "send", "--env", "production", "--key", "u", "--type", "exposre"}, `events send: --type: want tracking or exposure, not "exposre"; did you mean "exposure"?`},
		{[]string{"experiment", "hypothesis", "set", "x", "--env", "production", "--direction", "incrase"}, `--direction: want increase or decrease, not "incrase"; did you mean "increase"?`},
	}
	for _, c := range cases {
		// No server listens at port 1: a refusal after sending would say so.
		code, _, stderr := runCLIEnv(t, map[string]string{"VALUELOOP_SERVER": "http://127.0.0.1:1", "VALUELOOP_DATA": t.TempDir()}, c.args...)
		if code != exitUsage || !strings.Contains(stderr, c.want) || strings.Count(stderr, "not \"") != 1 {
			t.Errorf("valueloop %s: exit %d, stderr:\n%s\nwant exit %d and once %q", strings.Join(c.args, " "), code, stderr, exitUsage, c.want)
		}
	}
}
