package expr

import (
	"encoding/binary"
	"math"
	"slices"
	"unicode/utf8"

	"github.com/itchyny/gojq"
)

// Operations on fastValues at run time: comparison, arithmetic, indexing,
// length, with gojq's semantics.

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
		case a.kind == kObject && b.kind == kObject:
			return fastAddObjects(a, b)
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
	case in.kind == kObject:
		return fastLookupComputed(in.obj, key)
	}
	return fastValue{}, sBail
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

// runeCount is utf8.RuneCount(p) (each byte of an invalid sequence counts
// as one), without its copy: utf8.RuneCount hands the part from the first
// byte beyond ASCII to RuneCountInString as a string, which allocates past
// 32 bytes (a seventh of the CPU of map '.msg | length' on text with an ü in
// it). ASCII is counted eight bytes at a time.
func runeCount(p []byte) int {
	n, i := 0, 0
	for i < len(p) {
		for i+8 <= len(p) && binary.LittleEndian.Uint64(p[i:])&swarHi == 0 {
			i += 8
			n += 8
		}
		if i >= len(p) {
			break
		}
		if p[i] < utf8.RuneSelf {
			i++
		} else {
			_, size := utf8.DecodeRune(p[i:])
			i += size
		}
		n++
	}
	return n
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
		return fastValue{kind: kNumber, num: jqNumber{isInt: true, i: int64(runeCount(s))}}, sOK
	case kArray:
		if in.obj != nil {
			return fastInt(int64(in.obj.arrayLen())), sOK
		}
		n, ok := fastCountElements(in.raw)
		if !ok {
			return fastValue{}, sBail
		}
		return fastValue{kind: kNumber, num: jqNumber{isInt: true, i: int64(n)}}, sOK
	case kObject:
		if in.raw == nil {
			if in.obj.from == nil {
				return fastInt(int64(len(in.obj.keys))), sOK
			}
			return fastValue{}, sBail
		}
		var buf [sortMemberSpansInsertion]memberSpan
		if ms, plain, ok := fastSortedMembers(buf[:0], in.raw); plain {
			if !ok {
				return fastValue{}, sBail
			}
			return fastInt(int64(len(ms))), sOK
		}
		var keys []string
		m := MemberScanner{b: in.raw, i: 1}
		for {
			ks, ke, _, _, more := m.Next()
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
