package parallel

import (
	"os"
	"strconv"
	"syscall"
)

// sysProcAttr puts a replica in its own process group (a Ctrl-C at the
// terminal reaches obz parallel, which drains, not the replicas in
// mid-stream) and has the kernel send it SIGKILL when obz dies.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// closeOnExec marks every open descriptor above stderr close-on-exec, so
// that the replicas do not hold the edges obz flow gave the coordinator
// (a downstream stage would wait for a writer that is not the stage).
func closeOnExec() {
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
