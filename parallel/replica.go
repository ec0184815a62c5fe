package parallel

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/obz-dev/obz/runner"
	"github.com/obz-dev/obz/wire"
)

// replica is one process of the stage: the dealer's side of its input
// (a feeder goroutine writes the batches handed to it) and the merge's side
// of its output (a reader goroutine decodes it into batches of frames).
type replica struct {
	n   int // 1-based, for messages
	of  int
	cmd *exec.Cmd

	enc   *wire.DataEncoder
	local uint64 // events dealt to it
	lines int64  // lines written to its input
	buf   []byte // the batch being filled; nil when none is held
	dealt bool   // it got events in the open batch

	free     chan []byte
	feed     chan []byte
	feedDone chan struct{} // closed when the feeder stops; feedErr is set then
	feedErr  error
	closed   bool // feed is closed

	out     chan *outBatch // closed at the end of its output; readErr is set then
	outFree chan *outBatch
	readErr error
	cur     *outBatch
	pos     int
	eof     *wire.Frame // its EOF, once read
	checked *runner.Contract

	exited  chan struct{} // closed when Wait returned; waitErr is set then
	waitErr error
	logged  chan struct{} // closed when its stderr is copied to the end
}

// outBatch is a run of frames the replica wrote; their bytes live in buf.
type outBatch struct {
	frames []wire.Frame
	buf    []byte
}

const (
	feedBuffers = 4    // input batches queued for a replica
	outBatches  = 4    // output batches read ahead of the merge
	outFrames   = 1024 // frames per output batch at most
)

// start starts replica n of cfg, with its input and output pipes and the
// goroutines that feed it and read it.
func start(cfg *Config, n int, stderr *lockedWriter, ready chan struct{}, quit <-chan struct{}) (*replica, error) {
	var files []*os.File
	pipe := func() (r, w *os.File, err error) {
		if r, w, err = os.Pipe(); err == nil {
			files = append(files, r, w)
		}
		return r, w, err
	}
	closeAll := func() {
		for _, f := range files {
			f.Close()
		}
	}
	inR, inW, err := pipe()
	if err == nil {
		_, _, err = pipe()
	}
	if err == nil {
		_, _, err = pipe()
	}
	if err != nil {
		closeAll()
		return nil, err
	}
	outR, outW, errR, errW := files[2], files[3], files[4], files[5]
	// 1 MiB pipes both ways: with Linux's 64 KiB the dealer and the
	// replica, the replica and the merge, would take turns every 64 KiB.
	runner.GrowPipe(inW)
	runner.GrowPipe(outR)
	argv := []string{cfg.Stage, "--in-fd", "0", "--name", cfg.Name}
	if cfg.MaxLine > 0 {
		argv = append(argv, "--max-line", strconv.Itoa(cfg.MaxLine))
	}
	argv = append(argv, cfg.Args...)
	cmd := exec.Command(cfg.Exe, argv...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, errW
	cmd.SysProcAttr = runner.ChildProcAttr()
	err = cmd.Start()
	inR.Close()
	outW.Close()
	errW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		errR.Close()
		return nil, fmt.Errorf("cannot start replica %d: %w", n, err)
	}
	r := &replica{n: n, of: cfg.Replicas, cmd: cmd, enc: wire.NewDataEncoder(DealWriter),
		free: make(chan []byte, feedBuffers+1), feed: make(chan []byte, feedBuffers), feedDone: make(chan struct{}),
		out: make(chan *outBatch, outBatches), outFree: make(chan *outBatch, outBatches+1), exited: make(chan struct{}), logged: make(chan struct{}),
		checked: runner.NewContract(fmt.Sprintf("replica %d", n), true)}
	for range feedBuffers + 1 {
		r.free <- make([]byte, 0, 64<<10)
	}
	for range outBatches + 1 {
		r.outFree <- &outBatch{}
	}
	go func() {
		r.waitErr = cmd.Wait()
		close(r.exited)
	}()
	go r.log(errR, stderr, fmt.Sprintf("[replica %d/%d] ", n, cfg.Replicas))
	go r.feeder(inW)
	go r.reader(outR, cfg.MaxLine, ready, quit)
	return r, nil
}

// log copies the replica's stderr, each line prefixed with the replica.
func (r *replica) log(f *os.File, w *lockedWriter, prefix string) {
	defer close(r.logged)
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		w.line(prefix, sc.Bytes())
	}
}

