package expr

import (
	"github.com/itchyny/gojq"
)

// Generators: the forms of the subset with any number of outputs (.[],
// `f, g`, and pipes of them). They are compiled to fastGen, which calls
// yield with each output in gojq's order; they appear at the top of an
// expression (map emits every output) and inside [...], map, any, all and
// first, which consume them. A bail anywhere hands the whole event to
// gojq, before anything is emitted.

// fastGen runs a generator on its input; yield returns false to stop it.
// It returns sBail when gojq must decide, sOK otherwise.
type fastGen func(c *fastCtx, in fastValue, yield func(fastValue) bool) fastStatus

// gen compiles q as a generator.
func (c *fastCompiler) gen(q *gojq.Query, root bool) (fastGen, bool) {
	// Where q compiles as a generator, the reason it did not as a node is
	// not one; where it does not, the first reason is the one --explain
	// gives.
	why := c.why
	g, ok := c.genOf(q, root)
	if ok {
		c.why = why
	}
	return g, ok
}

func (c *fastCompiler) genOf(q *gojq.Query, root bool) (fastGen, bool) {
	if n, outRoot, ok := c.query(q, root); ok {
		c.use(outRoot)
		return fastGenOf(n), true
	}
	if q == nil || q.Meta != nil || len(q.Imports) > 0 || len(q.FuncDefs) > 0 || len(q.Patterns) > 0 {
		return nil, false
	}
	switch {
	case q.Term != nil:
		return c.termGen(q.Term, root)
	case q.Op == gojq.OpPipe:
		l, ok := c.gen(q.Left, root)
		if !ok {
			return nil, false
		}
		// The right side sees the left's outputs: not the payload itself
		// (where the left passes it on, it was used as a whole already).
		r, ok := c.gen(q.Right, false)
		if !ok {
			return nil, false
		}
		return newFastGenPipe(l, r).run, true
	case q.Op == gojq.OpComma:
		l, ok1 := c.gen(q.Left, root)
		r, ok2 := c.gen(q.Right, root)
		if !ok1 || !ok2 {
			return nil, false
		}
		g := &fastGenComma{l: l, r: r}
		g.left = func(v fastValue) bool { g.stop = !g.yield(v); return !g.stop }
		return g.run, true
	}
	if q.Op == 0 {
		// No operator (gojq.Operator.String panics on it): a query of
		// nothing, which CompileEnv refuses before this.
		c.fail("an empty query")
		return nil, false
	}
	c.fail("the operator " + q.Op.String() + " on several outputs")
	return nil, false
}

// fastGenPipe is `l | r` of generators: r runs on each of l's outputs. Its
// callbacks are made once, at compile time (closures made per run are
// allocated), and its state is per run: a node is never run inside its
// own run (the subset has no recursion), so one state is enough.
type fastGenPipe struct {
	l, r        fastGen
	c           *fastCtx
	yield       func(fastValue) bool
	st          fastStatus
	stop        bool
	left, right func(fastValue) bool
}

func newFastGenPipe(l, r fastGen) *fastGenPipe {
	p := &fastGenPipe{l: l, r: r}
	p.left = func(v fastValue) bool {
		p.st = p.r(p.c, v, p.right)
		return p.st == sOK && !p.stop
	}
	p.right = func(w fastValue) bool {
		p.stop = !p.yield(w)
		return !p.stop
	}
	return p
}

func (p *fastGenPipe) run(c *fastCtx, in fastValue, yield func(fastValue) bool) fastStatus {
	p.c, p.yield, p.st, p.stop = c, yield, sOK, false
	lst := p.l(c, in, p.left)
	p.yield = nil
	if lst == sBail || p.st == sBail {
		return sBail
	}
	return sOK
}

// fastGenComma is `l, r` of generators, its callback made once as
// fastGenPipe's.
type fastGenComma struct {
	l, r  fastGen
	yield func(fastValue) bool
	stop  bool
	left  func(fastValue) bool
}

func (g *fastGenComma) run(c *fastCtx, in fastValue, yield func(fastValue) bool) fastStatus {
	g.yield, g.stop = yield, false
	st := g.l(c, in, g.left)
	g.yield = nil
	if st == sBail {
		return sBail
	}
	if g.stop {
		return sOK
	}
	return g.r(c, in, yield)
}

// fastGenIter is .[] as a generator.
func fastGenIter(c *fastCtx, in fastValue, yield func(fastValue) bool) fastStatus {
	if !fastIterate(in, yield) {
		return sBail
	}
	return sOK
}

// fastGenOf makes a node of one output a generator.
func fastGenOf(n fastNode) fastGen {
	return func(c *fastCtx, in fastValue, yield func(fastValue) bool) fastStatus {
		v, st := n(c, in)
		if st == sOK {
			yield(v)
		}
		if st == sBail {
			return sBail
		}
		return sOK
	}
}

