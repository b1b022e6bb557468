package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMetricsCreateNamesFlags: a definition given by flags and refused is
// answered in the flags' names. Before, 'metrics create --env production'
// alone said "metric : /key: must be ...", "metric : /event: required",
// JSON paths the command line never showed, after an empty key.
func TestMetricsCreateNamesFlags(t *testing.T) {
	s := MustServe(t, "")
	code, _, stderr := s.cli(t, s.Admin, "metrics", "create", "--env", "production")
	for _, want := range []string{"  - metric: --key: must be", "  - metric: --event: required", "  - metric: --kind: required"} {
		if code != exitInvalid || !strings.Contains(stderr, want) {
			t.Errorf("metrics create without a definition: exit %d, stderr %q; want %d with %q", code, stderr, exitInvalid, want)
		}
	}
	code, _, stderr = s.cli(t, s.Admin, "metrics", "create", "--env", "production", "--key", "r", "--kind", "ratio", "--event", "x", "--denominator-event", "y", "--denominator-aggregate", "median")
	if want := `--denominator-aggregate: want count or sum, not "median"`; code != exitUsage || !strings.Contains(stderr, want) {
		t.Errorf("metrics create --denominator-aggregate median: exit %d, stderr %q; want %d with %q", code, stderr, exitUsage, want)
	}
	// ParseFloat reads these, and JSON holds neither: the request failed
	// with "json: unsupported value: NaN", naming no flag.
	for _, v := range []string{"NaN", "Inf", "-inf"} {
		code, _, stderr = s.cli(t, s.Admin, "metrics", "create", "--env", "production", "--key", "s", "--kind", "sum", "--event", "x", "--cap", v)
		if want := `-cap: want a finite number, got "` + v + `"`; code != exitUsage || !strings.Contains(stderr, want) {
			t.Errorf("metrics create --cap %s: exit %d, stderr %q; want %d with %q", v, code, stderr, exitUsage, want)
		}
	}
}

// TestEventsSendNamesFlags: an event given by flags and refused is
// answered in the flags' names: 'events send --env production' alone said
// "targetingKey: required", a field of the event's JSON; the flag is --key.
func TestEventsSendNamesFlags(t *testing.T) {
	s := MustServe(t, "")
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "valueloop: --key: required"},
		{[]string{"--key", "u1"}, "valueloop: --name: required"},
		{[]string{"--key", "u1", "--type", "exposure"}, "valueloop: --flag: required"},
		{[]string{"--key", "u1", "--name", "x", "--time", "yesterday"}, "valueloop: --time: must be"},
		// --value NaN and Inf are refused as the command line is read
		// (exit 2): TestFloatFlagsFinite.
		{[]string{"--key", "u1", "--name", "x", "--value", "1e13"}, "valueloop: --value: must lie within"},
		{[]string{"--key", "u1", "--name", "x", "--reason", "STATIC"}, "valueloop: --reason: "},
	} {
		args := append([]string{"events", "send", "--env", "production"}, c.args...)
		code, _, stderr := s.cli(t, s.Admin, args...)
		if code != exitInvalid || !strings.Contains(stderr, c.want) {
			t.Errorf("%s: exit %d, stderr %q; want %d with %q", strings.Join(args, " "), code, stderr, exitInvalid, c.want)
		}
	}
}

