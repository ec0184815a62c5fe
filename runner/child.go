package runner

import "syscall"

// Stages that start other programs (exec's program, obz parallel's
// replicas) start them the same way: in their own process group, ended with
// obz (ChildProcAttr), and inheriting only stdin, stdout and stderr
// (CloseOnExecAll before the start).

// closeOnExecUpTo marks every descriptor above stderr close-on-exec, up to
// the limit on open files: the portable way, for when the open ones cannot
// be listed.
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
