package expr

import (
	"math"
	"strings"

	"github.com/itchyny/gojq"
)

// The compiler of the extended subset: indexes and slices, if, try and ?,
// string interpolation, array constructors, and builtins. Its run-time
// operations are in fast_builtin.go, its generators (.[], map, any, all,
// several outputs) in fast_gen.go.

// suffix compiles an index that is not a constant key: .[n] and slices
// with integer literals. The input is not the payload's top level.
func (c *fastCompiler) suffix(ix *gojq.Index) (fastNode, bool) {
	if key, ok := jqIndexKey(ix); ok {
		return c.field(key, false), true
	}
	if !ix.IsSlice {
		n, ok := jqIntArg(ix.Start)
		if !ok {
			return c.fail("an index that is not a constant key or integer: " + ix.String())
		}
		return func(c *fastCtx, in fastValue) (fastValue, fastStatus) { return fastIndexNum(in, n) }, true
	}
	var start, end *int64
	if ix.Start != nil {
		n, ok := jqIntArg(ix.Start)
		if !ok {
			return c.fail("a slice bound that is not an integer: " + ix.String())
		}
		start = &n
	}
	if ix.End != nil {
		n, ok := jqIntArg(ix.End)
		if !ok {
			return c.fail("a slice bound that is not an integer: " + ix.String())
		}
		end = &n
	}
	return func(c *fastCtx, in fastValue) (fastValue, fastStatus) { return fastSlice(in, start, end) }, true
}

// fail records why an expression is not on the fast path (the first
// reason is kept, for --explain).
func (c *fastCompiler) fail(why string) (fastNode, bool) {
	if c.why == "" {
		c.why = why
	}
	return nil, false
}

// jqIntArg returns the integer literal (optionally negative) q is.
func jqIntArg(q *gojq.Query) (int64, bool) {
	if q == nil || q.Term == nil || len(q.Term.SuffixList) > 0 || q.Op != 0 {
		return 0, false
	}
	switch t := q.Term; t.Type {
	case gojq.TermTypeNumber:
		return fastIntLiteral(t.Number)
	case gojq.TermTypeUnary:
		if t.Unary.Op == gojq.OpSub && t.Unary.Term.Type == gojq.TermTypeNumber && len(t.Unary.Term.SuffixList) == 0 {
			n, ok := fastIntLiteral(t.Unary.Term.Number)
			return -n, ok
		}
	}
	return 0, false
}

// ifThen compiles if/elif/else/end with conditions of one output.
func (c *fastCompiler) ifThen(e *gojq.If, root bool) (fastNode, bool, bool) {
	cond, condRoot, ok := c.query(e.Cond, root)
	if !ok {
		return nil, false, false
	}
	c.use(condRoot)
	then, thenRoot, ok := c.query(e.Then, root)
	if !ok {
		return nil, false, false
	}
	var els fastNode
	elseRoot := root
	switch {
	case len(e.Elif) > 0:
		els, elseRoot, ok = c.ifThen(&gojq.If{Cond: e.Elif[0].Cond, Then: e.Elif[0].Then, Elif: e.Elif[1:], Else: e.Else}, root)
	case e.Else != nil:
		els, elseRoot, ok = c.query(e.Else, root)
	default:
		els = func(c *fastCtx, in fastValue) (fastValue, fastStatus) { return in, sOK }
	}
	if !ok {
		return nil, false, false
	}
	c.use(thenRoot || elseRoot)
	return func(c *fastCtx, in fastValue) (fastValue, fastStatus) {
		v, st := cond(c, in)
		if st != sOK {
			return v, st
		}
		if fastTruthy(v) {
			return then(c, in)
		}
		return els(c, in)
	}, false, true
}

// try compiles try BODY (catch ...) and BODY?: the fast path answers only
// where BODY does not fail, and there try is BODY; where it fails (a bail),
// gojq runs the event, catch and all.
func (c *fastCompiler) try(e *gojq.Try, root bool) (fastNode, bool, bool) {
	return c.query(e.Body, root)
}

