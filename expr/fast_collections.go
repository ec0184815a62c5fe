package expr

import (
	"encoding/base64"
	"slices"
	"strings"
	"unicode"

	"github.com/itchyny/gojq"
)

// Builtins on arrays of scalars and on strings that realistic expressions
// use (sort, unique, min, max, reverse, contains, IN, trim, @text, @json),
// each with gojq's semantics (func.go and builtin.jq of gojq v0.12.20).
// Where an answer would depend on comparing arrays or objects, or on gojq's
// error, they bail.

// fastSortedElems appends to dst the elements of an array sorted as
// gojq's sort does (stable, by gojq's Compare); ok is false for anything
// else than an array, or where two elements are not comparable by the
// fast path (arrays, objects, big numbers).
func fastSortedElems(dst []fastValue, v fastValue) ([]fastValue, bool) {
	if v.kind != kArray {
		return nil, false
	}
	es, ok := fastElemsInto(dst[:0], v)
	if !ok {
		return nil, false
	}
	if v.obj != nil {
		es = append(dst[:0], es...) // a built array's own elements: a copy
	}
	for _, e := range es {
		if e.kind == kArray || e.kind == kObject {
			return nil, false
		}
	}
	slices.SortStableFunc(es, func(a, b fastValue) int {
		n, cmpOK := fastCompare(a, b)
		ok = ok && cmpOK
		return n
	})
	return es, ok
}

// fastArrayBuf is the array a node builds (sort, unique, reverse), in a
// buffer it reuses on its next run: a scratch array, which fastOwn copies
// where it is kept.
type fastArrayBuf struct {
	buf []fastValue
	arr fastObject
}

// result returns es, built in b.buf, as the node's array.
func (b *fastArrayBuf) result(es []fastValue) fastValue {
	b.buf = es[:0]
	b.arr = fastObject{elems: es[:len(es):len(es)], scratch: true}
	return fastValue{kind: kArray, obj: &b.arr}
}

// fastElemsInto is fastElems appending a raw array's elements to dst
// (a built array's elements are returned as they are).
func fastElemsInto(dst []fastValue, v fastValue) ([]fastValue, bool) {
	if v.obj != nil {
		return v.obj.array(), true
	}
	raw := v.raw
	i := wsSkip(raw, 1)
	if i < len(raw) && raw[i] == ']' {
		return dst, true
	}
	for {
		e, ok := valueEnd(raw, i)
		if !ok {
			return nil, false
		}
		dst = append(dst, fastRaw(raw[i:e]))
		i = wsSkip(raw, e)
		switch {
		case i >= len(raw):
			return nil, false
		case raw[i] == ']':
			return dst, true
		case raw[i] != ',':
			return nil, false
		}
		i = wsSkip(raw, i+1)
	}
}

// fastSort is sort.
func fastSort(b *fastArrayBuf, v fastValue) (fastValue, fastStatus) {
	es, ok := fastSortedElems(b.buf, v)
	if !ok {
		return fastValue{}, sBail
	}
	return b.result(es), sOK
}

// fastUnique is unique: sorted, of equal elements the first one kept.
func fastUnique(b *fastArrayBuf, v fastValue) (fastValue, fastStatus) {
	es, ok := fastSortedElems(b.buf, v)
	if !ok {
		return fastValue{}, sBail
	}
	out := es[:0]
	for i, e := range es {
		if i > 0 {
			if n, _ := fastCompare(out[len(out)-1], e); n == 0 {
				continue
			}
		}
		out = append(out, e)
	}
	return b.result(out), sOK
}

