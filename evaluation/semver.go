package evaluation

import "strconv"

// This file implements flagd's sem_ver operator. flagd prefixes a missing
// "v" (turning a leading "V" into "v") and then uses golang.org/x/mod/semver,
// which accepts "v1" and "v1.2" as shorthands for v1.0.0 and v1.2.0, rejects
// leading zeros, and ignores build metadata when comparing. The parser below
// follows the same grammar on the text after the "v", without allocating.

// semver is a parsed version; the fields are substrings of the input.
type semver struct {
	major, minor, patch string
	pre                 string // "-alpha.1" or ""
}

// parseSemver parses a version as flagd normalizes it: an optional leading
// "v" or "V", then MAJOR[.MINOR[.PATCH[-PRERELEASE][+BUILD]]].
func parseSemver(s string) (semver, bool) {
	var p semver
	if len(s) > 0 && (s[0] == 'v' || s[0] == 'V') {
		s = s[1:]
	}
	var ok bool
	if p.major, s, ok = semverInt(s); !ok {
		return p, false
	}
	if s == "" {
		p.minor, p.patch = "0", "0"
		return p, true
	}
	if s[0] != '.' {
		return p, false
	}
	if p.minor, s, ok = semverInt(s[1:]); !ok {
		return p, false
	}
	if s == "" {
		p.patch = "0"
		return p, true
	}
	if s[0] != '.' {
		return p, false
	}
	if p.patch, s, ok = semverInt(s[1:]); !ok {
		return p, false
	}
	if s != "" && s[0] == '-' {
		if p.pre, s, ok = semverPrerelease(s); !ok {
			return p, false
		}
	}
	if s != "" && s[0] == '+' {
		if s, ok = semverBuild(s); !ok {
			return p, false
		}
	}
	return p, s == ""
}

func semverInt(s string) (num, rest string, ok bool) {
	if s == "" || s[0] < '0' || s[0] > '9' {
		return "", s, false
	}
	i := 1
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if s[0] == '0' && i != 1 {
		return "", s, false
	}
	return s[:i], s[i:], true
}

func semverIdentChar(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-'
}

// semverBadNum reports a numeric identifier with a leading zero.
func semverBadNum(s string) bool {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i == len(s) && i > 1 && s[0] == '0'
}

func semverPrerelease(s string) (pre, rest string, ok bool) {
	i, start := 1, 1
	for i < len(s) && s[i] != '+' {
		if !semverIdentChar(s[i]) && s[i] != '.' {
			return "", s, false
		}
		if s[i] == '.' {
			if start == i || semverBadNum(s[start:i]) {
				return "", s, false
			}
			start = i + 1
		}
		i++
	}
	if start == i || semverBadNum(s[start:i]) {
		return "", s, false
	}
	return s[:i], s[i:], true
}

func semverBuild(s string) (rest string, ok bool) {
	i, start := 1, 1
	for i < len(s) {
		if !semverIdentChar(s[i]) && s[i] != '.' {
			return s, false
		}
		if s[i] == '.' {
			if start == i {
				return s, false
			}
			start = i + 1
		}
		i++
	}
	if start == i {
		return s, false
	}
	return "", true
}

func semverCmpInt(x, y string) int {
	if x == y {
		return 0
	}
	if len(x) != len(y) {
		if len(x) < len(y) {
			return -1
		}
		return 1
	}
	if x < y {
		return -1
	}
	return 1
}

func semverIsNum(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func semverNextIdent(s string) (ident, rest string) {
	i := 0
	for i < len(s) && s[i] != '.' {
		i++
	}
	return s[:i], s[i:]
}

func semverCmpPre(x, y string) int {
	if x == y {
		return 0
	}
	if x == "" {
		return 1
	}
	if y == "" {
		return -1
	}
	for x != "" && y != "" {
		x, y = x[1:], y[1:] // skip '-' or '.'
		var dx, dy string
		dx, x = semverNextIdent(x)
		dy, y = semverNextIdent(y)
		if dx != dy {
			ix, iy := semverIsNum(dx), semverIsNum(dy)
			if ix != iy {
				if ix {
					return -1
				}
				return 1
			}
			if ix {
				return semverCmpInt(dx, dy)
			}
			if dx < dy {
				return -1
			}
			return 1
		}
	}
	if x == "" {
		return -1
	}
	return 1
}

func semverCompare(a, b semver) int {
	if c := semverCmpInt(a.major, b.major); c != 0 {
		return c
	}
	if c := semverCmpInt(a.minor, b.minor); c != 0 {
		return c
	}
	if c := semverCmpInt(a.patch, b.patch); c != 0 {
		return c
	}
	return semverCmpPre(a.pre, b.pre)
}

// semverOp is a sem_ver comparison operator.
type semverOp uint8

const (
	semverBad semverOp = iota
	semverEq
	semverNe
	semverLt
	semverLe
	semverGt
	semverGe
	semverCaret // same major
	semverTilde // same major and minor
)

func parseSemverOp(s string) semverOp {
	switch s {
	case "=":
		return semverEq
	case "!=":
		return semverNe
	case "<":
		return semverLt
	case "<=":
		return semverLe
	case ">":
		return semverGt
	case ">=":
		return semverGe
	case "^":
		return semverCaret
	case "~":
		return semverTilde
	}
	return semverBad
}

func (op semverOp) apply(a, b semver) bool {
	switch op {
	case semverEq:
		return semverCompare(a, b) == 0
	case semverNe:
		return semverCompare(a, b) != 0
	case semverLt:
		return semverCompare(a, b) < 0
	case semverLe:
		return semverCompare(a, b) <= 0
	case semverGt:
		return semverCompare(a, b) > 0
	case semverGe:
		return semverCompare(a, b) >= 0
	case semverCaret:
		return semverCmpInt(a.major, b.major) == 0
	case semverTilde:
		return semverCmpInt(a.major, b.major) == 0 && semverCmpInt(a.minor, b.minor) == 0
	}
	return false
}

// semverOf reads a sem_ver operand as flagd does: strings as they are,
// anything else through fmt's %v (so the number 1.2 is "1.2").
func semverOf(v value) (semver, bool) {
	switch v.k {
	case kStr:
		return parseSemver(v.s)
	case kNum:
		return parseSemver(strconv.FormatFloat(v.n, 'g', -1, 64))
	}
	// true, <nil>, [a b], map[...]: never a valid version.
	return semver{}, false
}
