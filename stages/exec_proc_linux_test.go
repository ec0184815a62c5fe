package stages

import (
	"os"
	"syscall"
	"testing"
)

// TestExecPipeSizes: the program's stdout is a 1 MiB pipe, so that the
// program and obz do not take turns every 64 KiB; its stdin keeps the
// default size, which bounds what it is still given after a stop signal.
func TestExecPipeSizes(t *testing.T) {
	needProgram(t, "cat")
	p, stdin, stdout, stderr, err := startProgram([]string{"cat"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close()
		<-p.exited
		stdout.Close()
		stderr.Close()
	}()
	for _, c := range []struct {
		f     *os.File
		grown bool
	}{{stdin, false}, {stdout, true}} {
		f := c.f
		const fGetPipeSz = 1032
		rc, err := f.SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		var n uintptr
		var e syscall.Errno
		rc.Control(func(fd uintptr) { n, _, e = syscall.Syscall(syscall.SYS_FCNTL, fd, fGetPipeSz, 0) })
		if e != 0 || (n >= 1<<20) != c.grown {
			t.Errorf("%s: pipe size %d (%v); want 1 MiB: %v", f.Name(), n, e, c.grown)
		}
	}
}
