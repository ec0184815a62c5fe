package format

import (
	"bytes"
	"compress/gzip"
	"io"
	"path/filepath"
	"strings"

	"github.com/klauspost/compress/zstd"
)

// endReader is the reader under a decoder. It remembers how many bytes
// it delivered, the last of them, and the error that ended the input if
// it was not io.EOF. After such an end the decoder's unfinished last line
// or row was cut short: it is no record, and cut tells when the decoder
// has reached it.
type endReader struct {
	r         io.Reader
	delivered int64
	last      byte
	err       error
}

func (e *endReader) Read(b []byte) (int, error) {
	n, err := e.r.Read(b)
	if n > 0 {
		e.delivered += int64(n)
		e.last = b[n-1]
	}
	if err != nil && err != io.EOF && e.err == nil {
		e.err = err
	}
	return n, err
}

// cut reports whether the input ended early and the decoder, having
// consumed consumed bytes, is at that input's unfinished end.
func (e *endReader) cut(consumed int64) bool {
	return e.err != nil && consumed == e.delivered && e.last != '\n'
}

// end is what a decoder returns once the input ended early.
func (e *endReader) end(name string) error {
	if e.err == nil {
		return nil
	}
	return &InputError{Name: name, Err: e.err}
}

// Compression is how an input is compressed.
type Compression string

// The compressions.
const (
	None Compression = ""
	Gzip Compression = "gzip"
	Zstd Compression = "zstd"
)

var (
	gzipMagic = []byte{0x1f, 0x8b}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// MaxZstdWindow bounds the memory a zstd stream may make the decoder hold
// (its window): 128 MiB, the limit of the zstd tool itself unless told
// --memory. A frame asking for more is refused, not obeyed.
const MaxZstdWindow = 128 << 20

// CompressionOf returns Gzip or Zstd for a name ending in .gz or .zst (or
// .gzip, .zstd), and the name without that extension (whose own extension
// gives the format: orders.csv.gz is CSV).
func CompressionOf(name string) (c Compression, inner string) {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".gz", ".gzip":
		return Gzip, strings.TrimSuffix(name, filepath.Ext(name))
	case ".zst", ".zstd":
		return Zstd, strings.TrimSuffix(name, filepath.Ext(name))
	}
	return None, name
}

// Sniff reads the first bytes of r, as many as it takes to tell whether
// they are a gzip or zstd magic number, never waiting for more once they
// cannot be (a user typing on stdin gets each line at once). It returns the
// compression and a reader that still yields every byte and then r's error.
func Sniff(r io.Reader) (Compression, io.Reader) {
	head := make([]byte, 0, len(zstdMagic))
	for empty := 0; ; {
		c, undecided := sniffKind(head)
		if !undecided {
			return c, io.MultiReader(bytes.NewReader(head), r)
		}
		n, err := r.Read(head[len(head):cap(head)])
		head = head[:len(head)+n]
		if n == 0 && err == nil {
			if empty++; empty >= 100 {
				err = io.ErrNoProgress
			}
		}
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			c, undecided := sniffKind(head)
			if undecided {
				c = None // too short for a magic number
			}
			return c, io.MultiReader(bytes.NewReader(head), &errReader{err})
		}
	}
}

// Matches reads the first bytes of r and reports whether they start data
// compressed as c, or r is empty.
func Matches(r io.Reader, c Compression) bool {
	head := make([]byte, len(zstdMagic))
	n, _ := io.ReadFull(r, head)
	got, _ := sniffKind(head[:n])
	return n == 0 || got == c
}

// sniffKind says which magic head is, or that more bytes are needed.
func sniffKind(head []byte) (c Compression, undecided bool) {
	for _, m := range []struct {
		c     Compression
		magic []byte
	}{{Gzip, gzipMagic}, {Zstd, zstdMagic}} {
		n := min(len(head), len(m.magic))
		if bytes.Equal(head[:n], m.magic[:n]) {
			if n == len(m.magic) {
				return m.c, false
			}
			undecided = true
		}
	}
	return None, undecided
}

// errReader returns err, or io.EOF if err is nil.
type errReader struct{ err error }

func (e *errReader) Read([]byte) (int, error) {
	if e.err == nil {
		return 0, io.EOF
	}
	return 0, e.err
}

// Decompress wraps r in a decompressor for c (None returns r). The
// returned func releases the decompressor: always call it.
func Decompress(c Compression, r io.Reader) (io.Reader, func(), error) {
	switch c {
	case Gzip:
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, nil, err
		}
		return zr, func() { zr.Close() }, nil
	case Zstd:
		zr, err := zstd.NewReader(r, zstd.WithDecoderMaxWindow(MaxZstdWindow))
		if err != nil {
			return nil, nil, err
		}
		return zr, zr.Close, nil
	}
	return r, func() {}, nil
}
