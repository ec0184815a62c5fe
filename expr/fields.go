package expr

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"unsafe"

	"github.com/obz-dev/obz/wire"
)

// This file reads fields out of raw payload bytes without decoding the
// payload: agg, top, dedupe and join scan the event once, skip what they do
// not need and keep the raw bytes of the few values they use. Payloads are
// valid JSON when they reach a stage (the reader checks bare lines, frames
// carry checked payloads), so the scanner checks structure only as far as it
// needs not to misread or panic; it never validates.

// Path is a field of the top-level object, or a dotted path into nested
// objects: "a.b" is the field b of the object in field a.
type Path []string

// ParsePath splits a field name on dots; a leading "." (jq style) is
// allowed.
func ParsePath(s string) Path {
	return strings.Split(strings.TrimPrefix(s, "."), ".")
}

// MaxPaths bounds the paths one Extractor reads in a scan (a bit mask): a
// stage that would read more refuses its flags.
const MaxPaths = 64

// Extractor reads the raw values of a few fields in one scan of a
// payload. Duplicate keys resolve as in encoding/json and jq: the last wins.
type Extractor struct {
	paths []Path
}

// NewExtractor returns an Extractor of paths. It panics when there are more
// than MaxPaths: a stage checks that when it parses its flags.
func NewExtractor(paths []Path) *Extractor {
	if len(paths) > MaxPaths {
		panic("expr.NewExtractor: too many paths")
	}
	return &Extractor{paths: paths}
}

// Len is the number of paths x reads.
func (x *Extractor) Len() int { return len(x.paths) }

// Extract sets vals[i] to the raw bytes of paths[i]'s value, or nil when the
// field is absent (or a path runs into a value that is not an object). vals
// must have len(paths) entries; the values alias p. It returns false when p
// is not a JSON object.
func (x *Extractor) Extract(p []byte, vals [][]byte) bool {
	for i := range vals {
		vals[i] = nil
	}
	i := wsSkip(p, 0)
	if i >= len(p) || p[i] != '{' {
		return false
	}
	all := uint64(1)<<len(x.paths) - 1
	if len(x.paths) == MaxPaths {
		all = math.MaxUint64
	}
	_, ok := x.object(p, i, 0, all, vals)
	return ok
}

// object scans the object at p[i] at path depth d, for the paths in mask.
func (x *Extractor) object(p []byte, i, d int, mask uint64, vals [][]byte) (int, bool) {
	m := MemberScanner{b: p, i: i + 1}
	for {
		ks, ke, vs, ve, ok := m.Next()
		if !ok {
			return m.i, !m.bad
		}
		if !x.member(p, p[ks+1:ke-1], vs, ve, d, mask, vals) {
			return 0, false
		}
	}
}

// member takes the member key: p[vs:ve] of the object at path depth d,
// for the paths in mask; false where a nested object is malformed.
func (x *Extractor) member(p, key []byte, vs, ve, d int, mask uint64, vals [][]byte) bool {
	var deeper uint64
	for j, path := range x.paths {
		if mask&(1<<j) == 0 || !keyIs(key, path[d]) {
			continue
		}
		if len(path) == d+1 {
			vals[j] = p[vs:ve]
		} else {
			deeper |= 1 << j
		}
	}
	if deeper != 0 {
		// A later duplicate key replaces what an earlier one gave.
		for j := range x.paths {
			if deeper&(1<<j) != 0 {
				vals[j] = nil
			}
		}
		if p[vs] == '{' {
			if _, ok := x.object(p, vs, d+1, deeper, vals); !ok {
				return false
			}
		}
	}
	return true
}

// ExtractMembers is Extract on a payload whose top-level members the
// reader indexed as it checked it (wire.Frame.Members): it takes the keys
// and values from the index instead of walking the bytes. An index that
// does not fit p falls back to Extract.
func (x *Extractor) ExtractMembers(p []byte, m []uint32, vals [][]byte) bool {
	if !membersFit(p, m) {
		return x.Extract(p, vals)
	}
	for i := range vals {
		vals[i] = nil
	}
	all := uint64(1)<<len(x.paths) - 1
	if len(x.paths) == MaxPaths {
		all = math.MaxUint64
	}
	for j := 0; j+4 <= len(m); j += 4 {
		ks, ke, vs, ve := int(m[j]), int(m[j+1]&^wire.KeyEscaped), int(m[j+2]), int(m[j+3])
		if !x.member(p, p[ks+1:ke-1], vs, ve, 0, all, vals) {
			return false
		}
	}
	return true
}

// membersFit says whether m, the reader's index of an object's members
// (wire.Frame.Members: key start, key end, value start, value end for
// each), fits p, the object: otherwise (an empty object too) p's members
// are to be walked.
func membersFit(p []byte, m []uint32) bool {
	return len(m) > 0 && len(m)%4 == 0 && len(p) > 0 && int(m[len(m)-1]) <= len(p) && p[0] == '{'
}

// MemberScanner walks the members of a JSON object in its raw bytes.
type MemberScanner struct {
	b   []byte
	i   int // after '{' at the start
	n   int // members seen
	bad bool
}

// ScanMembers returns a scanner over the members of obj, a JSON object
// (leading whitespace allowed).
func ScanMembers(obj []byte) MemberScanner {
	return MemberScanner{b: obj, i: wsSkip(obj, 0) + 1}
}

