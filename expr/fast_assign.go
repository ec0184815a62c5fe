package expr

import (
	"slices"

	"github.com/itchyny/gojq"
)

// Assignments (.a = v, .a.b |= f, .a += v ...), object addition and
// variables ($x bound by `E as $x | ...`) on the fast path.

// jqKeyPath returns the keys of a path of constant keys: .a, .a.b, .["a"].
func jqKeyPath(q *gojq.Query) ([]string, bool) {
	if q == nil || q.Term == nil || q.Op != 0 || q.Meta != nil || len(q.FuncDefs) > 0 || len(q.Patterns) > 0 {
		return nil, false
	}
	t := q.Term
	if t.Type != gojq.TermTypeIndex {
		return nil, false
	}
	k, ok := jqIndexKey(t.Index)
	if !ok {
		return nil, false
	}
	keys := []string{k}
	for _, s := range t.SuffixList {
		if s.Iter || s.Optional || s.Index == nil {
			return nil, false
		}
		k, ok := jqIndexKey(s.Index)
		if !ok {
			return nil, false
		}
		keys = append(keys, k)
	}
	return keys, true
}

// assign compiles the assignment operators with a left side of constant
// keys. As gojq: the right side of =, +=, ... runs on the input (its value
// is set, or combined with the old one); |= runs f on the old value. An
// update to no output (|= empty deletes the key) bails.
func (c *fastCompiler) assign(q *gojq.Query, root bool) (fastNode, bool, bool) {
	keys, ok := jqKeyPath(q.Left)
	if !ok {
		c.fail("an assignment to a path that is not of constant keys: " + q.Left.String())
		return nil, false, false
	}
	c.use(root) // the payload is written out changed
	op := q.Op
	rroot := root
	if op == gojq.OpModify {
		rroot = false
	}
	r, rr, ok := c.query(q.Right, rroot)
	if !ok {
		return nil, false, false
	}
	c.use(rr)
	var arith gojq.Operator
	switch op {
	case gojq.OpUpdateAdd:
		arith = gojq.OpAdd
	case gojq.OpUpdateSub:
		arith = gojq.OpSub
	case gojq.OpUpdateMul:
		arith = gojq.OpMul
	case gojq.OpUpdateDiv:
		arith = gojq.OpDiv
	case gojq.OpUpdateMod:
		arith = gojq.OpMod
	}
	return func(c *fastCtx, in fastValue) (fastValue, fastStatus) {
		var x fastValue
		if op != gojq.OpModify {
			var st fastStatus
			if x, st = r(c, in); st != sOK {
				return x, st
			}
		}
		return fastUpdate(in, keys, func(old fastValue) (fastValue, fastStatus) {
			switch op {
			case gojq.OpAssign:
				return x, sOK
			case gojq.OpModify:
				v, st := r(c, old)
				if st == sEmpty {
					st = sBail
				}
				return fastOwn(v), st
			case gojq.OpUpdateAlt:
				if fastTruthy(old) {
					return old, sOK
				}
				return x, sOK
			}
			return fastArith(arith, old, x)
		})
	}, false, true
}

// fastUpdate sets the value at keys in v to f of the value there (null
// where missing), creating objects on null as setpath does.
func fastUpdate(v fastValue, keys []string, f func(old fastValue) (fastValue, fastStatus)) (fastValue, fastStatus) {
	old, st := fastIndex(v, keys[0])
	if st != sOK {
		return old, st
	}
	var nv fastValue
	if len(keys) == 1 {
		nv, st = f(old)
	} else {
		nv, st = fastUpdate(old, keys[1:], f)
	}
	if st != sOK {
		return nv, st
	}
	return fastSetKey(v, keys[0], nv)
}

