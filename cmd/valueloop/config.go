package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/delivery"
	"github.com/valueloop/valueloop/demo"
	"github.com/valueloop/valueloop/httpapi"
	"github.com/valueloop/valueloop/metric"
	"github.com/valueloop/valueloop/tracing"
	"github.com/valueloop/valueloop/ui"
	"github.com/valueloop/valueloop/webhook"
)

// The configuration of `valueloop serve` is one table: every setting has a
// flag, an environment variable and a key of the optional YAML file
// (--config), with the precedence flag > environment > file > default.
// Only this file reads them; the rest of the program gets a serveConfig.

// setting is one row of the table.
type setting struct {
	name   string // flag name and key of the config file: "rollout-interval"
	env    string // VALUELOOP_ROLLOUT_INTERVAL
	def    string // default, in the flag's syntax
	usage  string
	kind   settingKind
	secret bool // printed masked by --print-config
	// set parses v into cfg; a list setting is given each element in turn.
	set func(cfg *serveConfig, v string) error
	// get is the effective value for --print-config.
	get func(cfg *serveConfig) any
}

type settingKind int

const (
	kindString settingKind = iota
	kindBool
	kindList // repeatable flag; comma-separated variable; YAML list
)

// serveSettings is every setting of serve, in the order help and
// --print-config show them.
func serveSettings() []setting {
	return slices.Concat(storeSettings(), secretSettings(), runSettings(), limitSettings())
}

// storeSettings are where the server listens and what it serves.
func storeSettings() []setting {
	return []setting{
		{name: "addr", env: "VALUELOOP_ADDR", def: "127.0.0.1:8080", usage: "`HOST:PORT` to listen on",
			set: func(c *serveConfig, v string) error {
				if _, _, err := splitHostPort(v); err != nil {
					return err
				}
				c.Addr = v
				return nil
			}, get: func(c *serveConfig) any { return c.Addr }},
		{name: "data", env: "VALUELOOP_DATA", def: "valueloop-data", usage: "`DIR` of the embedded SQLite store",
			set: func(c *serveConfig, v string) error {
				if v == "" {
					return errors.New("want a directory")
				}
				c.DataDir = v
				return nil
			}, get: func(c *serveConfig) any { return c.DataDir }},
		{name: "sync", env: "VALUELOOP_SYNC", def: "normal",
			usage: "`MODE` of the embedded store's commits: normal (an acknowledged write survives the process's crash) or full (also an OS crash or power loss: each commit waits for the disk, ingestion 20–40% slower); PostgreSQL's synchronous_commit decides for --database",
			set: func(c *serveConfig, v string) error {
				switch v {
				case "normal", "full":
					c.SyncFull = v == "full"
					return nil
				}
				return notOneOf(v, "normal", "full")
			}, get: func(c *serveConfig) any {
				if c.SyncFull {
					return "full"
				}
				return "normal"
			}},
		{name: "database", env: "VALUELOOP_DATABASE", secret: true,
			usage: "`URL` of a PostgreSQL database shared by several nodes, postgres://USER[:PASSWORD]@HOST:PORT/DATABASE; default: the embedded store in --data",
			set: func(c *serveConfig, v string) error {
				if v != "" && !isPostgresDSN(v) {
					return errors.New("want a PostgreSQL URL such as postgres://valueloop@db.example:5432/valueloop; leave it out to use the embedded store in --data")
				}
				c.Database = v
				return nil
			}, get: func(c *serveConfig) any { return maskDSN(c.Database) }},
		{name: "demo", env: "VALUELOOP_DEMO", def: "false", kind: kindBool, usage: "load the demo data set into empty environments",
			set: func(c *serveConfig, v string) (err error) {
				c.Demo, err = parseBool(v)
				return err
			}, get: func(c *serveConfig) any { return c.Demo }},
		{name: "flags-file", env: "VALUELOOP_FLAGS_FILE", kind: kindList,
			usage: "`ENV=PATH` of a flagd file to serve for ENV, read-only, re-read when it changes (repeatable)",
			set: func(c *serveConfig, v string) error {
				var fs flagFiles
				if err := fs.Set(v); err != nil {
					return err
				}
				for _, f := range c.FlagFiles {
					if f.Env == fs[0].Env {
						return fmt.Errorf("environment %q is given two files, %s and %s", f.Env, f.Path, fs[0].Path)
					}
				}
				c.FlagFiles = append(c.FlagFiles, fs[0])
				return nil
			}, get: func(c *serveConfig) any {
				var s []string
				for _, f := range c.FlagFiles {
					s = append(s, f.Env+"="+f.Path)
				}
				return s
			}},
	}
}

