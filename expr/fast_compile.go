package expr

import (
	"cmp"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/itchyny/gojq"
	"github.com/obz-dev/obz/wire"
)

// The compiler: gojq AST → fastNode closures (see jqfast.go).

// query compiles q. root says whether q's input is the payload itself;
// outRoot whether q's output is its input unchanged (., select).
func (c *fastCompiler) query(q *gojq.Query, root bool) (n fastNode, outRoot, ok bool) {
	if q == nil || q.Meta != nil || len(q.Imports) > 0 || len(q.FuncDefs) > 0 {
		c.fail("a definition or import")
		return nil, false, false
	}
	if len(q.Patterns) > 0 {
		return c.bind(q, root)
	}
	if q.Term != nil {
		return c.term(q.Term, root)
	}
	switch q.Op {
	case gojq.OpAssign, gojq.OpModify, gojq.OpUpdateAdd, gojq.OpUpdateSub, gojq.OpUpdateMul,
		gojq.OpUpdateDiv, gojq.OpUpdateMod, gojq.OpUpdateAlt:
		return c.assign(q, root)
	case gojq.OpComma:
		c.fail("several outputs (,) inside an expression of one output")
		return nil, false, false
	}
	if q.Op == gojq.OpPipe {
		l, lroot, ok := c.query(q.Left, root)
		if !ok {
			return nil, false, false
		}
		r, rroot, ok := c.query(q.Right, root && lroot)
		if !ok {
			return nil, false, false
		}
		return func(c *fastCtx, in fastValue) (fastValue, fastStatus) {
			v, st := l(c, in)
			if st != sOK {
				return v, st
			}
			return r(c, v)
		}, lroot && rroot, true
	}
	l, lroot, ok1 := c.query(q.Left, root)
	r, rroot, ok2 := c.query(q.Right, root)
	if !ok1 || !ok2 {
		return nil, false, false
	}
	c.use(lroot || rroot)
	switch op := q.Op; op {
	case gojq.OpAnd, gojq.OpOr:
		and := op == gojq.OpAnd
		return func(c *fastCtx, in fastValue) (fastValue, fastStatus) {
			v, st := l(c, in)
			if st != sOK {
				return v, st
			}
			if fastTruthy(v) != and {
				return fastBool(!and), sOK
			}
			w, st := r(c, in)
			if st != sOK {
				return w, st
			}
			return fastBool(fastTruthy(w)), sOK
		}, false, true
	case gojq.OpAlt:
		return func(c *fastCtx, in fastValue) (fastValue, fastStatus) {
			v, st := l(c, in)
			if st == sBail {
				return v, st
			}
			if st == sOK && fastTruthy(v) {
				return v, sOK
			}
			return r(c, in)
		}, false, true
	case gojq.OpEq, gojq.OpNe, gojq.OpLt, gojq.OpLe, gojq.OpGt, gojq.OpGe:
		test := fastCmpTest(op)
		if n, ok := fieldVsNumber(q, l, r, test); ok {
			return n, false, true
		}
		return func(c *fastCtx, in fastValue) (fastValue, fastStatus) {
			a, b, st := fastBoth(c, in, l, r)
			if st != sOK {
				return fastValue{}, st
			}
			n, ok := fastCompare(a, b)
			if !ok {
				return fastValue{}, sBail
			}
			return fastBool(test(n)), sOK
		}, false, true
	case gojq.OpAdd, gojq.OpSub, gojq.OpMul, gojq.OpDiv, gojq.OpMod:
		return func(c *fastCtx, in fastValue) (fastValue, fastStatus) {
			a, b, st := fastBoth(c, in, l, r)
			if st != sOK {
				return fastValue{}, st
			}
			return fastArith(op, a, b)
		}, false, true
	}
	return nil, false, false
}

