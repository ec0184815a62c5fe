package main

import (
	"io"
	"time"
)

// readAhead reads r ahead on a goroutine of its own, so that its owner can
// tell a Read that would wait for r from one that would not: a Read that
// finds nothing read ahead, and still nothing after idleAfter, calls idle
// before it waits on (obz nats pub publishes the frames it holds there,
// instead of holding a slow producer's frames until 256 KiB of them are
// in). An error from idle is returned by that Read and every Read after.
type readAhead struct {
	chunks chan chunk
	free   chan []byte
	idle   func() error
	cur    []byte // what is left of the chunk being read
	buf    []byte // the chunk's buffer, given back when cur is empty
	err    error  // sticky: r's error after the last chunk, or idle's
}

type chunk struct {
	b   []byte
	err error
}

// idleAfter is how long a Read waits for r before it calls idle.
const idleAfter = 25 * time.Millisecond

// readAheadBuffers is how many chunks of r may be read ahead.
const readAheadBuffers = 4

func newReadAhead(r io.Reader, size int, idle func() error) *readAhead {
	ra := &readAhead{chunks: make(chan chunk, readAheadBuffers), free: make(chan []byte, readAheadBuffers), idle: idle}
	for range readAheadBuffers {
		ra.free <- make([]byte, size)
	}
	go func() {
		for {
			buf := <-ra.free
			n, err := r.Read(buf)
			if n == 0 && err == nil {
				ra.free <- buf
				continue
			}
			ra.chunks <- chunk{buf[:n], err}
			if err != nil {
				return
			}
		}
	}()
	return ra
}

func (ra *readAhead) Read(p []byte) (int, error) {
	for len(ra.cur) == 0 {
		if ra.err != nil {
			return 0, ra.err
		}
		if ra.buf != nil {
			ra.free <- ra.buf[:cap(ra.buf)]
			ra.buf = nil
		}
		var c chunk
		select {
		case c = <-ra.chunks:
		default:
			// Not at once: a producer that keeps up (a file, a fast
			// stage) is sometimes a moment behind, and its frames
			// would go in messages cut at moments that differ from run
			// to run (a publisher started again finds its messages in
			// the stream by their ids, made of their first and last
			// frames).
			t := time.NewTimer(idleAfter)
			select {
			case c = <-ra.chunks:
				t.Stop()
			case <-t.C:
				if err := ra.idle(); err != nil {
					ra.err = err
					return 0, err
				}
				c = <-ra.chunks
			}
		}
		ra.cur, ra.buf = c.b, c.b
		if c.err != nil {
			ra.err, ra.buf = c.err, nil // the goroutine has ended
		}
	}
	n := copy(p, ra.cur)
	ra.cur = ra.cur[n:]
	return n, nil
}