// interpolation compiles "text \(q) text": each part's output as
// tostring gives it (or as format does, for @base64 "..."), joined.
func (c *fastCompiler) interpolation(s *gojq.String, root bool, format func(fastValue) (fastValue, fastStatus)) (fastNode, bool, bool) {
	type part struct {
		lit  string
		node fastNode
	}
	var parts []part
	for _, q := range s.Queries {
		if q.Term != nil && q.Term.Type == gojq.TermTypeString && q.Term.Str != nil && q.Term.Str.Queries == nil && len(q.Term.SuffixList) == 0 {
			parts = append(parts, part{lit: q.Term.Str.Str})
			continue
		}
		n, nroot, ok := c.query(q, root)
		if !ok {
			return nil, false, false
		}
		c.use(nroot)
		parts = append(parts, part{node: n})
	}
	var buf []byte
	return func(c *fastCtx, in fastValue) (fastValue, fastStatus) {
		buf = buf[:0]
		// gojq adds the parts right to left; with one output each, the
		// order only matters for which failure is reported: any bail
		// hands the event to gojq.
		empty := false
		for _, p := range parts {
			if p.node == nil {
				buf = append(buf, p.lit...)
				continue
			}
			v, st := p.node(c, in)
			switch st {
			case sBail:
				return v, st
			case sEmpty:
				empty = true
				continue
			}
			if format != nil {
				if v, st = format(v); st != sOK {
					return fastValue{}, sBail
				}
			}
			var ok bool
			if buf, ok = fastInterp(buf, v); !ok {
				return fastValue{}, sBail
			}
		}
		if empty {
			return fastValue{}, sEmpty
		}
		return fastValue{kind: kString, str: string(buf)}, sOK
	}, false, true
}

// array compiles [q]: the outputs of q, collected.
func (c *fastCompiler) array(a *gojq.Array, root bool) (fastNode, bool, bool) {
	if a.Query == nil {
		return func(*fastCtx, fastValue) (fastValue, fastStatus) {
			return fastValue{kind: kArray, obj: &fastObject{}}, sOK
		}, false, true
	}
	if n, ok := c.arrayLiteral(a.Query, root); ok {
		return n, false, true
	}
	g, ok := c.gen(a.Query, root)
	if !ok {
		return nil, false, false
	}
	var col fastCollector
	return func(c *fastCtx, in fastValue) (fastValue, fastStatus) { return col.collect(c, in, g) }, false, true
}

// arrayLiteral compiles [a, b, ...] whose parts each have at most one
// output ([.id, .user]): the node fills one slice of its own on every run
// (a scratch array, which fastOwn copies where it is kept). ok is false
// for any other form, which array compiles as a generator.
func (c *fastCompiler) arrayLiteral(q *gojq.Query, root bool) (fastNode, bool) {
	var parts []*gojq.Query
	var flatten func(q *gojq.Query) bool
	flatten = func(q *gojq.Query) bool {
		if q == nil || q.Op != gojq.OpComma || q.Term != nil || q.Meta != nil || len(q.Imports) > 0 || len(q.FuncDefs) > 0 || len(q.Patterns) > 0 {
			return false
		}
		for _, side := range []*gojq.Query{q.Left, q.Right} {
			if !flatten(side) {
				parts = append(parts, side)
			}
		}
		return true
	}
	if !flatten(q) {
		return nil, false
	}
	why := c.why
	nodes := make([]fastNode, len(parts))
	for i, p := range parts {
		n, outRoot, ok := c.query(p, root)
		if !ok {
			c.why = why // the generator's compilation gives the reason
			return nil, false
		}
		c.use(outRoot)
		nodes[i] = n
	}
	out := &fastObject{scratch: true}
	buf := make([]fastValue, len(nodes))
	return func(c *fastCtx, in fastValue) (fastValue, fastStatus) {
		k := 0
		for _, n := range nodes {
			v, st := n(c, in)
			switch st {
			case sBail:
				return fastValue{}, sBail
			case sOK:
				buf[k] = v
				k++
			}
		}
		// Full-slice: an append to the array copies it, never writes
		// into the buffer.
		out.elems = buf[:k:k]
		return fastValue{kind: kArray, obj: out}, sOK
	}, true
}

// arg1 compiles the one argument of a builtin; it runs on the builtin's
// input.
func (c *fastCompiler) arg1(f *gojq.Func, root bool) (fastNode, bool) {
	n, nroot, ok := c.query(f.Args[0], root)
	if !ok {
		return nil, false
	}
	c.use(nroot)
	return n, true
}

// unaryFn builds a node of a builtin with no argument.
func unaryFn(op func(fastValue) (fastValue, fastStatus)) fastNode {
	return func(c *fastCtx, in fastValue) (fastValue, fastStatus) { return op(in) }
}

// binaryFn builds a node of a builtin with one argument: the argument is
// evaluated on the input, as gojq's argFunc1 does.
func binaryFn(arg fastNode, op func(in, x fastValue) (fastValue, fastStatus)) fastNode {
	return func(c *fastCtx, in fastValue) (fastValue, fastStatus) {
		x, st := arg(c, in)
		if st != sOK {
			return x, st
		}
		return op(in, x)
	}
}

var fastMathFuncs = map[string]func(float64) float64{
	"floor": math.Floor, "round": math.Round, "ceil": math.Ceil, "fabs": math.Abs, "sqrt": math.Sqrt,
}

