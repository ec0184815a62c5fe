package stages

import (
	"bufio"
	"context"
	"errors"
	"io"
)

// errStopped ends an input that waits for more (stdin, a followed file)
// when the stage is asked to stop.
var errStopped = errors.New("stopped")

// pump reads an input that may block (stdin, a FIFO, a pipe, a device) in
// its own goroutine so that a stop signal ends a read that would otherwise
// block for ever (`tail -f log | obz read -`), and flushes the stage's
// output before it waits for more input. A stop also ends an input that
// never pauses (`obz read /dev/zero`): Read looks at the context before
// each chunk.
type pump struct {
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

func newPump(ctx context.Context, r io.Reader, flush func()) *pump {
	p := &pump{ctx: ctx, flush: flush, full: make(chan pumpChunk, 1), free: make(chan []byte, 2), done: make(chan struct{})}
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

func (p *pump) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	for p.off >= p.cur.n {
		if p.err != nil {
			return 0, p.err
		}
		if p.ctx.Err() != nil {
			p.err = errStopped
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

// Close stops the pump's goroutine, unless it is blocked reading: that
// one ends when its file is closed, or with the process (stdin).
func (p *pump) Close() error {
	close(p.done)
	return nil
}

// stopReader is a regular file's reader that ends with errStopped once
// the stage is asked to stop: a long file ends at the next read, not at
// its end.
type stopReader struct {
	ctx context.Context
	r   io.Reader
}

func (s stopReader) Read(b []byte) (int, error) {
	if s.ctx.Err() != nil {
		return 0, errStopped
	}
	return s.r.Read(b)
}

// emptyInput reports whether *r has no bytes at all; *r is replaced by a
// reader that still yields every byte.
func emptyInput(r *io.Reader) bool {
	br := bufio.NewReaderSize(*r, 16)
	*r = br
	_, err := br.Peek(1)
	return err == io.EOF
}
