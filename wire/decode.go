package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"
)

// framePrefix starts every frame. A line is a frame exactly when it begins
// with these bytes; any other line is a bare NDJSON event.
var framePrefix = []byte(`{"obz":`)

// IsFrame reports whether line is an obz frame rather than a bare event.
func IsFrame(line []byte) bool { return bytes.HasPrefix(line, framePrefix) }

// ErrVersion is returned (wrapped) by Decode for a frame whose protocol
// version is newer than Version. Nothing after the version is trusted, so
// the frame is refused whole; the caller should report it as an error event
// of kind "version" and tell the user to upgrade the reading obz.
var ErrVersion = errors.New("protocol version is newer than this obz understands")

var errNotFrame = errors.New(`not a frame: missing {"obz": prefix`)

// Decode parses one frame line (without its newline) into f. Payload and Raw
// alias line. The version "obz" comes first and is checked before anything
// else; the other keys may come in any order, except that the payload "d"
// must be the last key: it is taken as raw bytes up to the closing brace,
// without being parsed (payloads are validated where they enter obz).
// Unknown keys are skipped so that newer writers can add fields, and keys
// that do not belong to the frame's type are ignored.
//
// Decode allocates the writer names it returns; a Decoder reuses them.
func Decode(line []byte, f *Frame) error { return decode(line, f, nil) }

// A Decoder decodes frames as Decode does, but keeps the last few writer
// names it saw and reuses them, so that decoding a stream of frames does not
// allocate. The zero value is ready to use; it is not safe for concurrent use.
type Decoder struct {
	names names
}

// Decode parses one frame line into f, as the package's Decode does.
func (d *Decoder) Decode(line []byte, f *Frame) error { return decode(line, f, &d.names) }

// Fields seen while decoding, for the per-type checks.
const (
	seenSeq = 1 << iota
	seenErr
	seenCount
	seenEOF
	seenTime
	seenOf
	seenRuns
)

func decode(line []byte, f *Frame, nm *names) error {
	if decodeData(line, f, nm) {
		return nil
	}
	return decodeFrame(line, f, nm)
}

// decodeFrame is the general decoder: any frame, in any key order.
func decodeFrame(line []byte, f *Frame, nm *names) error {
	*f = Frame{}
	line = trimRightJSONSpace(line)
	if !IsFrame(line) {
		return errNotFrame
	}
	s := scanner{b: line, i: len(framePrefix), names: nm}
	s.ws()
	version, err := s.version()
	if err != nil {
		return err
	}
	var typ []byte
	seen := 0
loop:
	for {
		s.ws()
		if s.expect('}') {
			s.ws()
			if s.i != len(s.b) {
				return s.err("trailing bytes after frame")
			}
			break
		}
		if !s.expect(',') {
			return s.err("expected , or }")
		}
		s.ws()
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
		case "t":
			typ, err = s.strErr()
		case "w":
			f.Writer, err = s.name()
		case "s":
			f.Seq, err = s.uint()
			seen |= seenSeq
		case "p":
			f.Parent, err = s.ref()
		case "ts":
			f.TS, err = s.uint()
		case "of":
			f.Of, err = s.ref()
			seen |= seenOf
		case "n":
			f.Count, err = s.uint()
			seen |= seenCount
		case "kind":
			var k []byte
			if k, err = s.strErr(); err == nil {
				var ok bool
				if f.EOF, ok = ParseEOFKind(string(k)); !ok {
					err = fmt.Errorf("unknown EOF kind %q", k)
				}
			}
			seen |= seenEOF
		case "at":
			f.Time, err = s.float()
			seen |= seenTime
		case "runs":
			f.Runs, err = s.runs()
			seen |= seenRuns
		case "status":
			var st []byte
			st, err = s.strErr()
			f.Status = string(st)
		case "err":
			f.Err, err = s.errInfo(f.Err)
			seen |= seenErr
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
			f.Payload = trimJSONSpace(s.b[s.i:end])
			if len(f.Payload) == 0 {
				return s.err("empty payload")
			}
			break loop
		default:
			err = s.skip()
		}
		if err != nil {
			return fmt.Errorf("key %q: %w", key, err)
		}
	}
	if version < 1 {
		return fmt.Errorf(`bad protocol version %d in "obz"`, version)
	}
	if f.Writer == "" {
		return errors.New(`frame without writer "w"`)
	}
	switch string(typ) {
	case "data", "error":
		if seen&seenSeq == 0 || f.Seq == 0 {
			return fmt.Errorf(`%s frame without a positive seq "s"`, typ)
		}
		if typ[0] == 'd' {
			if f.Payload == nil {
				return errors.New(`data frame without payload "d"`)
			}
			*f = Frame{Kind: KindData, Writer: f.Writer, Seq: f.Seq, Parent: f.Parent, TS: f.TS, Payload: f.Payload}
			return nil
		}
		if seen&seenErr == 0 {
			return errors.New(`error frame without "err"`)
		}
		*f = Frame{Kind: KindError, Writer: f.Writer, Seq: f.Seq, Parent: f.Parent, TS: f.TS, Payload: f.Payload, Err: f.Err}
	case "eof":
		if seen&(seenCount|seenEOF) != seenCount|seenEOF {
			return errors.New(`eof frame without count "n" and "kind"`)
		}
		*f = Frame{Kind: KindEOF, Writer: f.Writer, Count: f.Count, EOF: f.EOF}
	case "wm":
		if seen&seenTime == 0 {
			return errors.New(`watermark frame without time "at"`)
		}
		*f = Frame{Kind: KindWatermark, Writer: f.Writer, Time: f.Time}
	case "receipt":
		if seen&seenOf == 0 {
			return errors.New(`receipt frame without "of"`)
		}
		*f = Frame{Kind: KindReceipt, Writer: f.Writer, Of: f.Of, Status: f.Status}
	case "order":
		if seen&seenRuns == 0 {
			return errors.New(`order frame without "runs"`)
		}
		*f = Frame{Kind: KindOrder, Writer: f.Writer, Runs: f.Runs}
	case "":
		return errors.New(`frame without type "t"`)
	default:
		return fmt.Errorf("unknown frame type %q", typ)
	}
	return nil
}

