package evaluation

import "strings"

// Operations that take their arguments unevaluated: if, and, or, and the
// array operations map, filter, all, none, some and reduce.

func compileIf(c *compiler, args any, path string, res bool) expr {
	list, ok := args.([]any)
	if !ok {
		c.fail(path, "if takes an array: [condition, then, else]")
		return errExpr("if: the arguments must be an array")
	}
	if len(list) == 0 {
		c.fail(path, "if needs at least a condition")
		return konst(null)
	}
	n := len(list)
	conds := make([]expr, 0, n/2)
	thens := make([]expr, 0, n/2)
	for i := 0; i < n-1; i += 2 {
		conds = append(conds, c.compile(list[i], pathIndex(path, i), false))
		thens = append(thens, c.compile(list[i+1], pathIndex(path, i+1), res))
	}
	var els *expr
	if n%2 == 1 {
		e := c.compile(list[n-1], pathIndex(path, n-1), res)
		els = &e
	}
	if len(conds) == 1 && thens[0].konst && els != nil && els.konst {
		// The common "if condition then variant else variant".
		cond, fn, then, other := conds[0].truth(), conds[0].fn, clause(thens[0].v), clause(els.v)
		return expr{fn: func(e env) value {
			ok, err := cond(e)
			if err {
				return fn(e)
			}
			if ok {
				return then
			}
			return other
		}}
	}
	tests := make([]test, len(conds))
	for i := range conds {
		tests[i] = conds[i].truth()
	}
	if len(conds) == 1 {
		cond, fn, then := tests[0], conds[0].fn, thens[0].fn
		if els == nil {
			return expr{fn: func(e env) value {
				ok, err := cond(e)
				if err {
					return fn(e)
				}
				if ok {
					return clause(then(e))
				}
				return null
			}}
		}
		other := els.fn
		return expr{fn: func(e env) value {
			ok, err := cond(e)
			if err {
				return fn(e)
			}
			if ok {
				return clause(then(e))
			}
			return clause(other(e))
		}}
	}
	return expr{fn: func(e env) value {
		for i := range tests {
			ok, err := tests[i](e)
			if err {
				return conds[i].fn(e)
			}
			if ok {
				return clause(thens[i].fn(e))
			}
		}
		if els != nil {
			return clause(els.fn(e))
		}
		return null
	}}
}

// clause is the library's evaluateClause: an object that a branch yields
// is applied once more as a rule.
func clause(v value) value {
	if v.k == kObj {
		return applyData(v)
	}
	return v
}

// applyData is the library's apply() on a value that came out of data: an
// object of one key would be run as an operation (we refuse: data is not a
// rule), other objects are themselves, and anything else makes it panic.
func applyData(v value) value {
	switch v.k {
	case kObj:
		if v.length() == 1 {
			for k := range v.obj() {
				return errV("The operator \"" + k + "\" is not supported (an object from the data was used as a rule)")
			}
		}
		return v
	case kErr:
		return v
	}
	return errV("a " + v.k.String() + " was used as a rule")
}

func pathIndex(path string, i int) string {
	return path + "/" + itoa(i)
}

func itoa(i int) string {
	if i >= 0 && i < 10 {
		return string(rune('0' + i))
	}
	var b [20]byte
	n := len(b)
	neg := i < 0
	if neg {
		i = -i
	}
	for i > 0 {
		n--
		b[n] = byte('0' + i%10)
		i /= 10
	}
	if neg {
		n--
		b[n] = '-'
	}
	return string(b[n:])
}

