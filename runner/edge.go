package runner

import (
	"errors"
	"io"
	"syscall"

	"github.com/obz-dev/obz/wire"
)

// The edge seam: the runner reads its input edges through Inbound and
// writes its output edges through Outbound, whatever carries the frames.
// Pipes (and files, stdin, stdout) are one implementation (pipeIn,
// pipeOut), the in-memory MemEdge another; a broker transport or a
// replica's share of an edge plugs in here. The edge contract (gap-free seq
// per writer, EOF count, EOF present, duplicates dropped) is checked by the
// runner above the seam, the same for every transport.

// InBatch is a run of frames an Inbound delivers, in edge order.
type InBatch struct {
	// Frames are appended to by Inbound.Read. Each carries its writer and
	// seq; data and error frames are checked against the edge contract.
	Frames []wire.Frame
	// Buf is memory the frames' byte slices may point into: an Inbound
	// may swap its own buffer for it (wire.Reader.Swap), so that the bytes
	// stay valid until the batch is read into again, without copying.
	Buf []byte
	// Index is memory the frames' Members may point into, swapped with
	// the Inbound's as Buf is (wire.Reader.SwapIndex).
	Index []uint32
	// Bytes is how many bytes the frames took on the edge (for counters).
	Bytes int64
}

// Inbound is one input edge as the runner reads it: the frames of its
// writers in the order the edge delivers them, then its end.
type Inbound interface {
	// Read appends the next frames of the edge to b.Frames: at least one,
	// waiting for it if need be, then as many as are ready without
	// waiting, up to BatchFrames in all. At the end of the edge it returns
	// io.EOF, or the error that ended it (a read error, a lost
	// connection), with the frames that came before it, if any. The
	// frames stay valid until b is read into again. Read is called from
	// one goroutine at a time.
	//
	// An Inbound may deliver a frame again (at-least-once transports do
	// after a reconnect): the runner drops a data or error frame whose
	// writer and seq it has seen, and an EOF equal to one it has seen, as
	// duplicates (counted in Counters.Duplicates).
	Read(b *InBatch) error
}

// Outbound is one output edge as the runner writes it.
//
// What "safely downstream" means is the transport's: for a pipe (or file)
// a batch is acknowledged once it is written to it, since the kernel then
// delivers it or the consumer's edge check reports the loss; a broker
// acknowledges a batch once it has stored it.
type Outbound interface {
	// Send sends one batch downstream: whole lines (frames, or payloads in
	// raw and pretty modes), in order after the batches sent before. It may
	// return before the batch is safely downstream; it keeps nothing of p.
	// An error that is (errors.Is) ErrDownstreamGone means the consumer
	// has gone for good (| head): the stage drops this output and goes on
	// with the others, ending quietly when none is left.
	Send(p []byte) error
	// Ack waits until every batch sent so far is safely downstream, and
	// returns how many bytes are in all, or the error that lost some. The
	// runner calls it after the stage's EOF, before the stage counts as
	// done.
	Ack() (int64, error)
}

// pipeIn is an input edge read from a stream of lines (a pipe, a file,
// stdin) with a wire.Reader, without copying: each batch takes the reader's
// buffer its frames point into, and hands its previous one back.
type pipeIn struct {
	stage string // the reading stage, named in its own error events
	rd    *wire.Reader
	last  int64 // bytes read up to the last batch
	f     wire.Frame
}

func newPipeIn(in Input, stage string, maxLine int, replaceUTF8, index bool) *pipeIn {
	growPipe(in.R)
	rd := wire.NewReader(in.R, maxLine)
	rd.ReplaceInvalidUTF8 = replaceUTF8
	// A flow edge joins two obz stages: their payloads were checked where
	// they entered obz. Anything else (a shell pipe, a file) is checked.
	rd.TrustPayloads, rd.Stage = in.Framed, stage
	// A bare line's check indexes its members for a stage that reads
	// fields (MemberReader): it walks them anyway.
	rd.Index = index
	return &pipeIn{stage: stage, rd: rd}
}

// Read reads lines into frames until the batch is full or the next line is
// not there yet. A line that is not a valid event becomes an error frame of
// writer localError (it takes part in no edge contract).
func (p *pipeIn) Read(b *InBatch) error {
	rd, f := p.rd, &p.f
	for len(b.Frames) < BatchFrames {
		// Hand over what we have before a read that may block: an idle
		// input must not hold events back, and a read could move the
		// bytes the frames point into.
		if len(b.Frames) > 0 && !rd.Buffered() {
			break
		}
		err := rd.Next(f)
		if err == nil {
			addFrame(b, f)
			continue
		}
		var le *wire.LineError
		if errors.As(err, &le) {
			*f = wire.Frame{Kind: wire.KindError, Writer: localError, Line: le.Line,
				Err: &wire.ErrorInfo{Kind: le.Kind, Msg: le.Msg, Stage: p.stage, Line: le.Line, Raw: le.Raw}}
			addFrame(b, f)
			continue
		}
		// The reader is done with its buffer: no swap.
		p.count(b)
		return err
	}
	b.Buf = rd.Swap(b.Buf)
	b.Index = rd.SwapIndex(b.Index)
	p.count(b)
	return nil
}

func (p *pipeIn) count(b *InBatch) {
	n := p.rd.BytesRead()
	b.Bytes, p.last = n-p.last, n
}

// addFrame appends f to the batch. Its byte slices stay where they are.
func addFrame(b *InBatch, f *wire.Frame) {
	if f.Err != nil {
		e := *f.Err
		f.Err = &e
	}
	b.Frames = append(b.Frames, *f)
}

// pipeOut is an output edge written to an io.Writer (a pipe, a file,
// stdout). A batch is safely downstream once written.
type pipeOut struct {
	w       io.Writer
	written int64
}

// PipeOutput returns the Outbound that writes to w: a pipe, a file,
// stdout. A closed pipe (EPIPE, io.ErrClosedPipe) is ErrDownstreamGone.
func PipeOutput(w io.Writer) Outbound { return &pipeOut{w: w} }

func (p *pipeOut) Send(b []byte) error {
	n, err := p.w.Write(b)
	p.written += int64(n)
	if err != nil && (errors.Is(err, syscall.EPIPE) || errors.Is(err, io.ErrClosedPipe)) {
		return errDownstreamGone
	}
	return err
}

func (p *pipeOut) Ack() (int64, error) { return p.written, nil }
