package runner

import (
	"bytes"
	"fmt"
	"io"
	"sync"

	"github.com/obz-dev/obz/wire"
)

// MemEdge is an in-memory edge: a bounded queue of frames between a writer
// and a reader in one process. Its writer end is an Outbound (a stage's
// output, Env.Outputs) or a test calling Push and Close; its reader end is
// an Inbound (a stage's input, Input.Edge). Tests run stages over it; it is
// also the model of a transport that carries frames rather than bytes.
//
// A frame is safely downstream once queued: Ack returns at once.
type MemEdge struct {
	q    chan memItem
	once sync.Once
	err  error // why the edge ended, set before q is closed

	mu    sync.Mutex
	acked int64
}

type memItem struct {
	f    wire.Frame
	size int64
}

// NewMemEdge returns an edge that holds up to capacity frames (at least 1)
// before its writer waits: backpressure, as a pipe's buffer gives.
func NewMemEdge(capacity int) *MemEdge {
	return &MemEdge{q: make(chan memItem, max(capacity, 1))}
}

// Push queues frames on the edge, in order, as a writer would send them.
// The frames are copied.
func (m *MemEdge) Push(fs ...wire.Frame) {
	for i := range fs {
		line := wire.AppendFrame(nil, &fs[i])
		var f wire.Frame
		if err := wire.Decode(line[:len(line)-1], &f); err != nil {
			panic(fmt.Sprintf("MemEdge.Push: frame %+v does not round-trip: %v", fs[i], err))
		}
		m.put(f, int64(len(line)))
	}
}

func (m *MemEdge) put(f wire.Frame, size int64) {
	m.q <- memItem{f: f, size: size}
	m.mu.Lock()
	m.acked += size
	m.mu.Unlock()
}

// Close ends the edge: the reader gets the frames queued, then io.EOF.
func (m *MemEdge) Close() { m.CloseWithError(nil) }

// CloseWithError ends the edge with err (a lost connection, say): the
// reader gets the frames queued, then err. A nil err is a clean end
// (io.EOF). Only the first Close counts.
func (m *MemEdge) CloseWithError(err error) {
	m.once.Do(func() {
		if err == nil {
			err = io.EOF
		}
		m.err = err
		close(m.q)
	})
}

// Send queues the frames of a batch of lines (framed output only: a line
// that is not a frame is refused), waiting while the queue is full.
func (m *MemEdge) Send(p []byte) error {
	p = bytes.Clone(p) // the frames point into it
	for len(p) > 0 {
		line := p
		if i := bytes.IndexByte(p, '\n'); i >= 0 {
			line, p = p[:i], p[i+1:]
		} else {
			p = nil
		}
		var f wire.Frame
		if err := wire.Decode(line, &f); err != nil {
			return fmt.Errorf("in-memory edge: a line that is not a frame: %w", err)
		}
		m.put(f, int64(len(line)+1))
	}
	return nil
}

// Ack returns the bytes queued so far: in memory, queued is downstream.
func (m *MemEdge) Ack() (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.acked, nil
}

// Read takes the next frames off the queue: at least one, waiting for it,
// then those queued, up to BatchFrames.
func (m *MemEdge) Read(b *InBatch) error {
	it, ok := <-m.q
	for ok {
		b.Frames = append(b.Frames, it.f)
		b.Bytes += it.size
		if len(b.Frames) >= BatchFrames {
			return nil
		}
		select {
		case it, ok = <-m.q:
		default:
			return nil
		}
	}
	return m.err
}
