package replay

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/obz-dev/obz/journal"
	"github.com/obz-dev/obz/wire"
)

// StreamOptions say what Stream writes.
type StreamOptions struct {
	// Path is the journal's file, for messages, and names the writer of
	// an EOF the journal lacks when it holds no frame at all.
	Path string
	// From and To select the data frames of seq From..To (0: no bound).
	// The slice is a new stream: its events are numbered from 1, each
	// with the recorded (writer, seq) as its parent, and it ends with a
	// stopped EOF (or the recorded EOF's kind, if worse).
	From, To uint64
	// Raw writes data payloads only, one per line, and no EOF.
	Raw bool
	// Speed paces the events at this multiple of the pace they were
	// recorded at (from the write times of the journal's blocks); 0 does
	// not wait.
	Speed float64
}

// StreamResult is what Stream wrote.
type StreamResult struct {
	Events      uint64 // data and error events written
	ErrorEvents int64  // error events left out (Raw writes data payloads only)
}

// Stream writes r's frames to w: the whole journal byte for byte, its EOF
// included, or the slice and form o asks for. Order frames (a fan-in's
// merge order, for its own replay) are left out. A journal that is torn,
// corrupt or has no EOF is replayed as far as it is good and ended with a
// truncated EOF; the error says so. ctx cancelled stops it with a stopped
// EOF. A consumer that went away (EPIPE) ends it without an error.
func Stream(ctx context.Context, r *journal.Reader, w io.Writer, o StreamOptions) (StreamResult, error) {
	var res StreamResult
	ranged := o.From > 1 || o.To > 0
	if o.From > 1 {
		r.SeekSeq(o.From)
	}
	out := bufio.NewWriterSize(w, 64<<10)
	var (
		f, g    wire.Frame
		n       uint64 // events written
		writer  string
		eof     *wire.Frame
		tailErr error
		cut     bool
		t0, w0  int64
		buf     []byte
	)
	for i := 0; ; i++ {
		err := r.Next(&f)
		if err == io.EOF {
			break
		}
		if err != nil {
			tailErr = err
			break
		}
		if i%1024 == 0 && ctx.Err() != nil {
			break
		}
		if f.Kind == wire.KindOrder {
			continue // journal-only: how the recorded stage merged its inputs
		}
		data := f.Kind == wire.KindData || f.Kind == wire.KindError
		if writer == "" {
			writer = f.Writer
		}
		if o.To > 0 && data && f.Seq > o.To {
			cut = true
			break
		}
		if o.Speed > 0 {
			if t := r.LineTime(); t > 0 {
				if t0 == 0 {
					t0, w0 = t, time.Now().UnixNano()
				}
				if wait := time.Duration(float64(t-t0)/o.Speed) - time.Duration(time.Now().UnixNano()-w0); wait > 0 {
					out.Flush()
					select {
					case <-time.After(wait):
					case <-ctx.Done():
					}
					if ctx.Err() != nil {
						break
					}
				}
			}
		}
		if f.Kind == wire.KindEOF {
			e := f
			eof = &e
			if ranged || o.Raw {
				continue
			}
		}
		if data {
			n++
		}
		var werr error
		switch {
		case o.Raw:
			if f.Kind == wire.KindData {
				_, werr = out.Write(append(append(buf[:0], f.Payload...), '\n'))
			} else if f.Kind == wire.KindError {
				res.ErrorEvents++
			}
		case ranged && data:
			g = f
			g.Seq, g.Parent = n, wire.Ref{Writer: f.Writer, Seq: f.Seq}
			buf = wire.AppendFrame(buf[:0], &g)
			_, werr = out.Write(buf)
		default:
			_, werr = out.Write(append(append(buf[:0], r.Line()...), '\n'))
		}
		if werr != nil {
			// Downstream is gone (| head): stop reading.
			break
		}
		if o.To > 0 && data && f.Seq == o.To {
			cut = true
			break
		}
	}
	stopped := ctx.Err() != nil
	res.Events = n
	if !o.Raw && (ranged || eof == nil || stopped) {
		kind := wire.Stopped
		switch {
		case tailErr != nil || eof == nil && !cut && !stopped:
			kind = wire.Truncated
		case eof != nil && !cut && !stopped:
			kind = max(eof.EOF, wire.Stopped)
		}
		if writer == "" {
			writer = strings.TrimSuffix(filepath.Base(o.Path), ".zst")
		}
		buf = wire.AppendFrame(buf[:0], &wire.Frame{Kind: wire.KindEOF, Writer: writer, Count: n, EOF: kind})
		out.Write(buf)
	}
	var problem error
	if tailErr != nil {
		problem = fmt.Errorf("%s: replayed %d events, then %w; ended with a truncated EOF", o.Path, n, tailErr)
	} else if eof == nil && !cut && !stopped {
		problem = fmt.Errorf("%s: the journal has no EOF (its writer did not finish): replayed %d events with a truncated EOF", o.Path, n)
	}
	if err := out.Flush(); err != nil {
		if errors.Is(err, syscall.EPIPE) {
			return res, nil
		}
		return res, err
	}
	return res, problem
}
