package evaluation

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"time"

	"github.com/valueloop/valueloop"
)

// Reason says why an evaluation produced its value, with OpenFeature's names.
type Reason string

const (
	// ReasonStatic: the flag has no targeting; its default variant is served.
	ReasonStatic Reason = "STATIC"
	// ReasonTargetingMatch: the targeting rule named a variant.
	ReasonTargetingMatch Reason = "TARGETING_MATCH"
	// ReasonSplit: the variant came out of a `fractional` split. flagd reports
	// TARGETING_MATCH here; OpenFeature defines SPLIT for exactly this case,
	// so Valueloop says SPLIT (OFREP clients show both as a match).
	ReasonSplit Reason = "SPLIT"
	// ReasonDefault: the rule returned null (or the flag has targeting but no
	// default variant); the default variant is served, or no value when the
	// flag's defaultVariant is null.
	ReasonDefault Reason = "DEFAULT"
	// ReasonDisabled: the flag is DISABLED; there is no value and callers use
	// their code default, as OFREP specifies.
	ReasonDisabled Reason = "DISABLED"
	// ReasonError: see ErrorCode.
	ReasonError Reason = "ERROR"
)

// ErrorCode qualifies ReasonError, with OpenFeature's names.
type ErrorCode string

const (
	FlagNotFound ErrorCode = "FLAG_NOT_FOUND"
	// ParseError: the targeting rule failed while evaluating (flagd reports
	// PARSE_ERROR whenever its JsonLogic library fails).
	ParseError   ErrorCode = "PARSE_ERROR"
	TypeMismatch ErrorCode = "TYPE_MISMATCH"
	// TargetingKeyMissing is never produced by Evaluate: as in flagd, a
	// fractional split without a targetingKey returns null, so the default
	// variant is served. Callers that require a key may use it.
	TargetingKeyMissing ErrorCode = "TARGETING_KEY_MISSING"
	// InvalidContext: a context value the rule read cannot be represented
	// as JSON (a channel, a function, ...).
	InvalidContext ErrorCode = "INVALID_CONTEXT"
	// General: the rule returned something that names no variant.
	General ErrorCode = "GENERAL"
)

// Result is the outcome of evaluating one flag.
type Result struct {
	FlagKey string
	// Value is the variant's value (bool, string, float64 or
	// map[string]any), or nil when there is none (a null defaultVariant,
	// a disabled flag, an error): the caller uses its own default then.
	// Object values are shared by every evaluation: READ-ONLY.
	Value        any
	Variant      string
	Reason       Reason
	ErrorCode    ErrorCode
	ErrorMessage string
	// Metadata is the flag set's metadata overlaid with the flag's own,
	// computed once per snapshot and shared: READ-ONLY. Nil when empty.
	Metadata map[string]any
}

// Options tune Compile.
type Options struct {
	// Now is the clock behind $flagd.timestamp (Unix seconds), read once per
	// evaluation of a flag whose rule may use it. Nil means time.Now. Tests
	// set it to a fixed time.
	Now func() time.Time
	// Lenient accepts targeting that flagd accepts at load time although it
	// can only fail or fall back when evaluated: unknown operators and $refs
	// to missing evaluators (they evaluate to PARSE_ERROR, as in flagd),
	// wrong argument counts, literal sem_ver operators or versions that are
	// invalid, results that name no variant. Without it (the default) each of
	// these is a validation problem, so that mistakes show when a flag is
	// saved rather than when it is served. The structure of flags (state,
	// variants, defaultVariant) is checked either way.
	Lenient bool
}

// Snapshot is a compiled, immutable flag set. It is safe for concurrent use;
// replace it as a whole (atomic.Pointer) when the set changes.
type Snapshot struct {
	set      *valueloop.FlagSet
	flags    map[string]*flag
	keys     []string
	etag     string
	clock    bool // some flag's rule may read $flagd.timestamp
	setMeta  map[string]any
	now      func() time.Time
	notFound Result
}

// flag is one compiled flag.
type flag struct {
	key      string
	rule     node   // nil: the result is fixed
	fixed    Result // the result when rule is nil
	needsNow bool
	variants map[string]*variant
	vlist    []*variant // by name; value.vi indexes it
	def      *variant   // nil when defaultVariant is null
	meta     map[string]any
}

type variant struct {
	name  string
	value any
}

