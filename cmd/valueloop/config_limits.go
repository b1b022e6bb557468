package main

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// limitSettings are the bounds of what clients can make the server hold
// (httpapi.Limits, flagdapi; docs/security.md says what each protects).
// Their defaults are the packages' own.
func limitSettings() []setting {
	return []setting{
		intSetting("max-connections", "4096", "open connections; beyond them new ones are closed at once",
			func(c *serveConfig) *int { return &c.Limits.MaxConns }),
		durationSetting("header-timeout", "10s", "time a client may take to send a request's headers",
			func(c *serveConfig) *time.Duration { return &c.Limits.HeaderTimeout }),
		sizeSetting("max-header-bytes", "64KiB", "request header, query string included (431 beyond it)",
			func(c *serveConfig) *int64 { return &c.Limits.MaxHeaderBytes }),
		durationSetting("body-timeout", "30s", "time a client may take to send a request body (408 beyond it)",
			func(c *serveConfig) *time.Duration { return &c.Limits.BodyTimeout }),
		durationSetting("stream-write-timeout", "10s", "time a flag stream client (SSE, OFREP's change stream, flagd) may take to receive each write, a flag set or a heartbeat, before it is dropped",
			func(c *serveConfig) *time.Duration { return &c.Limits.StreamWriteTimeout }),
		sizeSetting("max-body-buffered", "256MiB", "request body bytes all requests may hold at once, and what decoding event uploads holds beside them (503 beyond it)",
			func(c *serveConfig) *int64 { return &c.Limits.MaxBufferedBytes }),
		sizeSetting("max-api-body", "4MiB", "admin API request body (flagd files included)",
			func(c *serveConfig) *int64 { return &c.Limits.MaxAPIBody }),
		sizeSetting("max-event-body", "32MiB", "event upload body, after decompression",
			func(c *serveConfig) *int64 { return &c.Limits.MaxEventBody }),
		intSetting("max-events", "10000", "events per upload (413 beyond it)",
			func(c *serveConfig) *int { return &c.Limits.MaxEvents }),
		intSetting("max-flags-per-user", "1000", "flags analysed per user and environment: exposures of a user to more are stored, not analysed (the same on every node; a change rebuilds the state)",
			func(c *serveConfig) *int { return &c.MaxFlagsPerUser }),
		sizeSetting("max-hook-body", "25MiB", "webhook body",
			func(c *serveConfig) *int64 { return &c.Limits.MaxHookBody }),
		intSetting("max-hook-bodies", "16", "webhook deliveries checked against the store at once before their body is read (the wait for the body is not counted)",
			func(c *serveConfig) *int { return &c.Limits.MaxHookBodies }),
		sizeSetting("max-hook-buffered", "64MiB", "webhook body bytes not yet verified that all deliveries may hold at once (503 beyond it; at least max-hook-body)",
			func(c *serveConfig) *int64 { return &c.Limits.MaxHookBuffered }),
		intSetting("max-anonymous-bodies-per-connection", "4", "requests of one connection read before anything says who sent them (webhook deliveries, dashboard form posts) at once (HTTP/2 carries many on one connection; 503 beyond them)",
			func(c *serveConfig) *int { return &c.Limits.MaxAnonBodiesPerConn }),
		intSetting("max-streams", "2048", "flag streams open at once: SSE, OFREP's change stream, flagd SyncFlags and event streams with credentials (503 or ResourceExhausted beyond them)",
			func(c *serveConfig) *int { return &c.Limits.MaxStreams }),
		streamsPerClient(intSetting("max-streams-per-client", "", "flag streams of every kind (SSE, OFREP's change stream, flagd's, anonymous ones included) one client address, an IPv6 /64, holds open at once (default a quarter of max-streams; 429 or ResourceExhausted beyond them; loopback only with per-client-limit-loopback)",
			func(c *serveConfig) *int { return &c.Limits.MaxStreamsPerClient })),
		intSetting("max-flagd-anonymous-streams", "256", "flagd event streams opened without credentials (flagd's JavaScript provider)",
			func(c *serveConfig) *int { return &c.FlagdAnonymousStreams }),
		intSetting("max-requests", "16384", "requests under way at once, flag streams aside (503 beyond them)",
			func(c *serveConfig) *int { return &c.Limits.MaxRequests }),
		intSetting("max-requests-per-client", "1024", "requests under way at once from one client address, an IPv6 /64 (429 beyond them; loopback only with per-client-limit-loopback)",
			func(c *serveConfig) *int { return &c.Limits.MaxRequestsPerClient }),
		intSetting("max-connections-per-client", "1024", "open connections of one client address, an IPv6 /64 (beyond them new ones are closed at once; loopback only with per-client-limit-loopback)",
			func(c *serveConfig) *int { return &c.Limits.MaxConnsPerClient }),
		boolSetting("per-client-limit-loopback", "false", "apply max-requests-per-client, max-connections-per-client and max-streams-per-client to loopback addresses too (off: a proxy on the same host makes every client 127.0.0.1)",
			func(c *serveConfig) *bool { return &c.Limits.LimitLoopback }),
		durationSetting("response-timeout", "2m", "time from a request's headers to the end of its answer, body included (never below body-timeout; flag streams excepted)",
			func(c *serveConfig) *time.Duration { return &c.Limits.ResponseTimeout }),
		intSetting("auth-failures", "20", "failed authentications a client address may make per auth-window before it is answered 429",
			func(c *serveConfig) *int { return &c.Limits.AuthFailures }),
		durationSetting("auth-window", "1m", "the window of auth-failures",
			func(c *serveConfig) *time.Duration { return &c.Limits.AuthWindow }),
		{name: "trusted-proxies", env: "VALUELOOP_TRUSTED_PROXIES", kind: kindList,
			usage: "`CIDR` of reverse proxies whose X-Forwarded-For names the client, for the failure throttles and the per-client limits (repeatable; an address is a /32 or /128)",
			set: func(c *serveConfig, v string) error {
				p, err := parsePrefix(v)
				if err != nil {
					return err
				}
				c.Limits.TrustedProxies = append(c.Limits.TrustedProxies, p)
				return nil
			}, get: func(c *serveConfig) any {
				out := []string{}
				for _, p := range c.Limits.TrustedProxies {
					out = append(out, p.String())
				}
				return out
			}},
		boolSetting("auth-throttle-loopback", "false", "throttle failed authentications from loopback addresses too (off: a proxy on the same host makes every client 127.0.0.1)",
			func(c *serveConfig) *bool { return &c.Limits.ThrottleLoopback }),
	}
}

