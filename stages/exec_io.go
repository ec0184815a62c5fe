package stages

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/obz-dev/obz/runner"
	"github.com/obz-dev/obz/wire"
)

// A program's input and output: the feeder writes what Event buffered to
// its stdin, the reader turns its stdout into batches of lines.

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

// execChild is one program of the stage (one of its replicas) and the
// goroutines that feed it, read its output and copy its stderr.
type execChild struct {
	e    *execStage
	n    int // replicas: its number, from 1
	proc *execProc

	// Event appends to pending; the feeder goroutine writes it to stdin.
	stdin   *os.File
	mu      sync.Mutex
	pending []byte
	closing bool
	stopped bool          // a stop signal came: the program gets no more input
	feedErr error         // the program closed its stdin (or exited)
	wake    chan struct{} // pending has data, or closing is set
	room    chan struct{} // the feeder took pending, or finished a write
	fed     uint64

	out      chan *execBatch // the program's output; closed at its end
	free     chan *execBatch
	quit     chan struct{} // closed by closeOutput: the output is no longer read
	quitOnce sync.Once
	stdout   *os.File
	readErr  error         // set before out is closed
	outDone  chan struct{} // closed when read returns

	stderr     *prefixWriter
	stderrR    *os.File
	stderrDone chan struct{}

	// The stage's goroutine's: batches collected from out and not yet
	// passed on (got[0].lines[pos:] first), their lines, the events given
	// and not answered (--one-to-one), and whether out is closed.
	got      []*execBatch
	pos      int
	buffered int
	owed     int
	passed   int64 // its lines passed on
	eof      bool
}

// start starts the program.
func (k *execChild) start() error {
	proc, stdin, stdout, stderr, err := startProgram(k.e.argv)
	if err != nil {
		return err
	}
	k.proc, k.stdin, k.stdout, k.stderrR = proc, stdin, stdout, stderr
	return nil
}

// abandon ends a program started when another could not start.
func (k *execChild) abandon() {
	k.stdin.Close()
	k.stdout.Close()
	k.stderrR.Close()
	k.proc.end()
	<-k.proc.ended
}

// run starts the goroutines that feed the program, read its output and
// copy its stderr.
func (k *execChild) run(stderr io.Writer, prefix string, maxLine int) {
	k.stderr = &prefixWriter{w: stderr, prefix: prefix}
	k.wake, k.room = make(chan struct{}, 1), make(chan struct{}, 1)
	// free keeps the batches passed on, up to as many as are held while
	// the answers of the other programs' runs are awaited (with a
	// program that writes 8 KiB at a time, 8 batches for a run of 256
	// events of 256 bytes), so that the reader seldom makes a new one.
	k.out, k.free = make(chan *execBatch, 16), make(chan *execBatch, 64)
	for range 4 {
		k.free <- &execBatch{arena: make([]byte, 0, 64<<10)}
	}
	k.quit, k.outDone, k.stderrDone = make(chan struct{}), make(chan struct{}), make(chan struct{})
	go k.feed()
	go k.read(k.stdout, maxLine)
	go copyStderr(k.stderrR, k.stderr, k.stderrDone)
}

// feed writes what Event buffered to the program, double-buffered: Event
// appends to pending while the previous buffer is being written.
func (k *execChild) feed() {
	var buf []byte
	for range k.wake {
		k.mu.Lock()
		buf, k.pending = k.pending, buf[:0]
		closing, failed := k.closing, k.feedErr != nil
		k.mu.Unlock()
		execNotify(k.room)
		if len(buf) > 0 && !failed {
			err := k.write(buf)
			k.mu.Lock()
			k.feedErr = err
			k.mu.Unlock()
			execNotify(k.room)
		}
		if closing {
			k.stdin.Close()
			return
		}
	}
}

// write writes buf to the program. A stop cuts a write short (stop sets a
// deadline in the past), but never in the middle of a line.
func (k *execChild) write(buf []byte) error {
	n, err := k.stdin.Write(buf)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		return err
	}
	if n == 0 || buf[n-1] == '\n' {
		return nil
	}
	k.stdin.SetWriteDeadline(time.Time{})
	_, err = k.stdin.Write(buf[n : n+bytes.IndexByte(buf[n:], '\n')+1])
	return err
}

// closeInput has the feeder close the program's stdin once it has written
// what is pending.
func (k *execChild) closeInput() {
	k.mu.Lock()
	k.closing = true
	k.mu.Unlock()
	execNotify(k.wake)
}

// stop gives the program no more input: what is pending is dropped, a
// write in progress ends with its line, and stdin is closed.
func (k *execChild) stop() {
	k.mu.Lock()
	if k.stopped {
		k.mu.Unlock()
		return
	}
	k.stopped, k.closing, k.pending = true, true, k.pending[:0]
	k.mu.Unlock()
	k.stdin.SetWriteDeadline(time.Now())
	execNotify(k.wake)
}

// read turns the program's output into batches, handing over what it has
// before each read that may block.
func (k *execChild) read(r *os.File, maxLine int) {
	defer execNotify(k.e.ready)
	defer close(k.outDone)
	defer close(k.out)
	defer r.Close()
	rd := wire.NewReader(r, maxLine)
	var b *execBatch
	next := func(send bool) bool {
		if send {
			select {
			case k.out <- b:
				execNotify(k.e.ready)
			case <-k.quit:
				return false
			}
		}
		// Never wait for a free batch: the stage's goroutine may hold
		// this program's answers until another program answers (input
		// order), and that program may be waiting for input.
		select {
		case b = <-k.free:
			b.lines, b.arena = b.lines[:0], b.arena[:0]
		default:
			b = &execBatch{arena: make([]byte, 0, 64<<10)}
		}
		return true
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
			case <-k.quit: // closeOutput gave up on the output
				return
			default:
			}
			if err != io.EOF {
				k.readErr = fmt.Errorf("reading the output of %s: %w", k.label(), err)
			}
			if len(b.lines) > 0 {
				select {
				case k.out <- b:
					execNotify(k.e.ready)
				case <-k.quit:
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
func (k *execChild) closeOutput() {
	k.quitOnce.Do(func() {
		close(k.quit)
		k.stdout.Close()
	})
}

// giveUpOutput stops reading the program's output execGrace after its
// process group is gone: what still holds its stdout left the group, and
// its output is not waited for.
func (k *execChild) giveUpOutput() {
	select {
	case <-k.proc.ended:
	case <-k.outDone:
		return
	}
	t := time.NewTimer(execGrace)
	defer t.Stop()
	select {
	case <-t.C:
		k.closeOutput()
	case <-k.outDone:
	}
}

// slice returns the span s of a, or nil for the span {-1, -1}.
func slice(a []byte, s [2]int) []byte {
	if s[0] < 0 {
		return nil
	}
	return a[s[0]:s[1]:s[1]]
}
