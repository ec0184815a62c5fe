package format

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/obz-dev/obz/wire"
)

// errValueTooLarge stops the JSON decoder at a value longer than --max-line.
var errValueTooLarge = errors.New("value too large")

// jsonItem is one value of a JSON input, or one stretch of it that could
// not be read (Err set). Start and End are byte offsets in the input: the
// items of an input, in order, cover it, with only whitespace and array
// syntax ([ , ]) between them.
type jsonItem struct {
	Start, End int64
	Line       int64  // the line of the item's first byte that is not whitespace
	Value      []byte // compact JSON, valid until the next item
	Kind       string // for errors: parse, utf8, too-long
	Msg        string
	Raw        []byte // for errors: the first 1 KiB of the stretch, valid UTF-8
	Element    bool   // the value is an element of a top-level array
}

// scanJSON reads in, a top-level array (its first non-space byte is "[")
// or else concatenated JSON values, and calls yield for each item. Values
// are streamed: only the one being decoded is held, up to max bytes. It
// returns yield's error, or the error that ended in early (not io.EOF).
//
// After a syntax error, reading resumes at the next line that starts with
// "{" or "[" (concatenated values) or whose first non-blank character is
// "{" (in an array); the stretch in between is one error item. With no such
// line, the rest of the input is.
func scanJSON(in io.Reader, max int, yield func(*jsonItem) error) error {
	t := &jsonTape{r: in, max: int64(max)}
	_, first, ok := t.firstNonSpace(0)
	if !ok {
		return t.err // empty, or only whitespace
	}
	s := &jsonScan{t: t, yield: yield, array: first == '['}
	return s.run()
}

type jsonScan struct {
	t     *jsonTape
	yield func(*jsonItem) error
	array bool
	raw   json.RawMessage
	buf   []byte
	item  jsonItem
}

func (s *jsonScan) run() error {
	from, resumed := int64(0), false
	for {
		next, err := s.session(from, resumed)
		if err != nil || next < 0 {
			return err
		}
		from, resumed = next, true
	}
}

// session decodes from offset from with a new decoder until the input
// ends (it returns -1) or a value fails: then it reports the stretch up to
// where reading resumes, and returns that offset. In an array, a resumed
// session is fed a "[" first, so that the decoder takes what follows as
// elements.
func (s *jsonScan) session(from int64, resumed bool) (int64, error) {
	t := s.t
	cur := &tapeCursor{t: t, off: from}
	var src io.Reader = cur
	shift := int64(0)
	if s.array && resumed {
		src, shift = io.MultiReader(bytes.NewReader([]byte{'['}), src), 1
	}
	dec := json.NewDecoder(src)
	pos := func() int64 { return from + dec.InputOffset() - shift }
	var end int64 // end of the last value or token
	fail := func(err error, what string) (int64, error) {
		// Where the decoder found the error: reading resumes after it,
		// never inside what the decoder has been through (which keeps
		// hostile input, deep nesting say, from being decoded again and again).
		at := pos()
		var se *json.SyntaxError
		switch {
		case errors.As(err, &se):
			at = max(at, from+se.Offset-1-shift)
		case errors.Is(err, errValueTooLarge), err == io.ErrUnexpectedEOF, err == io.EOF:
			at = cur.off
		}
		return s.fail(end, at, err, what)
	}
	if !s.array {
		for {
			end = pos()
			t.setMark(end)
			if err := dec.Decode(&s.raw); err == io.EOF {
				return -1, t.err
			} else if err != nil {
				return fail(err, "")
			}
			if err := s.value(pos()); err != nil {
				return 0, err
			}
		}
	}
	for {
		end = pos()
		t.setMark(end)
		tok, err := dec.Token()
		if err == io.EOF {
			return -1, t.err
		}
		if err != nil {
			return fail(err, "")
		}
		if tok != json.Delim('[') {
			return fail(nil, "after the array, only another array may follow")
		}
		for dec.More() {
			end = pos()
			t.setMark(end)
			if err := dec.Decode(&s.raw); err != nil {
				return fail(err, "")
			}
			if err := s.value(pos()); err != nil {
				return 0, err
			}
		}
		end = pos()
		if _, err := dec.Token(); err != nil { // the "]"
			return fail(err, "")
		}
	}
}