// lockedWriter writes whole lines from several replicas to one stderr.
type lockedWriter struct {
	mu  sync.Mutex
	w   io.Writer
	buf []byte
}

func (l *lockedWriter) line(prefix string, b []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(append(append(l.buf[:0], prefix...), b...), '\n')
	l.w.Write(l.buf) // best effort: a replica must not fail on our stderr
}

// feeder writes the batches handed to it to the replica's input, and
// closes it when feed is closed.
func (r *replica) feeder(w *os.File) {
	defer close(r.feedDone)
	defer w.Close()
	for b := range r.feed {
		if _, err := w.Write(b); err != nil {
			r.feedErr = err
			for range r.feed {
			}
			return
		}
		r.free <- b[:0]
	}
}

// reader decodes the replica's output into batches for the merge.
func (r *replica) reader(f *os.File, maxLine int, ready chan struct{}, quit <-chan struct{}) {
	defer f.Close()
	rd := wire.NewReader(f, maxLine)
	rd.TrustPayloads = true // an obz stage wrote it
	var fr wire.Frame
	for {
		var b *outBatch
		select {
		case b = <-r.outFree:
		case <-quit:
			return
		}
		b.frames = b.frames[:0]
		var err error
		for len(b.frames) < outFrames {
			if len(b.frames) > 0 && !rd.Buffered() {
				break
			}
			if err = rd.Next(&fr); err != nil {
				var le *wire.LineError
				if errors.As(err, &le) {
					err = fmt.Errorf("replica %d wrote a line that is not a frame (line %d): %s", r.n, le.Line, le.Msg)
				}
				break
			}
			if fr.Err != nil {
				e := *fr.Err
				fr.Err = &e
			}
			b.frames = append(b.frames, fr)
		}
		b.buf = rd.Swap(b.buf)
		if len(b.frames) > 0 {
			select {
			case r.out <- b:
			case <-quit:
				return
			}
			signal(ready)
		} else {
			r.outFree <- b
		}
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			r.readErr = err
			close(r.out)
			signal(ready)
			return
		}
	}
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// peek returns the next frame of the replica's output without taking it,
// waiting for it if block is set. It returns nil when none is there yet
// (block unset) or the output ended (ended set).
func (r *replica) peek(block bool) (f *wire.Frame, ended bool) {
	for r.cur == nil || r.pos >= len(r.cur.frames) {
		if r.cur != nil {
			r.outFree <- r.cur
			r.cur = nil
		}
		var b *outBatch
		var more bool
		if block {
			b, more = <-r.out
		} else {
			select {
			case b, more = <-r.out:
			default:
				return nil, false
			}
		}
		if !more {
			return nil, true
		}
		r.cur, r.pos = b, 0
	}
	return &r.cur.frames[r.pos], false
}

// take consumes the frame peek returned, checking the edge contract of the
// replica's output.
func (r *replica) take() {
	f := &r.cur.frames[r.pos]
	r.pos++
	switch f.Kind {
	case wire.KindData, wire.KindError:
		r.checked.Event(f)
	case wire.KindEOF:
		r.checked.EOF(f)
		eof := *f
		r.eof = &eof
	}
}

// closeFeed ends the replica's input: the feeder closes it once the
// batches handed to it are written.
func (r *replica) closeFeed() {
	if !r.closed {
		r.closed = true
		close(r.feed)
	}
}

// failure says why the replica failed: its exit status, once it has
// exited (within a few seconds), and what broke its output.
func (r *replica) failure(what string) error {
	msg := fmt.Sprintf("replica %d of %d %s", r.n, r.of, what)
	timeout := time.After(3 * time.Second)
	select {
	case <-r.exited:
		msg += "; " + exitText(r.waitErr)
	case <-timeout:
		msg += "; it is still running"
	}
	select { // its last words come before ours
	case <-r.logged:
	case <-timeout:
	}
	return errors.New(msg)
}

// kill ends the replica's process group at once.
func (r *replica) kill() {
	if r.cmd.Process != nil {
		syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
		r.cmd.Process.Kill()
	}
}

func exitText(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return "it was killed by signal " + ws.Signal().String()
		}
		return fmt.Sprintf("it exited with status %d", ee.ExitCode())
	}
	if err != nil {
		return err.Error()
	}
	return "it exited with status 0"
}
