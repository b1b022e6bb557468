package evaluation

import (
	"fmt"
	"math"
	"strings"
	"unicode/utf8"
)

// Operations whose arguments the library evaluates first (parseValues):
// a literal array is evaluated element by element; any other argument is
// evaluated once and, when it yields an array, its elements are the
// arguments ("spread"); otherwise the operation gets that single value.

type opcode uint8

const (
	opEq opcode = iota
	opNe
	opStrictEq
	opStrictNe
	opLt
	opLe
	opGt
	opGe
	opNot
	opNotNot
	opMax
	opMin
	opAdd
	opSub
	opMul
	opDiv
	opMod
	opAbs
	opMerge
	opCat
	opSubstr
	opIn
	opMissing
	opMissingSome
	opContainsAll
	opContainsAny
	opContainsNone
	opStartsWith
	opEndsWith
	opSemVer
)

var opNames = [...]string{
	opEq: "==", opNe: "!=", opStrictEq: "===", opStrictNe: "!==", opLt: "<", opLe: "<=", opGt: ">", opGe: ">=",
	opNot: "!", opNotNot: "!!", opMax: "max", opMin: "min", opAdd: "+", opSub: "-", opMul: "*", opDiv: "/",
	opMod: "%", opAbs: "abs", opMerge: "merge", opCat: "cat", opSubstr: "substr", opIn: "in",
	opMissing: "missing", opMissingSome: "missing_some", opContainsAll: "contains_all",
	opContainsAny: "contains_any", opContainsNone: "contains_none", opStartsWith: "starts_with",
	opEndsWith: "ends_with", opSemVer: "sem_ver",
}

// arity is the strict argument count of an operation: [min, max], max -1
// for any.
var arity = [...][2]int{
	opEq: {2, 2}, opNe: {2, 2}, opStrictEq: {2, 2}, opStrictNe: {2, 2},
	opLt: {2, 3}, opLe: {2, 3}, opGt: {2, 3}, opGe: {2, 3},
	opNot: {1, 1}, opNotNot: {1, 1}, opMax: {1, -1}, opMin: {1, -1},
	opAdd: {1, -1}, opSub: {1, -1}, opMul: {1, -1}, opDiv: {2, -1}, opMod: {2, 2}, opAbs: {1, 1},
	opMerge: {1, -1}, opCat: {1, -1}, opSubstr: {2, 3}, opIn: {2, 2},
	opMissing: {0, -1}, opMissingSome: {2, 2},
	opContainsAll: {2, 2}, opContainsAny: {2, 2}, opContainsNone: {2, 2},
	opStartsWith: {2, 2}, opEndsWith: {2, 2}, opSemVer: {3, 3},
}

// opInfo is what a generic operation needs besides its arguments.
type opInfo struct {
	op      opcode
	flagKey string
}

func generic(op opcode) opCompiler {
	return func(c *compiler, args any, path string, res bool) expr {
		return c.generic(op, args, path)
	}
}

