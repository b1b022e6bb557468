package evaluation

import "math"

// fractional, as flagd (core/pkg/evaluator/fractional.go) implements it:
//
//	{"fractional": [bucketingValue?, [variant, weight?], [variant, weight?], ...]}
//
// The bucketing value is the first argument when it evaluates to a string;
// when it is absent (the first argument is already a distribution) or null,
// flagd hashes flagKey+targetingKey, and returns null without a non-empty
// string targetingKey. Weights default to 1, must be whole numbers, are
// clamped at 0 when negative, and may not exceed 2^31-1 in total. The bucket
// is (murmur3_32(value, seed 0) × totalWeight) >> 32, and the first
// distribution whose running total exceeds it wins. Any malformed argument
// makes the operation return null, so the default variant is served.

const maxWeightSum = math.MaxInt32

// fracArg is one argument of fractional: a literal distribution array,
// compiled element by element, or any other expression.
type fracArg struct {
	lit   bool
	elems []expr
	dyn   expr
}

type fractionalOp struct {
	flagKey string
	args    []fracArg
}

func compileFractional(c *compiler, args any, path string, res bool) expr {
	list, ok := args.([]any)
	if !ok {
		single := c.compile(args, path, false)
		if single.konst {
			c.fail(path, "fractional takes an array: [bucketing value, [variant, weight], ...]")
		}
		key := c.flagKey
		return expr{fn: func(e env) value {
			v := single.fn(e)
			if v.k != kArr {
				if v.k == kErr {
					return v
				}
				return null
			}
			vals := valuesOf(v.arr())
			fargs := make([]fracArg, len(vals))
			for i, x := range vals {
				fargs[i] = fracArg{dyn: konst(x)}
			}
			f := fractionalOp{flagKey: key, args: fargs}
			return f.eval(e)
		}}
	}
	if len(list) == 0 {
		c.fail(path, "fractional needs at least one [variant, weight] distribution")
		return konst(null)
	}
	f := &fractionalOp{flagKey: c.flagKey, args: make([]fracArg, len(list))}
	litTotal, allLit, dists := int64(0), true, 0
	for i, raw := range list {
		p := pathIndex(path, i)
		if d, isArr := raw.([]any); isArr {
			dists++
			fa := fracArg{lit: true, elems: make([]expr, len(d))}
			if len(d) == 0 {
				c.fail(p, "a distribution needs a variant: [variant, weight]")
			}
			if len(d) > 2 {
				c.fail(p, "a distribution is [variant, weight], not %d elements", len(d))
			}
			for j, el := range d {
				fa.elems[j] = c.compile(el, pathIndex(p, j), res && j == 0)
			}
			if len(d) > 0 && fa.elems[0].konst {
				switch fa.elems[0].v.k {
				case kStr, kBool, kNum, kNull:
				default:
					c.fail(pathIndex(p, 0), "a variant must be a string, boolean, number or null")
				}
			}
			switch {
			case len(d) < 2:
				litTotal++
			case fa.elems[1].konst:
				w := fa.elems[1].v
				if n, ok := weightOf(w, true); !ok || w.k != kNum || w.n < 0 {
					c.fail(pathIndex(p, 1), "a weight must be a whole number from 0 to %d", maxWeightSum)
				} else {
					litTotal += n
				}
			default:
				allLit = false
			}
			f.args[i] = fa
			continue
		}
		fa := fracArg{dyn: c.compile(raw, p, false)}
		if i == 0 {
			if fa.dyn.konst && fa.dyn.v.k != kStr && fa.dyn.v.k != kNull {
				c.fail(p, "the bucketing value must be a string (or a rule returning one)")
			}
		} else {
			dists++
			allLit = false
			if fa.dyn.konst {
				c.fail(p, "a distribution must be an array: [variant, weight]")
			}
		}
		f.args[i] = fa
	}
	switch {
	case dists == 0:
		c.fail(path, "fractional needs at least one [variant, weight] distribution")
	case litTotal > maxWeightSum:
		c.fail(path, "the weights add up to %d, more than %d", litTotal, maxWeightSum)
	case allLit && litTotal == 0:
		c.fail(path, "all weights are 0: no variant can be chosen")
	}
	if fast := f.static(); fast != nil {
		return expr{fn: fast}
	}
	return expr{fn: f.eval}
}

