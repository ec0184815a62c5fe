package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// framePrefix starts every frame. A line is a frame exactly when it begins
// with these bytes; any other line is a bare NDJSON event.
var framePrefix = []byte(`{"obz":`)

// IsFrame reports whether line is an obz frame rather than a bare event.
func IsFrame(line []byte) bool { return bytes.HasPrefix(line, framePrefix) }

// Decode parses one frame line (without its newline) into f. Payload and Raw
// alias line. Keys may come in any order, except that the payload "d" must
// be the last key: it is taken as raw bytes up to the closing brace, without
// being parsed (payloads are validated where they enter obz). Unknown keys
// are skipped so that newer writers can add fields.
func Decode(line []byte, f *Frame) error {
	*f = Frame{}
	line = bytes.TrimRight(line, " \t\r")
	if !IsFrame(line) {
		return errors.New("not a frame: missing {\"obz\": prefix")
	}
	s := scanner{b: line, i: 1}
	var version int64 = -1
	var typ []byte
	haveSeq := false
	for first := true; ; first = false {
		s.ws()
		if s.peek() == '}' && !first {
			s.i++
			break
		}
		if !first {
			if !s.expect(',') {
				return s.err("expected , or }")
			}
			s.ws()
		}
		key, ok := s.str()
		if !ok {
			return s.err("expected a key")
		}
		s.ws()
		if !s.expect(':') {
			return s.err("expected :")
		}
		s.ws()
		var err error
		switch string(key) {
		case "obz":
			version, err = s.int()
		case "t":
			typ, err = s.strErr()
		case "w":
			var w []byte
			w, err = s.strErr()
			f.Writer = string(w)
		case "s":
			var n int64
			n, err = s.int()
			f.Seq, haveSeq = uint64(n), true
		case "p":
			f.Parent, err = s.ref()
		case "of":
			f.Of, err = s.ref()
		case "n":
			var n int64
			n, err = s.int()
			f.Count = uint64(n)
		case "kind":
			var k []byte
			if k, err = s.strErr(); err == nil {
				var ok bool
				if f.EOF, ok = ParseEOFKind(string(k)); !ok {
					err = fmt.Errorf("unknown EOF kind %q", k)
				}
			}
		case "at":
			f.Time, err = s.float()
		case "status":
			var st []byte
			st, err = s.strErr()
			f.Status = string(st)
		case "err":
			f.Err, err = s.errInfo(f.Err)
		case "raw":
			var raw []byte
			if raw, err = s.strErr(); err == nil {
				if f.Err == nil {
					f.Err = &ErrorInfo{}
				}
				f.Err.Raw = raw
			}
		case "d":
			end := len(s.b) - 1
			if end < s.i || s.b[end] != '}' {
				return s.err("frame does not end with }")
			}
			f.Payload = bytes.TrimRight(s.b[s.i:end], " \t")
			if len(f.Payload) == 0 {
				return s.err("empty payload")
			}
			s.i = len(s.b)
			goto done
		default:
			err = s.skip()
		}
		if err != nil {
			return fmt.Errorf("key %q: %w", key, err)
		}
	}
	s.ws()
	if s.i != len(s.b) {
		return s.err("trailing bytes after frame")
	}
done:
	if version < 1 {
		return errors.New(`missing or bad "obz" version`)
	}
	if version > Version {
		return fmt.Errorf("protocol version %d is newer than this obz understands (%d)", version, Version)
	}
	switch string(typ) {
	case "data":
		f.Kind = KindData
		if f.Payload == nil {
			return errors.New(`data frame without payload "d"`)
		}
	case "error":
		f.Kind = KindError
		if f.Err == nil {
			return errors.New(`error frame without "err"`)
		}
	case "eof":
		f.Kind = KindEOF
	case "wm":
		f.Kind = KindWatermark
	case "receipt":
		f.Kind = KindReceipt
	case "":
		return errors.New(`frame without type "t"`)
	default:
		return fmt.Errorf("unknown frame type %q", typ)
	}
	if (f.Kind == KindData || f.Kind == KindError) && (!haveSeq || f.Seq == 0) {
		return errors.New(`data frame without a positive seq "s"`)
	}
	if f.Writer == "" {
		return errors.New(`frame without writer "w"`)
	}
	return nil
}

// scanner is a minimal JSON cursor for frame headers.
type scanner struct {
	b []byte
	i int
}

func (s *scanner) err(msg string) error { return fmt.Errorf("%s at byte %d", msg, s.i) }

