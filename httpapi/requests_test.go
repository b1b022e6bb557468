package httpapi_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/valueloop/valueloop/flagdapi"
	"github.com/valueloop/valueloop/httpapi"
	"github.com/valueloop/valueloop/ingest"
	"github.com/valueloop/valueloop/valuelooptest"
)

// h2Raw is a cleartext HTTP/2 connection written frame by frame: a client
// that opens streams and then does what no transport would (send no body,
// open no window), at no cost of its own.
type h2Raw struct {
	c    net.Conn
	fr   *http2.Framer
	hbuf bytes.Buffer
	enc  *hpack.Encoder
	next uint32 // the next stream's id
}

// dialH2Raw opens a connection to srv from local (nil: any address) and
// sends the preface and settings (window: the initial window of each
// stream, 0 to receive no data at all).
func dialH2Raw(t testing.TB, srv *httpapi.Server, local net.Addr, window uint32) *h2Raw {
	t.Helper()
	c := rawConnFrom(t, srv, local)
	h := &h2Raw{c: c, fr: http2.NewFramer(c, c), next: 1}
	h.enc = hpack.NewEncoder(&h.hbuf)
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	if err := h.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: window}); err != nil {
		t.Fatal(err)
	}
	return h
}

// open starts a request with headers (name, value, …); with length > 0
// it announces a body of that many bytes and sends none of it, with
// length < 0 a body of unknown length that the caller sends, with 0 none.
func (h *h2Raw) open(t testing.TB, method, path, token string, length int, headers ...string) uint32 {
	t.Helper()
	h.hbuf.Reset()
	fields := []hpack.HeaderField{{Name: ":method", Value: method}, {Name: ":scheme", Value: "http"}, {Name: ":authority", Value: "x"}, {Name: ":path", Value: path}}
	if token != "" {
		fields = append(fields, hpack.HeaderField{Name: "authorization", Value: "Bearer " + token})
	}
	if length > 0 {
		fields = append(fields, hpack.HeaderField{Name: "content-type", Value: "application/json"}, hpack.HeaderField{Name: "content-length", Value: strconv.Itoa(length)})
	}
	for i := 0; i+1 < len(headers); i += 2 {
		fields = append(fields, hpack.HeaderField{Name: headers[i], Value: headers[i+1]})
	}
	for _, f := range fields {
		h.enc.WriteField(f)
	}
	id := h.next
	h.next += 2
	if err := h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: h.hbuf.Bytes(), EndHeaders: true, EndStream: length == 0}); err != nil {
		t.Fatal(err)
	}
	return id
}

// waitRequests waits until the server counts n requests under way.
func waitRequests(t testing.TB, srv *httpapi.Server, n int64) {
	t.Helper()
	waitCount(t, "requests under way", func() int64 { return httpapi.Requests(srv) }, n)
}

// stallRequests opens n OFREP evaluations on one HTTP/2 connection from
// local, each announcing a body it never sends, and waits until the server
// counts want requests under way.
func stallRequests(t testing.TB, srv *httpapi.Server, e *env, local net.Addr, n int, want int64) *h2Raw {
	t.Helper()
	h := dialH2Raw(t, srv, local, 65535)
	for range n {
		h.open(t, "POST", "/ofrep/v1/evaluate/flags/checkout", e.eval, 100)
	}
	waitRequests(t, srv, want)
	return h
}