// value yields s.raw, which ends at offset end.
func (s *jsonScan) value(end int64) error {
	it := &s.item
	*it = jsonItem{Start: end - int64(len(s.raw)), End: end, Element: s.array}
	it.Line = s.t.lineAt(it.Start)
	if int64(len(s.raw)) > s.t.max {
		it.Kind, it.Raw = "too-long", validUTF8Prefix(s.raw)
		it.Msg = fmt.Sprintf("a value of %d bytes exceeds the limit of %d bytes (raise it with --max-line)", len(s.raw), s.t.max)
		s.t.setMark(end)
		return s.yield(it)
	}
	if !utf8.Valid(s.raw) {
		it.Kind, it.Msg, it.Raw = "utf8", "invalid UTF-8", bytes.ToValidUTF8(s.raw, []byte("\ufffd"))
		s.t.setMark(end)
		return s.yield(it)
	}
	s.buf = appendCompact(s.buf[:0], s.raw)
	it.Value = s.buf
	s.t.setMark(end)
	return s.yield(it)
}

// fail reports the input from offset start on, up to where reading
// resumes, as one error item, and returns that offset (-1: the input ended).
// err is the decoder's error, or nil with what saying what is wrong; at is
// where it was found.
func (s *jsonScan) fail(start, at int64, err error, what string) (int64, error) {
	t := s.t
	if t.err != nil {
		return 0, t.err // stopped, or the input failed: no error item for a cut value
	}
	vs, more := start, false
	for {
		var c byte
		if vs, c, more = t.firstNonSpace(vs); !more || c != ',' || !s.array {
			break
		}
		vs++ // an array's commas: the stretch starts with what follows them
	}
	if t.err != nil {
		return 0, t.err
	}
	it := &s.item
	*it = jsonItem{Start: vs, Line: t.lineAt(vs), Kind: "parse"}
	var se *json.SyntaxError
	switch {
	case what != "":
		it.Msg = "invalid JSON: " + what
	case errors.Is(err, errValueTooLarge):
		it.Kind, it.Msg = "too-long", fmt.Sprintf("a value runs over the limit of %d bytes (raise it with --max-line)", t.max)
	case (err == io.ErrUnexpectedEOF || err == io.EOF) && s.array && !more:
		it.Msg = "invalid JSON: unexpected end of input: the array is not closed"
	case err == io.ErrUnexpectedEOF || err == io.EOF:
		it.Msg = "invalid JSON: unexpected end of input (an unfinished value)"
	case errors.As(err, &se):
		it.Msg = "invalid JSON: " + se.Error()
	default:
		it.Msg = "invalid JSON: " + err.Error()
	}
	next, raw := t.skipTo(vs, max(at, vs+1), s.array)
	if t.err != nil {
		return 0, t.err
	}
	cutset := " \t\r\n"
	if s.array {
		cutset += "," // the comma before the next element
	}
	it.Raw = validUTF8Prefix(bytes.TrimRight(raw, cutset))
	switch {
	case next < 0 && t.end() == it.Start:
		it.End = it.Start
	case next < 0:
		it.End = t.end()
		it.Msg += fmt.Sprintf(" (the rest of the input, %d bytes, is skipped)", it.End-it.Start)
	default:
		it.End = next
		it.Msg += fmt.Sprintf(" (%d bytes skipped; reading resumes at line %d)", it.End-it.Start, t.lineAt(next))
	}
	return next, s.yield(it)
}

// appendCompact appends the valid JSON src without the whitespace outside
// its strings (a pretty-printed value becomes one line).
func appendCompact(dst, src []byte) []byte {
	if bytes.IndexAny(src, " \t\r\n") < 0 {
		return append(dst, src...)
	}
	inStr, esc := false, false
	for _, c := range src {
		switch {
		case inStr:
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inStr = false
			}
		case c == '"':
			inStr = true
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			continue
		}
		dst = append(dst, c)
	}
	return dst
}

