package main

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestOFREPChangeStreamAcrossNodes: two nodes on one PostgreSQL database. A
// provider follows the change stream announced by node A's bulk answer;
// a flag changed through node A reaches it as refetchEvaluation at once,
// and the fetch that event triggers, sent to node B (as a load balancer
// may), which learns of the change only through the database, answers the
// changed flag: a node asked for a version (flagConfigEtag) it has not
// loaded waits for it.
func TestOFREPChangeStreamAcrossNodes(t *testing.T) {
	a, b, _, secret := twoNodesAndToken(t)
	flag := `{"key":"banner","state":"ENABLED","variants":{"off":false,"on":true},"defaultVariant":"off"}`
	if resp, body := post(t, b.URL+"/api/v1/environments/production/flags", b.Admin, flag); resp.StatusCode != http.StatusCreated {
		t.Fatalf("create flag on b: %d %s", resp.StatusCode, body)
	}
	type bulk struct {
		Flags []struct {
			Key   string
			Value any
		}
		EventStreams []struct {
			Type     string
			Endpoint struct{ RequestURI string }
		}
	}
	fetch := func(n *testServer, query string) bulk {
		t.Helper()
		resp, body := post(t, n.URL+"/ofrep/v1/evaluate/flags"+query, secret, `{"context":{"targetingKey":"u1"}}`)
		var out bulk
		if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &out) != nil {
			t.Fatalf("bulk on %s: %d %s", n.URL, resp.StatusCode, body)
		}
		return out
	}
	banner := func(out bulk) any {
		for _, f := range out.Flags {
			if f.Key == "banner" {
				return f.Value
			}
		}
		return nil
	}
	// The token was made on a; b learns of it through the database, and
	// under load that can take longer than the fetch below waits for a
	// flag version (it once answered 401 there).
	waitUntil(t, "b takes the token made on a", 10*time.Second, func() bool {
		resp, _ := post(t, b.URL+"/ofrep/v1/evaluate/flags", secret, `{"context":{"targetingKey":"u1"}}`)
		return resp.StatusCode == 200
	})
	var first bulk
	waitUntil(t, "a serves the flag made on b", 10*time.Second, func() bool {
		first = fetch(a, "")
		return banner(first) == false
	})
	if len(first.EventStreams) != 1 || first.EventStreams[0].Type != "sse" {
		t.Fatalf("eventStreams = %+v", first.EventStreams)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", a.URL+first.EventStreams[0].Endpoint.RequestURI, nil)
	stream, err := http.DefaultClient.Do(req)
	if err != nil || stream.StatusCode != 200 {
		t.Fatalf("stream on a: %v %v", err, stream)
	}
	defer stream.Body.Close()
	etags := make(chan string)
	go func() {
		defer close(etags)
		sc := bufio.NewScanner(stream.Body)
		for sc.Scan() {
			var ev struct{ Type, Etag string }
			if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok && json.Unmarshal([]byte(d), &ev) == nil && ev.Type == "refetchEvaluation" {
				etags <- ev.Etag
			}
		}
	}()
	<-etags // the current version, at connect
	if resp, body := post(t, a.URL+"/api/v1/environments/production/flags/banner/disable", a.Admin, ""); resp.StatusCode != 200 {
		t.Fatalf("disable on a: %d %s", resp.StatusCode, body)
	}
	select {
	case etag := <-etags:
		if got := banner(fetch(b, "?flagConfigEtag="+etag)); got != nil {
			t.Errorf("fetch of version %s on b: banner %v, want disabled (no value)", etag, got)
		}
	case <-ctx.Done():
		t.Fatal("a's change stream did not tell of the change made on a")
	}
}
