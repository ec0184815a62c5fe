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

// Reader reads frames from a stream of lines. Obz frames are decoded; any
// other non-blank line is a bare NDJSON event and becomes a data frame with
// writer "-". The rules for odd input (docs/wire.md):
//
//   - blank and whitespace-only lines are skipped (they are not events);
//   - a trailing "\r" is removed (CRLF input);
//   - a UTF-8 byte order mark at the very start of the stream is removed;
//   - a bare line that is not valid JSON, or not valid UTF-8, and a frame
//     that does not decode, yield a *LineError (kind parse, utf8 or frame);
//   - a line longer than the limit yields a *LineError wrapping
//     ErrFrameTooLarge, holding the first 1 KiB; the rest is skipped;
//   - the last line needs no newline.
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
	bom   bool  // BOM check done

	// BeforeFill, if set, is called before each read of the underlying
	// reader that happens because no complete line is buffered: the moment
	// to flush output, since the read may block.
	BeforeFill func()

	lastWriter string // interned writer name
}

// NewReader returns a Reader with a 64 KiB buffer that grows up to maxLine
// (DefaultMaxLine if maxLine <= 0).
func NewReader(r io.Reader, maxLine int) *Reader {
	if maxLine <= 0 {
		maxLine = DefaultMaxLine
	}
	return &Reader{r: r, buf: make([]byte, 64<<10), max: maxLine}
}

// BytesRead returns the number of bytes consumed so far.
func (r *Reader) BytesRead() int64 { return r.bytes }

// LineNumber returns the number of physical lines consumed so far.
func (r *Reader) LineNumber() int64 { return r.line }

// Next reads the next frame into f. It returns io.EOF at the end of the
// stream, a *LineError for a line that is not a valid event, or the
// underlying reader's error. f's byte slices are valid until the next call.
func (r *Reader) Next(f *Frame) error {
	for {
		line, err := r.readLine()
		if err != nil {
			return err
		}
		if len(line) == 0 || isBlank(line) {
			continue
		}
		if IsFrame(line) {
			if err := Decode(line, f); err != nil {
				kind := "frame"
				if strings.Contains(err.Error(), "protocol version") {
					kind = "version"
				}
				return &LineError{Line: r.line, Kind: kind, Msg: "malformed frame: " + err.Error(), Raw: validUTF8(line), Size: int64(len(line))}
			}
			if f.Writer == r.lastWriter {
				f.Writer = r.lastWriter
			} else {
				r.lastWriter = f.Writer
			}
			f.Line = r.line
			return nil
		}
		if !utf8.Valid(line) {
			return &LineError{Line: r.line, Kind: "utf8", Msg: "invalid UTF-8", Raw: validUTF8(line), Size: int64(len(line))}
		}
		if !json.Valid(line) {
			return &LineError{Line: r.line, Kind: "parse", Msg: "invalid JSON" + parseHint(line), Raw: line, Size: int64(len(line))}
		}
		r.bare++
		*f = Frame{Kind: KindData, Writer: BareWriter, Seq: r.bare, Payload: trimSpace(line), Bare: true, Line: r.line}
		return nil
	}
}

// BareCount returns the number of bare events read so far.
func (r *Reader) BareCount() uint64 { return r.bare }

func parseHint(line []byte) string {
	var v any
	err := json.Unmarshal(line, &v)
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return ": " + se.Error()
	}
	return ""
}

// readLine returns the next line without its "\n" or "\r\n".
func (r *Reader) readLine() ([]byte, error) {
	for {
		if i := bytes.IndexByte(r.buf[r.pos:r.end], '\n'); i >= 0 {
			line := r.buf[r.pos : r.pos+i]
			r.pos += i + 1
			r.bytes += int64(i + 1)
			return r.finish(line)
		}
		if r.eof != nil {
			if r.pos < r.end {
				line := r.buf[r.pos:r.end]
				r.bytes += int64(len(line))
				r.pos = r.end
				return r.finish(line)
			}
			return nil, r.eof
		}
		if r.end-r.pos >= r.max {
			return nil, r.skipLong()
		}
		if err := r.fill(); err != nil {
			return nil, err
		}
	}
}

func (r *Reader) finish(line []byte) ([]byte, error) {
	r.line++
	if !r.bom {
		r.bom = true
		line = bytes.TrimPrefix(line, []byte("\xef\xbb\xbf"))
	}
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	if len(line) > r.max {
		return nil, r.tooLong(line[:min(len(line), rawPrefixLimit)], int64(len(line)))
	}
	return line, nil
}

// fill reads more data, compacting or growing the buffer as needed.
func (r *Reader) fill() error {
	if r.pos > 0 {
		n := copy(r.buf, r.buf[r.pos:r.end])
		r.pos, r.end = 0, n
	}
	if r.end == len(r.buf) {
		size := 2 * len(r.buf)
		if size > r.max+1 {
			size = r.max + 1
		}
		nb := make([]byte, size)
		copy(nb, r.buf[:r.end])
		r.buf = nb
	}
	if r.BeforeFill != nil {
		r.BeforeFill()
	}
	n, err := r.r.Read(r.buf[r.end:])
	r.end += n
	if err != nil {
		r.eof = err
	}
	return nil
}

// skipLong discards the rest of a line that is over the limit.
func (r *Reader) skipLong() error {
	prefix := append([]byte(nil), r.buf[r.pos:r.pos+min(r.end-r.pos, rawPrefixLimit)]...)
	size := int64(r.end - r.pos)
	r.pos, r.end = 0, 0
	for {
		if r.eof != nil {
			r.line++
			r.bytes += size
			return r.tooLong(prefix, size)
		}
		if err := r.fill(); err != nil {
			return err
		}
		if i := bytes.IndexByte(r.buf[r.pos:r.end], '\n'); i >= 0 {
			size += int64(i)
			r.pos += i + 1
			r.line++
			r.bytes += size + 1
			return r.tooLong(prefix, size)
		}
		size += int64(r.end - r.pos)
		r.pos, r.end = 0, 0
	}
}

func (r *Reader) tooLong(prefix []byte, size int64) error {
	return &LineError{Line: r.line, Kind: "too-long", Msg: "line of " + strconv.FormatInt(size, 10) + " bytes exceeds the limit of " + strconv.Itoa(r.max) + " bytes (raise it with --max-line)", Raw: validUTF8(prefix), Size: size}
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

func trimSpace(b []byte) []byte {
	if len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		return bytes.TrimSpace(b)
	}
	return b
}

func validUTF8(b []byte) []byte {
	if utf8.Valid(b) {
		return b
	}
	return bytes.ToValidUTF8(b, []byte("\ufffd"))
}
