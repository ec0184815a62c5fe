package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/obz-dev/obz/journal"
	"github.com/obz-dev/obz/wire"
)

// OutputMode is how a stage writes its output.
type OutputMode int

// Output modes.
const (
	// Framed writes obz frames: the default when stdout is a pipe or file.
	Framed OutputMode = iota
	// Raw writes bare payloads, one per line (-r/--raw), for jq and friends.
	Raw
	// Pretty writes indented, coloured payloads: the default on a terminal.
	Pretty
	// None writes nothing to stdout: sinks, which deliver elsewhere.
	None
	// Text writes each payload on a line as jq -r does (--text): a string
	// as its text, unquoted and unescaped; any other value as JSON.
	Text
)

// batchSize is the output batch: frames are written out when the buffer
// passes it, and whenever input goes idle.
const batchSize = 64 << 10

// errDownstreamGone means stdout was closed (EPIPE): `obz ... | head`. The
// stage stops quietly and exits 0.
var errDownstreamGone = errors.New("downstream closed")

// Counters are a stage's running totals, readable while it runs.
type Counters struct {
	In       atomic.Uint64 // data and error events read
	Out      atomic.Uint64 // data events written
	Errors   atomic.Uint64 // error events written, forwarded or reported
	BytesIn  atomic.Uint64
	BytesOut atomic.Uint64
	// Duplicates are frames an input delivered again (same writer and
	// seq as one seen, or the same EOF), dropped: an at-least-once edge
	// does that after a reconnect.
	Duplicates atomic.Uint64
	// Dealt and Inline count, with Env.Workers, the input batches that
	// went to the workers and those the stage's goroutine answered itself
	// (it was keeping up).
	Dealt, Inline atomic.Uint64
	// WaitIn and WaitOut are nanoseconds spent blocked waiting for input
	// and writing output: a stage that mostly waits to write is held back
	// by its consumer (backpressure); one that mostly waits to read is
	// starved by its producer.
	WaitIn  atomic.Int64
	WaitOut atomic.Int64
	// Proc is the processing time of each input batch (the time blocked
	// writing output left out), E2E the end-to-end latency of the input
	// events that carry a source time (wire.Frame.TS).
	Proc, E2E Hist

	kindsMu sync.Mutex
	kinds   map[string]uint64 // error events by kind
}

// countKind counts one error event of the given kind (error path only).
func (c *Counters) countKind(kind string) {
	c.kindsMu.Lock()
	if c.kinds == nil {
		c.kinds = map[string]uint64{}
	}
	c.kinds[kind]++
	c.kindsMu.Unlock()
}

// ErrorKinds returns a copy of the error event counts by kind.
func (c *Counters) ErrorKinds() map[string]uint64 {
	c.kindsMu.Lock()
	defer c.kindsMu.Unlock()
	if len(c.kinds) == 0 {
		return nil
	}
	m := make(map[string]uint64, len(c.kinds))
	for k, v := range c.kinds {
		m[k] = v
	}
	return m
}

