package expr

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Values of the jq fast path (jqfast.go). A value read from the payload keeps
// its raw JSON text, so that it is passed on as written and decoded only as
// far as an operation needs; computed values hold a Go number or string.

// fastKind is a JSON type, in jq's order for comparisons across types.
type fastKind uint8

const (
	kNull fastKind = iota
	kFalse
	kTrue
	kNumber
	kString
	kArray
	kObject
)

// jqNumber is a jq number as gojq holds it: an int (int64 here; gojq uses
// Go's int, the same on 64-bit platforms) or a float64. Numbers gojq would
// hold as *big.Int make the fast path bail.
type jqNumber struct {
	isInt bool
	i     int64
	f     float64
}

func (n jqNumber) float() float64 {
	if n.isInt {
		return float64(n.i)
	}
	return n.f
}

type fastValue struct {
	kind fastKind
	raw  []byte      // JSON text from the input; nil for a computed value
	num  jqNumber    // computed number
	str  string      // computed string
	obj  *fastObject // computed object (construction, del, assignment) or array
}

// fastObject is an object (or an array) the expression built. Its parts live in the node that
// built it and are overwritten by the next event.
type fastObject struct {
	keys  [][]byte    // encoded `"key":` in output order
	names []string    // the keys, decoded, parallel to keys
	vals  []fastValue // parallel to keys
	// or: an input object without some keys (del), with some keys set
	// (assignment): from is the raw object; set's keys are in drop too.
	from []byte
	drop []string
	set  []fastSet
	// or, for kArray: an array the expression built (a literal, map,
	// split, a slice, keys ...), made afresh on each evaluation. (One
	// pointer for both keeps fastValue small: it is passed by value on
	// every node.)
	elems []fastValue
	// scratch: elems (of an array), or keys and names (of an object), are
	// buffers of the node that built the value, overwritten on its next
	// run (an array literal, with_entries): fastOwn copies them.
	scratch bool
	// or, for kArray: keys or to_entries of an input object, made into
	// elems only where an operation needs them (fast_members.go).
	lazy *fastLazyList
}

// fastSet is one key an assignment sets on an input object.
type fastSet struct {
	key string
	val fastValue
}

var (
	vNull  = fastValue{kind: kNull}
	vFalse = fastValue{kind: kFalse}
	vTrue  = fastValue{kind: kTrue}
)

func fastBool(b bool) fastValue {
	if b {
		return vTrue
	}
	return vFalse
}

func fastTruthy(v fastValue) bool { return v.kind != kNull && v.kind != kFalse }

// fastRaw wraps the raw JSON text of one value.
func fastRaw(raw []byte) fastValue {
	if len(raw) == 0 {
		return vNull
	}
	var k fastKind
	switch raw[0] {
	case '{':
		k = kObject
	case '[':
		k = kArray
	case '"':
		k = kString
	case 't':
		k = kTrue
	case 'f':
		k = kFalse
	case 'n':
		k = kNull
	default:
		k = kNumber
	}
	return fastValue{kind: k, raw: raw}
}

// fastNumberOf returns a number value's number as gojq would hold it; ok is
// false where gojq would use a *big.Int or an infinity (the caller bails).
func fastNumberOf(v fastValue) (jqNumber, bool) {
	if v.raw == nil {
		return v.num, true
	}
	return parseJQNumber(v.raw)
}

// parseJQNumber follows gojq's parseNumber: an int when the text parses as a
// 64-bit integer, a float64 when it has a fraction or exponent; it is not ok
// for big integers and for numbers out of float64's range.
func parseJQNumber(raw []byte) (jqNumber, bool) {
	if len(raw) > 0 && len(raw) <= 18 {
		// Fast path: a plain integer that cannot overflow.
		neg := raw[0] == '-'
		s := raw
		if neg {
			s = raw[1:]
		}
		var n int64
		plain := len(s) > 0
		for _, c := range s {
			if c < '0' || c > '9' {
				plain = false
				break
			}
			n = n*10 + int64(c-'0')
		}
		if plain {
			if neg {
				n = -n
			}
			return jqNumber{isInt: true, i: n}, true
		}
	}
	if f, ok := parseDecimal(raw); ok {
		return jqNumber{f: f}, true
	}
	s := bytesString(raw)
	if bytes.IndexAny(raw, ".eE") < 0 {
		i, err := strconv.ParseInt(s, 10, 64)
		return jqNumber{isInt: true, i: i}, err == nil
	}
	f, err := strconv.ParseFloat(s, 64)
	return jqNumber{f: f}, err == nil
}

// pow10 holds the powers of ten that float64 represents exactly.
var pow10 = [...]float64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15}

