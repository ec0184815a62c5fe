package stages

import (
	"os"
	"strconv"
	"syscall"
)

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