// Emitter is a stage's way out: it writes events (framed, raw or pretty) to
// every output, batched, and keeps the counts.
type Emitter struct {
	ctx    context.Context
	name   string
	mode   OutputMode
	color  bool
	outs   []Outbound
	stdout io.Writer
	stderr io.Writer
	stdin  io.Reader // for sources that read it (read -)
	buf    []byte
	seq    uint64
	cur    *wire.Frame // the input event being handled, the parent of what is emitted
	in     int         // the input the event being handled came from
	inFile string      // the file the input event was read from ("" for a stream)
	frame  wire.Frame  // scratch
	err    error       // sticky output error

	counters  *Counters
	nOut      uint64
	nErr      uint64
	reported  uint64 // error events reported on stderr (raw and pretty modes)
	bytesOut  uint64
	onFlush   func()
	failFirst bool
	maxLine   int

	// journal receives every output frame in canonical framed form (Env.Journal).
	// In framed mode it is written the output buffer itself; otherwise
	// jbuf holds the frames beside the raw or pretty output.
	journal io.Writer
	// durableRef: the next batch journaled holds a source file's first
	// reference; the journal's file gets it before the batch goes out
	// (SourceFile).
	durableRef bool
	jbuf       []byte
	order      *orderRecorder // a fan-in stage's merge order, for the journal
	obuf       []byte
	ending     bool // the EOF is being written: journal the whole order

	enc *wire.DataEncoder // encodes framed output; made on first use

	// stamp: this stage is a source whose runs are measured (Env.Status):
	// some of its data events carry their source time (wire.Frame.TS),
	// sampled as stampNow says; batchEvents counts the data events of the
	// output batch being built.
	stamp       bool
	batchEvents int

	// refs: data events that pass the input event's payload on are
	// journaled as references (Env.JournalRefs); ref is the run being
	// built. The journal then always gets jbuf, in framed mode too.
	refs bool
	ref  struct {
		seq, n uint64
		parent wire.Ref
		last   uint64   // the parent seq of the run's last event
		skips  []uint64 // upstream seqs skipped before each parent after the first
		skip   bool     // some skip is not 0
		crc    uint32   // with input: the CRC-32C of the payloads
	}
	// input, if set, is the regular file of frames the stage reads (its
	// stdin, inputfile.go): data events that pass an input event's
	// payload on are journaled as references to the file's frames.
	input *journal.FileID
	// fileRefs: a source may journal the lines of the regular files it
	// reads as references to them (Env.JournalSources, sourcefile.go);
	// fsrc is set while such a file is read (the journal then gets jbuf),
	// and fref is the run being built.
	fileRefs bool
	fsrc     bool
	fref     fileRun
	// journalDir is the journal's directory (Env.JournalDir): file
	// references give the file's path relative to it too.
	journalDir string
	// runs: the data events the stage makes are journaled as run lines
	// (journal.RunLine: payloads without each frame's envelope); jrun is
	// the run being built.
	runs bool
	jrun journal.RunLine

	// resume checks a resumed source's events against its record (resume.go);
	// nil when not resuming or once the record ended.
	resume, resumed *resumeCheck
	// silent: a continued source is catching up (Env.ResumeContinue):
	// Flush journals the batch and drops it instead of writing it out.
	silent bool
}

// Input is the index (from 0, in the order of the stage's inputs) of the
// input that the event being handled came from.
func (em *Emitter) Input() int { return em.in }

// InputFile is the name of the file the event being handled was read from
// (an argument of a stage that takes input files, see FileInputs), or ""
// when it came from a stream: stdin, a flow edge.
func (em *Emitter) InputFile() string { return em.inFile }

// Name is the stage's writer name.
func (em *Emitter) Name() string { return em.name }

// Context is the stage's context: cancelled on SIGINT/SIGTERM.
func (em *Emitter) Context() context.Context { return em.ctx }

// Stdout is the stage's standard output, for sinks that write there.
func (em *Emitter) Stdout() io.Writer { return em.stdout }

// Stdin is the stage's standard input, for sources that read it (read -).
// Processors get their input through Event instead.
func (em *Emitter) Stdin() io.Reader { return em.stdin }

// MaxLine is the longest input line the stage accepts (--max-line), for
// sources that read lines themselves.
func (em *Emitter) MaxLine() int {
	if em.maxLine <= 0 {
		return wire.DefaultMaxLine
	}
	return em.maxLine
}

// Stderr is where a stage reports to the user.
func (em *Emitter) Stderr() io.Writer { return em.stderr }

// Warnf prints a line prefixed with the stage name on stderr.
func (em *Emitter) Warnf(format string, args ...any) {
	fmt.Fprintf(em.stderr, "obz %s: %s\n", em.name, fmt.Sprintf(format, args...))
}

// Emit writes one data event whose parent is the event being handled.
// payload must be one valid JSON value; it is copied.
func (em *Emitter) Emit(payload []byte) error { return em.emit(payload, nil, 0, 0) }

