//go:build !linux

package parallel

import "syscall"

// sysProcAttr puts a replica in its own process group (a Ctrl-C at the
// terminal reaches obz parallel, which drains, not the replicas).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// closeOnExec marks every descriptor above stderr close-on-exec, so that
// the replicas do not hold the edges obz flow gave the coordinator.
func closeOnExec() { closeOnExecUpTo() }
