package stages

import (
	"cmp"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/itchyny/gojq"
	"github.com/obz-dev/obz/wire"
)

// The jq fast path: the common subset of jq used in filter and map,
// compiled from gojq's AST into closures that read only the fields they
// need from the raw payload bytes. docs/expressions.md lists the subset and
// the rules. An expression outside the subset is run by gojq (decided once,
// at compile time). On an event where the fast path cannot be sure of
// gojq's answer (a runtime error, whose exact message gojq makes; a number
// gojq holds as a big integer; arrays or objects compared with each other)
// it bails, and that one event is run by gojq. A bail happens before
// anything is emitted, so the outcome is always gojq's.

// fastStatus is the outcome of evaluating a node: one output, none, or bail.
type fastStatus uint8

const (
	sOK fastStatus = iota
	sEmpty
	sBail
)

// fastNode evaluates a compiled expression on its input. Every node yields at
// most one output, so a node runs at most once per event and may keep
// per-event scratch state.
type fastNode func(c *fastCtx, in fastValue) (fastValue, fastStatus)

// fastCtx is the per-event state: the payload's top-level fields the
// expression reads, extracted in one scan on first use.
type fastCtx struct {
	payload   []byte
	keys      []string
	extracted bool
	isObject  bool
	slots     [][]byte
	// valid: the payload is known to be valid JSON (a bare line the reader
	// checked). Otherwise (a frame's payload, trusted but not checked) the
	// fast path checks what it reads: each slot's value on first use
	// (checked has bit i once slot i was), or the whole payload where the
	// expression uses more of it than its top-level fields.
	valid   bool
	checked uint64
}

// fastProgram is an expression compiled for the fast path. It is not safe
// for concurrent use (a stage runs one event at a time).
type fastProgram struct {
	root fastNode
	keys []string // top-level fields read from the payload, by slot
	ctx  fastCtx
	// rootUse: the expression uses the payload itself, not only its
	// top-level fields (., has, length, del, select's output ...).
	rootUse bool
	// proj is set for an object of top-level fields ({id, user, n: .amount}),
	// in output order: map writes it straight from the fields' bytes.
	proj []projField
}

// projField is one member of a projection: `"key":` and the field's slot.
type projField struct {
	key  []byte
	slot int
}

// projection returns the members of q when q is an object whose values
// are all top-level fields of the payload, keys sorted and each from its
// last entry, as object() orders them; nil otherwise.
func projection(q *gojq.Query, keys []string) []projField {
	if q.Term == nil || q.Term.Type != gojq.TermTypeObject || len(q.Term.SuffixList) > 0 || len(q.Term.Object.KeyVals) == 0 {
		return nil
	}
	type entry struct{ key, field string }
	var es []entry
	for _, kv := range q.Term.Object.KeyVals {
		var e entry
		switch {
		case kv.KeyString != nil:
			k, ok := jqConstString(kv.KeyString)
			if !ok {
				return nil
			}
			e.key = k
		case kv.KeyQuery == nil && kv.Key != "" && kv.Key[0] != '$' && kv.Key[0] != '@':
			e.key = kv.Key
		default:
			return nil
		}
		switch v := kv.Val; {
		case v == nil:
			e.field = e.key
		case v.Term != nil && v.Term.Type == gojq.TermTypeIndex && len(v.Term.SuffixList) == 0 && v.Op == 0:
			f, ok := jqIndexKey(v.Term.Index)
			if !ok {
				return nil
			}
			e.field = f
		default:
			return nil
		}
		if i := slices.IndexFunc(es, func(x entry) bool { return x.key == e.key }); i >= 0 {
			es[i] = e // the last entry of a key wins
		} else {
			es = append(es, e)
		}
	}
	slices.SortFunc(es, func(a, b entry) int { return strings.Compare(a.key, b.key) })
	proj := make([]projField, len(es))
	for i, e := range es {
		slot := slices.Index(keys, e.field)
		if slot < 0 {
			return nil
		}
		proj[i] = projField{key: append(appendJQString(nil, e.key), ':'), slot: slot}
	}
	return proj
}

// appendProjection writes a projection's output from the fields' raw
// bytes, as appendFastValue would write the object eval builds. done is
// false when the payload is not an object (eval decides); ok is false when
// gojq must decide.
func (p *fastProgram) appendProjection(dst, payload []byte, valid bool) (out []byte, ok, done bool) {
	c := &p.ctx
	c.payload, c.valid, c.checked = payload, valid, 0
	c.extracted, c.isObject = true, scanTop(payload, c.keys, c.slots)
	if !c.isObject {
		return dst, false, false
	}
	start := len(dst)
	dst = append(dst, '{')
	for i, f := range p.proj {
		v := c.slots[f.slot]
		if !valid && v != nil && !wire.Valid(v) {
			return dst[:start], false, true
		}
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, f.key...)
		if v == nil {
			dst = append(dst, "null"...)
		} else if dst, ok = appendJQCanonical(dst, v); !ok {
			return dst[:start], false, true
		}
	}
	return append(dst, '}'), true, true
}

