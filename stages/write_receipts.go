package stages

import (
	"bufio"
	"errors"
	"io"
	"syscall"

	"github.com/obz-dev/obz/wire"
)

// receiptRun is a run of events of one writer with consecutive sequence
// numbers: from..to.
type receiptRun struct {
	writer   string
	from, to uint64
}

// receiptLog holds the events a sink consumed whose receipts are not due
// yet (their output is not committed). Events come in runs, so a stream of
// one writer takes one entry however long it is.
type receiptLog struct {
	runs []receiptRun
}

func (l *receiptLog) add(writer string, seq uint64) {
	if k := len(l.runs); k > 0 {
		if r := &l.runs[k-1]; r.writer == writer && r.to+1 == seq {
			r.to = seq
			return
		}
	}
	l.runs = append(l.runs, receiptRun{writer: writer, from: seq, to: seq})
}

func (l *receiptLog) empty() bool { return len(l.runs) == 0 }

// receipts sends the receipts of the events in l, with status, through
// the emitter (to the journal, at its next flush) and, with --receipts, to
// stdout; l is then empty.
func (s *writeStage) receipts(l *receiptLog, status string) error {
	runs := l.runs
	l.runs = l.runs[:0]
	for _, r := range runs {
		for seq := r.from; ; seq++ {
			of := wire.Ref{Writer: r.writer, Seq: seq}
			if err := s.em.Receipt(of, status); err != nil {
				return err
			}
			s.rout.add(s.em.Name(), of, status)
			if seq == r.to {
				break
			}
		}
	}
	s.rout.flush()
	return nil
}

// receiptOut writes receipt frames to stdout (write --receipts). A closed
// stdout ends the receipts, not the stage: FILE is still written.
type receiptOut struct {
	w     *bufio.Writer
	frame wire.Frame
	buf   []byte
	gone  bool
	err   error
}

func newReceiptOut(w io.Writer) *receiptOut {
	return &receiptOut{w: bufio.NewWriterSize(w, writeBuffer)}
}

func (r *receiptOut) add(writer string, of wire.Ref, status string) {
	if r == nil || r.gone {
		return
	}
	r.frame = wire.Frame{Kind: wire.KindReceipt, Writer: writer, Of: of, Status: status}
	r.write(&r.frame)
}

func (r *receiptOut) write(f *wire.Frame) {
	r.buf = wire.AppendFrame(r.buf[:0], f)
	if _, err := r.w.Write(r.buf); err != nil {
		r.fail(err)
	}
}

// eof ends the receipt stream with the stage's EOF: it wrote no data
// frames, only control frames.
func (r *receiptOut) eof(writer string, kind wire.EOFKind) error {
	if r == nil || r.gone {
		return r.error()
	}
	r.write(&wire.Frame{Kind: wire.KindEOF, Writer: writer, EOF: kind})
	r.flush()
	return r.error()
}

func (r *receiptOut) flush() {
	if r == nil || r.gone {
		return
	}
	if err := r.w.Flush(); err != nil {
		r.fail(err)
	}
}

func (r *receiptOut) fail(err error) {
	r.gone = true
	if !errors.Is(err, syscall.EPIPE) && !errors.Is(err, io.ErrClosedPipe) {
		r.err = err
	}
}

// error is a failure to write the receipts, other than a closed stdout.
func (r *receiptOut) error() error {
	if r == nil || r.err == nil {
		return nil
	}
	return r.err
}
