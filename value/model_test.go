package value

import (
	"os"
	"strings"
	"testing"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/experiment"
)

func testContext() Context {
	return Context{
		Production: "production",
		Metrics: map[string][]string{
			"production":  {"onboarding-completed", "revenue", "support-tickets"},
			"development": {"onboarding-completed"},
		},
		Flags: map[string][]string{
			"production":  {"checkout-flow", "new-onboarding", "banner"},
			"development": {"new-onboarding"},
		},
	}
}

func mustParse(t *testing.T) *File {
	t.Helper()
	data, err := os.ReadFile("testdata/valueloop.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f, err := ParseFile(data, testContext())
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return f
}

// TestValidateBadInput edits the valid testdata file one way at a time; each
// edit is refused with the field at fault named.
func TestValidateBadInput(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edit  func(f *File)
		field string
		msg   string
	}{
		{"unknown objective", func(f *File) { f.Features[0].Objective = "growth" }, "features[0].objective", `no objective "growth" (have activation, revenue)`},
		{"no objective", func(f *File) { f.Features[0].Objective = "" }, "features[0].objective", "required"},
		{"unknown metric", func(f *File) { f.Objectives[0].Metric = "signups" }, "objectives[0].metric", `no metric "signups" in environment production`},
		{"metric of another environment", func(f *File) { f.Objectives[1].Environment = "development" }, "objectives[1].metric", `no metric "revenue" in environment development`},
		{"unknown environment", func(f *File) { f.Objectives[0].Environment = "staging" }, "objectives[0].environment", `no environment "staging"`},
		{"hypothesis metric unknown", func(f *File) { f.Features[1].Hypothesis.Metric = "nps" }, "features[1].hypothesis.metric", `no metric "nps" in any environment`},
		{"minimum effect without metric", func(f *File) { f.Features[2].Hypothesis.MinimumEffect = 0.1 }, "features[2].hypothesis.metric", "required when"},
		{"no change in hypothesis", func(f *File) { f.Features[0].Hypothesis.Change = " " }, "features[0].hypothesis.change", "required"},
		// Texts are printed as they are by the CLI: an escape sequence in
		// one would clear or retitle the reader's terminal.
		{"escape in title", func(f *File) { f.Features[0].Title = "Guided \x1b[2J onboarding" }, "features[0].title", "control character U+001B at byte 8"},
		{"line break in title", func(f *File) { f.Objectives[0].Title = "Activation\nrate" }, "objectives[0].title", "control character U+000A at byte 11"},
		{"bell in description", func(f *File) { f.Objectives[0].Description = "a\nb\x07" }, "objectives[0].description", "control character U+0007 at byte 4"},
		// Bidirectional overrides and isolates are formats (Cf), not
		// controls: "invoice\u202Etxt.exe" read "invoiceexe.txt".
		{"override in title", func(f *File) { f.Features[0].Title = "Guided \u202Eonboarding" }, "features[0].title", "bidirectional control character U+202E at byte 8"},
		{"isolate in objective title", func(f *File) { f.Objectives[0].Title = "Activation \u2066rate\u2069" }, "objectives[0].title", "bidirectional control character U+2066 at byte 12"},
		{"embedding in hypothesis", func(f *File) { f.Features[0].Hypothesis.Change = "a \u202Ab" }, "features[0].hypothesis.change", "bidirectional control character U+202A at byte 3"},
		{"C1 control in hypothesis", func(f *File) { f.Features[0].Hypothesis.Outcome = "more \u009b31m" }, "features[0].hypothesis.outcome", "control character U+009B at byte 6"},
		// And so are the links' names, `feature show` prints them too.
		{"escape in service", func(f *File) { f.Features[0].Links.Services = []string{"web\x1b]0;x\x07"} }, "features[0].links.services[0]", "control character U+001B at byte 4"},
		{"escape in label", func(f *File) { f.Features[1].Links.Changes.Labels = []string{"a\x1b[2J"} }, "features[1].links.changes.labels[0]", "control character U+001B at byte 2"},
		{"escape in branch prefix", func(f *File) { f.Features[1].Links.Changes.BranchPrefixes = []string{"fix\x1b]0;x"} }, "features[1].links.changes.branchPrefixes[0]", "control character U+001B at byte 4"},
		{"escape in flag variant", func(f *File) { f.Features[0].Links.Flags[0].Variant = "on\u009b2J" }, "features[0].links.flags[0].variant", "control character U+009B at byte 3"},
		{"negative minimum effect", func(f *File) { f.Features[0].Hypothesis.MinimumEffect = -0.05 }, "features[0].hypothesis.minimumEffect", "must be a positive number"},
		{"bad direction", func(f *File) { f.Features[0].Hypothesis.Direction = "up" }, "features[0].hypothesis.direction", `must be "increase" or "decrease"`},
		{"unknown flag", func(f *File) { f.Features[0].Links.Flags[0].Flag = "onboarding" }, "features[0].links.flags[0].flag", `no flag "onboarding" in environment production`},
		{"flag of another environment", func(f *File) { f.Features[1].Links.Flags[0].Environment = "development" }, "features[1].links.flags[0].flag", `no flag "checkout-flow" in environment development`},
		{"flag linked twice", func(f *File) {
			f.Features[0].Links.Flags = append(f.Features[0].Links.Flags, FlagLink{Environment: "production", Flag: "new-onboarding"})
		}, "features[0].links.flags[2].flag", "already linked as links.flags[0]"},
		{"flag linked to two features", func(f *File) {
			f.Features[2].Links.Flags = []FlagLink{{Environment: "production", Flag: "checkout-flow"}}
		}, "features[2].links.flags[0].flag", `already linked to feature "one-page-checkout"`},
		{"service twice", func(f *File) { f.Features[0].Links.Services = []string{"web", "web"} }, "features[0].links.services[1]", "listed twice"},
		{"too many services", func(f *File) { f.Features[0].Links.Services = make([]string, MaxLinks+1) }, "features[0].links.services", "lists 101 items, want at most 100"},
		{"too many dependencies", func(f *File) { f.Features[1].DependsOn = make([]string, MaxLinks+1) }, "features[1].dependsOn", "at most 100"},
		{"label of two features", func(f *File) { f.Features[1].Links.Changes.Labels = []string{"Feature:Onboarding"} }, "features[1].links.changes.labels[0]", `already recognises changes of feature "new-onboarding"`},
		{"overlapping prefixes", func(f *File) { f.Features[1].Links.Changes.BranchPrefixes = []string{"onboarding/checkout-"} }, "features[1].links.changes.branchPrefixes[0]", `overlaps prefix "onboarding/"`},
		{"short prefix", func(f *File) { f.Features[1].Links.Changes.BranchPrefixes = []string{"f"} }, "features[1].links.changes.branchPrefixes[0]", "3 to 200 characters"},
		{"cost of delay out of range", func(f *File) { f.Features[0].Estimate.CostOfDelay.UserValue = 101 }, "features[0].estimate.costOfDelay.userValue", "between 0 and 100"},
		{"negative time criticality", func(f *File) { f.Features[0].Estimate.CostOfDelay.TimeCriticality = -1 }, "features[0].estimate.costOfDelay.timeCriticality", "between 0 and 100"},
		{"cost of delay of nothing", func(f *File) { f.Features[0].Estimate.CostOfDelay = &CostOfDelay{} }, "features[0].estimate.costOfDelay", "at least one part"},
		{"size too large", func(f *File) { f.Features[0].Estimate.Size = 5000 }, "features[0].estimate.size", "up to 1000"},
		{"confidence above 1", func(f *File) { f.Features[1].Estimate.Confidence = new(1.5) }, "features[1].estimate.confidence", "probability"},
		// 0 read as not given (0.5) although refused as out of (0, 1].
		{"confidence 0", func(f *File) { f.Features[1].Estimate.Confidence = new(0.0) }, "features[1].estimate.confidence", "got 0: leave it out for no opinion"},
		{"impact off the scale", func(f *File) { f.Features[1].Estimate.Impact = 0.1 }, "features[1].estimate.impact", "0.25 (minimal) and 3"},
		// Either made next's score +Inf, which JSON cannot write: the
		// whole backlog answered 200 with an empty body.
		{"reach beyond any audience", func(f *File) { f.Features[1].Estimate.Reach = 1e308 }, "features[1].estimate.reach", "at most 1e+12"},
		{"size too small to divide by", func(f *File) { f.Features[0].Estimate.Size = 1e-322 }, "features[0].estimate.size", "from 0.001 up to 1000"},
		{"target zero", func(f *File) { f.Objectives[0].Target.Value = 0 }, "objectives[0].target.value", "positive"},
		{"no horizon", func(f *File) { f.Objectives[0].Horizon = Date{} }, "objectives[0].horizon", "required"},
		{"bad key", func(f *File) { f.Features[0].Key = "New Onboarding" }, "features[0].key", "lower-case letters"},
		{"feature twice", func(f *File) { f.Features[2].Key = "new-onboarding" }, "features[2].key", "already defined as features[0]"},
		{"objective twice", func(f *File) { f.Objectives[1].Key = "activation" }, "objectives[1].key", "already defined as objectives[0]"},
		{"depends on itself", func(f *File) { f.Features[2].DependsOn = []string{"saved-carts"} }, "features[2].dependsOn[0]", "itself"},
		{"depends twice", func(f *File) { f.Features[2].DependsOn = []string{"new-onboarding", "new-onboarding"} }, "features[2].dependsOn[1]", "listed twice"},
		{"depends on unknown", func(f *File) { f.Features[2].DependsOn = []string{"wishlist"} }, "features[2].dependsOn[0]", `no feature "wishlist"`},
		{"dependency cycle", func(f *File) {
			f.Features[0].DependsOn = []string{"saved-carts"}
			f.Features[1].DependsOn = []string{"new-onboarding"}
		}, "features[0].dependsOn", "dependency cycle: new-onboarding → saved-carts → one-page-checkout → new-onboarding"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := mustParse(t)
			tc.edit(f)
			err := ValidateAll(testContext(), f.Objectives, f.Features)
			e, ok := err.(*valueloop.Error)
			if !ok {
				t.Fatalf("got %v, want a field error", err)
			}
			if e.Code != valueloop.EINVALID || e.Field != tc.field || !strings.Contains(e.Message, tc.msg) {
				t.Errorf("got %s %s: %s\nwant invalid %s: …%s…", e.Code, e.Field, e.Message, tc.field, tc.msg)
			}
		})
	}
}

