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

	"github.com/obz-dev/obz/wire"
)

var execSpec = Spec{
	Name:      "exec",
	Family:    FamilyTransform,
	Summary:   "run any program as a stage: payloads on its stdin, NDJSON from its stdout",
	ArgsUsage: "-- CMD [ARG...]",
	Description: `Runs CMD with its ARGs (no shell) and makes it a stage: the program reads
bare NDJSON payloads, one per line, on its stdin and writes NDJSON on its
stdout; obz frames what it writes, counts it, and checks the input edge as
every stage does. Put obz's own options (-r, --name ...) before the --:
everything after it goes to the program.

  - Output events have no parent: which input line caused which output line
    is the program's business, so lineage stops here rather than guess.
    With --one-to-one the program promises exactly one output line per
    input line, in order (a map): output N gets input N as its parent, and
    error events keep their place in the stream. A program that writes more
    or fewer lines fails the stage.
  - An output line that is not valid JSON (or not UTF-8, or over --max-line)
    becomes an error event of kind exec-output holding the raw text; its
    "line" is the line number in the program's output, not in the input.
  - Error events arriving on input are never shown to the program: they are
    passed on downstream as they come, so their order relative to the
    program's output is approximate (exact with --one-to-one).
  - The program's stderr is copied to obz's stderr, each line prefixed with
    [NAME] (the stage name, see --name).
  - The program is started before any input is read; one that cannot be
    started fails the stage at once. It gets EOF on its stdin when the input
    ends; obz then reads the rest of its output and waits for it. A non-zero
    exit status, or death by a signal, fails the stage (exit 1, poison EOF).
  - A program that stops reading its input early (closes stdin or exits)
    ends the input as obz head does: upstream is told to stop; its exit
    status still decides success.
  - On SIGINT/SIGTERM the program is not signalled (it runs in its own
    process group): input drains as usual, then the program gets EOF. If it
    makes no progress for 10s after the stop, it gets SIGTERM, then SIGKILL.
  - Input is handed to the program as soon as it arrives, so tail -f style
    streams reach it at once. Output is passed on as it is read; when input
    goes idle, obz waits for the program's answer until output arrives or the
    program has been silent for 20ms after taking all its input (at most 1s):
    an answer slower than that is passed on with the next input or at EOF.`,
	Examples: `obz read testdata/orders.ndjson | obz exec -r -- python3 -c 'import sys,json; [print(json.dumps({**json.loads(l), "x": 1})) for l in sys.stdin]'
obz read testdata/orders.ndjson | obz exec -r -- awk '/"country":"DE"/'
obz gen --count 1000 | obz exec -- jq -c '{id, amount}' | obz write amounts.ndjson`,
	ExitStatus: `1    also when the program cannot be started, exits with a non-zero status
     or is killed by a signal (the message says which)`,
	Flags: []Flag{
		{Name: "one-to-one", Usage: "the program answers each input line with exactly one output line, in order: outputs get their input as parent and error events keep their place (checked)", Default: false},
	},
	New: newExec,
}

const (
	execFeedLimit = 256 << 10             // input buffered for the program before Event waits
	execBatches   = 4                     // output batches in flight from the reader
	execQuiet     = 20 * time.Millisecond // idle: silence that counts as "no answer"
	execIdleMax   = time.Second           // idle: longest wait for an answer
	execStopGrace = 10 * time.Second      // after a stop: time without progress before SIGTERM
	execWaitDelay = 5 * time.Second       // output or stderr held open after the program exited
)

type execStage struct {
	argv     []string
	oneToOne bool
	queue    []execPending // --one-to-one: input events not yet answered, and error events behind them
	parent   wire.Frame
	cmd      *exec.Cmd
	ctx      context.Context
	em       *Emitter

	// The feeder goroutine writes pending to the program's stdin.
	stdin   *os.File
	mu      sync.Mutex
	pending []byte
	writing bool
	closing bool
	feedErr error
	wake    chan struct{} // pending has data, or closing is set
	room    chan struct{} // the feeder took pending or finished a write
	fed     uint64        // events given to the program
	answer  bool          // input was fed since the program last answered

	// The reader goroutine turns the program's stdout into batches.
	stdout    *os.File
	out       chan *execBatch // closed when the program's stdout ends
	free      chan *execBatch
	quit      chan struct{} // closed by Abort
	readErr   error         // set before out is closed
	abandoned bool          // stdout closed by us after the program exited

	exited  chan struct{} // closed when Wait returned, with waitErr
	waitErr error
	stderr  *prefixWriter

	stopSeen, exitSeen bool
	stopTimer          <-chan time.Time
	exitTimer          <-chan time.Time
	progress, lastProg uint64
	signalled          int // escalation steps taken after a stop

	busy, started, done bool
	sticky              error // an emit that failed while input was idle
}