// fieldVsNumber compiles the commonest comparison, a path with a number
// literal (.amount > 50, 10 <= .a.b), into one node: the number from the
// payload is compared with the literal's without the generic operand
// evaluation. Anything but a number from the payload takes the generic way.
func fieldVsNumber(q *gojq.Query, l, r fastNode, test func(int) bool) (fastNode, bool) {
	lit, swapped := jqNumberLiteral(q.Right), false
	path := l
	if lit == nil {
		lit, swapped, path = jqNumberLiteral(q.Left), true, r
	}
	if lit == nil {
		return nil, false
	}
	k := *lit
	kv := fastValue{kind: kNumber, num: k}
	return func(c *fastCtx, in fastValue) (fastValue, fastStatus) {
		v, st := path(c, in)
		if st != sOK {
			return v, st
		}
		var n int
		x, ok := jqNumber{}, false
		if v.kind == kNumber {
			x, ok = fastNumberOf(v)
		}
		if ok {
			if x.isInt && k.isInt {
				n = cmp.Compare(x.i, k.i)
			} else {
				// As fastCompare: NaN sorts below every number.
				switch a, b := x.float(), k.float(); {
				case a < b || math.IsNaN(a):
					n = -1
				case a == b:
					n = 0
				default:
					n = 1
				}
			}
		} else {
			var ok bool
			if n, ok = fastCompare(v, kv); !ok {
				return fastValue{}, sBail
			}
		}
		if swapped {
			n = -n
		}
		return fastBool(test(n)), sOK
	}, true
}

// jqNumberLiteral returns the number of a query that is a number literal
// in the subset, or nil.
func jqNumberLiteral(q *gojq.Query) *jqNumber {
	if q == nil || q.Term == nil || q.Term.Type != gojq.TermTypeNumber || len(q.Term.SuffixList) > 0 {
		return nil
	}
	n, ok := jqLiteralNumber(q.Term.Number)
	if !ok {
		return nil
	}
	return &n
}

func (c *fastCompiler) term(t *gojq.Term, root bool) (n fastNode, outRoot, ok bool) {
	n, outRoot, ok = c.baseTerm(t, root)
	if !ok {
		return nil, false, false
	}
	for i, s := range t.SuffixList {
		if s.Optional {
			continue // transparent: the fast path answers only where nothing fails
		}
		if s.Iter || s.Index == nil {
			c.fail("several outputs (.[]) where one is expected: " + t.String())
			return nil, false, false
		}
		if key, ok := jqIndexKey(s.Index); ok {
			if i == 0 && outRoot && t.Type == gojq.TermTypeIdentity {
				n = c.field(key, true)
				outRoot = false
				continue
			}
		}
		sn, ok := c.suffix(s.Index)
		if !ok {
			return nil, false, false
		}
		c.use(outRoot)
		n = fastPipe(n, sn)
		outRoot = false
	}
	return n, outRoot, true
}

func fastPipe(l, r fastNode) fastNode {
	return func(c *fastCtx, in fastValue) (fastValue, fastStatus) {
		v, st := l(c, in)
		if st != sOK {
			return v, st
		}
		return r(c, v)
	}
}

// jqIndexKey returns the key of .name, ."name" or .["name"].
func jqIndexKey(ix *gojq.Index) (string, bool) {
	switch {
	case ix.IsSlice || ix.End != nil:
		return "", false
	case ix.Name != "":
		return ix.Name, true
	case ix.Str != nil:
		return jqConstString(ix.Str)
	case ix.Start != nil:
		if t := ix.Start.Term; t != nil && t.Type == gojq.TermTypeString && len(t.SuffixList) == 0 && ix.Start.Op == 0 {
			return jqConstString(t.Str)
		}
	}
	return "", false
}

func jqConstString(s *gojq.String) (string, bool) {
	if s == nil || len(s.Queries) > 0 {
		return "", false
	}
	return s.Str, true
}

// jqConstStringArg returns a function argument that is a string literal.
func jqConstStringArg(q *gojq.Query) (string, bool) {
	if q == nil || q.Term == nil || q.Term.Type != gojq.TermTypeString || len(q.Term.SuffixList) > 0 {
		return "", false
	}
	return jqConstString(q.Term.Str)
}