// secretSettings are the settings that hold secrets: the admin token and
// the rollout webhooks (whose URLs often carry one in their path or query).
func secretSettings() []setting {
	return []setting{
		{name: "admin-token", env: "VALUELOOP_ADMIN_TOKEN", secret: true,
			usage: "admin `TOKEN` to create when the store has no admin token (prefer the variable: flags show in ps)",
			set:   func(c *serveConfig, v string) error { c.AdminToken = v; return nil },
			get:   func(c *serveConfig) any { return maskSecret(c.AdminToken) }},
		{name: "webhook", env: "VALUELOOP_WEBHOOK", kind: kindList, secret: true,
			usage: "`URL` that receives rollout events as JSON signed with the webhook secret (repeatable)",
			set:   func(c *serveConfig, v string) error { return c.Rollouts.Webhooks.Set(v) },
			get:   func(c *serveConfig) any { return maskURLPaths(c.Rollouts.Webhooks) }},
		{name: "slack-webhook", env: "VALUELOOP_SLACK_WEBHOOK", kind: kindList, secret: true,
			usage: "Slack-compatible incoming-webhook `URL` that receives rollout events (repeatable)",
			set:   func(c *serveConfig, v string) error { return c.Rollouts.SlackWebhooks.Set(v) },
			get:   func(c *serveConfig) any { return maskURLPaths(c.Rollouts.SlackWebhooks) }},
		{name: "webhook-secret", env: "VALUELOOP_WEBHOOK_SECRET", secret: true,
			usage: "`SECRET` the --webhook deliveries are signed with (prefer the variable: flags show in ps)",
			set:   func(c *serveConfig, v string) error { c.Rollouts.WebhookSecret = v; return nil },
			get:   func(c *serveConfig) any { return maskSecret(c.Rollouts.WebhookSecret) }},
	}
}

// runSettings are how the server runs: its engine's pace and its logs.
func runSettings() []setting {
	return []setting{
		{name: "rollout-interval", env: "VALUELOOP_ROLLOUT_INTERVAL", def: "10s", usage: "how often the rollout engine checks rollouts, a `DURATION` such as 10s",
			set: func(c *serveConfig, v string) error {
				d, err := time.ParseDuration(v)
				if err != nil || d <= 0 {
					return fmt.Errorf("want a positive duration such as 10s, not %q", v)
				}
				c.Rollouts.Interval = d
				return nil
			}, get: func(c *serveConfig) any { return c.Rollouts.Interval.String() }},
		{name: "secure-cookies", env: "VALUELOOP_SECURE_COOKIES", def: "auto", usage: "`MODE` of the dashboard's Secure cookie flag: auto (requests over TLS or forwarded as https), always (behind a TLS-terminating proxy) or never",
			set: func(c *serveConfig, v string) error {
				m, err := ui.ParseCookieSecurity(v)
				c.SecureCookies = m
				return err
			}, get: func(c *serveConfig) any { return c.SecureCookies.String() }},
		{name: "public-url", env: "VALUELOOP_PUBLIC_URL", usage: "`URL` where clients reach this server behind a reverse proxy that mounts it under a path (https://example.com/flags, or the path /flags alone), for the links it hands them: OFREP's change stream, the dashboard's links, forms, redirects and cookie path, and a URL's rollout webhook messages link to the dashboard (default: the root of the origin asked)",
			set: func(c *serveConfig, v string) (err error) {
				c.PublicURL, err = httpapi.ParsePublicURL(v)
				return err
			}, get: func(c *serveConfig) any {
				if c.PublicURL == nil {
					return ""
				}
				return c.PublicURL.String()
			}},
		{name: "dimension", env: "VALUELOOP_DIMENSION", kind: kindList,
			usage: "`NAME=V1|V2|…`: a context attribute of exposures that results can be split by, with the values kept (others count as (other)); repeatable, at most 5 of at most 50 values; the same on every node (docs/experiments.md)",
			set: func(c *serveConfig, v string) error {
				ds, err := metric.ParseDimensions(v)
				if err != nil {
					return err
				}
				all := slices.Concat(c.Dimensions, ds)
				if err := metric.ValidateDimensions(all); err != nil {
					return err
				}
				c.Dimensions = all
				return nil
			}, get: func(c *serveConfig) any {
				s := []string{}
				for _, d := range c.Dimensions {
					s = append(s, d.Name+"="+strings.Join(d.Values, "|"))
				}
				return s
			}},
		{name: "delivery-time-zone", env: "VALUELOOP_DELIVERY_TIME_ZONE", def: "UTC", usage: "IANA `ZONE` (Europe/Berlin) whose midnights cut the days, weeks and months of the DORA metrics when a request names none: the dashboard's, and the API's and CLI's default",
			set: func(c *serveConfig, v string) (err error) {
				var e *valueloop.Error
				if c.DeliveryZone, err = delivery.ParseZone("delivery-time-zone", v); errors.As(err, &e) {
					return errors.New(e.Message) // the problem line names the setting
				}
				return err
			}, get: func(c *serveConfig) any { return c.DeliveryZone.String() }},
		{name: "log-level", env: "VALUELOOP_LOG_LEVEL", def: "info", usage: "`LEVEL` of the logs: debug, info, warn or error",
			set: func(c *serveConfig, v string) error {
				if err := c.LogLevel.UnmarshalText([]byte(v)); err != nil {
					return notOneOf(v, "debug", "info", "warn", "error")
				}
				return nil
			}, get: func(c *serveConfig) any { return strings.ToLower(c.LogLevel.String()) }},
		{name: "log-format", env: "VALUELOOP_LOG_FORMAT", def: "text", usage: "`FORMAT` of the logs: text (key=value lines) or json (one object a line)",
			set: func(c *serveConfig, v string) error {
				if v != "text" && v != "json" {
					return notOneOf(v, "text", "json")
				}
				c.LogFormat = v
				return nil
			}, get: func(c *serveConfig) any { return c.LogFormat }},
	}
}