// TestRequestCap: requests waiting for their body count against
// MaxRequests, and one beyond is answered 503 at once, whatever it is —
// one HTTP/2 connection used to keep up to 250 waiting, and MaxConns
// connections a million, with nothing but an evaluate token.
func TestRequestCap(t *testing.T) {
	e := MustServer(t)
	const cap = 6
	srv := limitedServer(t, e, httpapi.Limits{MaxRequests: cap, BodyTimeout: time.Hour}, nil)
	h := stallRequests(t, srv, e, nil, cap, cap)
	for _, c := range []call{
		{method: "POST", path: "/ofrep/v1/evaluate/flags/checkout", token: e.eval, body: `{"context":{"targetingKey":"u1"}}`},
		{method: "GET", path: "/healthz"},
	} {
		resp, body := doCall(t, srv.URL(), c)
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !strings.Contains(body, "requests under way") {
			t.Errorf("%s %s with %d requests waiting: %d %.200s, want 503 with Retry-After", c.method, c.path, cap, resp.StatusCode, body)
		}
	}
	// Over HTTP/1.1 a request refused before its body is answered at once
	// and its connection closed, not read to the end of a body that may
	// never come.
	c := rawConn(t, srv)
	startBody(t, c, "POST", "/ofrep/v1/evaluate/flags/checkout", e.eval, 100, "{")
	if resp := readResponse(t, c); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("HTTP/1.1 with %d requests waiting: %d, want 503", cap, resp.StatusCode)
	}
	if n, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("after the refusal the connection read %d bytes, %v: want it closed", n, err)
	}
	// The waiting ones give their places back when they end.
	h.c.Close()
	waitRequests(t, srv, 0)
	if resp, body := doCall(t, srv.URL(), call{method: "GET", path: "/healthz"}); resp.StatusCode != http.StatusOK {
		t.Errorf("after the waiting requests ended: %d %.200s, want 200", resp.StatusCode, body)
	}
	resp, body := doCall(t, srv.URL(), call{method: "GET", path: "/metrics"})
	for _, m := range []string{"valueloop_http_requests_max 6", "valueloop_http_requests_refused_total 3"} {
		if !strings.Contains(body, m+"\n") {
			t.Errorf("/metrics (%d) lacks %q", resp.StatusCode, m)
		}
	}
}

// TestRequestCapPerClient: one client address may keep only
// MaxRequestsPerClient requests under way (429 beyond them), while
// another address is served; loopback is exempt unless LimitLoopback.
func TestRequestCapPerClient(t *testing.T) {
	e := MustServer(t)
	const perClient = 4
	for _, limitLoopback := range []bool{true, false} {
		t.Run("LimitLoopback="+strconv.FormatBool(limitLoopback), func(t *testing.T) {
			srv := limitedServer(t, e, httpapi.Limits{MaxRequestsPerClient: perClient, LimitLoopback: limitLoopback, BodyTimeout: time.Hour}, nil)
			stallRequests(t, srv, e, nil, perClient, perClient)
			ok := call{method: "POST", path: "/ofrep/v1/evaluate/flags/checkout", token: e.eval, body: `{"context":{"targetingKey":"u1"}}`}
			resp, body := doCall(t, srv.URL(), ok)
			if want := map[bool]int{true: http.StatusTooManyRequests, false: http.StatusOK}[limitLoopback]; resp.StatusCode != want {
				t.Errorf("one more from 127.0.0.1: %d %.200s, want %d", resp.StatusCode, body, want)
			}
			if !limitLoopback {
				return
			}
			if resp.Header.Get("Retry-After") == "" {
				t.Errorf("429 without Retry-After")
			}
			// Another address (a loopback one here, counted as any other
			// with LimitLoopback) has its own count.
			tr := &http.Transport{DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}).DialContext}
			defer tr.CloseIdleConnections()
			req, _ := http.NewRequest("POST", srv.URL()+ok.path, strings.NewReader(ok.body))
			req.Header.Set("Authorization", "Bearer "+e.eval)
			req.Header.Set("Content-Type", "application/json")
			resp, err := tr.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("a request from 127.0.0.2: %d, want 200", resp.StatusCode)
			}
		})
	}
}

