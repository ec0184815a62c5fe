package stages

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/obz-dev/obz/runner"
	"github.com/obz-dev/obz/wire"
)

var execSpec = runner.Spec{
	Name:      "exec",
	Family:    runner.FamilyTransform,
	Summary:   "run any program as a stage: payloads on its stdin, NDJSON from its stdout",
	ArgsUsage: "-- CMD [ARG...]",
	Description: `Runs CMD with its ARGs (no shell) as a stage: the program reads bare NDJSON
payloads, one per line, on its stdin and writes NDJSON on its stdout; obz
frames what it writes, counts it, and checks the input edge as every stage
does. obz's own options (-r, --name ...) go before the --.

  - Output events have no parent: which input caused which output is the
    program's business. With --one-to-one the program promises one output
    line per input line, in order (a map): output N gets input N as its
    parent and error events keep their place; more or fewer lines fail.
  - An output line that is not JSON (or not UTF-8, or over --max-line) is an
    error event of kind exec-output with the raw text; its "line" is the
    line number in the program's output.
  - Error events on input are not shown to the program: they are passed on
    as they come, so their order among the program's output is approximate
    (exact with --one-to-one).
  - The program's stderr goes to stderr, each line prefixed with [NAME].
  - The program starts before input is read (one that cannot start fails
    the stage at once) and gets EOF when input ends; obz then passes on the
    rest of its output and waits for it. A non-zero exit status or death by
    a signal fails the stage (exit 1, poison EOF).
  - A program that stops reading early (closes stdin, exits) ends the input
    as obz head does; its exit status still decides.
  - SIGINT/SIGTERM do not reach the program (its own process group): input
    drains, then the program gets EOF. One that then does not exit keeps
    the stage waiting: a second signal ends obz at once.
  - Input reaches the program as soon as it arrives, and its answers are
    passed on as soon as it writes them, even while no input comes (tail -f
    works both ways).`,
	Examples: `obz read testdata/orders.ndjson | obz exec -r -- python3 -c 'import sys,json; [print(json.dumps({**json.loads(l), "x": 1})) for l in sys.stdin]'
obz read testdata/orders.ndjson | obz exec -r -- awk '/"country":"DE"/'
obz gen --count 1000 | obz exec -- jq -c '{id, amount}' | obz write amounts.ndjson`,
	ExitStatus: `1    also when the program cannot be started, exits with a non-zero status
     or is killed by a signal (the message says which)`,
	Flags: []runner.Flag{
		{Name: "one-to-one", Usage: "the program answers each input line with exactly one output line, in order: outputs get their input as parent and error events keep their place (checked)", Default: false},
	},
	New: newExec,
}

const execFeedLimit = 256 << 10 // input buffered for the program before Event waits

type execStage struct {
	argv     []string
	oneToOne bool
	cmd      *exec.Cmd

	// Event appends to pending; the feeder goroutine writes it to stdin.
	stdin   *os.File
	mu      sync.Mutex
	pending []byte
	writing bool
	closing bool
	feedErr error         // the program closed its stdin (or exited)
	wake    chan struct{} // pending has data, or closing is set
	room    chan struct{} // the feeder took pending, or finished a write
	fed     uint64

	out     chan *execBatch // the program's output; closed at its end
	ready   chan struct{}   // signalled after each batch sent on out, and at its end
	free    chan *execBatch
	quit    chan struct{} // closed by Abort
	readErr error         // set before out is closed
	exited  chan struct{} // closed when Wait returned waitErr
	waitErr error
	stderr  *prefixWriter

	queue  []execPending // --one-to-one: events given and not answered, error events behind them
	parent wire.Frame

	started, done bool
}

// execPending is an event given to the program (--one-to-one), or an error
// event waiting for the answers to the events before it.
type execPending struct {
	ref   wire.Ref
	errEv *wire.Frame
}

// execBatch is a run of output lines; their bytes are in arena.
type execBatch struct {
	lines []execLine
	arena []byte
}

type execLine struct {
	span, raw [2]int // payload and raw text in arena, or -1
	err       *wire.ErrorInfo
}

func newExec(o runner.Options) (runner.Stage, error) {
	if len(o.Args()) == 0 {
		return nil, runner.Usagef("exec needs a program to run: obz exec -- CMD [ARG...]")
	}
	return &execStage{argv: o.Args(), oneToOne: o.Bool("one-to-one")}, nil
}

