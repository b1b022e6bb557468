package ui

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"slices"
	"sync"

	"github.com/valueloop/valueloop/experiment"
)

// maxKeptAnalyses bounds the results kept: one per experiment (flag with
// a hypothesis, or analysed flag) of every environment; past it the
// oldest half is dropped.
const maxKeptAnalyses = 4096

// analysisCache keeps the last result of each experiment (without a
// dimension) with a digest of its input: a page whose experiment's input
// has not changed reuses it instead of analysing again. The overview
// reads every experiment on each view and live refresh, the experiments
// list those of its page; reading the input is a few indexed rows, the
// analysis is the cost.
type analysisCache struct {
	mu   sync.Mutex
	m    map[string]keptAnalysis
	tick uint64
}

type keptAnalysis struct {
	sum  [sha256.Size]byte
	res  *experiment.Result
	used uint64
}

func newAnalysisCache() *analysisCache { return &analysisCache{m: map[string]keptAnalysis{}} }

// get returns the result kept for in's experiment when its input is the
// same; the caller must not change it.
func (c *analysisCache) get(in *experiment.Input, sum [sha256.Size]byte) *experiment.Result {
	c.mu.Lock()
	defer c.mu.Unlock()
	k, ok := c.m[in.Environment+"\x00"+in.Flag]
	if !ok || k.sum != sum {
		return nil
	}
	c.tick++
	k.used = c.tick
	c.m[in.Environment+"\x00"+in.Flag] = k
	return k.res
}

func (c *analysisCache) put(in *experiment.Input, sum [sha256.Size]byte, res *experiment.Result) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= maxKeptAnalyses {
		// Drop the half used least recently: those used before the median
		// (uses are numbered one by one, so no two are equal).
		ticks := make([]uint64, 0, len(c.m))
		for _, k := range c.m {
			ticks = append(ticks, k.used)
		}
		slices.Sort(ticks)
		median := ticks[len(ticks)/2]
		for key, k := range c.m {
			if k.used < median {
				delete(c.m, key)
			}
		}
	}
	c.tick++
	c.m[in.Environment+"\x00"+in.Flag] = keptAnalysis{sum: sum, res: res, used: c.tick}
}

// inputSum digests everything Analyze reads of an input without a
// dimension: the definition (with its version), metrics, aggregates (with
// their sums, and those of the users outside the split), splits,
// hypothesis and settings.
func inputSum(in *experiment.Input) [sha256.Size]byte {
	h := sha256.New()
	enc := json.NewEncoder(h)
	var version int64
	if in.Definition != nil {
		version = in.Definition.Version
	}
	enc.Encode([]any{in.Environment, in.Flag, version, in.Definition, in.Metrics, in.Hypothesis, in.Settings, in.Only})
	for _, s := range in.Splits {
		binary.Write(h, binary.LittleEndian, s.Start)
		enc.Encode(s)
	}
	// The days whose users' windows have closed change with the time
	// alone: a result kept from before a day closed is not this one.
	if len(in.Days) > 0 {
		enc.Encode(experiment.ClosedThrough(in.Metrics, in.Now))
	}
	// The users outside the split too: the result counts them
	// (OutsideSplit), and their cells are told apart by their dimension;
	// and the cells by day of exposure, which count the open windows.
	for _, a := range slices.Concat(in.Aggregates, in.Outside, in.Days) {
		enc.Encode(a)
		b, _ := a.Sums.MarshalBinary()
		binary.Write(h, binary.LittleEndian, int64(len(b)))
		h.Write(b)
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum
}