// TestConnectionCapPerClient: one client address may hold only
// MaxConnsPerClient connections; one more is closed at accept, while
// another address connects. Without it one address could hold every
// connection the server takes.
func TestConnectionCapPerClient(t *testing.T) {
	e := MustServer(t)
	srv := limitedServer(t, e, httpapi.Limits{MaxConnsPerClient: 2, LimitLoopback: true}, nil)
	from := func(ip byte) net.Conn { return rawConnFrom(t, srv, &net.TCPAddr{IP: net.IPv4(127, 0, 0, ip)}) }
	served := func(c net.Conn) bool {
		if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			return false
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	first := from(1)
	for _, c := range []net.Conn{first, from(1)} {
		if !served(c) {
			t.Fatal("a connection within the cap is not served")
		}
	}
	if served(from(1)) {
		t.Error("a third connection from 127.0.0.1 was served, want it closed at accept")
	}
	if !served(from(2)) {
		t.Error("a connection from 127.0.0.2 is not served")
	}
	first.Close()
	waitState(t, srv, "2 connections", func(c, _ int64, _ int) bool { return c == 2 })
	if !served(from(1)) {
		t.Error("after one closed, a new connection from 127.0.0.1 is not served")
	}
	c := from(3) // 127.0.0.1 holds its two
	if _, err := io.WriteString(c, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(body), "valueloop_http_connections_refused_per_client_total 1\n") {
		t.Errorf("metrics: want 1 connection refused per client:\n%s", valuelooptest.GrepLines(string(body), "valueloop_http_connections"))
	}
}

// TestTrustedProxy: behind a trusted proxy every connection comes from the
// proxy, and its X-Forwarded-For names the client: one client's failed
// authentications and its requests under way count against it alone, and
// the proxy's connections are not capped per client. Without it every
// client was the proxy: 20 failures from anyone locked out everyone.
func TestTrustedProxy(t *testing.T) {
	e := MustServer(t)
	srv := limitedServer(t, e, httpapi.Limits{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		AuthFailures: 2, MaxRequestsPerClient: 2, MaxConnsPerClient: 1, LimitLoopback: true, BodyTimeout: time.Hour}, nil)
	eval := func(token, client string) int {
		resp, _ := doCall(t, srv.URL(), call{method: "POST", path: "/ofrep/v1/evaluate/flags/checkout", token: token,
			body: `{"context":{"targetingKey":"u1"}}`, headers: map[string]string{"X-Forwarded-For": "6.6.6.6, " + client}})
		return resp.StatusCode
	}
	for range 2 {
		if code := eval("vl_wrong", "203.0.113.5"); code != http.StatusUnauthorized {
			t.Fatalf("a wrong token: %d, want 401", code)
		}
	}
	if code := eval(e.eval, "203.0.113.5"); code != http.StatusTooManyRequests {
		t.Errorf("a good token from the client that failed twice: %d, want 429", code)
	}
	if code := eval(e.eval, "203.0.113.6"); code != http.StatusOK {
		t.Errorf("a good token from another client behind the proxy: %d, want 200", code)
	}
	// Requests under way, per forwarded client: two of 198.51.100.7 wait
	// for their bodies on one connection.
	h := dialH2Raw(t, srv, nil, 65535)
	for range 2 {
		h.open(t, "POST", "/ofrep/v1/evaluate/flags/checkout", e.eval, 100, "x-forwarded-for", "198.51.100.7")
	}
	waitRequests(t, srv, 2)
	if code := eval(e.eval, "198.51.100.7"); code != http.StatusTooManyRequests {
		t.Errorf("a third request of 198.51.100.7: %d, want 429", code)
	}
	if code := eval(e.eval, "198.51.100.8"); code != http.StatusOK {
		t.Errorf("a request of 198.51.100.8 meanwhile: %d, want 200", code)
	}
	// The proxy holds two connections now (h and doCall's), beyond
	// MaxConnsPerClient: they carry many clients.
	if code := eval(e.eval, "198.51.100.9"); code != http.StatusOK {
		t.Errorf("a request on another of the proxy's connections: %d, want 200", code)
	}
}

// TestStreamsNotCountedAsRequests: flag streams live as long as their
// client and are bounded by MaxStreams; once their request is read they do
// not hold MaxRequests places, or a few streams would shut out every
// request.
func TestStreamsNotCountedAsRequests(t *testing.T) {
	e := MustServer(t)
	const cap = 2
	srv := httpapi.NewServer(e.auth, e.flags, e.db, nil)
	srv.Limits = httpapi.Limits{MaxRequests: cap}
	withFlagd(srv, 0)
	openServer(t, srv)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	for range 2 * cap {
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL()+"/api/v1/environments/production/stream", nil)
		req.Header.Set("Authorization", "Bearer "+e.eval)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("SSE stream: %d, want 200", resp.StatusCode)
		}
	}
	for range 2 * cap {
		if code := flagdCall(t, srv.URL(), flagdMethod{procedure: "/flagd.sync.v1.FlagSyncService/SyncFlags", streaming: true}, e.eval, ""); code != "ok" {
			t.Fatalf("SyncFlags stream: %s, want ok", code)
		}
	}
	waitRequests(t, srv, 0)
	if resp, body := doCall(t, srv.URL(), call{method: "GET", path: "/healthz"}); resp.StatusCode != http.StatusOK {
		t.Errorf("a request with %d streams open: %d %.200s, want 200", 4*cap, resp.StatusCode, body)
	}
}

// TestStreamPathsAreTheStreams: flagdapi.StreamPaths lists every streaming
// method of the services it serves, and nothing else (a stream missing
// from it would hold a MaxRequests place for its life).
func TestStreamPathsAreTheStreams(t *testing.T) {
	var want []string
	for _, m := range flagdMethods(t) {
		if m.streaming {
			want = append(want, m.procedure)
		}
	}
	got := slices.Clone(flagdapi.StreamPaths)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("flagdapi.StreamPaths = %v, want the streaming methods %v", got, want)
	}
}