// validUTF8Prefix returns b with invalid UTF-8 replaced, at most rawLimit
// bytes of it, cut at a character boundary.
func validUTF8Prefix(b []byte) []byte {
	b = bytes.ToValidUTF8(b[:min(len(b), rawLimit+utf8.UTFMax)], []byte("\ufffd"))
	if len(b) > rawLimit {
		n := rawLimit
		for n > 0 && !utf8.RuneStart(b[n]) {
			n--
		}
		b = b[:n]
	}
	return b
}

// rawLimit bounds the raw text an error event keeps of a skipped stretch.
const rawLimit = 1024

// jsonDecoder reads JSON: the elements of a top-level array, or
// concatenated values (see scanJSON).
type jsonDecoder struct {
	in       endReader
	o        Options
	n        int
	consumed int64
	rec      Record
	p        Problem
}

func (d *jsonDecoder) Pos() (int, int64) { return d.n, d.consumed }

func (d *jsonDecoder) Decode(yield func(*Record) error) error {
	var yerr error
	err := scanJSON(&d.in, d.o.MaxLine, func(it *jsonItem) error {
		d.n++
		d.consumed = it.End
		rec := &d.rec
		if it.Kind == "" && d.o.Entries != "" && !it.Element && len(it.Value) > 0 && it.Value[0] == '{' {
			yerr = d.entries(it, yield)
			return yerr
		}
		if it.Kind == "" {
			*rec = Record{Payload: it.Value, Line: it.Line}
		} else {
			d.p = Problem{Kind: it.Kind, Msg: it.Msg, Raw: it.Raw}
			*rec = Record{Line: it.Line, Problem: &d.p}
		}
		yerr = yield(rec)
		return yerr
	})
	if yerr == nil && d.in.err != nil {
		return d.in.end(d.o.Name)
	}
	return err
}

// entries yields the members of a top-level object as records (--entries):
// {KEY:name, ...value} for a member whose value is an object,
// {KEY:name,"value":value} for any other, KEY being Options.Entries. A
// member whose object already has a KEY field is a problem (kind entries).
func (d *jsonDecoder) entries(it *jsonItem, yield func(*Record) error) error {
	dec := json.NewDecoder(bytes.NewReader(it.Value))
	dec.Token() // the "{": the value is valid JSON
	key := wire.AppendString(nil, d.o.Entries)
	var raw json.RawMessage
	var buf []byte
	for dec.More() {
		tok, _ := dec.Token()
		name := tok.(string)
		if err := dec.Decode(&raw); err != nil {
			return fmt.Errorf("reading %s: %w", d.o.Name, err) // cannot happen: the value was checked
		}
		rec := &d.rec
		buf = append(append(append(append(buf[:0], '{'), key...), ':'), wire.AppendString(nil, name)...)
		switch {
		case raw[0] != '{':
			buf = append(append(append(buf, `,"value":`...), raw...), '}')
			*rec = Record{Payload: buf, Line: it.Line}
		case hasKey(raw, d.o.Entries):
			d.p = Problem{Kind: "entries", Msg: fmt.Sprintf("member %s: its object has a %s field already (name the key field with --entries-key)",
				wire.AppendString(nil, name), wire.AppendString(nil, d.o.Entries)), Raw: validUTF8Prefix(raw)}
			*rec = Record{Line: it.Line, Problem: &d.p}
		case len(raw) == 2: // {}
			buf = append(buf, '}')
			*rec = Record{Payload: buf, Line: it.Line}
		default:
			buf = append(append(buf, ','), raw[1:]...)
			*rec = Record{Payload: buf, Line: it.Line}
		}
		if err := yield(rec); err != nil {
			return err
		}
	}
	return nil
}

// hasKey reports whether the JSON object obj has a member named name.
func hasKey(obj []byte, name string) bool {
	dec := json.NewDecoder(bytes.NewReader(obj))
	dec.Token()
	var skip json.RawMessage
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		if tok == name {
			return true
		}
		if dec.Decode(&skip) != nil {
			return false
		}
	}
	return false
}
