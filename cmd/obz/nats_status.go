package main

import (
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/obz-dev/obz/wire"
)

// natsStatus writes the status lines of obz nats pub or sub run as the
// bridge of a flow's cross-host edge (--status-fd, set by obz flow): its
// counts, as a stage writes them, for the flow's summary, metrics and
// stall reports. A nil *natsStatus (no --status-fd) counts nothing.
type natsStatus struct {
	f     *os.File
	enc   *json.Encoder
	mu    sync.Mutex
	start time.Time
	stop  chan struct{}
	wg    sync.WaitGroup

	in, out, errs, bytesIn, bytesOut atomic.Uint64
	waitIn, waitOut                  atomic.Int64 // nanoseconds blocked on the input, on the output
}

// wait adds the time since t to the time blocked on the input (out false)
// or the output.
func (s *natsStatus) wait(t time.Time, out bool) {
	if s == nil {
		return
	}
	if out {
		s.waitOut.Add(int64(time.Since(t)))
	} else {
		s.waitIn.Add(int64(time.Since(t)))
	}
}

// startNatsStatus starts writing status lines to fd every half second;
// fd 0 is none.
func startNatsStatus(fd int) (*natsStatus, error) {
	if fd <= 0 {
		return nil, nil
	}
	f := os.NewFile(uintptr(fd), fmt.Sprintf("fd %d", fd))
	if f == nil {
		return nil, &usageError{msg: fmt.Sprintf("--status-fd %d is not an open file descriptor", fd)}
	}
	s := &natsStatus{f: f, enc: json.NewEncoder(f), start: time.Now(), stop: make(chan struct{})}
	s.write("running", nil)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				s.write("running", nil)
			case <-s.stop:
				return
			}
		}
	}()
	return s, nil
}

func (s *natsStatus) write(state string, err error) {
	st := wire.Status{State: state, In: s.in.Load(), Out: s.out.Load(), Errors: s.errs.Load(),
		BytesIn: s.bytesIn.Load(), BytesOut: s.bytesOut.Load(), Elapsed: time.Since(s.start).Seconds(),
		WaitIn: time.Duration(s.waitIn.Load()).Seconds(), WaitOut: time.Duration(s.waitOut.Load()).Seconds()}
	if err != nil {
		st.Error = err.Error()
	}
	s.mu.Lock()
	s.enc.Encode(st)
	s.mu.Unlock()
}

// frame counts a frame of n bytes read (in) or written (out): data frames
// as events, error frames as errors.
func (s *natsStatus) frame(f *wire.Frame, n int, out bool) {
	if s == nil {
		return
	}
	switch {
	case f.Kind == wire.KindError:
		s.errs.Add(1)
	case f.Kind != wire.KindData:
	case out:
		s.out.Add(1)
	default:
		s.in.Add(1)
	}
	if out {
		s.bytesOut.Add(uint64(n))
	} else {
		s.bytesIn.Add(uint64(n))
	}
}

// end writes the last line, done or failed, and closes the fd.
func (s *natsStatus) end(err error) {
	if s == nil {
		return
	}
	close(s.stop)
	s.wg.Wait()
	state := "done"
	if err != nil {
		state = "failed"
	}
	s.write(state, err)
	s.f.Close()
}
