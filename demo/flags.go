package demo

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/flagd"
)

// flagMade is how many days before the demo is loaded each demo flag was
// made: after its feature was written down (created) and before its first
// user was served it (sightings, the experiment's and the rollout's
// traffic), so that the audit trail tells the story in its order.
var flagMade = map[string]float64{
	"kill-switch-payments": 90, "search-results-per-page": 50, "checkout-flow": 35,
	ExperimentFlag: 26, "theme": 20, "banner": 15,
}

// hypothesisStated is how many days before the demo is loaded the demo
// experiment's hypothesis was stated: the day after its flag was made,
// before the experiment's first exposure.
const hypothesisStated = 25

// FlagApplier makes an environment's flag set, dated (flags.Service).
type FlagApplier interface {
	ApplyAt(ctx context.Context, env string, set *valueloop.FlagSet, actor, reason string, at time.Time) (valueloop.FlagSetChange, error)
}

// LoadFlags makes the flags of d's file in d's environment, which has
// none: one at a time, on the day each was made (flagMade, before the
// traffic the demo loads for it), and a flag the table does not date now.
func LoadFlags(ctx context.Context, a FlagApplier, d Environment, now time.Time) error {
	set, err := flagd.Parse(d.File, d.Data)
	if err != nil {
		return err
	}
	// The oldest first; a flag the table does not date (0 days) last.
	keys := slices.Sorted(maps.Keys(set.Flags))
	slices.SortStableFunc(keys, func(a, b string) int { return cmp.Compare(flagMade[b], flagMade[a]) })
	so := &valueloop.FlagSet{Flags: map[string]*valueloop.Flag{}, Evaluators: set.Evaluators, Metadata: set.Metadata}
	for _, k := range keys {
		so.Flags[k] = set.Flags[k]
		var at time.Time // now
		if days, ok := flagMade[k]; ok {
			at = now.Add(-time.Duration(days * 24 * float64(time.Hour)))
		}
		if _, err := a.ApplyAt(ctx, d.Key, so, "demo", "demo data set", at); err != nil {
			return fmt.Errorf("flag %s: %w", k, err)
		}
	}
	return nil
}