// parseDecimal parses a number written d+.d+ (optional minus) with at most
// 15 digits, as strconv.ParseFloat does: the digits and the power of ten
// are exact in float64, so one division rounds correctly (strconv's own
// exact path). ok is false for any other form.
func parseDecimal(raw []byte) (float64, bool) {
	s := raw
	if len(s) > 0 && s[0] == '-' {
		s = s[1:]
	}
	if len(s) < 3 || len(s) > 16 {
		return 0, false
	}
	var m uint64
	dot := -1
	for i, c := range s {
		switch {
		case c >= '0' && c <= '9':
			m = m*10 + uint64(c-'0')
		case c == '.' && dot < 0 && i > 0 && i < len(s)-1:
			dot = i
		default:
			return 0, false
		}
	}
	if dot < 0 {
		return 0, false
	}
	f := float64(m) / pow10[len(s)-1-dot]
	if raw[0] == '-' {
		f = -f
	}
	return f, true
}

// fastStringOf returns a string value's bytes, decoded: raw text without
// escapes is used in place; escapes are decoded as the gojq path's decoder
// (jsoniter) does.
func fastStringOf(v fastValue) ([]byte, bool) {
	if v.raw == nil {
		return []byte(v.str), true
	}
	inner := v.raw[1 : len(v.raw)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return inner, true
	}
	var s string
	if payloadJSON.Unmarshal(v.raw, &s) != nil {
		return nil, false
	}
	return []byte(s), true
}

// fastCompare is gojq's Compare; ok is false where the fast path does not
// know the answer (arrays or objects of the same type, big numbers).
func fastCompare(a, b fastValue) (int, bool) {
	if a.kind != b.kind {
		return cmp.Compare(a.kind, b.kind), true
	}
	switch a.kind {
	case kNull, kFalse, kTrue:
		return 0, true
	case kNumber:
		x, ok1 := fastNumberOf(a)
		y, ok2 := fastNumberOf(b)
		if !ok1 || !ok2 {
			return 0, false
		}
		if x.isInt && y.isInt {
			return cmp.Compare(x.i, y.i), true
		}
		l, r := x.float(), y.float()
		switch {
		case l < r || math.IsNaN(l):
			return -1, true
		case l == r:
			return 0, true
		}
		return 1, true
	case kString:
		x, ok1 := fastStringText(a)
		y, ok2 := fastStringText(b)
		if !ok1 || !ok2 {
			return 0, false
		}
		return strings.Compare(x, y), true
	}
	return 0, false
}

// fastStringText is fastStringOf as a string, without a copy: a computed
// string as it is, a raw one over its bytes (or its decoded copy's).
func fastStringText(v fastValue) (string, bool) {
	if v.raw == nil {
		return v.str, true
	}
	b, ok := fastStringOf(v)
	return bytesString(b), ok
}

// fastLookup returns the value of key in the raw object obj: the last one when
// the key repeats, null when it is absent. ok is false when obj is not well
// formed.
func fastLookup(obj []byte, key string) (fastValue, bool) {
	m := MemberScanner{b: obj, i: 1}
	var found []byte
	for {
		ks, ke, vs, ve, more := m.Next()
		if !more {
			if m.bad {
				return fastValue{}, false
			}
			return fastRaw(found), true
		}
		if eq, ok := fastKeyIs(obj[ks:ke], key); !ok {
			return fastValue{}, false
		} else if eq {
			found = obj[vs:ve]
		}
	}
}

// fastKeyIs reports whether the raw key (with its quotes) is name, decoding
// escapes as the gojq path's decoder does.
func fastKeyIs(raw []byte, name string) (eq, ok bool) {
	inner := raw[1 : len(raw)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return string(inner) == name, true
	}
	var s string
	if payloadJSON.Unmarshal(raw, &s) != nil {
		return false, false
	}
	return s == name, true
}

