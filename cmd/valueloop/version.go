package main

import (
	"context"
	"fmt"
	"runtime/debug"
	"strings"
)

// versionCommand is `valueloop version` (also `valueloop --version`): the
// module version `go install …@vX.Y.Z` stamps into the binary, or, for a
// build from a checkout, the VCS revision the go command records.
func versionCommand() *command {
	return &command{name: "version", args: "[--short]", summary: "print the version of this binary and what it was built from",
		run: func(ctx context.Context, e *cliEnv, args []string) error {
			fs := newFlagSet(e, "version")
			short := fs.Bool("short", false, "print the version alone (v0.3.0, or (devel) for a build from a checkout)")
			if err := e.parseNoArgs(fs, args); err != nil {
				return err
			}
			info, ok := debug.ReadBuildInfo()
			if *short {
				fmt.Fprintln(e.stdout, strings.Fields(versionLine(info, ok))[1])
				return nil
			}
			fmt.Fprintln(e.stdout, versionLine(info, ok))
			return nil
		}}
}

// versionLine describes a build: "valueloop v0.3.0 (go1.26.8)", or for a
// build from a checkout "valueloop (devel) rev 1a2b3c4d5e6f dirty (go1.26.8)".
func versionLine(info *debug.BuildInfo, ok bool) string {
	if !ok {
		return "valueloop (unknown: built without module information)"
	}
	line := "valueloop " + info.Main.Version
	if info.Main.Version == "" {
		line = "valueloop (devel)"
	}
	var rev, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if rev != "" {
		line += " rev " + rev[:min(12, len(rev))]
		if modified == "true" {
			line += " dirty"
		}
	}
	return line + " (" + info.GoVersion + ")"
}