// fastMinMax is min (isMin) or max: null for [], else the first minimal
// or the last maximal element, as gojq's minMaxBy picks them.
func fastMinMax(v fastValue, isMin bool) (fastValue, fastStatus) {
	if v.kind != kArray {
		return fastValue{}, sBail
	}
	var buf [8]fastValue
	es, ok := fastElemsInto(buf[:0], v)
	if !ok {
		return fastValue{}, sBail
	}
	if len(es) == 0 {
		return vNull, sOK
	}
	x := es[0]
	for _, e := range es {
		if e.kind == kArray || e.kind == kObject {
			return fastValue{}, sBail
		}
	}
	for _, e := range es[1:] {
		n, ok := fastCompare(x, e)
		if !ok {
			return fastValue{}, sBail
		}
		if n > 0 == isMin {
			x = e
		}
	}
	return x, sOK
}

// fastReverse is reverse: an array's elements in reverse order; anything
// else is gojq's error (null and strings included, in v0.12.20).
func fastReverse(b *fastArrayBuf, v fastValue) (fastValue, fastStatus) {
	if v.kind != kArray {
		return fastValue{}, sBail
	}
	var buf [8]fastValue
	es, ok := fastElemsInto(buf[:0], v)
	if !ok {
		return fastValue{}, sBail
	}
	out := b.buf[:0]
	for i := range es {
		out = append(out, es[len(es)-1-i])
	}
	return b.result(out), sOK
}

// fastTrim is trim, ltrim (left) or rtrim (right): white space as
// unicode.IsSpace has it, as gojq trims.
func fastTrim(v fastValue, left, right bool) (fastValue, fastStatus) {
	s, ok := fastString(v)
	if !ok {
		return fastValue{}, sBail
	}
	t := s
	if left {
		t = strings.TrimLeftFunc(t, unicode.IsSpace)
	}
	if right {
		t = strings.TrimRightFunc(t, unicode.IsSpace)
	}
	if len(t) == len(s) && v.raw != nil {
		return v, sOK
	}
	return fastValue{kind: kString, str: t}, sOK
}

// fastToJSON is tojson (@json): the value's JSON text as gojq writes it.
func fastToJSON(v fastValue) (fastValue, fastStatus) {
	b, ok := appendFastValue(nil, v)
	if !ok {
		return fastValue{}, sBail
	}
	return fastValue{kind: kString, str: string(b)}, sOK
}

// fastContains is contains: substrings for strings; for arrays, every
// element of the argument contained in some element of the input (of
// scalars: strings by substring, numbers by value, null and booleans by
// being the same); equal nulls and booleans. Objects, nested arrays and
// gojq's type errors bail.
func fastContains(v, x fastValue) (fastValue, fastStatus) {
	switch {
	case v.kind == kString && x.kind == kString:
		s, t, ok := fastStrings(v, x)
		if !ok {
			return fastValue{}, sBail
		}
		return fastBool(strings.Contains(s, t)), sOK
	case v.kind == kArray && x.kind == kArray:
		var lbuf, rbuf [8]fastValue
		ls, ok1 := fastElemsInto(lbuf[:0], v)
		rs, ok2 := fastElemsInto(rbuf[:0], x)
		if !ok1 || !ok2 {
			return fastValue{}, sBail
		}
		for _, es := range [][]fastValue{ls, rs} {
			for _, e := range es {
				if e.kind == kArray || e.kind == kObject {
					return fastValue{}, sBail
				}
			}
		}
	next:
		for _, r := range rs {
			for _, l := range ls {
				in, ok := fastScalarContains(l, r)
				if !ok {
					return fastValue{}, sBail
				}
				if in {
					continue next
				}
			}
			return vFalse, sOK
		}
		return vTrue, sOK
	case v.kind == x.kind && (v.kind == kNull || v.kind == kTrue || v.kind == kFalse):
		return vTrue, sOK
	}
	return fastValue{}, sBail
}

// fastScalarContains is gojq's contains of two scalars inside arrays,
// where a type error counts as not contained.
func fastScalarContains(l, r fastValue) (in, ok bool) {
	if l.kind != r.kind {
		return false, true
	}
	switch l.kind {
	case kString:
		s, t, ok := fastStrings(l, r)
		return ok && strings.Contains(s, t), ok
	case kNumber:
		n, ok := fastCompare(l, r)
		return ok && n == 0, ok
	}
	return true, true // null, true, false: the same
}

