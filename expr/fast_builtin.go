package expr

import (
	"bytes"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Run-time operations of the extended subset (fast_forms.go compiles to
// them): indexes and slices, iteration, builtins on strings, numbers,
// arrays and objects, each with gojq's semantics (func.go of gojq
// v0.12.20). Where gojq would fail, or where the answer depends on
// something the fast path does not model, they bail.

// fastOwn returns v with its computed parts copied: a node that builds an
// object or an array literal keeps it in scratch space it overwrites on
// its next run, and inside map, any and array constructors a node runs
// once per element.
func fastOwn(v fastValue) fastValue {
	if v.obj != nil {
		o := *v.obj
		if o.lazy != nil {
			l := *o.lazy
			l.ms = slices.Clone(l.ms)
			o.lazy = &l
		}
		// An array literal's elements are its node's buffer (scratch);
		// those of any array may be values other nodes built.
		if o.scratch && v.kind == kArray || slices.ContainsFunc(o.elems, func(x fastValue) bool { return x.obj != nil }) {
			o.elems = make([]fastValue, len(v.obj.elems))
			for i, x := range v.obj.elems {
				o.elems[i] = fastOwn(x)
			}
			o.scratch = false
		}
		if o.scratch && v.kind == kObject {
			o.names = slices.Clone(o.names)
			o.keys = make([][]byte, len(o.keys))
			for i, k := range v.obj.keys {
				o.keys[i] = slices.Clone(k)
			}
			o.scratch = false
		}
		o.vals = make([]fastValue, len(v.obj.vals))
		for i, x := range v.obj.vals {
			o.vals[i] = fastOwn(x)
		}
		if o.set != nil {
			o.set = slices.Clone(o.set)
			for i := range o.set {
				o.set[i].val = fastOwn(o.set[i].val)
			}
		}
		v.obj = &o
	}
	return v
}

// fastEach calls yield with each element of a raw array; false when the
// array is not well formed.
func fastEach(raw []byte, yield func(fastValue) bool) bool {
	i := wsSkip(raw, 1)
	if i < len(raw) && raw[i] == ']' {
		return true
	}
	for {
		e, ok := valueEnd(raw, i)
		if !ok {
			return false
		}
		if !yield(fastRaw(raw[i:e])) {
			return true
		}
		i = wsSkip(raw, e)
		switch {
		case i >= len(raw):
			return false
		case raw[i] == ']':
			return true
		case raw[i] != ',':
			return false
		}
		i = wsSkip(raw, i+1)
	}
}

// fastElems returns the elements of an array value.
func fastElems(v fastValue) ([]fastValue, bool) {
	if v.obj != nil {
		return v.obj.array(), true
	}
	var es []fastValue
	if !fastEach(v.raw, func(e fastValue) bool { es = append(es, e); return true }) {
		return nil, false
	}
	return es, true
}

// fastMembers returns the members of a raw object in gojq's order (keys
// sorted), a repeated key's last value kept. A key without escapes is a
// string over the payload's bytes (valid while the event is evaluated, as
// every value of the fast path is).
func fastMembers(raw []byte) ([]fastMember, bool) {
	ms := make([]fastMember, 0, 16)
	m := MemberScanner{b: raw, i: 1}
	for {
		ks, ke, vs, ve, more := m.Next()
		if !more {
			break
		}
		var k string
		if inner := raw[ks+1 : ke-1]; bytes.IndexByte(inner, '\\') < 0 {
			k = bytesString(inner)
		} else {
			var ok bool
			if k, ok = fastDecodeKey(raw[ks:ke]); !ok {
				return nil, false
			}
		}
		ms = append(ms, fastMember{key: k, val: raw[vs:ve]})
	}
	if m.bad {
		return nil, false
	}
	sortMembers(ms)
	out := ms[:0]
	for i, mb := range ms {
		if i+1 < len(ms) && ms[i+1].key == mb.key {
			continue
		}
		out = append(out, mb)
	}
	return out, true
}

// fastIterate is .[]: the elements of an array, the values of an object in
// key order; anything else bails (gojq's "cannot iterate over" error).
// yield returns false to stop early.
func fastIterate(v fastValue, yield func(fastValue) bool) bool {
	switch {
	case v.kind == kArray && v.obj != nil:
		for _, e := range v.obj.array() {
			if !yield(e) {
				break
			}
		}
		return true
	case v.kind == kArray:
		return fastEach(v.raw, yield)
	case v.kind == kObject && v.raw != nil:
		var buf [sortMemberSpansInsertion]memberSpan
		if ss, plain, ok := fastSortedMembers(buf[:0], v.raw); plain {
			if !ok {
				return false
			}
			for _, s := range ss {
				if !yield(fastRaw(v.raw[s.vs:s.ve])) {
					break
				}
			}
			return true
		}
		ms, ok := fastMembers(v.raw)
		if !ok {
			return false
		}
		for _, m := range ms {
			if !yield(fastRaw(m.val)) {
				break
			}
		}
		return true
	case v.kind == kObject && v.obj.from == nil:
		for _, e := range v.obj.vals {
			if !yield(e) {
				break
			}
		}
		return true
	}
	return false
}

// fastIndexNum is .[n] for an integer n: null on null, an element (or null
// out of range) on an array; anything else bails.
func fastIndexNum(in fastValue, n int64) (fastValue, fastStatus) {
	switch in.kind {
	case kNull:
		return vNull, sOK
	case kArray:
		var buf [8]fastValue
		es, ok := fastElemsInto(buf[:0], in)
		if !ok {
			return fastValue{}, sBail
		}
		i := jqClampIndex(n, -1, int64(len(es)))
		if 0 <= i && i < int64(len(es)) {
			return es[i], sOK
		}
		return vNull, sOK
	}
	return fastValue{}, sBail
}

// jqClampIndex is gojq's clampIndex.
func jqClampIndex(i, lo, hi int64) int64 {
	if i < 0 {
		i += hi
	}
	return min(max(i, lo), hi)
}

// fastSlice is .[start:end] with integer bounds (nil: open): on null, null;
// on arrays, the elements; on strings, the code points.
func fastSlice(in fastValue, start, end *int64) (fastValue, fastStatus) {
	bounds := func(l int64) (int64, int64) {
		var s, e int64
		if start != nil {
			s = jqClampIndex(*start, 0, l)
		}
		e = l
		if end != nil {
			e = jqClampIndex(*end, s, l)
		}
		return s, e
	}
	switch in.kind {
	case kNull:
		return vNull, sOK
	case kArray:
		es, ok := fastElems(in)
		if !ok {
			return fastValue{}, sBail
		}
		s, e := bounds(int64(len(es)))
		// Of an array literal's buffer, the slice is scratch too.
		return fastValue{kind: kArray, obj: &fastObject{elems: es[s:e], scratch: in.obj != nil && in.obj.scratch}}, sOK
	case kString:
		b, ok := fastStringOf(in)
		if !ok {
			return fastValue{}, sBail
		}
		str := string(b)
		s, e := bounds(int64(utf8.RuneCountInString(str)))
		return fastValue{kind: kString, str: str[runeOffset(str, s):runeOffset(str, e)]}, sOK
	}
	return fastValue{}, sBail
}

// runeOffset is the byte offset of the n-th code point of s (as Go's range
// over a string counts them: an invalid byte is one).
func runeOffset(s string, n int64) int {
	for i := range s {
		if n == 0 {
			return i
		}
		n--
	}
	return len(s)
}

// fastTypeName is gojq's type.
func fastTypeName(v fastValue) string {
	switch v.kind {
	case kNull:
		return "null"
	case kFalse, kTrue:
		return "boolean"
	case kNumber:
		return "number"
	case kString:
		return "string"
	case kArray:
		return "array"
	}
	return "object"
}

// fastString returns a string value's text, or ok false for any other
// value and for text that is not valid UTF-8 (where gojq's string
// functions would replace bytes, the fast path does not follow).
func fastString(v fastValue) (string, bool) {
	s, ok := fastStringView(v)
	if ok && v.raw != nil {
		s = strings.Clone(s) // not over the payload's bytes
	}
	return s, ok
}

// fastToString is gojq's tostring: a string as it is, anything else as
// its JSON text (gojq.Marshal).
func fastToString(v fastValue) (fastValue, fastStatus) {
	if v.kind == kString {
		if v.raw == nil {
			return v, sOK
		}
		b, ok := fastStringOf(v)
		if !ok {
			return fastValue{}, sBail
		}
		return fastValue{kind: kString, str: string(b)}, sOK
	}
	b, ok := appendFastValue(nil, v)
	if !ok {
		return fastValue{}, sBail
	}
	return fastValue{kind: kString, str: string(b)}, sOK
}

// fastToNumber is gojq's tonumber: a number as it is; a string written as
// a JSON number, parsed as gojq parses it. Other strings gojq's lexer
// accepts (+1, .5, 1.) bail, as do big integers.
func fastToNumber(v fastValue) (fastValue, fastStatus) {
	switch v.kind {
	case kNumber:
		return v, sOK
	case kString:
		s, ok := fastString(v)
		if !ok || !jsonNumberText(s) {
			return fastValue{}, sBail
		}
		n, ok := parseJQNumber([]byte(s))
		if !ok {
			return fastValue{}, sBail
		}
		return fastValue{kind: kNumber, num: n}, sOK
	}
	return fastValue{}, sBail
}

// jsonNumberText reports whether s is -?digits(.digits)?([eE][+-]?digits)?
// (leading zeros allowed, as gojq's lexer allows them).
func jsonNumberText(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	digits := func() bool {
		j := i
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
		return i > j
	}
	if !digits() {
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if !digits() {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if !digits() {
			return false
		}
	}
	return i == len(s)
}

// fastMath is gojq's mathFunc: the function of the number as a float64
// (a float result, formatted as gojq formats floats).
func fastMath(v fastValue, f func(float64) float64) (fastValue, fastStatus) {
	if v.kind != kNumber {
		return fastValue{}, sBail
	}
	n, ok := fastNumberOf(v)
	if !ok {
		return fastValue{}, sBail
	}
	return fastValue{kind: kNumber, num: jqNumber{f: f(n.float())}}, sOK
}

// fastASCIICase is ascii_downcase (down) or ascii_upcase.
func fastASCIICase(v fastValue, down bool) (fastValue, fastStatus) {
	s, ok := fastString(v)
	if !ok {
		return fastValue{}, sBail
	}
	lo, hi := byte('A'), byte('Z')
	if !down {
		lo, hi = 'a', 'z'
	}
	i := strings.IndexFunc(s, func(r rune) bool { return rune(lo) <= r && r <= rune(hi) })
	if i < 0 {
		if v.raw == nil {
			return v, sOK
		}
		return fastValue{kind: kString, str: s}, sOK
	}
	b := []byte(s)
	for j := i; j < len(b); j++ {
		if lo <= b[j] && b[j] <= hi {
			b[j] ^= 0x20
		}
	}
	return fastValue{kind: kString, str: string(b)}, sOK
}

// fastStrings returns the strings of v and arg for a function of two
// strings; ok is false where gojq fails.
func fastStrings(v, arg fastValue) (s, t string, ok bool) {
	if s, ok = fastString(v); !ok {
		return "", "", false
	}
	if t, ok = fastString(arg); !ok {
		return "", "", false
	}
	return s, t, true
}

// fastStringView is fastString without a copy where it can: a string of
// the payload without escapes is returned over the payload's bytes
// (valid while the event is evaluated, as every value of the fast path
// is); an escaped one is decoded into a new string anyway.
func fastStringView(v fastValue) (string, bool) {
	if v.kind != kString {
		return "", false
	}
	s, ok := fastStringText(v)
	if !ok || !utf8.ValidString(s) {
		return "", false
	}
	return s, true
}

// fastSplit is split/1 on strings: the parts are strings over the input's
// bytes (fastStringView), in the node's buffer b (a scratch array).
func fastSplit(b *fastArrayBuf, v, sep fastValue) (fastValue, fastStatus) {
	s, ok := fastStringView(v)
	if !ok {
		return fastValue{}, sBail
	}
	t, ok := fastStringView(sep)
	if !ok {
		return fastValue{}, sBail
	}
	if s == "" {
		return fastValue{kind: kArray, obj: &fastObject{}}, sOK
	}
	if t == "" {
		// One part per code point, as strings.Split makes them.
		parts := strings.Split(s, t)
		es := make([]fastValue, len(parts))
		for i, p := range parts {
			es[i] = fastValue{kind: kString, str: p}
		}
		return fastValue{kind: kArray, obj: &fastObject{elems: es}}, sOK
	}
	// strings.Split's parts, without its slice of them.
	es := b.buf[:0]
	for {
		i := strings.Index(s, t)
		if i < 0 {
			break
		}
		es = append(es, fastValue{kind: kString, str: s[:i]})
		s = s[i+len(t):]
	}
	es = append(es, fastValue{kind: kString, str: s})
	return b.result(es), sOK
}

// fastIndexOf is index/1: on strings, the code point offset of the first
// occurrence (null when none or the argument is ""); on arrays, the first
// position of the argument (an element, or a sub-array); null on null.
func fastIndexOf(v, x fastValue) (fastValue, fastStatus) {
	switch v.kind {
	case kNull:
		return vNull, sOK
	case kString:
		s, t, ok := fastStrings(v, x)
		if !ok {
			return fastValue{}, sBail
		}
		if t == "" {
			return vNull, sOK
		}
		i := strings.Index(s, t)
		if i < 0 {
			return vNull, sOK
		}
		return fastInt(int64(utf8.RuneCountInString(s[:i]))), sOK
	case kArray:
		var buf, xbuf [8]fastValue
		es, ok := fastElemsInto(buf[:0], v)
		if !ok {
			return fastValue{}, sBail
		}
		xs := append(xbuf[:0], x)
		if x.kind == kArray {
			if xs, ok = fastElemsInto(xbuf[:0], x); !ok {
				return fastValue{}, sBail
			}
			if len(xs) == 0 {
				return vNull, sOK
			}
		}
	outer:
		for i := 0; i+len(xs) <= len(es); i++ {
			for j, w := range xs {
				n, ok := fastCompare(es[i+j], w)
				if !ok {
					return fastValue{}, sBail
				}
				if n != 0 {
					continue outer
				}
			}
			return fastInt(int64(i)), sOK
		}
		return vNull, sOK
	}
	return fastValue{}, sBail
}

func fastInt(i int64) fastValue { return fastValue{kind: kNumber, num: jqNumber{isInt: true, i: i}} }

// fastKeys is keys: an object's keys sorted, an array's indexes. The keys
// of an input object are a lazy array held in a.
func fastKeys(a *fastLazyArray, v fastValue) (fastValue, fastStatus) {
	switch {
	case v.kind == kArray:
		es, ok := fastElems(v)
		if !ok {
			return fastValue{}, sBail
		}
		ks := make([]fastValue, len(es))
		for i := range ks {
			ks[i] = fastInt(int64(i))
		}
		return fastValue{kind: kArray, obj: &fastObject{elems: ks}}, sOK
	case v.kind == kObject && v.raw != nil:
		if a, plain, ok := fastMembersArray(a, v.raw, false); plain {
			if !ok {
				return fastValue{}, sBail
			}
			return a, sOK
		}
		ms, ok := fastMembers(v.raw)
		if !ok {
			return fastValue{}, sBail
		}
		ks := make([]fastValue, len(ms))
		for i, m := range ms {
			ks[i] = fastValue{kind: kString, str: m.key}
		}
		return fastValue{kind: kArray, obj: &fastObject{elems: ks}}, sOK
	case v.kind == kObject && v.obj.from == nil:
		ks := make([]fastValue, len(v.obj.names))
		for i, k := range v.obj.names {
			ks[i] = fastValue{kind: kString, str: k}
		}
		return fastValue{kind: kArray, obj: &fastObject{elems: ks}}, sOK
	}
	return fastValue{}, sBail
}

var entryKeys = [][]byte{[]byte(`"key":`), []byte(`"value":`)}
var entryNames = []string{"key", "value"}

// fastToEntries is to_entries: [{key, value}] in key order (for arrays,
// the indexes). Those of an input object are a lazy array held in a.
func fastToEntries(a *fastLazyArray, v fastValue) (fastValue, fastStatus) {
	if v.kind == kObject && v.raw != nil {
		if a, plain, ok := fastMembersArray(a, v.raw, true); plain {
			if !ok {
				return fastValue{}, sBail
			}
			return a, sOK
		}
		// One scan: the members in key order hold the values too.
		ms, ok := fastMembers(v.raw)
		if !ok {
			return fastValue{}, sBail
		}
		es := make([]fastValue, len(ms))
		vals := make([]fastValue, 2*len(ms))
		objs := make([]fastObject, len(ms))
		for i, m := range ms {
			vals[2*i], vals[2*i+1] = fastValue{kind: kString, str: m.key}, fastRaw(m.val)
			objs[i] = fastObject{keys: entryKeys, names: entryNames, vals: vals[2*i : 2*i+2]}
			es[i] = fastValue{kind: kObject, obj: &objs[i]}
		}
		return fastValue{kind: kArray, obj: &fastObject{elems: es}}, sOK
	}
	ks, st := fastKeys(a, v)
	if st != sOK {
		return ks, st
	}
	kes := ks.obj.array()
	es := make([]fastValue, len(kes))
	vals := make([]fastValue, 2*len(es))
	for i, k := range kes {
		var x fastValue
		if k.kind == kString {
			x, st = fastIndex(v, k.str)
		} else {
			x, st = fastIndexNum(v, k.num.i)
		}
		if st != sOK {
			return fastValue{}, sBail
		}
		vals[2*i], vals[2*i+1] = k, x
		es[i] = fastValue{kind: kObject, obj: &fastObject{keys: entryKeys, names: entryNames, vals: vals[2*i : 2*i+2]}}
	}
	return fastValue{kind: kArray, obj: &fastObject{elems: es}}, sOK
}

// fastLookupComputed is .key on an object the expression built.
func fastLookupComputed(o *fastObject, key string) (fastValue, fastStatus) {
	if o.from == nil {
		if i := slices.Index(o.names, key); i >= 0 {
			return o.vals[i], sOK
		}
		return vNull, sOK
	}
	for i := len(o.set) - 1; i >= 0; i-- {
		if o.set[i].key == key {
			return o.set[i].val, sOK
		}
	}
	if slices.Contains(o.drop, key) {
		return vNull, sOK
	}
	v, ok := fastLookup(o.from, key)
	if !ok {
		return fastValue{}, sBail
	}
	return v, sOK
}

// fastInterp is one interpolated part of a string: the string itself, or
// the JSON text of any other value.
func fastInterp(b []byte, v fastValue) ([]byte, bool) {
	if v.kind == kString {
		s, ok := fastStringOf(v)
		return append(b, s...), ok
	}
	return appendFastValue(b, v)
}

// fastIntLiteral is the integer an index or slice bound is written as.
func fastIntLiteral(s string) (int64, bool) {
	i, err := strconv.ParseInt(s, 10, 64)
	return i, err == nil && i > math.MinInt32 && i < math.MaxInt32
}

// fastStartsEnds is startswith (start) or endswith.
func fastStartsEnds(v, x fastValue, start bool) (fastValue, fastStatus) {
	if v.kind != kString || x.kind != kString {
		return fastValue{}, sBail
	}
	s, ok1 := fastStringText(v)
	t, ok2 := fastStringText(x)
	if !ok1 || !ok2 {
		return fastValue{}, sBail
	}
	if start {
		return fastBool(strings.HasPrefix(s, t)), sOK
	}
	return fastBool(strings.HasSuffix(s, t)), sOK
}

// fastTrimStr is ltrimstr (left) or rtrimstr.
func fastTrimStr(v, x fastValue, left bool) (fastValue, fastStatus) {
	if v.kind != kString || x.kind != kString {
		return fastValue{}, sBail
	}
	// The result is a part of the input's text (over the payload's
	// bytes where it has no escapes, as fastStringView's).
	s, ok1 := fastStringText(v)
	t, ok2 := fastStringText(x)
	if !ok1 || !ok2 {
		return fastValue{}, sBail
	}
	if left && strings.HasPrefix(s, t) {
		return fastValue{kind: kString, str: s[len(t):]}, sOK
	}
	if !left && strings.HasSuffix(s, t) {
		return fastValue{kind: kString, str: s[:len(s)-len(t)]}, sOK
	}
	return v, sOK
}
