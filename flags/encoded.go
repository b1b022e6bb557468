package flags

import (
	"sync"
	"sync/atomic"
)

// Encoded holds one encoding of each environment's current flag set, made
// once per change and shared by every stream of the environment (SSE
// events, flagd sync messages): streams hold no copy of the set, whatever
// their number. The zero value is ready to use.
type Encoded[T any] struct {
	mu    sync.Mutex
	byEnv map[string]encodedSet[T]
	made  atomic.Uint64
}

type encodedSet[T any] struct {
	live *Live
	v    T
}

// Get returns the encoding of live, made by encode unless the one held for
// live's environment is of live already.
func (e *Encoded[T]) Get(live *Live, encode func(*Live) (T, error)) (T, error) {
	env := live.Environment.Key
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.byEnv[env]; ok && x.live == live {
		return x.v, nil
	}
	v, err := encode(live)
	if err != nil {
		return v, err
	}
	if e.byEnv == nil {
		e.byEnv = map[string]encodedSet[T]{}
	}
	e.byEnv[env] = encodedSet[T]{live: live, v: v}
	e.made.Add(1)
	return v, nil
}

// Made is the number of encodings made (tests).
func (e *Encoded[T]) Made() uint64 { return e.made.Load() }