// parsePrefix reads a CIDR prefix, or an address as the prefix of it alone.
func parsePrefix(v string) (netip.Prefix, error) {
	v = strings.TrimSpace(v)
	if p, err := netip.ParsePrefix(v); err == nil {
		return p.Masked(), nil
	}
	if ip, err := netip.ParseAddr(v); err == nil {
		ip = ip.Unmap()
		return netip.PrefixFrom(ip, ip.BitLen()), nil
	}
	return netip.Prefix{}, fmt.Errorf("want an address or a CIDR prefix such as 10.0.0.0/8, not %q", v)
}

func boolSetting(name, def, usage string, field func(*serveConfig) *bool) setting {
	return setting{name: name, env: envName(name), def: def, kind: kindBool, usage: usage,
		set: func(c *serveConfig, v string) (err error) {
			*field(c), err = parseBool(v)
			return err
		}, get: func(c *serveConfig) any { return *field(c) }}
}

func envName(name string) string {
	return "VALUELOOP_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// streamsPerClient prints max-streams-per-client as the server takes it:
// left unset (0), a quarter of max-streams, so that --print-config writes a
// value --config reads back.
func streamsPerClient(s setting) setting {
	s.get = func(c *serveConfig) any {
		if n := c.Limits.MaxStreamsPerClient; n > 0 {
			return n
		}
		return max(c.Limits.MaxStreams/4, 1)
	}
	return s
}

func intSetting(name, def, usage string, field func(*serveConfig) *int) setting {
	return setting{name: name, env: envName(name), def: def, usage: "`N` " + usage,
		set: func(c *serveConfig, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				return fmt.Errorf("want a positive whole number, not %q", v)
			}
			*field(c) = n
			return nil
		}, get: func(c *serveConfig) any { return *field(c) }}
}

func durationSetting(name, def, usage string, field func(*serveConfig) *time.Duration) setting {
	return setting{name: name, env: envName(name), def: def, usage: "`DURATION` " + usage,
		set: func(c *serveConfig, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return fmt.Errorf("want a positive duration such as %s, not %q", def, v)
			}
			*field(c) = d
			return nil
		}, get: func(c *serveConfig) any { return field(c).String() }}
}

func sizeSetting(name, def, usage string, field func(*serveConfig) *int64) setting {
	return setting{name: name, env: envName(name), def: def, usage: "`SIZE` of the " + usage + ", such as " + def,
		set: func(c *serveConfig, v string) error {
			n, err := parseSize(v)
			if err != nil {
				return err
			}
			*field(c) = n
			return nil
		}, get: func(c *serveConfig) any { return formatSize(*field(c)) }}
}

var sizeUnits = []struct {
	suffix string
	shift  uint
}{{"GiB", 30}, {"MiB", 20}, {"KiB", 10}, {"B", 0}, {"", 0}}

// parseSize reads a positive byte count: a whole number with an optional
// unit B, KiB, MiB or GiB.
func parseSize(v string) (int64, error) {
	for _, u := range sizeUnits {
		num, ok := strings.CutSuffix(v, u.suffix)
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
		if err != nil || n <= 0 || n > (1<<62)>>u.shift {
			break
		}
		return n << u.shift, nil
	}
	return 0, fmt.Errorf("want a positive size such as 4MiB, 512KiB or 1048576 (bytes), not %q", v)
}

// formatSize writes n in the largest unit that divides it.
func formatSize(n int64) string {
	for _, u := range sizeUnits[:3] {
		if n > 0 && n%(1<<u.shift) == 0 {
			return strconv.FormatInt(n>>u.shift, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}