// inSet compiles IN(s), which is any(s == .; .): whether some output of
// s (run on the input) equals the input, stopping at the first that does.
func (c *fastCompiler) inSet(s *gojq.Query, root bool) (fastNode, bool, bool) {
	if consts, ok := jqConstList(s, nil); ok {
		// IN("DE", "FR"): the outputs are known; no generator to run.
		return func(c *fastCtx, in fastValue) (fastValue, fastStatus) {
			for _, w := range consts {
				n, ok := fastCompare(w, in)
				if !ok {
					return fastValue{}, sBail
				}
				if n == 0 {
					return vTrue, sOK
				}
			}
			return vFalse, sOK
		}, false, true
	}
	g, ok := c.gen(s, root)
	if !ok {
		return nil, false, false
	}
	return func(c *fastCtx, in fastValue) (fastValue, fastStatus) {
		found, bad := false, false
		st := g(c, in, func(w fastValue) bool {
			n, ok := fastCompare(w, in)
			switch {
			case !ok:
				bad = true
			case n == 0:
				found = true
			}
			return !bad && !found
		})
		if st == sBail || bad {
			return fastValue{}, sBail
		}
		return fastBool(found), sOK
	}, false, true
}

// fastFromEntries is from_entries (gojq's `map({(.key // .Key // .name //
// .Name): if has("value") then .value else .Value end}) | add // {}`) on
// an array of objects whose "key" is a string: an object of those keys
// (sorted, a repeated key with its last value). Other keys (null, false,
// numbers: gojq falls back to .Key ... or fails), and a null "value" where
// "Value" is not null (has decides), bail.
func fastFromEntries(v fastValue) (fastValue, fastStatus) {
	if v.kind != kArray {
		return fastValue{}, sBail
	}
	es, ok := fastElems(v)
	if !ok {
		return fastValue{}, sBail
	}
	ms := make([]fastEntry, 0, len(es))
	for _, e := range es {
		m, ok := fastEntryOf(e)
		if !ok {
			return fastValue{}, sBail
		}
		ms = append(ms, m)
	}
	// Stable, so that of equal keys the last one comes last.
	slices.SortStableFunc(ms, func(a, b fastEntry) int { return strings.Compare(a.name, b.name) })
	o := &fastObject{}
	for i, m := range ms {
		if i+1 < len(ms) && ms[i+1].name == m.name {
			continue
		}
		o.keys = append(o.keys, append(appendJQString(nil, m.name), ':'))
		o.names = append(o.names, m.name)
		o.vals = append(o.vals, m.val)
	}
	return fastValue{kind: kObject, obj: o}, sOK
}

// fastEntry is the member an entry of from_entries gives.
type fastEntry struct {
	name string
	val  fastValue
}

// fastEntryOf reads one entry of from_entries: an object with a string
// "key" and its "value" (owned: fastOwn); ok is false where
// fastFromEntries bails.
func fastEntryOf(e fastValue) (fastEntry, bool) {
	if e.kind != kObject {
		return fastEntry{}, false
	}
	k, st := fastIndex(e, "key")
	if st != sOK || k.kind != kString {
		return fastEntry{}, false
	}
	name, ok := fastString(k)
	if !ok {
		return fastEntry{}, false
	}
	x, st := fastIndex(e, "value")
	if st != sOK {
		return fastEntry{}, false
	}
	if x.kind == kNull {
		if y, st := fastIndex(e, "Value"); st != sOK || y.kind != kNull {
			return fastEntry{}, false
		}
	}
	return fastEntry{name, fastOwn(x)}, true
}