func TestHypothesisStatement(t *testing.T) {
	f := mustParse(t)
	want := "We believe a guided three-step onboarding for new users will result in more of them finishing it; we will know when onboarding-completed moves by +5%"
	if got := f.Features[0].Hypothesis.Statement(); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	// A decrease reads as one: it read "moves by +10% in the decrease
	// direction", a rise by its sign and a fall by its words.
	for _, tc := range []struct {
		h    Hypothesis
		want string
	}{
		{Hypothesis{Change: "x", Metric: "latency", MinimumEffect: 0.1, Direction: experiment.Decrease}, "We believe x; we will know when latency moves by -10%"},
		{Hypothesis{Change: "x", Metric: "errors", MinimumEffect: 2, Direction: experiment.Decrease, Absolute: true}, "We believe x; we will know when errors moves by -2"},
		{Hypothesis{Change: "x", Metric: "orders", MinimumEffect: 0.03}, "We believe x; we will know when orders moves by +3%"},
	} {
		if got := tc.h.Statement(); got != tc.want {
			t.Errorf("got  %q\nwant %q", got, tc.want)
		}
	}
	if got := f.Features[2].Hypothesis.Statement(); got != "We believe carts that follow the user across devices" {
		t.Errorf("without a metric: got %q", got)
	}
	// To a flag's experiment hypothesis and back.
	x := f.Features[0].Hypothesis.Experiment(nil)
	if x.PrimaryMetric != "onboarding-completed" || x.MinimumEffect != 0.05 || x.Direction != "increase" || x.Statement != want {
		t.Errorf("experiment hypothesis: got %+v", x)
	}
	if back := FromExperiment(x); back.Metric != "onboarding-completed" || back.MinimumEffect != 0.05 || back.Change != want {
		t.Errorf("back: got %+v", back)
	}
}