// fastSetKey is v with key set to x: on null a new object; on an object a
// copy with the key replaced or added (in key order).
func fastSetKey(v fastValue, key string, x fastValue) (fastValue, fastStatus) {
	switch {
	case v.kind == kNull:
		o := &fastObject{keys: [][]byte{append(appendJQString(nil, key), ':')}, names: []string{key}, vals: []fastValue{x}}
		return fastValue{kind: kObject, obj: o}, sOK
	case v.kind == kObject && v.raw != nil:
		o := &fastObject{from: v.raw, drop: []string{key}, set: []fastSet{{key, x}}}
		return fastValue{kind: kObject, obj: o}, sOK
	case v.kind == kObject && v.obj.from == nil:
		src := v.obj
		i, found := slices.BinarySearch(src.names, key)
		o := &fastObject{names: slices.Clone(src.names), keys: slices.Clone(src.keys), vals: slices.Clone(src.vals)}
		if found {
			o.vals[i] = x
		} else {
			o.names = slices.Insert(o.names, i, key)
			o.keys = slices.Insert(o.keys, i, append(appendJQString(nil, key), ':'))
			o.vals = slices.Insert(o.vals, i, x)
		}
		return fastValue{kind: kObject, obj: o}, sOK
	case v.kind == kObject:
		src := v.obj
		o := &fastObject{from: src.from, drop: slices.Clone(src.drop), set: slices.Clone(src.set)}
		if !slices.Contains(o.drop, key) {
			o.drop = append(o.drop, key)
		}
		if i := slices.IndexFunc(o.set, func(s fastSet) bool { return s.key == key }); i >= 0 {
			o.set[i].val = x
		} else {
			o.set = append(o.set, fastSet{key, x})
		}
		return fastValue{kind: kObject, obj: o}, sOK
	}
	return fastValue{}, sBail
}

// fastAddObjects is object + object: the left one with the right one's
// members set on it.
func fastAddObjects(a, b fastValue) (fastValue, fastStatus) {
	a = fastOwn(a)
	st := sOK
	set := func(k string, x fastValue) bool {
		a, st = fastSetKey(a, k, fastOwn(x))
		return st == sOK
	}
	switch {
	case b.raw != nil:
		ms, ok := fastMembers(b.raw)
		if !ok {
			return fastValue{}, sBail
		}
		for _, m := range ms {
			if !set(m.key, fastRaw(m.val)) {
				return fastValue{}, sBail
			}
		}
	case b.obj.from == nil:
		for i, k := range b.obj.names {
			if !set(k, b.obj.vals[i]) {
				return fastValue{}, sBail
			}
		}
	default:
		return fastValue{}, sBail
	}
	return a, sOK
}

// bind compiles `E as $name | body` for a plain variable: E has one output.
func (c *fastCompiler) bind(q *gojq.Query, root bool) (fastNode, bool, bool) {
	if len(q.Patterns) != 1 || q.Patterns[0].Name == "" || q.Op != gojq.OpPipe {
		c.fail("a destructuring or alternative pattern")
		return nil, false, false
	}
	name := q.Patterns[0].Name
	e, eroot, ok := c.query(q.Left, root)
	if !ok {
		return nil, false, false
	}
	c.use(eroot)
	slot := len(c.vars)
	c.vars = append(c.vars, name)
	c.nvars = max(c.nvars, len(c.vars))
	body, broot, ok := c.query(q.Right, root)
	c.vars = c.vars[:slot]
	if !ok {
		return nil, false, false
	}
	return func(c *fastCtx, in fastValue) (fastValue, fastStatus) {
		v, st := e(c, in)
		if st != sOK {
			return v, st
		}
		c.vars[slot] = fastOwn(v)
		return body(c, in)
	}, broot, true
}

// variable compiles a reference to a variable bound in the expression.
func (c *fastCompiler) variable(name string) (fastNode, bool) {
	for i := len(c.vars) - 1; i >= 0; i-- {
		if c.vars[i] == name {
			return func(c *fastCtx, _ fastValue) (fastValue, fastStatus) { return c.vars[i], sOK }, true
		}
	}
	return c.fail("the variable " + name + " (not bound in the expression)")
}