// emit writes one data event; sf, off and span say where in a source file
// the payload lies (EmitSpan), sf nil when not in one.
func (em *Emitter) emit(payload []byte, sf *SourceFile, off, span int64) error {
	if em.err != nil {
		return em.err
	}
	if em.resume != nil {
		if err := em.resumeEvent(wire.KindData, nil, payload); err != nil {
			return err
		}
	}
	em.seq++
	em.nOut++
	var ts uint64 // the source time, framed output only
	switch em.mode {
	case Framed:
		if em.enc == nil {
			em.enc = wire.NewDataEncoder(em.name)
		}
		var parent wire.Ref
		if em.cur != nil {
			parent = wire.Ref{Writer: em.cur.Writer, Seq: em.cur.Seq}
			ts = em.cur.TS
		} else if em.stamp {
			if stampNow(em.batchEvents) {
				ts = sourceTime(time.Now())
			}
			em.batchEvents++
		}
		em.buf = em.enc.AppendTS(em.buf, em.seq, parent, ts, payload)
	case Raw:
		em.buf = append(em.buf, payload...)
		em.buf = append(em.buf, '\n')
	case Text:
		em.buf = appendText(em.buf, payload)
		em.buf = append(em.buf, '\n')
	case Pretty:
		em.buf = appendPretty(em.buf, payload, em.color)
		em.buf = append(em.buf, '\n')
	}
	if em.journal != nil && !em.bufIsJournal() {
		switch {
		case sf != nil && sf.on && span > 0 && em.cur == nil:
			em.addFileRef(sf, payload, off, span)
		case (em.refs || em.input != nil) && em.passes(payload):
			em.addRef(em.seq, wire.Ref{Writer: em.cur.Writer, Seq: em.cur.Seq})
			if em.input != nil {
				em.ref.crc = journal.FileCRC(em.ref.crc, payload)
			}
		case em.runs && (em.cur == nil || journal.RefName(em.cur.Writer)):
			var parent wire.Ref
			if em.cur != nil {
				parent = wire.Ref{Writer: em.cur.Writer, Seq: em.cur.Seq}
			}
			if !em.jrun.Add(em.seq, parent, ts, payload) {
				em.endRef()
				em.jrun.Start(em.name, em.seq, parent, ts, payload)
			}
		default:
			em.frame = wire.Frame{Kind: wire.KindData, Writer: em.name, Seq: em.seq, Payload: payload}
			em.teeFrame(&em.frame)
		}
	}
	if len(em.buf) >= batchSize || len(em.jbuf) >= batchSize || em.jrun.Len() >= batchSize {
		return em.Flush()
	}
	return nil
}

// teeFrame appends f to the journal's buffer when the output is not framed
// (in framed mode the journal is written the output buffer itself). The
// parent is the event being handled.
func (em *Emitter) teeFrame(f *wire.Frame) {
	if em.journal == nil || em.bufIsJournal() {
		return
	}
	em.endRef()
	if em.cur != nil && (f.Kind == wire.KindData || f.Kind == wire.KindError) {
		f.Parent = wire.Ref{Writer: em.cur.Writer, Seq: em.cur.Seq}
	}
	em.jbuf = wire.AppendFrame(em.jbuf, f)
}

// bufIsJournal: the journal is written the output buffer itself (framed
// output, no references), not jbuf.
func (em *Emitter) bufIsJournal() bool { return em.mode == Framed && !em.refs && !em.fsrc && !em.runs }

// passes reports whether payload is the data event being handled's own
// payload (the same bytes, not a copy), from an upstream writer whose
// name a reference can hold.
func (em *Emitter) passes(payload []byte) bool {
	c := em.cur
	return c != nil && c.Kind == wire.KindData && len(payload) > 0 && len(payload) == len(c.Payload) &&
		&payload[0] == &c.Payload[0] && c.Seq > 0 && journal.RefName(c.Writer)
}

// maxRefRun bounds the events of one reference line.
const maxRefRun = 1 << 16

// addRef journals data event seq, whose payload is parent's, as part of a
// reference run: consecutive seqs of this stage whose parents are
// increasing seqs of one upstream writer (a filter skips some).
func (em *Emitter) addRef(seq uint64, parent wire.Ref) {
	r := &em.ref
	if r.n > 0 && r.n < maxRefRun && parent.Writer == r.parent.Writer && parent.Seq > r.last && seq == r.seq+r.n {
		g := parent.Seq - r.last - 1
		r.skips = append(r.skips, g)
		r.skip = r.skip || g > 0
		r.n++
		r.last = parent.Seq
		return
	}
	em.endRef()
	r.seq, r.n, r.parent, r.last, r.skips, r.skip, r.crc = seq, 1, parent, parent.Seq, r.skips[:0], false, 0
}

