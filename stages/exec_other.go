//go:build !linux

package stages

import "syscall"

// execSysProcAttr puts the program in its own process group. Without
// Linux's Pdeathsig, a program outlives an obz killed with SIGKILL.
func execSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// closeOnExecAll marks every descriptor above stderr close-on-exec.
func closeOnExecAll() { closeOnExecUpTo() }
