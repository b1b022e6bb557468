package evaluation

import (
	"math/rand/v2"
	"strings"
	"testing"

	xsemver "golang.org/x/mod/semver"
)

// The sem_ver parser and comparison in semver.go mirror what flagd does:
// normalize the version (prefix "v", a leading "V" becomes "v") and hand it
// to golang.org/x/mod/semver. These tests hold the hand-written code to that
// library as an oracle. Where both define an answer they must agree: validity
// of every version, and for two valid versions the result of every operator
// (the ordering ones through xsemver.Compare, "^" through xsemver.Major and "~"
// through xsemver.MajorMinor, as flagd computes them).
//
// Differences, none of them in an answer both give:
//   - x/mod wants the "v"; flagd and Valueloop add it, so "1.2.3", "v1.2.3"
//     and "V1.2.3" are the same version here and only the last two are
//     xsemver.IsValid as written. The oracle is fed flagd's normalized text.
//   - x/mod orders an invalid version below every valid one (and equal to
//     other invalid ones); flagd and Valueloop do not compare invalid versions
//     at all (sem_ver is false, or a validation problem for a literal), which
//     the operator tests in ops_test.go cover.
//   - Numbers: flagd formats a non-string operand with %v before normalizing;
//     semverOf does the same with strconv ('g', shortest), which prints
//     float64 values identically. That is outside x/mod and not tested here.

// flagdNormalize is flagd's normalizeVersion (core/pkg/evaluator/semver.go)
// without the validity check.
func flagdNormalize(s string) string {
	if !strings.HasPrefix(s, "v") {
		s = "v" + strings.TrimPrefix(s, "V")
	}
	return s
}

// checkSemverOracle compares the hand-written sem_ver with x/mod/semver on
// one pair of versions.
func checkSemverOracle(t *testing.T, a, b string) {
	t.Helper()
	na, nb := flagdNormalize(a), flagdNormalize(b)
	pa, okA := parseSemver(a)
	pb, okB := parseSemver(b)
	if okA != xsemver.IsValid(na) {
		t.Fatalf("parseSemver(%q) valid %v, xsemver.IsValid(%q) %v", a, okA, na, xsemver.IsValid(na))
	}
	if okB != xsemver.IsValid(nb) {
		t.Fatalf("parseSemver(%q) valid %v, xsemver.IsValid(%q) %v", b, okB, nb, xsemver.IsValid(nb))
	}
	if !okA || !okB {
		return
	}
	c := xsemver.Compare(na, nb)
	want := map[string]bool{
		"=": c == 0, "!=": c != 0, "<": c < 0, "<=": c <= 0, ">": c > 0, ">=": c >= 0,
		"^": xsemver.Compare(xsemver.Major(na), xsemver.Major(nb)) == 0,
		"~": xsemver.Compare(xsemver.MajorMinor(na), xsemver.MajorMinor(nb)) == 0,
	}
	for op, w := range want {
		if got := parseSemverOp(op).apply(pa, pb); got != w {
			t.Fatalf("%q %s %q = %v, x/mod/semver says %v", a, op, b, got, w)
		}
	}
}

// randomVersion writes a version from parts that are often valid and often
// slightly wrong: leading zeros, missing or extra parts, empty identifiers,
// stray characters.
func randomVersion(r *rand.Rand) string {
	pick := func(xs ...string) string { return xs[r.IntN(len(xs))] }
	num := func() string {
		return pick("0", "1", "2", "9", "10", "11", "0", "1", "2", "01", "123456789012345678901234567890", "x", "")
	}
	var sb strings.Builder
	sb.WriteString(pick("", "", "", "v", "v", "V", "vv", " ", "="))
	sb.WriteString(num())
	for range []int{0, 1, 2, 2, 2, 2, 3}[r.IntN(7)] { // 1 to 4 numeric parts
		sb.WriteString(pick(".", ".", ".", ".", ".", "..", ","))
		sb.WriteString(num())
	}
	ident := func() string {
		return pick("alpha", "beta", "rc", "0", "1", "2", "10", "alpha", "1", "x-y", "-", "a1", "1a", "A", "Z9", "01", "", "a$")
	}
	// idents writes sep and one to three dot-separated identifiers
	// (pre-release after "-", build metadata after "+").
	idents := func(sep string) {
		sb.WriteString(sep)
		sb.WriteString(ident())
		for range r.IntN(3) {
			sb.WriteString(".")
			sb.WriteString(ident())
		}
	}
	if r.IntN(2) == 0 {
		idents("-")
	}
	if r.IntN(3) == 0 {
		idents("+")
	}
	return sb.String()
}

// TestSemverOracle compares 50,000 random pairs, and every pair of the
// versions of the hand-written tests, with x/mod/semver.
func TestSemverOracle(t *testing.T) {
	fixed := []string{"1", "1.2", "1.2.3", "v1.2.3", "V1.2.3", "0.0.0", "1.2.3-alpha", "1.2.3-alpha.1", "1.2.3-0.3.7",
		"1.2.3-x.7.z.92", "1.2.3+build", "1.2.3-rc.1+build.5", "1.2.3--dash", "10.20.30", "", "v", "vv1", "Vv1", "01",
		"1.02", "1.2.3.4", "1.2-pre", "1.2.3-", "1.2.3-01", "1.2.3-a..b", "1.2.3+", "1.2.3 ", "1.0.0-alpha.beta",
		"1.0.0-beta.11", "1.0.0-rc.1", "2", "v2.0", "1.10.0"}
	for _, a := range fixed {
		for _, b := range fixed {
			checkSemverOracle(t, a, b)
		}
	}
	r := rand.New(rand.NewPCG(17, 6))
	valid := 0
	for range 50_000 {
		a, b := randomVersion(r), randomVersion(r)
		if r.IntN(4) == 0 {
			b = a[:r.IntN(len(a)+1)] // a prefix: shares major and minor often
		}
		checkSemverOracle(t, a, b)
		if _, ok := parseSemver(a); ok {
			valid++
		}
	}
	// The generator must reach valid versions often enough for the
	// comparisons to mean something.
	if valid < 5_000 {
		t.Errorf("only %d of 50000 random versions valid; the generator needs fixing", valid)
	}
}

// FuzzSemverOracle is TestSemverOracle with versions from the fuzzer.
func FuzzSemverOracle(f *testing.F) {
	f.Add("1.2.3-rc.1+b", "v1.2.3")
	f.Add("V2", "2.0.0-0")
	f.Add("1.0.0-alpha.1", "1.0.0-alpha.beta")
	f.Fuzz(func(t *testing.T, a, b string) {
		checkSemverOracle(t, a, b)
	})
}