// endRef writes the reference run being built to jbuf.
func (em *Emitter) endRef() {
	if r := &em.ref; r.n > 0 {
		switch {
		case em.input != nil: // set only without refs (Run)
			skips := r.skips
			if !r.skip {
				skips = nil
			}
			em.jbuf = journal.AppendInputRef(em.jbuf, em.name, r.seq, r.n, r.parent, skips, em.input, r.crc)
		case r.skip:
			em.jbuf = journal.AppendRefSkips(em.jbuf, em.name, r.seq, r.n, r.parent, r.skips)
		default:
			em.jbuf = journal.AppendRef(em.jbuf, em.name, r.seq, r.n, r.parent)
		}
		r.n = 0
	}
	em.endFileRef()
	em.jbuf = em.jrun.Append(em.jbuf)
}

// EmitError writes an error event. payload is the event's JSON value, or nil
// when there is only raw text (info.Raw). With --on-error fail it returns an
// *EventFailedError instead.
func (em *Emitter) EmitError(info *wire.ErrorInfo, payload []byte) error {
	if em.err != nil {
		return em.err
	}
	if em.failFirst {
		return &EventFailedError{Info: *info}
	}
	if em.mode == Framed && info.Stage != "" && info.Stage != em.name {
		// Passing on an error event raised upstream: say it came this way.
		via := info.Via
		info = new(*info)
		info.Via = append(via[:len(via):len(via)], em.name)
	}
	if em.resume != nil {
		if err := em.resumeEvent(wire.KindError, info, payload); err != nil {
			return err
		}
	}
	em.seq++
	em.countKind(info.Kind)
	switch em.mode {
	case Framed:
		em.nErr++
		f := &em.frame
		*f = wire.Frame{Kind: wire.KindError, Writer: em.name, Seq: em.seq, Payload: payload, Err: info}
		if em.cur != nil {
			f.Parent = wire.Ref{Writer: em.cur.Writer, Seq: em.cur.Seq}
		}
		em.buf = wire.AppendFrame(em.buf, f)
		em.teeFrame(f)
		if len(em.buf) >= batchSize || len(em.jbuf) >= batchSize {
			return em.Flush()
		}
	default:
		// The event ends here, on stderr: counted once, as reported.
		em.reported++
		em.showError(info, payload)
		em.frame = wire.Frame{Kind: wire.KindError, Writer: em.name, Seq: em.seq, Payload: payload, Err: info}
		em.teeFrame(&em.frame)
		if len(em.jbuf) >= batchSize {
			return em.Flush()
		}
	}
	return nil
}

// showError prints an error event on stderr (raw, pretty and sink modes);
// the caller counts it.
func (em *Emitter) showError(info *wire.ErrorInfo, payload []byte) {
	const show = 20
	if em.reported > show {
		return
	}
	where := wire.Printable(info.Stage)
	if info.Line > 0 {
		where += fmt.Sprintf(" line %d", info.Line)
	}
	if !info.Event.IsZero() {
		where += fmt.Sprintf(" on event %s/%d", info.Event.Writer, info.Event.Seq)
	}
	if len(info.Via) > 0 {
		where += " via " + strings.Join(info.Via, ", ")
	}
	text := payload
	if text == nil {
		text = info.Raw
	}
	if len(text) > 200 {
		text = append(text[:200:200], "..."...)
	}
	fmt.Fprintf(em.stderr, "obz %s: error event from %s (%s): %s: %s\n", em.name, where, wire.Printable(info.Kind), wire.Printable(info.Msg),
		wire.Printable(strings.TrimSpace(string(text))))
	if em.reported == show {
		fmt.Fprintf(em.stderr, "obz %s: further error events are counted, not shown\n", em.name)
	}
}

// writeEOF appends this stage's EOF frame (framed mode only) and flushes.
func (em *Emitter) writeEOF(kind wire.EOFKind) error {
	em.ending = true
	em.frame = wire.Frame{Kind: wire.KindEOF, Writer: em.name, Count: em.seq, EOF: kind}
	if em.mode == Framed {
		em.buf = wire.AppendFrame(em.buf, &em.frame)
	}
	em.teeFrame(&em.frame)
	if err := em.Flush(); err != nil {
		return err
	}
	return em.ack()
}

// ack waits until what the outputs were sent is safely downstream.
func (em *Emitter) ack() error {
	for _, o := range em.outs {
		if _, err := o.Ack(); err != nil {
			em.err = fmt.Errorf("writing output: %w", err)
			return em.err
		}
	}
	return nil
}

