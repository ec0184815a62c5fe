package wire

import (
	"strconv"
	"unicode/utf8"
)

// AppendFrame appends f's canonical encoding, newline included, to dst.
// The payload is copied byte for byte, never re-encoded: a data frame needs
// one, and it must be one JSON value without a newline. Only the fields of
// f's kind are written, in a fixed order (docs/wire.md).
func AppendFrame(dst []byte, f *Frame) []byte {
	dst = append(dst, `{"obz":1,"t":"`...)
	dst = append(dst, f.Kind.String()...)
	dst = append(dst, `","w":`...)
	dst = AppendString(dst, f.Writer)
	switch f.Kind {
	case KindData, KindError:
		dst = append(dst, `,"s":`...)
		dst = strconv.AppendUint(dst, f.Seq, 10)
		if !f.Parent.IsZero() {
			dst = append(dst, `,"p":`...)
			dst = appendRef(dst, f.Parent)
		}
		if f.TS != 0 {
			dst = append(dst, `,"ts":`...)
			dst = strconv.AppendUint(dst, f.TS, 10)
		}
		if f.Kind == KindError {
			e := f.Err
			if e == nil {
				e = &ErrorInfo{}
			}
			dst = appendErrInfo(dst, e)
			if f.Payload == nil || len(e.Raw) > 0 {
				dst = append(dst, `,"raw":`...)
				dst = AppendString(dst, string(e.Raw))
			}
		}
		if f.Payload != nil {
			dst = append(dst, `,"d":`...)
			dst = append(dst, f.Payload...)
		}
	case KindEOF:
		dst = append(dst, `,"n":`...)
		dst = strconv.AppendUint(dst, f.Count, 10)
		dst = append(dst, `,"kind":"`...)
		dst = append(dst, f.EOF.String()...)
		dst = append(dst, '"')
	case KindWatermark:
		dst = append(dst, `,"at":`...)
		dst = strconv.AppendFloat(dst, f.Time, 'f', -1, 64)
	case KindReceipt:
		dst = append(dst, `,"of":`...)
		dst = appendRef(dst, f.Of)
		dst = append(dst, `,"status":`...)
		dst = AppendString(dst, f.Status)
	case KindOrder:
		dst = append(dst, `,"runs":[`...)
		for i, r := range f.Runs {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendRef(dst, Ref{Writer: r.Writer, Seq: r.N})
		}
		dst = append(dst, ']')
	}
	return append(dst, '}', '\n')
}

func appendRef(dst []byte, r Ref) []byte {
	dst = append(dst, '[')
	dst = AppendString(dst, r.Writer)
	dst = append(dst, ',')
	dst = strconv.AppendUint(dst, r.Seq, 10)
	return append(dst, ']')
}

func appendErrInfo(dst []byte, e *ErrorInfo) []byte {
	dst = append(dst, `,"err":{"kind":`...)
	dst = AppendString(dst, e.Kind)
	dst = append(dst, `,"msg":`...)
	dst = AppendString(dst, e.Msg)
	dst = append(dst, `,"stage":`...)
	dst = AppendString(dst, e.Stage)
	if e.Line != 0 {
		dst = append(dst, `,"line":`...)
		dst = strconv.AppendInt(dst, e.Line, 10)
	}
	if !e.Event.IsZero() {
		dst = append(dst, `,"event":`...)
		dst = appendRef(dst, e.Event)
	}
	if len(e.Via) > 0 {
		dst = append(dst, `,"via":[`...)
		for i, v := range e.Via {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = AppendString(dst, v)
		}
		dst = append(dst, ']')
	}
	return append(dst, '}')
}

const hexDigits = "0123456789abcdef"

// AppendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD;
// '<', '>' and '&' are not escaped (as jq does).
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, "\ufffd"...)
			i++
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// DataEncoder appends data frames of one writer, byte for byte as
// AppendFrame does, with the constant start of the frame encoded once and
// the last parent writer's encoding kept: the encoder of a stage's output.
// The zero value is not usable; make one with NewDataEncoder.
type DataEncoder struct {
	prefix []byte // {"obz":1,"t":"data","w":W,"s":
	parent string // the last parent writer
	pref   []byte // ,"p":[PARENT,
}

// NewDataEncoder returns an encoder of data frames written by writer.
func NewDataEncoder(writer string) *DataEncoder {
	p := []byte(`{"obz":1,"t":"data","w":`)
	p = AppendString(p, writer)
	return &DataEncoder{prefix: append(p, `,"s":`...), pref: []byte(`,"p":["",`)}
}

// Append appends the data frame of seq with parent and payload to dst, as
// AppendFrame does.
func (e *DataEncoder) Append(dst []byte, seq uint64, parent Ref, payload []byte) []byte {
	return e.AppendTS(dst, seq, parent, 0, payload)
}

// AppendTS is Append for a frame with source time ts (Frame.TS; 0 for none).
func (e *DataEncoder) AppendTS(dst []byte, seq uint64, parent Ref, ts uint64, payload []byte) []byte {
	dst = append(dst, e.prefix...)
	dst = strconv.AppendUint(dst, seq, 10)
	if !parent.IsZero() {
		if parent.Writer != e.parent {
			e.parent = parent.Writer
			e.pref = AppendString(append(e.pref[:0], `,"p":[`...), parent.Writer)
			e.pref = append(e.pref, ',')
		}
		dst = append(dst, e.pref...)
		dst = strconv.AppendUint(dst, parent.Seq, 10)
		dst = append(dst, ']')
	}
	if ts != 0 {
		dst = append(dst, `,"ts":`...)
		dst = strconv.AppendUint(dst, ts, 10)
	}
	dst = append(dst, `,"d":`...)
	dst = append(dst, payload...)
	return append(dst, '}', '\n')
}
