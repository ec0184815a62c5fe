package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// BareWriter is the writer name given to events read from bare NDJSON lines.
const BareWriter = "-"

// rawPrefixLimit bounds the raw text kept from a line over the size limit.
const rawPrefixLimit = 1024

// FrameSlack is the room a frame's line has beyond the size limit for its
// envelope (type, writer, seq, parent, error information): the limit is on
// payloads, so an event that one stage accepted fits the next one's limit
// too, framed.
const FrameSlack = 64 << 10

// Reader reads frames from a stream of lines. A stream is framed or bare,
// as its first non-blank line says: a framed stream starts with a frame
// ({"obz": and a version number) and carries frames only, which are
// decoded; in a bare stream every non-blank line is a bare NDJSON event,
// frame-shaped or not, and becomes a data frame with writer "-". The rules
// for odd input (docs/wire.md):
//
//   - blank and whitespace-only lines are skipped (they are not events);
//   - a trailing "\r" is removed (CRLF input);
//   - a UTF-8 byte order mark at the very start of the stream is removed;
//   - a bare line that is not valid JSON, or not valid UTF-8, a frame
//     that does not decode and a line of a framed stream that is not a
//     frame yield a *LineError (kind parse, utf8, frame, or version for a
//     frame of a newer protocol);
//   - a line longer than the limit yields a *LineError wrapping
//     ErrFrameTooLarge, holding the first 1 KiB; the rest is skipped. The
//     limit counts the line's bytes without its "\n" or "\r\n" (and
//     without the BOM on the first line), however the input is chunked.
//     It is a limit on payloads: a frame's line may have FrameSlack bytes
//     more, and its payload is held to the limit. A data or error frame
//     over the limit becomes an error frame of its writer and seq (kind
//     too-long), so that the edge's contract holds;
//   - the last line of bare events needs no newline; the last line of a
//     framed stream does: a frame without its "\n" is a torn frame (kind
//     frame), the end of a writer stopped in the middle of a write.
//
// After a *LineError the Reader can go on with the next line.
type Reader struct {
	r     io.Reader
	buf   []byte
	pos   int // start of unread data in buf
	end   int // end of data in buf
	max   int
	line  int64 // lines consumed so far
	bytes int64 // bytes consumed so far
	bare  uint64
	eof   error // sticky error from r
	empty int   // consecutive reads that returned nothing

	// nl is 1 + the index in buf of the "\n" that ends the line at pos,
	// where Buffered found it (readLine then need not look again), or 0.
	// Whatever moves the bytes (fill, Swap) resets it.
	nl int

	raw    []byte // the physical line read last, as it was (without "\n")
	rawOff int64  // its offset in the stream
	rawNL  bool   // it ended with "\n" (not the end of the stream)

	framing framing // decided by the stream's first non-blank line

	// BeforeFill, if set, is called before each read of the underlying
	// reader that happens because no complete line is buffered: the moment
	// to flush output, since the read may block.
	BeforeFill func()

	dec Decoder // interns writer names, so that decoding does not allocate

	// TrustPayloads skips the check of frame payloads: set it only where
	// the writer is known to be an obz stage (an obz flow edge, made by
	// the supervisor between two obz processes). See Next.
	TrustPayloads bool
	// Stage names the reading stage in the error events of payloads it
	// rejects.
	Stage string
	// ReplaceInvalidUTF8 reads a bare line that is not valid UTF-8 as jq
	// does: each byte that is not part of a valid sequence becomes U+FFFD.
	// Unset, the line is a utf8 error.
	ReplaceInvalidUTF8 bool
	// Index makes Next index the members of a bare line that is an
	// object (Frame.Members) as it checks the line. The index of all the
	// frames read grows until SwapIndex hands it over: a caller that sets
	// Index calls SwapIndex where it calls Swap.
	Index bool
	idx   []uint32
}

