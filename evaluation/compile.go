package evaluation

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/valueloop/valueloop"
)

// node is a compiled JsonLogic expression.
type node func(e env) value

// env is what a node reads while evaluating: the context and the clock
// reading, and the data of map/filter/all/none/some/reduce scopes. It is
// passed by value so that evaluating a flag allocates nothing.
type env struct {
	ctx map[string]any
	now int64
	sc  *scope // nil at the top level
}

// scope is the data of an array operation's current element.
type scope struct {
	parent *scope
	level  int
	data   any // the element; for reduce, "current"
	reduce bool
	acc    value  // reduce: "accumulator"
	vtype  string // reduce: "valueType"
}

func (s *scope) at(level int) *scope {
	for s != nil && s.level > level {
		s = s.parent
	}
	return s
}

// expr is a compiled expression, with its value when it is a constant.
type expr struct {
	fn    node
	test  test // optional: truthiness without building a value
	konst bool
	v     value
	// top is set for a var that reads one top-level context key: fast
	// paths read e.ctx[top] themselves instead of calling fn.
	top     string
	isTop   bool
	topDflt value
}

// test is the truthiness of an expression; err reports that it failed (the
// error value is then the expression's node's value).
type test func(e env) (ok, err bool)

// truth returns x's test, deriving one from its node when it has none.
func (x expr) truth() test {
	if x.test != nil {
		return x.test
	}
	if x.konst {
		t, err := truthy(x.v), x.v.k == kErr
		return func(env) (bool, bool) { return t, err }
	}
	fn := x.fn
	return func(e env) (bool, bool) {
		v := fn(e)
		return truthy(v), v.k == kErr
	}
}

// load reads a top-level var expression (isTop) from the context.
func (x *expr) load(e env) value {
	v := e.ctx[x.top]
	if v == nil {
		return x.topDflt
	}
	return fromAny(v)
}

func konst(v value) expr {
	return expr{fn: func(env) value { return v }, konst: true, v: v}
}

// errExpr fails when evaluated, as the library panics only when it gets there.
func errExpr(msg string) expr {
	v := errV(msg)
	return expr{fn: func(env) value { return v }}
}

// scopeKind is the operation that opened a scope; it decides where vars
// inside it are looked up first (see compileVar).
type scopeKind uint8

const (
	scMap scopeKind = iota
	scFilter
	scAll
	scNone
	scSome
	scReduce
)

// evaluatorSet holds the decoded $evaluators.
type evaluatorSet struct {
	bodies map[string]any
}

// compiler turns one targeting rule into nodes and collects its problems.
type compiler struct {
	flagKey  string
	inFlag   bool              // compiling a flag's targeting (variants known)
	variants map[string]uint32 // variant names (index+1), for result checks
	evals    *evaluatorSet     // nil: $refs are not checked
	refs     []string          // $refs being expanded, for cycles
	strict   bool
	report   bool // report problems (false inside a $ref body: reported at the evaluator)
	scopes   []scopeKind
	needsNow bool
	problems []valueloop.Problem
	// expanded caches $ref bodies by evaluator, scopes and position, so
	// that evaluators that refer to each other several times compile in
	// linear time; nodes counts compiled nodes against maxNodes.
	expanded map[string]refEntry
	nodes    int
	tooBig   bool
}

type refEntry struct {
	e        expr
	needsNow bool
}

// maxNodes bounds the size of one compiled rule, $refs expanded.
const maxNodes = 200000

func (c *compiler) fail(path, format string, args ...any) {
	if !c.strict || !c.report {
		return
	}
	c.problems = append(c.problems, valueloop.Problem{Flag: c.flagKey, Path: path, Message: fmt.Sprintf(format, args...)})
}

// esc escapes a JSON pointer token.
func esc(s string) string {
	if strings.ContainsAny(s, "~/") {
		s = strings.ReplaceAll(s, "~", "~0")
		s = strings.ReplaceAll(s, "/", "~1")
	}
	return s
}

// compile compiles one JsonLogic value the way the library's parseValues
// evaluates it: single-key objects are operations, other objects are data,
// arrays are evaluated element by element, everything else is itself. res
// marks a position whose value becomes the flag's variant name.
func (c *compiler) compile(raw any, path string, res bool) expr {
	if c.nodes++; c.nodes > maxNodes {
		if !c.tooBig {
			c.tooBig = true
			c.problems = append(c.problems, valueloop.Problem{Flag: c.flagKey, Path: path,
				Message: fmt.Sprintf("the rule has more than %d operations with its $refs expanded", maxNodes)})
		}
		return errExpr("rule too large")
	}
	switch t := raw.(type) {
	case map[string]any:
		if len(t) == 1 {
			for op, args := range t {
				e := c.op(op, args, path+"/"+esc(op), res)
				if res && e.konst && e.v.k != kErr && op != "$ref" {
					// A rule that folded to a constant names one variant.
					e.v.vi = c.checkResult(path, e.v)
					e = konst(e.v)
				}
				return e
			}
		}
		if res {
			c.checkResult(path, objV(t))
		}
		return konst(objV(t))
	case []any:
		return c.array(t, path, res)
	}
	v := fromAny(raw)
	if res {
		v.vi = c.checkResult(path, v)
	}
	return konst(v)
}

