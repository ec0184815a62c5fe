package format

import (
	"io"
	"path/filepath"
	"strings"

	"github.com/obz-dev/obz/wire"
)

// Format is a record format.
type Format string

// The formats.
const (
	NDJSON Format = "ndjson"
	JSON   Format = "json"
	CSV    Format = "csv"
	TSV    Format = "tsv"
	Text   Format = "text"
)

// Named returns the format called name (any case): ndjson (or jsonl), json,
// csv, tsv or text (or txt, lines); false for any other name.
func Named(name string) (Format, bool) {
	switch f := Format(strings.ToLower(name)); f {
	case NDJSON, JSON, CSV, TSV, Text:
		return f, true
	case "jsonl":
		return NDJSON, true
	case "txt", "lines":
		return Text, true
	}
	return "", false
}

// ByExtension returns the format of a file by its extension, after any
// .gz or .zst: .json is JSON, .csv CSV, .tsv and .tab TSV, .txt, .log and
// .text text, anything else (.ndjson, .jsonl, stdin) NDJSON.
func ByExtension(name string) Format {
	_, name = CompressionOf(name)
	switch strings.ToLower(filepath.Ext(name)) {
	case ".csv":
		return CSV
	case ".tsv", ".tab":
		return TSV
	case ".json":
		return JSON
	case ".txt", ".log", ".text":
		return Text
	}
	return NDJSON
}

// Options say how to decode one input.
type Options struct {
	// Name names the input in messages: a file name, or "stdin".
	Name string
	// MaxLine is the longest record in bytes (a line, a row, a JSON
	// value); 0 means wire.DefaultMaxLine.
	MaxLine int
	// CSV applies to CSV and TSV.
	CSV CSVOptions
	// Entries, if set, makes each member of a top-level JSON object a
	// record (a map of records, {"pkg":{...},...}): the member's name goes
	// under this key, before the fields of its object (or "value": V).
	Entries string
	// ReplaceInvalidUTF8 reads an NDJSON line that is not valid UTF-8 as
	// jq does, each bad byte replaced by U+FFFD, instead of reporting it
	// (wire.Reader.ReplaceInvalidUTF8).
	ReplaceInvalidUTF8 bool
}

// CSVOptions say how to read CSV and TSV.
type CSVOptions struct {
	Values     Values   // which JSON values a field may become: Numbers (the default), Strings or Scalars
	NoHeader   bool     // there is no header row: the fields are c1, c2, ...
	Header     []string // the field names; there is no header row
	Comma      rune     // the field separator; 0: ',' for CSV, tab for TSV
	LazyQuotes bool     // CSV: accept a bare " in a field and unescaped quotes in a quoted one
	Ragged     bool     // a row may have fewer fields (absent keys) or more (keys "N", N its position)
	RaggedHint string   // added to the message of a ragged row: how to read it, e.g. "--allow-ragged reads such rows"
}

// Record is one record of an input: an event's payload, or a problem.
// Its slices are valid until the next record.
type Record struct {
	// Payload is the event, one compact JSON value. With Problem or
	// Forward set it is the payload the error event keeps, if any.
	Payload []byte
	// Line is the 1-based line of the input where the record starts.
	Line int64
	// Problem is set for a record that cannot be read: it becomes an error
	// event, and reading goes on.
	Problem *Problem
	// Forward is set for an error event of a saved obz stream (NDJSON),
	// to pass on as it is.
	Forward *wire.ErrorInfo
	// Replaced reports (text) that invalid UTF-8 in the line was
	// replaced by U+FFFD: the record is still an event.
	Replaced bool
	// Note, if set, is a warning about a record that is still an event
	// (CSV with --lazy-quotes: a field holds a line break).
	Note string
	// Span, when not 0, says that Payload is the bytes Off..Off+len(Payload)
	// of the input as it was read, followed by a newline when Span is one
	// more than the payload (NDJSON lines that are taken as they are): a
	// source may journal such a record by reference to its file.
	Off, Span int64
}

// Problem says why a record cannot be read.
type Problem struct {
	Kind string // parse, utf8, too-long, frame, csv
	Msg  string // what is wrong, without the input's name and line
	Raw  []byte // the record's text (a prefix of a long one), valid UTF-8
}

// Decoder reads the records of one input.
type Decoder interface {
	// Decode calls yield for each record, in order, until the input ends
	// (it returns nil), yield returns an error (returned as it is), the
	// input fails (an *InputError) or a problem stops the reading of the
	// whole input (CSV: a bad header row, a row past MaxLine).
	Decode(yield func(*Record) error) error
	// Pos returns how many records and bytes of the input were read,
	// records that give no event (control frames) included.
	Pos() (records int, bytes int64)
}

// NewDecoder returns a decoder of in, read as format f.
func NewDecoder(in io.Reader, f Format, o Options) Decoder {
	if o.MaxLine <= 0 {
		o.MaxLine = wire.DefaultMaxLine
	}
	e := endReader{r: in, last: '\n'}
	switch f {
	case CSV:
		return newCSVDecoder(e, o)
	case TSV:
		return newTSVDecoder(e, o)
	case JSON:
		return &jsonDecoder{in: e, o: o}
	case Text:
		return newTextDecoder(e, o)
	}
	return newNDJSONDecoder(e, o)
}

// InputError is an input that ended with an error other than io.EOF: a
// failure (a corrupt compressed file, an I/O error) or the reader's way of
// saying stop. The records before it were yielded; one it cut short was
// not. Err is the input's error.
type InputError struct {
	Name string
	Err  error
}

func (e *InputError) Error() string { return "reading " + e.Name + ": " + e.Err.Error() }

// Unwrap returns the input's error.
func (e *InputError) Unwrap() error { return e.Err }
