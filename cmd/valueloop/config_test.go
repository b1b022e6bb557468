package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// loadConfig parses serve's flags from args with env and returns the
// effective configuration.
func loadConfig(t *testing.T, args []string, env map[string]string) (serveConfig, error) {
	t.Helper()
	e := &cliEnv{stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard, getenv: envMap(env)}
	fs := newFlagSet(e, "serve")
	load := configFlags(e, fs)
	if err := e.parseFlags(fs, args); err != nil {
		t.Fatalf("parse %q: %v", args, err)
	}
	cfg, _, err := load()
	return cfg, err
}

// TestConfigPrecedence: flag > environment > file > default, per setting.
func TestConfigPrecedence(t *testing.T) {
	file := filepath.Join("testdata", "valueloop.yaml")
	cases := []struct {
		name string
		args []string
		env  map[string]string
		want func(c serveConfig) (got, want any)
	}{
		{"default", nil, nil, func(c serveConfig) (any, any) { return c.Addr, "127.0.0.1:8080" }},
		{"default interval", nil, nil, func(c serveConfig) (any, any) { return c.Rollouts.Interval, 10 * time.Second }},
		{"default log format", nil, nil, func(c serveConfig) (any, any) { return c.LogFormat, "text" }},
		{"file over default", []string{"--config", file}, nil, func(c serveConfig) (any, any) { return c.Addr, "127.0.0.1:7001" }},
		{"file bool", []string{"--config", file}, nil, func(c serveConfig) (any, any) { return c.Demo, true }},
		{"file list", []string{"--config", file}, nil, func(c serveConfig) (any, any) { return len(c.FlagFiles), 2 }},
		{"file duration", []string{"--config", file}, nil, func(c serveConfig) (any, any) { return c.Rollouts.Interval, 30 * time.Second }},
		{"file secret", []string{"--config", file}, nil, func(c serveConfig) (any, any) { return c.Rollouts.WebhookSecret, "file-secret" }},
		{"file from VALUELOOP_CONFIG", nil, map[string]string{"VALUELOOP_CONFIG": file}, func(c serveConfig) (any, any) { return c.DataDir, "/from/file" }},
		{"env over file", []string{"--config", file}, map[string]string{"VALUELOOP_ADDR": ":7002"}, func(c serveConfig) (any, any) { return c.Addr, ":7002" }},
		{"env list replaces file list", []string{"--config", file}, map[string]string{"VALUELOOP_FLAGS_FILE": "a=a.json, b=b.json, c=c.json"},
			func(c serveConfig) (any, any) { return len(c.FlagFiles), 3 }},
		{"env bool", nil, map[string]string{"VALUELOOP_DEMO": "true"}, func(c serveConfig) (any, any) { return c.Demo, true }},
		{"flag over env over file", []string{"--config", file, "--addr", ":7003"}, map[string]string{"VALUELOOP_ADDR": ":7002"},
			func(c serveConfig) (any, any) { return c.Addr, ":7003" }},
		{"flag bool over file", []string{"--config", file, "--demo=false"}, nil, func(c serveConfig) (any, any) { return c.Demo, false }},
		{"repeated flag replaces env list", []string{"--flags-file", "x=x.json"}, map[string]string{"VALUELOOP_FLAGS_FILE": "a=a.json,b=b.json"},
			func(c serveConfig) (any, any) { return c.FlagFiles[0].Env + "/" + c.FlagFiles[0].Path, "x/x.json" }},
		{"flag level over file", []string{"--config", file, "--log-level", "debug"}, nil, func(c serveConfig) (any, any) { return c.LogLevel, slog.LevelDebug }},
		{"file level", []string{"--config", file}, nil, func(c serveConfig) (any, any) { return c.LogLevel, slog.LevelWarn }},
		{"admin token from env", nil, map[string]string{"VALUELOOP_ADMIN_TOKEN": "vl_admin_x"}, func(c serveConfig) (any, any) { return c.AdminToken, "vl_admin_x" }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := loadConfig(t, c.args, c.env)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := c.want(cfg); got != want {
				t.Errorf("got %v, want %v", got, want)
			}
		})
	}
}

