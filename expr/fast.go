package expr

import (
	"slices"
	"strings"

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
	// members: the reader's index of the payload's top-level members
	// (wire.Frame.Members), nil when there is none; set per event by
	// Program, it saves scanTop's walk.
	members []uint32
	vars    []fastValue // the values of the expression's variables, by slot
}

// fastProgram is an expression compiled for the fast path. It is not safe
// for concurrent use (a stage runs one event at a time).
type fastProgram struct {
	root fastNode
	gen  fastGen  // instead of root, for an expression with several outputs
	ends []int    // where each of map's outputs ends in the output buffer
	keys []string // top-level fields read from the payload, by slot
	ctx  fastCtx
	// rootUse: the expression uses the payload itself, not only its
	// top-level fields (., has, length, del, select's output ...).
	rootUse bool
	// proj is set for an object of top-level fields ({id, user, n: .amount}),
	// in output order: map writes it straight from the fields' bytes.
	proj []projField
	// For an expression of several outputs: the callbacks of appendEach
	// and keepEach, made once (a closure made per event is allocated),
	// and the state they work on.
	eachAppend, eachKeep func(fastValue) bool
	eachDst              []byte
	eachOK, eachKept     bool
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
	c.extracted, c.isObject = true, c.top()
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

// top reads the payload's top-level fields into the slots, as scanTop:
// from the reader's index of its members where there is one.
func (c *fastCtx) top() bool {
	if c.members != nil {
		return indexTop(c.payload, c.members, c.keys, c.slots)
	}
	return scanTop(c.payload, c.keys, c.slots)
}

// fastCompiler holds the state of one compilation.
type fastCompiler struct {
	keys    []string
	rootUse bool
	why     string   // the first reason an expression is not in the subset
	vars    []string // the variables in scope, by slot
	nvars   int      // slots needed
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
func compileFast(q *gojq.Query) (*fastProgram, string) {
	c := &fastCompiler{}
	root, outRoot, ok := c.query(q, true)
	var gen fastGen
	if !ok {
		if gen, ok = c.gen(q, true); !ok {
			if c.why == "" {
				c.why = "a form outside the subset"
			}
			return nil, c.why
		}
	}
	c.use(outRoot) // filter tests it, map writes it
	// An expression that reads no field (true, 1 == 1) still has gojq
	// parse the payload, and fail on a bad one: count that as a use.
	p := &fastProgram{root: root, gen: gen, keys: c.keys, rootUse: c.rootUse || len(c.keys) == 0 || len(c.keys) > 64}
	if !p.rootUse && gen == nil {
		p.proj = projection(q, c.keys)
	}
	if gen != nil {
		p.eachAppend = func(v fastValue) bool {
			p.eachDst, p.eachOK = appendFastValue(p.eachDst, v)
			p.ends = append(p.ends, len(p.eachDst))
			return p.eachOK
		}
		p.eachKeep = func(v fastValue) bool { p.eachKept = p.eachKept || fastTruthy(v); return true }
	}
	p.ctx.keys = c.keys
	p.ctx.slots = make([][]byte, len(c.keys))
	p.ctx.vars = make([]fastValue, c.nvars)
	return p, ""
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

// start resets the per-event state, as eval does (which keeps its own copy
// for the commonest expressions); false when the payload must be valid
// JSON and is not.
func (p *fastProgram) start(payload []byte, valid bool) bool {
	c := &p.ctx
	c.payload, c.extracted, c.valid, c.checked = payload, false, valid, 0
	if !valid && p.rootUse {
		if !wire.Valid(payload) {
			return false
		}
		c.valid = true
	}
	return true
}

// each runs a program of several outputs on one payload.
func (p *fastProgram) each(payload []byte, valid bool, yield func(fastValue) bool) fastStatus {
	if !p.start(payload, valid) {
		return sBail
	}
	return p.gen(&p.ctx, fastRaw(payload), yield)
}

// keep reports whether filter keeps the payload, known to be valid JSON;
// ok is false when gojq must decide.
func (p *fastProgram) keep(payload []byte) (keep, ok bool) { return p.keepEvent(payload, true) }

// keepEvent is keep for a payload that is known to be valid JSON or not
// (a frame's payload).
func (p *fastProgram) keepEvent(payload []byte, valid bool) (keep, ok bool) {
	if p.gen != nil {
		return p.keepEach(payload, valid)
	}
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
	if p.gen != nil {
		return p.appendEach(dst, payload, valid)
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

// keepEach is keepEvent for an expression of several outputs.
func (p *fastProgram) keepEach(payload []byte, valid bool) (keep, ok bool) {
	// Every output is looked at: an error after a true one is still the
	// event's error.
	p.eachKept = false
	st := p.each(payload, valid, p.eachKeep)
	return p.eachKept, st == sOK
}

// appendEach is appendEvent for an expression of several outputs: p.ends
// records where each ends.
func (p *fastProgram) appendEach(dst, payload []byte, valid bool) (out []byte, n int, ok bool) {
	p.ends = p.ends[:0]
	start := len(dst)
	p.eachDst, p.eachOK = dst, true
	st := p.each(payload, valid, p.eachAppend)
	dst = p.eachDst
	p.eachDst = nil // the caller's buffer is not kept
	if st != sOK || !p.eachOK {
		return dst[:start], 0, false
	}
	return dst, len(p.ends), true
}
