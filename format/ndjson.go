package format

import (
	"errors"
	"fmt"
	"io"

	"github.com/obz-dev/obz/wire"
)

// ndjsonDecoder reads one JSON value per line, with the line rules of every
// stage's input (wire.Reader). A line that is an obz frame gives its
// payload: data frames are events, error frames are forwarded, EOF and
// other control frames give no record.
type ndjsonDecoder struct {
	in  endReader
	o   Options
	rd  *wire.Reader
	n   int
	rec Record
	p   Problem
}

func newNDJSONDecoder(in endReader, o Options) *ndjsonDecoder {
	d := &ndjsonDecoder{in: in, o: o}
	d.rd = wire.NewReader(&d.in, o.MaxLine)
	d.rd.ReplaceInvalidUTF8 = o.ReplaceInvalidUTF8
	return d
}

func (d *ndjsonDecoder) Pos() (int, int64) { return d.n, d.rd.BytesRead() }

func (d *ndjsonDecoder) Decode(yield func(*Record) error) error {
	in, rd, rec := &d.in, d.rd, &d.rec
	var f wire.Frame
	for ; ; d.n++ {
		err := rd.Next(&f)
		if in.cut(rd.BytesRead()) {
			return in.end(d.o.Name) // the input ended in the middle of this line: it is no record
		}
		if err == nil {
			switch f.Kind {
			case wire.KindData:
				*rec = Record{Payload: f.Payload, Line: f.Line}
				if off, span, ok := rd.Span(&f); ok {
					rec.Off, rec.Span = off, span
				}
			case wire.KindError:
				*rec = Record{Payload: f.Payload, Line: f.Line, Forward: f.Err}
				if f.Err == nil {
					d.p = Problem{Kind: "frame", Msg: "error frame without error info"}
					rec.Problem = &d.p
				}
			default:
				continue
			}
			if err := yield(rec); err != nil {
				return err
			}
			continue
		}
		var le *wire.LineError
		if errors.As(err, &le) {
			d.p = Problem{Kind: le.Kind, Msg: le.Msg, Raw: le.Raw}
			*rec = Record{Line: le.Line, Problem: &d.p}
			if err := yield(rec); err != nil {
				return err
			}
			continue
		}
		if err == io.EOF {
			return nil
		}
		if in.err != nil {
			return in.end(d.o.Name)
		}
		return fmt.Errorf("reading %s: %w", d.o.Name, err)
	}
}
