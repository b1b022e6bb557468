package main

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersionLine(t *testing.T) {
	for _, c := range []struct {
		name string
		info *debug.BuildInfo
		ok   bool
		want string
	}{
		{"go install", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.3.0"}}, true, "valueloop v0.3.0 (go1.26.8)"},
		{"checkout", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.modified", Value: "true"}}}, true,
			"valueloop (devel) rev 0123456789ab dirty (go1.26.8)"},
		{"no build info", nil, false, "valueloop (unknown: built without module information)"},
	} {
		if got := versionLine(c.info, c.ok); got != c.want {
			t.Errorf("%s: versionLine = %q, want %q", c.name, got, c.want)
		}
	}
}

// TestVersionCommand: `version` and `--version` answer the same, exit 0.
func TestVersionCommand(t *testing.T) {
	_, a, _ := runCLI(t, "version")
	code, b, stderr := runCLI(t, "--version")
	if code != exitOK || a != b || !strings.HasPrefix(a, "valueloop ") {
		t.Errorf("version printed %q, --version exit %d printed %q (stderr %q); want the same line starting \"valueloop \"", a, code, b, stderr)
	}
}
