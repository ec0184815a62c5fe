package format

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	jsoniter "github.com/json-iterator/go"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// CSVEncoder turns JSON objects into CSV or TSV rows. The header is the
// keys of the first object, in their order in its bytes. A later object
// fills the header's columns by key: a key it lacks is an empty cell, a key
// the header lacks makes it a problem (csv-keys). Strings are written raw,
// numbers as written, true/false, null as an empty cell, arrays and
// objects as compact JSON. TSV fields are escaped as Miller does (\t, \n,
// \r, \\), never quoted.
type CSVEncoder struct {
	w      *csv.Writer // CSV
	tsv    io.Writer   // TSV
	line   []byte      // TSV: the row being written
	header bool        // write the header line before the first row

	keys  []string // the header; nil until the first object
	index map[string]int
	row   []string
	extra []string // keys of the current object that are not in the header

	it      *jsoniter.Iterator
	compact bytes.Buffer
}

// iterConfig reads payloads: numbers stay as written.
var iterConfig = jsoniter.Config{UseNumber: true, EscapeHTML: false}.Froze()

// NewCSVEncoder writes rows separated by comma to w, the header line first
// if header is set. w should be a *bufio.Writer of at least 4 KiB:
// csv.Writer then uses it as is instead of adding its own buffer.
func NewCSVEncoder(w io.Writer, comma rune, header bool) *CSVEncoder {
	cw := csv.NewWriter(w)
	cw.Comma = comma
	return &CSVEncoder{w: cw, header: header, index: map[string]int{}, it: jsoniter.NewIterator(iterConfig)}
}

// NewTSVEncoder writes TSV rows to w, the header line first if header is
// set. w should be buffered (a *bufio.Writer): each row is one Write, and
// Flush flushes w if it has a Flush method.
func NewTSVEncoder(w io.Writer, header bool) *CSVEncoder {
	return &CSVEncoder{tsv: w, header: header, index: map[string]int{}, it: jsoniter.NewIterator(iterConfig)}
}

// writeRow writes one row of fields.
func (c *CSVEncoder) writeRow(fields []string) error {
	if c.tsv == nil {
		return c.w.Write(fields)
	}
	c.line = appendTSVRow(c.line[:0], fields)
	_, err := c.tsv.Write(c.line)
	return err
}

// Encode writes payload as one row. A payload that cannot be a row comes
// back as a Problem (parse, csv-type or csv-keys; nothing is written); err
// is a failure of the output.
func (c *CSVEncoder) Encode(payload []byte) (bad *Problem, err error) {
	if !json.Valid(payload) {
		return &Problem{Kind: "parse", Msg: "payload is not valid JSON"}, nil
	}
	it := c.it
	it.ResetBytes(payload)
	it.Error = nil
	if t := it.WhatIsNext(); t != jsoniter.ObjectValue {
		return &Problem{Kind: "csv-type", Msg: "a CSV row needs a JSON object, got " + jsonTypeName(t)}, nil
	}
	first := c.keys == nil
	if first {
		c.row = c.row[:0]
	} else {
		for i := range c.row {
			c.row[i] = ""
		}
	}
	c.extra = c.extra[:0]
	it.ReadObjectCB(func(it *jsoniter.Iterator, key string) bool {
		v := c.cell(it)
		i, ok := c.index[key]
		switch {
		case ok:
			c.row[i] = v // a repeated key: the last value wins, as in jq
		case first:
			c.index[key] = len(c.keys)
			c.keys = append(c.keys, key)
			c.row = append(c.row, v)
		case !slices.Contains(c.extra, key):
			c.extra = append(c.extra, key)
		}
		return it.Error == nil
	})
	if it.Error != nil && it.Error != io.EOF {
		if first {
			c.keys = nil
			clear(c.index)
		}
		return &Problem{Kind: "parse", Msg: "reading the payload: " + it.Error.Error()}, nil
	}
	if len(c.extra) > 0 {
		quoted := make([]string, len(c.extra))
		for i, k := range c.extra {
			quoted[i] = strconv.Quote(k)
		}
		return &Problem{Kind: "csv-keys", Msg: "key(s) " + strings.Join(quoted, ", ") +
			" not in the CSV header (the first record's keys: " + strings.Join(c.keys, ", ") + ")"}, nil
	}
	if first {
		if c.keys == nil {
			c.keys = []string{} // an empty first object: an empty header
		}
		if c.header {
			if err := c.writeRow(c.keys); err != nil {
				return nil, err
			}
		}
	}
	return nil, c.writeRow(c.row)
}