// checkResult reports a constant in result position that names no variant
// and returns the index+1 of the variant it names (0: none).
func (c *compiler) checkResult(path string, v value) uint32 {
	if !c.inFlag || c.variants == nil {
		return 0
	}
	if v.k == kNull {
		return 0
	}
	name, ok := v.variantName()
	if !ok {
		if c.strict {
			c.problems = append(c.problems, valueloop.Problem{Flag: c.flagKey, Path: path,
				Message: fmt.Sprintf("targeting returns an %s here, which cannot name a variant", v.k)})
		}
		return 0
	}
	vi := c.variants[name]
	if vi == 0 && c.strict {
		c.problems = append(c.problems, valueloop.Problem{Flag: c.flagKey, Path: path,
			Message: fmt.Sprintf("targeting returns %q here, which is not a variant (variants: %s)", name, c.variantList())})
	}
	return vi
}

func (c *compiler) variantList() string {
	names := slices.Sorted(maps.Keys(c.variants))
	return strings.Join(names, ", ")
}

// array compiles an array whose elements the library evaluates.
func (c *compiler) array(list []any, path string, res bool) expr {
	if res {
		c.checkResult(path, emptyArr)
	}
	items := make([]expr, len(list))
	allConst := true
	for i, el := range list {
		items[i] = c.compile(el, fmt.Sprintf("%s/%d", path, i), false)
		allConst = allConst && items[i].konst
	}
	if allConst {
		out := make([]any, len(items))
		for i, it := range items {
			if it.v.k == kErr {
				return it
			}
			out[i] = toAny(it.v)
		}
		return konst(arrV(out))
	}
	return expr{fn: func(e env) value {
		out := make([]any, len(items))
		for i := range items {
			v := items[i].fn(e)
			if v.k == kErr {
				return v
			}
			out[i] = toAny(v)
		}
		return arrV(out)
	}}
}

// list compiles the elements of an argument array.
func (c *compiler) list(list []any, path string) ([]expr, bool) {
	items := make([]expr, len(list))
	allConst := true
	for i, el := range list {
		items[i] = c.compile(el, fmt.Sprintf("%s/%d", path, i), false)
		allConst = allConst && items[i].konst
	}
	return items, allConst
}

type opCompiler func(c *compiler, args any, path string, res bool) expr

var operators map[string]opCompiler

func init() {
	operators = map[string]opCompiler{
		"var":           compileVarOp,
		"if":            compileIf,
		"?:":            compileIf,
		"and":           compileAndOr(true),
		"or":            compileAndOr(false),
		"map":           compileScoped(scMap),
		"filter":        compileScoped(scFilter),
		"all":           compileScoped(scAll),
		"none":          compileScoped(scNone),
		"some":          compileScoped(scSome),
		"reduce":        compileScoped(scReduce),
		"fractional":    compileFractional,
		"==":            generic(opEq),
		"!=":            generic(opNe),
		"===":           generic(opStrictEq),
		"!==":           generic(opStrictNe),
		"<":             generic(opLt),
		"<=":            generic(opLe),
		">":             generic(opGt),
		">=":            generic(opGe),
		"!":             generic(opNot),
		"!!":            generic(opNotNot),
		"max":           generic(opMax),
		"min":           generic(opMin),
		"+":             generic(opAdd),
		"-":             generic(opSub),
		"*":             generic(opMul),
		"/":             generic(opDiv),
		"%":             generic(opMod),
		"abs":           generic(opAbs),
		"merge":         generic(opMerge),
		"cat":           generic(opCat),
		"substr":        generic(opSubstr),
		"in":            generic(opIn),
		"missing":       generic(opMissing),
		"missing_some":  generic(opMissingSome),
		"contains_all":  generic(opContainsAll),
		"contains_any":  generic(opContainsAny),
		"contains_none": generic(opContainsNone),
		"starts_with":   generic(opStartsWith),
		"ends_with":     generic(opEndsWith),
		"sem_ver":       generic(opSemVer),
	}
}

// Operators returns the names of the supported JsonLogic operations.
func Operators() []string {
	names := slices.Sorted(maps.Keys(operators))
	return names
}