// field compiles .key; on the payload itself it reads the key's slot.
func (c *fastCompiler) field(key string, root bool) fastNode {
	if root {
		i := slices.Index(c.keys, key)
		if i < 0 {
			i = len(c.keys)
			c.keys = append(c.keys, key)
		}
		return func(c *fastCtx, in fastValue) (fastValue, fastStatus) {
			if !c.extracted {
				c.extracted = true
				c.isObject = c.top()
			}
			if c.isObject {
				v := c.slots[i]
				if !c.valid && c.checked&(1<<i) == 0 {
					if v != nil && !wire.Valid(v) {
						return fastValue{}, sBail
					}
					c.checked |= 1 << i
				}
				return fastRaw(v), sOK
			}
			if !c.valid {
				if !wire.Valid(c.payload) {
					return fastValue{}, sBail
				}
				c.valid = true
			}
			return fastIndex(in, key)
		}
	}
	return func(c *fastCtx, in fastValue) (fastValue, fastStatus) { return fastIndex(in, key) }
}

func (c *fastCompiler) baseTerm(t *gojq.Term, root bool) (n fastNode, outRoot, ok bool) {
	switch t.Type {
	case gojq.TermTypeIdentity:
		return func(c *fastCtx, in fastValue) (fastValue, fastStatus) { return in, sOK }, root, true
	case gojq.TermTypeNull:
		return fastConst(vNull), false, true
	case gojq.TermTypeTrue:
		return fastConst(vTrue), false, true
	case gojq.TermTypeFalse:
		return fastConst(vFalse), false, true
	case gojq.TermTypeNumber:
		num, ok := jqLiteralNumber(t.Number)
		if !ok {
			return nil, false, false
		}
		return fastConst(fastValue{kind: kNumber, num: num}), false, true
	case gojq.TermTypeString:
		s, ok := jqConstString(t.Str)
		if !ok {
			return c.interpolation(t.Str, root, nil)
		}
		return fastConst(fastValue{kind: kString, str: s}), false, true
	case gojq.TermTypeQuery:
		return c.query(t.Query, root)
	case gojq.TermTypeIndex:
		key, ok := jqIndexKey(t.Index)
		if !ok {
			n, ok := c.suffix(t.Index)
			if !ok {
				return nil, false, false
			}
			c.use(root)
			return n, false, true
		}
		return c.field(key, root), false, true
	case gojq.TermTypeUnary:
		return c.unary(t.Unary, root)
	case gojq.TermTypeObject:
		return c.object(t.Object, root)
	case gojq.TermTypeFunc:
		return c.function(t.Func, root)
	case gojq.TermTypeIf:
		return c.ifThen(t.If, root)
	case gojq.TermTypeTry:
		return c.try(t.Try, root)
	case gojq.TermTypeArray:
		return c.array(t.Array, root)
	case gojq.TermTypeFormat:
		// @text, @json and @base64 are tostring, tojson and a base64 of
		// tostring; with a string, each of its interpolated parts goes
		// through the format (gojq's compileFormat).
		f := fastFormats[t.Format]
		if f == nil {
			break
		}
		if t.Str == nil {
			c.use(root)
			return unaryFn(f), false, true
		}
		return c.interpolation(t.Str, root, f)
	}
	c.fail("the form " + t.String())
	return nil, false, false
}

func fastConst(v fastValue) fastNode {
	return func(*fastCtx, fastValue) (fastValue, fastStatus) { return v, sOK }
}

// jqLiteralNumber converts a number literal as gojq does (toNumber): an int
// when it fits, a float64 when it has a fraction or exponent; a literal
// gojq holds as a big integer or an infinity is not in the subset.
func jqLiteralNumber(s string) (jqNumber, bool) {
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return jqNumber{isInt: true, i: i}, true
	}
	if strings.ContainsAny(s, ".eE") {
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return jqNumber{f: f}, true
		}
	}
	return jqNumber{}, false
}

