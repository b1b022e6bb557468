package evaluation

import "testing"

func TestSemverParse(t *testing.T) {
	valid := []string{"1", "1.2", "1.2.3", "v1.2.3", "V1.2.3", "0.0.0", "1.2.3-alpha", "1.2.3-alpha.1", "1.2.3-0.3.7",
		"1.2.3-x.7.z.92", "1.2.3+build", "1.2.3-rc.1+build.5", "1.2.3--dash", "10.20.30"}
	invalid := []string{"", "v", "vv1", "Vv1", "01", "1.02", "1.2.03", "1.2.3.4", "1.2-pre", "1.2.3-", "1.2.3-01",
		"1.2.3-a..b", "1.2.3+", "1.2.3+a..b", "1.2.3-a$", "1.2.3 ", " 1.2.3", "1.x", "a.b.c", "1.2.3-alpha_1"}
	for _, s := range valid {
		if _, ok := parseSemver(s); !ok {
			t.Errorf("parseSemver(%q): rejected, want accepted", s)
		}
	}
	for _, s := range invalid {
		if _, ok := parseSemver(s); ok {
			t.Errorf("parseSemver(%q): accepted, want rejected", s)
		}
	}
}

// The precedence chain from semver.org, section 11.
func TestSemverOrder(t *testing.T) {
	chain := []string{"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
		"1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.1.0", "1.10.0", "2.0.0", "10.0.0"}
	for i := range chain {
		for j := range chain {
			a, _ := parseSemver(chain[i])
			b, _ := parseSemver(chain[j])
			got, want := semverCompare(a, b), 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got != want {
				t.Errorf("compare(%s, %s) = %d, want %d", chain[i], chain[j], got, want)
			}
		}
	}
	// Shorthands and build metadata.
	for _, pair := range [][2]string{{"1", "1.0.0"}, {"1.2", "v1.2.0"}, {"1.0.0+a", "1.0.0+b"}} {
		a, _ := parseSemver(pair[0])
		b, _ := parseSemver(pair[1])
		if semverCompare(a, b) != 0 {
			t.Errorf("%s and %s should be equal", pair[0], pair[1])
		}
	}
}

func TestSemverOps(t *testing.T) {
	cases := []struct {
		a, op, b string
		want     bool
	}{
		{"1.2.3", "=", "1.2.3", true}, {"1.2.3", "!=", "1.2.3", false}, {"1.2.3", "<", "1.2.4", true},
		{"1.2.3", "<=", "1.2.3", true}, {"1.2.4", ">", "1.2.3", true}, {"1.2.2", ">=", "1.2.3", false},
		{"1.9.9", "^", "1.0.0", true}, {"2.0.0", "^", "1.0.0", false}, {"1.2.9", "~", "1.2.0", true},
		{"1.3.0", "~", "1.2.0", false}, {"1.2.3-rc.1", "~", "1.2.0", true},
	}
	for _, tc := range cases {
		a, _ := parseSemver(tc.a)
		b, _ := parseSemver(tc.b)
		if got := parseSemverOp(tc.op).apply(a, b); got != tc.want {
			t.Errorf("%s %s %s = %v, want %v", tc.a, tc.op, tc.b, got, tc.want)
		}
	}
	if parseSemverOp("==") != semverBad || parseSemverOp("=>") != semverBad {
		t.Error("unknown operators must be rejected")
	}
}