// framing says whether a stream carries frames or bare events. It is
// decided once per stream, by its first non-blank line, never per line from
// the data: in a bare stream a line that looks like a frame is data, and in
// a framed stream a line that is not a frame is an error.
type framing uint8

const (
	undecided framing = iota
	framedStream
	bareStream
)

// announcesFrame reports whether the first line of a stream makes it a
// framed stream: it starts like a frame, {"obz": followed by a version
// number (1-9 first: 0, a string or an object are a user's data).
func announcesFrame(line []byte) bool {
	if !IsFrame(line) {
		return false
	}
	rest := line[len(framePrefix):]
	for len(rest) > 0 && (rest[0] == ' ' || rest[0] == '\t' || rest[0] == '\r' || rest[0] == '\n') {
		rest = rest[1:]
	}
	return len(rest) > 0 && rest[0] >= '1' && rest[0] <= '9'
}

// ReadBuffer is the size of a Reader's buffer (and of its reads) until a
// longer line makes it grow.
const ReadBuffer = 256 << 10

// NewReader returns a Reader with a ReadBuffer-sized buffer that grows up to
// maxLine (DefaultMaxLine if maxLine <= 0).
func NewReader(r io.Reader, maxLine int) *Reader {
	if maxLine <= 0 {
		maxLine = DefaultMaxLine
	}
	return &Reader{r: r, buf: make([]byte, ReadBuffer), max: maxLine}
}

// Swap hands the caller the buffer that the byte slices of the frames read
// so far point into, and goes on in spare (or a new buffer if spare is too
// small): the bytes not read yet are copied there. The frames stay valid
// while the caller keeps the returned buffer, so a caller that swaps before
// every read (in BeforeFill) can keep frames without copying their bytes.
// Without Swap, frames are only valid until the next call of Next.
func (r *Reader) Swap(spare []byte) []byte {
	old := r.buf
	n := r.end - r.pos
	spare = spare[:cap(spare)]
	if len(spare) < max(n, ReadBuffer) {
		spare = make([]byte, max(n, ReadBuffer))
	}
	copy(spare, r.buf[r.pos:r.end])
	r.buf, r.pos, r.end, r.nl = spare, 0, n, 0
	return old
}

// SwapIndex hands the caller the index that the Members of the frames
// read so far point into (see Index), and goes on in spare.
func (r *Reader) SwapIndex(spare []uint32) []uint32 {
	old := r.idx
	if spare == nil {
		spare = make([]uint32, 0, 1024)
	}
	r.idx = spare[:0]
	return old
}

// Reset makes r read src from the start, as a new Reader would, keeping its
// buffer, limit and BeforeFill.
func (r *Reader) Reset(src io.Reader) {
	*r = Reader{r: src, buf: r.buf, max: r.max, BeforeFill: r.BeforeFill, dec: r.dec, TrustPayloads: r.TrustPayloads, Stage: r.Stage, ReplaceInvalidUTF8: r.ReplaceInvalidUTF8, Index: r.Index, idx: r.idx[:0]}
}

// BytesRead returns the number of bytes consumed so far.
func (r *Reader) BytesRead() int64 { return r.bytes }

// Span says where the payload of a bare data frame that Next returned
// last lies in the stream, when it is the whole physical line as it was
// read (no BOM, "\r" or surrounding space removed, no byte replaced): its
// offset and the bytes the line takes, its "\n" included (none at the
// end of the stream). ok is false otherwise.
func (r *Reader) Span(f *Frame) (off, span int64, ok bool) {
	if !f.Bare || len(f.Payload) == 0 || len(f.Payload) != len(r.raw) || &f.Payload[0] != &r.raw[0] {
		return 0, 0, false
	}
	span = int64(len(r.raw))
	if r.rawNL {
		span++
	}
	return r.rawOff, span, true
}

// LineNumber returns the number of physical lines consumed so far.
func (r *Reader) LineNumber() int64 { return r.line }