// Compile validates set and compiles every targeting rule into closures.
// The snapshot keeps set (see Set): callers must not modify it afterwards.
// A failure is a *valueloop.ValidationError listing every problem.
func Compile(set *valueloop.FlagSet) (*Snapshot, error) {
	return CompileWith(set, Options{})
}

// CompileWith is Compile with options.
func CompileWith(set *valueloop.FlagSet, opts Options) (*Snapshot, error) {
	if set == nil {
		return nil, &valueloop.ValidationError{Problems: []valueloop.Problem{{Path: "", Message: "no flag set"}}}
	}
	var problems []valueloop.Problem
	evals, evalProblems := compileEvaluators(set.Evaluators, !opts.Lenient)
	problems = append(problems, evalProblems...)
	problems = append(problems, checkMetadata("", "/metadata", set.Metadata, true)...)

	s := &Snapshot{
		set:     set,
		flags:   make(map[string]*flag, len(set.Flags)),
		setMeta: nonEmpty(set.Metadata),
		now:     opts.Now,
	}
	if s.now == nil {
		s.now = time.Now
	}
	for key := range set.Flags {
		s.keys = append(s.keys, key)
	}
	sort.Strings(s.keys)
	for _, key := range s.keys {
		f, ps := compileFlag(key, set.Flags[key], set.Metadata, evals, !opts.Lenient)
		problems = append(problems, ps...)
		if f != nil {
			s.flags[key] = f
			s.clock = s.clock || (f.rule != nil && f.needsNow)
		}
	}
	if len(problems) > 0 {
		return nil, &valueloop.ValidationError{Problems: problems}
	}
	s.notFound = Result{Reason: ReasonError, ErrorCode: FlagNotFound, Metadata: s.setMeta}
	s.etag = etag(set)
	return s, nil
}

// CheckFlag validates one flag as Compile would inside a set with the given
// evaluators and set metadata. With evaluators nil, $refs are accepted
// unchecked (the flag is checked again when its set is compiled). It returns
// the problems found, with paths under /flags/<key>; problems inside the
// evaluators themselves are the set's, reported when it is compiled.
func CheckFlag(key string, f *valueloop.Flag, evaluators map[string]json.RawMessage) []valueloop.Problem {
	var evals *evaluatorSet
	if evaluators != nil {
		evals, _ = compileEvaluators(evaluators, true)
	}
	_, problems := compileFlag(key, f, nil, evals, true)
	return problems
}

// Set returns the flag set the snapshot was compiled from.
func (s *Snapshot) Set() *valueloop.FlagSet { return s.set }

// Keys returns the flag keys in ascending order. The slice is shared: do not
// modify it.
func (s *Snapshot) Keys() []string { return s.keys }

// ETag returns a strong HTTP entity tag (quoted) that is equal for flag sets
// with equal content, whatever their key order or whitespace.
func (s *Snapshot) ETag() string { return s.etag }

// ReadsClock reports whether some flag's targeting may read
// $flagd.timestamp, so that the same context can get different answers as
// time passes: ETag then covers the set but not the answers.
func (s *Snapshot) ReadsClock() bool { return s.clock }

// Evaluate evaluates one flag for an OpenFeature evaluation context (the
// decoded JSON object OFREP sends; the targeting key is its "targetingKey").
// It never panics, blocks or allocates for static flags; ctx is only read.
func (s *Snapshot) Evaluate(flagKey string, ctx map[string]any) Result {
	f := s.flags[flagKey]
	if f == nil {
		r := s.notFound
		r.FlagKey = flagKey
		r.ErrorMessage = "flag not found"
		return r
	}
	if f.rule == nil {
		return f.fixed
	}
	return s.evalRule(f, ctx)
}

// EvaluateAll appends the results of every flag, in key order, to dst.
func (s *Snapshot) EvaluateAll(ctx map[string]any, dst []Result) []Result {
	for _, key := range s.keys {
		f := s.flags[key]
		if f.rule == nil {
			dst = append(dst, f.fixed)
		} else {
			dst = append(dst, s.evalRule(f, ctx))
		}
	}
	return dst
}