// withEntries compiles with_entries(f) as gojq defines it:
// to_entries | map(f) | from_entries.
func (c *fastCompiler) withEntries(f *gojq.Query, root bool) (fastNode, bool, bool) {
	fn := func(name string, args ...*gojq.Query) *gojq.Query {
		return &gojq.Query{Term: &gojq.Term{Type: gojq.TermTypeFunc, Func: &gojq.Func{Name: name, Args: args}}}
	}
	q := &gojq.Query{Left: fn("to_entries"), Op: gojq.OpPipe,
		Right: &gojq.Query{Left: fn("map", f), Op: gojq.OpPipe, Right: fn("from_entries")}}
	general, outRoot, ok := c.query(q, root)
	c.use(outRoot)
	if !ok {
		return nil, false, false
	}
	body, ok := c.gen(f, false)
	if !ok {
		return nil, false, false
	}
	w := &fastWithEntries{body: body}
	w.add = func(e fastValue) bool {
		m, ok := fastEntryOf(e)
		if !ok {
			w.bad = true
			return false
		}
		w.ms = append(w.ms, m)
		return true
	}
	return func(c *fastCtx, in fastValue) (fastValue, fastStatus) {
		if in.kind != kObject || in.raw == nil {
			return general(c, in)
		}
		return w.run(c, in, general)
	}, false, true
}

// fastWithEntries is with_entries(f) on an input object in one pass: f
// runs on each member's {key, value} entry (one object, refilled), its
// outputs are read as from_entries reads them, and the object made of
// them is in buffers of the node's, reused on its next run (a scratch
// object, which fastOwn copies where it is kept).
type fastWithEntries struct {
	body  fastGen
	add   func(fastValue) bool
	bad   bool
	spans [sortMemberSpansInsertion]memberSpan
	entry fastObject
	pair  [2]fastValue
	ms    []fastEntry
	kbuf  []byte
	ends  []int
	keys  [][]byte
	names []string
	vals  []fastValue
	out   fastObject
}

func (w *fastWithEntries) run(c *fastCtx, in fastValue, general fastNode) (fastValue, fastStatus) {
	spans, plain, ok := fastSortedMembers(w.spans[:0], in.raw)
	if !plain {
		return general(c, in) // a key with an escape
	}
	if !ok {
		return fastValue{}, sBail
	}
	w.ms, w.bad = w.ms[:0], false
	for _, m := range spans {
		w.pair[0] = fastValue{kind: kString, str: bytesString(in.raw[m.ks:m.ke])}
		w.pair[1] = fastRaw(in.raw[m.vs:m.ve])
		w.entry = fastObject{keys: entryKeys, names: entryNames, vals: w.pair[:]}
		if w.body(c, fastValue{kind: kObject, obj: &w.entry}, w.add) == sBail || w.bad {
			return fastValue{}, sBail
		}
	}
	// Stable, so that of equal keys the last one comes last.
	slices.SortStableFunc(w.ms, func(a, b fastEntry) int { return strings.Compare(a.name, b.name) })
	w.kbuf, w.ends, w.names, w.vals = w.kbuf[:0], w.ends[:0], w.names[:0], w.vals[:0]
	for i, m := range w.ms {
		if i+1 < len(w.ms) && w.ms[i+1].name == m.name {
			continue
		}
		w.kbuf = append(appendJQString(w.kbuf, m.name), ':')
		w.ends = append(w.ends, len(w.kbuf))
		w.names = append(w.names, m.name)
		w.vals = append(w.vals, m.val)
	}
	// The keys' text is in kbuf, which the appends may have moved.
	w.keys = w.keys[:0]
	start := 0
	for _, end := range w.ends {
		w.keys = append(w.keys, w.kbuf[start:end:end])
		start = end
	}
	w.out = fastObject{keys: w.keys, names: w.names, vals: w.vals, scratch: true}
	return fastValue{kind: kObject, obj: &w.out}, sOK
}

// fastFormats are the formats of the fast path, by name.
var fastFormats = map[string]func(fastValue) (fastValue, fastStatus){
	"@text": fastToString, "@json": fastToJSON, "@base64": fastToBase64,
}