// Next reads the next frame into f. It returns io.EOF at the end of the
// stream, a *LineError for a line that is not a valid event, or the
// underlying reader's error. f's byte slices are valid until the next call.
//
// Unless TrustPayloads is set, the payload of every frame is checked like a
// bare line (valid UTF-8, one JSON value): a data frame whose payload is not
// becomes an error frame of the same writer and seq (kind "parse", the
// payload as raw text), so the edge's contract still holds and the bad
// payload goes to the error lane instead of an output file or a journal.
func (r *Reader) Next(f *Frame) error {
	for {
		line, err := r.readLine()
		if err != nil {
			var le *LineError
			if errors.As(err, &le) && le.Kind == "too-long" && r.framing != bareStream && r.frameTooLong(le, f) {
				r.framing = framedStream
				return nil
			}
			return err
		}
		if len(line) == 0 || isBlank(line) {
			continue
		}
		if r.framing == undecided {
			r.framing = bareStream
			if announcesFrame(line) {
				r.framing = framedStream
			}
		}
		if r.framing == framedStream {
			if !IsFrame(line) {
				return &LineError{Line: r.line, Kind: "frame", Msg: "not a frame, in a framed stream (a stream whose first line is a frame carries frames only)", Raw: validUTF8(line), Size: int64(len(line))}
			}
			if !r.rawNL {
				// A writer ends every frame with "\n": a last line without
				// one is a frame its writer was stopped in the middle of
				// (kill -9), however well it happens to decode. Cut after
				// a payload's "}", it would decode to a truncated payload.
				return &LineError{Line: r.line, Kind: "frame", Msg: ErrTornFrame.Error(), Raw: validUTF8(line), Size: int64(len(line))}
			}
			if err := r.dec.Decode(line, f); err != nil {
				kind, msg := "frame", "malformed frame: "
				if errors.Is(err, ErrVersion) {
					kind, msg = "version", "unsupported frame: "
				}
				return &LineError{Line: r.line, Kind: kind, Msg: msg + err.Error(), Raw: validUTF8(line), Size: int64(len(line))}
			}
			f.Line = r.line
			if len(line) > r.max {
				r.checkPayloadSize(f)
			}
			if !r.TrustPayloads {
				r.checkPayload(f)
			}
			return nil
		}
		if len(line) > r.max {
			// A first line that looked like a frame had a frame's slack.
			return r.tooLong(rawPrefix(line), int64(len(line)))
		}
		members, ok := r.check(line)
		if !ok {
			if !utf8.Valid(line) && r.ReplaceInvalidUTF8 {
				// A new slice: the frame must stay valid as long as one
				// pointing into the buffer would (see Swap).
				line = replaceInvalidUTF8(line)
				if validUTF8JSON(line) {
					r.bare++
					*f = Frame{Kind: KindData, Writer: BareWriter, Seq: r.bare, Payload: trimJSONSpace(line), Bare: true, Checked: true, Line: r.line}
					return nil
				}
			}
			if !utf8.Valid(line) {
				return &LineError{Line: r.line, Kind: "utf8", Msg: "invalid UTF-8 (--invalid-utf8 replace reads it as jq does, with U+FFFD for each bad byte)", Raw: validUTF8(line), Size: int64(len(line))}
			}
			return &LineError{Line: r.line, Kind: "parse", Msg: "invalid JSON" + parseHint(line), Raw: line, Size: int64(len(line))}
		}
		r.bare++
		*f = Frame{Kind: KindData, Writer: BareWriter, Seq: r.bare, Payload: trimJSONSpace(line), Bare: true, Checked: true, Line: r.line, Members: members}
		return nil
	}
}

// Buffered reports whether Next would return without reading the
// underlying reader: a non-blank line is buffered whole, or the stream has
// ended. A caller that keeps frames across calls of Next (see Swap) asks
// it before each call, to hand over what it has before Next may block.
func (r *Reader) Buffered() bool {
	b := r.buf[r.pos:r.end]
	for first := true; ; first = false {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			return r.eof != nil
		}
		if first {
			r.nl = r.pos + i + 1
		}
		if !isBlank(b[:i]) {
			return true
		}
		b = b[i+1:]
	}
}