func (s *scanner) peek() byte {
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\r', '\n':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) expect(c byte) bool {
	if s.peek() == c {
		s.i++
		return true
	}
	return false
}

// str reads a JSON string. Without escapes it aliases the input.
func (s *scanner) str() ([]byte, bool) {
	if !s.expect('"') {
		return nil, false
	}
	start := s.i
	for j := s.i; j < len(s.b); j++ {
		switch c := s.b[j]; {
		case c == '"':
			s.i = j + 1
			if !utf8.Valid(s.b[start:j]) {
				return nil, false
			}
			return s.b[start:j], true
		case c == '\\':
			return s.escaped(start - 1)
		case c < 0x20:
			return nil, false
		}
	}
	return nil, false
}

// escaped decodes a string with escapes starting at the quote at q.
func (s *scanner) escaped(q int) ([]byte, bool) {
	j := q + 1
	for ; j < len(s.b); j++ {
		if s.b[j] == '\\' {
			j++
		} else if s.b[j] == '"' {
			break
		}
	}
	if j >= len(s.b) {
		return nil, false
	}
	var out string
	if err := json.Unmarshal(s.b[q:j+1], &out); err != nil {
		return nil, false
	}
	s.i = j + 1
	return []byte(out), true
}

func (s *scanner) strErr() ([]byte, error) {
	v, ok := s.str()
	if !ok {
		return nil, s.err("expected a string")
	}
	return v, nil
}

func (s *scanner) number() []byte {
	start := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		if (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' {
			s.i++
			continue
		}
		break
	}
	return s.b[start:s.i]
}

func (s *scanner) int() (int64, error) {
	n, err := strconv.ParseInt(string(s.number()), 10, 64)
	if err != nil || n < 0 {
		return 0, s.err("expected a non-negative integer")
	}
	return n, nil
}

func (s *scanner) float() (float64, error) {
	v, err := strconv.ParseFloat(string(s.number()), 64)
	if err != nil {
		return 0, s.err("expected a number")
	}
	return v, nil
}

func (s *scanner) ref() (Ref, error) {
	var r Ref
	if !s.expect('[') {
		return r, s.err("expected [writer, seq]")
	}
	s.ws()
	w, err := s.strErr()
	if err != nil {
		return r, err
	}
	s.ws()
	if !s.expect(',') {
		return r, s.err("expected ,")
	}
	s.ws()
	n, err := s.int()
	if err != nil {
		return r, err
	}
	s.ws()
	if !s.expect(']') {
		return r, s.err("expected ]")
	}
	return Ref{Writer: string(w), Seq: uint64(n)}, nil
}

func (s *scanner) errInfo(prev *ErrorInfo) (*ErrorInfo, error) {
	start := s.i
	if err := s.skip(); err != nil {
		return nil, err
	}
	var v struct {
		Kind  string `json:"kind"`
		Msg   string `json:"msg"`
		Stage string `json:"stage"`
		Line  int64  `json:"line"`
	}
	if err := json.Unmarshal(s.b[start:s.i], &v); err != nil {
		return nil, fmt.Errorf("bad err object: %w", err)
	}
	e := &ErrorInfo{Kind: v.Kind, Msg: v.Msg, Stage: v.Stage, Line: v.Line}
	if prev != nil {
		e.Raw = prev.Raw
	}
	return e, nil
}

// skip moves past one JSON value, checking only its structure.
func (s *scanner) skip() error {
	start := s.i
	depth := 0
	for s.i < len(s.b) {
		switch c := s.b[s.i]; c {
		case '"':
			if _, ok := s.str(); !ok {
				return s.err("bad string")
			}
		case '{', '[':
			depth++
			s.i++
		case '}', ']':
			if depth == 0 {
				return s.finishSkip(start)
			}
			depth--
			s.i++
		case ',':
			if depth == 0 {
				return s.finishSkip(start)
			}
			s.i++
		default:
			s.i++
		}
		if depth == 0 && s.i > start && (s.b[s.i-1] == '"' || s.b[s.i-1] == '}' || s.b[s.i-1] == ']') {
			return s.finishSkip(start)
		}
	}
	return s.finishSkip(start)
}

func (s *scanner) finishSkip(start int) error {
	v := bytes.TrimSpace(s.b[start:s.i])
	if len(v) == 0 || !json.Valid(v) {
		return s.err("bad value")
	}
	return nil
}