// endEOF writes the EOF of a stage that did not fail; a consumer that is
// gone (errDownstreamGone) is no error then.
func (em *Emitter) endEOF(kind wire.EOFKind) error {
	if err := em.writeEOF(kind); err != nil && !errors.Is(err, errDownstreamGone) {
		return err
	}
	return nil
}

// failEOF ends a stage that failed with err: its EOF of the given kind
// (poison, or truncated) is written even after an output error, and err
// is returned.
func (em *Emitter) failEOF(kind wire.EOFKind, err error) error {
	em.err = nil
	em.writeEOF(kind)
	return err
}

// errorEvents is the *ErrorEventsError of a stage that reported error
// events on stderr, or nil.
func (em *Emitter) errorEvents() error {
	if em.reported > 0 {
		return &ErrorEventsError{Count: em.reported, Where: "stderr"}
	}
	return nil
}

// Forward passes an upstream control frame (a watermark) on as is.
func (em *Emitter) Forward(f *wire.Frame) error { return em.forward(f) }

// forward re-emits an upstream control frame (watermark, receipt) as is.
func (em *Emitter) forward(f *wire.Frame) error {
	em.teeFrame(f)
	if em.mode != Framed {
		return nil
	}
	em.buf = wire.AppendFrame(em.buf, f)
	return nil
}

// PassOn passes on an input error event or control frame that the stage
// held back (InOrder): an error event as this stage's own, with f as its
// parent (none for an unreadable input line) and its error and payload
// unchanged; a control frame as it is.
func (em *Emitter) PassOn(f *wire.Frame) error {
	if f.Kind != wire.KindError {
		if em.err != nil {
			return em.err
		}
		return em.forward(f)
	}
	cur := em.cur
	em.cur = f
	if f.Writer == localError {
		em.cur = nil
	}
	err := em.EmitError(f.Err, f.Payload)
	em.cur = cur
	return err
}

// Receipt records that this stage (a sink) delivered the event of, with
// status ok or failed (docs/wire.md). Receipts are control frames: they take
// no sequence number. In framed mode they go to the outputs; in any mode to
// the journal, if there is one.
func (em *Emitter) Receipt(of wire.Ref, status string) error {
	if em.err != nil {
		return em.err
	}
	em.frame = wire.Frame{Kind: wire.KindReceipt, Writer: em.name, Of: of, Status: status}
	if em.mode == Framed {
		em.buf = wire.AppendFrame(em.buf, &em.frame)
	}
	em.teeFrame(&em.frame)
	if len(em.buf) >= batchSize || len(em.jbuf) >= batchSize {
		return em.Flush()
	}
	return nil
}

// Flush writes the batched output to every output. Sources call it before
// they block (waiting for a file to grow, a rate limit).
func (em *Emitter) Flush() error {
	if em.err != nil {
		return em.err
	}
	if err := em.flushJournal(); err != nil {
		return err
	}
	if em.silent {
		em.buf = em.buf[:0]
		em.batchEvents = 0
	}
	if len(em.buf) > 0 {
		start := time.Now()
		for i := 0; i < len(em.outs); i++ {
			if err := em.outs[i].Send(em.buf); err != nil {
				if !errors.Is(err, errDownstreamGone) {
					em.err = fmt.Errorf("writing output: %w", err)
					return em.err
				}
				// This consumer is gone (head -n, | head). Fan-out goes on
				// to the others; with none left the stage ends quietly.
				em.outs = append(em.outs[:i], em.outs[i+1:]...)
				i--
			}
		}
		if len(em.outs) == 0 {
			em.err = errDownstreamGone
			return em.err
		}
		em.bytesOut += uint64(len(em.buf))
		em.buf = em.buf[:0]
		em.batchEvents = 0
		if em.counters != nil {
			em.counters.WaitOut.Add(int64(time.Since(start)))
		}
	}
	em.publish()
	return nil
}