// BareCount returns the number of bare events read so far.
func (r *Reader) BareCount() uint64 { return r.bare }

func parseHint(line []byte) string {
	var v any
	err := json.Unmarshal(line, &v)
	var se *json.SyntaxError
	if errors.As(err, &se) {
		msg := se.Error()
		if strings.Contains(msg, "after top-level value") || strings.Contains(msg, "unexpected end of JSON input") ||
			strings.HasPrefix(msg, "invalid character '}'") || strings.HasPrefix(msg, "invalid character ']'") {
			// Several values on a line, or one value across lines: JSON,
			// not NDJSON.
			msg += " (NDJSON is one value per line; obz read --format json reads pretty-printed JSON and several values on a line)"
		}
		return ": " + msg
	}
	return ""
}

// readLine returns the next line without its "\n" or "\r\n".
func (r *Reader) readLine() ([]byte, error) {
	for {
		i := r.nl - 1 - r.pos
		if r.nl <= r.pos {
			i = bytes.IndexByte(r.buf[r.pos:r.end], '\n')
		}
		r.nl = 0
		if i >= 0 {
			line := r.buf[r.pos : r.pos+i]
			r.raw, r.rawOff, r.rawNL = line, r.bytes, true
			r.pos += i + 1
			r.bytes += int64(i + 1)
			return r.finish(line)
		}
		if r.eof != nil {
			if r.pos < r.end {
				line := r.buf[r.pos:r.end]
				r.raw, r.rawOff, r.rawNL = line, r.bytes, false
				r.bytes += int64(len(line))
				r.pos = r.end
				return r.finish(line)
			}
			return nil, r.eof
		}
		if r.overLimit() {
			return nil, r.skipLong()
		}
		r.fill()
	}
}

// bom is the UTF-8 byte order mark, removed from the start of a stream.
const bom = "\xef\xbb\xbf"

// overLimit reports whether the buffered start of a line with no newline yet
// is already known to be over the limit. It allows for a "\r" that may turn
// out to precede the "\n", and for a BOM on the first line.
func (r *Reader) overLimit() bool {
	b := r.buf[r.pos:r.end]
	limit := r.max
	if r.line == 0 && len(b) > 0 && bytes.HasPrefix(b, []byte(bom[:min(len(b), len(bom))])) {
		limit += len(bom)
		b = b[min(len(b), len(bom)):]
	}
	if n := min(len(b), len(framePrefix)); r.framing != bareStream && bytes.Equal(b[:n], framePrefix[:n]) {
		limit += FrameSlack // it may be a frame
	}
	return len(b) > limit+1 || len(b) == limit+1 && b[len(b)-1] != '\r'
}

func (r *Reader) finish(line []byte) ([]byte, error) {
	r.line++
	if r.line == 1 {
		line = bytes.TrimPrefix(line, []byte(bom))
	}
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	if len(line) > r.max && (r.framing == bareStream || !IsFrame(line) || len(line) > r.max+FrameSlack) {
		return nil, r.tooLong(rawPrefix(line), int64(len(line)))
	}
	return line, nil
}

// fill reads more data, compacting or growing the buffer as needed. A read
// error is kept in r.eof.
func (r *Reader) fill() {
	// BeforeFill comes first: it may Swap the buffer away, and then
	// nothing that a frame points to is moved.
	if r.BeforeFill != nil {
		r.BeforeFill()
	}
	r.nl = 0
	if r.pos > 0 {
		n := copy(r.buf, r.buf[r.pos:r.end])
		r.pos, r.end = 0, n
	}
	// Room for a line at the limit plus BOM, "\r" and "\n"; overLimit stops
	// reading a line before the buffer is full at that size.
	if size := min(2*len(r.buf), r.max+FrameSlack+len(bom)+2); r.end == len(r.buf) && size > len(r.buf) {
		nb := make([]byte, size)
		copy(nb, r.buf[:r.end])
		r.buf = nb
	}
	n, err := r.r.Read(r.buf[r.end:])
	r.end += n
	if err != nil {
		r.eof = err
	} else if n > 0 {
		r.empty = 0
	} else if r.empty++; r.empty >= 100 {
		r.eof = io.ErrNoProgress
	}
}