func compileAndOr(isAnd bool) opCompiler {
	name := "or"
	if isAnd {
		name = "and"
	}
	return func(c *compiler, args any, path string, res bool) expr {
		list, ok := args.([]any)
		if !ok {
			c.fail(path, "%s takes an array of operands", name)
			return errExpr(name + ": the arguments must be an array")
		}
		if len(list) == 0 {
			c.fail(path, "%s needs at least one operand", name)
			return konst(null)
		}
		items := make([]expr, len(list))
		for i, raw := range list {
			// Only an operand that can be returned is in result position.
			r := res && i == len(list)-1
			if res && !r {
				if _, isOp := raw.(map[string]any); !isOp {
					if _, isArr := raw.([]any); !isArr && truthy(fromAny(raw)) != isAnd {
						r = true
					}
				}
			}
			items[i] = c.compile(raw, pathIndex(path, i), r)
		}
		tests := make([]test, len(items))
		for i := range items {
			tests[i] = items[i].truth()
		}
		// As a condition, and/or is true when all/any operands are.
		t := func(e env) (bool, bool) {
			for i := range tests {
				ok, err := tests[i](e)
				if err {
					return false, true
				}
				if ok != isAnd {
					return ok, false
				}
			}
			return isAnd, false
		}
		if len(items) == 2 {
			a, b := items[0].fn, items[1].fn
			return expr{fn: func(e env) value {
				v := a(e)
				if v.k == kErr || truthy(v) != isAnd {
					return v
				}
				return b(e)
			}, test: t}
		}
		return expr{fn: func(e env) value {
			var last value
			for i := range items {
				last = items[i].fn(e)
				if last.k == kErr || truthy(last) != isAnd {
					return last
				}
			}
			return last
		}, test: t}
	}
}

var scopeNames = [...]string{scMap: "map", scFilter: "filter", scAll: "all", scNone: "none", scSome: "some", scReduce: "reduce"}

func compileScoped(kind scopeKind) opCompiler {
	name := scopeNames[kind]
	return func(c *compiler, args any, path string, res bool) expr {
		list, ok := args.([]any)
		if !ok {
			c.fail(path, "%s takes an array: [array, rule]", name)
			return errExpr(name + ": the arguments must be an array")
		}
		want := 2
		if kind == scReduce {
			want = 3
		}
		if len(list) != want {
			if kind == scReduce {
				c.fail(path, "reduce takes [array, rule, initial value], not %d arguments", len(list))
			} else {
				c.fail(path, "%s takes [array, rule], not %d arguments", name, len(list))
			}
		}
		subj := konst(null)
		if len(list) > 0 {
			switch s := list[0].(type) {
			case []any:
				// The library takes a literal array as it is, unevaluated.
				subj = konst(arrV(s))
			case map[string]any:
				subj = c.compile(s, pathIndex(path, 0), false)
			default:
				if s != nil {
					c.fail(pathIndex(path, 0), "%s needs an array or a rule that returns one", name)
				}
			}
		}
		level := len(c.scopes)
		var logic expr
		if len(list) > 1 {
			c.scopes = append(c.scopes, kind)
			logic = c.compileLogic(kind, list[1], pathIndex(path, 1))
			c.scopes = c.scopes[:level]
		}
		s := &scoped{kind: kind, name: name, n: len(list), subj: subj, logic: logic, level: level}
		if kind == scReduce && len(list) >= 3 {
			if m, ok := list[2].(map[string]any); ok {
				s.init = c.compile(m, pathIndex(path, 2), false)
			} else {
				s.init = konst(fromAny(list[2]))
				if _, bad := reduceInit(s.init.v); bad.k == kErr {
					c.fail(pathIndex(path, 2), "%s", bad.s)
				}
			}
		}
		return expr{fn: s.eval}
	}
}

// compileLogic compiles the rule an array operation runs per element.
// map and filter evaluate it like any argument; all, none, some and reduce
// "apply" it, which needs an operation.
func (c *compiler) compileLogic(kind scopeKind, raw any, path string) expr {
	if kind == scMap || kind == scFilter {
		return c.compile(raw, path, false)
	}
	m, ok := raw.(map[string]any)
	if !ok {
		c.fail(path, "%s needs a rule (a JsonLogic object) to apply to each element", scopeNames[kind])
		return errExpr(scopeNames[kind] + ": the rule is not an object")
	}
	if arg, isVar := m["var"]; isVar && len(m) == 1 && kind != scReduce {
		if s, ok := arg.(string); !ok || (s != "" && !strings.HasPrefix(s, ".")) {
			// A bare var: the library substitutes its value for the rule
			// and then applies that value as a rule.
			vn := c.compileVar(arg, path+"/var")
			if kind == scNone {
				return expr{fn: func(e env) value {
					sp, err := vn.specOf(e)
					if err.k == kErr {
						return err
					}
					if r := vn.solve(e, sp); r.k != kNull {
						return applyData(r)
					}
					return lookup(e, e.sc, vn.flagKey, sp)
				}}
			}
			return expr{fn: func(e env) value {
				r := vn.eval(e)
				if r.k == kNull {
					return r
				}
				return applyData(r)
			}}
		}
	}
	return c.compile(raw, path, false)
}

