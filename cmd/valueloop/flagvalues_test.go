package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// TestFloatFlagsFinite: every number flag of every command refuses NaN and
// Inf, naming the flag, exit 2: JSON cannot carry them, and flag.Float64
// read them, so that --power NaN, --quantile Inf or --alpha NaN failed at
// the request ("json: unsupported value") or went on as a number. The
// float flags are found by walking the command tree; the number flags read
// as strings are listed.
func TestFloatFlagsFinite(t *testing.T) {
	type floatFlag struct{ path, name string }
	flags := []floatFlag{{"events send", "value"}, {"metrics create", "cap"}}
	var walk func(c *command)
	walk = func(c *command) {
		for _, s := range c.subs {
			walk(s)
		}
		if c.run == nil || c.path == "help" {
			return
		}
		for _, f := range leafFlags(context.Background(), c, envMap(nil)) {
			switch fmt.Sprintf("%T", f.Value) {
			case "*flag.float64Value", "*main.finiteFloat", "*main.optFloat":
				flags = append(flags, floatFlag{c.path, f.Name})
			}
		}
	}
	walk(commandTree())
	for _, want := range []floatFlag{{"experiment hypothesis set", "power"}, {"metrics create", "quantile"},
		{"rollout start", "alpha"}, {"feature set", "confidence"}} {
		if !slices.Contains(flags, want) {
			t.Errorf("the walk did not find --%s of %s among the float flags %v", want.name, want.path, flags)
		}
	}
	for _, f := range flags {
		for _, v := range []string{"NaN", "Inf", "-Inf", "+inf"} {
			args := append(strings.Fields(f.path), "--"+f.name, v)
			code, _, stderr := runCLI(t, args...)
			if code != exitUsage || !strings.Contains(stderr, "-"+f.name) || !strings.Contains(stderr, "finite") {
				t.Errorf("valueloop %s: exit %d, stderr %q; want %d naming -%s and asking for a finite number",
					strings.Join(args, " "), code, stderr, exitUsage, f.name)
			}
		}
	}
}
