package exitstatus

import (
	"syscall"
	"testing"
)

func TestSignaled(t *testing.T) {
	if got := Signaled(syscall.SIGINT); got != Interrupted {
		t.Errorf("Signaled(SIGINT) = %d, want %d", got, Interrupted)
	}
	if got := Signaled(syscall.SIGTERM); got != Terminated {
		t.Errorf("Signaled(SIGTERM) = %d, want %d", got, Terminated)
	}
	if !Stopped(Interrupted) || !Stopped(Terminated) || Stopped(Signaled(syscall.SIGKILL)) {
		t.Error("Stopped: only 130 and 143 are graceful stops")
	}
}
