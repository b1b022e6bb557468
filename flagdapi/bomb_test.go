package flagdapi

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"buf.build/gen/go/open-feature/flagd/connectrpc/go/flagd/sync/v1/syncv1connect"
	syncv1 "buf.build/gen/go/open-feature/flagd/protocolbuffers/go/flagd/sync/v1"
	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
)

// TestCompressedMessageBomb: a request message gzipped within
// MaxMessageBytes that inflates far beyond it is refused
// (ResourceExhausted) having been inflated no further than MaxMessageBytes
// and a byte, in each protocol. connect-go inflated it to its end to
// report its size (into io.Discard): 61 KiB sent with no credentials made
// the server inflate 60 MiB, a thousand times the work of any message it
// accepts. The answer's message reports what was inflated.
func TestCompressedMessageBomb(t *testing.T) {
	s, _, secret := newStreamServer(t)
	srv := serveHTTP(t, s)
	// A compressed request within the bound is read as before.
	c := syncv1connect.NewFlagSyncServiceClient(srv.Client(), srv.URL, connect.WithSendGzip())
	req := connect.NewRequest(&syncv1.FetchAllFlagsRequest{})
	req.Header().Set("Authorization", "Bearer "+secret)
	if all, err := c.FetchAllFlags(context.Background(), req); err != nil || !strings.Contains(all.Msg.GetFlagConfiguration(), `"a"`) {
		t.Fatalf("a gzipped FetchAllFlags: %v", err)
	}
	msg, err := proto.Marshal(&syncv1.FetchAllFlagsRequest{ProviderId: strings.Repeat("a", 60<<20)})
	if err != nil {
		t.Fatal(err)
	}
	var bomb bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&bomb, gzip.BestCompression)
	if _, err := zw.Write(msg); err != nil || zw.Close() != nil {
		t.Fatal(err)
	}
	if bomb.Len() > MaxMessageBytes {
		t.Fatalf("the bomb compresses to %d bytes, more than MaxMessageBytes (%d)", bomb.Len(), MaxMessageBytes)
	}
	// envelope frames the bomb for the streaming protocols: flag 1 says
	// compressed.
	envelope := binary.BigEndian.AppendUint32([]byte{1}, uint32(bomb.Len()))
	envelope = append(envelope, bomb.Bytes()...)
	for _, tc := range []struct {
		name, procedure, contentType, encoding string
		body                                   []byte
	}{
		{"connect unary", syncv1connect.FlagSyncServiceFetchAllFlagsProcedure, "application/proto", "Content-Encoding", bomb.Bytes()},
		{"connect stream", syncv1connect.FlagSyncServiceSyncFlagsProcedure, "application/connect+proto", "Connect-Content-Encoding", envelope},
		{"grpc-web", syncv1connect.FlagSyncServiceFetchAllFlagsProcedure, "application/grpc-web+proto", "Grpc-Encoding", envelope},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(context.Background(), "POST", srv.URL+tc.procedure, bytes.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", tc.contentType)
			req.Header.Set(tc.encoding, "gzip")
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			answer, _ := io.ReadAll(resp.Body)
			text := string(answer) + resp.Header.Get("Grpc-Message") + resp.Trailer.Get("Grpc-Message")
			if !strings.Contains(text, "resource_exhausted") && resp.Header.Get("Grpc-Status") != "8" && resp.Trailer.Get("Grpc-Status") != "8" && !strings.Contains(text, "grpc-status:8") {
				t.Fatalf("HTTP %d %q, want ResourceExhausted", resp.StatusCode, text)
			}
			for _, n := range regexp.MustCompile(`\d+`).FindAllString(text, -1) {
				if v, _ := strconv.Atoi(n); v > MaxMessageBytes+1 {
					t.Errorf("the answer reports %d bytes inflated, want at most %d: %q", v, MaxMessageBytes+1, text)
				}
			}
		})
	}
}