func (c *compiler) op(name string, args any, path string, res bool) expr {
	if name == "$ref" {
		return c.ref(args, path, res)
	}
	compile, ok := operators[name]
	if !ok {
		c.fail(path, "unknown operator %q", name)
		return errExpr(fmt.Sprintf("The operator %q is not supported", name))
	}
	return compile(c, args, path, res)
}

// ref expands {"$ref": "name"} with the evaluator's body, compiled in place
// (flagd substitutes the text before evaluating).
func (c *compiler) ref(args any, path string, res bool) expr {
	name, ok := args.(string)
	if !ok {
		c.fail(path, "$ref must name an evaluator with a string")
		return errExpr(`The operator "$ref" is not supported`)
	}
	if c.evals == nil {
		// CheckFlag without evaluators: accept, checked with the set.
		return errExpr(`The operator "$ref" is not supported`)
	}
	body, ok := c.evals.bodies[name]
	if !ok {
		c.fail(path, "no evaluator named %q in $evaluators", name)
		return errExpr(fmt.Sprintf("evaluator %q does not exist", name))
	}
	for _, r := range c.refs {
		if r == name {
			c.fail(path, "evaluator %q refers to itself through $ref", name)
			return errExpr(fmt.Sprintf("evaluator %q refers to itself", name))
		}
	}
	key := fmt.Sprintf("%s\x00%v\x00%v\x00%v", name, res, c.report, c.scopes)
	if hit, ok := c.expanded[key]; ok {
		c.needsNow = c.needsNow || hit.needsNow
		return hit.e
	}
	c.refs = append(c.refs, name)
	report, needsNow := c.report, c.needsNow
	c.report = c.report && !c.inFlag // problems inside are reported once, at the evaluator
	c.needsNow = false
	e := c.compile(body, "/$evaluators/"+esc(name), res)
	if c.expanded == nil {
		c.expanded = map[string]refEntry{}
	}
	c.expanded[key] = refEntry{e: e, needsNow: c.needsNow}
	c.report, c.needsNow = report, needsNow || c.needsNow
	c.refs = c.refs[:len(c.refs)-1]
	return e
}

// compileEvaluators decodes and checks $evaluators on their own.
func compileEvaluators(raw map[string]json.RawMessage, strict bool) (*evaluatorSet, []valueloop.Problem) {
	set := &evaluatorSet{bodies: make(map[string]any, len(raw))}
	var problems []valueloop.Problem
	names := slices.Sorted(maps.Keys(raw))
	for _, name := range names {
		path := "/$evaluators/" + esc(name)
		var body any
		if err := json.Unmarshal(raw[name], &body); err != nil {
			problems = append(problems, valueloop.Problem{Path: path, Message: "not valid JSON: " + err.Error()})
			continue
		}
		if m, ok := body.(map[string]any); ok && len(m) == 0 {
			problems = append(problems, valueloop.Problem{Path: path, Message: "evaluator is empty"})
		} else if !ok && strict {
			problems = append(problems, valueloop.Problem{Path: path, Message: "evaluator must be a JsonLogic object"})
		}
		set.bodies[name] = body
	}
	for _, name := range names {
		body, ok := set.bodies[name]
		if !ok {
			continue
		}
		c := &compiler{evals: set, strict: strict, report: true, refs: []string{name}}
		c.compile(body, "/$evaluators/"+esc(name), false)
		problems = append(problems, c.problems...)
	}
	return set, problems
}

// checkMetadata checks metadata values: strings, numbers and booleans.
func checkMetadata(flagKey, path string, m map[string]any, isSet bool) []valueloop.Problem {
	var problems []valueloop.Problem
	keys := slices.Sorted(maps.Keys(m))
	for _, k := range keys {
		v := m[k]
		switch fromAny(v).k {
		case kStr, kBool, kNum:
		default:
			problems = append(problems, valueloop.Problem{Flag: flagKey, Path: path + "/" + esc(k),
				Message: "metadata values must be strings, numbers or booleans"})
			continue
		}
		if isSet && (k == "flagSetId" || k == "version") {
			if _, ok := v.(string); !ok {
				problems = append(problems, valueloop.Problem{Path: path + "/" + esc(k), Message: k + " must be a string"})
			}
		}
	}
	return problems
}