// Prepare starts the program, with goroutines that feed it, read its output
// and wait for it.
func (e *execStage) Prepare(_ context.Context, em *runner.Emitter) error {
	inR, inW, err := os.Pipe()
	if err != nil {
		return err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return err
	}
	e.stderr = &prefixWriter{w: em.Stderr(), prefix: "[" + em.Name() + "] "}
	cmd := exec.Command(e.argv[0], e.argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, e.stderr
	// Its own process group: Ctrl-C on a terminal stops obz, which drains,
	// instead of killing the program in mid-stream.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = 5 * time.Second // a background child holding stderr
	// Descriptors obz inherited without close-on-exec (under obz flow its
	// edges and status channel) would go to the program too: a program
	// holding them keeps obz flow waiting after the stage is gone.
	closeOnExecAll()
	err = cmd.Start()
	inR.Close()
	outW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		return fmt.Errorf("cannot start program %s: %w", e.argv[0], err)
	}
	e.cmd, e.stdin, e.started = cmd, inW, true
	e.wake, e.room = make(chan struct{}, 1), make(chan struct{}, 1)
	// out holds every batch there is (free's), so the reader never blocks
	// on it, and it signals ready after each send: Woken never misses one.
	e.out, e.free, e.ready = make(chan *execBatch, 4), make(chan *execBatch, 4), make(chan struct{}, 1)
	for range cap(e.free) {
		e.free <- &execBatch{arena: make([]byte, 0, 64<<10)}
	}
	e.quit, e.exited = make(chan struct{}), make(chan struct{})
	go e.feed()
	go e.read(outR, em.MaxLine())
	go func() {
		e.waitErr = cmd.Wait()
		close(e.exited)
	}()
	return nil
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
		e.writing = len(buf) > 0 && !failed
		e.mu.Unlock()
		execNotify(e.room)
		if len(buf) > 0 && !failed {
			_, err := e.stdin.Write(buf)
			e.mu.Lock()
			e.writing, e.feedErr = false, err
			e.mu.Unlock()
			execNotify(e.room)
		}
		if closing {
			e.stdin.Close()
			return
		}
	}
}

func (e *execStage) closeInput() {
	e.mu.Lock()
	e.closing = true
	e.mu.Unlock()
	execNotify(e.wake)
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

// emitBatch passes on a batch of output: without parent, or with
// --one-to-one each line with its input event as parent and the error events
// queued behind that event after it.
func (e *execStage) emitBatch(b *execBatch, em *runner.Emitter) error {
	defer func() { e.free <- b }()
	cur := em.Parent()
	defer func() { em.SetParent(cur) }()
	for i := range b.lines {
		l := &b.lines[i]
		em.SetParent(nil)
		if e.oneToOne {
			if err := e.queuedErrors(em); err != nil {
				return err
			}
			if len(e.queue) == 0 {
				return fmt.Errorf("program %s wrote more lines than it was given (--one-to-one)", e.argv[0])
			}
			e.parent = wire.Frame{Writer: e.queue[0].ref.Writer, Seq: e.queue[0].ref.Seq}
			e.queue = e.queue[1:]
			em.SetParent(&e.parent)
		}
		payload, err := slice(b.arena, l.span), error(nil)
		if l.err == nil {
			err = em.Emit(payload)
		} else {
			info := *l.err
			info.Raw = slice(b.arena, l.raw)
			if info.Stage == "" {
				info.Stage = em.Name()
			}
			err = em.EmitError(&info, payload)
		}
		if err != nil {
			return err
		}
	}
	return e.queuedErrors(em)
}

// ErrorEvent passes an error event on without showing it to the program:
// at once, or with --one-to-one once the events before it are answered.
func (e *execStage) ErrorEvent(ev *wire.Frame, em *runner.Emitter) error {
	if !e.oneToOne || len(e.queue) == 0 {
		return em.EmitError(ev.Err, ev.Payload)
	}
	f := &wire.Frame{Kind: wire.KindError, Writer: ev.Writer, Seq: ev.Seq, Payload: bytes.Clone(ev.Payload)}
	if ev.Err != nil {
		info := *ev.Err
		info.Raw = bytes.Clone(info.Raw)
		f.Err = &info
	}
	e.queue = append(e.queue, execPending{errEv: f})
	return nil
}

// queuedErrors passes on the error events at the head of the queue.
func (e *execStage) queuedErrors(em *runner.Emitter) error {
	for len(e.queue) > 0 && e.queue[0].errEv != nil {
		f := e.queue[0].errEv
		e.queue = e.queue[1:]
		em.SetParent(f)
		if f.Writer == runner.LocalErrorWriter {
			em.SetParent(nil)
		}
		if err := em.EmitError(f.Err, f.Payload); err != nil {
			return err
		}
	}
	return nil
}

func (e *execStage) Event(ev *wire.Frame, em *runner.Emitter) error {
	for {
		e.mu.Lock()
		full, failed := len(e.pending) >= execFeedLimit, e.feedErr != nil
		if !full && !failed {
			e.pending = append(append(e.pending, ev.Payload...), '\n')
		}
		e.mu.Unlock()
		if failed {
			em.Warnf("%s stopped reading its input (%d events were given to it); the rest of the input was not read", e.argv[0], e.fed)
			return runner.ErrStop
		}
		if !full {
			break
		}
		if err := e.wait(em, e.room, nil); err != nil {
			return err
		}
	}
	e.fed++
	if e.oneToOne {
		e.queue = append(e.queue, execPending{ref: wire.Ref{Writer: ev.Writer, Seq: ev.Seq}})
	}
	execNotify(e.wake)
	for e.out != nil && len(e.out) > 0 { // pass on the output that is there
		if err := e.wait(em, nil, nil); err != nil {
			return err
		}
	}
	return nil
}

// wait passes on the next batch of output, or returns when one of the
// channels fires. It ends the output (out = nil) at its end.
func (e *execStage) wait(em *runner.Emitter, c1, c2 <-chan struct{}) error {
	select {
	case b, ok := <-e.out:
		if !ok {
			e.out = nil
			return nil
		}
		return e.emitBatch(b, em)
	case <-c1:
	case <-c2:
	}
	return nil
}

// Wake fires when the program has written output: the runner then calls
// Woken even while no input arrives, so answers are never held back.
func (e *execStage) Wake() <-chan struct{} { return e.ready }

// Woken passes on the output that is there, without waiting for more.
func (e *execStage) Woken(em *runner.Emitter) error {
	for e.out != nil && !e.done {
		select {
		case b, ok := <-e.out:
			if !ok {
				e.out = nil
				return nil
			}
			if err := e.emitBatch(b, em); err != nil {
				return err
			}
		default:
			return nil
		}
	}
	return nil
}

// Finish closes the program's stdin, passes on the rest of its output and
// checks how it exited.
func (e *execStage) Finish(em *runner.Emitter, _ wire.EOFKind) error {
	e.closeInput()
	for e.out != nil {
		if err := e.wait(em, nil, nil); err != nil {
			return err
		}
	}
	<-e.exited
	e.done = true
	e.stderr.flush()
	var ee *exec.ExitError
	switch err := e.waitErr; {
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return fmt.Errorf("program %s was killed by signal %d (%v)", e.argv[0], int(ws.Signal()), ws.Signal())
		}
		return fmt.Errorf("program %s exited with status %d", e.argv[0], ee.ExitCode())
	case err != nil && !errors.Is(err, exec.ErrWaitDelay):
		return fmt.Errorf("program %s: %w", e.argv[0], err)
	case e.readErr != nil:
		return e.readErr
	}
	if err := e.queuedErrors(em); err != nil {
		return err
	}
	if n := len(e.queue); n > 0 {
		return fmt.Errorf("program %s left %d input events without an answer (--one-to-one)", e.argv[0], n)
	}
	return nil
}

