package flow

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"testing"
)

// ended runs sh -c script and returns how it ended.
func ended(t *testing.T, script string) (*os.ProcessState, error) {
	t.Helper()
	cmd := exec.Command("sh", "-c", script)
	err := cmd.Run()
	if cmd.ProcessState == nil {
		t.Fatal(err)
	}
	return cmd.ProcessState, err
}

func TestClassifyExit(t *testing.T) {
	for _, tt := range []struct {
		name     string
		script   string
		waitErr  error // instead of Wait's own
		stopping bool
		end      Ending
		code     int
		failure  bool
	}{
		{"success", "exit 0", nil, false, EndDone, 0, false},
		{"dead letters are not a failure", "exit 4", nil, false, EndDeadLetters, 4, false},
		{"failure", "exit 1", nil, false, EndFailed, 1, true},
		{"drained after SIGINT", "exit 130", nil, true, EndStopped, 130, false},
		{"drained after SIGTERM", "exit 143", nil, true, EndStopped, 143, false},
		{"130 unasked is a failure", "exit 130", nil, false, EndFailed, 130, true},
		{"our SIGTERM before its handler", "kill -TERM $$", nil, true, EndStopped, 143, false},
		{"killed", "kill -KILL $$", nil, false, EndKilled, 137, true},
		{"SIGTERM not ours", "kill -TERM $$", nil, false, EndKilled, 143, true},
		{"output not copied", "exit 0", errors.New("copying stdout: broken pipe"), false, EndFailed, 0, true},
		{"dead letters, output not copied", "exit 4", errors.New("exec: WaitDelay expired"), false, EndFailed, 4, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ps, err := ended(t, tt.script)
			if tt.waitErr != nil {
				err = tt.waitErr
			}
			end, code, cause := classifyExit(ps, err, tt.stopping)
			if end != tt.end || code != tt.code {
				t.Errorf("classifyExit = %v, %d (%q), want %v, %d", end, code, cause, tt.end, tt.code)
			}
			l := &lifecycle{res: &StageResult{State: StateRunning}, stopping: tt.stopping}
			l.exited(ps, err)
			if l.failure() != tt.failure {
				t.Errorf("failure() = %v, want %v", l.failure(), tt.failure)
			}
			if l.res.State != end.State() {
				t.Errorf("state %v, want %v", l.res.State, end.State())
			}
		})
	}
}

// A stage killed by the drain timeout is killed, not a failure. Nor is one
// the drain timeout was killing that exited 1 before its SIGKILL came (its
// upstream, killed first, broke its input): the flow ends as stopped, not
// failed (exec_flow.txtar, once in CI).
func TestKilledAtDrainTimeout(t *testing.T) {
	for _, tc := range []struct {
		script string
		state  State
	}{
		{"kill -KILL $$", StateKilled},
		{"exit 1", StateFailed},
	} {
		l := &lifecycle{res: &StageResult{State: StateRunning}}
		if !l.kill() {
			t.Fatal("kill() of a running stage = false")
		}
		ps, err := ended(t, tc.script)
		l.exited(ps, err)
		if l.res.State != tc.state || l.failure() {
			t.Errorf("%s: state %v, failure %v; want %v, no failure", tc.script, l.res.State, l.failure(), tc.state)
		}
		if l.kill() || l.stop() {
			t.Errorf("%s: kill or stop of a stage that ended", tc.script)
		}
	}
}

// The manifest keeps the states' names.
func TestStateJSON(t *testing.T) {
	for s := StatePending; s <= StateKilled; s++ {
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		var back State
		if err := json.Unmarshal(b, &back); err != nil || back != s {
			t.Errorf("%s: %s -> %v, %v", s, b, back, err)
		}
	}
	if b, _ := json.Marshal(StateDone); string(b) != `"done"` {
		t.Errorf("StateDone = %s", b)
	}
	var s State
	if err := json.Unmarshal([]byte(`"finished"`), &s); err == nil {
		t.Error("an unknown state was accepted")
	}
}
