package expr

import (
	"bytes"
	"encoding/binary"
	"math/bits"

	"github.com/obz-dev/obz/wire"
)

// swarLo and swarHi are the bytes 0x01 and 0x80 in every byte of a word.
const (
	swarLo = 0x0101010101010101
	swarHi = 0x8080808080808080
)

// The fast path's scan of the payload's top level: one pass over the object
// that keeps the raw values of the keys the expression reads. It does the
// work of Extractor.Extract for top-level keys only, with tighter loops
// (profiling showed the scan is most of the fast path's cost).

// scanTop sets slots[i] to the raw value of keys[i] in the object b (the
// last one when a key repeats; nil when absent). It returns false when b is
// not an object or is not well formed as far as the scan can tell.
//
// It reads to the end even when every key is found, for a later repeat of
// one. Stopping early where the rest holds no escape and none of the
// quoted keys (bytes.Contains for each) was measured slower than this scan:
// map {id, user, amount} 415-434 against 345 ns per event.
func scanTop(b []byte, keys []string, slots [][]byte) bool {
	for i := range slots {
		slots[i] = nil
	}
	missing := len(keys)
	i := wsSkip(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	i = wsSkip(b, i+1)
	if i < len(b) && b[i] == '}' {
		return true
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return false
		}
		ks := i
		ke, esc, ok := scanString(b, i)
		if !ok {
			return false
		}
		i = wsSkip(b, ke)
		if i >= len(b) || b[i] != ':' {
			return false
		}
		vs := wsSkip(b, i+1)
		ve, ok := scanValue(b, vs)
		if !ok {
			return false
		}
		key := b[ks+1 : ke-1]
		for j, k := range keys {
			if len(k) == len(key) && !esc && string(key) == k {
				if slots[j] == nil {
					missing--
				}
				slots[j] = b[vs:ve]
			} else if esc {
				if eq, ok := fastKeyIs(b[ks:ke], k); !ok {
					return false
				} else if eq {
					if slots[j] == nil {
						missing--
					}
					slots[j] = b[vs:ve]
				}
			}
		}
		if missing == 0 {
			if noKeyLater(b[ve:], keys) {
				return true
			}
			missing = -1 // look once
		}
		i = wsSkip(b, ve)
		if i >= len(b) {
			return false
		}
		if b[i] == '}' {
			return true
		}
		if b[i] != ',' {
			return false
		}
		i = wsSkip(b, i+1)
	}
}

// indexTop is scanTop for an object payload whose top-level members the
// reader indexed as it checked the line (wire.Frame.Members): it compares
// the keys without walking the values. An index that does not fit b
// (which Program's callers rule out) falls back to the scan.
func indexTop(b []byte, m []uint32, keys []string, slots [][]byte) bool {
	if !membersFit(b, m) {
		return scanTop(b, keys, slots)
	}
	for i := range slots {
		slots[i] = nil
	}
	for j := 0; j+4 <= len(m); j += 4 {
		ks, ke, vs, ve := m[j], m[j+1], m[j+2], m[j+3]
		if ke&wire.KeyEscaped != 0 {
			raw := b[ks : ke&^wire.KeyEscaped]
			for i, k := range keys {
				if eq, ok := fastKeyIs(raw, k); !ok {
					return false
				} else if eq {
					slots[i] = b[vs:ve]
				}
			}
			continue
		}
		key := b[ks+1 : ke-1]
		for i, k := range keys {
			if len(k) == len(key) && string(key) == k {
				slots[i] = b[vs:ve]
			}
		}
	}
	return true
}

// scanStop marks the bytes a string scan stops at.
var scanStop = [256]bool{'"': true, '\\': true}

// scanString returns the index after the string at b[i] ('"') and whether
// it has escapes.
func scanString(b []byte, i int) (end int, esc, ok bool) {
	i++
	for {
		// Eight bytes at a time (as wire's validString): x has the top
		// bit of each quote or backslash; the lowest one is exact.
		for i+8 <= len(b) {
			v := binary.LittleEndian.Uint64(b[i:])
			q, s := v^(swarLo*'"'), v^(swarLo*'\\')
			if x := ((q-swarLo)&^q | (s-swarLo)&^s) & swarHi; x != 0 {
				i += bits.TrailingZeros64(x) >> 3
				goto stop
			}
			i += 8
		}
		for i < len(b) && !scanStop[b[i]] {
			i++
		}
	stop:
		if i >= len(b) {
			return 0, false, false
		}
		if b[i] == '"' {
			return i + 1, esc, true
		}
		esc = true
		i += 2
	}
}

// scanValue returns the index after the value at b[i].
func scanValue(b []byte, i int) (int, bool) {
	if i >= len(b) {
		return 0, false
	}
	switch b[i] {
	case '"':
		e, _, ok := scanString(b, i)
		return e, ok
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				e, _, ok := scanString(b, i)
				if !ok {
					return 0, false
				}
				i = e
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1, true
				}
			}
			i++
		}
		return 0, false
	}
	j := i
	for j < len(b) && !scanDelim[b[j]] {
		j++
	}
	return j, j > i
}

// scanDelim marks the bytes that end a number or literal.
var scanDelim = [256]bool{',': true, '}': true, ']': true, ' ': true, '\t': true, '\n': true, '\r': true}

// noKeyLater reports whether rest can hold no member named by one of keys.
// Without escapes in rest, a later member named k is `"k"`, maybe
// whitespace, then a colon: it looks at the bytes before each colon
// (a vectorised search; timestamps and text add a few false leads).
func noKeyLater(rest []byte, keys []string) bool {
	if bytes.IndexByte(rest, '\\') >= 0 {
		return false
	}
	for i := 0; ; {
		c := bytes.IndexByte(rest[i:], ':')
		if c < 0 {
			return true
		}
		c += i
		e := c - 1
		for e >= 0 && (rest[e] == ' ' || rest[e] == '\t' || rest[e] == '\n' || rest[e] == '\r') {
			e--
		}
		if e >= 0 && rest[e] == '"' {
			for _, k := range keys {
				if s := e - len(k) - 1; s >= 0 && rest[s] == '"' && string(rest[s+1:e]) == k {
					return false
				}
			}
		}
		i = c + 1
	}
}
