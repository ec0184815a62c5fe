package format

import (
	"bytes"
	"io"
	"slices"
	"unicode/utf8"
)

// jsonTape holds the input of the JSON scanner from a mark on: the value
// being decoded and what the decoder read ahead, so that a failed value
// can be reported and decoding can resume after it.
type jsonTape struct {
	r    io.Reader
	buf  []byte // input from offset base on
	base int64
	mark int64 // start of the value being decoded: the tape keeps it
	max  int64 // a value may not run past mark+max
	err  error // r's error other than io.EOF
	eof  bool

	// lineOff and lineN cache the newlines before an offset, for lineAt.
	lineOff, lineN int64
}

// fill reads more input; it reports false at the end of the input.
func (t *jsonTape) fill() bool {
	if t.eof {
		return false
	}
	t.buf = slices.Grow(t.buf, 32<<10)
	for range 100 {
		n, err := t.r.Read(t.buf[len(t.buf):cap(t.buf)])
		t.buf = t.buf[:len(t.buf)+n]
		if err != nil {
			t.eof = true
			if err != io.EOF {
				t.err = err
			}
			return n > 0
		}
		if n > 0 {
			return true
		}
	}
	t.eof, t.err = true, io.ErrNoProgress
	return false
}

// end is the offset of the end of the input read so far.
func (t *jsonTape) end() int64 { return t.base + int64(len(t.buf)) }

// setMark forgets the input before off.
func (t *jsonTape) setMark(off int64) {
	t.mark = off
	k := min(off, t.end()) - t.base
	if k <= 0 || k < int64(len(t.buf)) && (k < 32<<10 || k < int64(len(t.buf))/2) {
		return
	}
	t.lineAt(t.base + k) // move the line cache past what is dropped
	n := copy(t.buf, t.buf[k:])
	t.buf, t.base = t.buf[:n], t.base+k
}

// byteAt returns the input byte at off (not before the mark), reading on
// as needed; false at the end of the input.
func (t *jsonTape) byteAt(off int64) (byte, bool) {
	for off >= t.end() {
		if !t.fill() {
			return 0, false
		}
	}
	return t.buf[off-t.base], true
}

// firstNonSpace returns the offset of the first byte from off on that is
// not JSON whitespace and that byte; false if there is none.
func (t *jsonTape) firstNonSpace(off int64) (int64, byte, bool) {
	for ; ; off++ {
		c, ok := t.byteAt(off)
		if !ok {
			return off, 0, false
		}
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			return off, c, true
		}
	}
}

// lineAt returns the 1-based line of offset off (not before the mark).
func (t *jsonTape) lineAt(off int64) int64 {
	off = min(off, t.end())
	if off >= t.lineOff {
		t.lineN += int64(bytes.Count(t.buf[t.lineOff-t.base:off-t.base], []byte{'\n'}))
	} else {
		t.lineN -= int64(bytes.Count(t.buf[off-t.base:t.lineOff-t.base], []byte{'\n'}))
	}
	t.lineOff = off
	return t.lineN + 1
}

// skipTo reads on from offset vs, where a stretch that cannot be read
// starts, to where reading resumes: the start of the next line from offset
// from on that begins with "{" or "[" (or, in an array, whose first
// non-blank character is "{"). It returns that offset (-1 at the end of
// the input) and the stretch's first bytes; what it passes is forgotten.
func (t *jsonTape) skipTo(vs, from int64, array bool) (int64, []byte) {
	var raw []byte
	prev := byte(0)
	indent, lineStart := false, int64(0)
	for off := vs; ; off++ {
		c, ok := t.byteAt(off)
		if !ok {
			return -1, raw
		}
		if off >= from && prev == '\n' {
			lineStart, indent = off, array
			if !array && (c == '{' || c == '[') {
				return off, raw
			}
		}
		if indent {
			switch c {
			case '{':
				return lineStart, raw
			case ' ', '\t':
			default:
				indent = false
			}
		}
		if len(raw) < rawLimit+utf8.UTFMax {
			raw = append(raw, c)
		}
		prev = c
		if !indent && off-t.mark >= 64<<10 {
			t.setMark(off)
		}
	}
}

// tapeCursor reads the tape from an offset on, for a decoder.
type tapeCursor struct {
	t   *jsonTape
	off int64
}

func (c *tapeCursor) Read(p []byte) (int, error) {
	t := c.t
	for c.off >= t.end() {
		// The decoder wants more, so the value at the mark goes on past
		// the cursor.
		if c.off-t.mark > t.max {
			return 0, errValueTooLarge
		}
		if !t.fill() {
			if t.err != nil {
				return 0, t.err
			}
			return 0, io.EOF
		}
	}
	n := copy(p, t.buf[c.off-t.base:])
	c.off += int64(n)
	return n, nil
}