func (c *compiler) generic(op opcode, args any, path string) expr {
	info := &opInfo{op: op, flagKey: c.flagKey}
	name := opNames[op]
	if (op == opMissing || op == opMissingSome) && len(c.scopes) == 0 {
		c.needsNow = true // paths may read $flagd.timestamp
	}
	list, isList := args.([]any)
	if !isList {
		single := c.compile(args, path, false)
		if single.konst {
			if single.v.k == kArr {
				// A literal object yielding an array cannot happen; keep the
				// general path anyway.
				return expr{fn: func(e env) value { return applyGeneric(e, info, valuesOf(single.v.arr())) }}
			}
			switch op {
			case opNot, opNotNot, opAdd, opAbs, opMerge, opCat, opMissing:
			default:
				c.fail(path, "%s takes an array of arguments", name)
			}
			if pure(op) {
				v := applyScalar(env{}, info, single.v)
				if v.k == kErr {
					c.fail(path, "%s", v.s)
					return errExpr(v.s)
				}
				return konst(v)
			}
		}
		return expr{fn: func(e env) value {
			v := single.fn(e)
			if v.k == kErr {
				return v
			}
			if v.k == kArr {
				return applyGeneric(e, info, valuesOf(v.arr()))
			}
			return applyScalar(e, info, v)
		}}
	}
	if a := arity[op]; len(list) < a[0] || (a[1] >= 0 && len(list) > a[1]) {
		switch {
		case a[0] == a[1]:
			c.fail(path, "%s takes %d arguments, not %d", name, a[0], len(list))
		case a[1] < 0:
			c.fail(path, "%s takes at least %d argument(s), not %d", name, a[0], len(list))
		default:
			c.fail(path, "%s takes %d to %d arguments, not %d", name, a[0], a[1], len(list))
		}
	}
	items, allConst := c.list(list, path)
	c.checkLiterals(op, items, path)
	if allConst && pure(op) {
		vals := make([]value, len(items))
		for i, it := range items {
			vals[i] = it.v
		}
		v := applyGeneric(env{}, info, vals)
		if v.k == kErr {
			c.fail(path, "%s", v.s)
			return errExpr(v.s)
		}
		return konst(v)
	}
	if fast := fastPath(info, items); fast != nil {
		return expr{fn: fast, test: fastTest(info, items)}
	}
	return expr{fn: func(e env) value {
		var buf [6]value
		vals := buf[:0]
		for i := range items {
			v := items[i].fn(e)
			if v.k == kErr {
				return v
			}
			vals = append(vals, v)
		}
		return applyGeneric(e, info, vals)
	}}
}

// pure operations depend on their arguments only.
func pure(op opcode) bool {
	return op != opMissing && op != opMissingSome
}

func valuesOf(a []any) []value {
	vals := make([]value, len(a))
	for i, x := range a {
		vals[i] = fromAny(x)
	}
	return vals
}

// checkLiterals reports literal arguments that can never work (strict).
func (c *compiler) checkLiterals(op opcode, items []expr, path string) {
	switch op {
	case opStartsWith, opEndsWith:
		for i, it := range items {
			if it.konst && it.v.k != kStr {
				c.fail(pathIndex(path, i), "%s compares strings, not a %s", opNames[op], it.v.k)
			}
		}
	case opSemVer:
		for i, it := range items {
			if !it.konst || i > 2 {
				continue
			}
			if i == 1 {
				if it.v.k != kStr || parseSemverOp(it.v.s) == semverBad {
					c.fail(pathIndex(path, i), `sem_ver operator must be one of "=", "!=", "<", "<=", ">", ">=", "^", "~"`)
				}
			} else if _, ok := semverOf(it.v); !ok {
				c.fail(pathIndex(path, i), "%s is not a semantic version", describeLiteral(it.v))
			}
		}
	}
}

func describeLiteral(v value) string {
	if v.k == kStr {
		return fmt.Sprintf("%q", v.s)
	}
	return describe(v)
}

