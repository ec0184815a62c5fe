package flow

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/obz-dev/obz/exitstatus"
)

// State is where a stage is in its lifecycle under the supervisor. In the
// manifest and the metrics it is written as its name.
type State uint8

// The states of a stage.
const (
	StatePending State = iota // not started yet
	StateRunning              // its process runs
	StateDone                 // it finished (exit 0, or 4: with dead letters)
	StateStopped              // the drain's SIGTERM ended it
	StateFailed               // it failed (or, restartable, waits for its restart)
	StateKilled               // a signal killed it
)

var stateNames = [...]string{"pending", "running", "done", "stopped", "failed", "killed"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// MarshalText writes the state's name.
func (s State) MarshalText() ([]byte, error) {
	if int(s) >= len(stateNames) {
		return nil, fmt.Errorf("unknown stage state %d", uint8(s))
	}
	return []byte(stateNames[s]), nil
}

// UnmarshalText reads a state's name (a manifest).
func (s *State) UnmarshalText(b []byte) error {
	for i, n := range stateNames {
		if n == string(b) {
			*s = State(i)
			return nil
		}
	}
	return fmt.Errorf("unknown stage state %q", b)
}

// Ending is how a stage's process ended, as classifyExit decides it.
type Ending uint8

// The endings of a stage's process.
const (
	EndDone        Ending = iota + 1 // exit 0
	EndDeadLetters                   // exit 4: finished, some events went to the error lane; not a failure
	EndFailed                        // any other exit, or its output could not be copied
	EndKilled                        // killed by a signal
	EndStopped                       // ended by the drain's SIGTERM
)

// State is the stage state an ending leaves: a stage with dead letters is
// done (its exit status, 4, tells them apart).
func (e Ending) State() State {
	switch e {
	case EndDone, EndDeadLetters:
		return StateDone
	case EndKilled:
		return StateKilled
	case EndStopped:
		return StateStopped
	}
	return StateFailed
}

// classifyExit is the one place that decides how a stage ended: ps is its
// process's end, waitErr what exec.Cmd.Wait returned and stopping whether
// the drain sent it SIGTERM. It returns the ending, the exit status to
// record (128+N for a signal) and a cause for a failure that the status
// does not explain.
func classifyExit(ps *os.ProcessState, waitErr error, stopping bool) (end Ending, code int, cause string) {
	code = ps.ExitCode()
	ws, _ := ps.Sys().(syscall.WaitStatus)
	switch {
	case ws.Signaled() && stopping && ws.Signal() == syscall.SIGTERM:
		// Our drain's SIGTERM reached it before it could catch signals
		// (it was still starting): stopped, not a failure.
		return EndStopped, exitstatus.Signaled(ws.Signal()), ""
	case ws.Signaled():
		return EndKilled, exitstatus.Signaled(ws.Signal()), fmt.Sprintf("killed by signal %d, %s", int(ws.Signal()), ws.Signal())
	case code == exitstatus.OK:
		end = EndDone
	case code == exitstatus.ErrorEvents:
		end = EndDeadLetters
	case stopping && exitstatus.Stopped(code):
		return EndStopped, code, ""
	default:
		return EndFailed, code, ""
	}
	// The process finished, but Wait failed for another reason than its
	// exit status (copying its stdout, its pipes held open past WaitDelay):
	// what it wrote may not all be there.
	var ee *exec.ExitError
	if waitErr != nil && !errors.As(waitErr, &ee) {
		return EndFailed, code, waitErr.Error()
	}
	return end, code, ""
}

// lifecycle is one stage's life under the supervisor, one method per
// transition:
//
//	pending --start--> running --exited--> done | stopped | failed | killed
//	                   |  |  ^                               |
//	                stop  kill +--restarted-- retry ---------+  (restart = "on-failure")
//	                                          \--giveUp--> failed
//
// stop and kill record that the supervisor sent SIGTERM (the drain) or
// SIGKILL (the drain timeout): they decide how an exit is read. Only the
// supervisor's goroutine calls the transitions; mu guards res, which the
// status and stderr readers, the metrics server and the manifest writer
// use while the stage runs.
type lifecycle struct {
	mu       sync.Mutex
	res      *StageResult
	end      Ending
	stopping bool // SIGTERM sent by the drain
	killed   bool // SIGKILL sent at the drain timeout
	retrying bool // failed, restarted when its backoff ends
	events   *eventLog
	runDir   string
	stall    stallWatch // its progress, from its status lines (under mu)
}

// start: pending -> running.
func (l *lifecycle) start(pid int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.res.State, l.res.Started, l.res.PID = StateRunning, time.Now().UTC(), pid
	l.events.record("stage_started", l.res.Name, map[string]any{"pid": pid})
}

// exited: running -> done, stopped, failed or killed, as classifyExit says.
func (l *lifecycle) exited(ps *os.ProcessState, waitErr error) Ending {
	end, code, cause := classifyExit(ps, waitErr, l.stopping)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.end = end
	l.res.State, l.res.ExitCode, l.res.Ended = end.State(), code, time.Now().UTC()
	if cause != "" {
		l.res.Cause = cause
	}
	rec := wide(l.res, l.runDir)
	rec["stalls"] = l.stall.stalls
	l.events.record("stage_ended", l.res.Name, rec)
	return end
}

// stop records the drain's SIGTERM; it reports whether the stage runs (and
// is to be sent it).
func (l *lifecycle) stop() bool {
	if l.res.State != StateRunning {
		return false
	}
	l.stopping = true
	l.events.record("stage_stopping", l.res.Name, map[string]any{"signal": "SIGTERM"})
	return true
}

// kill records the drain timeout's SIGKILL; it reports whether the stage
// runs (and is to be sent it).
func (l *lifecycle) kill() bool {
	if l.res.State != StateRunning {
		return false
	}
	l.killed = true
	l.events.record("stage_killing", l.res.Name, map[string]any{"signal": "SIGKILL", "why": "drain timeout"})
	return true
}

// retry: failed -> retrying (restart = "on-failure"); it returns the
// number of this restart.
func (l *lifecycle) retry() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.retrying = true
	l.res.Restarts++
	l.events.record("stage_restart_due", l.res.Name, map[string]any{"restart": l.res.Restarts})
	return l.res.Restarts
}

// restarted: retrying -> running, as a new process.
func (l *lifecycle) restarted(pid int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.retrying, l.stopping, l.killed, l.end = false, false, false, 0
	l.res.State, l.res.PID, l.res.ExitCode, l.res.Cause = StateRunning, pid, 0, ""
	l.events.record("stage_restarted", l.res.Name, map[string]any{"pid": pid, "restart": l.res.Restarts})
}

// giveUp: retrying -> failed for good.
func (l *lifecycle) giveUp() {
	l.retrying = false
	l.events.record("stage_not_restarted", l.res.Name, nil)
}

// failure answers "did it fail": it failed, or a signal killed it that
// was not the drain timeout's. A stage done with dead letters did not
// fail: errors are data. Nor did a stage the drain timeout was killing
// that ended another way first: the supervisor kills the stages still
// running one after another, and between two kills (a loaded machine may
// hold the supervisor there a while) the stage after a killed one may
// find its input broken and exit 1 before its own SIGKILL comes.
func (l *lifecycle) failure() bool {
	return (l.end == EndFailed || l.end == EndKilled) && !l.killed
}

// running reports whether the stage's process runs.
func (l *lifecycle) running() bool { return l.res.State == StateRunning }
