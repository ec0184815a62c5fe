package stages

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/klauspost/compress/zstd"
)

// errStopped ends an input that waits for more (stdin, a followed file)
// when the stage is asked to stop.
var errStopped = errors.New("stopped")

// endReader is the reader under a format parser. It remembers how many
// bytes it delivered, the last of them, and the error that ended the input
// if it was not io.EOF: a stop (errStopped, or any error once ctx is done)
// or a failure (a corrupt compressed file, an I/O error). After such an
// end the parser's unfinished last line or row was cut short: it is no
// event, and cut tells when the parser has reached it.
type endReader struct {
	ctx       context.Context
	r         io.Reader
	delivered int64
	last      byte
	err       error
}

func newEndReader(ctx context.Context, r io.Reader) *endReader {
	return &endReader{ctx: ctx, r: r, last: '\n'}
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

// cut reports whether the input ended early and the parser, having
// consumed consumed bytes, is at that input's unfinished end.
func (e *endReader) cut(consumed int64) bool {
	return e.err != nil && consumed == e.delivered && e.last != '\n'
}

// stopped reports whether the input ended because the stage is stopping.
func (e *endReader) stopped() bool {
	return e.err != nil && (errors.Is(e.err, errStopped) || e.ctx.Err() != nil)
}

// end is what a parser returns once the input ended early: nil for a stop
// (the runner writes a stopped EOF), the failure otherwise.
func (e *endReader) end(name string) error {
	if e.err == nil || e.stopped() {
		return nil
	}
	return fmt.Errorf("reading %s: %w", name, e.err)
}

// stdinPump reads stdin in its own goroutine so that a stop signal ends a
// read that would otherwise block for ever (`tail -f log | obz read -`),
// and flushes the stage's output before it waits for more input.
type stdinPump struct {
	ctx   context.Context
	flush func()
	full  chan pumpChunk
	free  chan []byte
	done  chan struct{}
	cur   pumpChunk
	off   int
	err   error
}

type pumpChunk struct {
	buf []byte
	n   int
	err error
}

const pumpBuffer = 64 << 10

func newStdinPump(ctx context.Context, r io.Reader, flush func()) *stdinPump {
	p := &stdinPump{ctx: ctx, flush: flush, full: make(chan pumpChunk, 1), free: make(chan []byte, 2), done: make(chan struct{})}
	p.free <- make([]byte, pumpBuffer)
	p.free <- make([]byte, pumpBuffer)
	go func() {
		for {
			var buf []byte
			select {
			case buf = <-p.free:
			case <-p.done:
				return
			}
			n, err := r.Read(buf)
			select {
			case p.full <- pumpChunk{buf, n, err}:
			case <-p.done:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return p
}

func (p *stdinPump) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	for p.off >= p.cur.n {
		if p.err != nil {
			return 0, p.err
		}
		if p.cur.buf != nil {
			p.free <- p.cur.buf
			p.cur = pumpChunk{}
		}
		var c pumpChunk
		select {
		case c = <-p.full:
		default:
			p.flush() // about to wait: let downstream see what we have
			select {
			case c = <-p.full:
			case <-p.ctx.Done():
				p.err = errStopped
				return 0, p.err
			}
		}
		p.cur, p.off, p.err = c, 0, c.err
	}
	n := copy(b, p.cur.buf[p.off:p.cur.n])
	p.off += n
	return n, nil
}

// Close stops the pump's goroutine, unless it is blocked reading stdin:
// that one ends with the process.
func (p *stdinPump) Close() error {
	close(p.done)
	return nil
}

// Compressed input.
var (
	gzipMagic = []byte{0x1f, 0x8b}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// maxZstdWindow bounds the memory a zstd stream may make the decoder hold
// (its window): 128 MiB, the limit of the zstd tool itself unless told
// --memory. A frame asking for more is refused, not obeyed.
const maxZstdWindow = 128 << 20

// compressionOf returns "gzip" or "zstd" for a name ending in .gz or .zst,
// and the name without that extension (whose own extension gives the
// format: orders.csv.gz is CSV).
func compressionOf(name string) (kind, inner string) {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".gz", ".gzip":
		return "gzip", strings.TrimSuffix(name, filepath.Ext(name))
	case ".zst", ".zstd":
		return "zstd", strings.TrimSuffix(name, filepath.Ext(name))
	}
	return "", name
}

// sniff reads the first bytes of r, as many as it takes to tell whether
// they are a gzip or zstd magic number, never waiting for more once they
// cannot be (a user typing on stdin gets each line at once). It returns the
// kind ("gzip", "zstd" or "") and a reader that still yields every byte and
// then r's error.
func sniff(r io.Reader) (string, io.Reader) {
	head := make([]byte, 0, len(zstdMagic))
	for empty := 0; ; {
		kind, undecided := sniffKind(head)
		if !undecided {
			return kind, io.MultiReader(bytes.NewReader(head), r)
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
			kind, undecided := sniffKind(head)
			if undecided {
				kind = "" // too short for a magic number
			}
			return kind, io.MultiReader(bytes.NewReader(head), &errReader{err})
		}
	}
}

// sniffKind says which magic head is, or that more bytes are needed.
func sniffKind(head []byte) (kind string, undecided bool) {
	for _, m := range []struct {
		kind  string
		magic []byte
	}{{"gzip", gzipMagic}, {"zstd", zstdMagic}} {
		n := min(len(head), len(m.magic))
		if bytes.Equal(head[:n], m.magic[:n]) {
			if n == len(m.magic) {
				return m.kind, false
			}
			undecided = true
		}
	}
	return "", undecided
}

// errReader returns err, or io.EOF if err is nil.
type errReader struct{ err error }

func (e *errReader) Read([]byte) (int, error) {
	if e.err == nil {
		return 0, io.EOF
	}
	return 0, e.err
}

// readDecompress wraps r in a decoder of the given kind ("" returns r). The
// returned func releases the decoder: always call it.
func readDecompress(kind string, r io.Reader) (io.Reader, func(), error) {
	switch kind {
	case "gzip":
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, nil, err
		}
		return zr, func() { zr.Close() }, nil
	case "zstd":
		zr, err := zstd.NewReader(r, zstd.WithDecoderMaxWindow(maxZstdWindow))
		if err != nil {
			return nil, nil, err
		}
		return zr, zr.Close, nil
	}
	return r, func() {}, nil
}
