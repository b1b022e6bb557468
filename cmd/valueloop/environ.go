package main

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// The environment reaches Run as a list (os.Environ), not a lookup: a
// lookup cannot tell which VALUELOOP_ variables are set, so a misspelt one
// (VALUELOOP_DATABSE) was silently ignored and the server started on the
// embedded store, or without the admin token, webhook secret or cookie
// mode meant. Every VALUELOOP_ variable set must be one valueloop reads.

// clientVariables are the variables the client commands read, beside the
// settings of serve (each setting's env).
var clientVariables = []string{"VALUELOOP_CONFIG", "VALUELOOP_SERVER", "VALUELOOP_TOKEN", "VALUELOOP_ENV"}

// testVariables are read by the repository's tests and benchmarks only;
// they are known so that serve or a client command run in a developer's
// shell that sets them is not refused (TestEveryVariableKnown keeps the
// list whole).
var testVariables = []string{"VALUELOOP_TEST_POSTGRES", "VALUELOOP_TEST_PG_RESTART", "VALUELOOP_SIM_RUNS", "VALUELOOP_SIM_SCENARIO",
	"VALUELOOP_SCREENSHOTS", "VALUELOOP_FANOUT_STREAMS", "VALUELOOP_BENCH_UI_USERS", "VALUELOOP_BENCH_UI_DATA"}

// kubernetesLink matches the variables Kubernetes sets in every pod of a
// namespace for a Service named valueloop (VALUELOOP_SERVICE_HOST,
// VALUELOOP_PORT_8080_TCP_ADDR, …): set by the cluster, not by whoever
// configures valueloop, so not theirs to rename.
var kubernetesLink = regexp.MustCompile(`^VALUELOOP_(SERVICE_HOST|SERVICE_PORT(_[A-Z0-9_]+)?|PORT(_[0-9]+_(TCP|UDP|SCTP)(_(PROTO|PORT|ADDR))?)?)$`)

// knownVariables is every VALUELOOP_ variable valueloop or its tests read.
func knownVariables() []string {
	known := slices.Concat(clientVariables, testVariables)
	for _, s := range serveSettings() {
		known = append(known, s.env)
	}
	return known
}

// lookupIn returns the lookup of environ, a list of NAME=VALUE as
// os.Environ returns it; the first of a name given twice wins, as in
// os.Getenv.
func lookupIn(environ []string) func(string) string {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		if _, dup := m[k]; !dup {
			m[k] = v
		}
	}
	return func(name string) string { return m[name] }
}

// checkEnviron checks the VALUELOOP_ variables of environ against those
// valueloop reads. A variable close to one of them is a typo, an error:
// its setting would otherwise be silently left at its default, the admin
// token, the database or the cookie mode among them. Any other unknown
// one is warned of, not refused: the environment is shared with other
// programs (a deployment script's own VALUELOOP_VERSION).
func checkEnviron(environ []string) (warnings []string, err error) {
	known := knownVariables()
	var typos []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, "VALUELOOP_") || slices.Contains(known, name) || kubernetesLink.MatchString(name) {
			continue
		}
		if s := suggestVariable(name, known); s != "" {
			typos = append(typos, fmt.Sprintf("%s is set, but valueloop reads no such variable; did you mean %s?", name, s))
			continue
		}
		warnings = append(warnings, fmt.Sprintf("warning: %s is set, but valueloop reads no such variable; it is ignored", name))
	}
	switch len(typos) {
	case 0:
		return warnings, nil
	case 1:
		return warnings, usageErrorf("%s Nothing was done: rename or unset it", typos[0])
	}
	return warnings, usageErrorf("misspelt variables; nothing was done: rename or unset them:\n  - %s", strings.Join(typos, "\n  - "))
}

// suggestVariable is the known variable name is likely a typo of, or "":
// the names are compared without their common VALUELOOP_ prefix, which
// would otherwise make every pair of short names look alike.
func suggestVariable(name string, known []string) string {
	var suffixes []string
	for _, k := range known {
		suffixes = append(suffixes, strings.TrimPrefix(k, "VALUELOOP_"))
	}
	if s := suggest(strings.TrimPrefix(name, "VALUELOOP_"), suffixes); s != "" {
		return "VALUELOOP_" + s
	}
	return ""
}