// rawFlag records what a setting's flag was given, unparsed: the values are
// parsed once, with the other sources, by loadServeConfig.
type rawFlag struct {
	s      setting
	values []string
}

func (f *rawFlag) String() string { return strings.Join(f.values, ",") }
func (f *rawFlag) IsBoolFlag() bool {
	return f.s.kind == kindBool
}
func (f *rawFlag) Set(v string) error {
	if f.s.kind == kindList {
		f.values = append(f.values, v)
	} else {
		f.values = []string{v}
	}
	return nil
}

// configFlags registers every setting on fs, plus --config; the returned
// function loads the configuration once fs is parsed.
func configFlags(e *cliEnv, fs *flag.FlagSet) (load func() (serveConfig, []configSource, error)) {
	settings := serveSettings()
	raws := make([]*rawFlag, len(settings))
	for i, s := range settings {
		raws[i] = &rawFlag{s: s}
		usage := s.usage + " (" + s.env + ")"
		if s.def != "" && s.kind != kindBool {
			usage += " (default " + s.def + ")"
		}
		fs.Var(raws[i], s.name, usage)
	}
	configPath := fs.String("config", e.getenv("VALUELOOP_CONFIG"), "YAML `FILE` of settings, keyed by flag name (VALUELOOP_CONFIG); flags and variables override it")
	return func() (serveConfig, []configSource, error) {
		var file map[string][]string
		if *configPath != "" {
			var err error
			if file, err = readConfigFile(*configPath, settings); err != nil {
				return serveConfig{}, nil, err
			}
		}
		var set = map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		return resolveConfig(settings, raws, set, e.getenv, file, *configPath)
	}
}

// configSource says where a setting's effective value came from.
type configSource struct {
	setting setting
	from    string // "flag --addr", "VALUELOOP_ADDR", "valueloop.yaml", "default"
}