func (s *Snapshot) evalRule(f *flag, ctx map[string]any) (r Result) {
	defer func() {
		// Last resort: a bug in an operation must not take the server down.
		if p := recover(); p != nil {
			r = f.errorResult(General, fmt.Sprintf("internal error evaluating targeting: %v", p))
		}
	}()
	e := env{ctx: ctx}
	if f.needsNow {
		e.now = s.now().Unix()
	}
	v := f.rule(e)
	if v.vi != 0 {
		vr := f.vlist[v.vi-1]
		reason := ReasonTargetingMatch
		if v.split {
			reason = ReasonSplit
		}
		return Result{FlagKey: f.key, Value: vr.value, Variant: vr.name, Reason: reason, Metadata: f.meta}
	}
	return f.result(v)
}

// result maps the rule's value to a Result the way flagd does: null means
// the default variant, a string (or a boolean or number, by its JSON text)
// names a variant, anything else is an error.
func (f *flag) result(v value) Result {
	if v.vi != 0 {
		vr := f.vlist[v.vi-1]
		reason := ReasonTargetingMatch
		if v.split {
			reason = ReasonSplit
		}
		return Result{FlagKey: f.key, Value: vr.value, Variant: vr.name, Reason: reason, Metadata: f.meta}
	}
	switch v.k {
	case kNull:
		if f.def == nil {
			return Result{FlagKey: f.key, Reason: ReasonDefault, Metadata: f.meta}
		}
		return Result{FlagKey: f.key, Value: f.def.value, Variant: f.def.name, Reason: ReasonDefault, Metadata: f.meta}
	case kErr:
		code := ParseError
		if v.ctx {
			code = InvalidContext
		}
		return f.errorResult(code, v.s)
	case kNum:
		if math.IsNaN(v.n) || math.IsInf(v.n, 0) {
			return f.errorResult(ParseError, "targeting returned "+strconv.FormatFloat(v.n, 'g', -1, 64)+", which JSON cannot represent")
		}
	}
	name, ok := v.variantName()
	if !ok {
		return f.errorResult(General, "targeting returned an "+v.k.String()+", not a variant name")
	}
	vr := f.variants[name]
	if vr == nil {
		return f.errorResult(General, fmt.Sprintf("targeting returned %q, which is not a variant of the flag", name))
	}
	reason := ReasonTargetingMatch
	if v.split {
		reason = ReasonSplit
	}
	return Result{FlagKey: f.key, Value: vr.value, Variant: vr.name, Reason: reason, Metadata: f.meta}
}

func (f *flag) errorResult(code ErrorCode, msg string) Result {
	return Result{FlagKey: f.key, Reason: ReasonError, ErrorCode: code, ErrorMessage: msg, Metadata: f.meta}
}

// etag hashes a canonical JSON form of the set: encoding/json sorts map
// keys, and targeting is decoded and re-encoded to drop formatting.
func etag(set *valueloop.FlagSet) string {
	type canonFlag struct {
		State          string         `json:"state"`
		Variants       map[string]any `json:"variants"`
		DefaultVariant *string        `json:"defaultVariant"`
		Targeting      *any           `json:"targeting,omitempty"` // nil: none; *nil: null, which answers DEFAULT
		Metadata       map[string]any `json:"metadata"`
	}
	canon := struct {
		Flags      map[string]canonFlag `json:"flags"`
		Evaluators map[string]any       `json:"$evaluators"`
		Metadata   map[string]any       `json:"metadata"`
	}{Flags: map[string]canonFlag{}, Evaluators: map[string]any{}, Metadata: set.Metadata}
	for k, f := range set.Flags {
		cf := canonFlag{State: f.State, Variants: f.Variants, DefaultVariant: f.DefaultVariant, Metadata: f.Metadata}
		if len(f.Targeting) > 0 {
			cf.Targeting = new(any)
			_ = json.Unmarshal(f.Targeting, cf.Targeting)
		}
		canon.Flags[k] = cf
	}
	for k, raw := range set.Evaluators {
		var v any
		_ = json.Unmarshal(raw, &v)
		canon.Evaluators[k] = v
	}
	b, err := json.Marshal(canon)
	if err != nil {
		// Compile has validated every value; keep going with what we have.
		b = []byte(err.Error())
	}
	sum := sha256.Sum256(b)
	return `"` + hex.EncodeToString(sum[:16]) + `"`
}

func nonEmpty(m map[string]any) map[string]any {
	if len(m) == 0 {
		return nil
	}
	return m
}