// skipLong discards a line that is over the limit, reading on to its end.
// It keeps the line's start and measures it as finish does (without BOM and
// "\r"), so that the error does not depend on how the input was chunked.
func (r *Reader) skipLong() error {
	b := r.buf[r.pos:r.end]
	consumed := int64(len(b))
	if r.line == 0 {
		b = bytes.TrimPrefix(b, []byte(bom))
	}
	keep := append([]byte(nil), b[:min(len(b), rawPrefixLimit+1)]...)
	size := int64(len(b))
	lastCR := len(b) > 0 && b[len(b)-1] == '\r'
	r.pos, r.end = 0, 0
	for r.eof == nil {
		r.fill()
		part := r.buf[r.pos:r.end]
		nl := bytes.IndexByte(part, '\n')
		if nl >= 0 {
			part = part[:nl]
		}
		if n := rawPrefixLimit + 1 - len(keep); n > 0 {
			keep = append(keep, part[:min(len(part), n)]...)
		}
		size += int64(len(part))
		consumed += int64(len(part))
		if len(part) > 0 {
			lastCR = part[len(part)-1] == '\r'
		}
		if nl >= 0 {
			r.pos += nl + 1
			consumed++
			break
		}
		r.pos, r.end = 0, 0
	}
	if lastCR {
		size--
	}
	r.line++
	r.bytes += consumed
	return r.tooLong(rawPrefix(keep[:min(int64(len(keep)), size)]), size)
}

// frameTooLong turns the *LineError of a data or error frame over the limit
// into an error frame of the same writer and seq, read from the line's
// start (le.Raw). It reports false when the line does not start as one.
func (r *Reader) frameTooLong(le *LineError, f *Frame) bool {
	if !decodeHead(le.Raw, f) {
		return false
	}
	f.Err = &ErrorInfo{Kind: "too-long", Stage: r.Stage, Line: le.Line, Raw: le.Raw,
		Msg: "frame of " + strconv.FormatInt(le.Size, 10) + " bytes from " + f.Writer + " (seq " + strconv.FormatUint(f.Seq, 10) +
			") exceeds the limit of " + strconv.Itoa(r.max+FrameSlack) + " bytes for a frame (--max-line " + strconv.Itoa(r.max) +
			" for its payload plus " + strconv.Itoa(FrameSlack) + " for the rest; raise it with --max-line)"}
	f.Kind, f.Line = KindError, le.Line
	return true
}

// checkPayloadSize holds the payload of a frame whose line is over the
// limit to the limit: a payload over it makes the frame an error frame of
// the same writer and seq (kind too-long) holding its first 1 KiB.
func (r *Reader) checkPayloadSize(f *Frame) {
	if (f.Kind != KindData && f.Kind != KindError) || len(f.Payload) <= r.max {
		return
	}
	msg := "a payload of " + strconv.Itoa(len(f.Payload)) + " bytes from " + f.Writer + " (seq " + strconv.FormatUint(f.Seq, 10) +
		") exceeds the limit of " + strconv.Itoa(r.max) + " bytes (raise it with --max-line)"
	raw := rawPrefix(validUTF8(f.Payload))
	if f.Kind == KindError {
		// An error event keeps its error; its payload is cut.
		info := *f.Err
		info.Msg += "; its " + msg
		info.Raw = raw
		f.Err, f.Payload = &info, nil
		return
	}
	f.Err = &ErrorInfo{Kind: "too-long", Msg: msg, Stage: r.Stage, Line: r.line, Raw: raw}
	f.Kind, f.Payload = KindError, nil
}

