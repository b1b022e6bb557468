package flags

import (
	"sync"
	"sync/atomic"
)

// Encoded holds one encoding of each environment's current flag set, made
// once per change and shared by every stream of the environment (SSE
// events, flagd sync messages): streams hold no copy of the set, whatever
// their number. The zero value is ready to use.
//
// Each environment encodes under its own lock: the streams of one wait for
// its encoding, made once, while those of the others carry on. Only the
// newest version's encoding is kept; environments are never deleted, so
// the entries are bounded by their number.
type Encoded[T any] struct {
	mu    sync.Mutex // guards byEnv, never held while encoding
	byEnv map[string]*encodedSet[T]
	made  atomic.Uint64
}

type encodedSet[T any] struct {
	mu   sync.Mutex // held while encoding, so that one version is encoded once
	live *Live
	v    T
}

// Get returns the encoding of live, made by encode unless the one held for
// live's environment is of live already. A live older than the one held
// (a stream that read it before a change) is encoded for that caller
// alone: the newer encoding stays.
func (e *Encoded[T]) Get(live *Live, encode func(*Live) (T, error)) (T, error) {
	env := live.Environment.Key
	e.mu.Lock()
	x := e.byEnv[env]
	if x == nil {
		if e.byEnv == nil {
			e.byEnv = map[string]*encodedSet[T]{}
		}
		x = &encodedSet[T]{}
		e.byEnv[env] = x
	}
	e.mu.Unlock()

	x.mu.Lock()
	defer x.mu.Unlock()
	if x.live == live {
		return x.v, nil
	}
	v, err := encode(live)
	if err != nil {
		return v, err
	}
	e.made.Add(1)
	if x.live == nil || x.live.Version <= live.Version {
		x.live, x.v = live, v
	}
	return v, nil
}

// Made is the number of encodings made (tests).
func (e *Encoded[T]) Made() uint64 { return e.made.Load() }
