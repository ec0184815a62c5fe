package format

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"

	"github.com/obz-dev/obz/wire"
)

var utf8BOM = []byte("\xef\xbb\xbf")

// csvDecoder reads CSV or TSV: one object per row, keyed by the header.
type csvDecoder struct {
	in   endReader
	o    Options
	tape *rawTape
	cr   *csv.Reader
	n    int
	rec  Record
	p    Problem
}

func newCSVDecoder(in endReader, f Format, o Options) *csvDecoder {
	d := &csvDecoder{in: in, o: o}
	br := bufio.NewReaderSize(&d.in, 64<<10)
	if b, _ := br.Peek(len(utf8BOM)); bytes.Equal(b, utf8BOM) {
		br.Discard(len(utf8BOM))
	}
	tape := &rawTape{r: br, max: int64(o.MaxLine)}
	cr := csv.NewReader(tape)
	cr.FieldsPerRecord = -1 // a ragged row is a problem record, not the end
	cr.ReuseRecord = true
	cr.LazyQuotes = o.CSV.LazyQuotes
	cr.Comma = ','
	if f == TSV {
		cr.Comma = '\t'
	}
	if o.CSV.Comma != 0 {
		cr.Comma = o.CSV.Comma
	}
	d.tape, d.cr = tape, cr
	return d
}

func (d *csvDecoder) Pos() (int, int64) { return d.n, d.cr.InputOffset() }

// Decode reads the header row (unless the options name the fields) and
// yields one object per later row. A header row that does not parse and a
// row past MaxLine end the input with an error: no later row could be
// trusted.
func (d *csvDecoder) Decode(yield func(*Record) error) error {
	in, name, cr, tape, opt := &d.in, d.o.Name, d.cr, d.tape, d.o.CSV
	var keys [][]byte // `"name":` for each field
	switch {
	case opt.Header != nil:
		keys = fieldKeys(opt.Header)
	case opt.NoHeader:
		// numbered from the first row
	default:
		rec, err := cr.Read()
		if in.err != nil {
			return in.end(name) // stopped (or failed) before a whole header row
		}
		if err == io.EOF {
			return nil
		}
		if pe, ok := err.(*csv.ParseError); ok {
			return fmt.Errorf("%s:%d: bad header row: %w", name, pe.StartLine, csvErr(pe))
		}
		if err != nil {
			return fmt.Errorf("reading %s: %w", name, csvErr(err))
		}
		keys = fieldKeys(headerNames(rec))
		tape.release(cr.InputOffset())
	}

	var buf []byte
	out := &d.rec
	for ; ; d.n++ {
		start := cr.InputOffset()
		rec, err := cr.Read()
		if in.err != nil {
			return in.end(name) // the input ended early: the last row may be cut short, drop it
		}
		if err == io.EOF {
			return nil
		}
		switch {
		case err == nil:
			line, _ := cr.FieldPos(0)
			if keys == nil {
				keys = fieldKeys(numberedNames(len(rec)))
			}
			if len(rec) != len(keys) {
				d.p = Problem{Kind: "csv", Msg: fmt.Sprintf("%d fields, but %s", len(rec), countWant(len(keys), opt)),
					Raw: tape.text(start, cr.InputOffset())}
				*out = Record{Line: int64(line), Problem: &d.p}
				break
			}
			if !validRow(rec) {
				d.p = Problem{Kind: "utf8", Msg: "invalid UTF-8 (convert the file, e.g. iconv -f latin1 -t utf-8)",
					Raw: tape.text(start, cr.InputOffset())}
				*out = Record{Line: int64(line), Problem: &d.p}
				break
			}
			buf = appendRow(buf[:0], keys, rec, opt.Values)
			*out = Record{Payload: buf, Line: int64(line)}
		case isParseError(err):
			pe := err.(*csv.ParseError)
			d.p = Problem{Kind: "csv", Msg: csvErr(pe).Error(), Raw: tape.text(start, cr.InputOffset())}
			*out = Record{Line: int64(pe.StartLine), Problem: &d.p}
		default:
			return fmt.Errorf("reading %s: %w", name, csvErr(err))
		}
		if err := yield(out); err != nil {
			return err
		}
		tape.release(cr.InputOffset())
	}
}

