package runner

import (
	"os"
	"strconv"
	"syscall"
)

// ChildProcAttr puts a child program in its own process group (a Ctrl-C
// at the terminal reaches obz, which drains, not the child in mid-stream)
// and has the kernel send it SIGKILL when obz dies (kill -9 included).
// Caveats: the signal goes to the child only, not to its own children; and
// it is tied to the OS thread that started it, which the Go runtime keeps
// as long as no goroutine exits while locked to it (obz locks none).
func ChildProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// CloseOnExecAll marks every open descriptor above stderr close-on-exec,
// so that a child does not hold the edges obz flow gave the stage (a
// downstream stage would wait for a writer that is not the stage).
func CloseOnExecAll() {
	d, err := os.Open("/proc/self/fd")
	if err != nil {
		closeOnExecUpTo()
		return
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		closeOnExecUpTo()
		return
	}
	for _, name := range names {
		if fd, err := strconv.Atoi(name); err == nil && fd > 2 {
			syscall.CloseOnExec(fd)
		}
	}
}
