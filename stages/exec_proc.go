package stages

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/obz-dev/obz/runner"
)

// execGrace is how long the program's process group has between SIGTERM
// and SIGKILL when obz ends it (exec's help says 2s).
const execGrace = 2 * time.Second

// execProc is exec's program and its process group, from start to end:
// running, then exited (Wait returned), then ended (nothing of the group is
// left, or it got SIGKILL). The program gets only stdin, stdout and stderr,
// leads its own process group (a Ctrl-C at the terminal reaches obz, which
// drains, not the program in mid-stream) and, on Linux, gets SIGKILL when
// obz dies.
type execProc struct {
	cmd     *exec.Cmd
	pgid    int
	exited  chan struct{} // closed when Wait returned; waitErr is set then
	waitErr error
	ended   chan struct{} // closed when the group is gone or got SIGKILL
	endOnce sync.Once
	byUs    atomic.Bool // obz signalled the program before it exited
}

// startProgram starts argv with pipes for its stdin, stdout and stderr and
// returns obz's ends of them.
func startProgram(argv []string) (p *execProc, stdin, stdout, stderr *os.File, err error) {
	var child [3]*os.File // the program's ends
	var ours [3]*os.File
	defer func() {
		for _, f := range child {
			if f != nil {
				f.Close()
			}
		}
		if err != nil {
			for _, f := range ours {
				if f != nil {
					f.Close()
				}
			}
		}
	}()
	if child[0], ours[0], err = os.Pipe(); err != nil {
		return nil, nil, nil, nil, err
	}
	for i := 1; i < 3; i++ {
		if ours[i], child[i], err = os.Pipe(); err != nil {
			return nil, nil, nil, nil, err
		}
	}
	// A 1 MiB pipe for the program's output: with Linux's 64 KiB the
	// program and obz's reader would take turns every 64 KiB. Its stdin
	// keeps the default size: what sits there when a stop signal comes is
	// still given to the program, and a slow one has the drain timeout
	// to get through it.
	runner.GrowPipe(ours[1])
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = child[0], child[1], child[2]
	cmd.SysProcAttr = runner.ChildProcAttr()
	// Descriptors obz inherited without close-on-exec (under obz flow its
	// edges and status channel) would go to the program too: a program
	// holding them keeps obz flow waiting after the stage is gone.
	runner.CloseOnExecAll()
	if err = cmd.Start(); err != nil {
		return nil, nil, nil, nil, fmt.Errorf("cannot start program %s: %w", argv[0], err)
	}
	p = &execProc{cmd: cmd, pgid: cmd.Process.Pid, exited: make(chan struct{}), ended: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	return p, ours[0], ours[1], ours[2], nil
}

// signal sends sig to the program's process group, and to the program
// itself in case it left the group; it reports whether any of them was
// there to get it.
func (p *execProc) signal(sig syscall.Signal) bool {
	there := syscall.Kill(-p.pgid, sig) == nil
	if p.cmd.Process.Signal(sig) == nil {
		there = true
	}
	return there
}

// end ends the process group: SIGTERM, then SIGKILL to what is left after
// execGrace. It returns at once; ended is closed when it is done. The
// program's background children go with it: obz does not wait for them.
func (p *execProc) end() {
	p.endOnce.Do(func() {
		select {
		case <-p.exited:
		default:
			p.byUs.Store(true)
		}
		go func() {
			defer close(p.ended)
			if !p.signal(syscall.SIGTERM) {
				return
			}
			grace := time.NewTimer(execGrace)
			defer grace.Stop()
			poll := time.NewTicker(20 * time.Millisecond)
			defer poll.Stop()
			for {
				select {
				case <-grace.C:
					p.signal(syscall.SIGKILL)
					return
				case <-poll.C:
					if !p.signal(0) {
						return
					}
				}
			}
		}()
	})
}

// kill ends the process group at once (a second signal: obz is exiting).
func (p *execProc) kill() {
	p.byUs.Store(true)
	p.signal(syscall.SIGKILL)
	p.end()
}

// copyStderr copies the program's stderr to w until its end.
func copyStderr(r *os.File, w *prefixWriter, done chan<- struct{}) {
	defer close(done)
	io.Copy(w, r)
}

// prefixWriter copies the program's stderr line by line, each line
// prefixed. Only copyStderr writes to it until it is done.
type prefixWriter struct {
	w      io.Writer
	prefix string
	line   []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	n := len(b)
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			p.line = append(p.line, b...)
			break
		}
		out := append(append([]byte(p.prefix), p.line...), b[:i+1]...)
		p.w.Write(out) // best effort: the program must not fail on our stderr
		p.line, b = p.line[:0], b[i+1:]
	}
	return n, nil
}

// syncWriter serializes writes to w.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(b)
}

// flush writes a last line that had no newline (once copyStderr is done).
func (p *prefixWriter) flush() {
	if len(p.line) > 0 {
		p.Write([]byte{'\n'})
	}
}

// watchSignals returns a channel that gets SIGINT and SIGTERM, as obz's
// own handler does: exec counts them to see the second one.
func watchSignals() chan os.Signal {
	c := make(chan os.Signal, 2)
	signal.Notify(c, syscall.SIGINT, syscall.SIGTERM)
	return c
}

func stopSignals(c chan os.Signal) { signal.Stop(c) }