// isParseError reports whether err is a bad row that the CSV reader can go
// on after (encoding/csv returns *csv.ParseError itself, never wrapped).
func isParseError(err error) bool {
	_, ok := err.(*csv.ParseError)
	return ok
}

func countWant(n int, o CSVOptions) string {
	switch {
	case o.Header != nil:
		return fmt.Sprintf("--header names %d", n)
	case o.NoHeader:
		return fmt.Sprintf("the first row has %d", n)
	}
	return fmt.Sprintf("the header has %d", n)
}

// csvErr drops encoding/csv's "record on line N" prefix: obz says FILE:LINE.
func csvErr(err error) error {
	var pe *csv.ParseError
	if !errors.As(err, &pe) {
		return err
	}
	if pe.Err == csv.ErrFieldCount {
		return pe.Err
	}
	if pe.Line != pe.StartLine {
		return fmt.Errorf("%w (line %d, column %d)", pe.Err, pe.Line, pe.Column)
	}
	return fmt.Errorf("%w (column %d)", pe.Err, pe.Column)
}

// headerNames makes a header row usable as object keys: an empty name
// becomes c<N> (N its 1-based column), a repeated one gets _2, _3 ...
func headerNames(row []string) []string {
	names := make([]string, len(row))
	seen := make(map[string]bool, len(row))
	for i, h := range row {
		if h == "" {
			h = "c" + strconv.Itoa(i+1)
		}
		name := h
		for k := 2; seen[name]; k++ {
			name = h + "_" + strconv.Itoa(k)
		}
		seen[name] = true
		names[i] = name
	}
	return names
}

func numberedNames(n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = "c" + strconv.Itoa(i+1)
	}
	return names
}

// fieldKeys encodes each name once as `"name":`.
func fieldKeys(names []string) [][]byte {
	keys := make([][]byte, len(names))
	for i, n := range names {
		keys[i] = append(wire.AppendString(nil, n), ':')
	}
	return keys
}

func validRow(rec []string) bool {
	for _, v := range rec {
		if !utf8.ValidString(v) {
			return false
		}
	}
	return true
}

// appendRow appends the JSON object of one row, keys in header order.
func appendRow(dst []byte, keys [][]byte, rec []string, mode Values) []byte {
	dst = append(dst, '{')
	for i, v := range rec {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, keys[i]...)
		dst = appendValue(dst, v, mode)
	}
	return append(dst, '}')
}

// maxSafeInt is the largest integer a float64 (jq, JavaScript) holds exactly.
const maxSafeInt = 1 << 53

// Values says which JSON values a CSV or TSV field may become.
type Values int

// The value modes of CSVOptions.
const (
	// Numbers (the default): a field that is exactly a JSON number that
	// a float64 holds without losing a digit is that number, written as
	// it is; every other field is a string. See SafeNumber.
	Numbers Values = iota
	// Strings: every field is a string.
	Strings
	// Scalars: as Numbers, and true/false are booleans, an empty field null.
	Scalars
)

// appendValue appends field v as JSON, as mode says.
func appendValue(dst []byte, v string, mode Values) []byte {
	switch mode {
	case Strings:
		return wire.AppendString(dst, v)
	case Scalars:
		switch v {
		case "":
			return append(dst, "null"...)
		case "true", "false":
			return append(dst, v...)
		}
	}
	if SafeNumber(v) {
		return append(dst, v...)
	}
	return wire.AppendString(dst, v)
}

