package auth

import "context"

// Throttle is how a server that throttles failed authentications per
// client address (package httpapi) lets the handlers of other protocols
// mounted on it (package flagdapi) take part: they ask whether the
// caller's address is blocked before looking at its token and report a
// failure after. The zero Throttle blocks nothing and counts nothing.
type Throttle struct {
	blocked func() bool
	fail    func()
}

// NewThrottle returns a Throttle for one caller.
func NewThrottle(blocked func() bool, fail func()) Throttle {
	return Throttle{blocked: blocked, fail: fail}
}

// Blocked reports whether the caller has used up its failures.
func (t Throttle) Blocked() bool { return t.blocked != nil && t.blocked() }

// Fail counts a failed authentication of the caller.
func (t Throttle) Fail() {
	if t.fail != nil {
		t.fail()
	}
}

type throttleKey struct{}

// WithThrottle returns ctx carrying t.
func WithThrottle(ctx context.Context, t Throttle) context.Context {
	return context.WithValue(ctx, throttleKey{}, t)
}

// ThrottleOf returns the Throttle in ctx, or the zero Throttle.
func ThrottleOf(ctx context.Context) Throttle {
	t, _ := ctx.Value(throttleKey{}).(Throttle)
	return t
}
