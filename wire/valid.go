package wire

import (
	"encoding/binary"
	"math/bits"
	"unicode/utf8"
)

// lo and hi are the bytes 0x01 and 0x80 in every byte of a word.
const (
	lo = 0x0101010101010101
	hi = 0x8080808080808080
)

// Valid reports whether b is exactly one JSON value, optionally surrounded
// by whitespace. Its verdicts are those of encoding/json's Valid (fuzzed
// against it: FuzzValid), including the nesting limit of 10000 and the
// acceptance of invalid UTF-8 inside strings (the Reader checks UTF-8
// separately); it is several times faster and does not allocate.
func Valid(b []byte) bool { return valid(b, 0) }

// validUTF8JSON reports whether b is valid JSON, as Valid, and valid UTF-8,
// in one pass: bytes beyond ASCII can only be in strings, and the string
// scan checks them there. It is utf8.Valid(b) && Valid(b) (FuzzValidUTF8JSON).
func validUTF8JSON(b []byte) bool { return valid(b, hi) }

// valid is Valid, and with high = hi validUTF8JSON: high marks the bytes
// beyond ASCII as ones a string scan stops at, to check their UTF-8.
func valid(b []byte, high uint64) bool {
	i, ok := validValue(b, skipWS(b, 0), high, 0)
	return ok && skipWS(b, i) == len(b)
}

// validValue checks the value at b[i], nested in depth arrays and objects
// (for the nesting limit), and returns the index after it.
func validValue(b []byte, i int, high uint64, depth int) (int, bool) {
	// inObj has bit d set when nesting level d (from 1) is an object: in
	// one word up to level 63, in deep beyond (allocated for the rare
	// document nested that deep: zeroing it for every line cost 10 %).
	var inObj uint64
	var deep *[maxNesting/64 + 1]uint64
	base := depth
	for {
		// A value starts at b[i].
		if i >= len(b) {
			return 0, false
		}
		switch c := b[i]; {
		case c == '"':
			var ok bool
			if i, ok = validString(b, i+1, high); !ok {
				return 0, false
			}
		case c == '{' || c == '[':
			depth++
			if depth > maxNesting {
				return 0, false
			}
			i = skipWS(b, i+1)
			if depth >= 64 && deep == nil {
				deep = new([maxNesting/64 + 1]uint64)
			}
			if c == '[' {
				if depth < 64 {
					inObj &^= 1 << depth
				} else {
					deep[depth>>6] &^= 1 << (depth & 63)
				}
				if i < len(b) && b[i] == ']' {
					depth--
					i++
					break
				}
				continue
			}
			if depth < 64 {
				inObj |= 1 << depth
			} else {
				deep[depth>>6] |= 1 << (depth & 63)
			}
			if i < len(b) && b[i] == '}' {
				depth--
				i++
				break
			}
			var ok bool
			if i, ok = validKey(b, i, high); !ok {
				return 0, false
			}
			continue
		case c == '-' || c >= '0' && c <= '9':
			var ok bool
			if i, ok = validNumber(b, i); !ok {
				return 0, false
			}
		case c == 't':
			if !hasAt(b, i, "true") {
				return 0, false
			}
			i += 4
		case c == 'f':
			if !hasAt(b, i, "false") {
				return 0, false
			}
			i += 5
		case c == 'n':
			if !hasAt(b, i, "null") {
				return 0, false
			}
			i += 4
		default:
			return 0, false
		}
		// After a value: close containers, or go on to the next value.
		for {
			if depth == base {
				return i, true
			}
			i = skipWS(b, i)
			if i >= len(b) {
				return 0, false
			}
			var obj bool
			if depth < 64 {
				obj = inObj&(1<<depth) != 0
			} else {
				obj = deep[depth>>6]&(1<<(depth&63)) != 0
			}
			c := b[i]
			if c == ',' {
				i = skipWS(b, i+1)
				if obj {
					var ok bool
					if i, ok = validKey(b, i, high); !ok {
						return 0, false
					}
				}
				break
			}
			if obj && c == '}' || !obj && c == ']' {
				depth--
				i++
				continue
			}
			return 0, false
		}
	}
}

// maxNesting is encoding/json's limit on nested arrays and objects.
const maxNesting = 10000

func skipWS(b []byte, i int) int {
	for i < len(b) && jsonSpace[b[i]] {
		i++
	}
	return i
}

var jsonSpace = [256]bool{' ': true, '\t': true, '\n': true, '\r': true}

func hasAt(b []byte, i int, lit string) bool {
	return len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit
}

// validKey checks `"key" :` at b[i] and returns the index of the value.
func validKey(b []byte, i int, high uint64) (int, bool) {
	if i >= len(b) || b[i] != '"' {
		return 0, false
	}
	i, ok := validString(b, i+1, high)
	if !ok {
		return 0, false
	}
	i = skipWS(b, i)
	if i >= len(b) || b[i] != ':' {
		return 0, false
	}
	return skipWS(b, i+1), true
}

