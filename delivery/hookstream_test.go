package delivery_test

import (
	"bytes"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/delivery"
	"github.com/valueloop/valueloop/github"
)

// countingReader counts the bytes read from it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// TestReceiveStreamForgedBody: a forged body is read once, through the
// HMAC, holding at most HookBody.Memory bytes in memory until the verdict
// (the rest is spooled), and nothing of it is parsed or stored. A genuine
// body larger than Memory comes back whole from the spool.
func TestReceiveStreamForgedBody(t *testing.T) {
	ctx := t.Context()
	s, db, _ := mustService(t)
	var held []int64
	delivery.SetHeldAtVerdict(func(n int64) { held = append(held, n) })
	t.Cleanup(func() { delivery.SetHeldAtVerdict(nil) })
	lim := delivery.HookBody{Max: 25 << 20, Memory: 64 << 10, TempDir: t.TempDir()}

	forged := bytes.Repeat([]byte(`{"ref":"refs/heads/main"}`+"\n"), (8<<20)/26)
	body := &countingReader{r: bytes.NewReader(forged)}
	h := delivery.Hook{Event: "push", DeliveryID: "f-1", Credential: github.Sign([]byte("not-the-secret-0123"), forged)}
	if _, err := s.ReceiveStream(ctx, delivery.KindGitHub, h, body, lim); valueloop.ErrorCode(err) != valueloop.EUNAUTHORIZED {
		t.Fatalf("forged body: %v, want unauthorized", err)
	}
	if body.n != int64(len(forged)) || len(held) != 1 || held[0] > lim.Memory {
		t.Errorf("forged %d-byte body: read %d bytes, held in memory at the verdict %v; want read once, held at most %d", len(forged), body.n, held, lim.Memory)
	}

	push := fixture(t, "github/testdata/push.json")
	padded := append(bytes.Clone(push), bytes.Repeat([]byte(" "), 300<<10)...) // JSON allows trailing space
	r, err := s.ReceiveStream(ctx, delivery.KindGitHub, ghHook(padded, "push", "g-1"), bytes.NewReader(padded), lim)
	if err != nil || r.Changes != 2 {
		t.Fatalf("genuine body of %d bytes: %+v, %v; want 2 changes", len(padded), r, err)
	}
	if _, err := s.ReceiveStream(ctx, delivery.KindGitHub, ghHook(push, "push", "g-2"), bytes.NewReader(push), delivery.HookBody{Max: int64(len(push)) - 1}); valueloop.ErrorCode(err) != valueloop.ETOOLARGE {
		t.Errorf("body over Max: %v, want too large", err)
	}
	gl := fixture(t, "gitlab/testdata/push.json")
	if r, err := s.ReceiveStream(ctx, delivery.KindGitLab, delivery.Hook{Event: "Push Hook", DeliveryID: "l-1", Credential: glSecret}, bytes.NewReader(gl), lim); err != nil || r.Changes != 2 {
		t.Errorf("GitLab body: %+v, %v", r, err)
	}
	refused := &countingReader{r: strings.NewReader(string(gl))}
	if _, err := s.ReceiveStream(ctx, delivery.KindGitLab, delivery.Hook{Event: "Push Hook", Credential: "wrong"}, refused, lim); valueloop.ErrorCode(err) != valueloop.EUNAUTHORIZED || refused.n != 0 {
		t.Errorf("GitLab wrong token: %v after reading %d bytes; want unauthorized before reading", err, refused.n)
	}
	data, _, err := db.DeliveryData(ctx)
	if err != nil || len(data.Changes) != 4 {
		t.Errorf("stored %d changes (%v), want 4: the genuine GitHub and GitLab pushes only", len(data.Changes), err)
	}
}

// readSizes records the size of every read asked of a reader.
type readSizes struct {
	r     io.Reader
	sizes []int
}

func (s *readSizes) Read(p []byte) (int, error) {
	s.sizes = append(s.sizes, len(p))
	return s.r.Read(p)
}

// TestReceiveStreamReadBuffer: a body is read into a buffer that starts
// small and grows while reads fill it, so a delivery waiting for a slow
// body holds half a kilobyte (io.Copy's 32 KiB, times every connection
// waiting, once did).
func TestReceiveStreamReadBuffer(t *testing.T) {
	s, _, _ := mustService(t)
	push := fixture(t, "github/testdata/push.json")
	padded := append(bytes.Clone(push), bytes.Repeat([]byte(" "), 300<<10)...)
	body := &readSizes{r: bytes.NewReader(padded)}
	if _, err := s.ReceiveStream(t.Context(), delivery.KindGitHub, ghHook(padded, "push", "b-1"), body, delivery.HookBody{Max: 25 << 20}); err != nil {
		t.Fatal(err)
	}
	if len(body.sizes) == 0 || body.sizes[0] > 512 || slices.Max(body.sizes) != 32<<10 {
		t.Errorf("read sizes %v: want the first at most 512 bytes, growing to 32 KiB", body.sizes)
	}
}
