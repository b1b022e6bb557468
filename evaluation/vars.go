package evaluation

import (
	"strconv"
	"strings"
)

// Data lookup (var, missing, missing_some) as diegoholiveira/jsonlogic's
// getVar does it, over the context flagd builds: the caller's context plus
// "$flagd": {"flagKey": ..., "timestamp": ...}.
//
// Inside filter, some and none the library first substitutes every var of
// the inner rule with its value in the enclosing data ("solveVars"), and only
// vars it cannot find there are read from the array element; all and some
// also substitute from the element before applying the rule. compileVar
// reproduces that lookup order (see varLevels).

// varMode is what a var operand asks for.
type varMode uint8

const (
	vmPath  varMode = iota
	vmNil           // {"var": null}: the data itself when it is a primitive
	vmWhole         // {"var": ""} or {"var": []}: the whole data
)

// varSpec is an evaluated var operand.
type varSpec struct {
	mode varMode
	path string
	dflt value
}

// varSpecOf reads an evaluated var operand: a path string or number, null,
// or [path, default].
func varSpecOf(v value) (varSpec, value) {
	switch v.k {
	case kNull:
		return varSpec{mode: vmNil}, null
	case kStr:
		if v.s == "" {
			return varSpec{mode: vmWhole}, null
		}
		return varSpec{path: v.s}, null
	case kNum:
		s, _ := typString(v)
		return varSpec{path: s}, null
	case kArr:
		a := v.arr()
		if len(a) == 0 {
			return varSpec{mode: vmWhole}, null
		}
		var sp varSpec
		if len(a) == 2 {
			sp.dflt = fromAny(a[1])
		}
		p, ok := a[0].(string)
		if !ok {
			return sp, errV("var: the path must be a string")
		}
		sp.path = p
		return sp, null
	}
	return varSpec{}, errV("var: the path must be a string, a number or an array")
}

// flagdKey is the context key flagd reserves for its own properties.
const flagdKey = "$flagd"

// lookup is getVar on the data of scope sc (nil: the top-level context).
func lookup(e env, sc *scope, flagKey string, sp varSpec) value {
	switch sp.mode {
	case vmNil:
		// The data itself when it is a primitive: never the top-level or
		// reduce data, which are objects.
		if sc != nil && !sc.reduce {
			if v := fromAny(sc.data); v.k == kNum || v.k == kBool || v.k == kStr {
				return v
			}
		}
		return null
	case vmWhole:
		return wholeData(e, sc, flagKey)
	}
	if sc != nil && !sc.reduce && sc.data == nil {
		return sp.dflt
	}
	path := sp.path
	var cur any
	first := true
	for path != "" {
		seg := path
		if i := strings.IndexByte(path, '.'); i >= 0 {
			seg, path = path[:i], path[i+1:]
		} else {
			path = ""
		}
		if seg == "" {
			continue
		}
		if first {
			first = false
			switch {
			case sc == nil:
				if seg == flagdKey {
					cur = flagdMarker{}
				} else {
					cur = e.ctx[seg]
				}
			case sc.reduce:
				switch seg {
				case "current":
					cur = sc.data
				case "accumulator":
					cur = toAny(sc.acc)
				case "valueType":
					cur = sc.vtype
				default:
					cur = nil
				}
			default:
				var ok bool
				if cur, ok = step(sc.data, seg); !ok {
					return sp.dflt
				}
			}
		} else {
			var ok bool
			if m, isMarker := cur.(flagdMarker); isMarker {
				cur, ok = m.step(e, flagKey, seg)
			} else {
				cur, ok = step(cur, seg)
			}
			if !ok {
				return sp.dflt
			}
		}
		if cur == nil {
			return sp.dflt
		}
	}
	if first {
		// Only dots: the path names the data itself.
		return wholeData(e, sc, flagKey)
	}
	if m, ok := cur.(flagdMarker); ok {
		return objV(m.object(e, flagKey))
	}
	return fromAny(cur)
}

// flagdMarker stands for the "$flagd" object until a path step shows which
// property is wanted, so that reading $flagd.flagKey builds no map.
type flagdMarker struct{}

func (flagdMarker) step(e env, flagKey, seg string) (any, bool) {
	switch seg {
	case "flagKey":
		return flagKey, true
	case "timestamp":
		return float64(e.now), true
	}
	return nil, true
}

func (flagdMarker) object(e env, flagKey string) map[string]any {
	return map[string]any{"flagKey": flagKey, "timestamp": float64(e.now)}
}

// step reads one path segment of a map or an array.
func step(x any, seg string) (any, bool) {
	switch t := x.(type) {
	case map[string]any:
		return t[seg], true
	case []any:
		n, _ := strconv.ParseFloat(seg, 64)
		pos := goInt(n)
		if pos < 0 || pos >= len(t) {
			return nil, false
		}
		return t[pos], true
	case nil, string, float64, bool, int, int64, int32, float32, uint, uint64, uint32:
		return nil, false
	}
	// A map or slice of another Go type: read it as its JSON would be.
	n, err := normalize(x)
	if err != nil {
		return nil, false
	}
	switch n.(type) {
	case map[string]any, []any:
		return step(n, seg)
	}
	return nil, false
}