// fastPath returns a specialised node for common shapes, or nil.
func fastPath(info *opInfo, items []expr) node {
	switch info.op {
	case opEq, opNe, opStrictEq, opStrictNe, opLt, opLe, opGt, opGe:
		if len(items) != 2 {
			return nil
		}
		a, b, op := items[0].fn, items[1].fn, info.op
		if x, y := items[0], items[1]; x.isTop && y.konst {
			c := y.v
			return func(e env) value {
				v := x.load(e)
				if v.k == kErr {
					return v
				}
				return boolV(compare2(op, v, c))
			}
		}
		if x, y := items[0], items[1]; x.konst && y.isTop {
			c := x.v
			return func(e env) value {
				v := y.load(e)
				if v.k == kErr {
					return v
				}
				return boolV(compare2(op, c, v))
			}
		}
		return func(e env) value {
			x := a(e)
			if x.k == kErr {
				return x
			}
			y := b(e)
			if y.k == kErr {
				return y
			}
			return boolV(compare2(op, x, y))
		}
	case opNot, opNotNot:
		if len(items) != 1 {
			return nil
		}
		a, want := items[0].fn, info.op == opNotNot
		return func(e env) value {
			x := a(e)
			if x.k == kErr {
				return x
			}
			return boolV(truthy(x) == want)
		}
	case opStartsWith, opEndsWith:
		if len(items) != 2 {
			return nil
		}
		a, b, prefix := items[0].fn, items[1].fn, info.op == opStartsWith
		if x := items[0]; x.isTop && items[1].konst && items[1].v.k == kStr {
			affix := items[1].v.s
			return func(e env) value {
				v := x.load(e)
				if v.k != kStr {
					if v.k == kErr {
						return v
					}
					return null
				}
				if prefix {
					return boolV(strings.HasPrefix(v.s, affix))
				}
				return boolV(strings.HasSuffix(v.s, affix))
			}
		}
		return func(e env) value {
			x := a(e)
			if x.k == kErr {
				return x
			}
			y := b(e)
			if y.k == kErr {
				return y
			}
			if x.k != kStr || y.k != kStr {
				return null
			}
			if prefix {
				return boolV(strings.HasPrefix(x.s, y.s))
			}
			return boolV(strings.HasSuffix(x.s, y.s))
		}
	case opIn:
		if len(items) != 2 || !items[1].konst || items[1].v.k != kArr {
			return nil
		}
		strs, ok := stringList(items[1].v.arr())
		if !ok {
			return nil
		}
		a, set := items[0].fn, items[1].v
		if it := items[0]; it.isTop {
			return func(e env) value {
				x := it.load(e)
				if x.k == kStr {
					for _, s := range strs {
						if s == x.s {
							return trueV
						}
					}
					return falseV
				}
				if x.k == kErr {
					return x
				}
				return inArray(x, set)
			}
		}
		return func(e env) value {
			x := a(e)
			if x.k == kErr {
				return x
			}
			if x.k == kStr {
				for _, s := range strs {
					if s == x.s {
						return trueV
					}
				}
				return falseV
			}
			return inArray(x, set)
		}
	case opSemVer:
		if len(items) != 3 || !items[1].konst || !items[2].konst {
			return nil
		}
		opv, target := items[1].v, items[2].v
		if opv.k != kStr {
			return nil
		}
		op := parseSemverOp(opv.s)
		want, ok := semverOf(target)
		a := items[0].fn
		if op == semverBad || !ok {
			return func(e env) value {
				if x := a(e); x.k == kErr {
					return x
				}
				return null
			}
		}
		if it := items[0]; it.isTop {
			return func(e env) value {
				x := it.load(e)
				if x.k == kErr {
					return x
				}
				got, ok := semverOf(x)
				if !ok {
					return null
				}
				return boolV(op.apply(got, want))
			}
		}
		return func(e env) value {
			x := a(e)
			if x.k == kErr {
				return x
			}
			got, ok := semverOf(x)
			if !ok {
				return null
			}
			return boolV(op.apply(got, want))
		}
	}
	return nil
}

func stringList(a []any) ([]string, bool) {
	out := make([]string, len(a))
	for i, x := range a {
		s, ok := x.(string)
		if !ok {
			return nil, false
		}
		out[i] = s
	}
	return out, true
}

// compare2 is a two-argument comparison.
func compare2(op opcode, a, b value) bool {
	switch op {
	case opEq:
		return looseEq(a, b)
	case opNe:
		return !looseEq(a, b)
	case opStrictEq:
		return strictEq(a, b)
	case opStrictNe:
		return !strictEq(a, b)
	case opLt:
		return less(a, b)
	case opLe:
		return less(a, b) || looseEq(a, b)
	case opGt:
		return less(b, a)
	case opGe:
		return less(b, a) || looseEq(b, a)
	}
	return false
}

