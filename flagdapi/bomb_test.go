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

	"buf.build/gen/go/open-feature/flagd/connectrpc/go/flagd/evaluation/v1/evaluationv1connect"
	"buf.build/gen/go/open-feature/flagd/connectrpc/go/flagd/evaluation/v2/evaluationv2connect"
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
	// So is one that inflates to MaxMessageBytes exactly, the most a
	// message may have, in each protocol a flagd provider speaks: the
	// bound refuses the byte after it, not the last one allowed.
	full := &syncv1.FetchAllFlagsRequest{ProviderId: strings.Repeat("p", MaxMessageBytes-4)}
	if n := proto.Size(full); n != MaxMessageBytes {
		t.Fatalf("the full message has %d bytes, want %d", n, MaxMessageBytes)
	}
	for name, opts := range map[string][]connect.ClientOption{"connect": nil, "grpc": {connect.WithGRPC()}, "grpc-web": {connect.WithGRPCWeb()}} {
		c := syncv1connect.NewFlagSyncServiceClient(srv.Client(), srv.URL, append(opts, connect.WithSendGzip())...)
		req := connect.NewRequest(full)
		req.Header().Set("Authorization", "Bearer "+secret)
		if all, err := c.FetchAllFlags(context.Background(), req); err != nil || !strings.Contains(all.Msg.GetFlagConfiguration(), `"a"`) {
			t.Errorf("%s: a gzipped FetchAllFlags of %d bytes inflated: %v", name, MaxMessageBytes, err)
		}
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
	// gzip is the only compression read: another is refused unread, so
	// none can carry the bomb past the bounded inflater.
	for _, enc := range []string{"deflate", "br", "zstd", "snappy"} {
		req, err := http.NewRequestWithContext(context.Background(), "POST", srv.URL+syncv1connect.FlagSyncServiceFetchAllFlagsProcedure, bytes.NewReader(bomb.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/proto")
		req.Header.Set("Content-Encoding", enc)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		answer, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(answer), "unimplemented") {
			t.Errorf("Content-Encoding %s: HTTP %d %q, want unimplemented", enc, resp.StatusCode, answer)
		}
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
		{"grpc-web stream", syncv1connect.FlagSyncServiceSyncFlagsProcedure, "application/grpc-web+proto", "Grpc-Encoding", envelope},
		// gRPC, what flagd's own providers speak, unary and streaming.
		{"grpc", syncv1connect.FlagSyncServiceFetchAllFlagsProcedure, "application/grpc+proto", "Grpc-Encoding", envelope},
		{"grpc stream", syncv1connect.FlagSyncServiceSyncFlagsProcedure, "application/grpc+proto", "Grpc-Encoding", envelope},
		// The evaluation services' anonymous event streams, read with
		// their own codec (eventCodec).
		{"grpc event stream v1", evaluationv1connect.ServiceEventStreamProcedure, "application/grpc+proto", "Grpc-Encoding", envelope},
		{"connect event stream v2", evaluationv2connect.ServiceEventStreamProcedure, "application/connect+proto", "Connect-Content-Encoding", envelope},
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
			text := inflatedFrames(answer) + resp.Header.Get("Grpc-Message") + resp.Trailer.Get("Grpc-Message")
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

// inflatedFrames is a streaming answer's envelopes with the compressed
// ones inflated (connect-go answers in the request's compression: the
// event streams gzip their end of stream), else the answer as it is.
func inflatedFrames(answer []byte) string {
	var out strings.Builder
	for rest := answer; len(rest) >= 5; {
		n := int(binary.BigEndian.Uint32(rest[1:5]))
		if 5+n > len(rest) {
			return string(answer)
		}
		frame := rest[5 : 5+n]
		if rest[0]&1 != 0 {
			zr, err := gzip.NewReader(bytes.NewReader(frame))
			if err != nil {
				return string(answer)
			}
			frame, _ = io.ReadAll(io.LimitReader(zr, 1<<20))
		}
		out.Write(frame)
		rest = rest[5+n:]
	}
	if out.Len() == 0 {
		return string(answer)
	}
	return out.String()
}
