package delivery

import (
	"bytes"
	"context"
	"errors"
	"hash"
	"io"
	"os"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/github"
	"github.com/valueloop/valueloop/gitlab"
	"github.com/valueloop/valueloop/opsgenie"
	"github.com/valueloop/valueloop/pagerduty"
)

// HookBody bounds how ReceiveStream reads a delivery's body.
type HookBody struct {
	// Max is the largest body accepted (ETOOLARGE beyond it).
	Max int64
	// Memory is how many bytes of a body not yet verified are held in
	// memory; the rest goes to a temporary file (removed at once) until
	// the signature is checked, so that forged bodies cost memory only up
	// to Memory each. Default 1 MiB.
	Memory int64
	// TempDir holds those files; empty: os.TempDir().
	TempDir string
	// Read, when set, is called once the body has been read (or its
	// reading failed), before it is parsed: the caller may release what
	// it holds for reading unverified bodies.
	Read func()
}

// heldAtVerdict, when set (by tests), is told how many body bytes were
// held in memory when the signature verdict was reached.
var heldAtVerdict func(int64)

// ReceiveStream is Receive for a body still arriving: the headers
// (CheckHeaders) and the sources that could vouch for the delivery are
// checked first, from one read of the sources, the body is written
// through each one's HMAC as it is read (GitHub, PagerDuty; a GitLab token
// or an Opsgenie secret does not depend on the body and is checked before
// reading), and the verdict is reached when the last byte arrives — before
// anything is parsed. Errors of body reads are returned as they are.
func (s *Service) ReceiveStream(ctx context.Context, kind string, h Hook, body io.Reader, lim HookBody) (Receipt, error) {
	if err := CheckHeaders(kind, h); err != nil {
		return Receipt{}, err
	}
	sources, err := s.Store.Sources(ctx)
	if err != nil {
		return Receipt{}, err
	}
	if verify := bodyFreeCheck(kind, h.Credential); verify != nil {
		srcs, err := pickSources(sources, kind, h.Source, verify)
		if err != nil {
			return Receipt{}, err
		}
		sp, err := spoolBody(body, lim, nil)
		if err != nil {
			return Receipt{}, err
		}
		defer sp.close()
		if h.Body, err = sp.bytes(); err != nil {
			return Receipt{}, err
		}
		return s.receiveVerified(ctx, kind, srcs, h)
	}
	srcs, err := s.verifyStream(sources, kind, &h, body, lim)
	if err != nil {
		return Receipt{}, err
	}
	return s.receiveVerified(ctx, kind, srcs, h)
}

// bodyFreeCheck is how a source of kind vouches for a delivery whose
// credential does not depend on the body (GitLab's token, Opsgenie's
// secret), checked before any of it is read; nil for signed kinds.
func bodyFreeCheck(kind, credential string) func(*Source) error {
	switch kind {
	case KindGitLab:
		return func(src *Source) error { return gitlab.VerifyToken(src.Secret, credential) }
	case KindOpsgenie:
		return func(src *Source) error { return opsgenie.Verify(src.Secret, credential) }
	}
	return nil
}