// Next returns the bounds in the object of its next member's key, quotes
// and escapes included (obj[ks:ke]), and of its raw value (obj[vs:ve]); ok
// is false after the last member, or where the object is malformed.
func (m *MemberScanner) Next() (ks, ke, vs, ve int, ok bool) {
	b := m.b
	i := wsSkip(b, m.i)
	if m.n > 0 {
		if i < len(b) && b[i] == ',' {
			i = wsSkip(b, i+1)
		} else {
			if i >= len(b) || b[i] != '}' {
				m.bad = true
			}
			m.i = i + 1
			return 0, 0, 0, 0, false
		}
	}
	if i < len(b) && b[i] == '}' && m.n == 0 {
		m.i = i + 1
		return 0, 0, 0, 0, false
	}
	if i >= len(b) || b[i] != '"' {
		m.bad = true
		return 0, 0, 0, 0, false
	}
	ks = i
	ke, ok = strEnd(b, i)
	if !ok {
		m.bad = true
		return 0, 0, 0, 0, false
	}
	i = wsSkip(b, ke)
	if i >= len(b) || b[i] != ':' {
		m.bad = true
		return 0, 0, 0, 0, false
	}
	vs = wsSkip(b, i+1)
	ve, ok = valueEnd(b, vs)
	if !ok {
		m.bad = true
		return 0, 0, 0, 0, false
	}
	m.i = ve
	m.n++
	return ks, ke, vs, ve, true
}

func wsSkip(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// strEnd returns the index after the string that starts at b[i] ('"').
func strEnd(b []byte, i int) (int, bool) {
	e, _, ok := scanString(b, i)
	return e, ok
}

// valueEnd returns the index after the value that starts at b[i].
func valueEnd(b []byte, i int) (int, bool) { return scanValue(b, i) }

// keyIs reports whether the raw key (escapes untouched) names name.
func keyIs(raw []byte, name string) bool {
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw) == name
	}
	var s string
	q := make([]byte, 0, len(raw)+2)
	q = append(append(append(q, '"'), raw...), '"')
	return json.Unmarshal(q, &s) == nil && s == name
}

// MemberSpan returns the bounds of the member named name in the object p,
// from its key's opening quote to the end of its value (the last one when a
// key repeats), or ok false when it is absent.
func MemberSpan(p []byte, name string) (start, end int, ok bool) {
	i := wsSkip(p, 0)
	if i >= len(p) || p[i] != '{' {
		return 0, 0, false
	}
	m := MemberScanner{b: p, i: i + 1}
	for {
		ks, ke, _, ve, more := m.Next()
		if !more {
			return start, end, ok
		}
		if keyIs(p[ks+1:ke-1], name) {
			start, end, ok = ks, ve, true
		}
	}
}

// bytesString views b as a string without copying, for parsing only: the
// string must not outlive b.
func bytesString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// NumberValue returns the value of a raw JSON number; ok is false for any
// other value (strings that look like numbers included).
func NumberValue(raw []byte) (float64, bool) {
	if len(raw) == 0 || (raw[0] != '-' && (raw[0] < '0' || raw[0] > '9')) {
		return 0, false
	}
	f, err := strconv.ParseFloat(bytesString(raw), 64)
	return f, err == nil
}

// plainInteger reports whether a raw number is a plain integer (no fraction,
// exponent or leading zero), which is already canonical.
func plainInteger(raw []byte) bool {
	s := raw
	if len(s) > 0 && s[0] == '-' {
		s = s[1:]
	}
	if len(s) == 0 || len(s) > 15 || (s[0] == '0' && len(raw) > 1) {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// AppendCanonical appends a canonical form of a raw JSON value, so that
// values equal for jq group together: strings are unescaped and re-encoded,
// numbers are compared by value (1, 1.0 and 1e0 are one key), objects and
// arrays lose their insignificant whitespace (their key order counts).
// nil (absent) appends null.
func AppendCanonical(dst, raw []byte) []byte {
	if len(raw) == 0 {
		return append(dst, "null"...)
	}
	switch c := raw[0]; {
	case c == '"':
		if bytes.IndexByte(raw, '\\') < 0 {
			return append(dst, raw...)
		}
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return append(dst, raw...)
		}
		return wire.AppendString(dst, s)
	case c == '-' || c >= '0' && c <= '9':
		if plainInteger(raw) {
			return append(dst, raw...)
		}
		if f, ok := NumberValue(raw); ok {
			return AppendNumber(dst, f)
		}
		return append(dst, raw...)
	case c == '{' || c == '[':
		var buf bytes.Buffer
		if json.Compact(&buf, raw) != nil {
			return append(dst, raw...)
		}
		return append(dst, buf.Bytes()...)
	}
	return append(dst, raw...)
}

// AppendNumber formats f as encoding/json does (integers without a
// fraction, exponents only for very large or small values); NaN and
// infinities, which JSON cannot hold, become null.
func AppendNumber(dst []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(dst, "null"...)
	}
	abs := math.Abs(f)
	fmtc := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		fmtc = 'e'
	}
	dst = strconv.AppendFloat(dst, f, fmtc, -1, 64)
	if fmtc == 'e' {
		// clean up e-09 to e-9
		n := len(dst)
		if n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
}