// kill signals the program's process group: the program and its children.
func (e *execStage) kill(sig syscall.Signal) {
	if err := syscall.Kill(-e.cmd.Process.Pid, sig); err != nil {
		e.cmd.Process.Signal(sig)
	}
}

// Abort kills the program: the input broke, downstream is gone, or the
// stage failed.
func (e *execStage) Abort() {
	if !e.started || e.done {
		return
	}
	e.done = true
	e.kill(syscall.SIGKILL)
	close(e.quit)
	e.closeInput()
	<-e.exited
	e.stderr.flush()
}

// prefixWriter copies the program's stderr line by line, each line
// prefixed. Only os/exec's copying goroutine writes to it.
type prefixWriter struct {
	w      io.Writer
	prefix string
	line   []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	n := len(b)
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			p.line = append(p.line, b...)
			break
		}
		out := append(append([]byte(p.prefix), p.line...), b[:i+1]...)
		p.w.Write(out) // best effort: the program must not fail on our stderr
		p.line, b = p.line[:0], b[i+1:]
	}
	return n, nil
}

// flush writes a last line that had no newline (after Wait).
func (p *prefixWriter) flush() {
	if len(p.line) > 0 {
		p.Write([]byte{'\n'})
	}
}

// closeOnExecUpTo marks every descriptor above stderr close-on-exec, up to
// the limit on open files: the portable way, for when the open ones cannot
// be listed.
func closeOnExecUpTo() {
	limit := uint64(1 << 16)
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) == nil && rl.Cur < limit {
		limit = rl.Cur
	}
	for fd := 3; uint64(fd) < limit; fd++ {
		syscall.CloseOnExec(fd)
	}
}

// slice returns the span s of a, or nil for the span {-1, -1}.
func slice(a []byte, s [2]int) []byte {
	if s[0] < 0 {
		return nil
	}
	return a[s[0]:s[1]:s[1]]
}
