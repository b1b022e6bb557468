package valueloop

import (
	"fmt"
	"strings"
)

// Problem is one thing wrong with a definition: where it came from (a file
// name, "api", ...), which flag, where inside it (a JSON path such as
// "/flags/new-ui/targeting/if/0") and what is wrong.
type Problem struct {
	Source  string `json:"source,omitempty"`
	Flag    string `json:"flag,omitempty"`
	Path    string `json:"path"`
	Message string `json:"message"`
}

func (p Problem) String() string {
	var b strings.Builder
	if p.Source != "" {
		b.WriteString(p.Source)
		b.WriteString(": ")
	}
	if p.Flag != "" {
		fmt.Fprintf(&b, "flag %q: ", p.Flag)
	}
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// ValidationError lists every problem found in a definition. It is an EINVALID
// error: errors.As(err, new(*Error)) finds the summary.
type ValidationError struct {
	Problems []Problem
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.String()
	}
	return "invalid definition: " + strings.Join(parts, "; ")
}

// Unwrap exposes the EINVALID summary so that ErrorCode and ErrorMessage treat
// a ValidationError like any other user error.
func (e *ValidationError) Unwrap() error {
	msg := "invalid definition"
	if len(e.Problems) > 0 {
		msg = e.Problems[0].String()
		if n := len(e.Problems) - 1; n > 0 {
			msg += fmt.Sprintf(" (and %d more problems)", n)
		}
	}
	return &Error{Code: EINVALID, Message: msg}
}
