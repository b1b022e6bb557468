package ui

import (
	"slices"
	"strconv"
	"testing"

	"github.com/valueloop/valueloop/experiment"
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

// TestAnalysisCacheBound: the kept results stay within maxKeptAnalyses,
// dropping those used least recently; one used again survives.
func TestAnalysisCacheBound(t *testing.T) {
	c := newAnalysisCache()
	var sum [32]byte
	res := &experiment.Result{}
	for i := range maxKeptAnalyses + 10 {
		in := &experiment.Input{Environment: "e", Flag: strconv.Itoa(i)}
		c.put(in, sum, res)
		c.get(&experiment.Input{Environment: "e", Flag: "0"}, sum) // used all along
		if len(c.m) > maxKeptAnalyses {
			t.Fatalf("%d results kept after %d put, want at most %d", len(c.m), i+1, maxKeptAnalyses)
		}
	}
	if c.get(&experiment.Input{Environment: "e", Flag: "0"}, sum) == nil {
		t.Errorf("the result used all along was dropped")
	}
	if c.get(&experiment.Input{Environment: "e", Flag: "1"}, sum) != nil {
		t.Errorf("the least recently used result was kept")
	}
	if c.get(&experiment.Input{Environment: "e", Flag: "0"}, [32]byte{1}) != nil {
		t.Errorf("a result was reused for another input")
	}
}
