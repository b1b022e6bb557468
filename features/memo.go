package features

import (
	"slices"
	"time"

	"github.com/valueloop/valueloop/value"
)

// MemoAge bounds how long a result of next is served again: its inputs are
// all versioned (the value snapshot, the flag sets, the flag facts, the
// settings) but for the time, which moves the stop list's "3.2d ago", the
// objectives' days left and when an experiment is due to stop. Within a few
// seconds none of these moves by what a page shows (days to a tenth), and
// the flag facts they come from are themselves up to a sync interval old.
const MemoAge = 5 * time.Second

// memoSize bounds the results kept: one per method and cleanup setting in
// use, and these are few.
const memoSize = 4

// memoKey is everything next's result depends on but the time.
type memoKey struct {
	version      int64
	flags        string // FlagsVersion
	facts        int    // factCache.gen
	environments string // the environments and which are production
	method       value.Method
	cleanupAfter time.Duration
}

type memoEntry struct {
	key  memoKey
	at   time.Time
	next *value.Next
}

// memoised returns the result kept for key if it is young enough.
func (s *Service) memoised(key memoKey, now time.Time) *value.Next {
	for _, e := range s.memo {
		if e.key == key && !now.Before(e.at) && now.Sub(e.at) < MemoAge {
			return e.next
		}
	}
	return nil
}

// keep keeps n for key, the oldest result out when full.
func (s *Service) keep(key memoKey, at time.Time, n *value.Next) {
	s.memo = slices.DeleteFunc(s.memo, func(e memoEntry) bool { return e.key == key })
	if len(s.memo) >= memoSize {
		s.memo = s.memo[1:]
	}
	s.memo = append(s.memo, memoEntry{key, at, n})
}

// own is a copy of a kept result its caller may change (Next.Only deletes
// from its lists in place): the lists are copied, what they point to is
// shared and never changed.
func own(n *value.Next) *value.Next {
	c := *n
	c.Ranked, c.Unranked, c.Bets, c.Stop = slices.Clone(n.Ranked), slices.Clone(n.Unranked), slices.Clone(n.Bets), slices.Clone(n.Stop)
	return &c
}