func (c *fastCompiler) unary(u *gojq.Unary, root bool) (fastNode, bool, bool) {
	n, outRoot, ok := c.term(u.Term, root)
	if !ok {
		return nil, false, false
	}
	c.use(outRoot)
	switch u.Op {
	case gojq.OpAdd:
		return func(c *fastCtx, in fastValue) (fastValue, fastStatus) {
			v, st := n(c, in)
			if st == sOK && v.kind != kNumber {
				st = sBail
			}
			return v, st
		}, false, true
	case gojq.OpSub:
		return func(c *fastCtx, in fastValue) (fastValue, fastStatus) {
			v, st := n(c, in)
			if st != sOK {
				return v, st
			}
			return fastNegate(v)
		}, false, true
	}
	return nil, false, false
}

// object compiles {k: v, ...} with constant keys. gojq builds a map, so
// the output has each key once (the last value given for it wins), sorted.
func (c *fastCompiler) object(o *gojq.Object, root bool) (fastNode, bool, bool) {
	type entry struct {
		key string
		val fastNode
	}
	var es []entry
	for _, kv := range o.KeyVals {
		var key string
		switch {
		case kv.KeyQuery != nil:
			return nil, false, false
		case kv.KeyString != nil:
			s, ok := jqConstString(kv.KeyString)
			if !ok {
				return nil, false, false
			}
			key = s
		case kv.Key != "" && kv.Key[0] != '$' && kv.Key[0] != '@':
			key = kv.Key
		default:
			return nil, false, false
		}
		var val fastNode
		if kv.Val == nil {
			val = c.field(key, root)
		} else {
			n, outRoot, ok := c.query(kv.Val, root)
			if !ok {
				return nil, false, false
			}
			c.use(outRoot)
			val = n
		}
		es = append(es, entry{key, val})
	}
	// Output order: the keys sorted, each from its last entry.
	var order []int
	for i, e := range es {
		if j := slices.IndexFunc(order, func(j int) bool { return es[j].key == e.key }); j >= 0 {
			order[j] = i
		} else {
			order = append(order, i)
		}
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(es[a].key, es[b].key) })
	out := &fastObject{keys: make([][]byte, len(order)), names: make([]string, len(order)), vals: make([]fastValue, len(order))}
	for i, j := range order {
		out.keys[i] = append(appendJQString(nil, es[j].key), ':')
		out.names[i] = es[j].key
	}
	vals := make([]fastValue, len(es))
	return func(c *fastCtx, in fastValue) (fastValue, fastStatus) {
		st := sOK
		for i, e := range es {
			v, s := e.val(c, in)
			if s == sBail {
				return fastValue{}, sBail
			}
			if s == sEmpty {
				st = sEmpty
			}
			vals[i] = v
		}
		if st != sOK {
			return fastValue{}, st
		}
		for i, j := range order {
			out.vals[i] = vals[j]
		}
		return fastValue{kind: kObject, obj: out}, sOK
	}, false, true
}

