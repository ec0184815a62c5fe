package runner

import (
	"errors"
	"fmt"
	"io"

	"github.com/obz-dev/obz/wire"
)

// Input is one input edge of a stage: stdin, or an fd given by a supervisor.
type Input struct {
	Name string // for messages: "stdin", "fd 3"
	R    io.Reader
	// Framed: the input is known to come from an obz stage (an edge of
	// obz flow), so it must end with an EOF frame even when it carried
	// nothing: an empty stream means its writer died before writing.
	// (stdin may be bare NDJSON, where an empty stream is empty input.)
	Framed bool
}

// batch is a run of frames read from one input, owned by the stage loop
// until it is handed back. The frames' byte slices point into buf, the
// reader's buffer that was swapped out with the batch (wire.Reader.Swap), so
// that lines are not copied on their way to the stage.
type batch struct {
	in     int
	frames []wire.Frame
	buf    []byte
	bytes  int64
	end    error // set on the input's last batch: io.EOF or a read error
}

const (
	batchFrames  = BatchFrames
	batchesPerIn = 4
	// bigBuffer: a buffer that grew past it for a long line is dropped when
	// its batch comes back, so that long lines do not pin memory.
	bigBuffer = 4 * wire.ReadBuffer
)

func (b *batch) reset() {
	b.frames = b.frames[:0]
	if cap(b.buf) > bigBuffer {
		b.buf = nil
	}
	b.bytes = 0
	b.end = nil
}

// add appends f to the batch. Its byte slices stay in the reader's buffer.
func (b *batch) add(f *wire.Frame) {
	if f.Err != nil {
		e := *f.Err
		f.Err = &e
	}
	b.frames = append(b.frames, *f)
}

// slice returns a[s[0]:s[1]], or nil for the span {-1, -1} (exec's arena).
func slice(a []byte, s [2]int) []byte {
	if s[0] < 0 {
		return nil
	}
	return a[s[0]:s[1]:s[1]]
}

// localError marks a frame made by this stage's reader from a bad line; it
// takes part in no edge contract.
const localError = "\x00local"

// readInput reads one input into batches until it ends. It runs in its own
// goroutine so that several inputs merge (fan-in) and so that the stage loop
// can flush output whenever input goes idle.
func readInput(idx int, in Input, stage string, maxLine int, out chan<- *batch, free chan *batch, done <-chan struct{}) {
	growPipe(in.R)
	rd := wire.NewReader(in.R, maxLine)
	// A flow edge joins two obz stages: their payloads were checked where
	// they entered obz. Anything else (a shell pipe, a file) is checked.
	rd.TrustPayloads, rd.Stage = in.Framed, stage
	get := func() *batch {
		select {
		case b := <-free:
			b.reset()
			return b
		case <-done:
			return nil
		}
	}
	b := get()
	var lastBytes int64
	// send hands b over with the reader's buffer, which its frames point
	// into; the reader goes on in the buffer of the next batch.
	send := func() bool {
		next := get()
		if next == nil {
			return false
		}
		b.buf, next.buf = rd.Swap(next.buf), nil
		b.bytes = rd.BytesRead() - lastBytes
		lastBytes = rd.BytesRead()
		select {
		case out <- b:
		case <-done:
			return false
		}
		b = next
		return true
	}
	ok := b != nil
	// Hand over what we have before a read that may block: an idle input
	// must not hold events back.
	rd.BeforeFill = func() {
		if ok && len(b.frames) > 0 {
			ok = send()
		}
	}
	var f wire.Frame
	for ok {
		err := rd.Next(&f)
		if !ok {
			// The stage ended while BeforeFill handed over a batch: there
			// may be no batch left to fill, and nobody to read it.
			return
		}
		if err == nil {
			b.add(&f)
			if len(b.frames) >= batchFrames {
				ok = send()
			}
			continue
		}
		var le *wire.LineError
		if errors.As(err, &le) {
			ef := wire.Frame{Kind: wire.KindError, Writer: localError, Line: le.Line,
				Err: &wire.ErrorInfo{Kind: le.Kind, Msg: le.Msg, Stage: stage, Line: le.Line, Raw: le.Raw}}
			b.add(&ef)
			continue
		}
		if err != io.EOF {
			err = fmt.Errorf("reading %s: %w", in.Name, err)
		}
		b.end = err
		b.bytes = rd.BytesRead() - lastBytes
		select {
		case out <- b:
		case <-done:
		}
		return
	}
}