// fastCompiler holds the state of one compilation.
type fastCompiler struct {
	keys    []string
	rootUse bool
}

// use notes that a node's output is consumed: when that output is the
// payload itself (outRoot), the expression uses more than its fields.
func (c *fastCompiler) use(outRoot bool) {
	if outRoot {
		c.rootUse = true
	}
}

// compileFast compiles q for the fast path, or returns nil when q is
// outside the subset.
func compileFast(q *gojq.Query) *fastProgram {
	c := &fastCompiler{}
	root, outRoot, ok := c.query(q, true)
	if !ok {
		return nil
	}
	c.use(outRoot) // filter tests it, map writes it
	// An expression that reads no field (true, 1 == 1) still has gojq
	// parse the payload, and fail on a bad one: count that as a use.
	p := &fastProgram{root: root, keys: c.keys, rootUse: c.rootUse || len(c.keys) == 0 || len(c.keys) > 64}
	if !p.rootUse {
		p.proj = projection(q, c.keys)
	}
	p.ctx.keys = c.keys
	p.ctx.slots = make([][]byte, len(c.keys))
	return p
}

// eval runs the program on one payload; valid says whether the payload is
// known to be valid JSON.
func (p *fastProgram) eval(payload []byte, valid bool) (fastValue, fastStatus) {
	c := &p.ctx
	c.payload, c.extracted, c.valid, c.checked = payload, false, valid, 0
	if !valid && p.rootUse {
		if !wire.Valid(payload) {
			return fastValue{}, sBail // gojq reports the parse error
		}
		c.valid = true
	}
	return p.root(c, fastRaw(payload))
}

// keep reports whether filter keeps the payload, known to be valid JSON;
// ok is false when gojq must decide.
func (p *fastProgram) keep(payload []byte) (keep, ok bool) { return p.keepEvent(payload, true) }

// keepEvent is keep for a payload that is known to be valid JSON or not
// (a frame's payload).
func (p *fastProgram) keepEvent(payload []byte, valid bool) (keep, ok bool) {
	v, st := p.eval(payload, valid)
	switch st {
	case sOK:
		return fastTruthy(v), true
	case sEmpty:
		return false, true
	}
	return false, false
}

// appendOutput appends map's output for payload to dst (gojq.Marshal's
// encoding); n is 0 or 1 outputs; ok is false when gojq must decide.
func (p *fastProgram) appendOutput(dst, payload []byte) (out []byte, n int, ok bool) {
	return p.appendEvent(dst, payload, true)
}

// appendEvent is appendOutput for a payload that is known to be valid JSON
// or not (a frame's payload).
func (p *fastProgram) appendEvent(dst, payload []byte, valid bool) (out []byte, n int, ok bool) {
	if p.proj != nil {
		if out, ok, done := p.appendProjection(dst, payload, valid); done {
			return out, 1, ok
		}
	}
	v, st := p.eval(payload, valid)
	switch st {
	case sOK:
		out, ok = appendFastValue(dst, v)
		return out, 1, ok
	case sEmpty:
		return dst, 0, true
	}
	return dst, 0, false
}

