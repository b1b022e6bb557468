package dora

import "time"

// The loop's own figures, for a flag linked to changes. They span the whole
// loop (code → customers → learning), where the DORA keys stop at production;
// callers take the rollout and verdict times from the rollout and experiment
// records.

// FirstCommit returns the earliest AuthoredAt of changes, and false when none
// has one.
func FirstCommit(changes []Change) (time.Time, bool) {
	var first time.Time
	for i := range changes {
		first = earliest(first, changes[i].AuthoredAt)
	}
	return first, !first.IsZero()
}

// LeadTimeToCustomer is the time from the first commit of a flag's changes to
// its rollout reaching 100% of users. It is false until both are known. Clock
// skew between the sources cannot make it negative: it is at least 0.
func LeadTimeToCustomer(changes []Change, fullRolloutAt time.Time) (time.Duration, bool) {
	first, ok := FirstCommit(changes)
	if !ok {
		return 0, false
	}
	return span(first, fullRolloutAt)
}

// TimeToValidatedLearning is the time from the start of a flag's rollout to
// the verdict on its hypothesis (validated or invalidated). It is false until
// both are known, and at least 0.
func TimeToValidatedLearning(rolloutStart, verdictAt time.Time) (time.Duration, bool) {
	return span(rolloutStart, verdictAt)
}

func span(from, to time.Time) (time.Duration, bool) {
	if from.IsZero() || to.IsZero() {
		return 0, false
	}
	return max(to.Sub(from), 0), true
}
