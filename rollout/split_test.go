package rollout_test

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/evaluation"
	"github.com/valueloop/valueloop/flagd"
	"github.com/valueloop/valueloop/rollout"
)

func TestApplySplit(t *testing.T) {
	cases := []struct {
		name, targeting string
		weight          int
		want            string // targeting after, or the error's text
		wantErr         bool
	}{
		{"no targeting", ``, 500, `{"fractional":[["one-page",500],["classic",9500]]}`, false},
		{"null targeting", `null`, 0, `{"fractional":[["one-page",0],["classic",10000]]}`, false},
		{"split in place, order kept", `{"if":[{"in":[{"var":"country"},["NZ","IE"]]},"one-page",{"fractional":[["classic",95],["one-page",5]]}]}`, 2500,
			`{"if":[{"in":[{"var":"country"},["NZ","IE"]]},"one-page",{"fractional":[["classic",7500],["one-page",2500]]}]}`, false},
		{"bucketing value kept", `{"fractional":[{"var":"email"},["one-page",1],["classic",1]]}`, 100,
			`{"fractional":[{"var":"email"},["one-page",100],["classic",9900]]}`, false},
		{"variant missing from split added", `{"fractional":[["classic",1]]}`, 100, `{"fractional":[["classic",9900],["one-page",100]]}`, false},
		{"no split", `{"if":[{"var":"beta"},"one-page",null]}`, 100, "has no `fractional` split", true},
		{"two splits", `{"if":[{"var":"x"},{"fractional":[["classic",1]]},{"fractional":[["one-page",1]]}]}`, 100, "2 `fractional` splits", true},
		{"other variant in split", `{"fractional":[["classic",50],["one-page",40],["two-page",10]]}`, 100, `also serves "two-page"`, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := checkoutFlag()
			f.Targeting = json.RawMessage(c.targeting)
			got, err := rollout.ApplySplit(f, "one-page", "classic", c.weight)
			if c.wantErr {
				if err == nil || !strings.Contains(err.Error(), c.want) || valueloop.ErrorCode(err) != valueloop.EINVALID {
					t.Fatalf("ApplySplit = %v, want an invalid error with %q", err, c.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(got.Targeting) != c.want {
				t.Errorf("targeting:\n got %s\nwant %s", got.Targeting, c.want)
			}
			if string(f.Targeting) != c.targeting {
				t.Errorf("the input flag was modified: %s", f.Targeting)
			}
			w, err := rollout.SplitOf(got, "one-page", "classic")
			if err != nil || w != c.weight {
				t.Errorf("SplitOf = %d, %v; want %d", w, err, c.weight)
			}
		})
	}
}

// TestTakeOverKeepsUsers: taking over the demo's 95/5 split as 9500/500
// changes nobody's variant.
func TestTakeOverKeepsUsers(t *testing.T) {
	f := checkoutFlag()
	f.Targeting = json.RawMessage(`{"fractional":[["classic",95],["one-page",5]]}`)
	if w, err := rollout.SplitOf(f, "one-page", "classic"); err != nil || w != 500 {
		t.Fatalf("SplitOf(95/5) = %d, %v; want 500", w, err)
	}
	g, err := rollout.ApplySplit(f, "one-page", "classic", 500)
	if err != nil {
		t.Fatal(err)
	}
	before, after := compile(t, f), compile(t, g)
	for i := range 20000 {
		ctx := map[string]any{"targetingKey": "user-" + strconv.Itoa(i)}
		if a, b := before.Evaluate("checkout", ctx).Variant, after.Evaluate("checkout", ctx).Variant; a != b {
			t.Fatalf("user-%d: %s before the take-over, %s after", i, a, b)
		}
	}
}

func compile(t testing.TB, f *valueloop.Flag) *evaluation.Snapshot {
	t.Helper()
	snap, err := evaluation.Compile(&valueloop.FlagSet{Flags: map[string]*valueloop.Flag{f.Key: f}})
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

// TestBucketsAreMonotonic evaluates 100,000 targeting keys with the real
// engine at every step of a plan: everyone served the new variant at step k
// is still served it at step k+1, and the share matches the step. The flag
// goes through the flagd file format in between, as an exported file would.
func TestBucketsAreMonotonic(t *testing.T) {
	const keys = 100_000
	steps := []float64{0.01, 1, 5, 12.5, 25, 50, 99.99, 100}
	for _, targeting := range []string{``, `{"fractional":[["classic",95],["one-page",5]]}`, `{"fractional":[{"cat":[{"var":"targetingKey"},"-salt"]},["classic",1],["one-page",1]]}`} {
		t.Run("targeting="+targeting, func(t *testing.T) {
			f := checkoutFlag()
			f.Targeting = json.RawMessage(targeting)
			inNew := make([]bool, keys)
			ctx := map[string]any{}
			for _, pct := range steps {
				g, err := rollout.ApplySplit(f, "one-page", "classic", rollout.Weight(pct))
				if err != nil {
					t.Fatal(err)
				}
				file, err := flagd.Marshal(&valueloop.FlagSet{Flags: map[string]*valueloop.Flag{"checkout": g}})
				if err != nil {
					t.Fatal(err)
				}
				set, err := flagd.Parse("export.json", file)
				if err != nil {
					t.Fatal(err)
				}
				snap, err := evaluation.Compile(set)
				if err != nil {
					t.Fatal(err)
				}
				n, lost := 0, 0
				for i := range keys {
					ctx["targetingKey"] = "user-" + strconv.Itoa(i)
					r := snap.Evaluate("checkout", ctx)
					isNew := r.Variant == "one-page"
					if r.Variant != "one-page" && r.Variant != "classic" {
						t.Fatalf("user-%d at %v%%: variant %q (%s %s)", i, pct, r.Variant, r.Reason, r.ErrorMessage)
					}
					if inNew[i] && !isNew {
						lost++
					}
					inNew[i] = isNew
					if isNew {
						n++
					}
				}
				if lost > 0 {
					t.Errorf("at %v%%: %d users lost the new variant they had at the step before", pct, lost)
				}
				share := float64(n) / keys * 100
				if tol := 0.5 + pct*0.03; share < pct-tol || share > pct+tol {
					t.Errorf("at %v%%: %.3f%% of keys got the new variant", pct, share)
				}
			}
		})
	}
}

// TestOutsideSplit: the users a flag's targeting serves the variant or the
// baseline without its split are named, as the guardrails count them when
// their exposures do not say so; targeting that is the split, or whose
// every branch ends in it, names none.
func TestOutsideSplit(t *testing.T) {
	split := `{"fractional":[["classic",95],["one-page",5]]}`
	cases := []struct{ name, targeting, want string }{
		{"no targeting", ``, ""},
		{"the split alone", split, ""},
		{"every branch ends in the split", `{"if":[{"var":"beta"},` + split + `,` + split[:len(split)-1] + `}]}`, ""},
		{"a third variant by rule", `{"if":[{"var":"legacy"},"legacy",` + split + `]}`, ""},
		{"staff forced onto the variant", `{"if":[{"ends_with":[{"var":"email"},"@valueloop.dev"]},"one-page",` + split + `]}`, `"one-page" to the users a rule picks`},
		{"?: is if", `{"?:":[{"var":"staff"},"classic",` + split + `]}`, `"classic" to the users a rule picks`},
		{"no else: the default", `{"if":[{"in":[{"var":"country"},["NZ"]]},` + split + `]}`, `"classic" (the defaultVariant) to the users no branch`},
		{"null branch: the default", `{"if":[{"var":"x"},null,` + split + `]}`, `(the defaultVariant)`},
		{"computed branch", `{"if":[{"var":"x"},{"var":"variant"},` + split + `]}`, `computed branch`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := checkoutFlag()
			f.Targeting = json.RawMessage(c.targeting)
			got := rollout.OutsideSplit(f, "one-page", "classic")
			if c.want == "" && got != "" || !strings.Contains(got, c.want) {
				t.Errorf("OutsideSplit = %q, want %q", got, c.want)
			}
			if c.want != "" && (!strings.Contains(got, "left out of the guardrails when their exposures say so") || !strings.Contains(got, "the server's do") || len(got) > 360) {
				t.Errorf("OutsideSplit = %q, want it to say briefly what it means for the guardrails", got)
			}
		})
	}
}

// TestOutsideSplitAdviceFitsTheReason: an SDK's exposure carries the
// evaluation's reason, which says "outside the split" for the default
// variant (DEFAULT) but not for a rule's: TARGETING_MATCH counts as in
// (flagd's providers answer it for a split too), and the Go provider
// sends it for a rule's variant. So the warning tells to send the reason
// only when that would leave the users out.
func TestOutsideSplitAdviceFitsTheReason(t *testing.T) {
	split := `{"fractional":[["classic",95],["one-page",5]]}`
	cases := []struct {
		name, targeting string
		says, not       []string
	}{
		{"a rule's variant", `{"if":[{"var":"staff"},"one-page",` + split + `]}`,
			[]string{"TARGETING_MATCH", "split: false", "put the split on a rule of its own"}, []string{"reason DEFAULT"}},
		{"a computed branch", `{"if":[{"var":"x"},{"var":"variant"},` + split + `]}`,
			[]string{"TARGETING_MATCH"}, []string{"reason DEFAULT"}},
		{"the default alone", `{"if":[{"in":[{"var":"country"},["NZ"]]},` + split + `]}`,
			[]string{"split: false or the reason DEFAULT"}, []string{"TARGETING_MATCH"}},
	}
	for _, c := range cases {
		f := checkoutFlag()
		f.Targeting = json.RawMessage(c.targeting)
		got := rollout.OutsideSplit(f, "one-page", "classic")
		for _, s := range c.says {
			if !strings.Contains(got, s) {
				t.Errorf("%s: %q lacks %q", c.name, got, s)
			}
		}
		for _, s := range c.not {
			if strings.Contains(got, s) {
				t.Errorf("%s: %q says %q", c.name, got, s)
			}
		}
	}
}
