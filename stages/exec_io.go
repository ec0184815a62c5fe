package stages

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/obz-dev/obz/runner"
	"github.com/obz-dev/obz/wire"
)

// The program's input and output: the feeder writes what Event buffered
// to its stdin, the reader turns its stdout into batches of lines.

// execBatch is a run of output lines; their bytes are in arena.
type execBatch struct {
	lines []execLine
	arena []byte
}

type execLine struct {
	span, raw [2]int // payload and raw text in arena, or -1
	err       *wire.ErrorInfo
}

func execNotify(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// feed writes what Event buffered to the program, double-buffered: Event
// appends to pending while the previous buffer is being written.
func (e *execStage) feed() {
	var buf []byte
	for range e.wake {
		e.mu.Lock()
		buf, e.pending = e.pending, buf[:0]
		closing, failed := e.closing, e.feedErr != nil
		e.mu.Unlock()
		execNotify(e.room)
		if len(buf) > 0 && !failed {
			err := e.write(buf)
			e.mu.Lock()
			e.feedErr = err
			e.mu.Unlock()
			execNotify(e.room)
		}
		if closing {
			e.stdin.Close()
			return
		}
	}
}

// write writes buf to the program. A stop cuts a write short (stop sets a
// deadline in the past), but never in the middle of a line.
func (e *execStage) write(buf []byte) error {
	n, err := e.stdin.Write(buf)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		return err
	}
	if n == 0 || buf[n-1] == '\n' {
		return nil
	}
	e.stdin.SetWriteDeadline(time.Time{})
	_, err = e.stdin.Write(buf[n : n+bytes.IndexByte(buf[n:], '\n')+1])
	return err
}

// closeInput has the feeder close the program's stdin once it has written
// what is pending.
func (e *execStage) closeInput() {
	e.mu.Lock()
	e.closing = true
	e.mu.Unlock()
	execNotify(e.wake)
}

// stop gives the program no more input: what is pending is dropped, a
// write in progress ends with its line, and stdin is closed.
func (e *execStage) stop() {
	e.mu.Lock()
	if e.stopped {
		e.mu.Unlock()
		return
	}
	e.stopped, e.closing, e.pending = true, true, e.pending[:0]
	e.mu.Unlock()
	close(e.stopC)
	e.stdin.SetWriteDeadline(time.Now())
	execNotify(e.wake)
}

func (e *execStage) isStopped() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.stopped
}

// read turns the program's output into batches, handing over what it has
// before each read that may block.
func (e *execStage) read(r *os.File, maxLine int) {
	defer execNotify(e.ready)
	defer close(e.out)
	defer r.Close()
	rd := wire.NewReader(r, maxLine)
	var b *execBatch
	next := func(send bool) bool {
		if send {
			select {
			case e.out <- b:
				execNotify(e.ready)
			case <-e.quit:
				return false
			}
		}
		select {
		case b = <-e.free:
			b.lines, b.arena = b.lines[:0], b.arena[:0]
			return true
		case <-e.quit:
			return false
		}
	}
	keep := func(p []byte) [2]int {
		if p == nil {
			return [2]int{-1, -1}
		}
		b.arena = append(b.arena, p...)
		return [2]int{len(b.arena) - len(p), len(b.arena)}
	}
	ok := next(false)
	rd.BeforeFill = func() {
		if ok && len(b.lines) > 0 {
			ok = next(true)
		}
	}
	var f wire.Frame
	for ok {
		err := rd.Next(&f)
		if !ok {
			return
		}
		var le *wire.LineError
		switch {
		case err == nil && f.Kind == wire.KindData:
			b.lines = append(b.lines, execLine{span: keep(f.Payload), raw: [2]int{-1, -1}})
		case err == nil && f.Kind == wire.KindError && f.Err != nil:
			info := *f.Err // the program is an obz stage: pass its error events on
			b.lines = append(b.lines, execLine{span: keep(f.Payload), raw: keep(info.Raw), err: &info})
		case err == nil:
			// Control frames of an obz program, such as its EOF: the edge is ours.
		case errors.As(err, &le):
			info := &wire.ErrorInfo{Kind: "exec-output", Msg: "program output: " + le.Msg, Line: le.Line}
			b.lines = append(b.lines, execLine{span: [2]int{-1, -1}, raw: keep(le.Raw), err: info})
		default:
			select {
			case <-e.quit: // closeOutput gave up on the output
				return
			default:
			}
			if err != io.EOF {
				e.readErr = fmt.Errorf("reading the output of %s: %w", e.argv[0], err)
			}
			if len(b.lines) > 0 {
				select {
				case e.out <- b:
					execNotify(e.ready)
				case <-e.quit:
				}
			}
			return
		}
		if len(b.lines) >= runner.BatchFrames || len(b.arena) >= 64<<10 {
			ok = next(true)
		}
	}
}

// closeOutput stops reading the program's output.
func (e *execStage) closeOutput() {
	e.quitOnce.Do(func() {
		close(e.quit)
		e.stdout.Close()
	})
}

// slice returns the span s of a, or nil for the span {-1, -1}.
func slice(a []byte, s [2]int) []byte {
	if s[0] < 0 {
		return nil
	}
	return a[s[0]:s[1]:s[1]]
}
