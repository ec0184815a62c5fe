package parallel

import "syscall"

// closeOnExecUpTo marks descriptors 3 up to the open-file limit
// close-on-exec, where they cannot be listed.
func closeOnExecUpTo() {
	limit := uint64(1 << 16)
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) == nil && rl.Cur < limit {
		limit = rl.Cur
	}
	for fd := 3; uint64(fd) < limit; fd++ {
		syscall.CloseOnExec(fd)
	}
}
