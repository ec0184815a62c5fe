package runner

import (
	"fmt"
	"io"
	"os"
	"syscall"
)

// termLock is an exclusive lock on the terminal a stage's stderr is: the
// stages of a pipeline share it, and only the holder draws a progress
// line. The terminal is opened anew, so that the lock belongs to this
// process (flock locks belong to an open file, and the stages inherit
// one stderr from the shell); the kernel drops it when the process exits.
type termLock struct {
	f    *os.File
	held bool
}

// newTermLock returns the lock of w's terminal, or nil when w is not a
// file that can be opened again (then try always fails).
func newTermLock(w io.Writer) *termLock {
	f, ok := w.(*os.File)
	if !ok {
		return nil
	}
	tty, err := os.Open(fmt.Sprintf("/proc/self/fd/%d", f.Fd()))
	if err != nil {
		return nil
	}
	return &termLock{f: tty}
}

// try takes the lock if no other process holds it.
func (l *termLock) try() bool {
	if l == nil {
		return false
	}
	if !l.held {
		l.held = syscall.Flock(int(l.f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil
	}
	return l.held
}

func (l *termLock) release() {
	if l != nil {
		l.f.Close()
	}
}
