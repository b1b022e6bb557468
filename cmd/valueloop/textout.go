package main

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/valueloop/valueloop"
)

// textWriter is the CLI's text output, stdout and stderr alike: it writes
// each control character other than a line break or a tab escaped, as
// \x1b or \u009b, and so does a byte that is not UTF-8 (\x9b). Rollout,
// verdict and audit reasons, hypotheses, names and error details are
// free text the server keeps from any writer of its API, webhooks and
// older versions included; printed as they are, an escape sequence in
// one would retitle, clear or recolour the reader's terminal, or hide a
// line. Escaping at the writer, not at each Fprintf, covers every command
// and every text still to come. JSON and exported files bypass it
// (cliEnv.data): their bytes are data, and their encodings escape what
// they must.
type textWriter struct {
	w io.Writer
	// held is the start of a UTF-8 sequence a write ended in, completed by
	// the next write (a buffered writer may split one).
	held []byte
}

func (t *textWriter) Write(p []byte) (int, error) {
	b := p // not copied in the common case: held is copied out below
	if len(t.held) > 0 {
		b = append(t.held, p...)
		t.held = nil
	}
	if i := partialTail(b); i < len(b) {
		t.held = append([]byte(nil), b[i:]...)
		b = b[:i]
	}
	if _, err := t.w.Write(neutralise(b)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Flush writes what the last write held: a sequence never completed,
// escaped as the bytes it is.
func (t *textWriter) Flush() error {
	b := t.held
	t.held = nil
	if len(b) == 0 {
		return nil
	}
	_, err := t.w.Write(neutralise(b))
	return err
}

// partialTail returns where an incomplete UTF-8 sequence ending b starts,
// or len(b) when b ends with a whole character (or bytes no character
// starts with, escaped at once).
func partialTail(b []byte) int {
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax+1; i-- {
		if !utf8.RuneStart(b[i]) {
			continue
		}
		if b[i] >= 0xC0 && !utf8.FullRune(b[i:]) {
			return i
		}
		break
	}
	return len(b)
}

// neutralise returns b with its control characters (but line breaks and
// tabs), its bidirectional ones (valueloop.Bidi: a title stored before
// they were refused would reorder the rest of the line) and its bytes
// that are not UTF-8 escaped; b itself when it has
// none, the common case.
func neutralise(b []byte) []byte {
	clean := true
	for _, c := range b {
		if c >= 0x7F || (c < 0x20 && c != '\n' && c != '\t') {
			clean = false
			break
		}
	}
	if clean {
		return b
	}
	out := make([]byte, 0, len(b)+16)
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		switch {
		case r == utf8.RuneError && n == 1:
			out = fmt.Appendf(out, `\x%02x`, b[0])
		case r < 0x20 && r != '\n' && r != '\t', r == 0x7F:
			out = fmt.Appendf(out, `\x%02x`, r)
		case r >= 0x80 && r < 0xA0, valueloop.Bidi(r):
			out = fmt.Appendf(out, `\u%04x`, r)
		default:
			out = append(out, b[:n]...)
		}
		b = b[n:]
	}
	return out
}

// oneLine is free text printed in a one-line field (a reason after an
// audit entry, in a row of a table): its line breaks and tabs written
// escaped, which textWriter leaves for multi-line blocks. A line break
// would start a line of its own (an audit entry or a rollout step that
// never happened), a tab a column.
func oneLine(s string) string { return lineBreaks.Replace(s) }

var lineBreaks = strings.NewReplacer("\n", `\n`, "\t", `\t`)
