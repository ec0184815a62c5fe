// Package wire is obz's frame protocol: the NDJSON frames stages exchange on
// pipes (data, error, EOF, watermark, receipt), their canonical encoding, and
// a Reader that accepts both frames and bare NDJSON lines.
//
// docs/wire.md is the normative description. The package is a leaf: it
// imports only the standard library.
package wire