// looseEq is the library's equals: null equals only null, two strings
// compare as strings, anything else as numbers.
func looseEq(a, b value) bool {
	if a.k == kNull || b.k == kNull {
		return a.k == b.k
	}
	if a.k == kStr && b.k == kStr {
		return a.s == b.s
	}
	return jsNumber(a) == jsNumber(b)
}

// strictEq is hardEquals: same JSON type, then equals.
func strictEq(a, b value) bool {
	if a.k == kNull || b.k == kNull {
		return a.k == b.k
	}
	if a.k != b.k {
		return false
	}
	return looseEq(a, b)
}

// less is the library's JavaScript-like <: strings compare as strings,
// anything else as numbers.
func less(a, b value) bool {
	if a.k == kStr && b.k == kStr {
		return a.s < b.s
	}
	return jsNumber(a) < jsNumber(b)
}

func notArray(op opcode) value {
	return errV(opNames[op] + ": the arguments must be an array")
}

// applyScalar runs op on an argument that did not evaluate to an array.
func applyScalar(e env, in *opInfo, v value) value {
	switch in.op {
	case opStrictEq:
		return falseV
	case opStrictNe:
		return trueV
	case opNot:
		return boolV(!truthy(v))
	case opNotNot:
		return boolV(truthy(v))
	case opAdd, opAbs:
		n, ok := typNumber(v)
		if !ok {
			return notA(opNames[in.op], v, "number")
		}
		if in.op == opAbs {
			n = math.Abs(n)
		}
		return numV(n)
	case opMerge:
		switch v.k {
		case kBool, kNum, kStr:
			return arrV([]any{toAny(v)})
		}
		return notArray(in.op)
	case opCat:
		if v.k == kStr {
			return v
		}
		return notArray(in.op)
	case opMissing:
		if v.k == kStr {
			return applyGeneric(e, in, []value{v})
		}
		return notArray(in.op)
	case opContainsAll, opContainsAny:
		return falseV
	case opContainsNone:
		return trueV
	case opStartsWith, opEndsWith, opSemVer:
		return null
	}
	return notArray(in.op)
}