// fastDecodeKey returns a raw key's string.
func fastDecodeKey(raw []byte) (string, bool) {
	inner := raw[1 : len(raw)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return string(inner), true
	}
	var s string
	if payloadJSON.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// appendFastValue appends v encoded as gojq.Marshal does: keys sorted, numbers
// from the input as written, computed numbers in gojq's format, strings
// re-escaped gojq's way. ok is false if v's raw text is not well formed.
func appendFastValue(dst []byte, v fastValue) ([]byte, bool) {
	if v.raw != nil {
		return appendJQCanonical(dst, v.raw)
	}
	switch v.kind {
	case kNull:
		return append(dst, "null"...), true
	case kFalse:
		return append(dst, "false"...), true
	case kTrue:
		return append(dst, "true"...), true
	case kNumber:
		if v.num.isInt {
			return strconv.AppendInt(dst, v.num.i, 10), true
		}
		return appendJQFloat(dst, v.num.f), true
	case kString:
		return appendJQString(dst, v.str), true
	case kArray:
		if l := v.obj.lazy; l != nil && v.obj.elems == nil {
			return l.appendTo(dst)
		}
		dst = append(dst, '[')
		for i, e := range v.obj.elems {
			if i > 0 {
				dst = append(dst, ',')
			}
			var ok bool
			if dst, ok = appendFastValue(dst, e); !ok {
				return dst, false
			}
		}
		return append(dst, ']'), true
	case kObject:
		o := v.obj
		if o.from != nil {
			return appendJQObjectSet(dst, o.from, o.drop, o.set)
		}
		dst = append(dst, '{')
		for i, k := range o.keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, k...)
			var ok bool
			if dst, ok = appendFastValue(dst, o.vals[i]); !ok {
				return dst, false
			}
		}
		return append(dst, '}'), true
	}
	return dst, false
}

// appendJQCanonical re-encodes raw JSON text as gojq.Marshal encodes the
// value the gojq path decodes from it.
func appendJQCanonical(dst, raw []byte) ([]byte, bool) {
	switch raw[0] {
	case '"':
		if jqPlainString(raw) {
			return append(dst, raw...), true
		}
		var s string
		if payloadJSON.Unmarshal(raw, &s) != nil {
			return dst, false
		}
		return appendJQString(dst, s), true
	case '{':
		return appendJQObject(dst, raw, nil)
	case '[':
		dst = append(dst, '[')
		i := wsSkip(raw, 1)
		if i < len(raw) && raw[i] == ']' {
			return append(dst, ']'), true
		}
		for n := 0; ; n++ {
			if n > 0 {
				dst = append(dst, ',')
			}
			e, ok := valueEnd(raw, i)
			if !ok {
				return dst, false
			}
			if dst, ok = appendJQCanonical(dst, raw[i:e]); !ok {
				return dst, false
			}
			i = wsSkip(raw, e)
			if i >= len(raw) {
				return dst, false
			}
			if raw[i] == ']' {
				return append(dst, ']'), true
			}
			if raw[i] != ',' {
				return dst, false
			}
			i = wsSkip(raw, i+1)
		}
	}
	return append(dst, raw...), true
}

// jqPlainString reports whether a raw string is already in gojq's form:
// printable ASCII other than '\\' and 0x7f, or valid UTF-8 beyond ASCII.
func jqPlainString(raw []byte) bool {
	s := raw[1 : len(raw)-1]
	// Eight bytes at a time (a fifth of .a = v's time went to this check a
	// byte at a time). In a word of ASCII bytes, the high bit of a byte of
	// ctl, bs or del is set where a byte is below 0x20, '\\' or 0x7f (a
	// false positive only above a true one); a word with bytes beyond
	// ASCII is checked a byte at a time.
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	high := false
	i := 0
	for ; i+8 <= len(s); i += 8 {
		x := binary.LittleEndian.Uint64(s[i:])
		if x&hi == 0 {
			ctl := (x - lo*0x20) &^ x
			bs := x ^ lo*'\\'
			bs = (bs - lo) &^ bs
			del := x ^ lo*0x7f
			del = (del - lo) &^ del
			if (ctl|bs|del)&hi != 0 {
				return false
			}
			continue
		}
		high = true
		for _, c := range s[i : i+8] {
			if c < 0x20 || c == '\\' || c == 0x7f {
				return false
			}
		}
	}
	for _, c := range s[i:] {
		if c < 0x20 || c == '\\' || c == 0x7f {
			return false
		}
		if c >= utf8.RuneSelf {
			high = true
		}
	}
	return !high || utf8.Valid(s)
}

// sortMembers sorts ms by key, stably (of equal keys the last one in the
// input stays last, and wins). An object has a few members: an insertion
// sort, that compares the keys' first eight bytes as one number before
// it compares strings (a sixth of .a = v's time went to a generic sort).
func sortMembers(ms []fastMember) {
	if len(ms) > 32 {
		slices.SortStableFunc(ms, func(a, b fastMember) int { return strings.Compare(a.key, b.key) })
		return
	}
	var pre [32]uint64
	for i := range ms {
		pre[i] = keyPrefix(ms[i].key)
	}
	for i := 1; i < len(ms); i++ {
		m, p := ms[i], pre[i]
		j := i
		for j > 0 && (pre[j-1] > p || pre[j-1] == p && ms[j-1].key > m.key) {
			ms[j], pre[j] = ms[j-1], pre[j-1]
			j--
		}
		ms[j], pre[j] = m, p
	}
}