// termGen compiles a term with .[] among its suffixes (.tags[], .items[].sku,
// .[]?) or a parenthesised generator.
func (c *fastCompiler) termGen(t *gojq.Term, root bool) (fastGen, bool) {
	k := -1
	for i, s := range t.SuffixList {
		if s.Iter {
			k = i
			break
		}
	}
	var g fastGen
	switch {
	case k >= 0:
		head := *t
		head.SuffixList = t.SuffixList[:k]
		n, outRoot, ok := c.term(&head, root)
		if !ok {
			return nil, false
		}
		c.use(outRoot)
		g = func(c *fastCtx, in fastValue, yield func(fastValue) bool) fastStatus {
			v, st := n(c, in)
			switch st {
			case sBail:
				return sBail
			case sEmpty:
				return sOK
			}
			if !fastIterate(v, yield) {
				return sBail
			}
			return sOK
		}
	case t.Type == gojq.TermTypeQuery && len(t.SuffixList) == 0:
		return c.gen(t.Query, root)
	case t.Type == gojq.TermTypeFunc && t.Func.Name == "limit" && len(t.Func.Args) == 2 && len(t.SuffixList) == 0:
		return c.limitGen(t.Func, root)
	default:
		c.fail("a term with several outputs: " + t.String())
		return nil, false
	}
	// The suffixes after the first .[] run on each of its outputs.
	for _, s := range t.SuffixList[k+1:] {
		switch {
		case s.Optional:
			continue
		case s.Iter:
			g = newFastGenPipe(g, fastGenIter).run
		default:
			n, ok := c.suffix(s.Index)
			if !ok {
				return nil, false
			}
			g = newFastGenPipe(g, fastGenOf(n)).run
		}
	}
	return g, true
}

// fastCollector collects a generator's outputs into an array, for the
// node of [g] or map(f): in a buffer of the node's, reused on its next run
// (a scratch array, as an array literal's), with callbacks made once.
type fastCollector struct {
	buf  []fastValue
	arr  fastObject
	add  func(fastValue) bool // appends an output to buf
	each func(fastValue) bool // runs body on an element (map)
	body fastGen
	c    *fastCtx
	st   fastStatus
}

// result returns the collected array.
func (col *fastCollector) result() fastValue {
	col.arr = fastObject{elems: col.buf[:len(col.buf):len(col.buf)], scratch: true}
	return fastValue{kind: kArray, obj: &col.arr}
}

// collect runs g and collects its outputs.
func (col *fastCollector) collect(c *fastCtx, in fastValue, g fastGen) (fastValue, fastStatus) {
	if col.add == nil {
		col.add = func(v fastValue) bool { col.buf = append(col.buf, fastOwn(v)); return true }
	}
	col.buf = col.buf[:0]
	if g(c, in, col.add) == sBail {
		return fastValue{}, sBail
	}
	return col.result(), sOK
}

// mapArray compiles map(f), which is [.[] | f].
func (c *fastCompiler) mapArray(f *gojq.Query) (fastNode, bool, bool) {
	body, ok := c.gen(f, false)
	if !ok {
		return nil, false, false
	}
	col := &fastCollector{body: body}
	col.add = func(v fastValue) bool { col.buf = append(col.buf, fastOwn(v)); return true }
	col.each = func(v fastValue) bool {
		col.st = col.body(col.c, v, col.add)
		return col.st == sOK
	}
	return func(c *fastCtx, in fastValue) (fastValue, fastStatus) {
		col.buf, col.c, col.st = col.buf[:0], c, sOK
		if !fastIterate(in, col.each) || col.st == sBail {
			return fastValue{}, sBail
		}
		return col.result(), sOK
	}, false, true
}

// anyAll compiles any, any(cond), any(gen; cond) and all's forms, which
// stop at the first output of cond that decides (gojq's isempty(first(...))).
// gen nil is .[]; cond nil is the element itself.
func (c *fastCompiler) anyAll(isAny bool, genQ, condQ *gojq.Query, root bool) (fastNode, bool, bool) {
	var g fastGen
	if genQ == nil {
		g = fastGenIter
	} else {
		var ok bool
		if g, ok = c.gen(genQ, root); !ok {
			return nil, false, false
		}
	}
	cond := fastGenOf(func(c *fastCtx, in fastValue) (fastValue, fastStatus) { return in, sOK })
	if condQ != nil {
		var ok bool
		if cond, ok = c.gen(condQ, false); !ok {
			return nil, false, false
		}
	}
	// The callbacks are made once and keep their state in a (as
	// fastGenPipe's).
	a := &struct {
		c      *fastCtx
		found  bool
		st     fastStatus
		elem   func(fastValue) bool
		decide func(fastValue) bool
	}{}
	a.decide = func(w fastValue) bool {
		if fastTruthy(w) == isAny {
			a.found = true
		}
		return !a.found
	}
	a.elem = func(v fastValue) bool {
		a.st = cond(a.c, v, a.decide)
		return a.st == sOK && !a.found
	}
	return func(c *fastCtx, in fastValue) (fastValue, fastStatus) {
		a.c, a.found, a.st = c, false, sOK
		gst := g(c, in, a.elem)
		if gst == sBail || a.st == sBail {
			return fastValue{}, sBail
		}
		return fastBool(a.found == isAny), sOK
	}, false, true
}