// TestConfigValidation: each invalid value is reported once, naming the
// setting and where the value came from; the valid ones are not.
func TestConfigValidation(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name  string
		args  []string
		env   map[string]string
		file  string
		wants []string
	}{
		{"negative interval", []string{"--rollout-interval", "-5s"}, nil, "", []string{"rollout-interval (from flag --rollout-interval): want a positive duration"}},
		{"bad env bool", nil, map[string]string{"VALUELOOP_DEMO": "maybe"}, "", []string{"demo (from VALUELOOP_DEMO): want true or false"}},
		{"bad addr and format together", []string{"--addr", "nowhere", "--log-format", "xml"}, nil, "",
			[]string{"addr (from flag --addr): want HOST:PORT", "log-format (from flag --log-format): want text or json"}},
		{"bad level from file", nil, nil, "log-level: loud\n", []string{"log-level (from FILE): want debug, info, warn or error"}},
		{"unknown key in file", nil, nil, "adress: :8080\n", []string{"adress: unknown setting; want one of addr,"}},
		// A mistyped value of a setting with a few values is answered with
		// the value meant, as a mistyped key is.
		{"misspelt level", []string{"--log-level", "debgu"}, nil, "", []string{`log-level (from flag --log-level): want debug, info, warn or error, not "debgu"; did you mean "debug"?`}},
		{"misspelt format", nil, map[string]string{"VALUELOOP_LOG_FORMAT": "jsno"}, "", []string{`log-format (from VALUELOOP_LOG_FORMAT): want text or json, not "jsno"; did you mean "json"?`}},
		{"misspelt sync mode", nil, nil, "sync: ful\n", []string{`sync (from FILE): want normal or full, not "ful"; did you mean "full"?`}},
		{"misspelt bool", nil, map[string]string{"VALUELOOP_DEMO": "ture"}, "", []string{`demo (from VALUELOOP_DEMO): want true or false, not "ture"; did you mean "true"?`}},
		// A typo is answered with the setting meant, as a mistyped flag is.
		{"misspelt key in file", nil, nil, "log-levl: debug\nmax-event: 10\n", []string{`log-levl: unknown setting; did you mean "log-level"?`, `max-event: unknown setting; did you mean "max-events"?`}},
		{"list for a scalar", nil, nil, "addr: [a, b]\n", []string{"addr: want one value, not a list"}},
		{"key given twice", nil, nil, "addr: :1\naddr: :2\n", []string{"addr: given twice (line 2)"}},
		{"list of mappings", nil, nil, "webhook:\n  - url: https://x\n", []string{"webhook: want a list of values, not of lists or mappings (line 2)"}},
		{"unknown delivery time zone", nil, map[string]string{"VALUELOOP_DELIVERY_TIME_ZONE": "Mars/Olympus"}, "", []string{`delivery-time-zone (from VALUELOOP_DELIVERY_TIME_ZONE): unknown time zone "Mars/Olympus"`}},
		{"public URL with a query", []string{"--public-url", "https://example.com/flags?x=1"}, nil, "", []string{`public-url (from flag --public-url): "https://example.com/flags?x=1" has a query or fragment`}},
		{"public URL with a fragment", nil, map[string]string{"VALUELOOP_PUBLIC_URL": "https://example.com/flags#top"}, "", []string{`public-url (from VALUELOOP_PUBLIC_URL): "https://example.com/flags#top" has a query or fragment`}},
		{"public URL not http", nil, nil, "public-url: ftp://example.com/flags\n", []string{`public-url (from FILE): want an absolute http(s) URL`}},
		{"public URL relative", []string{"--public-url", "flags"}, nil, "", []string{`public-url (from flag --public-url): want an absolute http(s) URL such as https://example.com/flags, or a path such as /flags, not "flags"`}},
		{"public URL without a host", []string{"--public-url", "https:///flags"}, nil, "", []string{`public-url (from flag --public-url): want an absolute http(s) URL`}},
		{"public URL with a user", []string{"--public-url", "https://me:pw@example.com/flags"}, nil, "", []string{`public-url (from flag --public-url): holds user information`}},
		{"database not a URL", []string{"--database", "mysql://x"}, nil, "", []string{"database (from flag --database): want a PostgreSQL URL"}},
		{"sync mode unknown", nil, map[string]string{"VALUELOOP_SYNC": "always"}, "", []string{`sync (from VALUELOOP_SYNC): want normal or full, not "always"`}},
		{"sync full on PostgreSQL", []string{"--sync", "full", "--database", "postgres://x@db/v"}, nil, "", []string{"sync: full applies to the embedded store"}},
		{"flags file without env", []string{"--flags-file", "flags.json"}, nil, "", []string{"flags-file (from flag --flags-file): want ENV=PATH"}},
		{"one env, two files", []string{"--flags-file", "p=a.json", "--flags-file", "p=b.json"}, nil, "", []string{`environment "p" is given two files`}},
		{"webhook without secret", []string{"--webhook", "https://hooks.example.com/x"}, nil, "", []string{"set webhook-secret (VALUELOOP_WEBHOOK_SECRET)"}},
		// The demo's rollout, experiment and value loop live in production:
		// a file serving production would replace the demo's flags, and
		// serve used to load half the demo and then stop with "no flag
		// \"new-onboarding\" in environment production".
		{"demo and a file for its production", []string{"--demo", "--flags-file", "production=p.json"}, nil, "",
			[]string{`flags-file (from flag --flags-file): production is the demo's environment`}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := c.args
			path := ""
			if c.file != "" {
				path = filepath.Join(dir, "c"+string(rune('a'+i))+".yaml")
				mustWrite(t, path, c.file)
				args = append(args, "--config", path)
			}
			_, err := loadConfig(t, args, c.env)
			if err == nil {
				t.Fatalf("no error, want %q", c.wants)
			}
			msg := err.Error()
			for _, w := range c.wants {
				w = strings.ReplaceAll(w, "FILE", path)
				if strings.Count(msg, w) != 1 {
					t.Errorf("error %q: want %q exactly once", msg, w)
				}
			}
			if n := strings.Count(msg, "\n  - "); n != len(c.wants) {
				t.Errorf("error %q lists %d problems, want %d", msg, n, len(c.wants))
			}
		})
	}
}