// strSpecial marks the bytes a string's fast scan stops at.
var strSpecial = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

// validString checks a string whose opening quote is at b[i-1] and returns
// the index after its closing quote. high is 0, or hi to stop at the
// bytes beyond ASCII too and check their UTF-8.
func validString(b []byte, i int, high uint64) (int, bool) {
	for {
		// Eight bytes at a time: a byte below 0x20, a quote or a
		// backslash (or, with high set, beyond ASCII) sets its top bit
		// in x. A borrow can only spread past a byte that is itself one
		// of them, so x is zero exactly when there is none. The three
		// tests share one &^v: a quote or backslash is ASCII, so the top
		// bit of v^(lo*'"') and v^(lo*'\\') is that of v.
		for i+8 <= len(b) {
			v := binary.LittleEndian.Uint64(b[i:])
			if x := ((v-lo*0x20|((v^lo*'"')-lo)|((v^lo*'\\')-lo))&^v | v&high) & hi; x != 0 {
				i += bits.TrailingZeros64(x) >> 3 // the first such byte
				goto special
			}
			i += 8
		}
		for i < len(b) && !strSpecial[b[i]] && b[i]&byte(high) == 0 {
			i++
		}
	special:
		if i >= len(b) {
			return 0, false
		}
		switch b[i] {
		case '"':
			return i + 1, true
		case '\\':
			if i+1 >= len(b) {
				return 0, false
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if len(b)-i < 6 || !isHex(b[i+2]) || !isHex(b[i+3]) || !isHex(b[i+4]) || !isHex(b[i+5]) {
					return 0, false
				}
				i += 6
			default:
				return 0, false
			}
		default:
			if b[i] < utf8.RuneSelf { // a control character
				return 0, false
			}
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size == 1 {
				return 0, false
			}
			i += size
		}
	}
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// validNumber checks a number at b[i] and returns the index after it.
func validNumber(b []byte, i int) (int, bool) {
	if b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		return 0, false
	case b[i] == '0':
		i++
	case b[i] >= '1' && b[i] <= '9':
		i = digits(b, i+1)
	default:
		return 0, false
	}
	if i < len(b) && b[i] == '.' {
		j := digits(b, i+1)
		if j == i+1 {
			return 0, false
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(b, i)
		if j == i {
			return 0, false
		}
		i = j
	}
	return i, true
}

func digits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}

// KeyEscaped is set in the key end of a member of Frame.Members whose key
// has an escape: its name is not its bytes.
const KeyEscaped = 1 << 31

// ValidIndex is the check a Reader makes of a bare line (validUTF8JSON:
// valid UTF-8, one JSON value), and where b is an object, it appends the
// offsets of its members to idx as Frame.Members holds them (relative to
// the object's first byte, after the white space before it): the check
// walks those bytes anyway, and a stage reading the object's fields then
// need not walk them again. obj is false (and idx as it was) when b is not
// an object, is not valid, or is too long for the offsets.
func ValidIndex(b []byte, idx []uint32) (out []uint32, obj, ok bool) {
	s := skipWS(b, 0)
	if s >= len(b) || b[s] != '{' || len(b) >= KeyEscaped {
		return idx, false, validUTF8JSON(b)
	}
	n := len(idx)
	i := skipWS(b, s+1)
	if i < len(b) && b[i] == '}' {
		ok := skipWS(b, i+1) == len(b)
		return idx, ok, ok
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return idx[:n], false, false
		}
		ks := i
		ke, ok := validString(b, i+1, hi)
		if !ok {
			return idx[:n], false, false
		}
		esc := uint32(0)
		for _, c := range b[ks+1 : ke-1] {
			if c == '\\' {
				esc = KeyEscaped
				break
			}
		}
		i = skipWS(b, ke)
		if i >= len(b) || b[i] != ':' {
			return idx[:n], false, false
		}
		vs := skipWS(b, i+1)
		var ve int
		// Strings and numbers, most members' values, without
		// validValue's set-up.
		switch {
		case vs >= len(b):
			return idx[:n], false, false
		case b[vs] == '"':
			ve, ok = validString(b, vs+1, hi)
		case b[vs] == '-' || b[vs] >= '0' && b[vs] <= '9':
			ve, ok = validNumber(b, vs)
		default:
			ve, ok = validValue(b, vs, hi, 1)
		}
		if !ok {
			return idx[:n], false, false
		}
		idx = append(idx, uint32(ks-s), uint32(ke-s)|esc, uint32(vs-s), uint32(ve-s))
		i = skipWS(b, ve)
		if i >= len(b) {
			return idx[:n], false, false
		}
		switch b[i] {
		case ',':
			i = skipWS(b, i+1)
			continue
		case '}':
			if skipWS(b, i+1) != len(b) {
				return idx[:n], false, false
			}
			return idx, true, true
		}
		return idx[:n], false, false
	}
}