// query compiles q. root says whether q's input is the payload itself;
// outRoot whether q's output is its input unchanged (., select).
func (c *fastCompiler) query(q *gojq.Query, root bool) (n fastNode, outRoot, ok bool) {
	if q == nil || q.Meta != nil || len(q.Imports) > 0 || len(q.FuncDefs) > 0 || len(q.Patterns) > 0 {
		return nil, false, false
	}
	if q.Term != nil {
		return c.term(q.Term, root)
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

// fastBoth evaluates two operands. gojq evaluates the right one first and stops
// at an empty one, so an error on one side and no output on the other can
// go either way: when either bails, gojq decides.
func fastBoth(c *fastCtx, in fastValue, l, r fastNode) (a, b fastValue, st fastStatus) {
	a, st1 := l(c, in)
	b, st2 := r(c, in)
	switch {
	case st1 == sBail || st2 == sBail:
		return a, b, sBail
	case st1 == sEmpty || st2 == sEmpty:
		return a, b, sEmpty
	}
	return a, b, sOK
}

func fastCmpTest(op gojq.Operator) func(int) bool {
	switch op {
	case gojq.OpEq:
		return func(n int) bool { return n == 0 }
	case gojq.OpNe:
		return func(n int) bool { return n != 0 }
	case gojq.OpLt:
		return func(n int) bool { return n < 0 }
	case gojq.OpLe:
		return func(n int) bool { return n <= 0 }
	case gojq.OpGt:
		return func(n int) bool { return n > 0 }
	}
	return func(n int) bool { return n >= 0 }
}

// fastArith is gojq's + - * / % on numbers, + on strings and null; anything
// else, and an int result gojq would widen to a big integer, bails.
func fastArith(op gojq.Operator, a, b fastValue) (fastValue, fastStatus) {
	if op == gojq.OpAdd {
		switch {
		case a.kind == kNull:
			return parsedNumber(b)
		case b.kind == kNull:
			return parsedNumber(a)
		case a.kind == kString && b.kind == kString:
			x, ok1 := fastStringOf(a)
			y, ok2 := fastStringOf(b)
			if !ok1 || !ok2 {
				return fastValue{}, sBail
			}
			return fastValue{kind: kString, str: string(x) + string(y)}, sOK
		}
	}
	if a.kind != kNumber || b.kind != kNumber {
		return fastValue{}, sBail
	}
	x, ok1 := fastNumberOf(a)
	y, ok2 := fastNumberOf(b)
	if !ok1 || !ok2 {
		return fastValue{}, sBail
	}
	num := func(n jqNumber) (fastValue, fastStatus) { return fastValue{kind: kNumber, num: n}, sOK }
	ival := func(i int64) (fastValue, fastStatus) { return num(jqNumber{isInt: true, i: i}) }
	fval := func(f float64) (fastValue, fastStatus) { return num(jqNumber{f: f}) }
	if x.isInt && y.isInt {
		l, r := x.i, y.i
		switch op {
		case gojq.OpAdd:
			if v := l + r; (v >= l) == (r >= 0) {
				return ival(v)
			}
		case gojq.OpSub:
			if v := l - r; (v <= l) == (r >= 0) {
				return ival(v)
			}
		case gojq.OpMul:
			if r == -1 {
				if l != math.MinInt64 {
					return ival(-l)
				}
			} else if v := l * r; r == 0 || v/r == l {
				return ival(v)
			}
		case gojq.OpDiv:
			switch {
			case r == 0:
			case r == -1:
				if l != math.MinInt64 {
					return ival(-l)
				}
			case l%r == 0:
				return ival(l / r)
			default:
				return fval(float64(l) / float64(r))
			}
		case gojq.OpMod:
			switch r {
			case 0:
			case -1:
				return ival(0)
			default:
				return ival(l % r)
			}
		}
		return fastValue{}, sBail
	}
	l, r := x.float(), y.float()
	switch op {
	case gojq.OpAdd:
		return fval(l + r)
	case gojq.OpSub:
		return fval(l - r)
	case gojq.OpMul:
		return fval(l * r)
	case gojq.OpDiv:
		if r != 0 {
			return fval(l / r)
		}
	case gojq.OpMod:
		if math.IsNaN(l) || math.IsNaN(r) {
			return fval(math.NaN())
		}
		if ri := jqFloatToInt(r); ri != 0 {
			return ival(jqFloatToInt(l) % ri)
		}
	}
	return fastValue{}, sBail
}

// parsedNumber returns v, a number from the input as the number gojq parses
// it to (binary operators do so before they look at the types: .a + null
// is 1.5 for an .a of 1.50).
func parsedNumber(v fastValue) (fastValue, fastStatus) {
	if v.kind != kNumber || v.raw == nil {
		return v, sOK
	}
	n, ok := fastNumberOf(v)
	if !ok {
		return fastValue{}, sBail
	}
	return fastValue{kind: kNumber, num: n}, sOK
}

// jqFloatToInt is gojq's: truncation, clamped to the int range.
func jqFloatToInt(x float64) int64 {
	if math.MinInt64 <= x && x < math.MaxInt64 {
		return int64(x)
	}
	if x > 0 {
		return math.MaxInt64
	}
	return math.MinInt64
}

func (c *fastCompiler) term(t *gojq.Term, root bool) (n fastNode, outRoot, ok bool) {
	n, outRoot, ok = c.baseTerm(t, root)
	if !ok {
		return nil, false, false
	}
	for i, s := range t.SuffixList {
		if s.Iter || s.Optional || s.Index == nil {
			return nil, false, false
		}
		key, ok := jqIndexKey(s.Index)
		if !ok {
			return nil, false, false
		}
		if i == 0 && outRoot && t.Type == gojq.TermTypeIdentity {
			n = c.field(key, true)
		} else {
			c.use(outRoot)
			n = fastPipe(n, c.field(key, false))
		}
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
				c.isObject = scanTop(c.payload, c.keys, c.slots)
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

// fastIndex is .key on any value: null on null, a lookup on an input object,
// and a bail (gojq's error) on anything else.
func fastIndex(in fastValue, key string) (fastValue, fastStatus) {
	switch {
	case in.kind == kNull:
		return vNull, sOK
	case in.kind == kObject && in.raw != nil:
		v, ok := fastLookup(in.raw, key)
		if !ok {
			return fastValue{}, sBail
		}
		return v, sOK
	}
	return fastValue{}, sBail
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
			return nil, false, false
		}
		return fastConst(fastValue{kind: kString, str: s}), false, true
	case gojq.TermTypeQuery:
		return c.query(t.Query, root)
	case gojq.TermTypeIndex:
		key, ok := jqIndexKey(t.Index)
		if !ok {
			return nil, false, false
		}
		return c.field(key, root), false, true
	case gojq.TermTypeUnary:
		return c.unary(t.Unary, root)
	case gojq.TermTypeObject:
		return c.object(t.Object, root)
	case gojq.TermTypeFunc:
		return c.function(t.Func, root)
	}
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

// fastNegate is gojq's unary minus: a number from the input is negated as text
// (gojq keeps it a json.Number), a computed one as a number.
func fastNegate(v fastValue) (fastValue, fastStatus) {
	if v.kind != kNumber {
		return fastValue{}, sBail
	}
	if v.raw != nil {
		if v.raw[0] == '-' {
			return fastValue{kind: kNumber, raw: v.raw[1:]}, sOK
		}
		return fastValue{kind: kNumber, raw: append([]byte{'-'}, v.raw...)}, sOK
	}
	if v.num.isInt {
		if v.num.i == math.MinInt64 {
			return fastValue{}, sBail
		}
		return fastValue{kind: kNumber, num: jqNumber{isInt: true, i: -v.num.i}}, sOK
	}
	return fastValue{kind: kNumber, num: jqNumber{f: -v.num.f}}, sOK
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
	out := &fastObject{keys: make([][]byte, len(order)), vals: make([]fastValue, len(order))}
	for i, j := range order {
		out.keys[i] = append(appendJQString(nil, es[j].key), ':')
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
				m := members{b: in.raw, i: 1}
				for {
					ks, ke, _, _, more := m.next()
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
	return nil, false, false
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

// fastLength is gojq's: code points of a string, elements of an array, keys of
// an object, absolute value of a number, 0 for null.
func fastLength(in fastValue) (fastValue, fastStatus) {
	switch in.kind {
	case kNull:
		return fastValue{kind: kNumber, num: jqNumber{isInt: true}}, sOK
	case kNumber:
		if in.raw != nil {
			if in.raw[0] == '-' {
				return fastValue{kind: kNumber, raw: in.raw[1:]}, sOK
			}
			return in, sOK
		}
		if in.num.isInt {
			if in.num.i >= 0 {
				return in, sOK
			}
			return fastNegate(in)
		}
		return fastValue{kind: kNumber, num: jqNumber{f: math.Abs(in.num.f)}}, sOK
	case kString:
		s, ok := fastStringOf(in)
		if !ok {
			return fastValue{}, sBail
		}
		return fastValue{kind: kNumber, num: jqNumber{isInt: true, i: int64(utf8.RuneCount(s))}}, sOK
	case kArray:
		if in.raw == nil {
			return fastValue{}, sBail
		}
		n, ok := fastCountElements(in.raw)
		if !ok {
			return fastValue{}, sBail
		}
		return fastValue{kind: kNumber, num: jqNumber{isInt: true, i: int64(n)}}, sOK
	case kObject:
		if in.raw == nil {
			return fastValue{}, sBail
		}
		var keys []string
		m := members{b: in.raw, i: 1}
		for {
			ks, ke, _, _, more := m.next()
			if !more {
				break
			}
			k, ok := fastDecodeKey(in.raw[ks:ke])
			if !ok {
				return fastValue{}, sBail
			}
			if !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
		if m.bad {
			return fastValue{}, sBail
		}
		return fastValue{kind: kNumber, num: jqNumber{isInt: true, i: int64(len(keys))}}, sOK
	}
	return fastValue{}, sBail
}

// fastCountElements counts the elements of a raw array.
func fastCountElements(raw []byte) (int, bool) {
	i := wsSkip(raw, 1)
	if i < len(raw) && raw[i] == ']' {
		return 0, true
	}
	for n := 1; ; n++ {
		e, ok := valueEnd(raw, i)
		if !ok {
			return 0, false
		}
		i = wsSkip(raw, e)
		switch {
		case i >= len(raw):
			return 0, false
		case raw[i] == ']':
			return n, true
		case raw[i] != ',':
			return 0, false
		}
		i = wsSkip(raw, i+1)
	}
}
