package httpstatus

import (
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/valueloop/valueloop"
)

// errorKinds returns the values of the E… constants declared in the root
// package's error.go, so that a kind added there without a status fails
// here rather than becoming a 500 on one side and a mismatch on the other.
func errorKinds(t *testing.T) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "../error.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, sp := range g.Specs {
			vs := sp.(*ast.ValueSpec)
			for i, n := range vs.Names {
				if !strings.HasPrefix(n.Name, "E") || i >= len(vs.Values) {
					continue
				}
				if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
					s, err := strconv.Unquote(lit.Value)
					if err != nil {
						t.Fatal(err)
					}
					kinds = append(kinds, s)
				}
			}
		}
	}
	if len(kinds) < 10 {
		t.Fatalf("found %d error kinds in error.go (%v): the parse is off", len(kinds), kinds)
	}
	return kinds
}

func TestCodeInvertsOf(t *testing.T) {
	seen := map[int]string{}
	for _, code := range errorKinds(t) {
		st := Of(code)
		if st == http.StatusInternalServerError && code != valueloop.EINTERNAL {
			t.Errorf("Of(%q) = 500: the kind has no status of its own", code)
		}
		if other, ok := seen[st]; ok {
			t.Errorf("Of(%q) = %d, the status of %q too", code, st, other)
		}
		seen[st] = code
		if got := Code(st); got != code {
			t.Errorf("Code(Of(%q)) = Code(%d) = %q", code, st, got)
		}
	}
}

func TestCode(t *testing.T) {
	for _, tc := range []struct {
		status int
		want   string
	}{
		{400, valueloop.EINVALID},
		{401, valueloop.EUNAUTHORIZED},
		{403, valueloop.EFORBIDDEN},
		{404, valueloop.ENOTFOUND},
		{405, valueloop.EMETHOD},
		{408, valueloop.ETIMEOUT},
		{409, valueloop.ECONFLICT},
		{413, valueloop.ETOOLARGE},
		{415, valueloop.EUNSUPPORTED},
		{429, valueloop.ETOOMANY},
		{500, valueloop.EINTERNAL},
		{502, valueloop.EINTERNAL}, // a proxy's: no kind of ours
		{503, valueloop.EUNAVAILABLE},
		{418, valueloop.EINTERNAL},
	} {
		if got := Code(tc.status); got != tc.want {
			t.Errorf("Code(%d) = %q, want %q", tc.status, got, tc.want)
		}
	}
}