// TestResponseTimeout: a client that never reads its answer (over HTTP/2,
// no flow-control window) has its stream reset after ResponseTimeout, and
// the request's place is given back; it was held for as long as the
// connection stayed open — a client answering PINGs kept it for ever.
func TestResponseTimeout(t *testing.T) {
	e := MustServer(t)
	srv := limitedServer(t, e, httpapi.Limits{ResponseTimeout: 300 * time.Millisecond, BodyTimeout: 100 * time.Millisecond}, nil)
	h := dialH2Raw(t, srv, nil, 0)
	h.readUntilReset(t, h.open(t, "GET", "/api/v1/openapi.json", "", 0)) // anonymous, larger than a window
	waitRequests(t, srv, 0)
}

// readUntilReset reads h's frames, answering SETTINGS and PINGs, until the
// server resets stream id.
func (h *h2Raw) readUntilReset(t *testing.T, id uint32) {
	t.Helper()
	for {
		f, err := h.fr.ReadFrame()
		if err != nil {
			t.Fatalf("reading frames: %v (stream %d never reset)", err, id)
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				h.fr.WriteSettingsAck()
			}
		case *http2.PingFrame:
			if !f.IsAck() {
				h.fr.WritePing(true, f.Data)
			}
		case *http2.RSTStreamFrame:
			if f.StreamID == id {
				return
			}
		case *http2.GoAwayFrame:
			t.Fatalf("GOAWAY %v: want the stream reset alone", f.ErrCode)
		}
	}
}

// TestStreamWriteTimeout: a flag stream whose client takes nothing (over
// HTTP/2, no flow-control window) is dropped within StreamWriteTimeout of
// a write, and its slot given back. flagd's streams had no write timeout,
// and an SSE stream resumed up to date (sent only heartbeats) none
// either: each held its slot for as long as its client kept the
// connection, so MaxStreams such clients shut out every other stream.
func TestStreamWriteTimeout(t *testing.T) {
	e := MustServer(t)
	srv := httpapi.NewServer(e.auth, e.flags, e.db, nil)
	srv.Limits = httpapi.Limits{StreamWriteTimeout: 200 * time.Millisecond}
	srv.Heartbeat = 50 * time.Millisecond
	withFlagd(srv, 0)
	openServer(t, srv)
	version := strconv.FormatInt(e.flags.Live("production").Version, 10)
	for _, c := range []struct {
		name string
		open func(h *h2Raw) uint32
	}{
		{"SSE resumed up to date", func(h *h2Raw) uint32 {
			return h.open(t, "GET", "/api/v1/environments/production/stream", e.eval, 0, "last-event-id", version)
		}},
		{"flagd EventStream", func(h *h2Raw) uint32 {
			id := h.open(t, "POST", "/flagd.evaluation.v1.Service/EventStream", e.eval, -1, "content-type", "application/connect+json")
			msg := append([]byte{0, 0, 0, 0, 2}, "{}"...) // a Connect envelope: flags, length, message
			if err := h.fr.WriteData(id, true, msg); err != nil {
				t.Fatal(err)
			}
			return id
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := dialH2Raw(t, srv, nil, 0)
			h.readUntilReset(t, c.open(h))
			waitCount(t, "stream slots held after the reset", func() int64 { return httpapi.StreamSlots(srv) }, 0)
		})
	}
}