// decodeHead reads the head of a data or error frame from the start of its
// line (all there is of a line over the size limit): the type, writer, seq
// and parent, which AppendFrame writes before anything long. It reports
// whether it found a data or error frame with a writer and a positive seq;
// f then holds them (f.Kind is the frame's type).
func decodeHead(prefix []byte, f *Frame) bool {
	*f = Frame{}
	if !IsFrame(prefix) {
		return false
	}
	s := scanner{b: prefix, i: len(framePrefix)}
	s.ws()
	if _, err := s.version(); err != nil {
		return false
	}
	var typ []byte
	for {
		s.ws()
		if !s.expect(',') {
			break
		}
		s.ws()
		key, ok := s.str()
		s.ws()
		if !ok || !s.expect(':') {
			break
		}
		s.ws()
		var err error
		switch string(key) {
		case "t":
			typ, err = s.strErr()
		case "w":
			f.Writer, err = s.name()
		case "s":
			f.Seq, err = s.uint()
		case "p":
			f.Parent, err = s.ref()
		default:
			err = errors.New("the rest is not head")
		}
		if err != nil {
			break
		}
	}
	switch string(typ) {
	case "data":
		f.Kind = KindData
	case "error":
		f.Kind = KindError
	default:
		return false
	}
	return f.Writer != "" && f.Seq > 0
}

// dataPrefix starts a data frame in its canonical encoding.
const dataPrefix = `{"obz":1,"t":"data","w":"`