// execPending is an input event given to the program (--one-to-one), or an
// error event waiting for the answers to the events before it.
type execPending struct {
	ref   wire.Ref
	errEv *wire.Frame
}

// execBatch is a run of output lines; byte slices point into arena.
type execBatch struct {
	lines []execLine
	arena []byte
}

type execLine struct {
	span  [2]int // payload in arena, or -1
	raw   [2]int // error events: raw text in arena, or -1
	err   *wire.ErrorInfo
	lineN int64
}

func newExec(o Options) (Stage, error) {
	if len(o.Args()) == 0 {
		return nil, Usagef("exec needs a program to run: obz exec -- CMD [ARG...]")
	}
	return &execStage{argv: o.Args(), oneToOne: o.Bool("one-to-one")}, nil
}

// Prepare starts the program and its feeder, reader and waiter goroutines.
func (e *execStage) Prepare(ctx context.Context, em *Emitter) error {
	e.ctx, e.em = ctx, em
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
	// Its own process group: a Ctrl-C on the terminal stops obz, which
	// drains, rather than killing the program in mid-stream.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = execWaitDelay
	err = cmd.Start()
	inR.Close()
	outW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		return fmt.Errorf("cannot start program %s: %w", e.argv[0], err)
	}
	e.cmd, e.stdin, e.stdout, e.started = cmd, inW, outR, true
	e.wake, e.room = make(chan struct{}, 1), make(chan struct{}, 1)
	e.out, e.free = make(chan *execBatch, execBatches), make(chan *execBatch, execBatches)
	for range execBatches {
		e.free <- &execBatch{arena: make([]byte, 0, 64<<10)}
	}
	e.quit, e.exited = make(chan struct{}), make(chan struct{})
	go e.feed()
	go e.read(outR, em.MaxLine())
	go func() {
		e.waitErr = cmd.Wait()
		close(e.exited)
	}()
	prev := em.onFlush
	em.onFlush = func() {
		if prev != nil {
			prev()
		}
		e.idle(em)
	}
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
			e.writing = false
			if err != nil {
				e.feedErr = err // EPIPE: the program closed its stdin or exited
			}
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

func (e *execStage) feederIdle() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.pending) == 0 && !e.writing
}

// read turns the program's output lines into batches for the stage's
// goroutine, handing over what it has before each read that may block.
func (e *execStage) read(r *os.File, maxLine int) {
	defer close(e.out)
	defer r.Close()
	rd := wire.NewReader(r, maxLine)
	var b *execBatch
	get := func() bool {
		select {
		case b = <-e.free:
			b.lines, b.arena = b.lines[:0], b.arena[:0]
			return true
		case <-e.quit:
			return false
		}
	}
	send := func() bool {
		select {
		case e.out <- b:
			return true
		case <-e.quit:
			return false
		}
	}
	ok := get()
	rd.BeforeFill = func() {
		if ok && len(b.lines) > 0 {
			ok = send() && get()
		}
	}
	keep := func(p []byte) [2]int {
		if p == nil {
			return [2]int{-1, -1}
		}
		b.arena = append(b.arena, p...)
		return [2]int{len(b.arena) - len(p), len(b.arena)}
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
			b.lines = append(b.lines, execLine{span: keep(f.Payload), raw: [2]int{-1, -1}, lineN: f.Line})
		case err == nil && f.Kind == wire.KindError && f.Err != nil:
			// The program is itself an obz stage: pass its error events on.
			info := *f.Err
			b.lines = append(b.lines, execLine{span: keep(f.Payload), raw: keep(info.Raw), err: &info, lineN: f.Line})
		case err == nil:
			// Control frames of an obz program (its EOF): the edge is ours.
		case errors.As(err, &le):
			info := &wire.ErrorInfo{Kind: "exec-output", Msg: "program output: " + le.Msg, Line: le.Line}
			b.lines = append(b.lines, execLine{span: [2]int{-1, -1}, raw: keep(le.Raw), err: info, lineN: le.Line})
		default:
			if err != io.EOF {
				e.readErr = fmt.Errorf("reading the output of %s: %w", e.argv[0], err)
			}
			if len(b.lines) > 0 {
				send()
			}
			return
		}
		if len(b.lines) >= batchFrames || len(b.arena) >= 64<<10 {
			ok = send() && get()
		}
	}
}