// scoped is a compiled array operation.
type scoped struct {
	kind  scopeKind
	name  string
	n     int // number of arguments
	subj  expr
	logic expr
	init  expr // reduce
	level int
}

func (s *scoped) eval(e env) value {
	switch s.kind {
	case scMap, scFilter:
		if s.n < 2 {
			return emptyArr
		}
	case scReduce:
		if s.n < 3 {
			return numV(0)
		}
	default:
		if s.n == 0 {
			return errV(s.name + ": index out of range")
		}
	}
	var acc value
	if s.kind == scReduce {
		iv := s.init.fn(e)
		if iv.k == kErr {
			return iv
		}
		var bad value
		if acc, bad = reduceInit(iv); bad.k == kErr {
			return bad
		}
	}
	subj := s.subj.fn(e)
	if subj.k == kErr {
		return subj
	}
	switch s.kind {
	case scMap, scFilter:
		if subj.k == kNull {
			return emptyArr
		}
	case scReduce:
		if subj.k == kNull {
			return numV(0)
		}
	case scAll, scSome:
		if !truthy(subj) {
			return falseV
		}
		if s.n < 2 {
			return errV(s.name + ": index out of range")
		}
	case scNone:
		if !truthy(subj) {
			return trueV
		}
		if s.n < 2 {
			return errV(s.name + ": index out of range")
		}
	}
	if subj.k != kArr {
		return errV(s.name + ": the subject is a " + subj.k.String() + ", not an array")
	}
	elems := subj.arr()
	sc := &scope{parent: e.sc, level: s.level + 1, reduce: s.kind == scReduce}
	ce := env{ctx: e.ctx, now: e.now, sc: sc}
	switch s.kind {
	case scMap:
		out := make([]any, 0, len(elems))
		for _, el := range elems {
			sc.data = el
			v := s.logic.fn(ce)
			if v.k == kErr {
				return v
			}
			out = append(out, toAny(v))
		}
		return arrV(out)
	case scFilter:
		out := make([]any, 0, len(elems)/2)
		for _, el := range elems {
			sc.data = el
			v := s.logic.fn(ce)
			if v.k == kErr {
				return v
			}
			if truthy(v) {
				out = append(out, el)
			}
		}
		return arrV(out)
	case scAll, scSome, scNone:
		for _, el := range elems {
			sc.data = el
			v := s.logic.fn(ce)
			if v.k == kErr {
				return v
			}
			t := truthy(v)
			switch {
			case s.kind == scAll && !t:
				return falseV
			case s.kind == scSome && t:
				return trueV
			case s.kind == scNone && t:
				return falseV
			}
		}
		return boolV(s.kind != scSome)
	}
	// reduce
	sc.vtype = reduceType(acc)
	for _, el := range elems {
		if el == nil {
			continue
		}
		sc.data, sc.acc = el, acc
		v := s.logic.fn(ce)
		if v.k == kErr {
			return v
		}
		switch acc.k {
		case kBool:
			acc = boolV(truthy(v))
		case kNum:
			n, ok := typNumber(v)
			if !ok {
				return errV("reduce: the rule returned a " + v.k.String() + " for a number accumulator")
			}
			acc = numV(n)
		default:
			str, ok := typString(v)
			if !ok {
				return errV("reduce: the rule returned a " + v.k.String() + " for a string accumulator")
			}
			acc = strV(str)
		}
	}
	return acc
}

// reduceInit checks reduce's initial value: a boolean, number or string.
func reduceInit(v value) (value, value) {
	switch v.k {
	case kBool, kNum, kStr:
		v.split = false
		return v, null
	}
	return null, errV("reduce: the initial value must be a boolean, a number or a string, not a " + v.k.String())
}

func reduceType(v value) string {
	switch v.k {
	case kBool:
		return "bool"
	case kNum:
		return "number"
	}
	return "string"
}