// firstOf compiles first(g): g's first output, or none.
func (c *fastCompiler) firstOf(q *gojq.Query, root bool) (fastNode, bool, bool) {
	g, ok := c.gen(q, root)
	if !ok {
		return nil, false, false
	}
	return func(c *fastCtx, in fastValue) (fastValue, fastStatus) {
		var out fastValue
		found := false
		if g(c, in, func(v fastValue) bool { out, found = v, true; return false }) == sBail {
			return fastValue{}, sBail
		}
		if !found {
			return fastValue{}, sEmpty
		}
		return out, sOK
	}, false, true
}

// fastAdd is add: the elements of an array (values of an object) added
// left to right, nulls skipped; strings concatenated, numbers with gojq's
// arithmetic. Arrays and objects bail.
func fastAdd(v fastValue) (fastValue, fastStatus) {
	acc, st := vNull, sOK
	var sb []byte
	str := false
	if !fastIterate(v, func(x fastValue) bool {
		switch {
		case x.kind == kNull:
			return true
		case x.kind == kString && (str || acc.kind == kNull):
			s, ok := fastStringOf(x)
			if !ok {
				st = sBail
				return false
			}
			sb, str = append(sb, s...), true
			return true
		case x.kind == kNumber && !str:
			if acc.kind == kNull {
				acc, st = parsedNumber(x)
			} else {
				acc, st = fastArith(gojq.OpAdd, acc, x)
			}
			return st == sOK
		}
		st = sBail
		return false
	}) {
		return fastValue{}, sBail
	}
	if st != sOK {
		return fastValue{}, sBail
	}
	if str {
		return fastValue{kind: kString, str: string(sb)}, sOK
	}
	return acc, sOK
}

// fastJoin is join(sep) with a string sep: the elements' text (numbers and
// booleans as JSON, null as nothing) with sep between them.
func fastJoin(v, sep fastValue) (fastValue, fastStatus) {
	if sep.kind != kString || (v.kind != kArray && v.kind != kObject) {
		return fastValue{}, sBail
	}
	s, ok := fastStringOf(sep)
	if !ok {
		return fastValue{}, sBail
	}
	var b []byte
	n, st := 0, sOK
	if !fastIterate(v, func(x fastValue) bool {
		if n > 0 {
			b = append(b, s...)
		}
		n++
		switch x.kind {
		case kNull:
		case kString:
			t, ok := fastStringOf(x)
			if !ok {
				st = sBail
				return false
			}
			b = append(b, t...)
		case kNumber, kTrue, kFalse:
			var ok bool
			if b, ok = appendFastValue(b, x); !ok {
				st = sBail
				return false
			}
		default:
			st = sBail
			return false
		}
		return true
	}) || st != sOK {
		return fastValue{}, sBail
	}
	return fastValue{kind: kString, str: string(b)}, sOK
}

// limitGen compiles limit(n; g) for an integer literal n >= 0: g's first n
// outputs; g is not run past the n-th (gojq breaks out of its foreach).
func (c *fastCompiler) limitGen(f *gojq.Func, root bool) (fastGen, bool) {
	a := f.Args[0]
	if a.Term == nil || a.Term.Type != gojq.TermTypeNumber || len(a.Term.SuffixList) > 0 {
		c.fail("limit with a count that is not an integer literal")
		return nil, false
	}
	n, ok := fastIntLiteral(a.Term.Number)
	if !ok || n < 0 {
		c.fail("limit with a count that is not an integer literal")
		return nil, false
	}
	c.use(root) // the count is a literal; the input goes to g
	g, ok := c.gen(f.Args[1], root)
	if !ok {
		return nil, false
	}
	// The callback is made once and keeps its state in l (as
	// fastGenPipe's).
	l := &struct {
		left  int64
		yield func(fastValue) bool
		each  func(fastValue) bool
	}{}
	l.each = func(v fastValue) bool {
		l.left--
		return l.yield(v) && l.left > 0
	}
	return func(c *fastCtx, in fastValue, yield func(fastValue) bool) fastStatus {
		if n == 0 {
			return sOK
		}
		l.left, l.yield = n, yield
		st := g(c, in, l.each)
		l.yield = nil
		return st
	}, true
}