// wholeData is the data of a scope as one value.
func wholeData(e env, sc *scope, flagKey string) value {
	switch {
	case sc == nil:
		m := make(map[string]any, len(e.ctx)+1)
		for k, v := range e.ctx {
			m[k] = v
		}
		m[flagdKey] = flagdMarker{}.object(e, flagKey)
		return objV(m)
	case sc.reduce:
		return objV(map[string]any{"current": sc.data, "accumulator": toAny(sc.acc), "valueType": sc.vtype})
	}
	return fromAny(sc.data)
}

// varLevels lists the scope levels at which a var in the current scope is
// looked up before its own level, in order (see the file comment).
func (c *compiler) varLevels() []int {
	var levels []int
	here := len(c.scopes)
	add := func(l int) {
		if l == here || (len(levels) > 0 && levels[len(levels)-1] == l) {
			return
		}
		levels = append(levels, l)
	}
	for i, k := range c.scopes {
		switch k {
		case scFilter, scNone:
			add(i)
		case scSome:
			add(i)
			add(i + 1)
		case scAll:
			add(i + 1)
		}
	}
	return levels
}

// varNode is a compiled var: solve tries the levels before the current
// one, final reads the current level.
type varNode struct {
	path    expr
	spec    varSpec // when path is constant
	specErr value
	flagKey string
	level   int
	levels  []int
}

func (v *varNode) specOf(e env) (varSpec, value) {
	if v.path.konst {
		return v.spec, v.specErr
	}
	p := v.path.fn(e)
	if p.k == kErr {
		return varSpec{}, p
	}
	return varSpecOf(p)
}

// solve returns the value found at an enclosing level, or null.
func (v *varNode) solve(e env, sp varSpec) value {
	for _, l := range v.levels {
		if r := lookup(e, e.sc.at(l), v.flagKey, sp); r.k != kNull {
			return r
		}
	}
	return null
}

func (v *varNode) eval(e env) value {
	sp, err := v.specOf(e)
	if err.k == kErr {
		return err
	}
	if len(v.levels) > 0 {
		if r := v.solve(e, sp); r.k != kNull {
			return r
		}
	}
	return lookup(e, e.sc, v.flagKey, sp)
}

func compileVarOp(c *compiler, args any, path string, res bool) expr {
	return c.compileVar(args, path).expr()
}

func (c *compiler) compileVar(args any, path string) *varNode {
	v := &varNode{flagKey: c.flagKey, level: len(c.scopes)}
	// The library skips substitution for "" and ".x" paths.
	if s, ok := args.(string); !ok || (s != "" && !strings.HasPrefix(s, ".")) {
		v.levels = c.varLevels()
	}
	if list, ok := args.([]any); ok && c.strict && (len(list) == 0 || len(list) > 2) {
		c.fail(path, "var takes a path and an optional default value, not %d arguments", len(list))
	}
	v.path = c.compile(args, path, false)
	touchesTop := v.level == 0 || (len(v.levels) > 0 && v.levels[0] == 0)
	if v.path.konst {
		v.spec, v.specErr = varSpecOf(v.path.v)
		if v.specErr.k == kErr {
			c.fail(path, "%s", v.specErr.s)
		}
		if touchesTop && needsClock(v.spec) {
			c.needsNow = true
		}
	} else if touchesTop {
		c.needsNow = true
	}
	return v
}

func (v *varNode) expr() expr {
	if v.path.konst && v.specErr.k == kErr {
		return errExpr(v.specErr.s)
	}
	if v.level == 0 && v.path.konst && v.spec.mode == vmPath {
		return topVar(v.spec, v.flagKey)
	}
	return expr{fn: v.eval}
}

// topVar is the common case: a constant path read from the top-level
// context, without $flagd.
func topVar(sp varSpec, flagKey string) expr {
	segs := make([]string, 0, 4)
	for _, s := range strings.Split(sp.path, ".") {
		if s != "" {
			segs = append(segs, s)
		}
	}
	if len(segs) == 0 || segs[0] == flagdKey {
		return expr{fn: func(e env) value { return lookup(e, nil, flagKey, sp) }}
	}
	first, rest, dflt := segs[0], segs[1:], sp.dflt
	if len(rest) == 0 {
		return expr{fn: func(e env) value {
			x := e.ctx[first]
			if x == nil {
				return dflt
			}
			return fromAny(x)
		}, top: first, isTop: true, topDflt: dflt}
	}
	return expr{fn: func(e env) value {
		x := e.ctx[first]
		if x == nil {
			return dflt
		}
		for _, s := range rest {
			var ok bool
			if x, ok = step(x, s); !ok || x == nil {
				return dflt
			}
		}
		return fromAny(x)
	}}
}

// needsClock reports whether reading sp at the top level may read
// $flagd.timestamp.
func needsClock(sp varSpec) bool {
	switch sp.mode {
	case vmNil:
		return false
	case vmWhole:
		return true
	}
	var segs []string
	for _, s := range strings.Split(sp.path, ".") {
		if s != "" {
			segs = append(segs, s)
		}
	}
	if len(segs) == 0 {
		return true
	}
	return segs[0] == flagdKey && (len(segs) == 1 || segs[1] == "timestamp")
}
