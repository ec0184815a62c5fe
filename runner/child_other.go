//go:build !linux

package runner

import "syscall"

// ChildProcAttr puts a child program in its own process group. Without
// Linux's Pdeathsig, a child outlives an obz killed with SIGKILL.
func ChildProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// CloseOnExecAll marks every descriptor above stderr close-on-exec.
func CloseOnExecAll() { closeOnExecUpTo() }
