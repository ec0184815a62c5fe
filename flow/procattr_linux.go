package flow

import "syscall"

// stageProcAttr puts a stage in its own process group, so that a Ctrl-C at
// the terminal reaches obz flow only, which drains the stages in order;
// Pdeathsig leaves no orphans if obz flow itself dies (kill -9 included).
func stageProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// bridgeProcAttr is stageProcAttr for a publishing bridge (obz nats pub),
// with SIGTERM as its death signal, which the bridge ignores: when obz
// flow dies (kill -9), the bridge reads its input to the end, which comes
// as its producer dies too, and tells the subject that the edge broke, so
// that the reader on the other host fails instead of waiting.
func bridgeProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
