package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// testServer is a real `valueloop serve` started through Run on a free port
// with a temporary data directory.
type testServer struct {
	URL     string
	Admin   string // admin token
	DataDir string
	Stderr  *syncBuffer
	stop    func()
	done    chan int
}

const testAdminToken = "test-admin-token-0123456789"

var urlPattern = regexp.MustCompile(`msg="valueloop serving" url=(http://\S+)`)

// MustServe starts the server with extra args and waits until it serves.
func MustServe(t testing.TB, dataDir string, args ...string) *testServer {
	t.Helper()
	return MustServeEnv(t, dataDir, map[string]string{"VALUELOOP_ADMIN_TOKEN": testAdminToken}, args...)
}

// MustServeEnv is MustServe with the environment env.
func MustServeEnv(t testing.TB, dataDir string, env map[string]string, args ...string) *testServer {
	t.Helper()
	if dataDir == "" {
		dataDir = filepath.Join(t.TempDir(), "data")
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &testServer{Admin: testAdminToken, DataDir: dataDir, Stderr: &syncBuffer{}, stop: cancel, done: make(chan int, 1)}
	pr, pw := io.Pipe()
	urlc := serveLog(pr, s.Stderr)
	getenv := environ(env)
	all := append([]string{"serve", "--addr", "127.0.0.1:0", "--data", dataDir}, args...)
	go func() {
		code := Run(ctx, all, strings.NewReader(""), io.Discard, pw, getenv)
		pw.Close()
		s.done <- code
	}()
	select {
	case s.URL = <-urlc:
	case code := <-s.done:
		t.Fatalf("serve exited with %d before serving:\n%s", code, s.Stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not start within 30s:\n%s", s.Stderr.String())
	}
	t.Cleanup(func() { s.Stop(t) })
	return s
}

// serveLog reads a server's log from r a line at a time, copying it into
// log when that is not nil, and sends the URL the server says it serves at
// on the channel it returns, once.
func serveLog(r io.Reader, log *syncBuffer) <-chan string {
	urlc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			line := sc.Text()
			if log != nil {
				log.WriteString(line + "\n")
			}
			if m := urlPattern.FindStringSubmatch(line); m != nil {
				select {
				case urlc <- m[1]:
				default:
				}
			}
		}
	}()
	return urlc
}

// startBinary starts the built binary bin with args and the admin token,
// and returns it with the channel serveLog sends its URL on.
func startBinary(t testing.TB, bin string, log *syncBuffer, args ...string) (*exec.Cmd, <-chan string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "VALUELOOP_ADMIN_TOKEN="+testAdminToken)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, serveLog(stderr, log)
}

// Stop shuts the server down and waits for Run to return.
func (s *testServer) Stop(t testing.TB) {
	if s.stop == nil {
		return
	}
	s.stop()
	s.stop = nil
	select {
	case code := <-s.done:
		if code != 0 {
			t.Errorf("serve exited with %d:\n%s", code, s.Stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Error("serve did not stop within 15s")
	}
}

// cli runs a client command against the server and returns its exit code,
// stdout and stderr.
func (s *testServer) cli(t testing.TB, token string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	getenv := environ(map[string]string{"VALUELOOP_SERVER": s.URL, "VALUELOOP_TOKEN": token})
	code := Run(context.Background(), args, strings.NewReader(""), &stdout, &stderr, getenv)
	return code, stdout.String(), stderr.String()
}

// mustToken creates a token through the CLI and returns its secret.
func (s *testServer) mustToken(t testing.TB, args ...string) string {
	t.Helper()
	code, out, stderr := s.cli(t, s.Admin, append([]string{"token", "create"}, args...)...)
	if code != 0 {
		t.Fatalf("token create %v: exit %d: %s", args, code, stderr)
	}
	return strings.TrimSpace(out)
}

// mustRun runs each command against s with the admin token, in order,
// and fails t at the first that does not exit 0.
func (s *testServer) mustRun(t testing.TB, commands ...[]string) {
	t.Helper()
	for _, args := range commands {
		if code, _, stderr := s.cli(t, s.Admin, args...); code != 0 {
			t.Fatalf("valueloop %s: exit %d: %s", strings.Join(args, " "), code, stderr)
		}
	}
}

// mustSendEvents posts events to s's event API with token and fails t
// unless every one is accepted.
func (s *testServer) mustSendEvents(t testing.TB, token string, events any) {
	t.Helper()
	body, err := json.Marshal(events)
	if err != nil {
		t.Fatal(err)
	}
	if resp, answer := post(t, s.URL+"/api/v1/events", token, string(body)); resp.StatusCode != 200 || !strings.Contains(answer, `"rejected": 0`) {
		t.Fatalf("events: %d %s", resp.StatusCode, answer)
	}
}

// post sends a JSON body with a bearer token.
func post(t testing.TB, url, token, body string) (*http.Response, string) {
	t.Helper()
	return sendJSON(t, http.MethodPost, url, token, body)
}

// sendJSON sends a JSON body (none when empty) with a bearer token (none
// when empty) and returns the answer and its body.
func sendJSON(t testing.TB, method, url, token, body string) (*http.Response, string) {
	t.Helper()
	header := map[string]string{"Content-Type": "application/json"}
	if token != "" {
		header["Authorization"] = "Bearer " + token
	}
	return request(t, method, url, body, header)
}

// request sends one request with the given headers and returns the answer
// and its body.
func request(t testing.TB, method, url, body string, header map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// ofrep evaluates flag in env over OFREP as the admin, with body the
// request (its evaluation context), and returns the answer's body.
func (s *testServer) ofrep(t testing.TB, env, flag, body string) string {
	t.Helper()
	_, answer := request(t, http.MethodPost, s.URL+"/ofrep/v1/evaluate/flags/"+flag, body, map[string]string{
		"Authorization": "Bearer " + s.Admin, "Content-Type": "application/json", "Valueloop-Environment": env,
	})
	return answer
}

func envMap(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) WriteString(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.b.WriteString(s)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// environ is m as os.Environ lists an environment, for Run.
func environ(m map[string]string) []string {
	var l []string
	for k, v := range m {
		l = append(l, k+"="+v)
	}
	return l
}