// cell reads one value as CSV text: strings raw, numbers as written,
// true/false, null empty, arrays and objects as compact JSON.
func (c *CSVEncoder) cell(it *jsoniter.Iterator) string {
	switch it.WhatIsNext() {
	case jsoniter.StringValue:
		return it.ReadString()
	case jsoniter.NumberValue:
		return string(it.ReadNumber())
	case jsoniter.BoolValue:
		return strconv.FormatBool(it.ReadBool())
	case jsoniter.NilValue:
		it.ReadNil()
		return ""
	default:
		raw := it.SkipAndReturnBytes()
		c.compact.Reset()
		if json.Compact(&c.compact, raw) != nil {
			return string(raw)
		}
		return c.compact.String()
	}
}

// Flush writes the buffered rows out.
func (c *CSVEncoder) Flush() error {
	if c.tsv != nil {
		if f, ok := c.tsv.(interface{ Flush() error }); ok {
			return f.Flush()
		}
		return nil
	}
	c.w.Flush()
	return c.w.Error()
}

func jsonTypeName(t jsoniter.ValueType) string {
	switch t {
	case jsoniter.StringValue:
		return "a string"
	case jsoniter.NumberValue:
		return "a number"
	case jsoniter.NilValue:
		return "null"
	case jsoniter.BoolValue:
		return "a boolean"
	case jsoniter.ArrayValue:
		return "an array"
	}
	return "an invalid value"
}

// UseHeader takes keys as the header, as if the first object had had them;
// it is not written (it is already in the file appended to).
func (c *CSVEncoder) UseHeader(keys []string) {
	c.keys = slices.Clone(keys)
	clear(c.index)
	for i, k := range c.keys {
		c.index[k] = i
	}
	c.row = make([]string, len(c.keys))
}

// WriteHeader writes the header line again (at the top of a new part of
// the output), if there is a header.
func (c *CSVEncoder) WriteHeader() error {
	if !c.header || c.keys == nil {
		return nil
	}
	return c.writeRow(c.keys)
}

// ReadCSVHeader reads the header line of the CSV or TSV file path,
// compressed as c; nil if the file does not exist or is empty.
func ReadCSVHeader(path string, c Compression, f Format) ([]string, error) {
	file, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer file.Close()
	if fi, err := file.Stat(); err != nil || !fi.Mode().IsRegular() || fi.Size() == 0 {
		return nil, err
	}
	var r io.Reader = file
	switch c {
	case Gzip:
		zr, err := gzip.NewReader(file)
		if err != nil {
			return nil, fmt.Errorf("reading its header: %w", err)
		}
		defer zr.Close()
		r = zr
	case Zstd:
		zr, err := zstd.NewReader(file, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, fmt.Errorf("reading its header: %w", err)
		}
		defer zr.Close()
		r = zr
	}
	if f == TSV {
		line, err := bufio.NewReader(r).ReadString('\n')
		if err != nil && err != io.EOF {
			return nil, fmt.Errorf("reading its header: %w", err)
		}
		line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
		if line == "" {
			return nil, nil
		}
		return splitTSV(nil, strings.TrimPrefix(line, string(utf8BOM)), "\t"), nil
	}
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	keys, err := cr.Read()
	if err == io.EOF {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading its header: %w", err)
	}
	return keys, nil
}