// resolveConfig applies, per setting, the first source that has a value:
// flag, environment, file, default. Every invalid value is reported, each
// naming its setting and where the value came from.
func resolveConfig(settings []setting, raws []*rawFlag, flagSet map[string]bool, getenv func(string) string, file map[string][]string, path string) (serveConfig, []configSource, error) {
	cfg := serveConfig{}
	var sources []configSource
	var problems []string
	for i, s := range settings {
		var values []string
		var from string
		switch env := getenv(s.env); {
		case flagSet[s.name]:
			values, from = raws[i].values, "flag --"+s.name
		case env != "":
			values, from = []string{env}, s.env
			if s.kind == kindList {
				values = splitList(env)
			}
		case file[s.name] != nil:
			values, from = file[s.name], path
		default:
			from = "default"
			if s.def != "" {
				values = []string{s.def}
			}
		}
		sources = append(sources, configSource{setting: s, from: from})
		for _, v := range values {
			if err := s.set(&cfg, v); err != nil {
				problems = append(problems, fmt.Sprintf("%s (from %s): %v", s.name, from, err))
				break
			}
		}
	}
	if cfg.Demo {
		problems = append(problems, demoFileProblems(cfg, sources)...)
	}
	if cfg.SyncFull && cfg.Database != "" {
		// Refused rather than ignored: whoever asked for full expects power
		// loss to lose nothing, which only the database server can promise.
		problems = append(problems, "sync: full applies to the embedded store; with --database, set synchronous_commit on the PostgreSQL server (on by default)")
	}
	var err error
	if cfg.Tracing, err = tracing.FromEnv(getenv); err != nil {
		for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
			problems = append(problems, "tracing: "+e.Error())
		}
	}
	if len(problems) == 0 {
		for _, t := range cfg.Rollouts.targets() {
			if err := t.Check(); err != nil {
				if t.Format == webhook.Generic && t.Secret == "" {
					problems = append(problems, fmt.Sprintf("webhook %s: set webhook-secret (VALUELOOP_WEBHOOK_SECRET) to the secret its deliveries are signed with", maskURLPath(t.URL)))
				} else {
					problems = append(problems, fmt.Sprintf("webhook: %v", err))
				}
			}
		}
	}
	if len(problems) > 0 {
		return cfg, nil, &usageError{msg: "serve: invalid configuration; nothing was started:\n  - " + strings.Join(problems, "\n  - "), help: "serve"}
	}
	return cfg, sources, nil
}

// demoFileProblems refuses a flag file for an environment where the demo
// puts its rollout, experiment and value loop: the file would replace the
// demo's flags (a file is its environment's only source), and the demo
// would stop half loaded.
func demoFileProblems(cfg serveConfig, sources []configSource) []string {
	from := ""
	for _, s := range sources {
		if s.setting.name == "flags-file" {
			from = s.from
		}
	}
	var problems []string
	for _, f := range cfg.FlagFiles {
		for _, d := range demo.Environments() {
			if d.Production && f.Env == d.Key {
				problems = append(problems, fmt.Sprintf("flags-file (from %s): %s is the demo's environment (its rollout, experiment and value loop are there), and %s would replace its flags: serve the file for another environment, or leave demo off", from, f.Env, f.Path))
			}
		}
	}
	return problems
}

// readConfigFile reads the YAML file: a mapping of setting names to a
// scalar, or a list for a repeatable setting. An unknown key is an error,
// so a misspelt setting is not silently ignored.
func readConfigFile(path string, settings []setting) (map[string][]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, usageErrorf("--config: %v", err)
	}
	// The file is read as nodes, not decoded into Go values: decoding
	// resolves plain scalars by YAML's rules, so admin-token: 0123 became
	// "83", 1e3 "1000" and data: 2026-01-01 "2026-01-01T00:00:00Z" — a
	// setting silently given another value than the one written. A
	// scalar's text is taken as written; each setting parses it.
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, usageErrorf("--config %s: not a YAML mapping of settings: %v", path, err)
	}
	out := map[string][]string{}
	if len(doc.Content) == 0 { // an empty file: no settings
		return out, nil
	}
	top := doc.Content[0]
	if top.Kind != yaml.MappingNode {
		return nil, usageErrorf("--config %s: not a YAML mapping of settings (line %d)", path, top.Line)
	}
	var problems []string
	for k := 0; k+1 < len(top.Content); k += 2 {
		key, v := top.Content[k].Value, resolveAlias(top.Content[k+1])
		i := slices.IndexFunc(settings, func(s setting) bool { return s.name == key })
		if i < 0 {
			problems = append(problems, unknownSetting(key, settings))
			continue
		}
		if _, dup := out[key]; dup {
			problems = append(problems, fmt.Sprintf("%s: given twice (line %d)", key, top.Content[k].Line))
			continue
		}
		switch v.Kind {
		case yaml.SequenceNode:
			if settings[i].kind != kindList {
				problems = append(problems, fmt.Sprintf("%s: want one value, not a list", key))
				continue
			}
			out[key] = []string{}
			for _, e := range v.Content {
				if e = resolveAlias(e); e.Kind != yaml.ScalarNode {
					problems = append(problems, fmt.Sprintf("%s: want a list of values, not of lists or mappings (line %d)", key, e.Line))
					break
				}
				out[key] = append(out[key], yamlScalar(e))
			}
		case yaml.MappingNode:
			problems = append(problems, fmt.Sprintf("%s: want a value, not a mapping", key))
		default:
			out[key] = []string{yamlScalar(v)}
		}
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		return nil, &usageError{msg: fmt.Sprintf("--config %s: nothing was started:\n  - %s", path, strings.Join(problems, "\n  - ")), help: "serve"}
	}
	return out, nil
}

