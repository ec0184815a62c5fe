package stages

import (
	"os"
	"syscall"
	"testing"
)

// TestExecPipesAreGrown: the program's stdin and stdout are 1 MiB pipes,
// so that obz and the program do not take turns every 64 KiB.
func TestExecPipesAreGrown(t *testing.T) {
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
	for _, f := range []*os.File{stdin, stdout} {
		const fGetPipeSz = 1032
		rc, err := f.SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		var n uintptr
		var e syscall.Errno
		rc.Control(func(fd uintptr) { n, _, e = syscall.Syscall(syscall.SYS_FCNTL, fd, fGetPipeSz, 0) })
		if e != 0 || n < 1<<20 {
			t.Errorf("%s: pipe size %d (%v), want 1 MiB", f.Name(), n, e)
		}
	}
}
