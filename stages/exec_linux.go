package stages

import (
	"os"
	"strconv"
	"syscall"
)

// execSysProcAttr puts the program in its own process group and has the
// kernel send it SIGKILL when obz dies (kill -9 included). Caveats: the
// signal goes to the program only, not to its own children; and it is tied
// to the OS thread that started it, which the Go runtime keeps as long as no
// goroutine exits while locked to it (obz locks none).
func execSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// closeOnExecAll marks every open descriptor above stderr close-on-exec.
func closeOnExecAll() {
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