func (r *Reader) tooLong(prefix []byte, size int64) error {
	return &LineError{Line: r.line, Kind: "too-long", Msg: "line of " + strconv.FormatInt(size, 10) + " bytes exceeds the limit of " + strconv.Itoa(r.max) + " bytes (raise it with --max-line)", Raw: rawPrefix(validUTF8(prefix)), Size: size}
}

// Err returns the underlying reader's error, if the stream ended with one
// other than io.EOF.
func (r *Reader) Err() error {
	if r.eof == io.EOF {
		return nil
	}
	return r.eof
}

func isBlank(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\r' {
			return false
		}
	}
	return true
}

// rawPrefix returns at most rawPrefixLimit bytes of a line that is too long,
// cut before a character split by the limit, so that the cut does not become
// a U+FFFD.
func rawPrefix(b []byte) []byte {
	if len(b) <= rawPrefixLimit {
		return b
	}
	n := rawPrefixLimit
	for i := n; i > n-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			return b[:i]
		}
	}
	return b[:n]
}

// replaceInvalidUTF8 returns a copy of b with U+FFFD for each byte that is
// not part of a valid UTF-8 sequence, as jq reads its input.
func replaceInvalidUTF8(b []byte) []byte {
	out := make([]byte, 0, len(b)+8)
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n == 1 {
			out = append(out, "\uFFFD"...)
		} else {
			out = append(out, b[:n]...)
		}
		b = b[n:]
	}
	return out
}

func validUTF8(b []byte) []byte {
	if utf8.Valid(b) {
		return b
	}
	return bytes.ToValidUTF8(b, []byte("\ufffd"))
}

// check checks b as a payload (valid UTF-8, one JSON value) and, with Index
// set, returns the index of its members where it is an object (into the
// Reader's index: see SwapIndex).
func (r *Reader) check(b []byte) (members []uint32, ok bool) {
	if !r.Index {
		return nil, validUTF8JSON(b)
	}
	if r.idx == nil {
		r.idx = make([]uint32, 0, 1024)
	}
	n := len(r.idx)
	var obj bool
	if r.idx, obj, ok = ValidIndex(b, r.idx); ok && obj {
		members = r.idx[n:len(r.idx):len(r.idx)]
	}
	return members, ok
}

// checkPayload is CheckPayload, indexing a data frame's payload as it
// checks it when Index is set.
func (r *Reader) checkPayload(f *Frame) {
	if f.Kind == KindData {
		if f.Members, f.Checked = r.check(f.Payload); f.Checked {
			return
		}
	}
	CheckPayload(f, r.Stage, r.line)
}

// CheckPayload checks the payload of a frame that comes from where its
// payloads are not trusted (valid UTF-8, one JSON value) and marks a data
// frame's Checked. A data frame whose payload fails becomes an error frame
// of the same writer and seq (kind parse, the payload as raw text, stage
// and line naming where it was read), so that the edge's contract holds;
// an error frame whose payload fails keeps its error and carries the
// payload as raw. It reports whether the payload passed.
func CheckPayload(f *Frame, stage string, line int64) bool {
	switch f.Kind {
	case KindData:
		if f.Checked || validUTF8JSON(f.Payload) {
			f.Checked = true
			return true
		}
		f.Err = &ErrorInfo{Kind: "parse", Msg: "frame payload is not valid JSON" + parseHint(f.Payload), Stage: stage, Line: line, Raw: validUTF8(f.Payload)}
		f.Kind, f.Payload, f.Members = KindError, nil, nil
		return false
	case KindError:
		if len(f.Payload) == 0 || validUTF8JSON(f.Payload) {
			return true
		}
		info := ErrorInfo{}
		if f.Err != nil {
			info = *f.Err
		}
		if len(info.Raw) == 0 {
			info.Raw = validUTF8(f.Payload)
		}
		f.Err, f.Payload = &info, nil
		return false
	}
	return true
}
