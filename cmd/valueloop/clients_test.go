package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The client suite: official OpenFeature SDKs and OFREP providers from the
// npm registry, pinned in testdata/clients/package-lock.json, run unmodified
// against the real server. The scripts there only call the SDKs and report
// what they returned; what is right is decided here.

// clientSuiteDir holds package.json, the lockfile and the scripts.
var clientSuiteDir = filepath.Join("..", "..", "testdata", "clients")

var npmCI struct {
	once sync.Once
	err  error
	out  []byte
}

// needClientSuite skips the test when node or npm are missing (in CI, where
// .ci/run installs them, it fails instead) and installs the pinned packages
// with npm ci when .ci/run has not.
func needClientSuite(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s not on PATH: the client suite needs Node.js and npm in CI", tool)
			}
			t.Skipf("%s not on PATH: skipping the suite of official JavaScript SDKs (install Node.js 20+ and npm to run it)", tool)
		}
	}
	npmCI.once.Do(func() {
		if _, err := os.Stat(filepath.Join(clientSuiteDir, "node_modules", ".package-lock.json")); err == nil {
			return
		}
		cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund")
		cmd.Dir = clientSuiteDir
		npmCI.out, npmCI.err = cmd.CombinedOutput()
	})
	if npmCI.err != nil {
		t.Fatalf("npm ci in %s: %v\n%s", clientSuiteDir, npmCI.err, npmCI.out)
	}
}

// clientCase is one evaluation an SDK makes; the scripts receive it as JSON.
type clientCase struct {
	Name    string         `json:"name"`
	Flag    string         `json:"flag"`
	Type    string         `json:"type"` // boolean, string, number, object
	Default any            `json:"default"`
	Context map[string]any `json:"context,omitempty"`
}

func (c clientCase) evaluation() clientCase { return c }

// clientCases is the evaluations of a table of cases, each of which embeds
// its clientCase: what the scripts are given.
func clientCases[T interface{ evaluation() clientCase }](tests []T) []clientCase {
	cases := make([]clientCase, len(tests))
	for i, tc := range tests {
		cases[i] = tc.evaluation()
	}
	return cases
}

// sdkDetails is what a script reports of one evaluation.
type sdkDetails struct {
	Value        any            `json:"value"`
	Variant      string         `json:"variant"`
	Reason       string         `json:"reason"`
	ErrorCode    string         `json:"errorCode"`
	ErrorMessage string         `json:"errorMessage"`
	FlagMetadata map[string]any `json:"flagMetadata"`
}

// wantDetails is the expected outcome; for a split any of OneOf (value and
// variant equal) is right, since the bucket is the server's to choose.
type wantDetails struct {
	Value     any
	OneOf     []any
	Variant   string
	Reason    string
	ErrorCode string
	// Metadata, when not nil, is the flagMetadata the SDK must report.
	Metadata map[string]any
}