// writerState is the contract state of one upstream writer on one edge.
type writerState struct {
	name  string
	seq   uint64 // last seq seen
	count uint64 // data and error frames seen
	eof   bool
	kind  wire.EOFKind
}

// edge checks the contract of one input: gap-free seq per writer, EOF count
// equal to what arrived, an EOF from every writer before the input ends.
type edge struct {
	name     string
	framed   bool
	writers  []*writerState
	last     *writerState
	problems []string
}

func (e *edge) writer(name string) *writerState {
	if e.last != nil && e.last.name == name {
		return e.last
	}
	for _, w := range e.writers {
		if w.name == name {
			e.last = w
			return w
		}
	}
	w := &writerState{name: name}
	e.writers = append(e.writers, w)
	e.last = w
	return w
}

func (e *edge) problem(format string, args ...any) {
	if len(e.problems) < 10 {
		e.problems = append(e.problems, fmt.Sprintf(format, args...))
	}
}

// event checks one data or error frame.
func (e *edge) event(f *wire.Frame) {
	w := e.writer(f.Writer)
	if w.eof {
		e.problem("input from '%s' sent event seq %d after its EOF", w.name, f.Seq)
	}
	if f.Seq != w.seq+1 {
		if f.Seq <= w.seq {
			e.problem("input from '%s' repeated or reordered seq %d after %d", w.name, f.Seq, w.seq)
		} else {
			e.problem("input from '%s' has a gap: seq %d..%d missing", w.name, w.seq+1, f.Seq-1)
		}
	}
	w.seq = f.Seq
	w.count++
}

// eof checks an EOF frame.
func (e *edge) eof(f *wire.Frame) {
	w := e.writer(f.Writer)
	if w.eof {
		e.problem("input from '%s' sent a second EOF", w.name)
	}
	w.eof, w.kind = true, f.EOF
	if f.Count != w.count {
		e.problem("input from '%s' ended with an EOF count of %d but %d events arrived", w.name, f.Count, w.count)
	}
}

// end checks the input's end and returns the worst EOF kind on it.
func (e *edge) end(err error) wire.EOFKind {
	kind := wire.Natural
	if err != io.EOF {
		e.problem("%v", err)
		kind = wire.Truncated
	}
	if e.framed && len(e.writers) == 0 {
		e.problem("input %s ended without any frame, not even an EOF: its writer died before writing", e.name)
		kind = wire.Truncated
	}
	for _, w := range e.writers {
		switch {
		case w.name == wire.BareWriter && !w.eof:
			// Bare NDJSON has no EOF frame: the end of the stream is its end.
		case !w.eof:
			e.problem("input from '%s' ended without EOF after %d events", w.name, w.count)
			kind = max(kind, wire.Truncated)
		case w.kind == wire.Truncated:
			e.problem("input from '%s' is truncated: it lost its own input after %d events", w.name, w.count)
			kind = max(kind, w.kind)
		case w.kind == wire.Poison:
			e.problem("upstream '%s' failed (poison EOF after %d events)", w.name, w.count)
			kind = max(kind, w.kind)
		default:
			kind = max(kind, w.kind)
		}
	}
	if len(e.problems) > 0 {
		kind = max(kind, wire.Truncated)
	}
	return kind
}

// Contract checks the contract of an edge that a stage reads itself (a
// join's reference side), with the same rules as the runner's inputs.
type Contract struct{ e edge }

// NewContract returns the checker of the edge called name; framed says the
// edge must carry frames (an obz flow edge), so an empty stream is broken.
func NewContract(name string, framed bool) *Contract {
	return &Contract{e: edge{name: name, framed: framed}}
}

// Event checks one data or error frame.
func (c *Contract) Event(f *wire.Frame) { c.e.event(f) }

// EOF checks an EOF frame.
func (c *Contract) EOF(f *wire.Frame) { c.e.eof(f) }

// End checks the end of the stream (err is io.EOF at a clean end) and
// returns the worst EOF kind seen on it.
func (c *Contract) End(err error) wire.EOFKind { return c.e.end(err) }

// Problems lists what broke the contract, if anything.
func (c *Contract) Problems() []string { return c.e.problems }