// yamlScalar is a scalar's text as written; null (or nothing) is "".
func yamlScalar(n *yaml.Node) string {
	if n.Tag == "!!null" {
		return ""
	}
	return n.Value
}

func resolveAlias(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// unknownSetting is the problem of a file's key no setting has: the
// setting it is a likely typo of, or failing that the whole list.
func unknownSetting(key string, settings []setting) string {
	var names []string
	for _, s := range settings {
		names = append(names, s.name)
	}
	if s := suggestion(key, "", names); s != "" {
		return key + ": unknown setting" + s
	}
	return key + ": unknown setting; want one of " + settingNames(settings)
}

func settingNames(settings []setting) string {
	var ns []string
	for _, s := range settings {
		ns = append(ns, s.name)
	}
	return strings.Join(ns, ", ")
}

// splitTrim splits s at sep and trims the spaces around each part, as
// people type them in a flag's list ("5%: 1h", "production: checkout").
func splitTrim(s, sep string) []string {
	parts := strings.Split(s, sep)
	for i, p := range parts {
		parts[i] = strings.TrimSpace(p)
	}
	return parts
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func parseBool(v string) (bool, error) {
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, notOneOf(v, "true", "false")
	}
	return b, nil
}

func splitHostPort(v string) (string, string, error) {
	host, port, err := net.SplitHostPort(v)
	if err != nil {
		return "", "", fmt.Errorf("want HOST:PORT such as 127.0.0.1:8080 or :8080, not %q", v)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return "", "", fmt.Errorf("port %q of %q is not a number from 0 to 65535", port, v)
	}
	return host, port, nil
}

// printConfig writes the effective configuration as YAML that --config
// accepts, each line saying where the value came from, secrets masked.
func printConfig(w io.Writer, cfg serveConfig, sources []configSource) {
	for _, src := range sources {
		v, _ := yaml.Marshal(map[string]any{src.setting.name: src.setting.get(&cfg)})
		lines := strings.TrimRight(string(v), "\n")
		if strings.Contains(lines, "\n") {
			fmt.Fprintf(w, "# %s: from %s\n%s\n", src.setting.name, src.from, lines)
			continue
		}
		fmt.Fprintf(w, "%s  # from %s\n", lines, src.from)
	}
	// Tracing is set by the standard OTEL_* variables, not by a setting.
	fmt.Fprintf(w, "# tracing: %s\n", cfg.Tracing.Describe())
}

const masked = "********"

func maskSecret(s string) string {
	if s == "" {
		return ""
	}
	return masked
}

// dsnPassword is the password of a key=value DSN, quoted or not (libpq
// allows spaces around the = and quotes a value that has spaces), and
// queryPassword that of a URL's query.
var (
	dsnPassword   = regexp.MustCompile(`(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)`)
	queryPassword = regexp.MustCompile(`((?:^|&)password=)[^&]*`)
)

// maskDSN hides the password of a PostgreSQL URL (in its user information
// or its query) or key=value DSN. A URL that does not parse keeps only its
// scheme: where its password ends cannot be told.
func maskDSN(dsn string) string {
	scheme, _, _ := strings.Cut(dsn, "://")
	if scheme != "postgres" && scheme != "postgresql" {
		return dsnPassword.ReplaceAllString(dsn, "${1}"+masked)
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return scheme + "://" + masked
	}
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), masked)
		}
	}
	u.RawQuery = queryPassword.ReplaceAllString(u.RawQuery, "${1}"+masked)
	return strings.ReplaceAll(u.String(), url.QueryEscape(masked), masked)
}

// maskURLPaths masks each of a list of webhook URLs.
func maskURLPaths(urls []string) []string {
	var s []string
	for _, u := range urls {
		s = append(s, maskURLPath(u))
	}
	return s
}

// maskURLPath keeps a URL's host and hides its path and query, where
// incoming-webhook URLs carry their secret.
func maskURLPath(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return masked
	}
	return u.Scheme + "://" + u.Host + "/" + masked
}

// newLogger builds the server's logger in the configured format.
func newLogger(w io.Writer, cfg serveConfig) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
