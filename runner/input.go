package runner

import (
	"fmt"
	"io"

	"github.com/obz-dev/obz/wire"
)

// Input is one input edge of a stage: stdin, an fd given by a supervisor,
// or any other Inbound.
type Input struct {
	Name string // for messages: "stdin", "fd 3", "from big" (obz flow's --in-name)
	// R is a stream of lines (a pipe, a file): the runner reads it with
	// its line reader. Edge, if set, is read instead.
	R    io.Reader
	Edge Inbound
	// Framed: the input is known to come from an obz stage (an edge of
	// obz flow), so it must end with an EOF frame even when it carried
	// nothing: an empty stream means its writer died before writing.
	// (stdin may be bare NDJSON, where an empty stream is empty input.)
	Framed bool
	// Path is a file to open when the input's turn comes (the inputs of a
	// FileInputs stage); R and Edge are then unused.
	Path string
}

// batch is a run of frames read from one input, owned by the stage loop
// until it is handed back to the input's reader.
type batch struct {
	InBatch
	in  int
	end error   // set on the input's last batch: io.EOF or what ended it
	ans answers // the workers' answers to its data events (Concurrent)
}

const (
	batchesPerIn = 4
	// bigBuffer: a buffer that grew past it for a long line is dropped when
	// its batch comes back, so that long lines do not pin memory.
	bigBuffer = 4 * wire.ReadBuffer
)

func (b *batch) reset() {
	b.Frames = b.Frames[:0]
	if cap(b.Buf) > bigBuffer {
		b.Buf = nil
	}
	b.Bytes = 0
	b.end = nil
	b.ans.inline = false
}

// localError marks a frame made by this stage's reader from a bad line; it
// takes part in no edge contract.
const localError = "\x00local"

// readInput reads one input into batches until it ends. It runs in its own
// goroutine so that several inputs merge (fan-in) and so that the stage loop
// can flush output whenever input goes idle. With a pool (Concurrent), each
// batch goes to the workers before the stage loop gets it.
func readInput(in Inbound, name string, out chan<- *batch, free chan *batch, done <-chan struct{}, pool *workerPool) {
	for {
		var b *batch
		select {
		case b = <-free:
			b.reset()
		case <-done:
			return
		}
		err := in.Read(&b.InBatch)
		if err != nil && err != io.EOF {
			err = fmt.Errorf("reading %s: %w", name, err)
		}
		b.end = err
		if pool != nil && !pool.deal(b, out, done) {
			return
		}
		select {
		case out <- b:
		case <-done:
			return
		}
		if err != nil {
			return
		}
	}
}

// writerState is the contract state of one upstream writer on one edge.
type writerState struct {
	name   string
	seq    uint64 // last seq seen
	count  uint64 // data and error frames seen
	eof    bool
	kind   wire.EOFKind
	n      uint64 // the EOF's count
	gapped bool   // a seq was skipped: a lower one later is a reordering, not a duplicate
}

// edge checks the contract of one input: gap-free seq per writer, EOF count
// equal to what arrived, an EOF from every writer before the input ends. A
// frame delivered again (an at-least-once transport after a reconnect) is
// a duplicate, dropped and counted; the contract holds for the frames kept.
type edge struct {
	name     string
	file     string // the file read, for Emitter.InputFile
	framed   bool
	writers  []*writerState
	last     *writerState
	problems []string
	dups     uint64 // duplicates dropped
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

// event checks one data or error frame. It returns false for a duplicate,
// a seq of the writer seen already, which the stage must drop. Since seqs
// are accepted gap-free, every seq up to the last one has been seen, as
// long as the writer had no gap.
func (e *edge) event(f *wire.Frame) bool {
	w := e.writer(f.Writer)
	if f.Seq <= w.seq && f.Seq > 0 && !w.gapped {
		e.dups++
		return false
	}
	if w.eof {
		e.problem("input from %s sent event seq %d after its EOF", wire.ShowName(w.name), f.Seq)
	}
	if f.Seq != w.seq+1 {
		if f.Seq <= w.seq {
			e.problem("input from %s repeated or reordered seq %d after %d", wire.ShowName(w.name), f.Seq, w.seq)
		} else {
			e.problem("input from %s has a gap: seq %d..%d missing", wire.ShowName(w.name), w.seq+1, f.Seq-1)
			w.gapped = true
		}
	}
	w.seq = f.Seq
	w.count++
	return true
}

// eof checks an EOF frame. One equal to the writer's EOF seen already is a
// duplicate, and ignored.
func (e *edge) eof(f *wire.Frame) {
	w := e.writer(f.Writer)
	if w.eof {
		if f.Count == w.n && f.EOF == w.kind {
			e.dups++
			return
		}
		e.problem("input from %s sent a second EOF", wire.ShowName(w.name))
	}
	w.eof, w.kind, w.n = true, f.EOF, f.Count
	if f.Count != w.count {
		e.problem("input from %s ended with an EOF count of %d but %d events arrived", wire.ShowName(w.name), f.Count, w.count)
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
			e.problem("input from %s ended without EOF after %d events", wire.ShowName(w.name), w.count)
			kind = max(kind, wire.Truncated)
		case w.kind == wire.Truncated:
			e.problem("input from %s is truncated: it lost its own input after %d events", wire.ShowName(w.name), w.count)
			kind = max(kind, w.kind)
		case w.kind == wire.Poison:
			e.problem("upstream %s failed (poison EOF after %d events)", wire.ShowName(w.name), w.count)
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

// Event checks one data or error frame. It returns false for a duplicate
// (a writer and seq seen already), which the caller must drop.
func (c *Contract) Event(f *wire.Frame) bool { return c.e.event(f) }

// EOF checks an EOF frame.
func (c *Contract) EOF(f *wire.Frame) { c.e.eof(f) }

// End checks the end of the stream (err is io.EOF at a clean end) and
// returns the worst EOF kind seen on it.
func (c *Contract) End(err error) wire.EOFKind { return c.e.end(err) }

// Duplicates is the number of duplicate frames seen (and to be dropped).
func (c *Contract) Duplicates() uint64 { return c.e.dups }

// Problems lists what broke the contract, if anything.
func (c *Contract) Problems() []string { return c.e.problems }
