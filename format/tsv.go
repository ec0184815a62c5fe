package format

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// TSV is IANA text/tab-separated-values: one record per line, fields
// separated by tabs, no quoting. A field holds a tab, a line break or a
// backslash as Miller writes them: \t, \n, \r and \\. Any other backslash
// is itself (C:\path reads as C:\path). A quote is an ordinary character,
// so `says "hi" there` is one field and never swallows the lines after it.

// tsvDecoder reads TSV: one object per line, keyed by the header line.
type tsvDecoder struct {
	in   endReader
	o    Options
	lr   textLines
	sep  string
	n    int
	rec  Record
	p    Problem
	rb   rowBuilder
	flds []string
}

func newTSVDecoder(in endReader, o Options) *tsvDecoder {
	d := &tsvDecoder{in: in, o: o, sep: "\t"}
	if o.CSV.Comma != 0 {
		d.sep = string(o.CSV.Comma)
	}
	d.lr = textLines{br: bufio.NewReaderSize(&d.in, 64<<10), max: o.MaxLine}
	d.rb = newRowBuilder(o.CSV)
	return d
}

func (d *tsvDecoder) Pos() (int, int64) { return d.n, d.lr.consumed }

// Decode reads the header line (unless the options name the fields) and
// yields one object per later line. Blank lines are skipped; a line over
// MaxLine is a problem (too-long) and reading goes on at the next line.
func (d *tsvDecoder) Decode(yield func(*Record) error) error {
	in, lr, name, out := &d.in, &d.lr, d.o.Name, &d.rec
	header := d.o.CSV.Header == nil && !d.o.CSV.NoHeader
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
		switch {
		case tooLong && header:
			return fmt.Errorf("%s:%d: the header line of %d bytes exceeds the limit of %d bytes (raise it with --max-line)", name, ln, lr.size, lr.max)
		case tooLong:
			d.p = Problem{Kind: "too-long", Msg: fmt.Sprintf("line of %d bytes exceeds the limit of %d bytes (raise it with --max-line)", lr.size, lr.max),
				Raw: validUTF8Prefix(line)}
			*out = Record{Line: ln, Problem: &d.p}
		case len(line) == 0:
			continue
		case !utf8.Valid(line):
			if header {
				return fmt.Errorf("%s:%d: bad header line: invalid UTF-8 (convert the file, e.g. iconv -f latin1 -t utf-8)", name, ln)
			}
			d.p = Problem{Kind: "utf8", Msg: "invalid UTF-8 (convert the file, e.g. iconv -f latin1 -t utf-8)",
				Raw: bytes.ToValidUTF8(line, []byte("\ufffd"))}
			*out = Record{Line: ln, Problem: &d.p}
		default:
			d.flds = splitTSV(d.flds[:0], string(line), d.sep)
			if header {
				header = false
				d.rb.setHeader(headerNames(d.flds))
				continue
			}
			*out = d.rb.row(d.flds, ln, line, &d.p)
		}
		if err := yield(out); err != nil {
			return err
		}
	}
}

// splitTSV appends the fields of one line, unescaped, to dst.
func splitTSV(dst []string, line, sep string) []string {
	for {
		f, rest, more := strings.Cut(line, sep)
		dst = append(dst, unescapeTSV(f))
		if !more {
			return dst
		}
		line = rest
	}
}

// unescapeTSV turns \t, \n, \r and \\ into a tab, LF, CR and backslash;
// any other backslash stays as it is.
func unescapeTSV(s string) string {
	i := strings.IndexByte(s, '\\')
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	b.WriteString(s[:i])
	for ; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) {
			switch s[i+1] {
			case 't':
				c = '\t'
			case 'n':
				c = '\n'
			case 'r':
				c = '\r'
			case '\\':
				c = '\\'
			}
			if c != '\\' || s[i+1] == '\\' {
				i++
			}
		}
		b.WriteByte(c)
	}
	return b.String()
}

// appendTSVField appends s escaped for TSV: tab, LF, CR and backslash as
// \t, \n, \r and \\.
func appendTSVField(dst []byte, s string) []byte {
	for {
		i := strings.IndexAny(s, "\t\n\r\\")
		if i < 0 {
			return append(dst, s...)
		}
		dst = append(dst, s[:i]...)
		switch s[i] {
		case '\t':
			dst = append(dst, `\t`...)
		case '\n':
			dst = append(dst, `\n`...)
		case '\r':
			dst = append(dst, `\r`...)
		default:
			dst = append(dst, `\\`...)
		}
		s = s[i+1:]
	}
}

// appendTSVRow appends one line of fields, escaped, ending in "\n".
func appendTSVRow(dst []byte, fields []string) []byte {
	for i, f := range fields {
		if i > 0 {
			dst = append(dst, '\t')
		}
		dst = appendTSVField(dst, f)
	}
	return append(dst, '\n')
}