// fastToBase64 is @base64: the standard encoding, padded, of the input's
// tostring.
func fastToBase64(v fastValue) (fastValue, fastStatus) {
	var b []byte
	if v.kind == kString {
		s, ok := fastString(v)
		if !ok {
			return fastValue{}, sBail
		}
		b = []byte(s)
	} else {
		var ok bool
		if b, ok = appendFastValue(nil, v); !ok {
			return fastValue{}, sBail
		}
	}
	return fastValue{kind: kString, str: base64.StdEncoding.EncodeToString(b)}, sOK
}

// jqIntLiteralArg returns the integer an argument is written as (a
// literal within fastIntLiteral's range), or nil.
func jqIntLiteralArg(q *gojq.Query) *int64 {
	if q == nil || q.Term == nil || q.Term.Type != gojq.TermTypeNumber || len(q.Term.SuffixList) > 0 {
		return nil
	}
	n, ok := fastIntLiteral(q.Term.Number)
	if !ok {
		return nil
	}
	return &n
}

// jqConstStringArray appends to keys the strings of an array literal of
// constant strings (["a", "b"]).
func jqConstStringArray(q *gojq.Query, keys []string) ([]string, bool) {
	if q == nil || q.Term == nil || q.Term.Type != gojq.TermTypeArray || len(q.Term.SuffixList) > 0 || q.Term.Array.Query == nil {
		return nil, false
	}
	var walk func(q *gojq.Query) bool
	walk = func(q *gojq.Query) bool {
		if q.Op == gojq.OpComma {
			return walk(q.Left) && walk(q.Right)
		}
		k, ok := jqConstStringArg(q)
		keys = append(keys, k)
		return ok
	}
	ok := walk(q.Term.Array.Query)
	return keys, ok
}

// fastHasIndex is has(n) for an integer literal n: on arrays, whether n
// is an index (0 <= n < length); false on null; anything else is gojq's
// error.
func fastHasIndex(n int64) fastNode {
	return func(c *fastCtx, in fastValue) (fastValue, fastStatus) {
		switch in.kind {
		case kNull:
			return vFalse, sOK
		case kArray:
			l, st := fastLength(in)
			if st != sOK {
				return fastValue{}, sBail
			}
			return fastBool(0 <= n && n < l.num.i), sOK
		}
		return fastValue{}, sBail
	}
}

// fastExplode is explode: a string's code points.
func fastExplode(v fastValue) (fastValue, fastStatus) {
	s, ok := fastString(v)
	if !ok {
		return fastValue{}, sBail
	}
	es := make([]fastValue, 0, len(s))
	for _, r := range s {
		es = append(es, fastInt(int64(r)))
	}
	return fastValue{kind: kArray, obj: &fastObject{elems: es}}, sOK
}

// jqConstList appends to vs the values of a comma list of literals
// ("DE", "FR", 1, null); ok is false for anything else.
func jqConstList(q *gojq.Query, vs []fastValue) ([]fastValue, bool) {
	if q == nil {
		return nil, false
	}
	if q.Op == gojq.OpComma {
		vs, ok := jqConstList(q.Left, vs)
		if !ok {
			return nil, false
		}
		return jqConstList(q.Right, vs)
	}
	t := q.Term
	if q.Op != 0 || t == nil || len(t.SuffixList) > 0 {
		return nil, false
	}
	switch t.Type {
	case gojq.TermTypeNull:
		return append(vs, vNull), true
	case gojq.TermTypeTrue:
		return append(vs, vTrue), true
	case gojq.TermTypeFalse:
		return append(vs, vFalse), true
	case gojq.TermTypeNumber:
		n, ok := jqLiteralNumber(t.Number)
		return append(vs, fastValue{kind: kNumber, num: n}), ok
	case gojq.TermTypeString:
		str, ok := jqConstString(t.Str)
		return append(vs, fastValue{kind: kString, str: str}), ok
	}
	return nil, false
}
