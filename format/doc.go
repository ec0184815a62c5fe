// Package format owns obz's record formats: how the bytes of a file or a
// stream become events and how events become rows.
//
// Reading: NewDecoder reads one input as NDJSON, JSON, CSV, TSV or text
// and yields a Record for each record: the event's payload (compact JSON),
// or a Problem (kind, message, raw text, line) for a record that cannot be
// read, which the caller turns into an error event. A decoder never stops
// at a bad record, and drops a last record that an input failure cut
// short. Named and ByExtension say which format a --format value or a
// file name means. CompressionOf, Sniff, Matches and Decompress handle
// gzip and zstd input, recognised by name and by magic number.
//
// Writing: CSVEncoder turns JSON objects into CSV or TSV rows, returning a
// Problem for a payload that cannot be a row; ReadCSVHeader reads the
// header of a CSV file to append to.
//
// format knows nothing of stages, the runner or the CLI: it imports the
// standard library, wire and the JSON and compression libraries only.
// Flags, counters, stops and error events are the caller's.
package format
