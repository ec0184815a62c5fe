package flow

import "syscall"

// stageProcAttr puts a stage in its own process group, so that a Ctrl-C at
// the terminal reaches obz flow only, which drains the stages in order;
// Pdeathsig leaves no orphans if obz flow itself dies (kill -9 included).
func stageProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