// compileFlag validates one flag and compiles its targeting.
func compileFlag(key string, fl *valueloop.Flag, setMeta map[string]any, evals *evaluatorSet, strict bool) (*flag, []valueloop.Problem) {
	path := "/flags/" + esc(key)
	var problems []valueloop.Problem
	bad := func(p, format string, args ...any) {
		problems = append(problems, valueloop.Problem{Flag: key, Path: p, Message: fmt.Sprintf(format, args...)})
	}
	if key == "" {
		bad(path, "flag key must not be empty")
	}
	if fl == nil {
		bad(path, "flag definition is missing")
		return nil, problems
	}
	switch fl.State {
	case valueloop.StateEnabled, valueloop.StateDisabled:
	case "":
		bad(path+"/state", `state is required: "ENABLED" or "DISABLED"`)
	default:
		bad(path+"/state", `state must be "ENABLED" or "DISABLED", not %q`, fl.State)
	}

	f := &flag{key: key, variants: make(map[string]*variant, len(fl.Variants))}
	if len(fl.Variants) == 0 {
		bad(path+"/variants", "a flag needs at least one variant")
	}
	names := slices.Sorted(maps.Keys(fl.Variants))
	var first kind
	var firstName string
	for _, n := range names {
		vp := path + "/variants/" + esc(n)
		if n == "" {
			bad(vp, "variant names must not be empty")
		}
		val := fl.Variants[n]
		v := fromAny(val)
		switch v.k {
		case kBool, kStr, kNum, kObj:
			val = toAny(v) // ints from Go callers become float64, as in JSON
		default:
			bad(vp, "variant values must be booleans, strings, numbers or objects, not %s", describe(v))
			continue
		}
		if firstName == "" {
			first, firstName = v.k, n
		} else if v.k != first {
			bad(vp, "variant is a %s but variant %q is a %s: all variants of a flag must have one type", v.k, firstName, first)
		}
		vr := &variant{name: n, value: val}
		f.variants[n] = vr
		f.vlist = append(f.vlist, vr)
	}
	if fl.DefaultVariant != nil {
		if _, ok := fl.Variants[*fl.DefaultVariant]; !ok {
			bad(path+"/defaultVariant", "defaultVariant %q is not one of the variants", *fl.DefaultVariant)
		}
		f.def = f.variants[*fl.DefaultVariant]
	}
	problems = append(problems, checkMetadata(key, path+"/metadata", fl.Metadata, false)...)

	meta := make(map[string]any, len(setMeta)+len(fl.Metadata))
	for k, v := range setMeta {
		meta[k] = v
	}
	for k, v := range fl.Metadata {
		if v != nil {
			meta[k] = v
		}
	}
	f.meta = nonEmpty(meta)

	var rule any
	hasRule, nullRule := false, false
	if len(fl.Targeting) > 0 {
		if err := json.Unmarshal(fl.Targeting, &rule); err != nil {
			bad(path+"/targeting", "targeting is not valid JSON: %v", err)
		} else if rule == nil {
			// flagd runs a null targeting as a rule, which yields null: the
			// default variant is served with reason DEFAULT, not STATIC.
			nullRule = true
		} else if m, ok := rule.(map[string]any); ok {
			hasRule = len(m) > 0 // flagd treats {} as no targeting
		} else if rule != nil {
			if strict {
				bad(path+"/targeting", "targeting must be a JsonLogic object, not %s", describe(fromAny(rule)))
			}
			hasRule = true
		}
	}
	var rn node
	if hasRule {
		c := &compiler{flagKey: key, inFlag: true, evals: evals, strict: strict, report: true}
		c.variants = make(map[string]uint32, len(f.vlist))
		for i, vr := range f.vlist {
			c.variants[vr.name] = uint32(i + 1)
		}
		e := c.compile(rule, path+"/targeting", true)
		problems = append(problems, c.problems...)
		rn = e.fn
		f.needsNow = c.needsNow
	}
	if len(problems) > 0 {
		return nil, problems
	}
	switch {
	case fl.State == valueloop.StateDisabled:
		f.fixed = Result{FlagKey: key, Reason: ReasonDisabled, Metadata: f.meta}
	case hasRule:
		f.rule = rn
	case f.def == nil:
		// flagd: FALLBACK, reported as DEFAULT with no value.
		f.fixed = Result{FlagKey: key, Reason: ReasonDefault, Metadata: f.meta}
	case nullRule:
		f.fixed = Result{FlagKey: key, Value: f.def.value, Variant: f.def.name, Reason: ReasonDefault, Metadata: f.meta}
	default:
		f.fixed = Result{FlagKey: key, Value: f.def.value, Variant: f.def.name, Reason: ReasonStatic, Metadata: f.meta}
	}
	return f, nil
}

// describe names a value's type for messages.
func describe(v value) string {
	switch v.k {
	case kNull:
		return "null"
	case kArr:
		return "an array"
	case kObj:
		return "an object"
	case kErr:
		return "a " + strings.TrimPrefix(v.s, "context value cannot be encoded as JSON: ")
	}
	return "a " + v.k.String()
}