func canonical(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func checkSDK(t *testing.T, name string, got sdkDetails, want wantDetails) {
	t.Helper()
	ok := got.Reason == want.Reason && got.ErrorCode == want.ErrorCode
	if want.OneOf != nil {
		ok = ok && slices.ContainsFunc(want.OneOf, func(v any) bool { return canonical(v) == canonical(got.Value) }) && got.Variant != ""
	} else {
		ok = ok && canonical(got.Value) == canonical(want.Value) && got.Variant == want.Variant
	}
	if want.Metadata != nil && canonical(got.FlagMetadata) != canonical(want.Metadata) {
		t.Errorf("%s: flagMetadata %s, want %s", name, canonical(got.FlagMetadata), canonical(want.Metadata))
	}
	if !ok {
		t.Errorf("%s: got value %s variant %q reason %q error %q (%s);\nwant value %s%s variant %q reason %q error %q",
			name, canonical(got.Value), got.Variant, got.Reason, got.ErrorCode, got.ErrorMessage,
			canonical(want.Value), map[bool]string{true: fmt.Sprintf(" (one of %s)", canonical(want.OneOf))}[want.OneOf != nil],
			want.Variant, want.Reason, want.ErrorCode)
	}
}

var (
	darkTheme  = map[string]any{"primary": "#93c5fd", "background": "#0b1020"}
	lightTheme = map[string]any{"primary": "#1d4ed8", "background": "#ffffff"}
	codeBanner = map[string]any{"text": "code default"}
)

// evalContext is an evaluation context as the JavaScript clients take it:
// the targeting key and attrs.
func evalContext(key string, attrs map[string]any) map[string]any {
	m := map[string]any{"targetingKey": key}
	for k, v := range attrs {
		m[k] = v
	}
	return m
}

// TestClientSuiteNode: @openfeature/server-sdk with @openfeature/ofrep-provider
// evaluates every demo flag, of every type, a missing flag, a wrong type and
// the disabled flag, with an evaluate token.
func TestClientSuiteNode(t *testing.T) {
	needClientSuite(t)
	srv := MustServe(t, "", "--demo")
	token := srv.mustToken(t, "--env", "production", "--scope", "evaluate", "--name", "node-suite")

	tests := []struct {
		clientCase
		want wantDetails
	}{
		{clientCase{"boolean static", "kill-switch-payments", "boolean", false, evalContext("u1", nil)},
			wantDetails{Value: true, Variant: "on", Reason: "STATIC"}},
		{clientCase{"string targeting match", "checkout-flow", "string", "none", evalContext("u2", map[string]any{"email": "ann@valueloop.dev"})},
			wantDetails{Value: "one-page", Variant: "one-page", Reason: "TARGETING_MATCH"}},
		{clientCase{"string split", "checkout-flow", "string", "none", evalContext("u3", map[string]any{"email": "bob@example.com", "country": "DE"})},
			wantDetails{OneOf: []any{"classic", "one-page"}, Reason: "SPLIT"}},
		{clientCase{"boolean split", "new-onboarding", "boolean", false, evalContext("u4", nil)},
			wantDetails{OneOf: []any{true, false}, Reason: "SPLIT"}},
		{clientCase{"number targeting match", "search-results-per-page", "number", 0, evalContext("u5", map[string]any{"appVersion": "2.5.1"})},
			wantDetails{Value: 20, Variant: "twenty", Reason: "TARGETING_MATCH"}},
		// The rule chose nothing: the default variant, reason DEFAULT, as flagd's
		// own OFREP service answers it (docs/flags.md).
		{clientCase{"number default variant", "search-results-per-page", "number", 0, evalContext("u5", map[string]any{"appVersion": "2.3.0"})},
			wantDetails{Value: 10, Variant: "ten", Reason: "DEFAULT"}},
		// No targetingKey: a split has nothing to bucket by and, as in
		// flagd, serves the default variant rather than an error.
		{clientCase{"split without targetingKey", "new-onboarding", "boolean", true, map[string]any{"country": "DE"}},
			wantDetails{Value: false, Variant: "control", Reason: "DEFAULT"}},
		// A context version sem_ver cannot read: no match, not an error (flagd).
		{clientCase{"number, context not a version", "search-results-per-page", "number", 0, evalContext("u5", map[string]any{"appVersion": "latest"})},
			wantDetails{Value: 10, Variant: "ten", Reason: "DEFAULT"}},
		{clientCase{"object targeting match", "theme", "object", map[string]any{}, evalContext("u6", map[string]any{"prefersDark": true})},
			wantDetails{Value: darkTheme, Variant: "dark", Reason: "TARGETING_MATCH"}},
		{clientCase{"object default variant", "theme", "object", map[string]any{}, evalContext("u6", nil)},
			wantDetails{Value: lightTheme, Variant: "light", Reason: "DEFAULT"}},
		// The registry's provider (0.1.3) predates OFREP's codeDefaultFlag:
		// the right value (the code default) with reason ERROR/GENERAL. See
		// docs/flags.md, "Disabled flags".
		{clientCase{"disabled flag", "banner", "object", codeBanner, evalContext("u7", nil)},
			wantDetails{Value: codeBanner, Reason: "ERROR", ErrorCode: "GENERAL"}},
		{clientCase{"missing flag", "no-such-flag", "boolean", true, evalContext("u8", nil)},
			wantDetails{Value: true, Reason: "ERROR", ErrorCode: "FLAG_NOT_FOUND"}},
		{clientCase{"wrong type", "checkout-flow", "boolean", true, evalContext("u9", nil)},
			wantDetails{Value: true, Reason: "ERROR", ErrorCode: "TYPE_MISMATCH"}},
	}
	cases := clientCases(tests)
	got := runNodeScript(t, "node.mjs", cases, "VALUELOOP_URL="+srv.URL, "VALUELOOP_TOKEN="+token)
	for _, tc := range tests {
		g, ok := got[tc.Name]
		if !ok {
			t.Errorf("%s: no result", tc.Name)
			continue
		}
		checkSDK(t, tc.Name, g, tc.want)
		if tc.Name == "boolean static" && g.FlagMetadata["owner"] != "payments" {
			t.Errorf("%s: flag metadata %v, want owner=payments", tc.Name, g.FlagMetadata)
		}
	}
	if g := got["disabled flag"]; !strings.Contains(g.ErrorMessage, "expected format") {
		t.Errorf("disabled flag: error message %q; if the provider now accepts OFREP's codeDefaultFlag, expect reason DISABLED here and update docs/flags.md", g.ErrorMessage)
	}
}

// TestClientSuiteNodeServerFailure: a failure the server answers before it
// evaluates (here the 400 of an admin token bound to no environment, sent
// without the Valueloop-Environment header) reaches the application through
// @openfeature/ofrep-provider with the server's errorDetails as its message:
// the answer carries the errorCode and key OFREP requires of a 400. Without
// them the provider took it for a malformed answer ("The OFREP response does
// not match the expected format") and the detail was lost.
func TestClientSuiteNodeServerFailure(t *testing.T) {
	needClientSuite(t)
	srv := MustServe(t, "", "--demo")
	c := clientCase{"no environment", "kill-switch-payments", "boolean", false, evalContext("u1", nil)}
	got := runNodeScript(t, "node.mjs", []clientCase{c}, "VALUELOOP_URL="+srv.URL, "VALUELOOP_TOKEN="+srv.Admin)
	g := got[c.Name]
	checkSDK(t, c.Name, g, wantDetails{Value: false, Reason: "ERROR", ErrorCode: "GENERAL"})
	if !strings.Contains(g.ErrorMessage, "Valueloop-Environment") {
		t.Errorf("error message %q, want the server's errorDetails (Valueloop-Environment header required)", g.ErrorMessage)
	}
}

// TestClientSuiteNodeRefusedContexts: a context the server refuses, too
// large or nested too deeply, reaches the application through
// @openfeature/ofrep-provider as an error that says why. The provider reads
// the body of a 400, 404 or 500 only: the 413 the server answered an
// oversized body with came out as "The OFREP response does not match the
// expected format", and a deep context as PARSE_ERROR "malformed JSON",
// though the JSON was well-formed.
func TestClientSuiteNodeRefusedContexts(t *testing.T) {
	needClientSuite(t)
	srv := MustServe(t, "", "--demo")
	token := srv.mustToken(t, "--env", "production", "--scope", "evaluate", "--name", "node-limits")
	deep := map[string]any{}
	for range 250 {
		deep = map[string]any{"a": deep}
	}
	tests := []struct {
		clientCase
		want    wantDetails
		message string
	}{
		{clientCase{"oversized context", "kill-switch-payments", "boolean", false, evalContext("u1", map[string]any{"blob": strings.Repeat("a", 70<<10)})},
			wantDetails{Value: false, Reason: "ERROR", ErrorCode: "GENERAL"}, "larger than 65536 bytes"},
		{clientCase{"deep context", "kill-switch-payments", "boolean", false, evalContext("u1", map[string]any{"deep": deep})},
			wantDetails{Value: false, Reason: "ERROR", ErrorCode: "INVALID_CONTEXT"}, "nested more than 200 levels"},
	}
	got := runNodeScript(t, "node.mjs", clientCases(tests), "VALUELOOP_URL="+srv.URL, "VALUELOOP_TOKEN="+token)
	for _, tc := range tests {
		g := got[tc.Name]
		checkSDK(t, tc.Name, g, tc.want)
		if !strings.Contains(g.ErrorMessage, tc.message) {
			t.Errorf("%s: error message %q, want it to say %q", tc.Name, g.ErrorMessage, tc.message)
		}
	}
}

// needChromium skips the test without Chromium (fails in CI).
func needChromium(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(chromiumPath()); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("no Chromium at %s: the browser client test needs it in CI (.ci/run installs it)", chromiumPath())
		}
		t.Skipf("no Chromium at %s (set CHROMIUM): skipping the browser client test", chromiumPath())
	}
}