// emitBatch passes on a batch of the program's output: without parent, or
// with --one-to-one each line with its input event as parent, the error
// events queued behind that input after it.
func (e *execStage) emitBatch(b *execBatch, em *Emitter) error {
	defer func() { e.free <- b }()
	cur := em.cur
	defer func() { em.cur = cur }()
	e.answer = false
	for i := range b.lines {
		l := &b.lines[i]
		em.cur = nil
		if e.oneToOne {
			if err := e.queuedErrors(em); err != nil {
				return err
			}
			if len(e.queue) == 0 {
				return fmt.Errorf("program %s wrote more lines than it was given (--one-to-one)", e.argv[0])
			}
			e.parent = wire.Frame{Writer: e.queue[0].ref.Writer, Seq: e.queue[0].ref.Seq}
			e.queue = e.queue[1:]
			em.cur = &e.parent
		}
		payload := slice(b.arena, l.span)
		var err error
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
// at once, or with --one-to-one once the program has answered the input
// events that came before it.
func (e *execStage) ErrorEvent(ev *wire.Frame, em *Emitter) error {
	if !e.oneToOne || len(e.queue) == 0 {
		return em.EmitError(ev.Err, ev.Payload)
	}
	f := &wire.Frame{Kind: wire.KindError, Writer: ev.Writer, Seq: ev.Seq, Payload: bytes.Clone(ev.Payload)}
	if ev.Err != nil {
		info := *ev.Err
		info.Raw = bytes.Clone(info.Raw)
		f.Err = &info
	}
	e.queue = append(e.queue, execPending{ref: wire.Ref{Writer: ev.Writer, Seq: ev.Seq}, errEv: f})
	return nil
}

// queuedErrors passes on the error events at the head of the queue.
func (e *execStage) queuedErrors(em *Emitter) error {
	for len(e.queue) > 0 && e.queue[0].errEv != nil {
		f := e.queue[0].errEv
		e.queue = e.queue[1:]
		em.cur = f
		if f.Writer == localError {
			em.cur = nil
		}
		if err := em.EmitError(f.Err, f.Payload); err != nil {
			return err
		}
	}
	return nil
}

// drainReady passes on the output that is there, without waiting.
func (e *execStage) drainReady(em *Emitter) error {
	for e.out != nil {
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

func (e *execStage) Event(ev *wire.Frame, em *Emitter) error {
	e.busy = true
	defer func() { e.busy = false }()
	if e.sticky != nil {
		return e.sticky
	}
	for {
		e.mu.Lock()
		if e.feedErr != nil {
			e.mu.Unlock()
			em.Warnf("%s stopped reading its input after %d events; the rest of the input was not read", e.argv[0], e.fed)
			return ErrStop
		}
		if len(e.pending) < execFeedLimit {
			e.pending = append(append(e.pending, ev.Payload...), '\n')
			e.mu.Unlock()
			break
		}
		e.mu.Unlock()
		if err := e.step(em, true); err != nil {
			return err
		}
	}
	e.fed++
	e.answer = true
	if e.oneToOne {
		e.queue = append(e.queue, execPending{ref: wire.Ref{Writer: ev.Writer, Seq: ev.Seq}})
	}
	execNotify(e.wake)
	return e.drainReady(em)
}

// step waits for one thing that needs the stage's goroutine: output to pass
// on, room in the feed buffer (wantRoom), the program's exit, or a timer.
func (e *execStage) step(em *Emitter, wantRoom bool) error {
	var room, stop, exited <-chan struct{}
	if wantRoom {
		room = e.room
	}
	if !e.stopSeen {
		stop = e.ctx.Done()
	}
	if !e.exitSeen {
		exited = e.exited
	}
	select {
	case b, ok := <-e.out:
		e.progress++
		if !ok {
			e.out = nil
			return nil
		}
		return e.emitBatch(b, em)
	case <-room:
		e.progress++
	case <-stop:
		e.stopSeen = true
		e.stopTimer = time.After(execStopGrace)
	case <-exited:
		e.exitSeen = true
		e.exitTimer = time.After(execWaitDelay)
	case <-e.stopTimer:
		e.stopTimer = time.After(execStopGrace)
		if e.progress != e.lastProg {
			e.lastProg = e.progress
			return nil
		}
		sig := syscall.SIGTERM
		if e.signalled++; e.signalled > 1 {
			sig = syscall.SIGKILL
		}
		em.Warnf("%s made no progress for %v after the stop signal: sending it %v", e.argv[0], execStopGrace, sig)
		e.kill(sig)
	case <-e.exitTimer:
		e.exitTimer = nil
		if e.out != nil {
			// A background child of the program holds its stdout open.
			e.abandoned = true
			e.stdout.Close()
		}
	}
	return nil
}

// idle runs when the runner flushes because input went idle: it waits for
// the program's answer to what it was just given (see the description).
func (e *execStage) idle(em *Emitter) {
	if e.busy || e.done || !e.answer || e.sticky != nil || e.out == nil {
		return
	}
	e.busy = true
	defer func() { e.busy = false }()
	e.answer = false
	quiet := time.NewTimer(execQuiet)
	defer quiet.Stop()
	limit := time.After(execIdleMax)
	for {
		select {
		case b, ok := <-e.out:
			if !ok {
				e.out = nil
				return
			}
			e.sticky = e.emitBatch(b, em)
			if e.sticky == nil {
				e.sticky = e.drainReady(em)
			}
			if e.sticky == nil {
				e.sticky = em.Flush()
			}
			return
		case <-e.room:
			quiet.Reset(execQuiet)
		case <-quiet.C:
			if e.feederIdle() {
				return
			}
			quiet.Reset(execQuiet)
		case <-limit:
			return
		case <-e.exited:
			return
		}
	}
}

// Finish closes the program's stdin, passes on the rest of its output and
// checks how it exited.
func (e *execStage) Finish(em *Emitter, _ wire.EOFKind) error {
	e.busy = true
	if e.sticky != nil {
		return e.sticky
	}
	e.closeInput()
	for e.out != nil || !e.exitSeen {
		if err := e.step(em, false); err != nil {
			return err
		}
	}
	e.done = true
	e.stderr.flush()
	if err := e.status(); err != nil {
		return err
	}
	if err := e.queuedErrors(em); err != nil {
		return err
	}
	if n := len(e.queue); n > 0 {
		return fmt.Errorf("program %s left %d input events without an answer (--one-to-one)", e.argv[0], n)
	}
	if e.abandoned {
		em.Warnf("%s exited but its output stayed open (a background process?): stopped reading it after %v", e.argv[0], execWaitDelay)
	} else if e.readErr != nil {
		return e.readErr
	}
	return nil
}

func (e *execStage) status() error {
	err := e.waitErr
	var ee *exec.ExitError
	switch {
	case err == nil, errors.Is(err, exec.ErrWaitDelay):
		return nil
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return fmt.Errorf("program %s was killed by signal %d (%v)", e.argv[0], int(ws.Signal()), ws.Signal())
		}
		return fmt.Errorf("program %s exited with status %d", e.argv[0], ee.ExitCode())
	}
	return fmt.Errorf("program %s: %w", e.argv[0], err)
}

// kill signals the program's process group (the program and its children).
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

// prefixWriter copies a program's stderr line by line, each line prefixed.
type prefixWriter struct {
	mu      sync.Mutex
	w       io.Writer
	prefix  string
	partial []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(b)
	var out []byte
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			p.partial = append(p.partial, b...)
			break
		}
		out = append(out, p.prefix...)
		out = append(out, p.partial...)
		out = append(out, b[:i+1]...)
		p.partial, b = p.partial[:0], b[i+1:]
	}
	if len(out) > 0 {
		p.w.Write(out) // stderr is best effort: the program must not fail on it
	}
	return n, nil
}

// flush writes a last line that had no newline.
func (p *prefixWriter) flush() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.partial) > 0 {
		fmt.Fprintf(p.w, "%s%s\n", p.prefix, p.partial)
		p.partial = p.partial[:0]
	}
}