func (c *fastCompiler) function(f *gojq.Func, root bool) (fastNode, bool, bool) {
	switch f.Name {
	case "not", "length", "has", "test", "del":
		c.use(root) // they look at their input, the payload itself at the root
	}
	switch {
	case f.Name == "empty" && len(f.Args) == 0:
		return func(*fastCtx, fastValue) (fastValue, fastStatus) { return fastValue{}, sEmpty }, false, true
	case f.Name == "not" && len(f.Args) == 0:
		return func(c *fastCtx, in fastValue) (fastValue, fastStatus) { return fastBool(!fastTruthy(in)), sOK }, false, true
	case f.Name == "select" && len(f.Args) == 1:
		cond, condRoot, ok := c.query(f.Args[0], root)
		if !ok {
			return nil, false, false
		}
		c.use(condRoot)
		return func(c *fastCtx, in fastValue) (fastValue, fastStatus) {
			v, st := cond(c, in)
			if st != sOK {
				return v, st
			}
			if fastTruthy(v) {
				return in, sOK
			}
			return fastValue{}, sEmpty
		}, root, true
	case f.Name == "length" && len(f.Args) == 0:
		return func(c *fastCtx, in fastValue) (fastValue, fastStatus) { return fastLength(in) }, false, true
	case f.Name == "has" && len(f.Args) == 1 && jqIntLiteralArg(f.Args[0]) != nil:
		return fastHasIndex(*jqIntLiteralArg(f.Args[0])), false, true
	case f.Name == "getpath" && len(f.Args) == 1:
		keys, ok := jqConstStringArray(f.Args[0], nil)
		if !ok || len(keys) == 0 {
			c.fail("getpath of a path that is not of constant keys")
			return nil, false, false
		}
		n := c.field(keys[0], root)
		for _, k := range keys[1:] {
			prev := n
			n = func(c *fastCtx, in fastValue) (fastValue, fastStatus) {
				v, st := prev(c, in)
				if st != sOK {
					return v, st
				}
				return fastIndex(v, k)
			}
		}
		return n, false, true
	case f.Name == "has" && len(f.Args) == 1:
		key, ok := jqConstStringArg(f.Args[0])
		if !ok {
			return nil, false, false
		}
		return func(c *fastCtx, in fastValue) (fastValue, fastStatus) {
			switch {
			case in.kind == kNull:
				return vFalse, sOK
			case in.kind == kObject && in.raw != nil:
				found := false
				m := MemberScanner{b: in.raw, i: 1}
				for {
					ks, ke, _, _, more := m.Next()
					if !more {
						break
					}
					eq, ok := fastKeyIs(in.raw[ks:ke], key)
					if !ok {
						return fastValue{}, sBail
					}
					found = found || eq
				}
				if m.bad {
					return fastValue{}, sBail
				}
				return fastBool(found), sOK
			}
			return fastValue{}, sBail
		}, false, true
	case f.Name == "test" && (len(f.Args) == 1 || len(f.Args) == 2):
		re, ok := jqConstStringArg(f.Args[0])
		flags := ""
		if len(f.Args) == 2 {
			var ok2 bool
			flags, ok2 = jqConstStringArg(f.Args[1])
			ok = ok && ok2
		}
		if !ok || strings.ContainsFunc(flags, func(r rune) bool { return r != 'g' && r != 'i' && r != 'm' }) {
			return nil, false, false
		}
		// As gojq's compileRegexp.
		if strings.ContainsRune(flags, 'i') {
			re = "(?i)" + re
		}
		if strings.ContainsRune(flags, 'm') {
			re = "(?s)" + re
		}
		rx, err := regexp.Compile(re)
		if err != nil {
			return nil, false, false
		}
		return func(c *fastCtx, in fastValue) (fastValue, fastStatus) {
			if in.kind != kString {
				return fastValue{}, sBail
			}
			s, ok := fastStringOf(in)
			if !ok {
				return fastValue{}, sBail
			}
			return fastBool(rx.Match(s)), sOK
		}, false, true
	case f.Name == "del" && len(f.Args) == 1:
		drop, ok := jqDelKeys(f.Args[0], nil)
		if !ok {
			return nil, false, false
		}
		out := &fastObject{drop: drop}
		return func(c *fastCtx, in fastValue) (fastValue, fastStatus) {
			switch {
			case in.kind == kNull:
				return vNull, sOK
			case in.kind == kObject && in.raw != nil:
				out.from = in.raw
				return fastValue{kind: kObject, obj: out}, sOK
			}
			return fastValue{}, sBail
		}, false, true
	}
	return c.builtin(f, root)
}

// jqDelKeys collects the keys of del(.a, .b, ...).
func jqDelKeys(q *gojq.Query, keys []string) ([]string, bool) {
	if q == nil || q.Meta != nil || len(q.FuncDefs) > 0 || len(q.Patterns) > 0 {
		return nil, false
	}
	if q.Op == gojq.OpComma {
		keys, ok := jqDelKeys(q.Left, keys)
		if !ok {
			return nil, false
		}
		return jqDelKeys(q.Right, keys)
	}
	t := q.Term
	if t == nil || t.Type != gojq.TermTypeIndex || len(t.SuffixList) > 0 {
		return nil, false
	}
	key, ok := jqIndexKey(t.Index)
	if !ok {
		return nil, false
	}
	return append(keys, key), true
}