// TestPrintConfig: the effective values with their sources; secrets never.
func TestPrintConfig(t *testing.T) {
	env := map[string]string{
		"VALUELOOP_ADMIN_TOKEN":    "vl_admin_topsecret",
		"VALUELOOP_DATABASE":       "postgres://vl:hunter2@db:5432/vl",
		"VALUELOOP_WEBHOOK_SECRET": "whsec_c2VjcmV0",
		"VALUELOOP_LOG_FORMAT":     "json",
	}
	code, stdout, stderr := runCLIEnv(t, env, "serve", "--print-config", "--slack-webhook", "https://hooks.slack.com/services/T0/B0/XYZSECRET", "--addr", ":9999")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, secret := range []string{"topsecret", "hunter2", "c2VjcmV0", "XYZSECRET"} {
		if strings.Contains(stdout, secret) {
			t.Errorf("--print-config shows the secret %q:\n%s", secret, stdout)
		}
	}
	for _, want := range []string{
		"addr: :9999  # from flag --addr",
		"log-format: json  # from VALUELOOP_LOG_FORMAT",
		"data: valueloop-data  # from default",
		"database: postgres://vl:********@db:5432/vl  # from VALUELOOP_DATABASE",
		"- https://hooks.slack.com/********",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("--print-config lacks %q:\n%s", want, stdout)
		}
	}
	// What it prints is a config file serve reads back to the same values.
	path := filepath.Join(t.TempDir(), "printed.yaml")
	mustWrite(t, path, stdout)
	cfg, err := loadConfig(t, []string{"--config", path}, nil)
	if err != nil || cfg.Addr != ":9999" || cfg.LogFormat != "json" {
		t.Errorf("reading the printed config back: %+v, %v", cfg, err)
	}
}

// TestPrintConfigMasksEverySecret: every setting that may carry a secret is
// masked by --print-config, with what lets the operator recognise it kept:
// a --webhook URL (whose path or query often holds a token) keeps its scheme
// and host, as a Slack URL does; a DSN keeps all but its password, however
// it is written; the tracing endpoint drops its user information. A
// configuration refused for a webhook without a secret names the webhook
// by its host, not by its secret-bearing URL.
func TestPrintConfigMasksEverySecret(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		args []string
		want []string
	}{
		{env: map[string]string{"VALUELOOP_WEBHOOK_SECRET": "whsec_c2VjcmV0"},
			args: []string{"--webhook", "https://hooks.example.com/in/PATHSECRET?token=QUERYSECRET", "--webhook", "http://USERSECRET:PWSECRET@events.example:8443/x"},
			want: []string{"- https://hooks.example.com/********", "- http://events.example:8443/********"}},
		{env: map[string]string{"VALUELOOP_DATABASE": "host=db user=vl password='PWSECRET with spaces' dbname=vl"},
			want: []string{"database: host=db user=vl password=******** dbname=vl"}},
		{env: map[string]string{"VALUELOOP_DATABASE": "postgres://vl@db:5432/vl?password=PWSECRET&sslmode=disable"},
			want: []string{"database: postgres://vl@db:5432/vl?password=********&sslmode=disable"}},
		{env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "https://USERSECRET:PWSECRET@collector:4318"},
			want: []string{"OTLP http/protobuf to https://collector:4318/v1/traces"}},
	} {
		code, stdout, stderr := runCLIEnv(t, tc.env, append([]string{"serve", "--print-config"}, tc.args...)...)
		if code != exitOK {
			t.Fatalf("%v %v: exit %d: %s", tc.env, tc.args, code, stderr)
		}
		for _, secret := range []string{"PATHSECRET", "QUERYSECRET", "USERSECRET", "PWSECRET", "spaces", "c2VjcmV0"} {
			if strings.Contains(stdout, secret) {
				t.Errorf("--print-config shows the secret %q:\n%s", secret, stdout)
			}
		}
		for _, want := range tc.want {
			if !strings.Contains(stdout, want) {
				t.Errorf("--print-config lacks %q:\n%s", want, stdout)
			}
		}
	}
	code, _, stderr := runCLIEnv(t, nil, "serve", "--print-config", "--webhook", "https://hooks.example.com/in/PATHSECRET")
	if code != exitUsage || strings.Contains(stderr, "PATHSECRET") || !strings.Contains(stderr, "https://hooks.example.com/") {
		t.Errorf("webhook without a secret: exit %d, want a usage error naming the webhook by its host only:\n%s", code, stderr)
	}
	code, _, stderr = runCLIEnv(t, nil, "serve", "--print-config", "--slack-webhook", "hooks.slack.com/services/T0/B0/PATHSECRET")
	if code != exitUsage || strings.Contains(stderr, "PATHSECRET") || !strings.Contains(stderr, "want an http or https URL") {
		t.Errorf("webhook URL without a scheme: exit %d, want a usage error that does not print it:\n%s", code, stderr)
	}
}

