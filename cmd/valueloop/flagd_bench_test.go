package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"buf.build/gen/go/open-feature/flagd/connectrpc/go/flagd/evaluation/v1/evaluationv1connect"
	"buf.build/gen/go/open-feature/flagd/connectrpc/go/flagd/sync/v1/syncv1connect"
	evalv1 "buf.build/gen/go/open-feature/flagd/protocolbuffers/go/flagd/evaluation/v1"
	syncv1 "buf.build/gen/go/open-feature/flagd/protocolbuffers/go/flagd/sync/v1"
	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/structpb"
)

// h2cClient speaks gRPC's HTTP/2 without TLS, as flagd's providers do.
func h2cClient() *http.Client {
	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: tr}
}

// TestSyncAccess: FetchAllFlags over gRPC answers the flagd file to an
// evaluate token and refuses a public client token, which may not read
// definitions.
func TestSyncAccess(t *testing.T) {
	srv := MustServe(t, "", "--demo")
	server := srv.mustToken(t, "--env", "production", "--scope", "evaluate", "--name", "sync-server")
	client := srv.mustToken(t, "--env", "production", "--client", "--name", "sync-client")
	c := syncv1connect.NewFlagSyncServiceClient(h2cClient(), srv.URL, connect.WithGRPC())
	for _, tc := range []struct {
		name, token, selector string
		code                  connect.Code
	}{
		{"evaluate token as metadata", server, "", 0},
		{"evaluate token as selector", "", server, 0},
		{"client token", client, "", connect.CodePermissionDenied},
		{"no token", "", "production", connect.CodeUnauthenticated},
		{"other environment", server, "development", connect.CodePermissionDenied},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := connect.NewRequest(&syncv1.FetchAllFlagsRequest{})
			if tc.token != "" {
				req.Header().Set("Authorization", "Bearer "+tc.token)
			}
			if tc.selector != "" {
				req.Header().Set("Flagd-Selector", tc.selector)
			}
			res, err := c.FetchAllFlags(context.Background(), req)
			if tc.code != 0 {
				if connect.CodeOf(err) != tc.code {
					t.Errorf("got %v, want %v", err, tc.code)
				}
				return
			}
			if err != nil || !strings.Contains(res.Msg.GetFlagConfiguration(), `"kill-switch-payments"`) {
				t.Errorf("got %v, %v; want the production flagd file", res, err)
			}
		})
	}
}

// TestSyncFanout1000 connects 1,000 flagd sync streams (what 1,000 flagd
// providers in in-process mode hold) and measures how long one change
// takes to reach them all. go test ./cmd/valueloop -run TestSyncFanout1000 -v
func TestSyncFanout1000(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 streams")
	}
	const n = 1000
	srv := MustServe(t, "", "--demo")
	token := srv.mustToken(t, "--env", "production", "--scope", "evaluate", "--name", "fanout")
	c := syncv1connect.NewFlagSyncServiceClient(h2cClient(), srv.URL, connect.WithGRPC())
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var connected, changed sync.WaitGroup
	connected.Add(n)
	changed.Add(n)
	errs := make(chan error, n)
	for range n {
		go func() {
			req := connect.NewRequest(&syncv1.SyncFlagsRequest{})
			req.Header().Set("Authorization", "Bearer "+token)
			stream, err := c.SyncFlags(ctx, req)
			if err != nil {
				errs <- err
				connected.Done()
				changed.Done()
				return
			}
			defer stream.Close()
			for i := 0; stream.Receive(); i++ {
				if i == 0 {
					connected.Done()
					continue
				}
				// banner was disabled already; kill-switch-payments makes two.
				if strings.Count(stream.Msg().GetFlagConfiguration(), `"DISABLED"`) == 2 {
					changed.Done()
					return
				}
			}
			errs <- fmt.Errorf("stream ended: %v", stream.Err())
			changed.Done()
		}()
	}
	connected.Wait()
	start := time.Now()
	if code, _, stderr := srv.cli(t, srv.Admin, "flags", "disable", "kill-switch-payments", "--env", "production"); code != 0 {
		t.Fatalf("flags disable: exit %d: %s", code, stderr)
	}
	committed := time.Since(start)
	changed.Wait()
	elapsed := time.Since(start)
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	t.Logf("a change reached %d flagd sync streams %v after the CLI started (the CLI command itself: %v)",
		n, elapsed.Round(time.Millisecond), committed.Round(time.Millisecond))
}

// BenchmarkEvaluationProtocols evaluates the same flag for the same
// contexts through OFREP (HTTP/1.1 JSON) and flagd.evaluation.v1 (gRPC over
// h2c) against one server, in one run:
// go test ./cmd/valueloop -run '^$' -bench EvaluationProtocols
func BenchmarkEvaluationProtocols(b *testing.B) {
	srv := MustServe(b, "", "--demo")
	_, out, _ := srv.cli(b, srv.Admin, "token", "create", "--env", "production", "--no-exposures", "--name", "bench")
	token := strings.TrimSpace(out)
	b.Run("OFREP", func(b *testing.B) {
		hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
		url := srv.URL + "/ofrep/v1/evaluate/flags/checkout-flow"
		b.RunParallel(func(pb *testing.PB) {
			for i := 0; pb.Next(); i++ {
				req, _ := http.NewRequest("POST", url, strings.NewReader(`{"context":{"targetingKey":"user-`+fmt.Sprint(i%1000)+`","email":"x@example.com"}}`))
				req.Header.Set("Authorization", "Bearer "+token)
				req.Header.Set("Content-Type", "application/json")
				resp, err := hc.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				var buf [512]byte
				for {
					if _, err := resp.Body.Read(buf[:]); err != nil {
						break
					}
				}
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Fatalf("status %d", resp.StatusCode)
				}
			}
		})
	})
	b.Run("flagd-v1-gRPC", func(b *testing.B) {
		c := evaluationv1connect.NewServiceClient(h2cClient(), srv.URL, connect.WithGRPC())
		b.RunParallel(func(pb *testing.PB) {
			for i := 0; pb.Next(); i++ {
				ctx, _ := structpb.NewStruct(map[string]any{"targetingKey": "user-" + fmt.Sprint(i%1000), "email": "x@example.com"})
				req := connect.NewRequest(&evalv1.ResolveStringRequest{FlagKey: "checkout-flow", Context: ctx})
				req.Header().Set("Authorization", "Bearer "+token)
				if _, err := c.ResolveString(context.Background(), req); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}
