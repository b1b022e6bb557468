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