// flushJournal writes the batch's frames to the journal, before the
// outputs: what a consumer may have seen is journaled.
func (em *Emitter) flushJournal() error {
	if em.journal == nil {
		return nil
	}
	if em.obuf = em.order.appendFrame(em.obuf[:0], em.name, em.ending); len(em.obuf) > 0 {
		if _, err := em.journal.Write(em.obuf); err != nil {
			em.err = fmt.Errorf("writing the journal: %w", err)
			return em.err
		}
	}
	b := em.buf
	if !em.bufIsJournal() {
		em.endRef()
		b = em.jbuf
	}
	if len(b) == 0 {
		return nil
	}
	if _, err := em.journal.Write(b); err != nil {
		em.err = fmt.Errorf("writing the journal: %w", err)
		return em.err
	}
	em.jbuf = em.jbuf[:0]
	if em.durableRef {
		em.durableRef = false
		if f, ok := em.journal.(interface{ Flush() error }); ok {
			if err := f.Flush(); err != nil {
				em.err = fmt.Errorf("writing the journal: %w", err)
				return em.err
			}
		}
	}
	return nil
}

func (em *Emitter) publish() {
	if c := em.counters; c != nil {
		c.Out.Store(em.nOut)
		c.Errors.Store(em.nErr + em.reported)
		c.BytesOut.Store(em.bytesOut)
	}
	if em.onFlush != nil {
		em.onFlush()
	}
}

// BatchFrames is how many frames the runner reads into one batch; a stage
// that batches its own output (exec) uses the same size.
const BatchFrames = 2048

// LocalErrorWriter is the writer of the error events the runner makes for
// this stage's own unreadable input lines: they belong to no upstream
// writer, take no receipt and no parent.
const LocalErrorWriter = localError

// ErrDownstreamGone is returned by a stage whose stdout was closed by its
// reader (| head): the stage ends quietly, exit 0.
var ErrDownstreamGone = errDownstreamGone

// The methods below are for stages that manage their own output: a sink
// that delivers elsewhere, exec that answers from another process.

// Parent is the input event being handled, the parent of what is emitted
// now; nil when none.
func (em *Emitter) Parent() *wire.Frame { return em.cur }

// SetParent makes f the parent of what is emitted next (nil for none).
func (em *Emitter) SetParent(f *wire.Frame) { em.cur = f }

// Counters are the stage's live counters; nil when nobody reads them.
func (em *Emitter) Counters() *Counters { return em.counters }

// OnFlush adds f to what runs after each flush of the output, after any
// function added before.
func (em *Emitter) OnFlush(f func()) {
	prev := em.onFlush
	if prev == nil {
		em.onFlush = f
		return
	}
	em.onFlush = func() { prev(); f() }
}

// SetBytesOut sets the output byte count of a stage that writes elsewhere
// than its outputs (a sink's file).
func (em *Emitter) SetBytesOut(n uint64) { em.bytesOut = n }

// Delivered counts one event that a sink delivered itself.
func (em *Emitter) Delivered() { em.nOut++ }

// FailOnError says whether --on-error fail is set: the first error event
// fails the stage.
func (em *Emitter) FailOnError() bool { return em.failFirst }

// ReportError shows an error event that ends at this stage on stderr (at
// most 20, then counts) and counts it, by kind too.
func (em *Emitter) ReportError(info *wire.ErrorInfo, payload []byte) {
	em.reported++
	em.countKind(info.Kind)
	em.showError(info, payload)
}

// CountError counts one error event of the given kind that ended at this
// stage (a sink's dead-letter file) without being emitted.
func (em *Emitter) CountError(kind string) {
	em.nErr++
	em.countKind(kind)
}

func (em *Emitter) countKind(kind string) {
	if em.counters != nil {
		em.counters.countKind(kind)
	}
}

// NewRawEmitter returns an emitter that writes bare payloads to w, outside
// Run: for benchmarks and tests that drive a stage's methods directly.
func NewRawEmitter(w io.Writer) *Emitter {
	return &Emitter{ctx: context.Background(), mode: Raw, outs: []Outbound{PipeOutput(w)}, counters: new(Counters), maxLine: wire.DefaultMaxLine}
}

// appendText appends payload as jq -r writes it: a JSON string as its
// text (escapes decoded), any other value as it is. A payload here is
// valid JSON (wire's payload trust), so a string that fails to decode
// cannot happen; it would be written as JSON.
func appendText(dst, payload []byte) []byte {
	if len(payload) < 2 || payload[0] != '"' {
		return append(dst, payload...)
	}
	inner := payload[1 : len(payload)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return append(dst, inner...)
	}
	var s string
	if err := json.Unmarshal(payload, &s); err != nil {
		return append(dst, payload...)
	}
	return append(dst, s...)
}
