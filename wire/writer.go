package wire

import "io"

// Writer writes frames in their canonical encoding, batched: frames are
// appended to a buffer that is written out when it passes the batch size or
// when Flush is called. Callers flush before they may block on input.
type Writer struct {
	w     io.Writer
	buf   []byte
	batch int
}

// NewWriter returns a Writer that batches up to 64 KiB.
func NewWriter(w io.Writer) *Writer {
	return &Writer{w: w, buf: make([]byte, 0, 80<<10), batch: 64 << 10}
}

// Write appends f, flushing when the batch is full.
func (w *Writer) Write(f *Frame) error {
	w.buf = AppendFrame(w.buf, f)
	if len(w.buf) >= w.batch {
		return w.Flush()
	}
	return nil
}

// Flush writes out the buffered frames.
func (w *Writer) Flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	_, err := w.w.Write(w.buf)
	w.buf = w.buf[:0]
	return err
}