// static returns a node for the usual shape, literal distributions of
// constants after an optional bucketing expression, with the buckets worked
// out once; nil for other shapes.
func (f *fractionalOp) static() node {
	start := 0
	if !f.args[0].lit {
		start = 1
	}
	var buckets []bucket
	total := int64(0)
	valid := true
	for _, a := range f.args[start:] {
		if !a.lit {
			return nil
		}
		for _, el := range a.elems {
			if !el.konst {
				return nil
			}
		}
		if len(a.elems) == 0 {
			valid = false
			continue
		}
		variant := a.elems[0].v
		switch variant.k {
		case kStr, kBool, kNum, kNull:
		default:
			valid = false
		}
		var weight value
		if len(a.elems) >= 2 {
			weight = a.elems[1].v
		}
		w, ok := weightOf(weight, len(a.elems) >= 2)
		valid = valid && ok
		total += w
		if variant.k != kNull {
			variant.split = true
		}
		buckets = append(buckets, bucket{variant: variant, weight: w})
	}
	if total == 0 || total > maxWeightSum {
		valid = false
	}
	pick := func(hash uint32) value {
		if !valid {
			return null
		}
		b := (uint64(hash) * uint64(total)) >> 32
		var end uint64
		for i := range buckets {
			end += uint64(buckets[i].weight)
			if b < end {
				return buckets[i].variant
			}
		}
		return null
	}
	flagKey := f.flagKey
	byKey := func(e env) value {
		tk, ok := e.ctx["targetingKey"].(string)
		if !ok || tk == "" {
			return null
		}
		m := newMurmur3(0)
		m.writeString(flagKey)
		m.writeString(tk)
		return pick(m.sum32())
	}
	if start == 0 {
		return byKey
	}
	first := f.args[0].dyn.fn
	return func(e env) value {
		v := first(e)
		switch v.k {
		case kStr:
			return pick(murmur3String(v.s))
		case kNull:
			return byKey(e)
		case kArr:
			return f.eval(e) // the first argument is a distribution after all
		case kErr:
			return v
		}
		return null
	}
}

// weightOf reads a weight as flagd does; present is false for [variant].
func weightOf(v value, present bool) (int64, bool) {
	if !present || v.k == kNull {
		return 1, true
	}
	if v.k != kNum {
		return 0, false
	}
	i := int64(goInt(v.n))
	if v.n != float64(i) || i > math.MaxInt32 {
		return 0, false
	}
	if i < 0 {
		i = 0
	}
	return i, true
}

// fracVal is an evaluated argument.
type fracVal struct {
	lit     bool
	n       int   // elements of a literal distribution
	variant value // lit
	weight  value // lit, when n >= 2
	v       value // !lit
}

type bucket struct {
	variant value
	weight  int64
}

func (f *fractionalOp) eval(e env) value {
	// The library evaluates every argument before calling the operator.
	var buf [8]fracVal
	vals := buf[:0]
	for i := range f.args {
		a := &f.args[i]
		if !a.lit {
			v := a.dyn.fn(e)
			if v.k == kErr {
				return v
			}
			vals = append(vals, fracVal{v: v})
			continue
		}
		fv := fracVal{lit: true, n: len(a.elems)}
		for j := range a.elems {
			v := a.elems[j].fn(e)
			if v.k == kErr {
				return v
			}
			switch j {
			case 0:
				fv.variant = v
			case 1:
				fv.weight = v
			}
		}
		vals = append(vals, fv)
	}
	if len(vals) == 0 {
		return null
	}

	var hash uint32
	rest := vals
	if first := vals[0]; !first.lit && first.v.k == kStr {
		hash = murmur3String(first.v.s)
		rest = vals[1:]
	} else {
		if !first.lit && first.v.k == kNull {
			rest = vals[1:]
		}
		tk, ok := e.ctx["targetingKey"].(string)
		if !ok || tk == "" {
			return null
		}
		m := newMurmur3(0)
		m.writeString(f.flagKey)
		m.writeString(tk)
		hash = m.sum32()
	}

	var bbuf [8]bucket
	buckets := bbuf[:0]
	total := int64(0)
	for _, fv := range rest {
		var variant, weight value
		hasWeight := false
		if fv.lit {
			if fv.n == 0 {
				return null
			}
			variant, weight, hasWeight = fv.variant, fv.weight, fv.n >= 2
		} else {
			if fv.v.k != kArr {
				return null
			}
			d := fv.v.arr()
			if len(d) == 0 {
				return null
			}
			variant = fromAny(d[0])
			if len(d) >= 2 {
				weight, hasWeight = fromAny(d[1]), true
			}
		}
		switch variant.k {
		case kStr, kBool, kNum, kNull:
		default:
			return null
		}
		w, ok := weightOf(weight, hasWeight)
		if !ok {
			return null
		}
		total += w
		buckets = append(buckets, bucket{variant: variant, weight: w})
	}
	if total == 0 || total > maxWeightSum {
		return null
	}
	b := (uint64(hash) * uint64(total)) >> 32
	var end uint64
	for _, bk := range buckets {
		end += uint64(bk.weight)
		if b < end {
			v := bk.variant
			v.split = v.k != kNull
			return v
		}
	}
	return null
}
