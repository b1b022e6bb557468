package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const fileV1 = `{"flags":{"greeting":{"state":"ENABLED","variants":{"hi":"hi","hello":"hello"},"defaultVariant":"hi"}}}`
const fileV2 = `{"flags":{"greeting":{"state":"ENABLED","variants":{"hi":"hi","hello":"hello"},"defaultVariant":"hello"}}}`
const fileBad = `{"flags":{"greeting":{"state":"ENABLED","variants":{"hi":"hi"},"defaultVariant":"nope"}}}`

// TestFlagsFileWatched: a flag file given with --flags-file is served, edits
// are picked up, and an invalid edit leaves the last good set serving.
func TestFlagsFileWatched(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "flags.json")
	if err := os.WriteFile(path, []byte(fileV1), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := MustServe(t, "", "--flags-file", "staging="+path)
	evaluate := func() string { return srv.ofrep(t, "staging", "greeting", `{"context":{}}`) }
	waitFor := func(want string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			got := evaluate()
			if strings.Contains(got, want) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("waiting for %s; last answer %s\nlog:\n%s", want, got, srv.Stderr.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitFor(`"value":"hi"`)
	os.WriteFile(path, []byte(fileBad), 0o644)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(srv.Stderr.String(), "flag file rejected") {
		if time.Now().After(deadline) {
			t.Fatalf("invalid file not reported:\n%s", srv.Stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if log := srv.Stderr.String(); !strings.Contains(log, "greeting") || !strings.Contains(log, "defaultVariant") {
		t.Errorf("rejection should name the flag and the path:\n%s", log)
	}
	if got := evaluate(); !strings.Contains(got, `"value":"hi"`) {
		t.Errorf("after an invalid edit: %s, want the last good set", got)
	}
	os.WriteFile(path, []byte(fileV2), 0o644)
	waitFor(`"value":"hello"`)
}

// TestInvalidFlagsFileAtStart fails fast, naming the file and the problem.
func TestInvalidFlagsFileAtStart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(path, []byte(fileBad), 0o644)
	var stderr strings.Builder
	code := Run(context.Background(), []string{"serve", "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--flags-file", "prod=" + path},
		strings.NewReader(""), io.Discard, &stderr, environ(nil))
	if code != exitInvalid || !strings.Contains(stderr.String(), "bad.json") || !strings.Contains(stderr.String(), "greeting") {
		t.Errorf("exit %d, stderr:\n%s\nwant exit %d naming bad.json and the flag", code, stderr.String(), exitInvalid)
	}
}

// TestAddressInUse: a port another program holds is reported with the
// address and what to try next (another --addr, VALUELOOP_ADDR or the
// config key), exit 1, no admin token printed, and before anything else
// is done: no store made, no demo loaded (serve --demo loaded the demo
// first).
func TestAddressInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for _, extra := range [][]string{nil, {"--demo"}} {
		data := t.TempDir()
		var stderr strings.Builder
		code := Run(context.Background(), append([]string{"serve", "--addr", ln.Addr().String(), "--data", data}, extra...),
			strings.NewReader(""), io.Discard, &stderr, environ(nil))
		msg := stderr.String()
		for _, want := range []string{"--addr " + ln.Addr().String(), "address already in use", "VALUELOOP_ADDR", "addr: in the --config file"} {
			if !strings.Contains(msg, want) {
				t.Errorf("serve %v: stderr does not say %q:\n%s", extra, want, msg)
			}
		}
		if code != exitError || strings.Contains(msg, "vl_admin_") || strings.Contains(msg, "demo") {
			t.Errorf("serve %v: exit %d, stderr:\n%s\nwant exit %d, no token, no demo loaded", extra, code, msg, exitError)
		}
		if _, err := os.Stat(filepath.Join(data, "valueloop.db")); err == nil {
			t.Errorf("serve %v on a busy port made a store in %s", extra, data)
		}
	}
}

// TestBootstrapTokenPrintedOnce: without VALUELOOP_ADMIN_TOKEN the first start
// prints a new admin token; the second start does not.
func TestBootstrapTokenPrintedOnce(t *testing.T) {
	data := t.TempDir()
	start := func() string {
		ctx, cancel := context.WithCancel(context.Background())
		var stderr syncBuffer
		done := make(chan int)
		pr, pw := io.Pipe()
		go func() {
			done <- Run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--data", data}, strings.NewReader(""), io.Discard, pw, environ(nil))
			pw.Close()
		}()
		buf := make([]byte, 4096)
		for !strings.Contains(stderr.String(), "valueloop serving") {
			n, err := pr.Read(buf)
			stderr.WriteString(string(buf[:n]))
			if err != nil {
				break
			}
		}
		cancel()
		go io.Copy(io.Discard, pr)
		<-done
		return stderr.String()
	}
	first := start()
	if !strings.Contains(first, "vl_admin_") {
		t.Fatalf("first start should print an admin token:\n%s", first)
	}
	if second := start(); strings.Contains(second, "vl_admin_") {
		t.Errorf("second start printed a token again:\n%s", second)
	}
}

// TestHealthAndMetrics checks the unauthenticated operational endpoints.
func TestHealthAndMetrics(t *testing.T) {
	srv := MustServe(t, "", "--demo")
	post(t, srv.URL+"/ofrep/v1/evaluate/flags/theme", srv.Admin+"x", `{}`) // a 401 first
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/ofrep/v1/evaluate/flags/theme", strings.NewReader(`{}`))
	req.Header.Set("Authorization", "Bearer "+srv.Admin)
	req.Header.Set("Valueloop-Environment", "production")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("evaluate: %v %v", resp, err)
	}
	for path, want := range map[string]string{
		"/healthz": `"ok"`,
		"/readyz":  `"ready"`,
		"/metrics": `valueloop_evaluations_total{environment="production",flag="theme",reason="DEFAULT"} 1`,
	} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), want) {
			t.Errorf("%s: %d, want 200 containing %s; got:\n%.2000s", path, resp.StatusCode, want, b)
		}
	}
}

