package ui

import (
	"slices"
	"testing"
)

// TestSortExperimentRows: the experiments list is grouped by environment,
// then ordered by flag, even when one environment's name begins another's.
func TestSortExperimentRows(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []experimentRow
		want []string
	}{
		{"prefix environments", []experimentRow{{Env: "usa", Flag: "x"}, {Env: "us", Flag: "beta"}, {Env: "us", Flag: "alpha"}},
			[]string{"us/alpha", "us/beta", "usa/x"}},
		{"flag ties broken by environment first", []experimentRow{{Env: "b", Flag: "a"}, {Env: "a", Flag: "b"}},
			[]string{"a/b", "b/a"}},
		{"one environment", []experimentRow{{Env: "prod", Flag: "z"}, {Env: "prod", Flag: "a"}},
			[]string{"prod/a", "prod/z"}},
	} {
		rows := slices.Clone(tc.in)
		sortExperimentRows(rows)
		var got []string
		for _, r := range rows {
			got = append(got, r.Env+"/"+r.Flag)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}
