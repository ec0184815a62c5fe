//go:build !linux

package flow

import "syscall"

// stageProcAttr puts a stage in its own process group, so that a Ctrl-C at
// the terminal reaches obz flow only. Without Linux's Pdeathsig, a stage
// outlives an obz flow killed with SIGKILL.
func stageProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// bridgeProcAttr is stageProcAttr for a publishing bridge.
func bridgeProcAttr() *syscall.SysProcAttr { return stageProcAttr() }