// applyGeneric runs op on evaluated arguments, as the library does after
// parseValues.
func applyGeneric(e env, in *opInfo, vals []value) value {
	op := in.op
	n := len(vals)
	switch op {
	case opEq, opNe, opStrictEq, opStrictNe:
		if n < 2 {
			return boolV(op == opNe || op == opStrictNe)
		}
		return boolV(compare2(op, vals[0], vals[1]))
	case opLt, opLe, opGt, opGe:
		if n < 2 {
			return falseV
		}
		if n == 3 {
			a, b, c := vals[0], vals[1], vals[2]
			switch op {
			case opLt:
				return boolV(less(a, b) && less(b, c))
			case opLe:
				return boolV((less(a, b) || looseEq(a, b)) && (less(b, c) || looseEq(b, c)))
			case opGt:
				return boolV(less(c, b) && less(b, a))
			default:
				return boolV((less(c, b) || looseEq(c, b)) && (less(b, a) || looseEq(b, a)))
			}
		}
		return boolV(compare2(op, vals[0], vals[1]))
	case opNot:
		if n > 0 {
			return boolV(!truthy(vals[0]))
		}
		return trueV
	case opNotNot:
		if n > 0 {
			return boolV(truthy(vals[0]))
		}
		return falseV
	case opMax, opMin:
		if n == 0 {
			return null
		}
		best, ok := typNumber(vals[0])
		if !ok {
			return notA(opNames[op], vals[0], "number")
		}
		for _, v := range vals[1:] {
			x, ok := typNumber(v)
			if !ok {
				return notA(opNames[op], v, "number")
			}
			if op == opMax && x > best || op == opMin && best > x {
				best = x
			}
		}
		return numV(best)
	case opAdd, opSub, opMul, opDiv:
		return arith(op, vals)
	case opMod:
		if n < 2 {
			return errV("%: index out of range")
		}
		a, ok := typNumber(vals[0])
		if !ok {
			return notA("%", vals[0], "number")
		}
		b, ok := typNumber(vals[1])
		if !ok {
			return notA("%", vals[1], "number")
		}
		return numV(math.Mod(a, b))
	case opAbs:
		if n == 0 {
			return errV("abs: index out of range")
		}
		a, ok := typNumber(vals[0])
		if !ok {
			return notA("abs", vals[0], "number")
		}
		return numV(math.Abs(a))
	case opMerge:
		size := 0
		for _, v := range vals {
			if v.k == kArr {
				size += v.length()
			} else {
				size++
			}
		}
		out := make([]any, 0, size)
		for _, v := range vals {
			if v.k == kArr {
				out = append(out, v.arr()...)
			} else {
				out = append(out, toAny(v))
			}
		}
		return arrV(out)
	case opCat:
		return cat(vals)
	case opSubstr:
		return substr(vals)
	case opIn:
		return in2(vals)
	case opMissing, opMissingSome:
		return missing(e, in, vals)
	case opContainsAll, opContainsAny, opContainsNone:
		return contains(op, vals)
	case opStartsWith, opEndsWith:
		if n != 2 || vals[0].k != kStr || vals[1].k != kStr {
			return null
		}
		if op == opStartsWith {
			return boolV(strings.HasPrefix(vals[0].s, vals[1].s))
		}
		return boolV(strings.HasSuffix(vals[0].s, vals[1].s))
	case opSemVer:
		if n != 3 {
			return null
		}
		a, ok := semverOf(vals[0])
		if !ok || vals[1].k != kStr {
			return null
		}
		b, ok := semverOf(vals[2])
		sop := parseSemverOp(vals[1].s)
		if !ok || sop == semverBad {
			return null
		}
		return boolV(sop.apply(a, b))
	}
	return errV("unsupported operation")
}

// notA is the error of an argument v of the operation op that is not the
// kind want ("number", "string") and cannot be read as one.
func notA(op string, v value, want string) value {
	return errV(op + ": cannot use a " + v.k.String() + " as a " + want)
}

func arith(op opcode, vals []value) value {
	name := opNames[op]
	num := func(v value) (float64, value) {
		n, ok := typNumber(v)
		if !ok {
			return 0, notA(name, v, "number")
		}
		return n, null
	}
	switch op {
	case opAdd:
		sum := 0.0
		for _, v := range vals {
			x, err := num(v)
			if err.k == kErr {
				return err
			}
			sum += x
		}
		return numV(sum)
	case opMul:
		prod := 1.0
		for _, v := range vals {
			x, err := num(v)
			if err.k == kErr {
				return err
			}
			prod *= x
		}
		return numV(prod)
	}
	if len(vals) == 0 {
		return numV(0)
	}
	acc, err := num(vals[0])
	if err.k == kErr {
		return err
	}
	if op == opSub && len(vals) == 1 {
		return numV(-1 * acc)
	}
	for _, v := range vals[1:] {
		x, err := num(v)
		if err.k == kErr {
			return err
		}
		if op == opSub {
			acc -= x
		} else {
			acc /= x
		}
	}
	return numV(acc)
}

// cat joins the string forms of its arguments; with two or more arguments
// the library trims the result.
func cat(vals []value) value {
	switch len(vals) {
	case 0:
		return strV("")
	case 1:
		s, ok := typString(vals[0])
		if !ok {
			return notA("cat", vals[0], "string")
		}
		return strV(s)
	}
	var b strings.Builder
	for _, v := range vals {
		s, ok := typString(v)
		if !ok {
			return notA("cat", v, "string")
		}
		b.WriteString(s)
	}
	return strV(strings.TrimSpace(b.String()))
}