// SafeNumber reports whether s becomes a JSON number when read from CSV
// or TSV: s is exactly a JSON number (no sign "+", no leading zero, no
// "1." or ".5", no spaces, hex or underscores), and a float64, the number
// type of jq and JavaScript, holds it without losing a digit: an integer
// within +-2^53, any other number that converts to a float64 and back to
// the same digits (trailing zeros aside: 1.50 is 1.5). Anything else (007,
// +3, 1e5x, 0x1F, 1., 9007199254740993, 1e400) stays a string, so reading
// never changes a value.
func SafeNumber(s string) bool {
	isInt, ok := jsonNumber(s)
	if !ok {
		return false
	}
	if isInt {
		if len(s) <= 15 { // at most 15 digits: always exact
			return true
		}
		n, err := strconv.ParseInt(s, 10, 64)
		return err == nil && n >= -maxSafeInt && n <= maxSafeInt
	}
	digits, exp, ok := decimal(s, nil)
	switch {
	case len(digits) == 0:
		return true // a zero
	case !ok:
		return false
	case len(digits) <= 15 && exp > -290 && exp < 290:
		return true // 15 significant digits survive a float64, well inside its range
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil { // out of range: it would become +-Inf or 0
		return false
	}
	var buf [32]byte
	fdigits, fexp, _ := decimal(strconv.AppendFloat(buf[:0], f, 'e', -1, 64), nil)
	return fexp == exp && string(fdigits) == string(digits)
}

// decimal returns the significant digits of a JSON number (no leading or
// trailing zeros; none for zero) and its exponent e, the number being
// 0.DIGITS times 10^e; ok is false for an exponent beyond +-10^8
// (then e is not known). The
// digits are appended to dst.
func decimal[T string | []byte](s T, dst []byte) (digits []byte, exp int, ok bool) {
	ok = true
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	point := -1 // digits before the decimal point
	lead := 0   // leading zeros dropped
	for ; i < len(s); i++ {
		c := s[i]
		if c == '.' {
			point = len(dst) + lead
			continue
		}
		if c < '0' || c > '9' {
			break
		}
		if c == '0' && len(dst) == 0 {
			lead++
			continue
		}
		dst = append(dst, c)
	}
	if point < 0 {
		point = len(dst) + lead
	}
	e := 0
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		neg := false
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			neg = s[i] == '-'
			i++
		}
		for ; i < len(s); i++ {
			if e = e*10 + int(s[i]-'0'); e > 1e8 {
				ok = false
				e = 0
			}
		}
		if neg {
			e = -e
		}
	}
	for len(dst) > 0 && dst[len(dst)-1] == '0' {
		dst = dst[:len(dst)-1]
	}
	return dst, point - lead + e, ok
}

// jsonNumber reports whether s is exactly a JSON number, and whether it is
// an integer (no fraction, no exponent).
func jsonNumber(s string) (isInt, ok bool) {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	default:
		return false, false
	}
	isInt = true
	if i < len(s) && s[i] == '.' {
		isInt = false
		i++
		d := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == d {
			return false, false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		isInt = false
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		d := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == d {
			return false, false
		}
	}
	return isInt, i == len(s)
}

// errRowTooLong ends a CSV file whose row runs past --max-line: the CSV
// reader cannot find the next row (an unclosed quote, most likely).
var errRowTooLong = errors.New("a row runs over the --max-line limit (an unclosed quote?)")

// rawTape keeps the input text of the row being parsed, so that a bad row
// becomes an error event holding its raw text. encoding/csv reads ahead;
// its InputOffset says where each row ends.
type rawTape struct {
	r    io.Reader
	buf  []byte // input from offset base on
	base int64
	mark int64 // start of the row being read
	max  int64
}

func (t *rawTape) Read(p []byte) (int, error) {
	if t.base+int64(len(t.buf))-t.mark > t.max {
		return 0, errRowTooLong
	}
	n, err := t.r.Read(p)
	t.buf = append(t.buf, p[:n]...)
	return n, err
}

// text returns the input between two offsets, without blank lines and newlines around it.
func (t *rawTape) text(from, to int64) []byte {
	if from < t.base || to < from || to-t.base > int64(len(t.buf)) {
		return nil
	}
	b := bytes.Trim(t.buf[from-t.base:to-t.base], "\r\n") // blank lines skipped before the row, its newline
	return bytes.ToValidUTF8(b, []byte("\ufffd"))
}

// release forgets the input before offset: rows done with.
func (t *rawTape) release(offset int64) {
	t.mark = offset
	k := offset - t.base
	if k <= 0 {
		return
	}
	if k >= int64(len(t.buf)) {
		t.buf, t.base = t.buf[:0], t.base+int64(len(t.buf))
		return
	}
	if k >= 32<<10 && k >= int64(len(t.buf))/2 {
		n := copy(t.buf, t.buf[k:])
		t.buf, t.base = t.buf[:n], offset
	}
}
