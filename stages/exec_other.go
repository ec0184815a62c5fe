//go:build !linux

package stages

// closeOnExecAll marks every descriptor above stderr close-on-exec.
func closeOnExecAll() { closeOnExecUpTo() }
