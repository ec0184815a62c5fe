package expr

import (
	"bytes"
	"math"
	"slices"
)

// The members of a raw object in gojq's order, as offsets into the
// object's text: keys, to_entries, length and .[] on an object read them
// without making a Go string or value per member, and keys and to_entries
// are written out from them (a lazy array) unless an operation needs their
// elements as values.

// memberSpan is one member of a raw object: its key's text between the
// quotes (obj[ks:ke]) and its value's (obj[vs:ve]).
type memberSpan struct{ ks, ke, vs, ve uint32 }

// sortMemberSpansInsertion is the sort for up to this many members
// (events have a few keys); larger objects use slices.SortStableFunc.
const sortMemberSpansInsertion = 16

// fastSortedMembers appends to dst the members of the raw object obj
// sorted by key (byte order, which is gojq's: it sorts Go strings), a
// repeated key once, with its last value. ok is false when obj is not
// well formed; plain is false when a key has an escape (its bytes are not
// its string: the caller uses fastMembers, which decodes it) or obj is too
// large for the offsets.
func fastSortedMembers(dst []memberSpan, obj []byte) (ms []memberSpan, plain, ok bool) {
	if uint64(len(obj)) > math.MaxUint32 {
		return dst, false, true
	}
	ms = dst
	m := MemberScanner{b: obj, i: 1}
	for {
		ks, ke, vs, ve, more := m.Next()
		if !more {
			break
		}
		if bytes.IndexByte(obj[ks+1:ke-1], '\\') >= 0 {
			// The rest is not scanned: fastMembers does, and reports a
			// malformed object as this would.
			return ms, false, true
		}
		ms = append(ms, memberSpan{uint32(ks + 1), uint32(ke - 1), uint32(vs), uint32(ve)})
	}
	if m.bad {
		return ms, true, false
	}
	key := func(s memberSpan) []byte { return obj[s.ks:s.ke] }
	// Stable, so that of equal keys the last one in the input comes last.
	if len(ms) <= sortMemberSpansInsertion {
		for i := 1; i < len(ms); i++ {
			x := ms[i]
			j := i
			for ; j > 0 && keyAfter(key(ms[j-1]), key(x)); j-- {
				ms[j] = ms[j-1]
			}
			ms[j] = x
		}
	} else {
		slices.SortStableFunc(ms, func(a, b memberSpan) int { return bytes.Compare(key(a), key(b)) })
	}
	out := ms[:0]
	for i, s := range ms {
		if i+1 < len(ms) && bytes.Equal(key(ms[i+1]), key(s)) {
			continue
		}
		out = append(out, s)
	}
	return out, true, true
}

// keyAfter reports whether key a sorts after key b; most keys differ in
// their first byte.
func keyAfter(a, b []byte) bool {
	if len(a) > 0 && len(b) > 0 && a[0] != b[0] {
		return a[0] > b[0]
	}
	return bytes.Compare(a, b) > 0
}

// fastLazyList is an array of the keys (or, with entries, the {key,
// value} entries) of a raw object, held as its sorted members.
type fastLazyList struct {
	of      []byte
	ms      []memberSpan
	entries bool
}

// fastLazyArray is a node's lazy array: the object that holds it, the
// list and room for the members of an event's object. The node overwrites
// it on its next run, as object construction does its object (fastOwn
// copies what is kept).
type fastLazyArray struct {
	obj  fastObject
	list fastLazyList
	buf  [sortMemberSpansInsertion]memberSpan
}

// fastMembersArray returns keys (entries false) or to_entries of the raw
// object obj as a lazy array held in a; plain and ok as fastSortedMembers.
func fastMembersArray(a *fastLazyArray, obj []byte, entries bool) (v fastValue, plain, ok bool) {
	dst := a.list.ms[:0]
	if dst == nil {
		dst = a.buf[:0]
	}
	ms, plain, ok := fastSortedMembers(dst, obj)
	a.list = fastLazyList{of: obj, ms: ms, entries: entries}
	if !plain || !ok {
		return fastValue{}, plain, ok
	}
	a.obj = fastObject{lazy: &a.list}
	return fastValue{kind: kArray, obj: &a.obj}, true, true
}

// key returns member i's key as a string over the object's bytes (valid
// while the event is evaluated, as every value of the fast path is).
func (l *fastLazyList) key(i int) string {
	return bytesString(l.of[l.ms[i].ks:l.ms[i].ke])
}

// elems makes the list's elements: strings for keys, {key, value}
// objects for entries, as fastKeys and fastToEntries made them.
func (l *fastLazyList) elems() []fastValue {
	es := make([]fastValue, len(l.ms))
	if !l.entries {
		for i := range l.ms {
			es[i] = fastValue{kind: kString, str: l.key(i)}
		}
		return es
	}
	vals := make([]fastValue, 2*len(l.ms))
	objs := make([]fastObject, len(l.ms))
	for i, m := range l.ms {
		vals[2*i], vals[2*i+1] = fastValue{kind: kString, str: l.key(i)}, fastRaw(l.of[m.vs:m.ve])
		objs[i] = fastObject{keys: entryKeys, names: entryNames, vals: vals[2*i : 2*i+2]}
		es[i] = fastValue{kind: kObject, obj: &objs[i]}
	}
	return es
}

// appendTo writes the list as appendFastValue writes the array of its
// elements.
func (l *fastLazyList) appendTo(dst []byte) ([]byte, bool) {
	dst = append(dst, '[')
	for i, m := range l.ms {
		if i > 0 {
			dst = append(dst, ',')
		}
		if l.entries {
			dst = append(dst, `{"key":`...)
		}
		if q := l.of[m.ks-1 : m.ke+1]; jqPlainString(q) {
			dst = append(dst, q...)
		} else {
			dst = appendJQString(dst, l.key(i))
		}
		if l.entries {
			dst = append(dst, `,"value":`...)
			var ok bool
			if dst, ok = appendJQCanonical(dst, l.of[m.vs:m.ve]); !ok {
				return dst, false
			}
			dst = append(dst, '}')
		}
	}
	return append(dst, ']'), true
}

// array returns the elements of an array the expression built, making
// those of a lazy array on first use.
func (o *fastObject) array() []fastValue {
	if o.lazy != nil && o.elems == nil {
		o.elems = o.lazy.elems()
	}
	return o.elems
}

// arrayLen is len(o.array()) without making a lazy array's elements.
func (o *fastObject) arrayLen() int {
	if o.lazy != nil {
		return len(o.lazy.ms)
	}
	return len(o.elems)
}
