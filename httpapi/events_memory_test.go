package httpapi_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/valueloop/valueloop/httpapi"
	"github.com/valueloop/valueloop/ingest"
)

// bigUpload is an event upload of n tracking events with attrs attributes
// each, as a JSON array: 3,000 × 300 is about 17 MB.
func bigUpload(n, attrs int) []byte {
	var b bytes.Buffer
	b.WriteByte('[')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"type":"tracking","id":"ev-%d","name":"purchase","targetingKey":"user-%d","value":1,"attributes":{`, i, i)
		for a := range attrs {
			if a > 0 {
				b.WriteByte(',')
			}
			b.WriteString(`"attr` + strconv.Itoa(a) + `":"val` + strconv.Itoa(i) + `"`)
		}
		b.WriteString("}}")
	}
	b.WriteByte(']')
	return b.Bytes()
}

// BenchmarkEventUploadLarge posts one upload of 3,000 events with 300
// attributes each (about 17 MB), to profile what it costs in memory
// (-memprofile).
func BenchmarkEventUploadLarge(b *testing.B) {
	url, token := eventServer(b)
	body := bigUpload(3000, 300)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		// New ids each time: stored, not duplicates.
		n++
		up := bytes.ReplaceAll(body, []byte(`"id":"ev-`), []byte(`"id":"r`+strconv.Itoa(n)+`-`))
		req, _ := http.NewRequest("POST", url+"/api/v1/events", bytes.NewReader(up))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("%s: %.300s", resp.Status, out)
		}
	}
}

// TestEventUploadDecodeBudget: what decoding and storing an upload holds
// beside its body (ingest.DecodeCost, about twice its size) is counted
// against max-body-buffered before it is decoded: an upload that fits
// the budget by its body but not with what decoding it takes is refused
// 503 with Retry-After, nothing stored, and taken once the budget has
// room. Only the body was counted: the upload was decoded, and concurrent
// uploads grew the server's memory to about seven times their bodies.
func TestEventUploadDecodeBudget(t *testing.T) {
	e := MustServer(t)
	up := bigUpload(20, 50)
	cost := ingest.DecodeCost(up, ingest.Limits{})
	held := cost // what a stalled upload has sent
	srv := limitedServer(t, e, httpapi.Limits{MaxBufferedBytes: held + int64(len(up)) + cost/2, BodyTimeout: time.Hour}, nil)

	stalled := rawConn(t, srv)
	startBody(t, stalled, "POST", "/api/v1/events", e.eval, int(2*held), "["+strings.Repeat(" ", int(held)-1))
	waitState(t, srv, "the stalled upload's bytes held", func(_, buffered int64, _ int) bool { return buffered >= held })

	post := func() (int, string, string) {
		req, _ := http.NewRequest("POST", srv.URL()+"/api/v1/events", bytes.NewReader(up))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+e.eval)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Retry-After"), string(out)
	}
	if status, retry, out := post(); status != http.StatusServiceUnavailable || retry == "" {
		t.Fatalf("upload of %d bytes, decoding %d, beside %d held in a budget of %d: %d (Retry-After %q) %.200s; want 503 with Retry-After",
			len(up), cost, held, held+int64(len(up))+cost/2, status, retry, out)
	}
	stalled.Close()
	waitState(t, srv, "nothing held", func(_, buffered int64, _ int) bool { return buffered == 0 })
	if status, _, out := post(); status != http.StatusOK || !strings.Contains(out, `"stored": 20`) {
		t.Fatalf("the same upload with the budget free: %d %.200s; want 200, 20 stored", status, out)
	}
}