// builtin compiles the builtins of the extended subset.
func (c *fastCompiler) builtin(f *gojq.Func, root bool) (fastNode, bool, bool) {
	name, arity := f.Name, len(f.Args)
	if arity == 0 && strings.HasPrefix(name, "$") {
		n, ok := c.variable(name)
		return n, false, ok
	}
	c.use(root) // they all look at their input
	if arity == 0 {
		if m, ok := fastMathFuncs[name]; ok {
			return func(c *fastCtx, in fastValue) (fastValue, fastStatus) { return fastMath(in, m) }, false, true
		}
		switch name {
		case "ascii_downcase", "ascii_upcase":
			down := name == "ascii_downcase"
			return unaryFn(func(v fastValue) (fastValue, fastStatus) { return fastASCIICase(v, down) }), false, true
		case "tostring":
			return unaryFn(fastToString), false, true
		case "tonumber":
			return unaryFn(fastToNumber), false, true
		case "type":
			return unaryFn(func(v fastValue) (fastValue, fastStatus) {
				return fastValue{kind: kString, str: fastTypeName(v)}, sOK
			}), false, true
		case "keys":
			a := new(fastLazyArray)
			return unaryFn(func(v fastValue) (fastValue, fastStatus) { return fastKeys(a, v) }), false, true
		case "to_entries":
			a := new(fastLazyArray)
			return unaryFn(func(v fastValue) (fastValue, fastStatus) { return fastToEntries(a, v) }), false, true
		case "first":
			return unaryFn(func(v fastValue) (fastValue, fastStatus) { return fastIndexNum(v, 0) }), false, true
		case "last":
			return unaryFn(func(v fastValue) (fastValue, fastStatus) { return fastIndexNum(v, -1) }), false, true
		case "add":
			return unaryFn(fastAdd), false, true
		case "any", "all":
			return c.anyAll(name == "any", nil, nil, root)
		case "sort", "unique":
			op, b := fastSort, new(fastArrayBuf)
			if name == "unique" {
				op = fastUnique
			}
			return unaryFn(func(v fastValue) (fastValue, fastStatus) { return op(b, v) }), false, true
		case "min", "max":
			isMin := name == "min"
			return unaryFn(func(v fastValue) (fastValue, fastStatus) { return fastMinMax(v, isMin) }), false, true
		case "reverse":
			b := new(fastArrayBuf)
			return unaryFn(func(v fastValue) (fastValue, fastStatus) { return fastReverse(b, v) }), false, true
		case "trim", "ltrim", "rtrim":
			left, right := name != "rtrim", name != "ltrim"
			return unaryFn(func(v fastValue) (fastValue, fastStatus) { return fastTrim(v, left, right) }), false, true
		case "tojson":
			return unaryFn(fastToJSON), false, true
		case "from_entries":
			return unaryFn(fastFromEntries), false, true
		case "explode":
			return unaryFn(fastExplode), false, true
		}
	}
	if arity == 1 {
		var op func(in, x fastValue) (fastValue, fastStatus)
		switch name {
		case "startswith", "endswith":
			start := name == "startswith"
			op = func(in, x fastValue) (fastValue, fastStatus) { return fastStartsEnds(in, x, start) }
		case "ltrimstr", "rtrimstr":
			left := name == "ltrimstr"
			op = func(in, x fastValue) (fastValue, fastStatus) { return fastTrimStr(in, x, left) }
		case "split":
			b := new(fastArrayBuf)
			op = func(in, x fastValue) (fastValue, fastStatus) { return fastSplit(b, in, x) }
		case "index":
			op = fastIndexOf
		case "join":
			op = fastJoin
		case "contains":
			if a := f.Args[0]; a.Term != nil && a.Term.Type == gojq.TermTypeArray && len(a.Term.SuffixList) == 0 && a.Term.Array.Query != nil {
				// contains(["vip"]): the array is made once (contains
				// only reads it).
				if consts, ok := jqConstList(a.Term.Array.Query, nil); ok {
					return binaryFn(fastConst(fastValue{kind: kArray, obj: &fastObject{elems: consts}}), fastContains), false, true
				}
			}
			op = fastContains
		case "IN":
			return c.inSet(f.Args[0], root)
		case "with_entries":
			return c.withEntries(f.Args[0], root)
		case "map":
			return c.mapArray(f.Args[0])
		case "any", "all":
			return c.anyAll(name == "any", nil, f.Args[0], root)
		case "first":
			return c.firstOf(f.Args[0], root)
		}
		if op != nil {
			arg, ok := c.arg1(f, root)
			if !ok {
				return nil, false, false
			}
			return binaryFn(arg, op), false, true
		}
	}
	if arity == 2 && (name == "any" || name == "all") {
		return c.anyAll(name == "any", f.Args[0], f.Args[1], root)
	}
	c.fail("the builtin " + name + "/" + string(rune('0'+arity)))
	return nil, false, false
}
