package format

import (
	"fmt"
	"strconv"

	"github.com/obz-dev/obz/wire"
)

// rowBuilder turns the fields of a CSV or TSV row into a JSON object keyed
// by the header, or says why it cannot (a row with the wrong number of
// fields, unless ragged rows are allowed).
type rowBuilder struct {
	opt   CSVOptions
	keys  [][]byte // `"name":` for each header field; nil until known
	extra [][]byte // `"N":` for fields past the header (--allow-ragged)
	buf   []byte
}

func newRowBuilder(o CSVOptions) rowBuilder {
	b := rowBuilder{opt: o}
	if o.Header != nil {
		b.keys = fieldKeys(o.Header)
	}
	return b
}

// setHeader takes the names of the header row.
func (b *rowBuilder) setHeader(names []string) { b.keys = fieldKeys(names) }

// row returns the record of one row of fields starting at line; a row
// that is no object is a problem (kind csv) kept in p, with raw as its text.
func (b *rowBuilder) row(fields []string, line int64, raw []byte, p *Problem) Record {
	if b.keys == nil { // --no-header: the first row says how many fields there are
		b.keys = fieldKeys(numberedNames(len(fields)))
	}
	n := len(fields)
	if n != len(b.keys) && !b.opt.Ragged {
		msg := fmt.Sprintf("%d fields, but %s", n, b.countWant())
		if b.opt.RaggedHint != "" {
			msg += " (" + b.opt.RaggedHint + ")"
		}
		*p = Problem{Kind: "csv", Msg: msg, Raw: raw}
		return Record{Line: line, Problem: p}
	}
	dst := append(b.buf[:0], '{')
	for i, v := range fields {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, b.key(i)...)
		dst = appendValue(dst, v, b.opt.Values)
	}
	b.buf = append(dst, '}')
	return Record{Payload: b.buf, Line: line}
}

// key returns the key of field i: the header's, or past it its position
// from 1 as Miller names it ("4"), c<N> when the fields are numbered so.
func (b *rowBuilder) key(i int) []byte {
	if i < len(b.keys) {
		return b.keys[i]
	}
	for j := len(b.keys) + len(b.extra); j <= i; j++ {
		name := strconv.Itoa(j + 1)
		if b.opt.NoHeader {
			name = "c" + name
		}
		b.extra = append(b.extra, append(wire.AppendString(nil, name), ':'))
	}
	return b.extra[i-len(b.keys)]
}

func (b *rowBuilder) countWant() string {
	switch {
	case b.opt.Header != nil:
		return fmt.Sprintf("--header names %d", len(b.keys))
	case b.opt.NoHeader:
		return fmt.Sprintf("the first row has %d", len(b.keys))
	}
	return fmt.Sprintf("the header has %d", len(b.keys))
}