// runNodeScript runs a script of the suite with the cases on stdin and env
// added, and returns what it reports per case.
func runNodeScript(t *testing.T, script string, cases []clientCase, env ...string) map[string]sdkDetails {
	t.Helper()
	input, _ := json.Marshal(cases)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", script)
	cmd.Dir = clientSuiteDir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = bytes.NewReader(input)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node %s: %v\n%s", script, err, stderr.String())
	}
	var got map[string]sdkDetails
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%s printed %q: %v\n%s", script, out, err, stderr.String())
	}
	return got
}

// chromiumPath is the browser the suite drives.
func chromiumPath() string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	return "/usr/bin/chromium"
}

// scriptRun is a script of the suite running (browser.mjs, flagd.mjs with
// FLAGD_WATCH): what it says, one JSON object a line, each with its "event".
type scriptRun struct {
	script string
	ctx    context.Context
	stdin  io.Writer
	events chan map[string]json.RawMessage
	stderr *syncBuffer
	start  time.Time
}

// startBrowser starts browser.mjs against the server at serverURL; it stops
// with the test.
func startBrowser(t *testing.T, serverURL string) *scriptRun {
	return startScript(t, "browser.mjs", "VALUELOOP_URL="+serverURL, "CHROMIUM="+chromiumPath())
}