// substr counts in runes, as the library does.
func substr(vals []value) value {
	if len(vals) < 2 {
		return errV("substr: index out of range")
	}
	s, ok := typString(vals[0])
	if !ok {
		return notA("substr", vals[0], "string")
	}
	f, ok := typNumber(vals[1])
	if !ok {
		return notA("substr", vals[1], "number")
	}
	runes := []rune(s)
	if !utf8.ValidString(s) {
		s = string(runes)
	}
	from, length := goInt(f), len(runes)
	if from < 0 {
		from += length
	}
	if from < 0 || from > length {
		return strV(s)
	}
	if len(vals) == 3 {
		l, ok := typNumber(vals[2])
		if !ok {
			return notA("substr", vals[2], "number")
		}
		length = goInt(l)
	}
	var to int
	if length < 0 {
		length += len(runes)
		to = length
	} else {
		to = from + length // may wrap, as in the library, and then fail below
	}
	if to > len(runes) {
		to = len(runes)
	}
	if to < from {
		return errV("substr: slice bounds out of range")
	}
	return strV(string(runes[from:to]))
}

// in2 is the library's in: substring of a string, or membership in an
// array whose array elements are [low, high] ranges.
func in2(vals []value) value {
	if len(vals) == 0 {
		return errV("in: index out of range")
	}
	a, b := vals[0], null
	if len(vals) > 1 {
		b = vals[1]
	}
	if b.k == kStr {
		if a.k != kStr {
			return errV("in: cannot look for a " + a.k.String() + " in a string")
		}
		return boolV(strings.Contains(b.s, a.s))
	}
	if b.k != kArr {
		return falseV
	}
	return inArray(a, b)
}

func inArray(a, b value) value {
	for _, x := range b.arr() {
		el := fromAny(x)
		switch {
		case el.k == kErr:
			return el
		case el.k == kArr:
			r := el.arr()
			if len(r) < 2 {
				return errV("in: index out of range")
			}
			av, ok := typNumber(a)
			if !ok {
				return notA("in", a, "number")
			}
			lo, ok := typNumber(fromAny(r[0]))
			if !ok {
				return errV("in: range bounds must be numbers")
			}
			if av >= lo {
				hi, ok := typNumber(fromAny(r[1]))
				if !ok {
					return errV("in: range bounds must be numbers")
				}
				if hi >= av {
					return trueV
				}
			}
		case a.k == kNum:
			n, ok := typNumber(el)
			if !ok {
				return errV("in: cannot compare a number with a " + el.k.String())
			}
			if n == a.n {
				return trueV
			}
		case a.k == kObj && el.k == kObj:
			return errV("in: comparing uncomparable objects")
		case a.k == el.k:
			switch a.k {
			case kNull:
				return trueV
			case kBool:
				if a.b == el.b {
					return trueV
				}
			case kStr:
				if a.s == el.s {
					return trueV
				}
			}
		}
	}
	return falseV
}

// missing implements missing and missing_some: which paths have no value.
func missing(e env, in *opInfo, vals []value) value {
	paths := vals
	need := 0
	if in.op == opMissingSome {
		if len(vals) < 1 {
			return errV("missing_some: index out of range")
		}
		f, ok := typNumber(vals[0])
		if !ok {
			return errV("missing_some: the count must be a number")
		}
		need = goInt(f)
		if len(vals) < 2 {
			return errV("missing_some: index out of range")
		}
		if vals[1].k != kArr {
			return errV("missing_some: the paths must be an array")
		}
		paths = valuesOf(vals[1].arr())
	}
	var out []any
	found := 0
	for _, p := range paths {
		sp, err := varSpecOf(p)
		if err.k == kErr {
			return err
		}
		if lookup(e, e.sc, in.flagKey, sp).k == kNull {
			out = append(out, toAny(p))
		} else {
			found++
		}
	}
	if in.op == opMissingSome && need <= found {
		return emptyArr
	}
	return arrV(out)
}