// TestFlagsFileReadOnly: an environment served from --flags-file refuses
// every change through the API and the CLI with 409 naming the file, and
// changes nothing; the file itself still changes it.
func TestFlagsFileReadOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "staging.json")
	if err := os.WriteFile(path, []byte(fileV1), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := MustServe(t, "", "--flags-file", "staging="+path)
	api := srv.URL + "/api/v1/environments/staging"
	flagJSON := `{"key":"other","state":"ENABLED","variants":{"on":true,"off":false},"defaultVariant":"on"}`
	for _, c := range []struct{ method, url, body string }{
		{"POST", api + "/flags", flagJSON},
		{"PUT", api + "/flags/greeting", `{"state":"DISABLED","variants":{"hi":"hi"},"defaultVariant":"hi"}`},
		{"DELETE", api + "/flags/greeting", ""},
		{"POST", api + "/flags/greeting/disable", ""},
		{"PUT", api + "/flagd", fileV2},
		{"POST", api + "/rollouts", `{"flag":"greeting","variant":"hello","baseline":"hi","steps":[{"percent":50,"holdSeconds":60}]}`},
	} {
		resp, b := sendJSON(t, c.method, c.url, srv.Admin, c.body)
		if resp.StatusCode != http.StatusConflict || !strings.Contains(b, "read-only") || !strings.Contains(b, path) {
			t.Errorf("%s %s: %d %s; want 409 saying the environment is read-only, naming %s", c.method, c.url, resp.StatusCode, b, path)
		}
	}
	code, _, stderr := srv.cli(t, srv.Admin, "flags", "disable", "greeting", "--env", "staging")
	if code != exitConflict || !strings.Contains(stderr, path) || strings.Contains(stderr, "Someone changed it first") {
		t.Errorf("flags disable: exit %d, %q; want %d naming %s and no talk of a concurrent change", code, stderr, exitConflict, path)
	}
	_, out, _ := srv.cli(t, srv.Admin, "flags", "export", "--env", "staging")
	if !strings.Contains(out, `"defaultVariant": "hi"`) && !strings.Contains(out, `"defaultVariant":"hi"`) || strings.Contains(out, "other") {
		t.Errorf("a refused change changed the environment:\n%s", out)
	}
}