// startScript starts script with env added; it stops with the test, its
// stdin closed first.
func startScript(t *testing.T, script string, env ...string) *scriptRun {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	cmd := exec.CommandContext(ctx, "node", script)
	cmd.Dir = clientSuiteDir
	cmd.Env = append(os.Environ(), env...)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	b := &scriptRun{script: script, ctx: ctx, stdin: stdin, events: make(chan map[string]json.RawMessage), stderr: &syncBuffer{}, start: time.Now()}
	cmd.Stderr = &stderrWriter{b.stderr}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		cancel()
		cmd.Wait()
	})
	go func() {
		defer close(b.events)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(nil, 4<<20)
		for sc.Scan() {
			var m map[string]json.RawMessage
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				m = map[string]json.RawMessage{"event": json.RawMessage(`"unparsable"`), "line": json.RawMessage(canonical(sc.Text()))}
			}
			b.events <- m
		}
	}()
	return b
}

// next waits for the script's next event, which must be want.
func (b *scriptRun) next(t *testing.T, want string) map[string]json.RawMessage {
	t.Helper()
	select {
	case m, ok := <-b.events:
		if !ok {
			t.Fatalf("%s ended before %q:\n%s", b.script, want, b.stderr.String())
		}
		var got string
		json.Unmarshal(m["event"], &got)
		if got != want {
			t.Fatalf("%s said %s, want event %q:\n%s", b.script, canonical(m), want, b.stderr.String())
		}
		t.Logf("%s after %v", want, time.Since(b.start).Round(time.Millisecond))
		return m
	case <-b.ctx.Done():
		t.Fatalf("no %q from %s: %v\n%s", want, b.script, b.ctx.Err(), b.stderr.String())
	}
	return nil
}

// browserCase is one flag the page evaluates, before and after the change
// (afterChange empty: unchanged).
type browserCase struct {
	clientCase
	want, afterChange wantDetails
}

