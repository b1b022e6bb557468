package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestLimitSettings: the limit settings parse sizes, counts and durations
// by the usual precedence and refuse bad values naming the setting.
func TestLimitSettings(t *testing.T) {
	cfg, err := loadConfig(t, []string{"--max-api-body", "1KiB", "--max-streams", "3", "--max-hook-buffered", "8MiB", "--max-requests", "100", "--per-client-limit-loopback", "--trusted-proxies", "10.0.0.0/8", "--trusted-proxies", "192.0.2.1"},
		map[string]string{"VALUELOOP_MAX_EVENT_BODY": "2MiB", "VALUELOOP_BODY_TIMEOUT": "5s", "VALUELOOP_MAX_STREAMS": "9", "VALUELOOP_MAX_ANONYMOUS_BODIES_PER_CONNECTION": "2",
			"VALUELOOP_MAX_REQUESTS_PER_CLIENT": "7", "VALUELOOP_RESPONSE_TIMEOUT": "90s", "VALUELOOP_MAX_CONNECTIONS_PER_CLIENT": "5", "VALUELOOP_MAX_STREAMS_PER_CLIENT": "2"})
	if err != nil {
		t.Fatal(err)
	}
	l := cfg.Limits
	if l.MaxAPIBody != 1<<10 || l.MaxEventBody != 2<<20 || l.BodyTimeout.String() != "5s" || l.MaxStreams != 3 || l.MaxConns != 4096 || l.MaxHookBody != 25<<20 || l.MaxHookBuffered != 8<<20 || l.MaxAnonBodiesPerConn != 2 ||
		l.MaxRequests != 100 || !l.LimitLoopback || l.MaxRequestsPerClient != 7 || l.ResponseTimeout != 90*time.Second || l.MaxConnsPerClient != 5 || l.MaxStreamsPerClient != 2 || l.ThrottleLoopback ||
		fmt.Sprint(l.TrustedProxies) != "[10.0.0.0/8 192.0.2.1/32]" {
		t.Errorf("limits %+v: want api body 1KiB, hook buffered 8MiB, 100 requests and per-client limits on loopback and trusted proxies 10.0.0.0/8, 192.0.2.1/32 (flags), event body 2MiB, body timeout 5s, 2 anonymous bodies per connection, 7 requests, 5 connections and 2 streams per client and response timeout 90s (env), streams 3 (flag over env), defaults otherwise", l)
	}
	_, err = loadConfig(t, []string{"--max-hook-body", "10KB", "--max-connections", "0", "--auth-window", "soon", "--trusted-proxies", "10.0.0.0/33"}, nil)
	for _, want := range []string{
		`trusted-proxies (from flag --trusted-proxies): want an address or a CIDR prefix such as 10.0.0.0/8, not "10.0.0.0/33"`,
		`max-hook-body (from flag --max-hook-body): want a positive size such as 4MiB`,
		`max-connections (from flag --max-connections): want a positive whole number, not "0"`,
		`auth-window (from flag --auth-window): want a positive duration such as 1m`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v: want %q", err, want)
		}
	}
	for _, c := range []struct {
		in   string
		want int64
	}{{"512", 512}, {"512B", 512}, {"4KiB", 4096}, {"3GiB", 3 << 30}} {
		if got, err := parseSize(c.in); err != nil || got != c.want || (formatSize(got) != c.in && c.in != "512B") {
			t.Errorf("parseSize(%q) = %d, %v (formatted %s); want %d", c.in, got, err, formatSize(got), c.want)
		}
	}
}

// TestChangedLimitsTakeEffect: a server started with smaller limits
// applies them: the API body bound and the flag stream count.
func TestChangedLimitsTakeEffect(t *testing.T) {
	s := MustServeEnv(t, "", map[string]string{"VALUELOOP_ADMIN_TOKEN": testAdminToken, "VALUELOOP_MAX_API_BODY": "1KiB"},
		"--demo", "--max-streams", "1", "--max-connections", "100")
	pad := strings.Repeat(" ", 2048)
	if resp, body := post(t, s.URL+"/api/v1/tokens", s.Admin, `{"name":"a","scope":"evaluate","environment":"production"}`+pad); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("2 KiB body with max-api-body 1KiB: %d %s, want 413", resp.StatusCode, body)
	}
	if resp, body := post(t, s.URL+"/api/v1/tokens", s.Admin, `{"name":"a","scope":"evaluate","environment":"production"}`); resp.StatusCode != http.StatusCreated {
		t.Errorf("small body: %d %s, want 201", resp.StatusCode, body)
	}
	stream := func() *http.Response {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, s.URL+"/api/v1/environments/production/stream", nil)
		req.Header.Set("Authorization", "Bearer "+s.Admin)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	if first := stream(); first.StatusCode != http.StatusOK {
		t.Fatalf("first stream: %d", first.StatusCode)
	}
	if second := stream(); second.StatusCode != http.StatusServiceUnavailable || second.Header.Get("Retry-After") == "" {
		t.Errorf("second stream with max-streams 1: %d, want 503 with Retry-After", second.StatusCode)
	}
	resp, err := http.Get(s.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	metrics, _ := io.ReadAll(resp.Body)
	for _, want := range []string{"valueloop_http_connections_max 100", "valueloop_stream_max 1", "valueloop_stream_per_client_max 1"} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