// TestRolloutStartNamesFlags: a plan given by flags and refused names the
// flags: --on-breach rolback was answered "/onBreach: must be ...", and a
// variant the flag lacks "/variant: ...".
func TestRolloutStartNamesFlags(t *testing.T) {
	s := MustServe(t, "", "--demo")
	base := []string{"rollout", "start", "theme", "--env", "development", "--baseline", "light", "--steps", "10%:1h,100%"}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--variant", "dark", "--on-breach", "rolback"}, `--on-breach: want rollback or pause, not "rolback"; did you mean "rollback"?`},
		{[]string{"--variant", "drak"}, `--variant: flag "theme" has no variant "drak"`},
		// ParseFloat reads these, and JSON holds neither: "json:
		// unsupported value: NaN", naming no flag (a usage error now).
		{[]string{"--variant", "dark", "--steps", "NaN%:1h,100%"}, `--steps: "NaN%:1h": "NaN%" is not a finite percentage`},
		{[]string{"--variant", "dark", "--steps", "10%:1h,+Inf%"}, `--steps: "+Inf%": "+Inf%" is not a finite percentage`},
		// The server's pointers into the plan ("/guardrails/0/metric",
		// "/steps/1/percent") are the item of the flag that made them.
		{[]string{"--variant", "dark", "--guardrail", "checkout-errors:5%", "--guardrail", "nope:2%"}, `--guardrail nope:2%: no metric "nope"`},
		{[]string{"--variant", "dark", "--steps", "10%:1h, 150%"}, `--steps 150%: must be more than 0 and at most 100, got 150`},
	} {
		args := append(append([]string(nil), base...), c.args...)
		code, _, stderr := s.cli(t, s.Admin, args...)
		if code != exitInvalid && code != exitUsage || !strings.Contains(stderr, c.want) {
			t.Errorf("%s: exit %d, stderr %q; want %d or %d with %q", strings.Join(args, " "), code, stderr, exitInvalid, exitUsage, c.want)
		}
	}
}

// TestMetricsCreateFile: a definition file is read as the server reads a
// definition it is sent (jsondecode): a field it does not have, or a key
// given twice, is refused naming it and creates nothing. Before, the file
// was decoded leniently and sent on without the field: "windw" made a
// metric with no window, exit 0. -f reads the file, as it does for every
// other command that takes one.
func TestMetricsCreateFile(t *testing.T) {
	s := MustServe(t, "")
	dir := t.TempDir()
	for _, tc := range []struct{ name, def, want string }{
		{"unknown field", `{"key":"conv","kind":"conversion","event":"buy","windw":"7d"}`, `windw: is not a known field`},
		{"key twice", `{"key":"conv","kind":"conversion","event":"buy","event":"sell"}`, `event: appears more than once`},
	} {
		file := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".json")
		if err := os.WriteFile(file, []byte(tc.def), 0o600); err != nil {
			t.Fatal(err)
		}
		code, _, stderr := s.cli(t, s.Admin, "metrics", "create", "--env", "production", "--file", file)
		if code != exitUsage || !strings.Contains(stderr, tc.want) || strings.Contains(stderr, "valueloop: invalid") {
			t.Errorf("%s: exit %d, stderr %q; want %d with %q", tc.name, code, stderr, exitUsage, tc.want)
		}
	}
	if code, out, _ := s.cli(t, s.Admin, "metrics", "list", "--env", "production"); code != 0 || strings.Contains(out, "conv") {
		t.Errorf("a refused file created a metric: exit %d\n%s", code, out)
	}
	file := filepath.Join(dir, "ok.json")
	if err := os.WriteFile(file, []byte(`{"key":"conv","kind":"conversion","event":"buy","window":"7d"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := s.cli(t, s.Admin, "metrics", "create", "--env", "production", "-f", file); code != 0 {
		t.Errorf("metrics create -f %s: exit %d, %s", file, code, stderr)
	}
}

// TestTokenCreateNamesFlags: a token refused by the server is answered in
// the flags that made it, the origin quoted as typed: 'token create
// --client --origin https://a.dev --origin ftp://b' said "origins[1]",
// '--scope bogus' "scope", '--name "a b"' "name", fields of the API's JSON
// that the command line never shows. (--scope takes one of a list of
// words, refused before asking: TestEnumeratedFlagValues.)
func TestTokenCreateNamesFlags(t *testing.T) {
	s := MustServe(t, "")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--env", "production", "--client", "--origin", "https://a.dev", "--origin", "ftp://b"}, "valueloop: --origin ftp://b: "},
		{[]string{"--env", "production", "--client", "--origin", "https://*.example"}, "valueloop: --origin https://*.example: "},
		{[]string{"--scope", "viewer", "--name", "a b"}, "valueloop: --name: must be"},
		{[]string{"--scope", "evaluate"}, "valueloop: --env: an evaluate token must be bound"},
	} {
		code, _, stderr := s.cli(t, s.Admin, append([]string{"token", "create"}, c.args...)...)
		if code != exitInvalid || !strings.Contains(stderr, c.want) {
			t.Errorf("token create %s: exit %d, stderr %q; want %d with %q", strings.Join(c.args, " "), code, stderr, exitInvalid, c.want)
		}
	}
}