// browserCases are evaluated with one static context, as web pages do.
func browserCases() []browserCase {
	return []browserCase{
		{clientCase{Name: "boolean static", Flag: "kill-switch-payments", Type: "boolean", Default: false},
			wantDetails{Value: true, Variant: "on", Reason: "STATIC"}, wantDetails{}},
		{clientCase{Name: "string targeting match", Flag: "checkout-flow", Type: "string", Default: "none"},
			wantDetails{Value: "one-page", Variant: "one-page", Reason: "TARGETING_MATCH"}, wantDetails{}},
		{clientCase{Name: "boolean split", Flag: "new-onboarding", Type: "boolean", Default: false},
			wantDetails{OneOf: []any{true, false}, Reason: "SPLIT"}, wantDetails{}},
		{clientCase{Name: "number targeting match", Flag: "search-results-per-page", Type: "number", Default: 0},
			wantDetails{Value: 20, Variant: "twenty", Reason: "TARGETING_MATCH"}, wantDetails{}},
		{clientCase{Name: "object targeting match", Flag: "theme", Type: "object", Default: map[string]any{}},
			wantDetails{Value: darkTheme, Variant: "dark", Reason: "TARGETING_MATCH"}, wantDetails{}},
		// The web provider follows OFREP's codeDefaultFlag: the code default
		// with reason DISABLED; once enabled, the flag's default variant.
		{clientCase{Name: "disabled flag", Flag: "banner", Type: "object", Default: codeBanner},
			wantDetails{Value: codeBanner, Reason: "DISABLED"},
			wantDetails{Value: map[string]any{}, Variant: "none", Reason: "STATIC"}},
		{clientCase{Name: "missing flag", Flag: "no-such-flag", Type: "boolean", Default: true},
			wantDetails{Value: true, Reason: "ERROR", ErrorCode: "FLAG_NOT_FOUND"}, wantDetails{}},
		{clientCase{Name: "wrong type", Flag: "checkout-flow", Type: "boolean", Default: true},
			wantDetails{Value: true, Reason: "ERROR", ErrorCode: "TYPE_MISMATCH"}, wantDetails{}},
	}
}

// pageSnapshot is what the page evaluated at one moment.
type pageSnapshot struct {
	ProviderStatus string                `json:"providerStatus"`
	Values         map[string]sdkDetails `json:"values"`
}

// TestClientSuiteBrowser: a page on another origin uses @openfeature/web-sdk
// with @openfeature/ofrep-web-provider and a client token limited to that
// origin, in headless Chromium: the provider becomes READY with the right
// values, polls (changeDetection "polling") with If-None-Match and gets 304
// while nothing changes, and sees a change made through the CLI.
func TestClientSuiteBrowser(t *testing.T) {
	srv, b, tests := browserReady(t, false, "polling")
	checkPolled(t, b.next(t, "polled"))

	if code, _, stderr := srv.cli(t, srv.Admin, "flags", "enable", "banner", "--env", "production"); code != 0 {
		t.Fatalf("flags enable banner: exit %d: %s", code, stderr)
	}
	checkChanged(t, b.next(t, "changed"), tests)
}

// TestClientSuiteBrowserAPIKey: the web provider given the client token as
// X-API-Key (OFREP's API-key scheme, through its headers option) gets past
// the preflight and becomes READY with the right values.
func TestClientSuiteBrowserAPIKey(t *testing.T) {
	browserReady(t, true, "polling")
}

// TestClientSuiteBrowserEventStream: the web provider with its default
// changeDetection ("sse") and no polling opens the change stream its bulk
// answer announces (OFREP 0.3.0 eventStreams), from the page's origin,
// fetches again when told (with flagConfigEtag), and so sees a change made
// through the CLI: nothing else would tell it.
func TestClientSuiteBrowserEventStream(t *testing.T) {
	srv, b, tests := browserReady(t, false, "sse")
	streaming := b.next(t, "streaming")
	var streams, bulk []int
	var triggered []string
	json.Unmarshal(streaming["streams"], &streams)
	json.Unmarshal(streaming["bulk"], &bulk)
	json.Unmarshal(streaming["triggered"], &triggered)
	etag := regexp.MustCompile(`^\?flagConfigEtag=([0-9]+)$`)
	if len(streams) != 1 || streams[0] != 200 || len(triggered) != 1 || !etag.MatchString(triggered[0]) ||
		fmt.Sprint(bulk) != "[200 304]" {
		t.Fatalf("change streams answered %v, bulk evaluations %v, those notifications triggered %q: want one stream, "+
			"and its first notification's fetch (?flagConfigEtag=<version>) a 304", streams, bulk, triggered)
	}
	if code, _, stderr := srv.cli(t, srv.Admin, "flags", "enable", "banner", "--env", "production"); code != 0 {
		t.Fatalf("flags enable banner: exit %d: %s", code, stderr)
	}
	changed := b.next(t, "changed")
	checkChanged(t, changed, tests)
	json.Unmarshal(changed["triggered"], &triggered)
	version := func(query string) int {
		m := etag.FindStringSubmatch(query)
		if m == nil {
			return -1
		}
		v, _ := strconv.Atoi(m[1])
		return v
	}
	if version(triggered[len(triggered)-1]) <= version(triggered[0]) {
		t.Errorf("fetches triggered %q: want the last one of a later version than the first", triggered)
	}
}