// contains implements contains_all, contains_any and contains_none.
func contains(op opcode, vals []value) value {
	fallback := boolV(op == opContainsNone)
	if len(vals) != 2 || vals[0].k != kArr || vals[1].k != kArr {
		return fallback
	}
	search, check := vals[0].arr(), vals[1].arr()
	if op == opContainsAll && len(check) == 0 {
		return trueV
	}
	for _, c := range check {
		cv := fromAny(c)
		found := false
		for _, s := range search {
			sv := fromAny(s)
			if cv.k == sv.k && (cv.k == kObj || cv.k == kArr) {
				return errV(opNames[op] + ": comparing uncomparable values")
			}
			if sameValue(sv, cv) {
				found = true
				break
			}
		}
		switch {
		case op == opContainsAll && !found:
			return falseV
		case op == opContainsAny && found:
			return trueV
		case op == opContainsNone && found:
			return falseV
		}
	}
	return boolV(op != opContainsAny)
}

// sameValue is isEqualValue: Go equality of scalars, numbers by value.
func sameValue(a, b value) bool {
	if a.k != b.k {
		return false
	}
	switch a.k {
	case kNull:
		return true
	case kBool:
		return a.b == b.b
	case kNum:
		return a.n == b.n
	case kStr:
		return a.s == b.s
	}
	return false
}

// fastTest returns the truthiness of a specialised operation directly, for
// conditions (if, and, or, !), or nil. A test reports failure with
// err=true; the caller then evaluates the node for the error value.
func fastTest(info *opInfo, items []expr) test {
	switch info.op {
	case opEq, opNe, opStrictEq, opStrictNe, opLt, opLe, opGt, opGe:
		if len(items) != 2 {
			return nil
		}
		op := info.op
		if x, y := items[0], items[1]; x.isTop && y.konst {
			c := y.v
			return func(e env) (bool, bool) {
				v := x.load(e)
				return compare2(op, v, c), v.k == kErr
			}
		}
		a, b := items[0].fn, items[1].fn
		return func(e env) (bool, bool) {
			x := a(e)
			if x.k == kErr {
				return false, true
			}
			y := b(e)
			if y.k == kErr {
				return false, true
			}
			return compare2(op, x, y), false
		}
	case opNot, opNotNot:
		if len(items) != 1 {
			return nil
		}
		t, want := items[0].truth(), info.op == opNotNot
		return func(e env) (bool, bool) {
			ok, err := t(e)
			return ok == want, err
		}
	case opStartsWith, opEndsWith:
		if len(items) != 2 {
			return nil
		}
		x, prefix := items[0], info.op == opStartsWith
		if x.isTop && items[1].konst && items[1].v.k == kStr {
			affix := items[1].v.s
			return func(e env) (bool, bool) {
				v := x.load(e)
				if v.k != kStr {
					return false, v.k == kErr
				}
				if prefix {
					return strings.HasPrefix(v.s, affix), false
				}
				return strings.HasSuffix(v.s, affix), false
			}
		}
	case opIn:
		if len(items) != 2 || !items[0].isTop || !items[1].konst || items[1].v.k != kArr {
			return nil
		}
		strs, ok := stringList(items[1].v.arr())
		if !ok {
			return nil
		}
		x, set := items[0], items[1].v
		return func(e env) (bool, bool) {
			v := x.load(e)
			if v.k == kStr {
				for _, s := range strs {
					if s == v.s {
						return true, false
					}
				}
				return false, false
			}
			r := inArray(v, set)
			return truthy(r), r.k == kErr || v.k == kErr
		}
	case opSemVer:
		if len(items) != 3 || !items[0].isTop || !items[1].konst || !items[2].konst || items[1].v.k != kStr {
			return nil
		}
		op := parseSemverOp(items[1].v.s)
		want, ok := semverOf(items[2].v)
		if op == semverBad || !ok {
			return nil
		}
		x := items[0]
		return func(e env) (bool, bool) {
			v := x.load(e)
			got, ok := semverOf(v)
			if !ok {
				return false, v.k == kErr
			}
			return op.apply(got, want), false
		}
	}
	return nil
}