// verifyStream reads body through the MAC of every candidate source and
// sets h.Body once one of them verifies it; it returns those that do.
func (s *Service) verifyStream(sources []Source, kind string, h *Hook, body io.Reader, lim HookBody) ([]*Source, error) {
	newMAC, verifySum := github.NewMAC, github.VerifySum
	if kind == KindPagerDuty {
		newMAC, verifySum = pagerduty.NewMAC, pagerduty.VerifySum
	}
	macs := map[string]hash.Hash{}
	var writers []io.Writer
	for _, src := range sources {
		if src.Kind == kind && (h.Source == "" || src.Name == h.Source) && len(src.Secret) > 0 {
			m := newMAC(src.Secret)
			macs[src.Name] = m
			writers = append(writers, m)
		}
	}
	if len(writers) == 0 {
		// No source could verify it (none of kind, none by that name, or
		// none with a secret): refused with that reason before the body.
		return pickSources(sources, kind, h.Source, func(src *Source) error { return verifySum(src.Secret, nil, h.Credential) })
	}
	sp, err := spoolBody(body, lim, writers)
	if err != nil {
		return nil, err
	}
	defer sp.close()
	if heldAtVerdict != nil {
		heldAtVerdict(int64(sp.mem.Len()))
	}
	srcs, err := pickSources(sources, kind, h.Source, func(src *Source) error {
		var sum []byte
		if m := macs[src.Name]; m != nil {
			sum = m.Sum(nil)
		}
		return verifySum(src.Secret, sum, h.Credential)
	})
	if err != nil {
		return nil, err
	}
	h.Body, err = sp.bytes()
	return srcs, err
}

// spool holds a body being read: the first lim.Memory bytes in memory,
// the rest in a temporary file.
type spool struct {
	lim  HookBody
	mem  bytes.Buffer
	file *os.File
	n    int64
}

// spoolBody reads body (at most lim.Max bytes) into a spool, writing
// every byte through to also as it arrives.
func spoolBody(body io.Reader, lim HookBody, also []io.Writer) (*spool, error) {
	if lim.Memory <= 0 {
		lim.Memory = 1 << 20
	}
	sp := &spool{lim: lim}
	err := copyGrowing(io.MultiWriter(append([]io.Writer{sp}, also...)...), io.LimitReader(body, lim.Max+1))
	if lim.Read != nil {
		lim.Read()
	}
	if err == nil && sp.n > lim.Max {
		err = valueloop.Errorf(valueloop.ETOOLARGE, "webhook body larger than %d bytes", lim.Max)
	}
	if err != nil {
		sp.close()
		return nil, err
	}
	return sp, nil
}

// copyGrowing is io.Copy with a buffer that starts at 512 bytes and
// doubles while reads fill it, up to io.Copy's 32 KiB: a delivery waiting
// for a body that arrives slowly, or not at all, holds half a kilobyte, not
// 32 (such waits are many: no slot bounds them, see httpapi's hookBody).
func copyGrowing(dst io.Writer, src io.Reader) error {
	buf := make([]byte, 512)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return werr
			}
			if n == len(buf) && len(buf) < 32<<10 {
				buf = make([]byte, 2*len(buf))
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func (sp *spool) Write(p []byte) (int, error) {
	n := len(p)
	if room := sp.lim.Memory - int64(sp.mem.Len()); room > 0 {
		k := int(min(room, int64(len(p))))
		sp.mem.Write(p[:k])
		p = p[k:]
	}
	if len(p) > 0 {
		if sp.file == nil {
			f, err := os.CreateTemp(sp.lim.TempDir, "valueloop-hook-*")
			if err != nil {
				return 0, valueloop.Errorf(valueloop.EINTERNAL, "spooling a webhook body: %v", err)
			}
			// Unlinked at once: the file lives only as long as it is open.
			os.Remove(f.Name())
			sp.file = f
		}
		if _, err := sp.file.Write(p); err != nil {
			return 0, valueloop.Errorf(valueloop.EINTERNAL, "spooling a webhook body: %v", err)
		}
	}
	sp.n += int64(n)
	return n, nil
}

// bytes returns the whole body (read back from the file, if any).
func (sp *spool) bytes() ([]byte, error) {
	if sp.file == nil {
		return sp.mem.Bytes(), nil
	}
	out := make([]byte, sp.n)
	k := copy(out, sp.mem.Bytes())
	if _, err := sp.file.ReadAt(out[k:], 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, valueloop.Errorf(valueloop.EINTERNAL, "reading a spooled webhook body: %v", err)
	}
	return out, nil
}

func (sp *spool) close() {
	if sp.file != nil {
		sp.file.Close()
		sp.file = nil
	}
}