// browserReady starts a server with the demo and the browser suite's page
// on another origin, with a client token of that origin sent as a bearer
// token or, with apiKey, as X-API-Key, and the web provider's
// changeDetection ("polling": every second; "sse": no polling); it checks
// that the provider became READY with the right values and returns what
// runs.
func browserReady(t *testing.T, apiKey bool, changeDetection string) (*testServer, *scriptRun, []browserCase) {
	t.Helper()
	needClientSuite(t)
	needChromium(t)
	srv := MustServe(t, "", "--demo")
	b := startBrowser(t, srv.URL)
	var origin string
	json.Unmarshal(b.next(t, "origin")["origin"], &origin)
	if origin == "" || strings.HasPrefix(srv.URL, origin+"/") || srv.URL == origin {
		t.Fatalf("page origin %q must differ from the server's %q", origin, srv.URL)
	}
	token := srv.mustToken(t, "--env", "production", "--client", "--origin", origin, "--name", "browser-suite")
	tests := browserCases()
	cases := clientCases(tests)
	poll := 0 // ms: none
	if changeDetection == "polling" {
		poll = 1000
	}
	setup, _ := json.Marshal(map[string]any{
		"token": token, "apiKey": apiKey, "cases": cases, "poll": poll, "changeDetection": changeDetection,
		"context": map[string]any{"targetingKey": "u2", "email": "ann@valueloop.dev", "appVersion": "2.5.1", "prefersDark": true},
	})
	if _, err := b.stdin.Write(append(setup, '\n')); err != nil {
		t.Fatal(err)
	}

	ready := b.next(t, "ready")
	var status string
	var snap pageSnapshot
	json.Unmarshal(ready["status"], &status)
	json.Unmarshal(ready["snapshot"], &snap)
	if status != "ready" || snap.ProviderStatus != "READY" {
		t.Fatalf("provider not READY: status %q, provider %q, errors %s, bulk answers %s, console %s",
			status, snap.ProviderStatus, ready["errors"], ready["bulk"], ready["logs"])
	}
	for _, tc := range tests {
		checkSDK(t, "ready: "+tc.Name, snap.Values[tc.Name], tc.want)
	}
	want := `["authorization"]`
	if apiKey {
		want = `["x-api-key"]`
	}
	if got := canonical(ready["auth"]); got != want {
		t.Errorf("the page's evaluations carried the auth headers %s, want %s", got, want)
	}
	return srv, b, tests
}

// checkPolled: the first bulk evaluation is a 200, the polls after it 304s.
func checkPolled(t *testing.T, polled map[string]json.RawMessage) {
	t.Helper()
	var notModified int
	var bulk []int
	json.Unmarshal(polled["notModified"], &notModified)
	json.Unmarshal(polled["bulk"], &bulk)
	if notModified < 2 || len(bulk) == 0 || bulk[0] != 200 {
		t.Fatalf("bulk evaluations answered %v: want 200 first, then 304s while nothing changes", bulk)
	}
}

// checkChanged: after the change the page holds the new values, fetched
// with a 200.
func checkChanged(t *testing.T, changed map[string]json.RawMessage, tests []browserCase) {
	t.Helper()
	var snap pageSnapshot
	json.Unmarshal(changed["snapshot"], &snap)
	for _, tc := range tests {
		want := tc.want
		if tc.afterChange.Reason != "" {
			want = tc.afterChange
		}
		checkSDK(t, "after the change: "+tc.Name, snap.Values[tc.Name], want)
	}
	var bulk []int
	json.Unmarshal(changed["bulk"], &bulk)
	if len(bulk) == 0 || bulk[len(bulk)-1] != 200 {
		t.Errorf("bulk evaluations answered %v: want a 200 with the change last", bulk)
	}
}

// stderrWriter lets a syncBuffer collect a command's stderr.
type stderrWriter struct{ b *syncBuffer }

func (w *stderrWriter) Write(p []byte) (int, error) {
	w.b.WriteString(string(p))
	return len(p), nil
}