// keyPrefix is the first eight bytes of k as a big-endian number (zero
// bytes after a shorter key): keys with different prefixes compare as
// their prefixes do.
func keyPrefix(k string) uint64 {
	var b [8]byte
	copy(b[:], k)
	return binary.BigEndian.Uint64(b[:])
}

type fastMember struct {
	key string
	val []byte
	set *fastValue // a value an assignment set, instead of val
}

// appendJQObject encodes the raw object obj without the keys in drop: keys
// sorted, a repeated key's last value kept.
func appendJQObject(dst, obj []byte, drop []string) ([]byte, bool) {
	return appendJQObjectSet(dst, obj, drop, nil)
}

// appendJQObjectSet is appendJQObject with the keys of set added (their
// keys must be in drop, so that the input's own members of those keys go).
func appendJQObjectSet(dst, obj []byte, drop []string, set []fastSet) ([]byte, bool) {
	ms := make([]fastMember, 0, 16)
	// An object whose keys come sorted (as gojq writes them) is not
	// sorted again: the keys set are put in their places.
	sorted := true
	m := MemberScanner{b: obj, i: 1}
	for {
		ks, ke, vs, ve, more := m.Next()
		if !more {
			break
		}
		// A key without escapes is used in place (it is only written out).
		var k string
		if inner := obj[ks+1 : ke-1]; bytes.IndexByte(inner, '\\') < 0 {
			k = bytesString(inner)
		} else {
			var ok bool
			if k, ok = fastDecodeKey(obj[ks:ke]); !ok {
				return dst, false
			}
		}
		if !slices.Contains(drop, k) {
			if n := len(ms); sorted && n > 0 && ms[n-1].key >= k {
				sorted = false
			}
			ms = append(ms, fastMember{key: k, val: obj[vs:ve]})
		}
	}
	if m.bad {
		return dst, false
	}
	if !sorted {
		sortMembers(ms)
	}
	for i := range set {
		// After the keys equal to it: last set, last written.
		j := len(ms)
		for j > 0 && ms[j-1].key > set[i].key {
			j--
		}
		ms = slices.Insert(ms, j, fastMember{key: set[i].key, set: &set[i].val})
	}
	dst = append(dst, '{')
	n := 0
	for i, mb := range ms {
		if i+1 < len(ms) && ms[i+1].key == mb.key {
			continue
		}
		if n > 0 {
			dst = append(dst, ',')
		}
		n++
		dst = appendJQString(dst, mb.key)
		dst = append(dst, ':')
		var ok bool
		if mb.set != nil {
			dst, ok = appendFastValue(dst, *mb.set)
		} else {
			dst, ok = appendJQCanonical(dst, mb.val)
		}
		if !ok {
			return dst, false
		}
	}
	return append(dst, '}'), true
}

// appendJQFloat formats f as gojq does (encoding/json's float format; NaN
// is null, infinities are clamped to ±MaxFloat64).
func appendJQFloat(dst []byte, f float64) []byte {
	if math.IsNaN(f) {
		return append(dst, "null"...)
	}
	// An integral float below 1e15 (floor, round, sums of cents ...) is
	// its integer's digits: the shortest form that reads back as f is the
	// integer itself where the spacing of float64s is at most 1 (below
	// 2^53), and 'f' format writes it without exponent. Zero is left to
	// strconv for its sign.
	if f != 0 && f > -1e15 && f < 1e15 && f == float64(int64(f)) {
		return strconv.AppendInt(dst, int64(f), 10)
	}
	f = min(max(f, -math.MaxFloat64), math.MaxFloat64)
	format := byte('f')
	if x := math.Abs(f); x != 0 && x < 1e-6 || x >= 1e21 {
		format = 'e'
	}
	n0 := len(dst)
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9
		b := dst[n0:]
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			dst = dst[:len(dst)-1]
		}
	}
	return dst
}

// appendJQString encodes s as gojq does: \b and \f, no escaping of <, >, &,
// U+2028 and U+2029, 0x7f escaped, invalid UTF-8 as \ufffd.
func appendJQString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if ' ' <= b && b <= '~' && b != '"' && b != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"':
				dst = append(dst, `\"`...)
			case '\\':
				dst = append(dst, `\\`...)
			case '\b':
				dst = append(dst, `\b`...)
			case '\f':
				dst = append(dst, `\f`...)
			case '\n':
				dst = append(dst, `\n`...)
			case '\r':
				dst = append(dst, `\r`...)
			case '\t':
				dst = append(dst, `\t`...)
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