// decodeData decodes a data frame in the canonical form AppendFrame writes,
// with plain writer names (no escapes), which is nearly every frame in a
// stream. It reports false for anything else, leaving the line to the
// general decoder, which gives the same result for the lines decodeData
// accepts (FuzzDecodeData checks that).
func decodeData(line []byte, f *Frame, nm *names) bool {
	if len(line) < len(dataPrefix) || string(line[:len(dataPrefix)]) != dataPrefix || line[len(line)-1] != '}' {
		return false
	}
	w, i, ok := plainName(line, len(dataPrefix))
	if !ok || len(w) == 0 || !hasAt(line, i, `,"s":`) {
		return false
	}
	seq, i, ok := plainUint(line, i+len(`,"s":`))
	if !ok || seq == 0 {
		return false
	}
	var parent Ref
	if hasAt(line, i, `,"p":["`) {
		pw, j, ok := plainName(line, i+len(`,"p":["`))
		if !ok || j >= len(line) || line[j] != ',' {
			return false
		}
		pseq, j, ok := plainUint(line, j+1)
		if !ok || j >= len(line) || line[j] != ']' {
			return false
		}
		parent = Ref{Writer: nm.intern(pw), Seq: pseq}
		i = j + 1
	}
	var ts uint64
	if hasAt(line, i, `,"ts":`) {
		if ts, i, ok = plainUint(line, i+len(`,"ts":`)); !ok {
			return false
		}
	}
	if !hasAt(line, i, `,"d":`) {
		return false
	}
	payload := trimJSONSpace(line[i+len(`,"d":`) : len(line)-1])
	if len(payload) == 0 {
		return false
	}
	*f = Frame{Kind: KindData, Writer: nm.intern(w), Seq: seq, Parent: parent, TS: ts, Payload: payload}
	return true
}

// plainName reads the rest of a string whose opening quote is at b[i-1]
// when it has no escapes and no control characters and is valid UTF-8, and
// returns it and the index after its closing quote.
func plainName(b []byte, i int) ([]byte, int, bool) {
	start := i
	high := false
	for ; i < len(b); i++ {
		c := b[i]
		switch {
		case c == '"':
			if high && !utf8.Valid(b[start:i]) {
				return nil, 0, false
			}
			return b[start:i], i + 1, true
		case c == '\\' || c < 0x20:
			return nil, 0, false
		case c >= utf8.RuneSelf:
			high = true
		}
	}
	return nil, 0, false
}

// plainUint reads a non-negative integer without leading zeros that fits in
// a uint64 and returns the index after it.
func plainUint(b []byte, i int) (uint64, int, bool) {
	start := i
	var n uint64
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		d := uint64(b[i] - '0')
		if n > (math.MaxUint64-d)/10 {
			return 0, 0, false
		}
		n = n*10 + d
	}
	if i == start || b[start] == '0' && i > start+1 {
		return 0, 0, false
	}
	return n, i, true
}

// names interns writer names: a stream carries frames of a few writers, so
// keeping the last few names lets decoding reuse them instead of allocating.
type names struct {
	s    [4]string
	next int
}

func (n *names) intern(b []byte) string {
	if n == nil {
		return string(b)
	}
	for _, s := range n.s {
		if s == string(b) {
			return s
		}
	}
	s := string(b)
	n.s[n.next] = s
	n.next = (n.next + 1) % len(n.s)
	return s
}

// scanner is a minimal JSON cursor for frame headers.
type scanner struct {
	b     []byte
	i     int
	names *names
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
			if !utf8.Valid(s.b[start:j]) {
				return nil, false
			}
			s.i = j + 1
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

// name reads a writer name, interned.
func (s *scanner) name() (string, error) {
	v, err := s.strErr()
	if err != nil {
		return "", err
	}
	return s.names.intern(v), nil
}

// number reads one number with JSON's syntax and reports whether it is an
// integer (no fraction, no exponent).
func (s *scanner) number() (num []byte, integer bool, err error) {
	start := s.i
	s.expect('-')
	switch c := s.peek(); {
	case c == '0':
		s.i++
	case c >= '1' && c <= '9':
		s.digits()
	default:
		return nil, false, s.err("expected a number")
	}
	integer = true
	if s.expect('.') {
		if !s.digits() {
			return nil, false, s.err("expected a digit")
		}
		integer = false
	}
	if c := s.peek(); c == 'e' || c == 'E' {
		s.i++
		if !s.expect('+') {
			s.expect('-')
		}
		if !s.digits() {
			return nil, false, s.err("expected a digit")
		}
		integer = false
	}
	return s.b[start:s.i], integer, nil
}

func (s *scanner) digits() bool {
	start := s.i
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
	}
	return s.i > start
}