// TestRebuildProgressOutlivesResponseTimeout: a rebuild streamed as NDJSON
// has ResponseTimeout again at each progress tick, so one that takes
// longer than ResponseTimeout (here: held back by a write transaction for
// ten of them) is still answered to its end.
func TestRebuildProgressOutlivesResponseTimeout(t *testing.T) {
	e := MustServer(t)
	const timeout = 100 * time.Millisecond
	e.srv.Events.ProgressEvery = timeout / 10
	srv := limitedServer(t, e, httpapi.Limits{ResponseTimeout: timeout, BodyTimeout: timeout}, nil)
	held, release := make(chan struct{}), make(chan struct{})
	go e.db.IngestTx(t.Context(), func(ingest.Tx) error {
		close(held)
		<-release
		return nil
	})
	<-held
	time.AfterFunc(10*timeout, func() { close(release) })
	resp, body := doCall(t, srv.URL(), call{method: "POST", path: "/api/v1/environments/production/events/rebuild", token: adminSecret,
		headers: map[string]string{"Accept": "application/x-ndjson"}})
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"result"`) {
		t.Errorf("a rebuild held for %v with a response timeout of %v: %d %.300s, want 200 ending with its result", 10*timeout, timeout, resp.StatusCode, body)
	}
}

// BenchmarkWaitingRequest measures what an HTTP/2 request waiting for its
// body costs the server (heap and stack, per request, the server's
// connections included; the client writes frames and holds nearly
// nothing): what MaxRequests bounds.
func BenchmarkWaitingRequest(b *testing.B) {
	const conns, perConn = 8, 125
	e := MustServer(b)
	srv := limitedServer(b, e, httpapi.Limits{BodyTimeout: time.Hour}, nil)
	for b.Loop() {
		before := inUse()
		var hs []*h2Raw
		for i := range conns {
			hs = append(hs, stallRequests(b, srv, e, nil, perConn, int64((i+1)*perConn)))
		}
		b.ReportMetric(float64(inUse()-before)/(conns*perConn)/1024, "KiB/waiting")
		for _, h := range hs {
			h.c.Close()
		}
		waitRequests(b, srv, 0)
	}
}

// TestTrustedProxyHeaderReadOnce: behind a trusted proxy, a request's
// X-Forwarded-For is read once, where the guard counts the request against
// its client, and the client found is carried in the request's context to
// the authentication's failure throttle: it was read again there (and once
// more by other protocols' throttle), for every request.
func TestTrustedProxyHeaderReadOnce(t *testing.T) {
	e := MustServer(t)
	srv := limitedServer(t, e, httpapi.Limits{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, LimitLoopback: true}, nil)
	reads := httpapi.CountForwarded(srv)
	xff := map[string]string{"X-Forwarded-For": "6.6.6.6, 203.0.113.5"}
	for _, tc := range []struct {
		name string
		c    call
		code int
	}{
		{"an evaluation (a body)", call{method: "POST", path: "/ofrep/v1/evaluate/flags/checkout", token: e.eval, body: `{"context":{"targetingKey":"u1"}}`, headers: xff}, http.StatusOK},
		{"a read (no body)", call{method: "GET", path: "/api/v1/environments/production/flags", token: e.eval, headers: xff}, http.StatusForbidden},
		{"a wrong token", call{method: "POST", path: "/ofrep/v1/evaluate/flags/checkout", token: "vl_wrong", body: `{"context":{"targetingKey":"u1"}}`, headers: xff}, http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := reads.Load()
			if resp, body := doCall(t, srv.URL(), tc.c); resp.StatusCode != tc.code {
				t.Fatalf("%d %s, want %d", resp.StatusCode, body, tc.code)
			}
			if n := reads.Load() - before; n != 1 {
				t.Errorf("X-Forwarded-For read %d times for one request, want once", n)
			}
		})
	}
}

// TestRequestCapRefusalReadable: over HTTP/1.1 a request refused at
// MaxRequests (503) or MaxRequestsPerClient (429) while its client is
// still sending the body gets its answer, as the other answers to an
// unread body do: net/http reads on for closeGrace before it closes.
// The refusal used to cut the body at once, so the connection was reset
// under a client still writing, and one that writes its body whole before
// it reads the answer — Python's http.client, run here
// (testdata/refused_body.py), sending the rest of a chunked body once the
// answer has arrived — lost it to a broken pipe.
func TestRequestCapRefusalReadable(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 not on PATH: skipping the HTTP/1.1 client that sends its body before it reads")
	}
	e := MustServer(t)
	for _, tc := range []struct {
		name string
		lim  httpapi.Limits
		want string
	}{
		{"MaxRequests", httpapi.Limits{MaxRequests: 2, BodyTimeout: time.Hour}, "503"},
		{"MaxRequestsPerClient", httpapi.Limits{MaxRequestsPerClient: 2, LimitLoopback: true, BodyTimeout: time.Hour}, "429"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := limitedServer(t, e, tc.lim, nil)
			stallRequests(t, srv, e, nil, 2, 2)
			out, err := exec.Command("python3", "testdata/refused_body.py", srv.URL()+"/ofrep/v1/evaluate/flags/checkout", e.eval, "131072").CombinedOutput()
			if got := strings.TrimSpace(string(out)); err != nil || got != tc.want {
				t.Errorf("a client sending 128 KiB while the limit is full: %q (%v), want the answer %s", got, err, tc.want)
			}
		})
	}
}