// TestPrintConfigTracing: --print-config says whether tracing is on, what
// turned it on and where spans go; a bad OTEL variable stops the start.
func TestPrintConfigTracing(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{nil, "# tracing: off: no OTEL_EXPORTER_OTLP_ENDPOINT"},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"},
			"# tracing: on: OTEL_EXPORTER_OTLP_ENDPOINT is set; OTLP http/protobuf to http://collector:4318/v1/traces; service valueloop; sampler traceidratio 0.1"},
	} {
		code, stdout, stderr := runCLIEnv(t, tc.env, "serve", "--print-config")
		if code != exitOK || !strings.Contains(stdout, tc.want) {
			t.Errorf("env %v: exit %d %s\n%s\nwant %q", tc.env, code, stderr, stdout, tc.want)
		}
	}
	code, _, stderr := runCLIEnv(t, map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "thrift"}, "serve", "--print-config")
	if code != exitUsage || !strings.Contains(stderr, `tracing: OTEL_EXPORTER_OTLP_PROTOCOL: "thrift" is not supported`) {
		t.Errorf("bad protocol: exit %d %q", code, stderr)
	}
}

// TestJSONLogs: --log-format json writes one JSON object a line.
func TestJSONLogs(t *testing.T) {
	var logs bytes.Buffer
	cfg, err := loadConfig(t, []string{"--log-format", "json"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	newLogger(&logs, cfg).Info("valueloop serving", "url", "http://x")
	if got := logs.String(); !strings.HasPrefix(got, `{"time":`) || !strings.Contains(got, `"msg":"valueloop serving","url":"http://x"`) {
		t.Errorf("json log line: %q", got)
	}
}

func mustWrite(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// runCLIEnv runs valueloop with args and environment env, no server.
func runCLIEnv(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = Run(context.Background(), args, strings.NewReader(""), &out, &errOut, environ(env))
	return code, out.String(), errOut.String()
}

// TestOperationsDocListsEverySetting: docs/operations.md has a row for
// every setting, with its variable and default, so the table cannot drift.
func TestOperationsDocListsEverySetting(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "operations.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for _, s := range serveSettings() {
		row := "| `" + s.name + "` | `" + s.env + "` | "
		if s.def != "" {
			row += "`" + s.def + "` |"
		}
		if !strings.Contains(doc, row) {
			t.Errorf("docs/operations.md has no row %q", row)
		}
	}
}

// TestConfigFileVerbatim: a value of the config file is the text written,
// not what YAML resolves a plain scalar to (0123 is not the octal 83, a
// date not a time).
func TestConfigFileVerbatim(t *testing.T) {
	cfg, err := loadConfig(t, []string{"--config", filepath.Join("testdata", "config", "verbatim.yaml")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, got, want string }{
		{"admin-token", cfg.AdminToken, "0123"},
		{"webhook-secret", cfg.Rollouts.WebhookSecret, "1e3"},
		{"data", cfg.DataDir, "2026-01-01"},
		{"webhook", strings.Join(cfg.Rollouts.Webhooks, ","), "https://hooks.example.com/0x1F"},
		{"dimension", strings.Join(cfg.Dimensions[0].Values, "|"), "010|0x1F"},
	} {
		if c.got != c.want {
			t.Errorf("%s: got %q, want %q as written", c.name, c.got, c.want)
		}
	}
}
