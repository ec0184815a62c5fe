package main

import (
	"fmt"
	"os"
	"time"

	"github.com/obz-dev/obz/runner"
	"github.com/obz-dev/obz/wire"
)

// natsStatus writes the status lines of obz nats pub or sub run as the
// bridge of a flow's cross-host edge (--status-fd, set by obz flow): its
// counts, as a stage writes them (runner.StartStatus), for the flow's
// summary, metrics and stall reports. A nil *natsStatus (no --status-fd)
// counts nothing.
type natsStatus struct {
	runner.Counters
	f    *os.File
	stop func(error)
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
	s := &natsStatus{f: f}
	s.stop = runner.StartStatus(f, "", &s.Counters, time.Now(), 0)
	return s, nil
}

// wait adds the time since t to the time blocked on the input (out false)
// or the output.
func (s *natsStatus) wait(t time.Time, out bool) {
	if s == nil {
		return
	}
	if out {
		s.WaitOut.Add(int64(time.Since(t)))
	} else {
		s.WaitIn.Add(int64(time.Since(t)))
	}
}

// frame counts a frame of n bytes read (in) or written (out): data frames
// as events, error frames as errors.
func (s *natsStatus) frame(f *wire.Frame, n int, out bool) {
	if s == nil {
		return
	}
	switch {
	case f.Kind == wire.KindError:
		s.Errors.Add(1)
	case f.Kind != wire.KindData:
	case out:
		s.Out.Add(1)
	default:
		s.In.Add(1)
	}
	if out {
		s.BytesOut.Add(uint64(n))
	} else {
		s.BytesIn.Add(uint64(n))
	}
}

// end writes the last line, done or failed, and closes the fd.
func (s *natsStatus) end(err error) {
	if s == nil {
		return
	}
	s.stop(err)
	s.f.Close()
}