// uint reads a non-negative integer that fits in a uint64.
func (s *scanner) uint() (uint64, error) {
	start := s.i
	num, integer, err := s.number()
	if err != nil {
		return 0, err
	}
	n, ok := parseUint(num)
	if !integer || !ok {
		s.i = start
		return 0, s.err("expected a non-negative integer")
	}
	return n, nil
}

// version reads the protocol version. Any integer above Version is refused
// with ErrVersion before the rest of the frame is looked at, since a newer
// protocol may change it.
func (s *scanner) version() (uint64, error) {
	num, integer, err := s.number()
	if err != nil || !integer || num[0] == '-' {
		return 0, fmt.Errorf(`bad protocol version in "obz": %w`, s.err("expected a positive integer"))
	}
	n, ok := parseUint(num)
	if !ok || n > Version {
		return 0, fmt.Errorf("%w: version %s, this obz understands %d", ErrVersion, num, Version)
	}
	return n, nil
}

// parseUint parses digits (as validated by number) without allocating.
func parseUint(b []byte) (uint64, bool) {
	if len(b) == 0 || b[0] == '-' && !(len(b) == 2 && b[1] == '0') {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		if c == '-' {
			continue
		}
		d := uint64(c - '0')
		if n > (math.MaxUint64-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

func (s *scanner) float() (float64, error) {
	num, _, err := s.number()
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseFloat(string(num), 64)
	if err != nil {
		return 0, s.err("number out of range")
	}
	return v, nil
}

func (s *scanner) ref() (Ref, error) {
	var r Ref
	if !s.expect('[') {
		return r, s.err("expected [writer, seq]")
	}
	s.ws()
	w, err := s.name()
	if err != nil {
		return r, err
	}
	s.ws()
	if !s.expect(',') {
		return r, s.err("expected ,")
	}
	s.ws()
	n, err := s.uint()
	if err != nil {
		return r, err
	}
	s.ws()
	if !s.expect(']') {
		return r, s.err("expected ]")
	}
	return Ref{Writer: w, Seq: n}, nil
}

// runs reads an order frame's runs: [[writer, n], ...], each n at least 1.
func (s *scanner) runs() ([]Run, error) {
	if !s.expect('[') {
		return nil, s.err("expected [[writer, n], ...]")
	}
	runs := []Run{}
	for {
		s.ws()
		if len(runs) == 0 && s.expect(']') {
			return runs, nil
		}
		r, err := s.ref()
		if err != nil {
			return nil, err
		}
		if r.Seq == 0 {
			return nil, s.err("a run of 0 frames")
		}
		runs = append(runs, Run{Writer: r.Writer, N: r.Seq})
		s.ws()
		if s.expect(']') {
			return runs, nil
		}
		if !s.expect(',') {
			return nil, s.err("expected , or ]")
		}
	}
}

func (s *scanner) errInfo(prev *ErrorInfo) (*ErrorInfo, error) {
	start := s.i
	if err := s.skip(); err != nil {
		return nil, err
	}
	var v struct {
		Kind  string          `json:"kind"`
		Msg   string          `json:"msg"`
		Stage string          `json:"stage"`
		Line  int64           `json:"line"`
		Event json.RawMessage `json:"event"`
		Via   []string        `json:"via"`
	}
	if err := json.Unmarshal(s.b[start:s.i], &v); err != nil {
		return nil, fmt.Errorf("bad err object: %w", err)
	}
	e := &ErrorInfo{Kind: v.Kind, Msg: v.Msg, Stage: v.Stage, Line: v.Line, Via: v.Via}
	if len(v.Event) > 0 {
		es := scanner{b: v.Event}
		ref, err := es.ref()
		if err != nil || es.i != len(es.b) || ref.Seq == 0 {
			return nil, fmt.Errorf(`bad err object: "event" is not [writer, seq]`)
		}
		e.Event = ref
	}
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

// isJSONSpace reports whether c is whitespace in JSON's grammar.
func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// trimJSONSpace removes JSON whitespace from both ends of b.
func trimJSONSpace(b []byte) []byte {
	for len(b) > 0 && isJSONSpace(b[0]) {
		b = b[1:]
	}
	return trimRightJSONSpace(b)
}

func trimRightJSONSpace(b []byte) []byte {
	for len(b) > 0 && isJSONSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}
