package format

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"
	"unsafe"

	"github.com/obz-dev/obz/wire"
)

// textDecoder reads text: {"line":"...","n":N} for each line, N the
// line's number in this input, from 1. Every line is a record, blank ones
// too; "\n" and "\r\n" end lines, the last line needs neither, a BOM at the
// start is dropped. Invalid UTF-8 becomes U+FFFD: the line is still an
// event, marked Replaced. A line over MaxLine is a problem (too-long).
type textDecoder struct {
	in  endReader
	o   Options
	lr  textLines
	n   int
	rec Record
	p   Problem
}

func newTextDecoder(in endReader, o Options) *textDecoder {
	d := &textDecoder{in: in, o: o}
	d.lr = textLines{br: bufio.NewReaderSize(&d.in, 64<<10), max: o.MaxLine}
	return d
}

func (d *textDecoder) Pos() (int, int64) { return d.n, d.lr.consumed }

func (d *textDecoder) Decode(yield func(*Record) error) error {
	in, lr, name, rec := &d.in, &d.lr, d.o.Name, &d.rec
	var buf []byte
	for ; ; d.n++ {
		line, tooLong, ok, err := lr.next()
		if in.cut(lr.consumed) {
			return in.end(name) // the input ended in the middle of this line: it is no record
		}
		if !ok {
			if err == io.EOF {
				return nil
			}
			if in.err != nil {
				return in.end(name)
			}
			return fmt.Errorf("reading %s: %w", name, err)
		}
		ln := lr.line
		if tooLong {
			d.p = Problem{Kind: "too-long", Msg: fmt.Sprintf("line of %d bytes exceeds the limit of %d bytes (raise it with --max-line)", lr.size, lr.max),
				Raw: validUTF8Prefix(line)}
			*rec = Record{Line: ln, Problem: &d.p}
			if err := yield(rec); err != nil {
				return err
			}
			continue
		}
		buf = append(buf[:0], `{"line":`...)
		// AppendString copies the bytes and keeps no reference: no need
		// to allocate a string per line.
		buf = wire.AppendString(buf, unsafe.String(unsafe.SliceData(line), len(line)))
		buf = append(buf, `,"n":`...)
		buf = strconv.AppendInt(buf, ln, 10)
		buf = append(buf, '}')
		*rec = Record{Payload: buf, Line: ln, Replaced: !utf8.Valid(line)}
		if err := yield(rec); err != nil {
			return err
		}
	}
}

// textLines splits text into lines of at most max bytes.
type textLines struct {
	br       *bufio.Reader
	max      int
	acc      []byte // a line longer than br's buffer
	line     int64  // lines read
	size     int64  // the last line's length, without its "\n" or "\r\n"
	consumed int64  // bytes read
}

// next returns the next line without its "\n" or "\r\n"; ok is false at
// the end of the input, err then says why. A line over max is tooLong and
// only its first bytes are returned. The line is valid until the next call.
func (t *textLines) next() (line []byte, tooLong, ok bool, err error) {
	t.acc = t.acc[:0]
	var size int64
	var before, last byte // the line's last two bytes
	for {
		frag, ferr := t.br.ReadSlice('\n')
		size += int64(len(frag))
		t.consumed += int64(len(frag))
		if k := len(frag); k >= 2 {
			before, last = frag[k-2], frag[k-1]
		} else if k == 1 {
			before, last = last, frag[0]
		}
		if ferr == nil && len(t.acc) == 0 {
			line = frag // the whole line was in the buffer: no copy
			break
		}
		if keep := max(t.max, rawLimit) + 8; len(t.acc) < keep { // room for a BOM and "\r\n"
			t.acc = append(t.acc, frag[:min(len(frag), keep-len(t.acc))]...)
		}
		if ferr == bufio.ErrBufferFull {
			continue
		}
		if ferr != nil && size == 0 {
			return nil, false, false, ferr
		}
		line = t.acc
		break
	}
	t.line++
	if last == '\n' {
		size--
		line = bytes.TrimSuffix(line, []byte{'\n'})
		if before == '\r' {
			size--
			line = bytes.TrimSuffix(line, []byte{'\r'})
		}
	}
	if t.line == 1 && bytes.HasPrefix(line, utf8BOM) {
		line, size = line[len(utf8BOM):], size-int64(len(utf8BOM))
	}
	t.size = size
	if size > int64(t.max) {
		return line[:min(len(line), rawLimit+utf8.UTFMax)], true, true, nil
	}
	return line, false, true, nil
}
